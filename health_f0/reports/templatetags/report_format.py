"""Vietnamese number formatting for the report pages: 1.234 ; 75,0 % ; 12,5."""

from __future__ import annotations

from typing import Any

from django import template

from health_f0.core import text

register = template.Library()


@register.filter
def percent(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}".replace(".", ",") + " %"


@register.filter
def decimal1(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value):.1f}".replace(".", ",")


@register.filter
def thousands(value: Any) -> str:
    if value is None:
        return "—"
    return f"{int(value):,}".replace(",", ".")


@register.filter
def vnd(value: Any) -> str:
    """An amount in đồng: 12.800 đ, core.text.vnd's format with a no-break space (keeps the đ with its number
    in a narrow table cell); "—" for none."""
    if value is None:
        return "—"
    return text.vnd(int(value)).replace(" ", "\u00a0")
