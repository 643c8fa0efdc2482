"""The staff desk: Django admin themed with unfold, mounted at /desk/, scoped through facilities.access.

Who may enter: an active user with `is_staff` (the flag Django's admin login form checks) AND an active
staff membership (`access.is_staff_member`, or a superuser). Membership is the authority: ending a
membership shuts the desk even if `is_staff` was left on; `is_staff` alone (without a role) opens nothing.
Django model permissions are not used: what each page shows and allows comes from the user's roles and
the facility tree (ScopedModelAdmin below).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin import sites
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin
from unfold.sites import UnfoldAdminSite

from health_f0.facilities import access
from health_f0.facilities.models import Facility


class DeskSite(UnfoldAdminSite):
    site_header = _("health_f0 — Bàn làm việc")
    site_title = _("Bàn làm việc")
    index_title = _("Bàn làm việc")

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and access.is_staff_member(user))

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """Land on the first page of the sidebar the user may open (the registration queue for stations)."""
        for group in sidebar_navigation(request):
            for item in group["items"]:
                if item["permission"](request):
                    return HttpResponseRedirect(str(item["link"]))
        return super().index(request, extra_context)


desk_site = DeskSite(name="admin")


def install_desk_site() -> None:
    """Make the desk the default admin site, so `admin.site.urls` and `@admin.register` both use it.

    Called from health_f0.core.admin, the first project admin module autodiscovery imports. Models that
    apps listed earlier registered on unfold's default site (django-axes' access logs) move over.
    """
    previous = sites.site
    if previous is desk_site:
        return
    for model, model_admin in list(getattr(previous, "_registry", {}).items()):
        if not desk_site.is_registered(model):
            desk_site.register(model, type(model_admin))
    admin.site = desk_site
    sites.site = desk_site


# --- Scoped model admin ---------------------------------------------------------------------


def has_any_role(user: Any, roles: Iterable[str] | None) -> bool:
    """Superusers always; otherwise the user holds one of `roles` somewhere (None: any staff role)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    held = access.roles_of(user)
    return bool(held) if roles is None else bool(held & frozenset(roles))


class ScopedModelAdmin(ModelAdmin):
    """A desk page whose rows come from an access.py scope function and whose rights come from roles.

    Subclasses set `scope()` and the role sets. Object-level rights check the role at the row's facility
    (`facility_field`, a dotted attribute path; "" means the row is a Facility itself; None means being in
    the scope is enough).
    """

    view_roles: frozenset[str] | None = None  # None: any staff role
    add_roles: frozenset[str] = frozenset()
    change_roles: frozenset[str] = frozenset()
    delete_roles: frozenset[str] = frozenset()
    facility_field: str | None = "facility"
    # Audit log and outbox are read-only even for superusers.
    superuser_writes = True
    list_per_page = 50
    compressed_fields = True
    warn_unsaved_form = True

    def scope(self, user: Any) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = self.scope(request.user)
        ordering = self.get_ordering(request)
        if ordering:
            qs = qs.order_by(*ordering)
        return qs

    def facility_of(self, obj: models.Model) -> Facility | None:
        if not self.facility_field:
            return obj if isinstance(obj, Facility) else None
        value: Any = obj
        for part in self.facility_field.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value if isinstance(value, Facility) else None

    def _may(self, request: HttpRequest, roles: frozenset[str], obj: models.Model | None) -> bool:
        user = request.user
        if getattr(user, "is_superuser", False):
            return self.superuser_writes
        if not roles or not has_any_role(user, roles):
            return False
        if obj is None or self.facility_field is None:
            return True
        return access.can_act_at(user, self.facility_of(obj), roles)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_any_role(request.user, self.view_roles)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._may(request, self.add_roles, None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, self.change_roles, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, self.delete_roles, obj)

    def audit_view(self, request: HttpRequest, obj: Any) -> None:
        """Every staff read of a record's detail page (a GET) is an audit row, at the record's facility."""
        if obj is not None and request.method == "GET":
            from health_f0.core.audit import audit_log
            from health_f0.core.models import AuditLog

            audit_log(
                actor=request.user,
                action=AuditLog.Action.VIEW,
                verb="view",
                target=obj,
                facility=getattr(obj, "facility", None),
            )

    def scoped_object(self, request: HttpRequest, object_id: Any) -> Any:
        """The row if it is in the user's scope, else None (cached for the request)."""
        cache = request.__dict__.setdefault("_desk_objects", {})
        key = (self.model, str(object_id))
        if key not in cache:
            cache[key] = self.get_object(request, str(object_id)) if object_id is not None else None
        return cache[key]

    def scoped_object_or_404(self, request: HttpRequest, object_id: Any) -> Any:
        """The row for a detail action; 404 when it is missing or out of the user's scope (the same answer)."""
        obj = self.scoped_object(request, object_id)
        if obj is None:
            raise Http404
        return obj

    def history_context(self, obj: Any, title: Any, *, include_views: bool = False) -> dict[str, Any]:
        """Context for admin/audit_history.html (set it as `change_form_after_template`): the record's audit
        rows, oldest first; staff reads of the page only when `include_views`."""
        from health_f0.core.models import AuditLog

        rows = AuditLog.objects.filter(target_type=self.model._meta.label_lower, target_id=str(obj.pk))
        if not include_views:
            rows = rows.exclude(action=AuditLog.Action.VIEW)
        return {
            "history_title": title,
            "history_rows": [
                {
                    "when": fmt_datetime(row.created_at),
                    "actor": row.actor_label,
                    "verb": row.verb,
                    "action": row.get_action_display(),
                    "data": row.data,
                }
                for row in rows.order_by("created_at", "id")
            ],
        }

    def change_url(self, object_id: Any) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[object_id])


