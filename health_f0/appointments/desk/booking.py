"""Booking by phone: pick or create the patient, pick a service and a free slot."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from health_f0.appointments import selectors, services
from health_f0.appointments.desk.common import (
    PICKER_DAYS,
    AppointmentPages,
    slot_day_context,
    slot_days,
    slot_text,
    start_day,
)
from health_f0.appointments.forms import SlotForm
from health_f0.appointments.models import Channel, Doctor
from health_f0.facilities import access
from health_f0.privacy.models import ConsentChannel


def _picked_doctor(request: HttpRequest, doctors: list[Doctor]) -> Doctor | None:
    """The doctor chosen with the service (?bac_si=<id>, kept in the booking's POST); None: any doctor (also
    for an id that is not one of the service's doctors: the picker then shows every slot)."""
    raw = request.POST.get("bac_si") or request.GET.get("bac_si") or ""
    return next((d for d in doctors if str(d.pk) == raw.strip()), None)


class BookingPages(AppointmentPages):
    def book_view(self, request: HttpRequest) -> HttpResponse:
        """'Đặt lịch qua điện thoại': pick or create the patient, pick a service and a free slot."""
        patient, form, patient_form = self._patient_forms(request, access.BOOKING_DESK_ROLES, SlotForm)
        chosen = form.services.get(str(form["service"].value() or ""))
        doctors = selectors.service_doctors(service=chosen) if chosen else []
        doctor = _picked_doctor(request, doctors)
        if request.method == "POST" and form.is_valid():
            service = form.chosen_service()
            booking: dict[str, Any] = {
                "service": service,
                "slot_start": form.cleaned_data["slot"],
                "channel": Channel.PHONE,
                "actor": request.user,
                "reason": form.cleaned_data["reason"],
                "doctor": doctor,
                "limits_override": form.cleaned_data["limits_override"],
            }
            appointment = self._for_patient(
                form,
                patient,
                patient_form,
                known=lambda known: services.appointment_book(patient=known, **booking),
                new=lambda person: services.appointment_book_new_patient(
                    person=person, consent_channel=ConsentChannel.PHONE_BOOKING, **booking
                ),
            )
            if appointment is not None:
                messages.success(
                    request,
                    gettext(
                        "Đã đặt lịch %(service)s lúc %(when)s cho %(name)s; người bệnh nhận SMS có mã "
                        "tiếp đón %(code)s."
                    )
                    % {
                        "service": service.name
                        + (f" ({appointment.doctor.display_name})" if appointment.doctor else ""),
                        "when": slot_text(appointment.slot_start),
                        "name": appointment.patient.full_name,
                        "code": appointment.check_in_code,
                    },
                )
                return HttpResponseRedirect(self.change_url(appointment.pk))
        first, day_form = start_day(request)
        context = {
            **self.page_context(request, gettext("Đặt lịch qua điện thoại")),
            **self._picker_context(request, access.BOOKING_DESK_ROLES, patient),
            **slot_day_context(request, first, day_form),
            "form": form,
            "patient_form": patient_form,
            "service": chosen,
            "days": slot_days(chosen, first, PICKER_DAYS, doctor=doctor) if chosen else [],
            "doctors": doctors,
            "doctor": doctor,
            "chosen_slot": request.POST.get("slot", ""),
            "service_query": {k: v for k, v in request.GET.items() if k not in ("service", "tu", "bac_si")},
        }
        return TemplateResponse(request, "admin/appointments/book.html", context)
