"""Two workers applying the same IPN at once (threads, each with its own MariaDB connection)."""

from __future__ import annotations

from typing import Any

import pytest

from health_f0.core.models import AuditLog
from health_f0.payments import services
from health_f0.payments.models import EventKind, EventResult, Payment, PaymentEvent, PaymentStatus
from tests.standins.threads import run_together
from tests.standins.vnpay import VnpayStandIn

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_apply_the_same_ipn_once(
    ttyt_vnpay: Any, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = services.payment_start(actor=patient.account, gateway="vnpay", appointment=booking)
    params = vnpay.pay(payment.redirect_url)

    def apply() -> str:
        return services.callback_apply(gateway="vnpay", kind=EventKind.IPN, params=params).code

    for _round in range(3):  # the same IPN again and again, two at a time
        results = run_together(apply, apply)
        assert all(isinstance(r, str) for r in results), results
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID
    codes = list(PaymentEvent.objects.filter(payment=payment).values_list("result", flat=True))
    assert sorted(codes) == sorted([EventResult.APPLIED] + [EventResult.ALREADY] * 5)
    assert (
        AuditLog.objects.filter(target_type="payments.payment", target_id=str(payment.pk), verb="pay").count()
        == 1
    )
    assert Payment.objects.filter(status=PaymentStatus.PAID).count() == 1
