"""The managers' configuration of home-care monitoring in the desk: questionnaire versions (copy, activate),
triage rules, the province's policy, guidance documents. Managers and administrators read them; only those of
the Department of Health change them (monitoring.services.may_configure). Every save is audited and drops the
monitoring caches (services.configuration_changed)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import StackedInline
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm

from health_f0.desk.actions import run
from health_f0.desk.formatting import fmt_datetime
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.monitoring.desk.widgets import level_badge, num
from health_f0.monitoring.forms import GuidanceDocumentForm, ProvincePolicyForm
from health_f0.monitoring.models import (
    GuidanceDocument,
    ProvincePolicy,
    Question,
    QuestionnaireVersion,
    TriageRule,
)
from health_f0.monitoring.services import (
    configuration_changed,
    may_configure,
    questionnaire_activate,
    questionnaire_copy,
    questionnaire_in_use,
)

COPY_DIALOG: ActionDialog = {
    "title": _("Tạo phiên bản mới của bộ câu hỏi"),
    "description": _("Bản sao chưa được dùng cho tới khi bấm “Kích hoạt”; có thể sửa các câu hỏi trước."),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Tạo phiên bản mới"),
}
ACTIVATE_DIALOG: ActionDialog = {
    "title": _("Kích hoạt bộ câu hỏi"),
    "description": _("Từ lúc kích hoạt, mọi người bệnh khai báo theo phiên bản này."),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Kích hoạt"),
}


class ConfigAdmin(ScopedModelAdmin):
    """Province-wide monitoring settings: managers and administrators see them; only those of the Department
    of Health change them (services.may_configure). Every save is audited and drops the monitoring caches so
    the next declaration uses the new values."""

    view_roles = access.OVERSIGHT_ROLES
    add_roles = access.OVERSIGHT_ROLES
    change_roles = access.OVERSIGHT_ROLES
    facility_field = None
    actions = None

    def scope(self, user: Any) -> QuerySet[Any]:
        return self.model._default_manager.all()

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return super().has_add_permission(request, *args) and may_configure(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and may_configure(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        configuration_changed(
            target=obj, actor=request.user, created=not change, changed=list(form.changed_data)
        )

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # the audit row written by configuration_changed is the record

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None


class QuestionInline(StackedInline):
    model = Question
    extra = 0
    tab = True
    fields = (
        ("code", "order", "type", "required"),
        ("age_min_months", "age_max_months"),
        "text_vi",
        "text_en",
        "help_vi",
        ("unit", "min_value", "max_value", "decimals"),
        "options",
    )

    def _editable(self, request: HttpRequest, obj: Any) -> bool:
        return may_configure(request.user) and (obj is None or not _in_use(request, obj))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_any_role(request.user, access.OVERSIGHT_ROLES)  # TTYT managers read the questions too

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)


def _in_use(request: HttpRequest, version: QuestionnaireVersion) -> bool:
    cache = request.__dict__.setdefault("_questionnaire_in_use", {})
    if version.pk not in cache:
        cache[version.pk] = questionnaire_in_use(version=version)
    result: bool = cache[version.pk]
    return result


@admin.register(QuestionnaireVersion, site=desk_site)
class QuestionnaireVersionAdmin(ConfigAdmin):
    list_display = ("version", "title", "active_col", "questions_col", "in_use_col", "created_col")
    list_display_links = ("version", "title")
    fields = ("version", "title", "active_col", "in_use_col")
    readonly_fields = ("active_col", "in_use_col")
    inlines = [QuestionInline]
    ordering = ("-version",)
    actions_detail = ["copy_action", "activate_action"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(question_count=Count("questions"))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and _in_use(request, obj):
            return False  # part of the record: copy it instead
        return super().has_change_permission(request, obj)

    def has_copy_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return may_configure(request.user)

    def has_activate_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if not may_configure(request.user):
            return False
        if object_id is None:
            return True
        version = self.scoped_object(request, object_id)
        return bool(version is not None and not version.is_active)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("version")  # declarations and the API name versions by number
        return readonly

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        version = self.scoped_object(request, object_id)
        if version is not None and request.method == "GET" and _in_use(request, version):
            messages.info(
                request,
                gettext(
                    "Bộ câu hỏi này đã có người bệnh khai báo nên không sửa trực tiếp được. Bấm “Tạo phiên bản "
                    "mới” để sao chép, sửa bản sao rồi kích hoạt."
                ),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        configuration_changed(target=form.instance, actor=request.user, created=False, changed=["questions"])

    @display(description=_("đang dùng"), boolean=True)
    def active_col(self, obj: QuestionnaireVersion) -> bool:
        return obj.is_active

    @display(description=_("số câu hỏi"))
    def questions_col(self, obj: Any) -> int:
        return int(getattr(obj, "question_count", 0))

    @display(description=_("đã có khai báo"), boolean=True)
    def in_use_col(self, obj: QuestionnaireVersion) -> bool:
        return questionnaire_in_use(version=obj) if obj.pk else False

    @display(description=_("tạo lúc"))
    def created_col(self, obj: QuestionnaireVersion) -> str:
        return fmt_datetime(obj.created_at)

    @action(
        description=_("Tạo phiên bản mới"),
        url_path="tao-phien-ban-moi",
        permissions=["copy"],
        icon="content_copy",
        dialog=COPY_DIALOG,
    )
    def copy_action(self, request: HttpRequest, form: BaseDialogForm, object_id: Any) -> HttpResponse:
        if request.method != "POST":  # the dialog posts; a GET never writes
            raise Http404
        version = self.scoped_object(request, object_id)
        if version is None:
            raise Http404
        done, copy = run(
            request,
            lambda: questionnaire_copy(version=version, actor=request.user),
            success=lambda made: (
                gettext("Đã tạo phiên bản %(number)d (chưa dùng). Sửa các câu hỏi rồi bấm “Kích hoạt”.")
                % {"number": made.version}
            ),
        )
        target = copy.pk if done else object_id
        return redirect_back(request, reverse("admin:monitoring_questionnaireversion_change", args=[target]))

    @action(
        description=_("Kích hoạt"),
        url_path="kich-hoat",
        permissions=["activate"],
        icon="published_with_changes",
        variant=ActionVariant.SUCCESS,
        dialog=ACTIVATE_DIALOG,
    )
    def activate_action(self, request: HttpRequest, form: BaseDialogForm, object_id: Any) -> HttpResponse:
        if request.method != "POST":  # the dialog posts; a GET never writes
            raise Http404
        version = self.scoped_object(request, object_id)
        if version is None:
            raise Http404
        run(
            request,
            lambda: questionnaire_activate(version=version, actor=request.user),
            success=gettext("Từ bây giờ người bệnh khai báo theo phiên bản %(number)d.")
            % {"number": version.version},
        )
        return redirect_back(
            request, reverse("admin:monitoring_questionnaireversion_change", args=[object_id])
        )


@admin.register(TriageRule, site=desk_site)
class TriageRuleAdmin(ConfigAdmin):
    list_display = ("code", "kind", "condition_col", "age_col", "level_col", "reason_vi", "is_active")
    list_filter = ("kind", "level", "is_active")
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ("code", "reason_vi", "question_code", "symptom")
    ordering = ("code",)
    fieldsets = (
        (None, {"fields": ("code", "kind", "is_active")}),
        (
            _("Điều kiện"),
            {"fields": ("question_code", ("op", "value"), "symptom", ("window_hours", "days"))},
        ),
        (_("Nhóm tuổi (tháng)"), {"fields": (("age_min_months", "age_max_months"),)}),
        (_("Kết quả"), {"fields": ("level", "reason_vi", "reason_en")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("code",) if obj is not None else ()

    @display(description=_("điều kiện"))
    def condition_col(self, obj: TriageRule) -> str:
        if obj.kind == TriageRule.Kind.SYMPTOM:
            return f"{obj.question_code} ∋ {obj.symptom}"
        op = TriageRule.Op(obj.op).label if obj.op else ""
        value = num(obj.value)
        if obj.kind == TriageRule.Kind.TREND_DROP:
            return gettext("%(q)s giảm ≥ %(v)s trong %(h)s giờ") % {
                "q": obj.question_code,
                "v": value,
                "h": obj.window_hours,
            }
        if obj.kind == TriageRule.Kind.TREND_DAYS:
            return gettext("%(q)s %(op)s %(v)s trong %(d)s ngày") % {
                "q": obj.question_code,
                "op": op,
                "v": value,
                "d": obj.days,
            }
        return f"{obj.question_code} {op} {value}"

    @display(description=_("nhóm tuổi"))
    def age_col(self, obj: TriageRule) -> str:
        low, high = obj.age_min_months, obj.age_max_months
        if low is None and high is None:
            return gettext("mọi tuổi")
        return f"{low or 0}–{high if high is not None else '…'} " + gettext("tháng")

    @display(description=_("mức"), ordering="level")
    def level_col(self, obj: TriageRule) -> SafeString:
        return level_badge(obj.level)


@admin.register(ProvincePolicy, site=desk_site)
class ProvincePolicyAdmin(ConfigAdmin):
    form = ProvincePolicyForm
    list_display = (
        "province_code",
        "deadline_col",
        "times_col",
        "min_isolation_days",
        "escalate_after_silent_days",
    )
    ordering = ("province_code",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """A reader who may not change the policy sees the reminder times as typed ("08:00, 09:30"), not
        as the stored JSON list."""
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            fields = ["times_col" if name == "reminder_times" else name for name in fields]
        return fields

    @display(description=_("hạn khai báo"))
    def deadline_col(self, obj: ProvincePolicy) -> str:
        return obj.declaration_deadline.strftime("%H:%M")

    @display(description=_("giờ nhắc"))
    def times_col(self, obj: ProvincePolicy) -> str:
        return ", ".join(obj.reminder_times or []) or "—"


@admin.register(GuidanceDocument, site=desk_site)
class GuidanceDocumentAdmin(ConfigAdmin):
    form = GuidanceDocumentForm
    list_display = ("title", "source", "order", "is_published", "pdf_col")
    list_filter = ("is_published",)
    search_fields = ("title", "summary")
    ordering = ("order", "title")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_configure(request.user)

    @display(description=_("tệp PDF"), boolean=True)
    def pdf_col(self, obj: GuidanceDocument) -> bool:
        return bool(obj.pdf)
