"""Reads about the outbox: its backlog (oldest waiting message, its age, how many wait) and the alert."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from health_f0.notifications.models import MessageStatus, OutboxAlert, OutboxMessage

# Not yet handed to a gateway for good: queued, failed and waiting for a retry, or an attempt whose
# result is not known yet.
WAITING_STATUSES = (MessageStatus.QUEUED, MessageStatus.FAILED, MessageStatus.SENDING)


@dataclass(frozen=True)
class OutboxBacklog:
    waiting: int
    unknown: int  # attempts whose result is not known yet (status `sending`)
    oldest: OutboxMessage | None

    @property
    def age(self) -> timedelta | None:
        return timezone.now() - self.oldest.created_at if self.oldest else None

    @property
    def age_minutes(self) -> int:
        return int(self.age.total_seconds() // 60) if self.age else 0


def outbox_backlog(queryset: QuerySet[Any] | None = None) -> OutboxBacklog:
    """The backlog of `queryset` (a user's scope) or of the whole outbox.

    The oldest message is found per status (one index range each, never a sort of the whole backlog);
    ids grow with creation time, so the smallest id of each status is its oldest message. Four queries,
    however long the backlog.
    """
    qs = OutboxMessage.objects.all() if queryset is None else queryset
    heads = [
        qs.filter(status=status).order_by("pk").only("pk", "created_at", "status", "kind").first()
        for status in WAITING_STATUSES
    ]
    oldest = min((head for head in heads if head is not None), key=lambda m: m.pk, default=None)
    counts = qs.filter(status__in=WAITING_STATUSES).aggregate(
        waiting=Count("pk"), unknown=Count("pk", filter=Q(status=MessageStatus.SENDING))
    )
    return OutboxBacklog(waiting=counts["waiting"], unknown=counts["unknown"], oldest=oldest)


def outbox_open_alert() -> OutboxAlert | None:
    return OutboxAlert.objects.filter(cleared_at__isnull=True).order_by("-raised_at").first()
