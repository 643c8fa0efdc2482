"""`{% jinja "www/_header.html" %}`: a Jinja2 partial of the portal (health_f0/www/jinja.py) drawn inside a
Django template with that template's context, so the partial has one copy for both engines."""

from __future__ import annotations

from typing import Any

from django import template
from django.template import engines
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def jinja(context: template.Context, name: str, **extra: Any) -> SafeString:
    request = context.get("request")
    values: dict[str, Any] = {str(key): value for key, value in context.flatten().items()}
    values.update(extra)
    return mark_safe(engines["jinja2"].get_template(name).render(values, request=request))  # noqa: S308 - Jinja2 autoescapes
