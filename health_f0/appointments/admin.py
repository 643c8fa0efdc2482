"""Appointments in the desk: the booking desk's worklist (confirm, move, decline), booking by phone, the
re-exam worklist and re-exam setting, reception's check-in, walk-ins and the queue, the appointment list
and detail, and the managers' configuration (services and their schedules, date overrides, holidays,
reminder policy).

Pages read through appointments.selectors (scoped by facilities.access); every button calls an
appointments service, which checks the transition, the actor's role at the facility, writes the audit row
and queues the SMS.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm

from health_f0.appointments import selectors, services
from health_f0.appointments.forms import (
    AppointmentPolicyForm,
    CallForm,
    CancelForm,
    DeclineForm,
    MoveForm,
    NewPatientForm,
    ReexamForm,
    ScheduleOverrideForm,
    SlotDayForm,
    SlotForm,
    WalkInForm,
)
from health_f0.appointments.models import (
    Appointment,
    AppointmentPolicy,
    Channel,
    Holiday,
    ReexamPlan,
    ScheduleOverride,
    ScheduleTemplate,
    Service,
    Status,
)
from health_f0.appointments.slots import LOCAL_TZ, local_date_of
from health_f0.appointments.transitions import (
    APPOINTMENT_WORKFLOW,
    DESK_ROLES,
    RECEPTION_ROLES,
    REEXAM_ROLES,
)
from health_f0.core.audit import audit_list_view, audit_log
from health_f0.core.exceptions import DomainError
from health_f0.core.models import AuditLog
from health_f0.core.phone import display_phone
from health_f0.desk.formatting import (
    age_years,
    duration_label,
    fmt_born,
    fmt_date,
    fmt_datetime,
    fmt_when_who,
    name_html,
)
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.facilities.models import Facility, Role
from health_f0.patients.models import Patient
from health_f0.privacy.models import ConsentChannel
from health_f0.registration.admin import badge, search_phone

# Who sees appointments in the desk: the desk and reception, clinicians, managers (not station staff).
VIEW_ROLES: frozenset[str] = access.APPOINTMENT_READER_ROLES  # desk, reception, clinicians, managers
QUEUE_ROLES: frozenset[str] = access.QUEUE_ROLES
CONFIG_ROLES: frozenset[str] = access.OVERSIGHT_ROLES
PAGE_SIZE = 50
PICKER_DAYS = 7
LAPSE_SOON = timedelta(hours=24)  # a request lapsing within this is shown in red on the worklist
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"]

STATUS_BADGE: dict[str, str | None] = {
    Status.REQUESTED: "warning",
    Status.CONFIRMED: "info",
    Status.CHECKED_IN: "success",
    Status.COMPLETED: "success",
    Status.CANCELLED: None,
    Status.NO_SHOW: "danger",
}

DECLINE_DIALOG: ActionDialog = {
    "title": _("Từ chối lịch đặt"),
    "description": _("Chỗ được trả lại; người bệnh nhận SMS có lý do và đường dẫn để đặt lại."),
    "form_class": DeclineForm,
    "form_submit_text": _("Từ chối"),
}
# "Xác nhận" and "Khám xong" change state: a GET only opens the dialog, its form POSTs with the CSRF token.
CONFIRM_DIALOG: ActionDialog = {
    "title": _("Xác nhận lịch đặt"),
    "description": _("Chỗ được giữ cho người bệnh; người bệnh nhận SMS có giờ hẹn và mã tiếp đón."),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Xác nhận"),
}
COMPLETE_DIALOG: ActionDialog = {
    "title": _("Ghi nhận khám xong"),
    "description": _("Lượt khám kết thúc và rời khỏi hàng đợi. Không hoàn tác được."),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Khám xong"),
}
CANCEL_DIALOG: ActionDialog = {
    "title": _("Huỷ lịch hẹn"),
    "description": _("Cơ sở huỷ lịch hẹn: chỗ được trả lại, các tin nhắc bị huỷ, người bệnh nhận SMS."),
    "form_class": CancelForm,
    "form_submit_text": _("Huỷ lịch hẹn"),
}


# --- Small formatting helpers ---------------------------------------------------------------------


def phone_link(phone: str) -> SafeString:
    return format_html(
        '<a class="text-primary-600 whitespace-nowrap" href="tel:{}">{}</a>', phone, display_phone(phone)
    )


def status_badge(appointment: Appointment) -> SafeString:
    return badge(appointment.get_status_display(), STATUS_BADGE.get(appointment.status))


def slot_text(moment: datetime | None) -> str:
    return fmt_datetime(moment)


def day_label(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day:%d/%m/%Y}"


def history_text(visits: int, no_shows: int) -> str:
    if not visits and not no_shows:
        return gettext("Lần đầu")
    parts = [gettext("%(n)d lần khám") % {"n": visits}]
    if no_shows:
        parts.append(gettext("%(n)d lần không đến") % {"n": no_shows})
    return " · ".join(parts)


def slot_days(
    service: Service, start: date, days: int, current: datetime | None = None
) -> list[dict[str, Any]]:
    """The slot picker: the service's slots over `days` local days from `start`, grouped by day."""
    grouped: dict[date, list[dict[str, Any]]] = {}
    for slot in selectors.slots_free(
        service=service, start=start, end=start + timedelta(days=days - 1), for_staff=True
    ):
        local = slot.start.astimezone(LOCAL_TZ)
        grouped.setdefault(local.date(), []).append(
            {
                "value": local.isoformat(),
                "label": f"{local:%H:%M}",
                "free": slot.free,
                "full": slot.free <= 0,
                "current": current is not None and slot.start == current,
            }
        )
    return [{"label": day_label(day), "slots": slots} for day, slots in sorted(grouped.items())]


def start_day(request: HttpRequest) -> tuple[date, SlotDayForm]:
    """The slot picker's first day (?tu=dd/mm/yyyy as typed, or ISO from the 7-day links), never before
    today, and the date field to show it in. A day that cannot be read is said so and today is shown."""
    today = timezone.localdate()
    raw = request.GET.get("tu", "").strip()
    first = today
    if raw:
        parsed = SlotDayForm({"tu": raw})
        if parsed.is_valid() and parsed.cleaned_data["tu"] is not None:
            first = max(parsed.cleaned_data["tu"], today)
        else:
            for error in _errors(parsed):
                messages.error(request, error)
    return first, SlotDayForm(initial={"tu": first})


