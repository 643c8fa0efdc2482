"""Whether the report index shows the appointment report's card (its viewers differ from home care's)."""

from __future__ import annotations

from typing import Any

from django import template

from health_f0.reports.appointments.selectors import can_view_appointment_reports

register = template.Library()


@register.simple_tag
def may_view_appointment_reports(user: Any) -> bool:
    return can_view_appointment_reports(user)
