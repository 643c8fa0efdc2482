"""The desk's calendar: one service's or one doctor's bookings over a day or a week (Monday to Sunday), by
time, with their status, for the booking desk, reception and the clinic. A doctor's day is the doctor's
calendar for one day. Read-only; scoped through facilities.access (appointments_visible, services and
doctors of the user's facilities); a fixed number of queries whatever the number of bookings; each view of
a page of bookings is an audit row, like the desk's other lists."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from health_f0.appointments import selectors
from health_f0.appointments.desk.common import WEEKDAYS, AppointmentPages, status_badge, with_query
from health_f0.appointments.forms import SlotDayForm
from health_f0.appointments.models import Appointment, Doctor, Service
from health_f0.appointments.slots import LOCAL_TZ
from health_f0.core.audit import audit_list_view
from health_f0.desk.actions import form_error_messages
from health_f0.facilities import access

VIEWS = ("ngay", "tuan")  # ?xem=: a day, or the week (Monday to Sunday) of the day


def _day(request: HttpRequest) -> date:
    """?ngay=dd/mm/yyyy (as typed in the date field), else today; a day that cannot be read is said so."""
    raw = request.GET.get("ngay", "").strip()
    if raw:
        parsed = SlotDayForm({"tu": raw})
        if parsed.is_valid() and parsed.cleaned_data["tu"] is not None:
            picked: date = parsed.cleaned_data["tu"]
            return picked
        form_error_messages(request, parsed)
    return timezone.localdate()


def _picked(request: HttpRequest, key: str, options: list[Any]) -> Any:
    raw = request.GET.get(key, "").strip()
    return next((o for o in options if str(o.pk) == raw), None)


class CalendarPages(AppointmentPages):
    def calendar_view(self, request: HttpRequest) -> HttpResponse:
        """'Lịch khám': ?dich_vu=<service>&bac_si=<doctor>&ngay=dd/mm/yyyy&xem=ngay|tuan."""
        self._require(request, access.APPOINTMENT_READER_ROLES)
        roles = access.APPOINTMENT_READER_ROLES
        services: list[Service] = list(
            selectors.services_in_scope(user=request.user, roles=roles).order_by("name")
        )
        doctors: list[Doctor] = list(selectors.doctors_in_scope(user=request.user, roles=roles))
        service = _picked(request, "dich_vu", services)
        doctor = _picked(request, "bac_si", doctors)
        view = request.GET.get("xem") if request.GET.get("xem") in VIEWS else "ngay"
        day = _day(request)
        first = day - timedelta(days=day.weekday()) if view == "tuan" else day
        last = first + timedelta(days=6) if view == "tuan" else day
        chosen = service is not None or doctor is not None
        bookings = (
            selectors.calendar_bookings(
                user=request.user, start=first, end=last, service=service, doctor=doctor
            )
            if chosen
            else []
        )
        if chosen:
            audit_list_view(
                actor=request.user,
                model=Appointment,
                data={
                    "search": "",
                    "filters": {
                        "calendar": view,
                        "from": first.isoformat(),
                        "to": last.isoformat(),
                        "service": service.pk if service else None,
                        "doctor": doctor.pk if doctor else None,
                    },
                    "page": 1,
                    "count": len(bookings),
                    "shown": len(bookings),
                },
            )
        columns = self._columns(first, last, bookings)
        query = request.GET.copy()
        step = timedelta(days=7 if view == "tuan" else 1)
        title = gettext("Lịch khám")
        if doctor is not None:
            title = gettext("Lịch khám của %(doctor)s") % {"doctor": doctor.display_name}
        elif service is not None:
            title = gettext("Lịch khám: %(service)s") % {"service": service.name}
        context = {
            **self.page_context(request, title),
            "services": services,
            "doctors": doctors,
            "service": service,
            "doctor": doctor,
            "view": view,
            "day_text": f"{day:%d/%m/%Y}",
            "range_text": (
                f"{WEEKDAYS[first.weekday()]} {first:%d/%m/%Y}"
                if first == last
                else f"{first:%d/%m/%Y} – {last:%d/%m/%Y}"
            ),
            "chosen": chosen,
            "columns": columns,
            "total": len(bookings),
            "prev_url": "?" + with_query(query, ngay=f"{day - step:%d/%m/%Y}"),
            "next_url": "?" + with_query(query, ngay=f"{day + step:%d/%m/%Y}"),
            "today_url": "?" + with_query(query, ngay=f"{timezone.localdate():%d/%m/%Y}"),
            "day_url": "?" + with_query(query, xem="ngay"),
            "week_url": "?" + with_query(query, xem="tuan"),
        }
        return TemplateResponse(request, "admin/appointments/calendar.html", context)

    def _columns(self, first: date, last: date, bookings: list[Appointment]) -> list[dict[str, Any]]:
        """One column per day, each with its bookings grouped by slot time."""
        today = timezone.localdate()
        days: dict[date, dict[str, list[dict[str, Any]]]] = {}
        day = first
        while day <= last:
            days[day] = {}
            day += timedelta(days=1)
        for appointment in bookings:
            local = appointment.slot_start.astimezone(LOCAL_TZ)
            days.setdefault(local.date(), {}).setdefault(f"{local:%H:%M}", []).append(
                {
                    "appointment": appointment,
                    "url": reverse("admin:appointments_appointment_change", args=[appointment.pk]),
                    "badge": status_badge(appointment),
                }
            )
        return [
            {
                "label": f"{WEEKDAYS[d.weekday()]} {d:%d/%m}",
                "is_today": d == today,
                "times": [{"time": t, "rows": rows} for t, rows in sorted(slots.items())],
                "count": sum(len(rows) for rows in slots.values()),
            }
            for d, slots in sorted(days.items())
        ]
