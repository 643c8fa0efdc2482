"""SMS texts about appointments: unaccented, one segment (160 characters), always with the link to the
appointment's page (see, cancel, reschedule, QR code). Long service names and reasons are shortened, never
the link."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from health_f0.appointments.slots import LOCAL_TZ
from health_f0.core.text import SMS_SEGMENT, sms_text

TEMPLATES = {
    "requested": "{label}: da nhan yeu cau dat lich {service} {when}, cho xac nhan. Xem/huy: {link}",
    "confirmed": "{label}: lich {service} {when} da duoc xac nhan. Ma tiep don {code}. Xem/huy: {link}",
    "declined": "{label}: lich {service} {when} khong duoc xac nhan. Ly do: {reason}. Xem: {link}",
    "cancelled": "{label}: lich {service} {when} da huy. {reason}Xem: {link}",
    "rescheduled": "{label}: lich {service} da doi sang {when}. Ma tiep don {code}. Xem/huy: {link}",
    "checked_in": "{label}: da tiep don {service}. So thu tu cua ban: {number}. Xem: {link}",
    "turn_soon": "{label}: sap den luot {service}, so {number} (con {ahead} nguoi truoc). Xem: {link}",
    "turn_next": "{label}: ban la nguoi tiep theo, so {number} {service}. Moi vao phong kham. Xem: {link}",
    "no_show": "{label}: ban da vang lich {service} {when}. Dat lai lich: {link}",
    "expired": "{label}: yeu cau dat lich {service} {when} chua duoc xac nhan nen da huy. Dat lai: {link}",
    "reexam": "{label}: da hen tai kham {service} {when}. Ma tiep don {code}. Xem/huy: {link}",
    "reminder": "{label}: nhac lich {what} {service} {when} (con {days} ngay). Xem/huy: {link}",
}
# Shortened in this order when the text is too long; never below MIN_FIELD characters.
SHRINKABLE = ("service", "reason", "label")
MIN_FIELD = 6


def appointment_link(public_id: object) -> str:
    return f"{settings.PORTAL_URL}/lich-hen/{public_id}"


def when_text(moment: datetime) -> str:
    return f"{moment.astimezone(LOCAL_TZ):%H:%M %d/%m/%Y}"


def render(event: str, *, limit: int = SMS_SEGMENT, **fields: Any) -> str:
    """The event's text with `fields`, unaccented, shortened to fit `limit` characters."""
    values = {key: sms_text(str(value)) for key, value in fields.items()}
    template = TEMPLATES[event]
    text = sms_text(template.format(**values))
    for key in SHRINKABLE:
        if len(text) <= limit:
            break
        if key not in values or f"{{{key}}}" not in template:
            continue
        value = values[key]
        keep = max(len(value) - (len(text) - limit), MIN_FIELD)
        if keep < len(value):
            values[key] = value[: max(keep - 2, 1)].rstrip() + ".."
            text = sms_text(template.format(**values))
    return text[:limit]
