"""The appointment list and detail of the desk, with the detail's buttons (each shown when the workflow
opens its step to the user: `transitions.may`), and the URLs of the desk's appointment pages (worklist,
booking, re-exams, reception), whose views live in their own modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm

from health_f0.appointments import selectors, services
from health_f0.appointments.desk.booking import BookingPages
from health_f0.appointments.desk.calendar import CalendarPages
from health_f0.appointments.desk.common import (
    CANCEL_DIALOG,
    COMPLETE_DIALOG,
    CONFIRM_DIALOG,
    DECLINE_DIALOG,
    history_text,
    phone_link,
    slot_text,
    status_badge,
)
from health_f0.appointments.desk.reception import ReceptionPages
from health_f0.appointments.desk.reexams import ReexamPages
from health_f0.appointments.desk.worklist import WorklistPages
from health_f0.appointments.forms import CancelForm, DeclineForm
from health_f0.appointments.models import Appointment
from health_f0.appointments.transitions import APPOINTMENT_WORKFLOW, may
from health_f0.desk.actions import dialog_action, post_only, run
from health_f0.desk.formatting import fmt_born, fmt_datetime, fmt_when_who, name_html
from health_f0.desk.site import desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.notifications.selectors import deliveries_for_subject
from health_f0.payments import selectors as payment_selectors


@admin.register(Appointment, site=desk_site)
class AppointmentAdmin(WorklistPages, BookingPages, ReexamPages, ReceptionPages, CalendarPages):
    view_roles = access.APPOINTMENT_READER_ROLES
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
    list_select_related = ("patient", "service", "facility", "doctor")
    list_filter = (
        "status",
        "channel",
        "is_reexam",
        "is_walk_in",
        ("service", admin.RelatedOnlyFieldListFilter),
        ("doctor", admin.RelatedOnlyFieldListFilter),
    )
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ("patient__full_name", "patient__cccd", "check_in_code")
    phone_search_field = "patient__phone"
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
                    "payment_col",
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
        return selectors.appointments_visible(user, access.APPOINTMENT_READER_ROLES).select_related(
            "facility", "doctor"
        )

    def _may_transition(self, request: HttpRequest, action_name: str, object_id: Any) -> bool:
        """A detail button shows when the workflow opens its step to this user on this booking."""
        if object_id is None:
            return has_any_role(
                request.user, APPOINTMENT_WORKFLOW.roles_for(action_name) & access.ALL_STAFF_ROLES
            )
        appointment = self.scoped_object(request, object_id)
        return appointment is not None and may(appointment, action_name, request.user)

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
            return has_any_role(request.user, access.REEXAM_ROLES)
        appointment = self.scoped_object(request, object_id)
        return bool(
            appointment is not None
            and access.can_act_at(request.user, appointment.facility, access.REEXAM_ROLES)
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        # A phone (`phone_search_field`, nine digits or more) is never a check-in code (eight characters).
        term = search_term.strip()
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
        if obj.doctor is not None:
            return f"{obj.service.name} · {obj.doctor.display_name}"
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

    @display(description=_("phí khám"))
    def payment_col(self, obj: Appointment) -> str:
        """Whether the booking's fee (a service with a price paid online) came in; "—" without one."""
        paid = payment_selectors.paid_flags([obj]).get(obj.pk)
        if paid is None:
            return "—"
        return gettext("Đã thanh toán") if paid else gettext("Chưa thanh toán")

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
            # Every message about the booking with its channel (SMS or Zalo ZNS) and SMS fallback.
            extra["deliveries"] = deliveries_for_subject(subject_ref=f"appointment:{appointment.pk}")
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
        if refused := post_only(request):
            return refused
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
        return self._reason_step(
            request,
            form,
            object_id,
            services.appointment_decline,
            dialog=DECLINE_DIALOG,
            success=gettext("Đã từ chối lịch của %(name)s."),
        )

    @action(
        description=_("Huỷ lịch"),
        url_path="huy-lich",
        permissions=["cancel"],
        icon="event_busy",
        variant=ActionVariant.DANGER,
        dialog=CANCEL_DIALOG,
    )
    def cancel_action(self, request: HttpRequest, form: CancelForm, object_id: Any) -> HttpResponse:
        return self._reason_step(
            request,
            form,
            object_id,
            services.appointment_cancel,
            dialog=CANCEL_DIALOG,
            success=gettext("Đã huỷ lịch của %(name)s."),
        )

    def _reason_step(
        self,
        request: HttpRequest,
        form: DeclineForm | CancelForm,
        object_id: Any,
        step: Callable[..., Appointment],
        *,
        dialog: ActionDialog,
        success: str,
    ) -> HttpResponse:
        """A dialog step with a reason (`step(appointment=, actor=, reason=)`): a refusal naming the reason
        shows the dialog again with the error, any other goes to the messages; `success` names the patient."""
        appointment = self.scoped_object_or_404(request, object_id)
        return dialog_action(
            request,
            lambda: step(appointment=appointment, actor=request.user, reason=form.cleaned_data["reason"]),
            form=form,
            dialog=dialog,
            fallback=self.change_url(object_id),
            success=success % {"name": appointment.patient.full_name},
        )

    @action(
        description=_("Khám xong"),
        url_path="kham-xong",
        permissions=["complete"],
        icon="task_alt",
        variant=ActionVariant.SUCCESS,
        dialog=COMPLETE_DIALOG,
    )
    def complete_action(self, request: HttpRequest, form: BaseDialogForm, object_id: Any) -> HttpResponse:
        if refused := post_only(request):
            return refused
        appointment = self.scoped_object_or_404(request, object_id)
        run(
            request,
            lambda: services.appointment_complete(appointment=appointment, actor=request.user),
            success=gettext("Đã ghi nhận khám xong."),
        )
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
            path("lich/", wrap(self.calendar_view), name="appointments_calendar"),
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
            path(
                "hang-doi/so/<int:pk>/uu-tien/", wrap(self.priority_view), name="appointments_queue_priority"
            ),
            path("hang-doi/so/<int:pk>/goi-lai/", wrap(self.recall_view), name="appointments_queue_recall"),
            path("hang-doi/so/<int:pk>/bo-qua/", wrap(self.skip_view), name="appointments_queue_skip"),
        ]
        return own + super().get_urls()
