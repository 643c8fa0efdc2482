"""SMS texts about appointments: unaccented GSM-7 (160 characters in one segment, 153 a segment when
concatenated), at most two segments, always ending with the booking's short link.

What a text never does:
* cut a link. Each booking and walk-in ticket has its own short link, PORTAL_URL/h/<link code> (8 random
  characters, see www.short_link_views): short enough for a long provincial `.gov.vn` portal address, and the
  same for a booking (its OTP-gated page) and a walk-in (its ticket with the queue place);
* cut the service, the time or the facility. The facility is named by its SMS short name (or the nearest
  one up the tree: a clinic room's TTYT), else its whole name with defined abbreviations only
  (selectors.facility_label); the service by its short name, which every name longer than
  models.SMS_NAME_MAX has (Service.clean).

A text that does not fit one segment takes two. Only free text typed by staff (a decline's reason) is
shortened, at a word boundary, to stay within two segments; the booking's page has it whole. Labels and
service names longer than their fields allow (data older than those rules) are the last resort.

The texts of a booking with a doctor name them after the time, title first: "... 14:00 24/11/2026
(BS.CKII Pham Van Tam) ...".

An online consultation's texts carry no check-in code (there is no reception) and its reminders carry the
booking's own video room; the last reminder is sent as the room opens.

Cost: `segments(text)` x the SMS_COST_PER_SEGMENT_VND setting (`cost_vnd`); the outbox records both for
every message it queues (OutboxMessage.segments, .cost_vnd)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings

from health_f0.appointments.slots import LOCAL_TZ
from health_f0.core.text import SMS_TWO_SEGMENTS, sms_segments, sms_text

if TYPE_CHECKING:
    from health_f0.appointments.models import Appointment

TEMPLATES = {
    "requested": "{label}: da nhan yeu cau dat lich {service} {when}{doctor}, cho xac nhan. Xem/huy: {link}",
    "confirmed": "{label}: lich {service} {when}{doctor} da duoc xac nhan. Ma tiep don {code}. Xem/huy: {link}",
    "declined": "{label}: lich {service} {when} khong duoc xac nhan. Ly do: {reason} Xem: {link}",
    "cancelled": "{label}: lich {service} {when} da huy. {reason} Xem: {link}",
    "rescheduled": "{label}: lich {service} da doi sang {when}{doctor}. Ma tiep don {code}. Xem/huy: {link}",
    "checked_in": "{label}: da tiep don {service}. So thu tu cua ban: {number}. Xem: {link}",
    "turn_soon": "{label}: sap den luot {service}, so {number} (con {ahead} nguoi truoc). Xem: {link}",
    "turn_next": "{label}: ban la nguoi tiep theo, so {number} {service}. Moi vao phong kham. Xem: {link}",
    "no_show": "{label}: ban da vang lich {service} {when}. Dat lai lich: {link}",
    "expired": "{label}: yeu cau dat lich {service} {when} chua duoc xac nhan nen da huy. Dat lai: {link}",
    # A booking that had to be paid ahead and was not, by the service's deadline (payments releases it).
    "unpaid": "{label}: lich {service} {when} chua duoc thanh toan dung han nen da huy. Dat lai: {link}",
    "reexam": "{label}: da hen tai kham {service} {when}{doctor}. Ma tiep don {code}. Xem/huy: {link}",
    "reminder": "{label}: nhac lich {what} {service} {when}{doctor} (con {days} ngay). Xem/huy: {link}",
    # Online consultations: no code to show at reception; the room's link comes with the reminders.
    "confirmed_online": "{label}: lich {service} {when}{doctor} da duoc xac nhan. Link phong tu van se duoc nhan "
    "truoc gio hen {minutes} phut. Xem/huy: {link}",
    "rescheduled_online": "{label}: lich {service} da doi sang {when}. Link phong tu van se duoc nhan truoc "
    "gio hen {minutes} phut. Xem/huy: {link}",
    "reexam_online": "{label}: da hen tu van lai {service} {when}. Link phong tu van se duoc nhan truoc "
    "gio hen {minutes} phut. Xem/huy: {link}",
    "reminder_online": "{label}: nhac lich {service} {when} (con {days} ngay). Vao phong: {room} Xem/huy: {link}",
    "room_open": "{label}: phong tu van {service} {when} da mo. Vao phong: {room} Xem/huy: {link}",
}
# Events whose online consultation has its own text (see above).
ONLINE_EVENTS = frozenset(event[: -len("_online")] for event in TEMPLATES if event.endswith("_online"))
# Free text typed by staff: shortened (at a word boundary) when a text would not fit two segments.
FREE_TEXT = ("reason",)
# Last resort for names longer than their fields allow (see the module's docstring). Links never. The
# doctor goes first: the booking's page names them whole.
NAMES = ("doctor", "label", "service")
ELLIPSIS = "..."


def short_link(appointment: Appointment) -> str:
    """The booking's (or walk-in ticket's) SMS link: PORTAL_URL/h/<link code>."""
    return f"{settings.PORTAL_URL}/h/{appointment.link_code}"


def when_text(moment: datetime) -> str:
    return f"{moment.astimezone(LOCAL_TZ):%H:%M %d/%m/%Y}"


def event_for(event: str, *, online: bool) -> str:
    """The template key of `event` for this kind of service."""
    return f"{event}_online" if online and event in ONLINE_EVENTS else event


def doctor_text(appointment: Appointment) -> str:
    """' (BS.CKII Pham Van Tam)' for a booking with a doctor, else ''."""
    doctor = appointment.doctor
    return f" ({doctor.sms_name})" if doctor is not None else ""


def appointment_fields(appointment: Appointment) -> dict[str, Any]:
    """The fields every appointment text may use: facility label, service, time, doctor, check-in code,
    short link, the minutes before an online consultation its room opens, and its room."""
    from health_f0.appointments.selectors import facility_label, meeting_url

    return {
        "label": facility_label(appointment.facility),
        "service": appointment.service.sms_name,
        "doctor": doctor_text(appointment),
        "when": when_text(appointment.slot_start),
        "code": appointment.check_in_code,
        "link": short_link(appointment),
        "minutes": settings.VIDEO_ROOM_OPEN_MINUTES,
        "room": meeting_url(appointment),
    }


def render(event: str, **fields: Any) -> str:
    """The event's text with `fields`, unaccented GSM-7, at most two segments. Links (`link`, `room`) are
    never shortened; the service, time and facility are kept whole; free text is shortened at a word
    boundary only when the text would not fit two segments otherwise."""
    template = TEMPLATES[event]
    values = {key: sms_text(str(value)) for key, value in fields.items()}
    values.setdefault("doctor", "")
    text = sms_text(template.format(**values))
    for key in (*FREE_TEXT, *NAMES):
        if len(text) <= SMS_TWO_SEGMENTS:
            break
        if key not in values or f"{{{key}}}" not in template:
            continue
        limit = len(values[key]) - (len(text) - SMS_TWO_SEGMENTS)
        # The doctor goes whole or not at all (the booking's page names them).
        values[key] = "" if key == "doctor" else shorten(values[key], limit)
        text = sms_text(template.format(**values))
    # Only links longer than two segments could still be too long; a cut link would be worse than no SMS.
    return text


def shorten(value: str, limit: int) -> str:
    """`value` within `limit` characters: whole words followed by "...", or "" when not even one fits."""
    if len(value) <= limit:
        return value
    head = value[: max(limit - len(ELLIPSIS), 0)]
    if len(head) < len(value) and value[len(head)] != " " and " " in head:
        head = head[: head.rfind(" ")]
    head = head.rstrip(" ,.;:-")
    return f"{head}{ELLIPSIS}" if head else ""


def segments(text: str) -> int:
    """How many SMS segments the (GSM-7) text is billed as: 1 up to 160 characters, else 153 a segment."""
    return sms_segments(text)


def cost_vnd(text: str) -> int:
    """What the text costs: its segments x SMS_COST_PER_SEGMENT_VND (what the outbox records)."""
    from health_f0.notifications.services import sms_cost_vnd

    return sms_cost_vnd(segments(text))
