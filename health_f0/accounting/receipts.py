"""The receipt ("biên lai thu tiền") of a paid payment as a PDF (WeasyPrint): facility, patient, what was paid
(the booking's service or the visit), the amount in figures and in words, our reference and the gateway's, the
time (dd/mm/yyyy HH:MM, Asia/Ho_Chi_Minh). The patient downloads their own (and their family's) in the
portal; staff download one in the desk (ACCOUNTING_READER_ROLES at the payment's facility), audited."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.accounting.money import vnd, vnd_words
from health_f0.core.audit import audit_log
from health_f0.core.exceptions import NotFound
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.payments.models import Payment, PaymentStatus, Purpose


def has_receipt(payment: Payment) -> bool:
    """A receipt exists for money that reached the facility (even if it was refunded later)."""
    return payment.is_paid and payment.paid_at is not None


def paid_for(payment: Payment) -> str:
    """What was paid for, in words: the booking's service and time, or the visit's department and day."""
    if payment.purpose == Purpose.BOOKING_FEE and payment.appointment is not None:
        appointment = payment.appointment
        when = timezone.localtime(appointment.slot_start).strftime("%H:%M %d/%m/%Y")
        return _("Phí khám %(service)s, lịch hẹn %(when)s") % {
            "service": appointment.service.name,
            "when": when,
        }
    if payment.purpose == Purpose.VISIT_BILL and payment.visit is not None:
        visit = payment.visit
        day = timezone.localtime(visit.admitted_at).strftime("%d/%m/%Y") if visit.admitted_at else ""
        place = visit.department_name or visit.facility.name
        return _("Viện phí lượt khám %(place)s ngày %(day)s (mã %(code)s)") % {
            "place": place,
            "day": day,
            "code": visit.external_id,
        }
    return payment.get_purpose_display()


def receipt_html(*, payment: Payment) -> str:
    if not has_receipt(payment):
        raise ValueError("only a paid payment has a receipt")
    assert payment.paid_at is not None
    return render_to_string(
        "accounting/receipt.html",
        {
            "payment": payment,
            "facility": payment.facility,
            "patient": payment.patient,
            "paid_for": paid_for(payment),
            "amount": vnd(payment.amount),
            "amount_words": vnd_words(payment.amount),
            "paid_at": timezone.localtime(payment.paid_at).strftime("%d/%m/%Y %H:%M"),
            "printed_at": timezone.localtime().strftime("%d/%m/%Y %H:%M"),
            "refunded": payment.status == PaymentStatus.REFUNDED,
        },
    )


def receipt_pdf(*, payment: Payment) -> bytes:
    from weasyprint import HTML

    pdf: bytes = HTML(string=receipt_html(payment=payment), base_url=str(settings.BASE_DIR)).write_pdf()
    return pdf


def receipt_filename(payment: Payment) -> str:
    return f"bien-lai-{payment.reference}.pdf"


def _related(queryset: Any) -> Any:
    return queryset.select_related("facility", "patient", "appointment__service", "visit__facility")


def own_receipt_payment(*, user: Any, public_id: Any) -> Payment:
    """A paid payment of the portal account's own (or family) patients; NotFound otherwise (also for staff)."""
    if access.is_staff_member(user):
        raise NotFound(_("Không tìm thấy biên lai."))
    payment = _related(access.own_payments_for(user)).filter(public_id=public_id).first()
    if payment is None or not has_receipt(payment):
        raise NotFound(_("Không tìm thấy biên lai."))
    return payment


def staff_receipt_available(*, user: Any, payment: Payment) -> bool:
    """Whether the desk's receipt download (staff_receipt) would give this staff member this payment's PDF: the
    desk's payment page offers the button only then (the booking desk reads payments but not receipts)."""
    return has_receipt(payment) and access.payments_for_staff(user).filter(pk=payment.pk).exists()


def staff_receipt(*, user: Any, public_id: Any) -> tuple[Payment, bytes]:
    """A staff member's download at the desk (ACCOUNTING_READER_ROLES at the payment's facility): the PDF, and an
    audit row (EXPORT "receipt_pdf"). NotFound for a payment out of scope or without a receipt."""
    payment = _related(access.payments_for_staff(user)).filter(public_id=public_id).first()
    if payment is None or not has_receipt(payment):
        raise NotFound(_("Không tìm thấy biên lai."))
    pdf = receipt_pdf(payment=payment)
    audit_log(
        actor=user,
        action=AuditLog.Action.EXPORT,
        verb="receipt_pdf",
        target=payment,
        facility=payment.facility,
        data={"reference": payment.reference},
    )
    return payment, pdf
