"""What the desk shows about the outbox's health: the backlog above the outbox list, and a label on every
desk page for administrators and managers while the outbox alert is open (UNFOLD["ENVIRONMENT"])."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.desk.formatting import duration_label, fmt_datetime
from health_f0.facilities import access
from health_f0.notifications import selectors

ALERT_READERS: frozenset[str] = access.OVERSIGHT_ROLES


def _reads_alerts(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or access.roles_of(user) & ALERT_READERS)


def outbox_environment_label(request: HttpRequest) -> list[str] | None:
    """[text, "danger"] while the outbox alert is open, for those who must act on it; else nothing."""
    if not _reads_alerts(request.user):
        return None
    alert = selectors.outbox_open_alert()
    if alert is None:
        return None
    return [
        _("SMS chậm: tin chờ lâu nhất %(minutes)s phút") % {"minutes": alert.peak_age_minutes},
        "danger",
    ]


def outbox_backlog_context(request: HttpRequest, queryset: QuerySet[Any]) -> dict[str, Any]:
    """The backlog of the messages this user may see: oldest waiting message, its age, how many wait."""
    backlog = selectors.outbox_backlog(queryset)
    threshold = settings.OUTBOX_ALERT_MINUTES
    oldest = backlog.oldest
    return {
        "backlog": backlog,
        "backlog_oldest_url": (
            reverse("admin:notifications_outboxmessage_change", args=[oldest.pk]) if oldest else ""
        ),
        "backlog_oldest_created": fmt_datetime(oldest.created_at) if oldest else "",
        "backlog_age": duration_label(timezone.now() - oldest.created_at) if oldest else "",
        "backlog_over": bool(oldest and backlog.age_minutes >= threshold),
        "backlog_threshold": threshold,
        "backlog_alert": selectors.outbox_open_alert() if _reads_alerts(request.user) else None,
    }
