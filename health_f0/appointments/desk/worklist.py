"""The booking desk's worklist: the online requests waiting for confirmation, confirm, decline, move."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from health_f0.appointments import selectors, services
from health_f0.appointments.desk.common import (
    LAPSE_SOON,
    PAGE_SIZE,
    PICKER_DAYS,
    AppointmentPages,
    history_text,
    phone_link,
    slot_day_context,
    slot_days,
    slot_text,
    start_day,
)
from health_f0.appointments.forms import MoveForm
from health_f0.appointments.models import Appointment
from health_f0.appointments.transitions import may
from health_f0.desk.actions import desk_action, form_error_messages, post_only, run, safe_next
from health_f0.desk.formatting import age_years, duration_label
from health_f0.facilities import access
from health_f0.payments import selectors as payment_selectors

BUTTON = "unfold/components/button.html"
_HREF = "__href__"  # stands for a row's link in a button rendered once a page


def component_html(template: str, **context: Any) -> SafeString:
    """An unfold button or label rendered once a page: in a worklist's template, each `{% component %}` copies the
    whole page context and renders through the context processors, for every row (issue 11)."""
    return SafeString(render_to_string(template, context).strip())


def link_button(html: SafeString, href: str) -> SafeString:
    """A button rendered once with `href=_HREF`, for one row's link."""
    return SafeString(html.replace(_HREF, conditional_escape(href)))


class WorklistPages(AppointmentPages):
    # --- 1. The booking desk's worklist ------------------------------------------------------------

    def worklist_view(self, request: HttpRequest) -> HttpResponse:
        self._require(request, access.BOOKING_DESK_ROLES)
        now = timezone.now()
        # Paged by ids read in the order's index (selectors.desk_worklist_pages), not by the ORM's LIMIT.
        listing = selectors.desk_worklist_pages(user=request.user)
        page = Paginator(listing, PAGE_SIZE).get_page(request.GET.get("p"))
        buttons = {
            "confirm": component_html(BUTTON, submit=1, children=gettext("Xác nhận")),
            "decline": component_html(BUTTON, submit=1, variant="danger", children=gettext("Từ chối lịch")),
        }
        move_button = component_html(BUTTON, href=_HREF, variant="default", children=gettext("Đổi giờ"))
        back = urlencode({"next": request.get_full_path()})
        rows = []
        paid = payment_selectors.paid_flags(list(page.object_list))
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
                    # None: the service has no fee paid online; else whether the fee came in.
                    "paid": paid.get(appointment.pk),
                    "url": self.change_url(appointment.pk),
                    "confirm_url": reverse("admin:appointments_confirm", args=[appointment.pk]),
                    "decline_url": reverse("admin:appointments_decline", args=[appointment.pk]),
                    "move_button": link_button(
                        move_button, reverse("admin:appointments_move", args=[appointment.pk]) + "?" + back
                    ),
                }
            )
        query = request.GET.copy()
        query.pop("p", None)
        context = {
            **self.page_context(request, gettext("Tư vấn đặt lịch: lịch chờ xác nhận")),
            "page": page,
            "rows": rows,
            "buttons": buttons,
            "query": query.urlencode(),
            "book_url": reverse("admin:appointments_book"),
            "reexams_url": reverse("admin:appointments_reexams"),
        }
        return TemplateResponse(request, "admin/appointments/worklist.html", context)

    def _confirm(self, request: HttpRequest, appointment: Appointment) -> bool:
        done, _result = run(
            request,
            lambda: services.appointment_confirm(appointment=appointment, actor=request.user),
            success=gettext("Đã xác nhận lịch của %(name)s lúc %(when)s; người bệnh nhận SMS có mã tiếp đón.")
            % {"name": appointment.patient.full_name, "when": slot_text(appointment.slot_start)},
        )
        return done

    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if refused := post_only(request):
            return refused
        appointment = self._scoped(request, pk, access.BOOKING_DESK_ROLES)
        self._confirm(request, appointment)
        return HttpResponseRedirect(safe_next(request, reverse("admin:appointments_worklist")))

    def decline_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if refused := post_only(request):
            return refused
        appointment = self._scoped(request, pk, access.BOOKING_DESK_ROLES)
        name = appointment.patient.full_name
        return desk_action(
            request,
            lambda: services.appointment_decline(
                appointment=appointment, actor=request.user, reason=request.POST.get("reason", "")
            ),
            fallback=reverse("admin:appointments_worklist"),
            success=gettext("Đã từ chối lịch của %(name)s; người bệnh nhận SMS có lý do.") % {"name": name},
            refused=gettext("Chưa từ chối lịch của %(name)s") % {"name": name},
        )

    def move_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        appointment = self._scoped(request, pk, access.BOOKING_DESK_ROLES)
        if not may(appointment, "reschedule", request.user):
            messages.error(request, gettext("Lịch hẹn này không đổi được nữa."))
            return HttpResponseRedirect(self.change_url(pk))
        back = safe_next(request, reverse("admin:appointments_worklist"))
        if request.method == "POST":
            form = MoveForm(request.POST)
            if not form.is_valid():
                form_error_messages(request, form)
            else:
                # Moved and confirmed in one step: the patient gets one SMS, not two.
                done, _moved = run(
                    request,
                    lambda: services.appointment_reschedule(
                        appointment=appointment,
                        actor=request.user,
                        slot_start=form.cleaned_data["slot"],
                        confirm=bool(request.POST.get("confirm")),
                    ),
                    success=lambda moved: (
                        gettext("Đã đổi lịch của %(name)s sang %(when)s; người bệnh nhận SMS.")
                        % {"name": appointment.patient.full_name, "when": slot_text(moved.slot_start)}
                    ),
                )
                if done:
                    return HttpResponseRedirect(back)
        first, day_form = start_day(request)
        context = {
            **self.page_context(request, gettext("Đổi lịch hẹn")),
            **slot_day_context(request, first, day_form),
            "appointment": appointment,
            "patient": appointment.patient,
            "phone": phone_link(appointment.patient.phone),
            "current": slot_text(appointment.slot_start),
            # A move keeps the booking's doctor: that doctor's slots and places only.
            "days": slot_days(
                appointment.service,
                first,
                PICKER_DAYS,
                current=appointment.slot_start,
                doctor=appointment.doctor,
            ),
            "chosen_slot": request.POST.get("slot", ""),
            "back": back,
            "offer_confirm": may(appointment, "confirm", request.user),
        }
        return TemplateResponse(request, "admin/appointments/move.html", context)
