"""The "Đăng ký F0" group of the desk's sidebar (registered with health_f0.desk.navigation)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import can_add, can_view, item, register_group, url

QUEUE = "registration_registration_changelist"


def _priority_queue_active(request: HttpRequest) -> bool:
    return request.path.startswith(url(QUEUE)) and ("eligibility__in" in request.GET)


def _priority_badge(request: HttpRequest) -> dict[str, Any]:
    """The count of waiting "needs a doctor's review" / "should go to hospital" registrations the user sees,
    on every desk page (issue 9; cached until a registration changes); no badge at zero."""
    from health_f0.registration.selectors import priority_badge_count

    count = priority_badge_count(user=request.user)
    return {"badge": str(count), "badge_variant": "danger", "badge_style": "solid"} if count else {}


def group(request: HttpRequest) -> dict[str, Any]:
    return {
        "title": _("Đăng ký F0"),
        "separator": True,
        "items": [
            item(
                _("Hàng chờ tiếp nhận"),
                "pending_actions",
                url(QUEUE, "?status__exact=submitted"),
                can_view("registration.Registration"),
            ),
            {
                **item(
                    _("Ca cần ưu tiên"),
                    "priority_high",
                    url(QUEUE, "?status__exact=submitted&eligibility__in=review,hospital"),
                    can_view("registration.Registration"),
                ),
                "active": _priority_queue_active,
                **_priority_badge(request),
            },
            item(
                _("Tất cả hồ sơ đăng ký"),
                "assignment",
                url(QUEUE),
                can_view("registration.Registration"),
            ),
            item(
                _("Đăng ký trực tiếp"),
                "person_add",
                url("registration_registration_add"),
                can_add("registration.Registration"),
            ),
        ],
    }


register_group("registration", 10, group)
