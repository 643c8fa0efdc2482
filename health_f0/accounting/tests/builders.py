"""Payments for accounting's tests, written straight to the tables (payments.services is the paycore
helper's; these tests need rows in given states, not the gateway flow): each a visit bill of an imported
HIS visit."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from health_f0.his.models import HisVisit
from health_f0.payments.models import Payment, PaymentStatus, Purpose, Refund, RefundStatus

_counter = itertools.count(1)


def paid_payment(
    *,
    patient: Any,
    facility: Any,
    amount: int = 150_000,
    gateway: str = "vnpay",
    paid_at: datetime | None = None,
    status: str = PaymentStatus.PAID,
    reference: str | None = None,
    gateway_ref: str | None = None,
) -> Payment:
    n = next(_counter)
    paid_at = paid_at or timezone.now()
    visit = HisVisit.objects.create(
        patient=patient,
        facility=facility,
        source="xml",
        external_id=f"LK-ACC-{n}{'-' + reference if reference else ''}",
        department_name="Khoa Khám bệnh",
        admitted_at=paid_at - timedelta(hours=2),
        bill_total=amount * 2,
        bill_insurance=amount,
        bill_patient=amount,
    )
    payment = Payment.objects.create(
        facility=facility,
        patient=patient,
        purpose=Purpose.VISIT_BILL,
        visit=visit,
        amount=amount,
        gateway=gateway,
        reference=reference or f"{timezone.localtime(paid_at):%y%m%d}{n:09d}",
        gateway_ref=gateway_ref if gateway_ref is not None else f"1400{n:04d}",
        status=status,
        paid_at=paid_at if status != PaymentStatus.PENDING else None,
        expires_at=paid_at + timedelta(minutes=15),
    )
    if status in (PaymentStatus.REFUND_FAILED, PaymentStatus.REFUND_PENDING, PaymentStatus.REFUNDED):
        Refund.objects.create(
            payment=payment,
            amount=amount,
            reference=f"R{payment.reference}",
            status={
                PaymentStatus.REFUND_FAILED: RefundStatus.FAILED,
                PaymentStatus.REFUND_PENDING: RefundStatus.PENDING,
                PaymentStatus.REFUNDED: RefundStatus.DONE,
            }[status],
            reason="Người bệnh huỷ lịch trước hạn",
            failure="Cổng trả lỗi 94: giao dịch hoàn bị từ chối"
            if status == PaymentStatus.REFUND_FAILED
            else "",
            requested_at=paid_at + timedelta(hours=1),
        )
    return payment


def settlement_csv(rows: list[tuple[str, str, int, str]], *, refund_rows: int = 0) -> bytes:
    """A VNPay-style settlement CSV (title rows, then the header): (vnp_TxnRef, vnp_TransactionNo, amount in
    dong, vnp_PayDate) per row; `refund_rows` refund lines (type 02) that the reader must skip."""
    lines = [
        "BÁO CÁO ĐỐI SOÁT GIAO DỊCH,,,,,",
        "Merchant: TTYT HAI DUONG,,,,,",
        "vnp_TmnCode,vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_PayDate,vnp_TransactionType,vnp_TransactionStatus",
    ]
    for reference, number, amount, paid in rows:
        lines.append(f"HF0TEST1,{reference},{number},{amount * 100},{paid},01,00")
    for index in range(refund_rows):
        lines.append(f"HF0TEST1,R{index},9{index},1000000,20260101100000,02,00")
    return ("\n".join(lines) + "\n").encode("utf-8")
