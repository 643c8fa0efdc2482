"""A booking in the patient's own calendar: an iCalendar (RFC 5545) file with one event, and the "add to
Google Calendar" link. Written by hand (one VEVENT needs no library): CRLF line ends, text values escaped
(backslash, semicolon, comma, newline), lines folded at 75 octets without splitting a UTF-8 character,
times in UTC.

What the event carries: the service, the doctor, the place (room, centre, address), the hotline and the
booking's page on the portal (which asks for the account or an OTP). Not the patient's name, date of birth
or check-in code: a calendar is often synced to a third party (Google, Apple, the phone maker), and the
Google link puts its text in a URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from health_f0.appointments.models import Appointment, Status
from health_f0.appointments.selectors import booking_place, is_online

PRODID = "-//So Y te//health_f0 lich hen//VI"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """A content line folded into pieces of at most 75 octets (continuations start with one space)."""
    pieces: list[str] = []
    current, size = "", 0
    limit = 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append(current)
            current, size, limit = "", 0, 74  # a continuation's leading space is one of its 75 octets
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


def booking_url(appointment: Appointment) -> str:
    return settings.PORTAL_URL + reverse("www:appointment", kwargs={"public_id": appointment.public_id})


def event_title(appointment: Appointment) -> str:
    title = f"Lịch khám: {appointment.service.name}"
    if appointment.doctor is not None:
        title += f" – {appointment.doctor.display_name}"
    return title


def event_location(appointment: Appointment) -> str:
    if is_online(appointment.service):
        return "Tư vấn trực tuyến"
    place = booking_place(facility=appointment.facility)
    return ", ".join(part for part in (place.room, place.centre, place.address) if part)


def event_details(appointment: Appointment) -> str:
    place = booking_place(facility=appointment.facility)
    lines = [appointment.service.name]
    if appointment.doctor is not None:
        lines.append(f"Bác sĩ: {appointment.doctor.display_name}")
    if place.hotline:
        lines.append(f"Đường dây nóng: {place.hotline}")
    lines.append(f"Xem, đổi hoặc huỷ lịch: {booking_url(appointment)}")
    return "\n".join(lines)


def appointment_ics(appointment: Appointment, *, now: datetime | None = None) -> str:
    """The booking as a VCALENDAR with one VEVENT (a cancelled booking: STATUS:CANCELLED, so a calendar
    that imported it earlier can drop it; the UID stays the booking's)."""
    now = now or timezone.now()
    statuses: dict[str, str] = {
        Status.REQUESTED: "TENTATIVE",
        Status.CANCELLED: "CANCELLED",
        Status.NO_SHOW: "CANCELLED",
    }
    status = statuses.get(appointment.status, "CONFIRMED")
    host = settings.PORTAL_URL.split("://", 1)[-1].split("/", 1)[0] or "health-f0"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{appointment.public_id}@{host}",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(appointment.slot_start)}",
        f"DTEND:{_stamp(appointment.slot_end)}",
        f"SEQUENCE:{appointment.rescheduled_count}",
        f"SUMMARY:{_escape(event_title(appointment))}",
        f"LOCATION:{_escape(event_location(appointment))}",
        f"DESCRIPTION:{_escape(event_details(appointment))}",
        f"URL:{booking_url(appointment)}",
        f"STATUS:{status}",
    ]
    if status != "CANCELLED":
        lines += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "TRIGGER:-PT2H",
            f"DESCRIPTION:{_escape(event_title(appointment))}",
            "END:VALARM",
        ]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(_fold(line) + "\r\n" for line in lines)


def ics_filename(appointment: Appointment) -> str:
    return f"lich-hen-{timezone.localtime(appointment.slot_start):%Y%m%d-%H%M}.ics"


def google_calendar_url(appointment: Appointment) -> str:
    """Google Calendar's "create event" link with the same title, times, place and details."""
    query = urlencode(
        {
            "action": "TEMPLATE",
            "text": event_title(appointment),
            "dates": f"{_stamp(appointment.slot_start)}/{_stamp(appointment.slot_end)}",
            "details": event_details(appointment),
            "location": event_location(appointment),
            "ctz": "Asia/Ho_Chi_Minh",
        }
    )
    return f"https://calendar.google.com/calendar/render?{query}"