def slot_day_context(request: HttpRequest, first: date, day_form: SlotDayForm) -> dict[str, Any]:
    """What _slot_day.html needs: the date field, the other query values its GET form keeps, and the links
    to the 7 days before (never before today) and after."""
    query = request.GET.copy()
    query.pop("tu", None)
    return {
        "day_form": day_form,
        "day_query": [(key, value) for key in query for value in query.getlist(key)],
        "next_url": "?" + _with(query, tu=(first + timedelta(days=PICKER_DAYS)).strftime("%d/%m/%Y")),
        "prev_url": "?" + _with(query, tu=(first - timedelta(days=PICKER_DAYS)).strftime("%d/%m/%Y"))
        if first > timezone.localdate()
        else "",
    }


def _safe_next(request: HttpRequest, fallback: str) -> str:
    """Back to the desk page the form was posted from (only a local /desk/ path is followed)."""
    target = request.POST.get("next", "") or request.GET.get("next", "")
    if target.startswith("/desk/") and "//" not in target and "\\" not in target:
        return target
    return fallback


def _errors(form: Any) -> list[str]:
    return [str(error) for errors in form.errors.values() for error in errors]


# --- Appointments: list, detail, and the desk's pages hung under them -----------------------------


@admin.register(Appointment, site=desk_site)
class AppointmentAdmin(ScopedModelAdmin):
    view_roles = VIEW_ROLES
    read_only = True  # changes only through the buttons
    list_display = (
        "patient_col",
        "phone_col",
        "service_col",
        "slot_col",
        "status_col",
        "channel",
        "queue_col",
    )
    list_display_links = ("patient_col",)
    list_select_related = ("patient", "service", "facility")
    list_filter = (
        "status",
        "channel",
        "is_reexam",
        "is_walk_in",
        ("service", admin.RelatedOnlyFieldListFilter),
    )
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ("patient__full_name", "patient__cccd", "check_in_code")
    search_help_text = _("Tìm theo họ tên, số điện thoại, số CCCD hoặc mã tiếp đón")
    ordering = ("-slot_start", "-id")
    actions = None
    actions_detail = [
        "confirm_action",
        "move_action",
        "decline_action",
        "cancel_action",
        "complete_action",
        "reexam_action",
    ]
    change_form_before_template = "admin/appointments/_meeting.html"
    change_form_after_template = "admin/appointments/_after.html"  # reminders and SMS, then the history
    fieldsets = (
        (_("Người bệnh"), {"fields": ("patient_col", "dob_col", "phone_col", "history_col")}),
        (
            _("Lịch hẹn"),
            {
                "fields": (
                    "service_col",
                    "room_col",
                    "slot_col",
                    "status_col",
                    "channel",
                    "reason",
                    "code_col",
                    "created_col",
                )
            },
        ),
        (
            _("Xử lý"),
            {
                "fields": (
                    "confirmed_col",
                    "cancel_col",
                    "checked_in_col",
                    "queue_col",
                    "reexam_col",
                    "rescheduled_count",
                )
            },
        ),
    )
    readonly_fields = tuple(name for _title, options in fieldsets for name in options["fields"])

    def scope(self, user: Any) -> QuerySet[Any]:
        return selectors.appointments_visible(user, VIEW_ROLES).select_related("facility")

    def _may_transition(self, request: HttpRequest, action_name: str, object_id: Any) -> bool:
        roles = APPOINTMENT_WORKFLOW.roles_for(action_name) & frozenset(Role.values)
        if object_id is None:
            return has_any_role(request.user, roles)
        appointment = self.scoped_object(request, object_id)
        if appointment is None or action_name not in APPOINTMENT_WORKFLOW.actions_from(appointment.status):
            return False
        if action_name == "reschedule" and appointment.is_walk_in:
            return False
        return access.can_act_at(request.user, appointment.facility, roles)

    def has_confirm_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_transition(request, "confirm", object_id)

    def has_decline_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_transition(request, "decline", object_id)

    def has_cancel_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_transition(request, "cancel", object_id)

    def has_move_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_transition(request, "reschedule", object_id)

    def has_complete_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_transition(request, "complete", object_id)

    def has_reexam_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None:
            return has_any_role(request.user, REEXAM_ROLES)
        appointment = self.scoped_object(request, object_id)
        return bool(
            appointment is not None and access.can_act_at(request.user, appointment.facility, REEXAM_ROLES)
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        term = search_term.strip()
        phone = search_phone(term)
        if phone:
            return queryset.filter(patient__phone=phone), False
        code = services.normalize_code(term)
        if len(code) == services.CODE_LENGTH and "-" in term:
            return queryset.filter(check_in_code=code), False
        return super().get_search_results(request, queryset, search_term)

    # --- columns ------------------------------------------------------------------------------

    @display(description=_("người bệnh"), ordering="patient__full_name")
    def patient_col(self, obj: Appointment) -> SafeString:
        return name_html(obj.patient.full_name)

    @display(description=_("số điện thoại"))
    def phone_col(self, obj: Appointment) -> SafeString:
        return phone_link(obj.patient.phone)

    @display(description=_("dịch vụ"), ordering="service__name")
    def service_col(self, obj: Appointment) -> str:
        return obj.service.name

    @display(description=_("giờ hẹn"), ordering="slot_start")
    def slot_col(self, obj: Appointment) -> str:
        return slot_text(obj.slot_start)

    @display(description=_("trạng thái"), ordering="status")
    def status_col(self, obj: Appointment) -> SafeString:
        return status_badge(obj)

    @display(description=_("số thứ tự"), ordering="queue_number")
    def queue_col(self, obj: Appointment) -> str:
        if obj.queue_number is None:
            return "—"
        text = str(obj.queue_number)
        walk_in = gettext("vãng lai")
        return f"{text} ({walk_in})" if obj.is_walk_in else text

    @display(description=_("ngày sinh"))
    def dob_col(self, obj: Appointment) -> str:
        return fmt_born(obj.patient.date_of_birth)

    @display(description=_("tiền sử đặt lịch"))
    def history_col(self, obj: Appointment) -> str:
        visits, no_shows = selectors.patient_visit_counts(patient_ids=[obj.patient_id])[obj.patient_id]
        return history_text(visits, no_shows)

    @display(description=_("phòng khám"))
    def room_col(self, obj: Appointment) -> str:
        return obj.facility.name

    @display(description=_("mã tiếp đón"))
    def code_col(self, obj: Appointment) -> str:
        code = obj.check_in_code
        return f"{code[:4]}-{code[4:]}"

    @display(description=_("đặt lúc"))
    def created_col(self, obj: Appointment) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("xác nhận"))
    def confirmed_col(self, obj: Appointment) -> str:
        return fmt_when_who(obj.confirmed_at, obj.confirmed_by, sep=" · ", nobody=gettext("tự động"))

    @display(description=_("huỷ / từ chối"))
    def cancel_col(self, obj: Appointment) -> str:
        if not obj.cancelled_at:
            return "—"
        parts = [fmt_datetime(obj.cancelled_at), obj.get_cancel_source_display(), obj.cancel_reason]
        return " · ".join(part for part in parts if part)

    @display(description=_("tiếp đón"))
    def checked_in_col(self, obj: Appointment) -> str:
        return fmt_datetime(obj.checked_in_at)

    @display(description=_("tái khám"))
    def reexam_col(self, obj: Appointment) -> str:
        if not obj.is_reexam:
            return gettext("Không")
        acknowledged = (
            gettext("người bệnh đã xác nhận %(at)s") % {"at": fmt_datetime(obj.patient_confirmed_at)}
            if obj.patient_confirmed_at
            else gettext("người bệnh chưa xác nhận")
        )
        return f"{gettext('Có')} · {acknowledged}"

    # --- detail page: every staff view is an audit row ------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        appointment = self.scoped_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if appointment is not None:
            self.audit_view(request, appointment)
            extra.update(self.history_context(appointment, gettext("Lịch sử lịch hẹn")))
            extra["subtitle"] = appointment.get_status_display()
            extra["meeting"] = selectors.meeting_for_desk(user=request.user, appointment=appointment)
            extra["appointment_messages"] = selectors.appointment_messages(
                user=request.user, appointment=appointment
            )
        return super().change_view(request, object_id, form_url, extra)

    # --- detail actions -------------------------------------------------------------------------

    @action(
        description=_("Xác nhận"),
        url_path="xac-nhan-lich",
        permissions=["confirm"],
        icon="event_available",
        variant=ActionVariant.SUCCESS,
        dialog=CONFIRM_DIALOG,
    )
    def confirm_action(self, request: HttpRequest, form: BaseDialogForm, object_id: Any) -> HttpResponse:
        self._post_only(request)
        appointment = self.scoped_object_or_404(request, object_id)
        self._confirm(request, appointment)
        return redirect_back(request, self.change_url(object_id))

    @action(description=_("Đổi lịch"), url_path="doi-lich-hen", permissions=["move"], icon="event_repeat")
    def move_action(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        self.scoped_object_or_404(request, object_id)
        return HttpResponseRedirect(reverse("admin:appointments_move", args=[object_id]))

    @action(
        description=_("Từ chối"),
        url_path="tu-choi-lich",
        permissions=["decline"],
        icon="block",
        variant=ActionVariant.DANGER,
        dialog=DECLINE_DIALOG,
    )
    def decline_action(self, request: HttpRequest, form: DeclineForm, object_id: Any) -> HttpResponse:
        appointment = self.scoped_object_or_404(request, object_id)
        try:
            services.appointment_decline(
                appointment=appointment, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            if exc.field == "reason":
                form.add_error("reason", exc.message)
                return render(request, "unfold/helpers/dialog.html", {"dialog": DECLINE_DIALOG, "form": form})
            messages.error(request, exc.message)
        else:
            messages.success(
                request, gettext("Đã từ chối lịch của %(name)s.") % {"name": appointment.patient.full_name}
            )
        return redirect_back(request, self.change_url(object_id))

    @action(
        description=_("Huỷ lịch"),
        url_path="huy-lich",
        permissions=["cancel"],
        icon="event_busy",
        variant=ActionVariant.DANGER,
        dialog=CANCEL_DIALOG,
    )
    def cancel_action(self, request: HttpRequest, form: CancelForm, object_id: Any) -> HttpResponse:
        appointment = self.scoped_object_or_404(request, object_id)
        try:
            services.appointment_cancel(
                appointment=appointment, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            if exc.field == "reason":
                form.add_error("reason", exc.message)
                return render(request, "unfold/helpers/dialog.html", {"dialog": CANCEL_DIALOG, "form": form})
            messages.error(request, exc.message)
        else:
            messages.success(
                request, gettext("Đã huỷ lịch của %(name)s.") % {"name": appointment.patient.full_name}
            )
        return redirect_back(request, self.change_url(object_id))

    @action(
        description=_("Khám xong"),
        url_path="kham-xong",
        permissions=["complete"],
        icon="task_alt",
        variant=ActionVariant.SUCCESS,
        dialog=COMPLETE_DIALOG,
    )
    def complete_action(self, request: HttpRequest, form: BaseDialogForm, object_id: Any) -> HttpResponse:
        self._post_only(request)
        appointment = self.scoped_object_or_404(request, object_id)
        try:
            services.appointment_complete(appointment=appointment, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, gettext("Đã ghi nhận khám xong."))
        return redirect_back(request, self.change_url(object_id))

    @action(description=_("Hẹn tái khám"), url_path="hen-tai-kham", permissions=["reexam"], icon="update")
    def reexam_action(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        self.scoped_object_or_404(request, object_id)
        return HttpResponseRedirect(reverse("admin:appointments_reexam_new") + f"?lan_kham={object_id}")

    # --- extra pages ------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("dat-lich/", wrap(self.worklist_view), name="appointments_worklist"),
            path("dat-lich/<int:pk>/xac-nhan/", wrap(self.confirm_view), name="appointments_confirm"),
            path("dat-lich/<int:pk>/tu-choi/", wrap(self.decline_view), name="appointments_decline"),
            path("dat-lich/<int:pk>/doi-lich/", wrap(self.move_view), name="appointments_move"),
            path("dat-lich-moi/", wrap(self.book_view), name="appointments_book"),
            path("tai-kham/", wrap(self.reexams_view), name="appointments_reexams"),
            path("tai-kham/<int:pk>/goi/", wrap(self.reexam_call_view), name="appointments_reexam_call"),
            path(
                "tai-kham/ke-hoach/<int:pk>/tim-cho/",
                wrap(self.reexam_plan_rebook_view),
                name="appointments_reexam_plan_rebook",
            ),
            path("tai-kham/hen/", wrap(self.reexam_new_view), name="appointments_reexam_new"),
            path("tiep-don/", wrap(self.checkin_view), name="appointments_checkin"),
            path("tiep-don/vang-lai/", wrap(self.walk_in_view), name="appointments_walk_in"),
            path("hang-doi/", wrap(self.queue_view), name="appointments_queue"),
            path(
                "hang-doi/<int:service_id>/goi-so/", wrap(self.call_next_view), name="appointments_call_next"
            ),
        ]
        return own + super().get_urls()

    def _page_context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        request.current_app = self.admin_site.name
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "content_title": title,
            "subtitle": None,
            "opts": self.model._meta,
            "model_admin": self,
            "has_view_permission": True,
        }

    @staticmethod
    def _require(request: HttpRequest, roles: frozenset[str]) -> None:
        if not has_any_role(request.user, roles):
            raise PermissionDenied

    @staticmethod
    def _post_only(request: HttpRequest) -> None:
        if request.method != "POST":
            raise Http404

    def _scoped(self, request: HttpRequest, pk: int, roles: frozenset[str]) -> Appointment:
        appointment = (
            selectors.appointments_visible(request.user, roles)
            .select_related("facility", "service__facility")
            .filter(pk=pk)
            .first()
        )
        if appointment is None:
            raise Http404
        return appointment

    # --- 1. The booking desk's worklist ------------------------------------------------------------

    def worklist_view(self, request: HttpRequest) -> HttpResponse:
        self._require(request, DESK_ROLES)
        now = timezone.now()
        page = Paginator(
            selectors.desk_worklist(user=request.user).select_related("service__facility"), PAGE_SIZE
        ).get_page(request.GET.get("p"))
        rows = []
        for appointment in page.object_list:
            patient = appointment.patient
            lapses = selectors.request_lapses_at(appointment)
            rows.append(
                {
                    "appointment": appointment,
                    "patient": patient,
                    "age": age_years(patient.date_of_birth),
                    "phone": phone_link(patient.phone),
                    "history": history_text(
                        int(getattr(appointment, "past_visits", 0)),
                        int(getattr(appointment, "past_no_shows", 0)),
                    ),
                    "no_shows": int(getattr(appointment, "past_no_shows", 0)),
                    "slot": slot_text(appointment.slot_start),
                    "lapses": slot_text(lapses) if lapses else "",
                    "lapses_soon": lapses is not None and lapses - now < LAPSE_SOON,
                    "waiting": duration_label(now - appointment.created_at),
                    "url": self.change_url(appointment.pk),
                    "confirm_url": reverse("admin:appointments_confirm", args=[appointment.pk]),
                    "decline_url": reverse("admin:appointments_decline", args=[appointment.pk]),
                    "move_url": reverse("admin:appointments_move", args=[appointment.pk])
                    + "?"
                    + urlencode({"next": request.get_full_path()}),
                }
            )
        query = request.GET.copy()
        query.pop("p", None)
        context = {
            **self._page_context(request, gettext("Tư vấn đặt lịch: lịch chờ xác nhận")),
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
            "book_url": reverse("admin:appointments_book"),
            "reexams_url": reverse("admin:appointments_reexams"),
        }
        return TemplateResponse(request, "admin/appointments/worklist.html", context)

    def _confirm(self, request: HttpRequest, appointment: Appointment) -> bool:
        try:
            services.appointment_confirm(appointment=appointment, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            return False
        messages.success(
            request,
            gettext("Đã xác nhận lịch của %(name)s lúc %(when)s; người bệnh nhận SMS có mã tiếp đón.")
            % {"name": appointment.patient.full_name, "when": slot_text(appointment.slot_start)},
        )
        return True

    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        appointment = self._scoped(request, pk, DESK_ROLES)
        self._confirm(request, appointment)
        return HttpResponseRedirect(_safe_next(request, reverse("admin:appointments_worklist")))

    def decline_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        appointment = self._scoped(request, pk, DESK_ROLES)
        try:
            services.appointment_decline(
                appointment=appointment, actor=request.user, reason=request.POST.get("reason", "")
            )
        except DomainError as exc:
            messages.error(
                request,
                gettext("Chưa từ chối lịch của %(name)s: %(error)s")
                % {"name": appointment.patient.full_name, "error": exc.message},
            )
        else:
            messages.success(
                request,
                gettext("Đã từ chối lịch của %(name)s; người bệnh nhận SMS có lý do.")
                % {"name": appointment.patient.full_name},
            )
        return HttpResponseRedirect(_safe_next(request, reverse("admin:appointments_worklist")))

    def move_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        appointment = self._scoped(request, pk, DESK_ROLES)
        if appointment.status not in (Status.REQUESTED, Status.CONFIRMED) or appointment.is_walk_in:
            messages.error(request, gettext("Lịch hẹn này không đổi được nữa."))
            return HttpResponseRedirect(self.change_url(pk))
        back = _safe_next(request, reverse("admin:appointments_worklist"))
        if request.method == "POST":
            form = MoveForm(request.POST)
            if not form.is_valid():
                for error in _errors(form):
                    messages.error(request, error)
            else:
                try:
                    # Moved and confirmed in one step: the patient gets one SMS, not two.
                    moved = services.appointment_reschedule(
                        appointment=appointment,
                        actor=request.user,
                        slot_start=form.cleaned_data["slot"],
                        confirm=bool(request.POST.get("confirm")),
                    )
                except DomainError as exc:
                    messages.error(request, exc.message)
                else:
                    messages.success(
                        request,
                        gettext("Đã đổi lịch của %(name)s sang %(when)s; người bệnh nhận SMS.")
                        % {"name": appointment.patient.full_name, "when": slot_text(moved.slot_start)},
                    )
                    return HttpResponseRedirect(back)
        first, day_form = start_day(request)
        context = {
            **self._page_context(request, gettext("Đổi lịch hẹn")),
            **slot_day_context(request, first, day_form),
            "appointment": appointment,
            "patient": appointment.patient,
            "phone": phone_link(appointment.patient.phone),
            "current": slot_text(appointment.slot_start),
            "days": slot_days(appointment.service, first, PICKER_DAYS, current=appointment.slot_start),
            "chosen_slot": request.POST.get("slot", ""),
            "back": back,
            "offer_confirm": appointment.status == Status.REQUESTED,
        }
        return TemplateResponse(request, "admin/appointments/move.html", context)

    # --- Booking by phone ----------------------------------------------------------------------------

    def _picked_patient(self, request: HttpRequest, roles: frozenset[str]) -> Patient | None:
        raw = request.POST.get("patient") or request.GET.get("patient")
        if not raw:
            return None
        try:
            pk = int(raw)
        except ValueError:
            raise Http404
        patient = selectors.patients_findable(user=request.user, roles=roles).filter(pk=pk).first()
        if patient is None:
            raise Http404
        return patient

    def _picker_context(
        self, request: HttpRequest, roles: frozenset[str], patient: Patient | None
    ) -> dict[str, Any]:
        term = request.GET.get("q", "").strip()
        query = request.GET.copy()
        query.pop("q", None)
        query.pop("patient", None)
        found = [] if patient else selectors.patient_search(user=request.user, roles=roles, term=term)
        if not patient and len(term) >= 2:
            # A search of patients is a read of patient data, audited like a desk list (term kept there only).
            audit_list_view(
                actor=request.user,
                model=Patient,
                data={"search": term, "filters": {}, "page": 1, "count": len(found), "shown": len(found)},
            )
        counts = selectors.patient_visit_counts(patient_ids=[p.pk for p in found])
        return {
            "patient": patient,
            "patient_info": self._patient_info(patient) if patient else None,
            "term": term,
            "found": [
                {
                    "patient": p,
                    "age": age_years(p.date_of_birth),
                    "dob": fmt_date(p.date_of_birth),
                    "phone": display_phone(p.phone),
                    "history": history_text(*counts[p.pk]),
                    "pick_url": "?" + _with(query, patient=str(p.pk)),
                }
                for p in found
            ],
            "unpick_url": "?" + query.urlencode(),
        }

    def _patient_info(self, patient: Patient) -> dict[str, Any]:
        visits, no_shows = selectors.patient_visit_counts(patient_ids=[patient.pk])[patient.pk]
        return {
            "name": patient.full_name,
            "dob": fmt_date(patient.date_of_birth),
            "age": age_years(patient.date_of_birth),
            "phone": phone_link(patient.phone),
            "cccd": patient.cccd,
            "bhyt": patient.bhyt,
            "history": history_text(visits, no_shows),
        }

    def _new_person(self, form: NewPatientForm) -> services.NewPatient | None:
        """The person typed in the new-patient form (the service creates the record together with the
        booking or ticket, and the oral consent the form's switch records); None with the form's errors."""
        if not form.is_valid():
            return None
        data = form.cleaned_data
        return services.NewPatient(
            full_name=data["full_name"],
            date_of_birth=data["date_of_birth"],
            sex=data["sex"],
            phone=data["phone"],
            cccd=data.get("cccd") or "",
            bhyt=data.get("bhyt") or "",
        )

    @staticmethod
    def _refused(exc: DomainError, form: Any, patient_form: NewPatientForm | None) -> None:
        """A service's refusal next to the new patient's field it names, else at the top of the form."""
        if patient_form is not None and exc.field in patient_form.fields:
            patient_form.add_error(exc.field, exc.message)
        else:
            form.add_error(None, exc.message)

    def book_view(self, request: HttpRequest) -> HttpResponse:
        """'Đặt lịch qua điện thoại': pick or create the patient, pick a service and a free slot."""
        self._require(request, DESK_ROLES)
        patient = self._picked_patient(request, DESK_ROLES)
        service_list = list(selectors.services_for(user=request.user, roles=DESK_ROLES))
        data = request.POST if request.method == "POST" else None
        form = SlotForm(data, services=service_list, initial={"service": request.GET.get("service", "")})
        patient_form = NewPatientForm(data if patient is None else None)
        if request.method == "POST" and form.is_valid():
            service = form.chosen_service()
            person = self._new_person(patient_form) if patient is None else None
            if patient is not None or person is not None:
                booking: dict[str, Any] = {
                    "service": service,
                    "slot_start": form.cleaned_data["slot"],
                    "channel": Channel.PHONE,
                    "actor": request.user,
                    "reason": form.cleaned_data["reason"],
                }
                try:
                    if patient is not None:
                        appointment = services.appointment_book(patient=patient, **booking)
                    elif person is not None:  # the new record and the booking: one transaction
                        appointment = services.appointment_book_new_patient(
                            person=person, consent_channel=ConsentChannel.PHONE_BOOKING, **booking
                        )
                except DomainError as exc:
                    self._refused(exc, form, patient_form if person is not None else None)
                else:
                    messages.success(
                        request,
                        gettext(
                            "Đã đặt lịch %(service)s lúc %(when)s cho %(name)s; người bệnh nhận SMS có mã "
                            "tiếp đón %(code)s."
                        )
                        % {
                            "service": service.name,
                            "when": slot_text(appointment.slot_start),
                            "name": appointment.patient.full_name,
                            "code": appointment.check_in_code,
                        },
                    )
                    return HttpResponseRedirect(self.change_url(appointment.pk))
        chosen = form.services.get(str(form["service"].value() or ""))
        first, day_form = start_day(request)
        context = {
            **self._page_context(request, gettext("Đặt lịch qua điện thoại")),
            **self._picker_context(request, DESK_ROLES, patient),
            **slot_day_context(request, first, day_form),
            "form": form,
            "patient_form": patient_form,
            "service": chosen,
            "days": slot_days(chosen, first, PICKER_DAYS) if chosen else [],
            "chosen_slot": request.POST.get("slot", ""),
            "service_query": {k: v for k, v in request.GET.items() if k not in ("service", "tu")},
        }
        return TemplateResponse(request, "admin/appointments/book.html", context)

    # --- 2. Re-examinations ----------------------------------------------------------------------------

    def reexams_view(self, request: HttpRequest) -> HttpResponse:
        self._require(request, REEXAM_ROLES)
        worklist = selectors.reexam_worklist(user=request.user)
        every = worklist.to_call + worklist.missed
        prefetch_related_objects(every, "reexam_plan", "service__facility")
        calls = selectors.reexam_calls(appointment_ids=[a.pk for a in every])
        desk_ids = access.visible_facility_ids(request.user, DESK_ROLES)

        def row(appointment: Appointment) -> dict[str, Any]:
            call = calls.get(appointment.pk)
            plan = appointment.reexam_plan
            return {
                "appointment": appointment,
                "patient": appointment.patient,
                "age": age_years(appointment.patient.date_of_birth),
                "phone": phone_link(appointment.patient.phone),
                "slot": slot_text(appointment.slot_start),
                "programme": (plan.programme if plan else "") or "",
                "call": {
                    "outcome": services.CALL_OUTCOMES.get(call.outcome, call.outcome),
                    "note": call.note,
                    "at": fmt_datetime(call.at),
                    "by": call.by,
                    "no_answer": call.outcome == "no_answer",
                }
                if call
                else None,
                "url": self.change_url(appointment.pk),
                "call_url": reverse("admin:appointments_reexam_call", args=[appointment.pk])
                if request.user.is_superuser or appointment.facility_id in desk_ids
                else "",
                "rebook_url": reverse("admin:appointments_reexam_new")
                + f"?lan_kham={appointment.pk}&patient={appointment.patient_id}&service={appointment.service_id}",
            }

        unbooked = selectors.reexam_plans_unbooked(plans=selectors.reexam_plans_visible(request.user))
        context = {
            **self._page_context(request, gettext("Tái khám: cần gọi và bỏ lỡ")),
            "to_call": [row(a) for a in worklist.to_call],
            "missed": [row(a) for a in worklist.missed],
            "unbooked": [
                {
                    "plan": plan,
                    "age": age_years(plan.patient.date_of_birth),
                    "phone": phone_link(plan.patient.phone),
                    "due": fmt_date(plan.next_date),
                    "rebook_url": reverse("admin:appointments_reexam_plan_rebook", args=[plan.pk]),
                }
                for plan in unbooked
            ],
            "new_url": reverse("admin:appointments_reexam_new"),
        }
        return TemplateResponse(request, "admin/appointments/reexams.html", context)

    def reexam_call_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        appointment = self._scoped(request, pk, DESK_ROLES)
        form = CallForm(request.POST)
        if not form.is_valid():
            for error in _errors(form):
                messages.error(request, error)
        else:
            try:
                services.reexam_call_record(
                    appointment=appointment,
                    actor=request.user,
                    outcome=form.cleaned_data["outcome"],
                    note=form.cleaned_data["note"],
                )
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    gettext("Đã ghi nhận cuộc gọi cho %(name)s: %(outcome)s.")
                    % {
                        "name": appointment.patient.full_name,
                        "outcome": services.CALL_OUTCOMES[form.cleaned_data["outcome"]],
                    },
                )
        return HttpResponseRedirect(_safe_next(request, reverse("admin:appointments_reexams")))

    def reexam_plan_rebook_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """'Tìm chỗ lại' on a recurring plan whose current re-exam has no place yet."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        plan = selectors.reexam_plans_visible(request.user).select_related("patient").filter(pk=pk).first()
        if plan is None:
            raise Http404
        try:
            appointment = services.reexam_plan_rebook(plan=plan, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if appointment is None:
                messages.info(request, gettext("Kế hoạch này đã có lịch hoặc đã kết thúc."))
            else:
                messages.success(
                    request,
                    gettext("Đã đặt lịch tái khám cho %(name)s: %(slot)s.")
                    % {"name": plan.patient.full_name, "slot": slot_text(appointment.slot_start)},
                )
        return HttpResponseRedirect(reverse("admin:appointments_reexams"))

    def reexam_new_view(self, request: HttpRequest) -> HttpResponse:
        """A clinician or the desk sets a re-exam (one date) or a recurring plan for a patient."""
        self._require(request, REEXAM_ROLES)
        visit = None
        raw_visit = request.GET.get("lan_kham") or request.POST.get("lan_kham")
        if raw_visit:
            try:
                visit = self._scoped(request, int(raw_visit), REEXAM_ROLES)
            except ValueError:
                raise Http404
        patient = visit.patient if visit is not None else self._picked_patient(request, REEXAM_ROLES)
        service_list = list(selectors.services_for(user=request.user, roles=REEXAM_ROLES))
        initial = {"service": request.GET.get("service") or (str(visit.service_id) if visit else "")}
        plan = visit.reexam_plan if visit is not None else None
        if plan is not None:
            initial["programme"] = plan.programme
        form = ReexamForm(
            request.POST if request.method == "POST" else None, services=service_list, initial=initial
        )
        if request.method == "POST" and patient is not None and form.is_valid():
            data = form.cleaned_data
            try:
                if data["mode"] == "plan":
                    new_plan = services.reexam_plan_create(
                        patient=patient,
                        service=form.chosen_service(),
                        first_date=data["day"],
                        interval_weeks=data["interval_weeks"],
                        actor=request.user,
                        programme=data["programme"],
                        clinician_name=getattr(request.user, "get_full_name", lambda: "")(),
                        end_date=data["end_date"],
                    )
                    appointment = new_plan.appointments.order_by("slot_start").first()
                else:
                    appointment = services.reexam_schedule(
                        patient=patient,
                        service=form.chosen_service(),
                        day=data["day"],
                        actor=request.user,
                        reexam_of=visit,
                        reason=data["reason"],
                    )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                when = slot_text(appointment.slot_start) if appointment else "—"
                messages.success(
                    request,
                    gettext(
                        "Đã hẹn tái khám cho %(name)s lúc %(when)s; người bệnh nhận SMS và được nhắc trước."
                    )
                    % {"name": patient.full_name, "when": when},
                )
                target = (
                    self.change_url(appointment.pk)
                    if appointment is not None
                    and self.get_queryset(request).filter(pk=appointment.pk).exists()
                    else reverse("admin:appointments_reexams")
                )
                return HttpResponseRedirect(target)
        context = {
            **self._page_context(request, gettext("Hẹn tái khám")),
            **self._picker_context(request, REEXAM_ROLES, patient),
            "form": form,
            "visit": visit,
            "fixed_patient": visit is not None,
        }
        return TemplateResponse(request, "admin/appointments/reexam_form.html", context)

    # --- 3. Reception: check-in, walk-ins, the queue -----------------------------------------------------

    def checkin_view(self, request: HttpRequest) -> HttpResponse:
        """One box: a scanned or typed check-in code (with or without dashes) checks the patient in at once;
        a name, phone or CCCD lists today's bookings to pick from."""
        self._require(request, RECEPTION_ROLES)
        base = reverse("admin:appointments_checkin")
        if request.method == "POST":
            term = request.POST.get("q", "").strip()
            code = services.normalize_code(term)
            # The portal shows the code in two groups ("K7M2 QX9P"); typed with a space, a dash or neither, it is
            # still a code. A name that happens to look like one falls through to the search below.
            looks_like_code = len(code) == services.CODE_LENGTH and set(code) <= set(services.CODE_ALPHABET)
            if looks_like_code and selectors.reception_find(user=request.user, code=code) is not None:
                try:
                    appointment = services.appointment_check_in(code=code, actor=request.user)
                except DomainError as exc:
                    messages.error(request, exc.message)
                    return HttpResponseRedirect(base)
                messages.success(
                    request,
                    gettext("Đã tiếp đón %(name)s — số thứ tự %(number)s.")
                    % {"name": appointment.patient.full_name, "number": appointment.queue_number},
                )
                return HttpResponseRedirect(f"{base}?ve={appointment.pk}")
            if looks_like_code and (any(ch.isdigit() for ch in code) or "-" in term):
                messages.error(
                    request,
                    gettext(
                        "Không tìm thấy lịch hẹn với mã %(code)s. Kiểm tra lại mã trên tin nhắn hoặc tìm theo "
                        "họ tên, số điện thoại."
                    )
                    % {"code": term},
                )
                return HttpResponseRedirect(base)
            return HttpResponseRedirect(f"{base}?{_with(request.GET.copy(), q=term)}")
        term = request.GET.get("q", "").strip()
        now = timezone.now()
        results = selectors.reception_search(user=request.user, term=term, now=now) if term else []
        ticket = None
        raw_ticket = request.GET.get("ve")
        if raw_ticket and raw_ticket.isdigit():
            ticket = (
                selectors.appointments_visible(request.user, RECEPTION_ROLES)
                .select_related("service__facility")
                .filter(pk=int(raw_ticket), queue_number__isnull=False)
                .first()
            )
        context = {
            **self._page_context(request, gettext("Tiếp đón người bệnh")),
            "term": term,
            "today": fmt_date(local_date_of(now)),
            "results": [
                {
                    "appointment": a,
                    "patient": a.patient,
                    "age": age_years(a.patient.date_of_birth),
                    "phone": display_phone(a.patient.phone),
                    "slot": f"{a.slot_start.astimezone(LOCAL_TZ):%H:%M}",
                    "status": status_badge(a),
                    "can_check_in": a.status in (Status.REQUESTED, Status.CONFIRMED),
                }
                for a in results
            ],
            "searched": bool(term),
            "ticket": ticket,
            "ticket_time": fmt_datetime(ticket.checked_in_at) if ticket else "",
            "walk_in_url": reverse("admin:appointments_walk_in"),
            "queue_url": reverse("admin:appointments_queue"),
        }
        return TemplateResponse(request, "admin/appointments/checkin.html", context)

    def walk_in_view(self, request: HttpRequest) -> HttpResponse:
        """A patient without a booking: pick or create the patient, choose the service, get a number."""
        self._require(request, RECEPTION_ROLES)
        patient = self._picked_patient(request, RECEPTION_ROLES)
        service_list = list(selectors.services_for(user=request.user, roles=RECEPTION_ROLES))
        data = request.POST if request.method == "POST" else None
        form = WalkInForm(data, services=service_list, initial={"service": request.GET.get("service", "")})
        patient_form = NewPatientForm(data if patient is None else None)
        if request.method == "POST" and form.is_valid():
            service = form.chosen_service()
            person = self._new_person(patient_form) if patient is None else None
            if patient is not None or person is not None:
                ticket_for: dict[str, Any] = {
                    "service": service,
                    "actor": request.user,
                    "reason": form.cleaned_data["reason"],
                }
                try:
                    if patient is not None:
                        ticket = services.walk_in_register(patient=patient, **ticket_for)
                    elif person is not None:  # the new record and the ticket: one transaction
                        ticket = services.walk_in_register_new_patient(
                            person=person, consent_channel=ConsentChannel.DESK, **ticket_for
                        )
                except DomainError as exc:
                    self._refused(exc, form, patient_form if person is not None else None)
                else:
                    messages.success(
                        request,
                        gettext("Đã tiếp đón %(name)s (vãng lai) — số thứ tự %(number)s.")
                        % {"name": ticket.patient.full_name, "number": ticket.queue_number},
                    )
                    return HttpResponseRedirect(reverse("admin:appointments_checkin") + f"?ve={ticket.pk}")
        context = {
            **self._page_context(request, gettext("Tiếp đón người bệnh vãng lai")),
            **self._picker_context(request, RECEPTION_ROLES, patient),
            "form": form,
            "patient_form": patient_form,
            "checkin_url": reverse("admin:appointments_checkin"),
        }
        return TemplateResponse(request, "admin/appointments/walk_in.html", context)

    def queue_view(self, request: HttpRequest) -> HttpResponse:
        self._require(request, QUEUE_ROLES)
        service_list = list(selectors.services_for(user=request.user, roles=QUEUE_ROLES))
        by_id = {str(s.pk): s for s in service_list}
        if request.GET.get("service") and request.GET["service"] not in by_id:
            raise Http404
        today = timezone.localdate()
        # By default the first service with someone waiting today, else the first one.
        busy = (
            Appointment.objects.filter(
                service_id__in=[s.pk for s in service_list], queue_date=today, status=Status.CHECKED_IN
            )
            .order_by("service__facility__path", "service__name")
            .values_list("service_id", flat=True)
            .first()
            if service_list and not request.GET.get("service")
            else None
        )
        service = by_id.get(request.GET.get("service") or str(busy)) or (
            service_list[0] if service_list else None
        )
        queue = selectors.queue_for(service=service, day=today) if service else None
        now = timezone.now()

        def ticket(a: Appointment) -> dict[str, Any]:
            return {
                "number": a.queue_number,
                "name": a.patient.full_name,
                "age": age_years(a.patient.date_of_birth),
                "walk_in": a.is_walk_in,
                "slot": "" if a.is_walk_in else f"{a.slot_start.astimezone(LOCAL_TZ):%H:%M}",
                "checked_in": f"{a.checked_in_at.astimezone(LOCAL_TZ):%H:%M}" if a.checked_in_at else "",
                "waiting": duration_label(now - a.checked_in_at) if a.checked_in_at else "",
                "called": f"{a.called_at.astimezone(LOCAL_TZ):%H:%M}" if a.called_at else "",
                "url": self.change_url(a.pk),
            }

        display_facility = (service.facility.parent or service.facility) if service else None
        context = {
            **self._page_context(request, gettext("Hàng đợi hôm nay")),
            "services": service_list,
            "service": service,
            "today": fmt_date(today),
            "waiting": [ticket(a) for a in queue.waiting] if queue else [],
            "called": [ticket(a) for a in queue.called] if queue else [],
            "now_calling": ticket(queue.called[0]) if queue and queue.called else None,
            "may_call": bool(service)
            and access.can_act_at(request.user, service.facility if service else None, QUEUE_ROLES),
            "call_url": reverse("admin:appointments_call_next", args=[service.pk]) if service else "",
            "display_url": reverse("appointments:queue_display", args=[display_facility.code])
            if display_facility and display_facility.code
            else "",
            "checkin_url": reverse("admin:appointments_checkin"),
        }
        return TemplateResponse(request, "admin/appointments/queue.html", context)

    def call_next_view(self, request: HttpRequest, service_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        service = selectors.services_for(user=request.user, roles=QUEUE_ROLES).filter(pk=service_id).first()
        if service is None:
            raise Http404
        try:
            ticket = services.queue_call_next(service=service, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if ticket is None:
                messages.warning(request, gettext("Không còn ai đang chờ."))
            else:
                messages.success(
                    request,
                    gettext("Mời số %(number)s — %(name)s.")
                    % {"number": ticket.queue_number, "name": ticket.patient.full_name},
                )
        return HttpResponseRedirect(reverse("admin:appointments_queue") + f"?service={service.pk}")


def _with(query: Any, **values: str) -> str:
    """The query string with these values set."""
    copy = query.copy()
    for key, value in values.items():
        copy[key] = value
    return str(copy.urlencode())


# --- Re-exam plans (read-only list for the desk and clinicians) -------------------------------------


@admin.register(ReexamPlan, site=desk_site)
class ReexamPlanAdmin(ScopedModelAdmin):
    view_roles = REEXAM_ROLES | {Role.MANAGER}
    read_only = True
    list_display = ("patient_col", "programme", "service", "interval_weeks", "next_col", "is_active")
    list_select_related = ("patient", "service")
    list_filter = ("is_active", ("service", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    search_fields = ("patient__full_name", "programme")
    ordering = ("next_date", "id")
    actions = None
    fields = (
        "patient_col",
        "programme",
        "service",
        "clinician_name",
        "interval_weeks",
        "next_col",
        "end_date",
        "is_active",
    )
    readonly_fields = fields

    def scope(self, user: Any) -> QuerySet[Any]:
        return selectors.reexam_plans_with_booking(
            access.scope_by_facility(
                ReexamPlan.objects.select_related("patient", "service", "facility"),
                user,
                roles=REEXAM_ROLES | {Role.MANAGER},
            )
        )

    @display(description=_("người bệnh"), ordering="patient__full_name")
    def patient_col(self, obj: ReexamPlan) -> str:
        return obj.patient.full_name

    @display(description=_("lịch đã đặt"), ordering="booked_at")
    def next_col(self, obj: ReexamPlan) -> str:
        """The booked time of the plan's next re-exam (what the patient was texted), with the plan's own
        date when the booking fell on another day; the plan's date alone while nothing is booked."""
        booked = getattr(obj, "booked_at", None)
        if booked is None:
            return gettext("Chưa có lịch (dự kiến %(day)s)") % {"day": fmt_date(obj.next_date)}
        if local_date_of(booked) == obj.next_date:
            return slot_text(booked)
        return gettext("%(when)s (dự kiến %(day)s)") % {
            "when": slot_text(booked),
            "day": fmt_date(obj.next_date),
        }


# --- Managers' configuration: services, schedules, overrides, holidays, reminder policy ---------------


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

    view_roles = CONFIG_ROLES
    add_roles = CONFIG_ROLES
    change_roles = CONFIG_ROLES
    actions = None
    warns_holiday_data = False  # the schedule pages say when the holiday data lacks a year

    def scope(self, user: Any) -> QuerySet[Any]:
        field = self.facility_field.replace(".", "__") if self.facility_field else "facility"
        return access.scope_by_facility(
            self.model._default_manager.all(), user, field=field, roles=CONFIG_ROLES
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method == "GET" and self.warns_holiday_data:
            warn_holiday_data(request)
        return super().changelist_view(request, extra_context)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "facility":
            kwargs["queryset"] = access.facilities_for(request.user, CONFIG_ROLES).order_by("path")
        if db_field.name == "service":
            kwargs["queryset"] = access.scope_by_facility(
                Service.objects.select_related("facility"), request.user, roles=CONFIG_ROLES
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        facility = self.facility_of(obj) if self.facility_field else None
        if facility is not None and not access.can_act_at(request.user, facility, CONFIG_ROLES):
            raise PermissionDenied
        super().save_model(request, obj, form, change)
        _configured(request.user, obj, facility, not change, form.changed_data)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # the audit row is the record

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None

    def log_deletion(self, request: HttpRequest, obj: Any, object_repr: Any) -> Any:
        return None


class _ServiceChildInline(TabularInline):
    extra = 0
    tab = True

    def _may(self, request: HttpRequest, obj: Any) -> bool:
        if obj is None:
            return has_any_role(request.user, CONFIG_ROLES)
        return access.can_act_at(request.user, obj.facility, CONFIG_ROLES)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_any_role(request.user, CONFIG_ROLES)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)


class ScheduleTemplateInline(_ServiceChildInline):
    model = ScheduleTemplate
    fields = ("weekday", "start_time", "end_time", "practitioner", "is_active")
    verbose_name = _("buổi làm việc")
    verbose_name_plural = _("lịch làm việc hằng tuần")


class ScheduleOverrideInline(_ServiceChildInline):
    model = ScheduleOverride
    form = ScheduleOverrideForm
    fields = ("date", "is_closed", "start_time", "end_time", "reason")

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
        (_("Gọi số"), {"fields": (("booked_priority", "interleave_ratio"), "turn_notice_ahead")}),
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


@admin.register(ScheduleOverride, site=desk_site)
class ScheduleOverrideAdmin(AppointmentConfigAdmin):
    facility_field = "service.facility"
    form = ScheduleOverrideForm
    warns_holiday_data = True
    list_display = ("date_col", "service", "is_closed", "start_time", "end_time", "reason")
    list_select_related = ("service",)
    list_filter = ("is_closed", ("service", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    ordering = ("-date", "start_time")
    fields = ("service", "date", "is_closed", "start_time", "end_time", "reason")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, CONFIG_ROLES, obj)

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
    list_display = ("facility", "days_col", "time_col")
    list_select_related = ("facility",)
    fields = ("facility", "reminder_days_text", "reminder_time")

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
