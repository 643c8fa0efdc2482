"""Personal-data records in the desk: the consent records, the policy versions (publishing a new one), and the
retention runs. Read-only lists; publishing goes through privacy.services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from health_f0.core.exceptions import DomainError, ValidationErrors
from health_f0.core.phone import display_phone
from health_f0.desk.formatting import badge, fmt_datetime
from health_f0.desk.site import ScopedModelAdmin, desk_site
from health_f0.facilities import access
from health_f0.privacy import retention, selectors, services
from health_f0.privacy.forms import PolicyPublishForm
from health_f0.privacy.models import ConsentRecord, PrivacyPolicy, RetentionRun
from health_f0.privacy.transitions import HANDLER_ROLES

RETENTION_ROLES: frozenset[str] = access.OVERSIGHT_ROLES


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
        context = {
            **self.page_context(request, gettext("Công bố phiên bản chính sách mới")),
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
