"""Reads of scheduled report e-mails for the desk (scoped through facilities.access)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.reports.subscriptions.registry import entry_for, report_choices


def can_subscribe(user: Any) -> bool:
    """Managers and administrators (anywhere), and superusers."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or access.roles_of(user) & access.REPORT_SUBSCRIPTION_ROLES)


def subscribable_facilities(user: Any) -> list[Facility]:
    """Facilities the user may subscribe some report for: where they are a manager or an administrator (or
    under), and that some report's facility filter offers them (tree order)."""
    held = access.visible_facility_ids(user, access.REPORT_SUBSCRIPTION_ROLES)
    seen: dict[int, Facility] = {}
    for key, _label in report_choices():
        for facility in entry_for(key).facilities(user):
            if facility.pk in held or user.is_superuser:
                seen.setdefault(facility.pk, facility)
    return sorted(seen.values(), key=lambda f: f.path)


def subscriptions_for(user: Any) -> QuerySet[Any]:
    return access.report_subscriptions_for(user)


def deliveries_for(user: Any) -> QuerySet[Any]:
    return access.report_deliveries_for(user)
