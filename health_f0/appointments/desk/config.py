"""The managers' configuration: services and their weekly schedules, date overrides, national holidays and
the reminder policy. Every save is an audit row (no Django admin log)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import display

from health_f0.appointments import selectors
from health_f0.appointments.desk.common import WEEKDAYS
from health_f0.appointments.forms import AppointmentPolicyForm, ScheduleOverrideForm
from health_f0.appointments.models import (
    AppointmentPolicy,
    Doctor,
    Holiday,
    ScheduleOverride,
    ScheduleTemplate,
    Service,
)
from health_f0.core.audit import audit_log
from health_f0.core.models import AuditLog
from health_f0.desk.formatting import fmt_date
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role
from health_f0.facilities import access
from health_f0.facilities.models import Facility


def warn_holiday_data(request: HttpRequest) -> None:
    """On the schedule pages: a year without holiday data keeps its holidays open for booking, and an
    estimated Tết must be corrected when the official schedule is announced (load_holidays)."""
    status = selectors.holiday_data_status()
    for year in status.missing:
        messages.warning(
            request,
            gettext(
                "Chưa có dữ liệu ngày nghỉ lễ năm %(year)s: các ngày lễ năm đó vẫn mở đặt lịch. Quản trị viên "
                "thêm tệp fixtures/holidays/vn-%(year)s.json theo thông báo chính thức rồi chạy lệnh "
                "“manage.py load_holidays”, hoặc thêm từng ngày ở trang Ngày nghỉ lễ."
            )
            % {"year": year},
        )
    if status.approximate:
        messages.info(
            request,
            gettext(
                "Ngày nghỉ lễ năm %(years)s còn là dự kiến (Tết Nguyên đán, ngày nghỉ bù): cập nhật khi có "
                "thông báo chính thức."
            )
            % {"years": ", ".join(str(y) for y in status.approximate)},
        )


def _configured(
    actor: Any, target: Any, facility: Facility | None, created: bool, changed: Iterable[str]
) -> None:
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE if created else AuditLog.Action.UPDATE,
        verb="configure",
        target=target,
        facility=facility,
        data={"changed": sorted(changed)},
    )


class AppointmentConfigAdmin(ScopedModelAdmin):
    """Managers and administrators configure what their facilities offer; every save is an audit row."""

    view_roles = access.OVERSIGHT_ROLES
    add_roles = access.OVERSIGHT_ROLES
    change_roles = access.OVERSIGHT_ROLES
    actions = None
    warns_holiday_data = False  # the schedule pages say when the holiday data lacks a year

    def scope(self, user: Any) -> QuerySet[Any]:
        field = self.facility_field.replace(".", "__") if self.facility_field else "facility"
        return access.scope_by_facility(
            self.model._default_manager.all(), user, field=field, roles=access.OVERSIGHT_ROLES
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method == "GET" and self.warns_holiday_data:
            warn_holiday_data(request)
        return super().changelist_view(request, extra_context)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "facility":
            kwargs["queryset"] = access.facilities_for(request.user, access.OVERSIGHT_ROLES).order_by("path")
        if db_field.name == "service":
            kwargs["queryset"] = access.scope_by_facility(
                Service.objects.select_related("facility"), request.user, roles=access.OVERSIGHT_ROLES
            )
        if db_field.name == "doctor":
            kwargs["queryset"] = _doctors_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        facility = self.facility_of(obj) if self.facility_field else None
        if facility is not None and not access.can_act_at(request.user, facility, access.OVERSIGHT_ROLES):
            raise PermissionDenied
        super().save_model(request, obj, form, change)
        _configured(request.user, obj, facility, not change, form.changed_data)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # the audit row is the record

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None

    def log_deletion(self, request: HttpRequest, obj: Any, object_repr: Any) -> Any:
        return None


def _doctors_for(user: Any) -> QuerySet[Doctor]:
    """The doctors a manager may put on a schedule: active, at the facilities they configure."""
    return access.scope_by_facility(
        Doctor.objects.filter(is_active=True), user, roles=access.OVERSIGHT_ROLES
    ).order_by("full_name", "id")


class _ServiceChildInline(TabularInline):
    extra = 0
    tab = True

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "doctor":
            kwargs["queryset"] = _doctors_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may(self, request: HttpRequest, obj: Any) -> bool:
        if obj is None:
            return has_any_role(request.user, access.OVERSIGHT_ROLES)
        return access.can_act_at(request.user, obj.facility, access.OVERSIGHT_ROLES)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_any_role(request.user, access.OVERSIGHT_ROLES)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)


class ScheduleTemplateInline(_ServiceChildInline):
    model = ScheduleTemplate
    fields = ("weekday", "start_time", "end_time", "doctor", "is_active")
    verbose_name = _("buổi làm việc")
    verbose_name_plural = _("lịch làm việc hằng tuần")


class ScheduleOverrideInline(_ServiceChildInline):
    model = ScheduleOverride
    form = ScheduleOverrideForm
    fields = ("date", "doctor", "is_closed", "start_time", "end_time", "reason")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Only today and later: past overrides are history the slots no longer use.
        return super().get_queryset(request).filter(date__gte=timezone.localdate())


@admin.register(Service, site=desk_site)
class ServiceAdmin(AppointmentConfigAdmin):
    warns_holiday_data = True
    list_display = (
        "name",
        "facility",
        "kind",
        "duration_minutes",
        "capacity_per_slot",
        "priority_col",
        "is_active",
    )
    list_select_related = ("facility",)
    list_filter = ("is_active", "kind", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    search_fields = ("name", "code")
    ordering = ("facility__path", "name")
    inlines = [ScheduleTemplateInline, ScheduleOverrideInline]
    fieldsets = (
        (None, {"fields": ("facility", "code", "name", "short_name", "kind", "is_active")}),
        (
            _("Khung giờ và đặt lịch"),
            {
                "fields": (
                    ("duration_minutes", "capacity_per_slot"),
                    ("min_notice_hours", "booking_horizon_days", "cancel_cutoff_hours"),
                    "requires_confirmation",
                )
            },
        ),
        (
            _("Gọi số"),
            {"fields": (("booked_priority", "interleave_ratio"), "turn_notice_ahead", "call_point")},
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("facility", "code") if obj is not None else ()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        changed = [fs.prefix for fs in formsets if fs.has_changed()]
        if changed:
            _configured(request.user, form.instance, form.instance.facility, False, changed)

    @display(description=_("ưu tiên khi gọi số"), ordering="booked_priority")
    def priority_col(self, obj: Service) -> str:
        return obj.get_booked_priority_display()


@admin.register(Doctor, site=desk_site)
class DoctorAdmin(AppointmentConfigAdmin):
    """The doctors of a facility; a service names them in its weekly rows (one row per doctor's session)."""

    list_display = ("full_name", "title", "facility", "is_active")
    list_select_related = ("facility",)
    list_filter = ("is_active", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    search_fields = ("full_name",)
    ordering = ("full_name", "id")
    fields = ("facility", "title", "full_name", "is_active")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("facility",) if obj is not None else ()


@admin.register(ScheduleOverride, site=desk_site)
class ScheduleOverrideAdmin(AppointmentConfigAdmin):
    facility_field = "service.facility"
    form = ScheduleOverrideForm
    warns_holiday_data = True
    list_display = ("date_col", "service", "doctor", "is_closed", "start_time", "end_time", "reason")
    list_select_related = ("service", "doctor")
    list_filter = ("is_closed", ("service", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    ordering = ("-date", "start_time")
    fields = ("service", "doctor", "date", "is_closed", "start_time", "end_time", "reason")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, access.OVERSIGHT_ROLES, obj)

    @display(description=_("ngày"), ordering="date")
    def date_col(self, obj: ScheduleOverride) -> str:
        return fmt_date(obj.date)


@admin.register(Holiday, site=desk_site)
class HolidayAdmin(AppointmentConfigAdmin):
    """National public holidays are data for the whole province: administrators edit, managers read."""

    facility_field = None
    warns_holiday_data = True
    add_roles = access.ADMINISTRATOR_ROLES
    change_roles = access.ADMINISTRATOR_ROLES
    list_display = ("date_col", "name")
    ordering = ("-date",)
    search_fields = ("name",)

    def scope(self, user: Any) -> QuerySet[Any]:
        return Holiday.objects.all()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, access.ADMINISTRATOR_ROLES, obj)

    @display(description=_("ngày"), ordering="date")
    def date_col(self, obj: Holiday) -> str:
        return f"{WEEKDAYS[obj.date.weekday()]} {fmt_date(obj.date)}"


@admin.register(AppointmentPolicy, site=desk_site)
class AppointmentPolicyAdmin(AppointmentConfigAdmin):
    form = AppointmentPolicyForm
    list_display = ("facility", "days_col", "time_col", "limits_col")
    list_select_related = ("facility",)
    fields = (
        "facility",
        "reminder_days_text",
        "reminder_time",
        ("booked_priority", "interleave_ratio"),
        "elderly_age",
        ("recall_limit", "skip_back", "skip_limit"),
        ("max_live_per_service", "max_per_day", "max_per_week"),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("facility",) if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    @display(description=_("nhắc trước (ngày)"))
    def days_col(self, obj: AppointmentPolicy) -> str:
        return ", ".join(str(d) for d in obj.reminder_days_before or []) or "—"

    @display(description=_("giờ gửi tin nhắc"))
    def time_col(self, obj: AppointmentPolicy) -> str:
        return obj.reminder_time.strftime("%H:%M")

    @display(description=_("giới hạn mỗi người bệnh (dịch vụ / ngày / tuần)"))
    def limits_col(self, obj: AppointmentPolicy) -> str:
        return " / ".join(
            str(n) if n else "—" for n in (obj.max_live_per_service, obj.max_per_day, obj.max_per_week)
        )