# --- Formatting shared by the desk pages ------------------------------------------------------


def fmt_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def fmt_datetime(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%H:%M %d/%m/%Y") if value else "—"


def duration_label(delta: timedelta) -> str:
    """'2 giờ 15 phút', '3 ngày 4 giờ', '5 phút'."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 60 * 24)
    hours, mins = divmod(rest, 60)
    day_text = ngettext("%(n)s ngày", "%(n)s ngày", days) % {"n": days}
    hour_text = ngettext("%(n)s giờ", "%(n)s giờ", hours) % {"n": hours}
    if days:
        return f"{day_text} {hour_text}" if hours else day_text
    if hours:
        return (
            f"{hour_text} {ngettext('%(n)s phút', '%(n)s phút', mins) % {'n': mins}}" if mins else hour_text
        )
    return ngettext("%(n)s phút", "%(n)s phút", mins) % {"n": mins}


def age_years(born: date, on: date | None = None) -> int:
    on = on or timezone.localdate()
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# --- Sidebar (settings.UNFOLD["SIDEBAR"]["navigation"] points here) ---------------------------


def _can_view(model_label: str) -> Callable[[HttpRequest], bool]:
    def check(request: HttpRequest) -> bool:
        from django.apps import apps

        model = apps.get_model(model_label)
        model_admin = desk_site._registry.get(model)
        return bool(model_admin and model_admin.has_view_permission(request))

    return check


def _can_add(model_label: str) -> Callable[[HttpRequest], bool]:
    def check(request: HttpRequest) -> bool:
        from django.apps import apps

        model = apps.get_model(model_label)
        model_admin = desk_site._registry.get(model)
        return bool(model_admin and model_admin.has_add_permission(request))

    return check


# Who sees the "Báo cáo" link (the report pages check access themselves).
REPORT_ROLES: frozenset[str] = frozenset({"manager", "administrator", "station_head"})


def _has_role(roles: frozenset[str]) -> Callable[[HttpRequest], bool]:
    def check(request: HttpRequest) -> bool:
        return has_any_role(request.user, roles)

    return check


def _url(name: str, query: str = "") -> str:
    try:
        return reverse(f"admin:{name}") + query
    except NoReverseMatch:  # a model not registered (yet): no link
        return ""


def _episodes_active(request: HttpRequest) -> bool:
    """The board and the silent list live under the episodes' URL; only the list and details light this."""
    base = _url("monitoring_episode_changelist")
    extra = (_url("monitoring_board"), _url("monitoring_silent"))
    return bool(base) and request.path.startswith(base) and not request.path.startswith(extra)


# Who sees which appointment pages (role names as in facilities.Role; the pages check access themselves).
BOOKING_DESK_ROLES: frozenset[str] = frozenset({"booking_desk", "reception", "administrator"})
RECEPTION_DESK_ROLES: frozenset[str] = frozenset({"reception", "administrator"})
REEXAM_SETTER_ROLES: frozenset[str] = BOOKING_DESK_ROLES | {"treatment_doctor"}
QUEUE_CALLER_ROLES: frozenset[str] = RECEPTION_DESK_ROLES | {"treatment_doctor"}


def _exact_page(name: str, *, prefix_of: tuple[str, ...] = ()) -> Callable[[HttpRequest], bool]:
    """Active on this page (and its sub-pages) but not on the sibling pages hung under the same URL."""

    def check(request: HttpRequest) -> bool:
        base = _url(name)
        others = tuple(_url(other) for other in prefix_of)
        return bool(base) and request.path.startswith(base) and not request.path.startswith(others)

    return check


def sidebar_navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """The desk menu, grouped by job. Items the user may not open are hidden by their permission."""

    def item(title: Any, icon: str, link: str, permission: Callable[[HttpRequest], bool]) -> dict[str, Any]:
        return {"title": title, "icon": icon, "link": link, "permission": permission}

    groups: list[dict[str, Any]] = [
        {
            "title": _("Đăng ký F0"),
            "separator": True,
            "items": [
                item(
                    _("Hàng chờ tiếp nhận"),
                    "pending_actions",
                    _url("registration_registration_changelist", "?status__exact=submitted"),
                    _can_view("registration.Registration"),
                ),
                item(
                    _("Tất cả hồ sơ đăng ký"),
                    "assignment",
                    _url("registration_registration_changelist"),
                    _can_view("registration.Registration"),
                ),
                item(
                    _("Đăng ký trực tiếp"),
                    "person_add",
                    _url("registration_registration_add"),
                    _can_add("registration.Registration"),
                ),
            ],
        },
        {
            "title": _("Theo dõi tại nhà"),
            "separator": True,
            "items": [
                item(
                    _("Bảng theo dõi hôm nay"),
                    "monitor_heart",
                    _url("monitoring_board"),
                    _can_view("monitoring.Episode"),
                ),
                item(
                    _("Cảnh báo"),
                    "notifications_active",
                    _url("monitoring_alert_changelist", "?xu_ly=chua"),
                    _can_view("monitoring.Alert"),
                ),
                item(
                    _("Chưa khai báo / Danh sách gọi"),
                    "phone_in_talk",
                    _url("monitoring_silent"),
                    _can_view("monitoring.Episode"),
                ),
                {
                    **item(
                        _("Đợt chăm sóc"),
                        "home_health",
                        _url("monitoring_episode_changelist", "?status__exact=active"),
                        _can_view("monitoring.Episode"),
                    ),
                    "active": _episodes_active,
                },
            ],
        },
        {
            "title": _("Lịch hẹn khám"),
            "separator": True,
            "items": [
                item(
                    _("Lịch chờ xác nhận"),
                    "event_upcoming",
                    _url("appointments_worklist"),
                    _has_role(BOOKING_DESK_ROLES),
                ),
                item(
                    _("Đặt lịch qua điện thoại"),
                    "add_call",
                    _url("appointments_book"),
                    _has_role(BOOKING_DESK_ROLES),
                ),
                {
                    **item(
                        _("Tái khám cần gọi"),
                        "phone_callback",
                        _url("appointments_reexams"),
                        _has_role(REEXAM_SETTER_ROLES),
                    ),
                    "active": _exact_page("appointments_reexams", prefix_of=("appointments_reexam_new",)),
                },
                item(
                    _("Hẹn tái khám"),
                    "update",
                    _url("appointments_reexam_new"),
                    _has_role(REEXAM_SETTER_ROLES),
                ),
                {
                    **item(
                        _("Tiếp đón"),
                        "qr_code_scanner",
                        _url("appointments_checkin"),
                        _has_role(RECEPTION_DESK_ROLES),
                    ),
                    "active": _exact_page("appointments_checkin", prefix_of=("appointments_walk_in",)),
                },
                item(
                    _("Tiếp đón vãng lai"),
                    "person_add",
                    _url("appointments_walk_in"),
                    _has_role(RECEPTION_DESK_ROLES),
                ),
                item(
                    _("Hàng đợi hôm nay"),
                    "format_list_numbered",
                    _url("appointments_queue"),
                    _has_role(QUEUE_CALLER_ROLES),
                ),
                {
                    **item(
                        _("Tất cả lịch hẹn"),
                        "calendar_month",
                        _url("appointments_appointment_changelist"),
                        _can_view("appointments.Appointment"),
                    ),
                    "active": _exact_page(
                        "appointments_appointment_changelist",
                        prefix_of=(
                            "appointments_worklist",
                            "appointments_book",
                            "appointments_reexams",
                            "appointments_checkin",
                            "appointments_queue",
                        ),
                    ),
                },
                item(
                    _("Kế hoạch tái khám định kỳ"),
                    "event_repeat",
                    _url("appointments_reexamplan_changelist"),
                    _can_view("appointments.ReexamPlan"),
                ),
                item(
                    _("Dịch vụ và lịch làm việc"),
                    "medical_services",
                    _url("appointments_service_changelist"),
                    _can_view("appointments.Service"),
                ),
                item(
                    _("Lịch thay đổi theo ngày"),
                    "edit_calendar",
                    _url("appointments_scheduleoverride_changelist"),
                    _can_view("appointments.ScheduleOverride"),
                ),
                item(
                    _("Ngày nghỉ lễ"),
                    "beach_access",
                    _url("appointments_holiday_changelist"),
                    _can_view("appointments.Holiday"),
                ),
                item(
                    _("Nhắc lịch hẹn"),
                    "alarm",
                    _url("appointments_appointmentpolicy_changelist"),
                    _can_view("appointments.AppointmentPolicy"),
                ),
            ],
        },
        {
            "title": _("Báo cáo"),
            "separator": True,
            "items": [
                item(_("Báo cáo"), "monitoring", "/bao-cao/", _has_role(REPORT_ROLES)),
            ],
        },
        {
            "title": _("Người bệnh"),
            "separator": True,
            "items": [
                item(
                    _("Người bệnh"),
                    "personal_injury",
                    _url("patients_patient_changelist"),
                    _can_view("patients.Patient"),
                ),
            ],
        },
        {
            "title": _("Cơ sở & nhân viên"),
            "separator": True,
            "items": [
                item(
                    _("Cơ sở y tế"),
                    "local_hospital",
                    _url("facilities_facility_changelist"),
                    _can_view("facilities.Facility"),
                ),
                item(
                    _("Địa bàn phụ trách"),
                    "map",
                    _url("facilities_stationward_changelist"),
                    _can_view("facilities.StationWard"),
                ),
                item(
                    _("Phân công nhân viên"),
                    "badge",
                    _url("facilities_membership_changelist"),
                    _can_view("facilities.Membership"),
                ),
            ],
        },
        {
            "title": _("Cấu hình"),
            "separator": True,
            "items": [
                item(
                    _("Bộ câu hỏi khai báo"),
                    "quiz",
                    _url("monitoring_questionnaireversion_changelist"),
                    _can_view("monitoring.QuestionnaireVersion"),
                ),
                item(
                    _("Quy tắc phân loại cảnh báo"),
                    "rule",
                    _url("monitoring_triagerule_changelist"),
                    _can_view("monitoring.TriageRule"),
                ),
                item(
                    _("Hạn khai báo và giờ nhắc"),
                    "schedule",
                    _url("monitoring_provincepolicy_changelist"),
                    _can_view("monitoring.ProvincePolicy"),
                ),
                item(
                    _("Tài liệu hướng dẫn"),
                    "menu_book",
                    _url("monitoring_guidancedocument_changelist"),
                    _can_view("monitoring.GuidanceDocument"),
                ),
            ],
        },
        {
            "title": _("Hệ thống"),
            "separator": True,
            "items": [
                item(
                    _("Hộp thư đi (SMS)"),
                    "sms",
                    _url("notifications_outboxmessage_changelist"),
                    _can_view("notifications.OutboxMessage"),
                ),
                item(
                    _("Nhật ký truy cập và thao tác"),
                    "history",
                    _url("core_auditlog_changelist"),
                    _can_view("core.AuditLog"),
                ),
                item(
                    _("Người dùng"),
                    "manage_accounts",
                    _url("core_user_changelist"),
                    _can_view("core.User"),
                ),
            ],
        },
    ]
    # HIS linking (issue 5): built by health_f0.his.admin, placed before the reports.
    from health_f0.his.admin import sidebar_group as his_sidebar_group

    titles = [str(group["title"]) for group in groups]
    at = titles.index(str(_("Báo cáo"))) if str(_("Báo cáo")) in titles else len(groups)
    groups.insert(at, his_sidebar_group(item))
    for group in groups:
        group["items"] = [entry for entry in group["items"] if entry["link"]]
    return groups


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponse:
    """After a desk action: a full-page redirect, also when the action was posted from an htmx dialog."""
    target = fallback
    if request.headers.get("HX-Request"):
        response = HttpResponse()
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)
