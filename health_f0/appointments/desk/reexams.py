"""Re-examinations: the worklist of re-exams to call and missed ones, recording a call, finding a place again
for a recurring plan, setting a re-exam or a plan, and the read-only list of plans."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from health_f0.appointments import selectors, services
from health_f0.appointments.desk.common import AppointmentPages, phone_link, slot_text
from health_f0.appointments.forms import CallForm, ReexamForm
from health_f0.appointments.models import Appointment, ReexamPlan
from health_f0.appointments.slots import local_date_of
from health_f0.core.exceptions import DomainError
from health_f0.desk.actions import form_error_messages, post_only, run, safe_next
from health_f0.desk.formatting import age_years, fmt_date, fmt_datetime
from health_f0.desk.site import ScopedModelAdmin, desk_site
from health_f0.facilities import access


class ReexamPages(AppointmentPages):
    def reexams_view(self, request: HttpRequest) -> HttpResponse:
        self._require(request, access.REEXAM_ROLES)
        worklist = selectors.reexam_worklist(user=request.user)
        every = worklist.to_call + worklist.missed
        prefetch_related_objects(every, "reexam_plan", "service__facility")
        calls = selectors.reexam_calls(appointment_ids=[a.pk for a in every])
        desk_ids = access.visible_facility_ids(request.user, access.BOOKING_DESK_ROLES)

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
            **self.page_context(request, gettext("Tái khám: cần gọi và bỏ lỡ")),
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
        if refused := post_only(request):
            return refused
        appointment = self._scoped(request, pk, access.BOOKING_DESK_ROLES)
        form = CallForm(request.POST)
        if not form.is_valid():
            form_error_messages(request, form)
        else:
            run(
                request,
                lambda: services.reexam_call_record(
                    appointment=appointment,
                    actor=request.user,
                    outcome=form.cleaned_data["outcome"],
                    note=form.cleaned_data["note"],
                ),
                success=lambda _done: (
                    gettext("Đã ghi nhận cuộc gọi cho %(name)s: %(outcome)s.")
                    % {
                        "name": appointment.patient.full_name,
                        "outcome": services.CALL_OUTCOMES[form.cleaned_data["outcome"]],
                    }
                ),
            )
        return HttpResponseRedirect(safe_next(request, reverse("admin:appointments_reexams")))

    def reexam_plan_rebook_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """'Tìm chỗ lại' on a recurring plan whose current re-exam has no place yet."""
        if refused := post_only(request):
            return refused
        plan = selectors.reexam_plans_visible(request.user).select_related("patient").filter(pk=pk).first()
        if plan is None:
            raise Http404
        done, appointment = run(request, lambda: services.reexam_plan_rebook(plan=plan, actor=request.user))
        if done and appointment is None:
            messages.info(request, gettext("Kế hoạch này đã có lịch hoặc đã kết thúc."))
        elif done:
            messages.success(
                request,
                gettext("Đã đặt lịch tái khám cho %(name)s: %(slot)s.")
                % {"name": plan.patient.full_name, "slot": slot_text(appointment.slot_start)},
            )
        return HttpResponseRedirect(reverse("admin:appointments_reexams"))

    def reexam_new_view(self, request: HttpRequest) -> HttpResponse:
        """A clinician or the desk sets a re-exam (one date) or a recurring plan for a patient."""
        self._require(request, access.REEXAM_ROLES)
        visit = None
        raw_visit = request.GET.get("lan_kham") or request.POST.get("lan_kham")
        if raw_visit:
            try:
                visit = self._scoped(request, int(raw_visit), access.REEXAM_ROLES)
            except ValueError:
                raise Http404
        patient = visit.patient if visit is not None else self._picked_patient(request, access.REEXAM_ROLES)
        service_list = list(selectors.services_for(user=request.user, roles=access.REEXAM_ROLES))
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
            **self.page_context(request, gettext("Hẹn tái khám")),
            **self._picker_context(request, access.REEXAM_ROLES, patient),
            "form": form,
            "visit": visit,
            "fixed_patient": visit is not None,
        }
        return TemplateResponse(request, "admin/appointments/reexam_form.html", context)


# --- Re-exam plans (read-only list for the desk and clinicians) -------------------------------------


@admin.register(ReexamPlan, site=desk_site)
class ReexamPlanAdmin(ScopedModelAdmin):
    view_roles = access.REEXAM_PLAN_READER_ROLES
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
        return selectors.reexam_plans_for_desk(user)

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
