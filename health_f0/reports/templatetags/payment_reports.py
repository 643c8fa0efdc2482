"""Whether the report index shows the payments report's card (its viewers: accountants, managers, admins)."""

from __future__ import annotations

from typing import Any

from django import template

from health_f0.reports.payments.selectors import can_view_payment_report

register = template.Library()


@register.simple_tag
def may_view_payment_report(user: Any) -> bool:
    return can_view_payment_report(user)
