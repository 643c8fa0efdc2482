"""Payments in the desk: read-only (their state moves only through payments.services), scoped by
access.payments_for, with a "Hoàn tiền" dialog for PAYMENT_REFUND_ROLES on a paid or refund-failed payment;
and the gateways' answers (PaymentEvent), the accountant's log, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from health_f0.accounting import receipts
from health_f0.core.text import vnd
from health_f0.desk.actions import run
from health_f0.desk.formatting import badge, fmt_datetime
from health_f0.desk.forms import RejectForm
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.payments import services
from health_f0.payments.models import Payment, PaymentEvent, PaymentStatus
from health_f0.payments.transitions import PAYMENT_WORKFLOW

STATUS_BADGE: dict[str, str | None] = {
    PaymentStatus.CREATED: None,
    PaymentStatus.PENDING: "info",
    PaymentStatus.PAID: "success",
    PaymentStatus.FAILED: None,
    PaymentStatus.EXPIRED: None,
    PaymentStatus.CANCELLED: None,
    PaymentStatus.REFUND_PENDING: "warning",
    PaymentStatus.REFUNDED: "primary",
    PaymentStatus.REFUND_FAILED: "danger",
}


def _vnd(amount: int | None) -> str:
    return "" if amount is None else vnd(amount)


class RefundForm(RejectForm):
    reason_max_length = 300
    reason_help_text = _("Ghi vào hồ sơ hoàn tiền và gửi cổng thanh toán (không dấu).")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = _("Lý do hoàn tiền")
        self.fields["reason"].error_messages.update(
            required=_("Vui lòng nhập lý do hoàn tiền."),
            min_length=_("Vui lòng nhập lý do hoàn tiền (ít nhất 5 ký tự)."),
        )


REFUND_DIALOG: ActionDialog = {
    "title": _("Hoàn tiền"),
    "description": _("Toàn bộ số tiền được hoàn lại cho người bệnh qua cổng thanh toán đã dùng."),
    "form_class": RefundForm,
    "form_submit_text": _("Hoàn tiền"),
}


@admin.register(Payment, site=desk_site)
class PaymentAdmin(ScopedModelAdmin):
    read_only = True
    view_roles = access.PAYMENT_READER_ROLES
    audit_detail_views = True
    list_display = (
        "created_col",
        "reference",
        "patient",
        "purpose",
        "amount_col",
        "gateway",
        "status_col",
        "facility",
    )
    list_select_related = ("patient", "facility")
    list_filter = ("status", "gateway", "purpose", ("facility", admin.RelatedOnlyFieldListFilter))
    search_fields = ("reference", "gateway_ref")
    phone_search_field = "patient__phone"
    fields = (
        "reference",
        "status_col",
        "patient",
        "facility",
        "purpose",
        "appointment",
        "visit",
        "amount_col",
        "gateway",
        "gateway_ref",
        "gateway_code",
        "failure",
        "created_col",
        "expires_col",
        "paid_col",
        "refunds_col",
    )
    readonly_fields = fields
    actions_detail = ["receipt_action", "refund_action"]

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.payments_for(user)

    def has_refund_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None:
            return has_any_role(request.user, access.PAYMENT_REFUND_ROLES)
        payment = self.scoped_object(request, object_id)
        return payment is not None and bool(
            {"refund", "refund_retry"} & set(PAYMENT_WORKFLOW.available(payment, request.user))
        )

    def has_receipt_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None:
            return True
        payment = self.scoped_object(request, object_id)
        return payment is not None and receipts.staff_receipt_available(user=request.user, payment=payment)

    @display(description=_("tạo lúc"), ordering="created_at")
    def created_col(self, obj: Payment) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("hết hạn lúc"))
    def expires_col(self, obj: Payment) -> str:
        return fmt_datetime(obj.expires_at)

    @display(description=_("thanh toán lúc"))
    def paid_col(self, obj: Payment) -> str:
        return fmt_datetime(obj.paid_at)

    @display(description=_("số tiền"), ordering="amount")
    def amount_col(self, obj: Payment) -> str:
        return _vnd(obj.amount)

    @display(description=_("trạng thái"), ordering="status")
    def status_col(self, obj: Payment) -> Any:
        return badge(obj.get_status_display(), STATUS_BADGE.get(obj.status))

    @display(description=_("hoàn tiền"))
    def refunds_col(self, obj: Payment) -> str:
        rows = [
            f"{r.reference} · {_vnd(r.amount)} · {r.get_status_display()} · {fmt_datetime(r.requested_at)}"
            + (f" · {r.failure}" if r.failure else "")
            for r in obj.refunds.all()
        ]
        return "; ".join(rows) or "—"

    @action(
        description=_("Biên lai (PDF)"), url_path="bien-lai", permissions=["receipt"], icon="receipt_long"
    )
    def receipt_action(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """The receipt of a paid payment: the accounting desk's audited download (accounting.receipts)."""
        payment = self.scoped_object(request, object_id)
        if payment is None or not receipts.staff_receipt_available(user=request.user, payment=payment):
            raise Http404
        return HttpResponseRedirect(reverse("admin:accounting_receipt", args=[payment.public_id]))

    @action(
        description=_("Hoàn tiền"),
        url_path="hoan-tien",
        permissions=["refund"],
        icon="undo",
        variant=ActionVariant.DANGER,
        dialog=REFUND_DIALOG,
    )
    def refund_action(self, request: HttpRequest, form: RefundForm, object_id: Any) -> HttpResponse:
        payment = self.scoped_object(request, object_id)
        if payment is None:
            raise Http404
        done, refund = run(
            request,
            lambda: services.refund_start(
                payment=payment, actor=request.user, reason=form.cleaned_data["reason"]
            ),
        )
        if done:
            if refund.status == "done":
                messages.success(request, gettext("Đã hoàn tiền qua cổng thanh toán."))
            else:
                messages.warning(
                    request, gettext("Hoàn tiền chưa thành công: %(failure)s") % {"failure": refund.failure}
                )
        return redirect_back(request, f"../../{object_id}/change/")


@admin.register(PaymentEvent, site=desk_site)
class PaymentEventAdmin(ScopedModelAdmin):
    read_only = True
    view_roles = access.PAYMENT_LOG_ROLES
    audit_list_views = True
    list_display = (
        "received_col",
        "gateway",
        "kind",
        "reference",
        "result",
        "verified",
        "gateway_code",
        "amount_col",
    )
    list_filter = ("result", "kind", "gateway", "verified")
    search_fields = ("reference",)
    fields = (
        "received_col",
        "gateway",
        "kind",
        "reference",
        "payment",
        "facility",
        "result",
        "verified",
        "gateway_code",
        "amount_col",
        "payload",
        "remote_ip",
    )
    readonly_fields = fields

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.payment_events_for(user)

    @display(description=_("nhận lúc"), ordering="received_at")
    def received_col(self, obj: PaymentEvent) -> str:
        return fmt_datetime(obj.received_at)

    @display(description=_("số tiền"))
    def amount_col(self, obj: PaymentEvent) -> str:
        return _vnd(obj.amount)
