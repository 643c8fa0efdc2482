"""The accountant's desk: the days reconciled with each gateway (list), a new reconciliation from the gateway's
settlement file, one day's four lists with a resolution form on each difference, closing the day; the refund
worklist ("Đã hoàn tiền thủ công"); the receipt download. Thin: parse, call accounting.services or a
selector, render. Reading: ACCOUNTING_READER_ROLES (accountants, managers read-only); acting: ACCOUNTANT_ROLES at
the record's facility (the services check it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from health_f0.accounting import receipts, selectors, services
from health_f0.accounting.forms import ManualRefundForm, ReopenForm, ResolveForm, SettlementUploadForm
from health_f0.accounting.models import (
    DIFFERENCE_KINDS,
    ItemKind,
    Reconciliation,
    ReconciliationItem,
    ReconciliationState,
    Source,
)
from health_f0.accounting.money import vnd
from health_f0.accounting.settlement import read_settlement
from health_f0.core.exceptions import DomainError, NotFound
from health_f0.desk.actions import post_only, run
from health_f0.desk.formatting import badge, fmt_date, fmt_datetime, fmt_user
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role
from health_f0.facilities import access

# The lists of a day, in the order the accountant works them.
SECTIONS: tuple[tuple[str, Any, Any], ...] = (
    (
        ItemKind.AMOUNT_MISMATCH,
        _("Lệch số tiền"),
        _("Cùng mã thanh toán, số tiền của cổng khác số tiền của cơ sở."),
    ),
    (
        ItemKind.MISSING_OURS,
        _("Cổng có, cơ sở không có"),
        _("Cổng báo đã thu nhưng cơ sở không ghi nhận khoản này là đã thanh toán trong ngày."),
    ),
    (
        ItemKind.MISSING_THEIRS,
        _("Cơ sở có, cổng không có"),
        _("Cơ sở ghi nhận đã thanh toán nhưng tệp của cổng không có giao dịch này."),
    ),
    (ItemKind.MATCHED, _("Khớp"), _("Cùng mã thanh toán, cùng số tiền.")),
)


def state_badge(obj: Reconciliation) -> Any:
    return badge(obj.get_state_display(), "success" if obj.state == ReconciliationState.CLOSED else "warning")


@admin.register(Reconciliation, site=desk_site)
class ReconciliationAdmin(ScopedModelAdmin):
    view_roles = access.ACCOUNTING_READER_ROLES
    read_only = True
    audit_detail_views = True  # a day's page names the patients who paid
    list_display = (
        "day_col",
        "facility",
        "gateway",
        "state_col",
        "our_col",
        "their_col",
        "matched_count",
        "open_col",
    )
    list_display_links = ("day_col",)
    list_select_related = ("facility",)
    list_filter = ("state", "gateway", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    list_fullwidth = True
    ordering = ("-day", "facility__path", "gateway")
    list_before_template = "admin/accounting/list_before.html"

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.reconciliations_for(user).annotate(
            open_items=Count("items", filter=Q(items__kind__in=DIFFERENCE_KINDS, items__resolution=""))
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra = {
            **(extra_context or {}),
            "may_reconcile": has_any_role(request.user, access.ACCOUNTANT_ROLES),
            "upload_url": reverse("admin:accounting_upload"),
            "refunds_url": reverse("admin:accounting_refunds"),
        }
        return super().changelist_view(request, extra)

    @display(description=_("ngày giao dịch"), ordering="day")
    def day_col(self, obj: Reconciliation) -> str:
        return fmt_date(obj.day)

    @display(description=_("trạng thái"), ordering="state")
    def state_col(self, obj: Reconciliation) -> Any:
        return state_badge(obj)

    @display(description=_("cơ sở ghi nhận"))
    def our_col(self, obj: Reconciliation) -> str:
        return f"{obj.our_count} · {vnd(obj.our_total)}"

    @display(description=_("cổng báo"))
    def their_col(self, obj: Reconciliation) -> str:
        return f"{obj.their_count} · {vnd(obj.their_total)}"

    @display(description=_("chênh lệch chưa xử lý"))
    def open_col(self, obj: Any) -> Any:
        count = getattr(obj, "open_items", 0)
        return badge(count, "danger") if count else "0"

    # --- own pages ---------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("doi-soat-moi/", wrap(self.upload_view), name="accounting_upload"),
            path(
                "<path:object_id>/dong/<int:item_id>/xu-ly/",
                wrap(self.resolve_view),
                name="accounting_resolve",
            ),
            path("<path:object_id>/chot/", wrap(self.close_view), name="accounting_close"),
            path("<path:object_id>/mo-lai/", wrap(self.reopen_view), name="accounting_reopen"),
            path("hoan-tien/", wrap(self.refunds_view), name="accounting_refunds"),
            path(
                "hoan-tien/<uuid:public_id>/", wrap(self.refund_manual_view), name="accounting_refund_manual"
            ),
            path("bien-lai/<uuid:public_id>.pdf", wrap(self.receipt_view), name="accounting_receipt"),
        ]
        return own + super().get_urls()

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Reconcile a day from the gateway's settlement file."""
        user = request.user
        if not has_any_role(user, access.ACCOUNTANT_ROLES):
            raise PermissionDenied
        if request.method != "POST":
            return self._upload_page(request, SettlementUploadForm(user=user))
        form = SettlementUploadForm(request.POST, request.FILES, user=user)
        if not form.is_valid():
            return self._upload_page(request, form, status=400)
        upload = form.cleaned_data["file"]
        name = Path(upload.name or "doi-soat.csv").name

        def reconcile() -> Reconciliation:
            lines, skipped = read_settlement(content=upload.read(), file_name=name)
            return services.reconciliation_run(
                facility=form.cleaned_data["facility"],
                gateway=form.cleaned_data["gateway"],
                day=form.cleaned_data["day"],
                lines=lines,
                skipped=skipped,
                source=Source.FILE,
                file_name=name,
                actor=user,
            )

        done, result = run(request, reconcile, form=form, refused=gettext("Chưa đối soát"))
        if not done:
            return self._upload_page(request, form, status=400)
        return HttpResponseRedirect(self.change_url(result.pk))

    def _upload_page(
        self, request: HttpRequest, form: SettlementUploadForm, status: int = 200
    ) -> HttpResponse:
        context = {
            **self.page_context(request, gettext("Đối soát với cổng thanh toán")),
            "form": form,
            "list_url": reverse("admin:accounting_reconciliation_changelist"),
        }
        return TemplateResponse(request, "admin/accounting/upload.html", context, status=status)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        reconciliation = self.scoped_object(request, object_id)
        if reconciliation is None:
            return super().change_view(request, object_id, form_url, extra_context)  # the admin's "not found"
        self.audit_view(request, reconciliation)
        return self._day_page(request, reconciliation)

    def _day_page(
        self,
        request: HttpRequest,
        reconciliation: Reconciliation,
        *,
        failed: tuple[int, ResolveForm] | None = None,
        reopen_form: ReopenForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        accountant = access.can_act_at(request.user, reconciliation.facility, access.ACCOUNTANT_ROLES)
        may_act = reconciliation.state == ReconciliationState.OPEN and accountant
        may_reopen = reconciliation.state == ReconciliationState.CLOSED and accountant
        items = list(
            reconciliation.items.select_related("payment__patient", "resolved_by").order_by("kind", "id")
        )
        sections = []
        for kind, title, help_text in SECTIONS:
            rows = []
            for item in (i for i in items if i.kind == kind):
                form = failed[1] if failed and failed[0] == item.pk else None
                rows.append(self._row(item, may_act=may_act, form=form))
            sections.append({"kind": kind, "title": title, "help": help_text, "rows": rows})
        open_count = sum(1 for i in items if i.kind in DIFFERENCE_KINDS and not i.resolution)
        context = {
            **self.page_context(request, str(reconciliation)),
            "rec": reconciliation,
            "state": state_badge(reconciliation),
            "sections": sections,
            "open_count": open_count,
            "may_act": may_act,
            "our_total": vnd(reconciliation.our_total),
            "their_total": vnd(reconciliation.their_total),
            "difference": vnd(abs(reconciliation.their_total - reconciliation.our_total)),
            "balanced": reconciliation.their_total == reconciliation.our_total,
            "closed_when": fmt_datetime(reconciliation.closed_at),
            "closed_by": fmt_user(reconciliation.closed_by),
            "close_url": reverse("admin:accounting_close", args=[reconciliation.pk]),
            "may_reopen": may_reopen,
            "reopen_form": reopen_form or (ReopenForm() if may_reopen else None),
            "reopen_url": reverse("admin:accounting_reopen", args=[reconciliation.pk]),
            "list_url": reverse("admin:accounting_reconciliation_changelist"),
            **self.history_context(reconciliation, gettext("Nhật ký đối soát")),
        }
        return TemplateResponse(request, "admin/accounting/reconciliation.html", context, status=status)

    def _row(self, item: ReconciliationItem, *, may_act: bool, form: ResolveForm | None) -> dict[str, Any]:
        payment = item.payment
        difference = None
        if item.their_amount is not None and item.our_amount is not None:
            difference = item.their_amount - item.our_amount
        return {
            "item": item,
            "reference": item.their_reference or (payment.reference if payment else ""),
            "gateway_ref": item.their_gateway_ref or (payment.gateway_ref if payment else ""),
            "patient": payment.patient.full_name if payment else "",
            "status": payment.get_status_display() if payment else "",
            "paid_at": fmt_datetime(payment.paid_at) if payment else "",
            "their_time": fmt_datetime(item.their_time) if item.their_time else "",
            "their_amount": vnd(item.their_amount) if item.their_amount is not None else "—",
            "our_amount": vnd(item.our_amount) if item.our_amount is not None else "—",
            "difference": (("+" if difference > 0 else "−") + vnd(abs(difference))) if difference else "",
            "receipt_url": reverse("admin:accounting_receipt", args=[payment.public_id])
            if payment and receipts.has_receipt(payment)
            else "",
            "resolved_by": fmt_user(item.resolved_by),
            "resolved_at": fmt_datetime(item.resolved_at),
            "resolve_url": reverse("admin:accounting_resolve", args=[item.reconciliation_id, item.pk]),
            "form": form
            or (
                ResolveForm(
                    prefix=f"i{item.pk}", initial={"resolution": item.resolution, "reason": item.reason}
                )
                if may_act and item.kind != ItemKind.MATCHED
                else None
            ),
        }

    def resolve_view(self, request: HttpRequest, object_id: str, item_id: int) -> HttpResponse:
        if refused := post_only(request):
            return refused
        reconciliation = self.scoped_object_or_404(request, object_id)
        try:
            item = services.item_of(reconciliation, item_id)
        except NotFound:
            raise Http404 from None
        form = ResolveForm(request.POST, prefix=f"i{item.pk}")
        if form.is_valid():
            done, _result = run(
                request,
                lambda: services.reconciliation_item_resolve(
                    item=item,
                    actor=request.user,
                    resolution=form.cleaned_data["resolution"],
                    reason=form.cleaned_data["reason"],
                ),
                form=form,
                success=gettext("Đã ghi nhận cách xử lý giao dịch %(ref)s.")
                % {"ref": item.their_reference or (item.payment.reference if item.payment else "")},
                refused=gettext("Chưa ghi nhận"),
            )
            if done:
                return HttpResponseRedirect(self.change_url(reconciliation.pk) + f"#item-{item.pk}")
        if not form.errors:
            return HttpResponseRedirect(self.change_url(reconciliation.pk))
        return self._day_page(request, reconciliation, failed=(item.pk, form), status=400)

    def close_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if refused := post_only(request):
            return refused
        reconciliation = self.scoped_object_or_404(request, object_id)
        run(
            request,
            lambda: services.reconciliation_close(reconciliation=reconciliation, actor=request.user),
            success=gettext("Đã chốt đối soát %(rec)s.") % {"rec": reconciliation},
            refused=gettext("Chưa chốt"),
        )
        return HttpResponseRedirect(self.change_url(reconciliation.pk))

    def reopen_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if refused := post_only(request):
            return refused
        reconciliation = self.scoped_object_or_404(request, object_id)
        form = ReopenForm(request.POST)
        if form.is_valid():
            done, _result = run(
                request,
                lambda: services.reconciliation_reopen(
                    reconciliation=reconciliation, actor=request.user, reason=form.cleaned_data["reason"]
                ),
                form=form,
                success=gettext("Đã mở lại đối soát %(rec)s.") % {"rec": reconciliation},
                refused=gettext("Chưa mở lại"),
            )
            if done or not form.errors:
                return HttpResponseRedirect(self.change_url(reconciliation.pk))
        return self._day_page(request, reconciliation, reopen_form=form, status=400)

    # --- refunds and receipts ------------------------------------------------------------------------

    def refunds_view(self, request: HttpRequest) -> HttpResponse:
        """Refunds the gateway could not make (and VietQR's, which has no refund call): to give back by hand."""
        user = request.user
        if not has_any_role(user, access.ACCOUNTING_READER_ROLES):
            raise PermissionDenied
        return self._refunds_page(request)

    def _refunds_page(
        self, request: HttpRequest, *, failed: tuple[int, ManualRefundForm] | None = None, status: int = 200
    ) -> HttpResponse:
        user = request.user
        rows = []
        for payment in selectors.manual_refund_worklist(user)[:200]:
            refund = next(iter(payment.refunds.all()), None)
            may_act = access.can_act_at(user, payment.facility, access.ACCOUNTANT_ROLES)
            form = failed[1] if failed and failed[0] == payment.pk else None
            rows.append(
                {
                    "payment": payment,
                    "amount": vnd(refund.amount if refund else payment.amount),
                    "paid_at": fmt_datetime(payment.paid_at),
                    "requested": fmt_datetime(refund.requested_at) if refund else "",
                    "reason": refund.reason if refund else "",
                    "failure": (refund.failure if refund else "") or payment.failure,
                    "receipt_url": reverse("admin:accounting_receipt", args=[payment.public_id])
                    if receipts.has_receipt(payment)
                    else "",
                    "action_url": reverse("admin:accounting_refund_manual", args=[payment.public_id]),
                    "form": form or (ManualRefundForm(prefix=f"r{payment.pk}") if may_act else None),
                }
            )
        context = {
            **self.page_context(request, gettext("Hoàn tiền thủ công")),
            "rows": rows,
            "list_url": reverse("admin:accounting_reconciliation_changelist"),
        }
        return TemplateResponse(request, "admin/accounting/refunds.html", context, status=status)

    def refund_manual_view(self, request: HttpRequest, public_id: Any) -> HttpResponse:
        if refused := post_only(request):
            return refused
        user = request.user
        payment = access.payments_for_staff(user).filter(public_id=public_id).first()
        if payment is None:
            raise Http404
        form = ManualRefundForm(request.POST, prefix=f"r{payment.pk}")
        if form.is_valid():
            done, _result = run(
                request,
                lambda: services.refund_mark_manual(
                    payment=payment,
                    actor=user,
                    reference=form.cleaned_data["reference"],
                    reason=form.cleaned_data["reason"],
                ),
                form=form,
                success=gettext("Đã ghi nhận hoàn tiền thủ công cho thanh toán %(ref)s.")
                % {"ref": payment.reference},
                refused=gettext("Chưa ghi nhận"),
            )
            if done or not form.errors:
                return HttpResponseRedirect(reverse("admin:accounting_refunds"))
        return self._refunds_page(request, failed=(payment.pk, form), status=400)

    def receipt_view(self, request: HttpRequest, public_id: Any) -> HttpResponse:
        if request.method != "GET":
            return HttpResponse(status=405)
        try:
            payment, pdf = receipts.staff_receipt(user=request.user, public_id=public_id)
        except DomainError:
            raise Http404 from None
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{receipts.receipt_filename(payment)}"'
        response["Cache-Control"] = "private, no-store"
        return response
