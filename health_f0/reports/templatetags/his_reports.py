"""Whether the report index shows the HIS linking report's card (its viewers differ from home care's)."""

from __future__ import annotations

from typing import Any

from django import template

from health_f0.reports.his.selectors import can_view_his_report

register = template.Library()


@register.simple_tag
def may_view_his_report(user: Any) -> bool:
    return can_view_his_report(user)
