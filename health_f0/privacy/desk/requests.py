"""The worklist of withdrawal and deletion requests in the desk (nearest legal deadline first, overdue ones
marked) with the handler's decision.

Nothing here decides anything: the buttons call privacy.services (the workflow of privacy.transitions: role
at the facility, audit, SMS after commit), and which buttons a request shows comes from the workflow's
`available()`. Rows come from facilities.access; opening a request (which shows a patient) is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from health_f0.core.phone import display_phone
from health_f0.desk.actions import run
from health_f0.desk.formatting import badge, duration_label, fmt_date, fmt_datetime, fmt_when_who, name_html
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.privacy import services
from health_f0.privacy.forms import ApproveForm, RejectForm
from health_f0.privacy.models import DataSubjectRequest, RequestKind, RequestStatus
from health_f0.privacy.transitions import HANDLER_ROLES, REQUEST_WORKFLOW

STATUS_BADGE: dict[str, str | None] = {
    RequestStatus.SUBMITTED: "warning",
    RequestStatus.COMPLETED: "success",
    RequestStatus.REJECTED: "danger",
    RequestStatus.CANCELLED: None,
}

APPROVE_DIALOG: ActionDialog = {
    "title": _("Chấp thuận và thực hiện"),
    "description": _(
        "Hệ thống ngừng các lịch hẹn, kế hoạch tái khám, liên kết HIS còn hiệu lực; lưu trữ hạn chế hồ sơ y tế "
        "còn trong thời hạn luật định; nếu là yêu cầu xoá thì xoá tài khoản, thông tin liên lạc, lịch sử đồng ý, "
        "mã OTP và nội dung tin nhắn. Người yêu cầu được báo qua SMS và trên cổng thông tin."
    ),
    "form_class": ApproveForm,
    "form_submit_text": _("Thực hiện yêu cầu"),
}
REJECT_DIALOG: ActionDialog = {
    "title": _("Từ chối yêu cầu"),
    "description": _("Chỉ từ chối khi có căn cứ pháp luật; ghi rõ lý do để người yêu cầu hiểu."),
    "form_class": RejectForm,
    "form_submit_text": _("Từ chối"),
}

OUTCOME_LABELS = {
    "account": _("tài khoản"),
    "api_tokens": _("mã truy cập ứng dụng"),
    "consents": _("bản ghi đồng ý"),
    "otp_codes": _("mã OTP"),
    "sms": _("tin nhắn"),
    "registrations": _("hồ sơ đăng ký"),
    "appointments": _("lịch hẹn"),
    "patient": _("thông tin định danh"),
    "contact_details": _("thông tin liên lạc"),
    "episodes": _("đợt theo dõi"),
    "declarations": _("khai báo sức khoẻ"),
    "his_visits": _("lượt khám HIS"),
    "his_lab_results": _("kết quả xét nghiệm"),
    "appointments_cancelled": _("lịch hẹn đã huỷ"),
    "reexam_plans_ended": _("kế hoạch tái khám đã dừng"),
    "his_links_ended": _("liên kết HIS đã huỷ"),
}


def _counts(values: dict[str, int]) -> str:
    return ", ".join(f"{OUTCOME_LABELS.get(k, k)}: {v}" for k, v in values.items()) or "—"


@admin.register(DataSubjectRequest, site=desk_site)
class DataSubjectRequestAdmin(ScopedModelAdmin):
    view_roles = HANDLER_ROLES
    # Requests are made by patients on the portal (or recorded by privacy.services); the desk decides.
    read_only = True
    list_display = ("due_col", "kind_col", "name_col", "facility", "created_col", "status_col")
    list_display_links = ("name_col",)
    list_select_related = ("patient", "facility")
    list_filter = ("status", "kind", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    search_fields = ("patient__full_name",)
    search_help_text = _("Tìm theo họ tên người bệnh")
    ordering = ("due_at", "id")
    actions_detail = ["approve_action", "reject_action"]
    fields = (
        "kind",
        "status_col",
        "name_col",
        "dob_col",
        "phone_col",
        "facility",
        "channel",
        "reason",
        "created_col",
        "due_col",
        "records_col",
        "decided_col",
        "decision_note",
        "outcome_col",
        "outcome_message",
    )
    readonly_fields = fields
    change_form_after_template = "admin/audit_history.html"

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.privacy_requests_for(user).select_related("patient", "facility", "decided_by")

    def _may_decide(self, request: HttpRequest, action_name: str, object_id: Any) -> bool:
        """The workflow decides (privacy.transitions: roles at the request's facility, its state)."""
        if object_id is None:
            return has_any_role(request.user, REQUEST_WORKFLOW.roles_for(action_name))
        req = self.scoped_object(request, object_id)
        return req is not None and action_name in REQUEST_WORKFLOW.available(req, request.user)

    def has_approve_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_decide(request, "approve", object_id)

    def has_reject_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_decide(request, "reject", object_id)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        req = self.scoped_object(request, object_id)
        if req is not None and request.method == "GET":
            services.request_record_view(request=req, actor=request.user)
        extra = dict(extra_context or {})
        if req is not None:
            extra.update(self.history_context(req, gettext("Lịch sử xử lý")))
        return super().change_view(request, object_id, form_url, extra)

    @display(description=_("hạn trả lời"), ordering="due_at")
    def due_col(self, obj: DataSubjectRequest) -> SafeString:
        when = fmt_datetime(obj.due_at)
        if obj.status != RequestStatus.SUBMITTED:
            return format_html('<span class="text-base-500">{}</span>', when)
        left = obj.due_at - timezone.now()
        if left.total_seconds() < 0:
            label, kind = gettext("Quá hạn %(time)s") % {"time": duration_label(-left)}, "danger"
        else:
            label = gettext("Còn %(time)s") % {"time": duration_label(left)}
            kind = "warning" if left.total_seconds() < 24 * 3600 else "info"
        return format_html('<span class="whitespace-nowrap">{}</span><br>{}', when, badge(label, kind))

    @display(description=_("loại yêu cầu"), ordering="kind")
    def kind_col(self, obj: DataSubjectRequest) -> SafeString:
        return badge(obj.get_kind_display(), "danger" if obj.kind == RequestKind.DELETE else "info")

    @display(description=_("người bệnh"), ordering="patient__full_name")
    def name_col(self, obj: DataSubjectRequest) -> SafeString:
        return name_html(obj.patient.full_name)

    @display(description=_("ngày sinh"))
    def dob_col(self, obj: DataSubjectRequest) -> str:
        return fmt_date(obj.patient.date_of_birth)

    @display(description=_("số điện thoại"))
    def phone_col(self, obj: DataSubjectRequest) -> str:
        return display_phone(obj.patient.phone) or "—"

    @display(description=_("gửi lúc"), ordering="created_at")
    def created_col(self, obj: DataSubjectRequest) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("trạng thái"), ordering="status")
    def status_col(self, obj: DataSubjectRequest) -> SafeString:
        return badge(obj.get_status_display(), STATUS_BADGE.get(obj.status))

    @display(description=_("hồ sơ y tế phải lưu trữ"))
    def records_col(self, obj: DataSubjectRequest) -> str:
        counts, last = services.medical_record_counts(obj.patient)
        if not counts:
            return gettext("Không có: thông tin định danh sẽ được ẩn danh nếu xoá.")
        return gettext("%(counts)s; gần nhất %(date)s → lưu trữ hạn chế đến %(until)s") % {
            "counts": _counts(counts),
            "date": fmt_date(last),
            "until": fmt_date(services._add_years(last, services.settings.RETENTION_MEDICAL_RECORD_YEARS))
            if last
            else "—",
        }

    @display(description=_("xử lý"))
    def decided_col(self, obj: DataSubjectRequest) -> str:
        return fmt_when_who(obj.decided_at, obj.decided_by)

    @display(description=_("đã thực hiện"))
    def outcome_col(self, obj: DataSubjectRequest) -> str:
        if not obj.outcome:
            return "—"
        parts = []
        for bucket, title in (
            ("deleted", gettext("Đã xoá")),
            ("anonymised", gettext("Đã ẩn danh")),
            ("stopped", gettext("Đã dừng")),
            ("restricted", gettext("Lưu trữ hạn chế")),
        ):
            if obj.outcome.get(bucket):
                parts.append(f"{title}: {_counts(obj.outcome[bucket])}")
        return " · ".join(parts) or "—"

    def _decide(
        self, request: HttpRequest, object_id: Any, fn: Callable[..., Any], note: str, done: str
    ) -> HttpResponse:
        req = self.scoped_object(request, object_id)
        if req is None:
            raise Http404
        target = reverse("admin:privacy_datasubjectrequest_change", args=[object_id])
        run(
            request,
            lambda: fn(request=req, actor=request.user, note=note),
            success=done % {"name": req.patient.full_name},
        )
        return redirect_back(request, target)

    @action(
        description=_("Chấp thuận và thực hiện"),
        url_path="thuc-hien",
        permissions=["approve"],
        icon="task_alt",
        variant=ActionVariant.PRIMARY,
        dialog=APPROVE_DIALOG,
    )
    def approve_action(self, request: HttpRequest, form: ApproveForm, object_id: Any) -> HttpResponse:
        return self._decide(
            request,
            object_id,
            services.request_approve,
            form.cleaned_data.get("note") or "",
            gettext("Đã thực hiện yêu cầu của %(name)s và báo cho người yêu cầu."),
        )

    @action(
        description=_("Từ chối"),
        url_path="tu-choi",
        permissions=["reject"],
        icon="block",
        variant=ActionVariant.DANGER,
        dialog=REJECT_DIALOG,
    )
    def reject_action(self, request: HttpRequest, form: RejectForm, object_id: Any) -> HttpResponse:
        return self._decide(
            request,
            object_id,
            services.request_reject,
            form.cleaned_data["note"],
            gettext("Đã từ chối yêu cầu của %(name)s và báo lý do cho người yêu cầu."),
        )
