"""Personal-data rights in the desk: the worklist of withdrawal and deletion requests (nearest legal deadline
first, overdue ones marked) with the handler's decision, the consent records, the policy versions (publishing a
new one), and the retention runs.

Nothing here decides anything: the buttons call privacy.services (workflow, role at the facility, audit, SMS
after commit). Rows come from facilities.access; opening a request (which shows a patient) is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from health_f0.core.exceptions import DomainError, ValidationErrors
from health_f0.core.phone import display_phone
from health_f0.desk.formatting import duration_label, fmt_date, fmt_datetime, fmt_when_who, name_html
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.privacy import retention, selectors, services
from health_f0.privacy.forms import ApproveForm, PolicyPublishForm, RejectForm
from health_f0.privacy.models import (
    ConsentRecord,
    DataSubjectRequest,
    PrivacyPolicy,
    RequestKind,
    RequestStatus,
    RetentionRun,
)
from health_f0.registration.admin import badge

HANDLER_ROLES = access.PRIVACY_HANDLER_ROLES
RETENTION_ROLES: frozenset[str] = access.OVERSIGHT_ROLES

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

    def _may_decide(self, request: HttpRequest, object_id: Any) -> bool:
        if object_id is None:
            return has_any_role(request.user, HANDLER_ROLES)
        req = self.scoped_object(request, object_id)
        return bool(
            req
            and req.status == RequestStatus.SUBMITTED
            and access.can_act_at(request.user, req.facility, HANDLER_ROLES)
        )

    def has_approve_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_decide(request, object_id)

    def has_reject_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_decide(request, object_id)

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
        try:
            fn(request=req, actor=request.user, note=note)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done % {"name": req.patient.full_name})
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


@admin.register(ConsentRecord, site=desk_site)
class ConsentRecordAdmin(ScopedModelAdmin):
    view_roles = HANDLER_ROLES
    audit_detail_views = True
    facility_field = None
    list_display = ("created_col", "action", "policy_version", "channel", "method", "who_col", "facility")
    list_select_related = ("patient", "facility")
    list_filter = ("action", "channel", "method", "policy_version")
    list_filter_submit = True
    search_fields = ("patient__full_name",)
    search_help_text = _("Tìm theo họ tên người bệnh")
    ordering = ("-created_at", "-id")
    fields = (
        "action",
        "policy_version",
        "channel",
        "method",
        "who_col",
        "facility",
        "source",
        "created_col",
        "recorded_by",
    )
    readonly_fields = fields
    read_only = True

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.consents_for(user).select_related("recorded_by")

    @display(description=_("lúc"), ordering="created_at")
    def created_col(self, obj: ConsentRecord) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("người đồng ý"))
    def who_col(self, obj: ConsentRecord) -> str:
        name = obj.patient.full_name if obj.patient is not None else ""
        return " · ".join(part for part in (name, display_phone(obj.phone)) if part) or "—"


@admin.register(PrivacyPolicy, site=desk_site)
class PrivacyPolicyAdmin(ScopedModelAdmin):
    view_roles = access.OVERSIGHT_ROLES
    facility_field = None
    list_display = ("version", "effective_col", "state_col", "published_by")
    ordering = ("-effective_from",)
    fields = ("version", "effective_col", "state_col", "summary", "body", "published_by")
    readonly_fields = fields
    read_only = True  # published through its own form (add); never edited nor deleted

    def scope(self, user: Any) -> QuerySet[Any]:
        return PrivacyPolicy.objects.select_related("published_by")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return services.may_publish_policy(request.user)

    @display(description=_("hiệu lực từ"), ordering="effective_from")
    def effective_col(self, obj: PrivacyPolicy) -> str:
        return fmt_datetime(obj.effective_from)

    @display(description=_("tình trạng"))
    def state_col(self, obj: PrivacyPolicy) -> SafeString:
        current = selectors.policy_current().version
        if obj.version == current:
            return badge(gettext("Đang áp dụng"), "success")
        if obj.effective_from > timezone.now():
            return badge(gettext("Sắp áp dụng"), "info")
        return badge(gettext("Đã thay thế"), None)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Publish a new version (every patient account is asked to agree to it once it takes effect)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PolicyPublishForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                policy = services.policy_publish(
                    version=form.cleaned_data["version"],
                    effective_from=form.cleaned_data["effective_from"],
                    summary=form.cleaned_data["summary"],
                    body=form.cleaned_data["body"],
                    actor=request.user,
                )
            except ValidationErrors as exc:
                for name, items in exc.errors.items():
                    for _code, message in items:
                        form.add_error(name if name in form.fields else None, message)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    gettext("Đã công bố chính sách phiên bản %(version)s.") % {"version": policy.version},
                )
                return HttpResponseRedirect(reverse("admin:privacy_privacypolicy_changelist"))
        request.current_app = self.admin_site.name
        title = gettext("Công bố phiên bản chính sách mới")
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "content_title": title,
            "subtitle": None,
            "opts": self.model._meta,
            "model_admin": self,
            "has_view_permission": True,
            "form": form,
            "current": selectors.policy_current(),
        }
        return TemplateResponse(request, "admin/privacy/policy_publish.html", context)


@admin.register(RetentionRun, site=desk_site)
class RetentionRunAdmin(ScopedModelAdmin):
    view_roles = RETENTION_ROLES
    facility_field = None
    list_display = ("started_col", "kind", "setting_col", "cutoff_col", "counts_col", "error")
    list_filter = ("kind",)
    ordering = ("-started_at", "-id")
    fields = ("kind", "setting_col", "started_col", "finished_at", "cutoff_col", "counts_col", "error")
    readonly_fields = fields
    read_only = True

    def scope(self, user: Any) -> QuerySet[Any]:
        return RetentionRun.objects.all()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        from health_f0.facilities.models import FacilityKind

        return access.holds_role_at_kind(request.user, RETENTION_ROLES, {FacilityKind.DEPARTMENT_OF_HEALTH})

    @display(description=_("chạy lúc"), ordering="started_at")
    def started_col(self, obj: RetentionRun) -> str:
        return fmt_datetime(obj.started_at)

    @display(description=_("thiết lập"))
    def setting_col(self, obj: RetentionRun) -> str:
        job = retention.JOBS_BY_KIND.get(obj.kind)
        if job is None:
            return "—"
        return f"{job.setting} = {getattr(services.settings, job.setting)}"

    @display(description=_("xoá dữ liệu trước"))
    def cutoff_col(self, obj: RetentionRun) -> str:
        return fmt_datetime(obj.cutoff)

    @display(description=_("số bản ghi"))
    def counts_col(self, obj: RetentionRun) -> str:
        return ", ".join(f"{k}: {v}" for k, v in obj.counts.items()) or "0"


# --- The sidebar group (desk.site.sidebar_navigation inserts it) -------------------------------


def _can_view(model: Any) -> Callable[[HttpRequest], bool]:
    def check(request: HttpRequest) -> bool:
        model_admin = desk_site._registry.get(model)
        return bool(model_admin and model_admin.has_view_permission(request))

    return check


def sidebar_group(item: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The "Dữ liệu cá nhân" group of the desk menu; items the user may not open are hidden."""
    return {
        "title": _("Dữ liệu cá nhân"),
        "separator": True,
        "items": [
            item(
                _("Yêu cầu xoá, rút đồng ý"),
                "privacy_tip",
                reverse("admin:privacy_datasubjectrequest_changelist") + "?status__exact=submitted",
                _can_view(DataSubjectRequest),
            ),
            item(
                _("Ghi nhận đồng ý"),
                "fact_check",
                reverse("admin:privacy_consentrecord_changelist"),
                _can_view(ConsentRecord),
            ),
            item(
                _("Chính sách dữ liệu"),
                "policy",
                reverse("admin:privacy_privacypolicy_changelist"),
                _can_view(PrivacyPolicy),
            ),
            item(
                _("Lưu giữ dữ liệu"),
                "auto_delete",
                reverse("admin:privacy_retentionrun_changelist"),
                _can_view(RetentionRun),
            ),
        ],
    }
