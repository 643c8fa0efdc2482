"""The payment workflow: (state, action) -> (next state, who may take it).

    created ──start──> pending ──pay──> paid ──refund──> refund_pending ──refund_done──> refunded
       │                 │ fail/expire/cancel                 └──refund_fail──> refund_failed ──refund_retry──┘
       └─start_failed──> failed
    failed | expired | cancelled ──late_pay──> paid   (the gateway took the money after we gave up: the money is
                                                       real, so it is recorded, and refunded if nothing needs it)
    refund_failed | refund_pending (VietQR) ──refund_manual──> refunded   (the accountant gave the money back
                                                       outside the gateway: accounting.services.refund_mark_manual)

Callbacks, queries and the schedule act as the system (actor None); `payments.services` is the only caller of
`apply()`, under the payment's row lock, so a callback applied twice finds the state already moved and changes
nothing. Refunds are started by the system (a cancelled prepaid booking) or by PAYMENT_REFUND_ROLES.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from health_f0.core.actors import PATIENT, SYSTEM
from health_f0.core.exceptions import Conflict
from health_f0.core.workflow import Guard, Step, Transition, Workflow
from health_f0.facilities import access
from health_f0.payments.models import GatewayName, PaymentStatus

_CR, _PE, _PA, _FA, _EX, _CA, _RP, _RD, _RF = (
    PaymentStatus.CREATED,
    PaymentStatus.PENDING,
    PaymentStatus.PAID,
    PaymentStatus.FAILED,
    PaymentStatus.EXPIRED,
    PaymentStatus.CANCELLED,
    PaymentStatus.REFUND_PENDING,
    PaymentStatus.REFUNDED,
    PaymentStatus.REFUND_FAILED,
)
_SYSTEM = frozenset({SYSTEM})
_REFUNDERS = access.PAYMENT_REFUND_ROLES | {SYSTEM}


def _no_gateway_refund(payment: Any, step: Step) -> str | None:
    """A refund still pending may be made by hand only where the gateway has no refund call (payOS/VietQR);
    elsewhere the gateway's own answer is awaited."""
    if payment.gateway == GatewayName.VIETQR:
        return None
    return _not_manual(payment)


def _not_manual(payment: Any) -> str:
    return _("Thanh toán này không chờ hoàn tiền thủ công (trạng thái: %(status)s).") % {
        "status": payment.get_status_display()
    }


_GATEWAY_HAS_NO_REFUND = Guard("not_manual_refund", _no_gateway_refund, error=Conflict)


def refusal_message(payment: Any, action: str, now: Any = None) -> str:
    if action == "refund_manual":
        return _not_manual(payment)
    return _("Không thực hiện được: thanh toán %(reference)s đang ở trạng thái “%(state)s”.") % {
        "reference": payment.reference,
        "state": payment.get_status_display(),
    }


PAYMENT_WORKFLOW = Workflow(
    "payment",
    [
        Transition(_CR, "start", _PE, _SYSTEM),
        Transition(_CR, "start_failed", _FA, _SYSTEM),
        Transition(_CR, "pay", _PA, _SYSTEM),
        Transition(_PE, "pay", _PA, _SYSTEM),
        Transition(_PE, "fail", _FA, _SYSTEM),
        Transition(_PE, "expire", _EX, _SYSTEM),
        # The patient gives up on a payment not yet made (to pay another way); the gateway may still report it.
        Transition(_PE, "cancel", _CA, frozenset({PATIENT, SYSTEM})),
        Transition(_FA, "late_pay", _PA, _SYSTEM),
        Transition(_EX, "late_pay", _PA, _SYSTEM),
        Transition(_CA, "late_pay", _PA, _SYSTEM),
        Transition(_PA, "refund", _RP, _REFUNDERS),
        Transition(_RP, "refund_done", _RD, _SYSTEM),
        Transition(_RP, "refund_fail", _RF, _SYSTEM),
        Transition(_RF, "refund_retry", _RP, _REFUNDERS),
        Transition(_RF, "refund_manual", _RD, access.ACCOUNTANT_ROLES),
        Transition(_RP, "refund_manual", _RD, access.ACCOUNTANT_ROLES, guards=(_GATEWAY_HAS_NO_REFUND,)),
    ],
    authorize=access.authorizer(facility=lambda p: p.facility, patient=lambda p: p.patient),
    refusal=refusal_message,
)
