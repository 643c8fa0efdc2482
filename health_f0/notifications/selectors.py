"""Reads about the outbox: its backlog (oldest waiting message, its age, how many wait), the alert, cost per
channel, the messages about one record (a booking's reminders and notices, with their SMS fallbacks), and the
recipient's chosen channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from health_f0.notifications.models import (
    Channel,
    ContactPreference,
    MessageStatus,
    OutboxAlert,
    OutboxMessage,
)

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


def zns_available() -> bool:
    """Whether a patient may choose Zalo: ZNS is on and at least one message kind has a template."""
    return bool(settings.ZNS_ENABLED and settings.ZNS_TEMPLATES)


def contact_channel(*, phone: str) -> str:
    """The channel the holder of `phone` chose ("sms" without a choice)."""
    if not phone:
        return Channel.SMS
    # ContactPreference.objects.filter(phone=phone).values_list("channel", flat=True).first() as a constant
    # statement (phone is unique): 0.05 ms of CPU instead of the ORM's 0.30 (bench/portal_floor_reads.py; issue 11); test_zns_outbox checks it.
    with connections[router.db_for_read(ContactPreference)].cursor() as cursor:
        cursor.execute(_CHANNEL_OF_PHONE, [phone])
        row = cursor.fetchone()
    return (row[0] if row else None) or Channel.SMS


_CHANNEL_OF_PHONE = (
    f"SELECT channel FROM {ContactPreference._meta.db_table} WHERE phone = %s ORDER BY id LIMIT 1"  # noqa: S608
)


@dataclass(frozen=True)
class ChannelCost:
    channel: str
    label: str
    messages: int  # every message of the channel in the set (a ZNS message that fell back included)
    billed: int  # messages with a cost (a refused ZNS message costs nothing)
    cost_vnd: int
    fell_back: int  # ZNS messages replaced by an SMS


def outbox_cost_by_channel(queryset: QuerySet[Any] | None = None) -> list[ChannelCost]:
    """Messages and cost per channel over `queryset` (a user's scope, a filtered list, a report's range),
    SMS first. One query."""
    qs = OutboxMessage.objects.all() if queryset is None else queryset
    rows = {
        row["channel"]: row
        for row in qs.order_by()
        .values("channel")
        .annotate(
            n=Count("pk"),
            billed=Count("pk", filter=Q(cost_vnd__gt=0)),
            cost=Sum("cost_vnd"),
            fell_back=Count("pk", filter=Q(status=MessageStatus.FELL_BACK)),
        )
    }
    return [
        ChannelCost(
            channel=channel.value,
            label=str(channel.label),
            messages=rows[channel.value]["n"],
            billed=rows[channel.value]["billed"],
            cost_vnd=int(rows[channel.value]["cost"] or 0),
            fell_back=rows[channel.value]["fell_back"],
        )
        for channel in Channel
        if channel.value in rows
    ]


@dataclass(frozen=True)
class Delivery:
    """One message about a record, as the desk lists it: its channel and what happened to it, and the SMS
    that replaced it if it was a ZNS message that fell back."""

    pk: int
    kind: str
    kind_label: str
    body: str  # empty for a secret message
    channel: str
    channel_label: str
    created_at: Any
    scheduled_at: Any  # when it was (or is) to be sent
    status: str
    status_label: str
    sent_at: Any
    delivered_at: Any
    error: str
    fallback: Delivery | None = None

    @property
    def is_failed(self) -> bool:
        return self.status in {MessageStatus.FAILED, MessageStatus.DEAD, MessageStatus.EXPIRED}

    @property
    def is_delivered(self) -> bool:
        return self.status == MessageStatus.DELIVERED or (
            self.fallback is not None and self.fallback.is_delivered
        )


def _delivery(message: OutboxMessage, fallback: Delivery | None = None) -> Delivery:
    return Delivery(
        pk=message.pk,
        kind=message.kind,
        kind_label=str(message.get_kind_display()),
        body="" if message.is_secret else message.body,
        channel=message.channel,
        channel_label=str(message.get_channel_display()),
        created_at=message.created_at,
        scheduled_at=message.attempt_started_at or message.next_attempt_at or message.created_at,
        status=message.status,
        status_label=str(message.get_status_display()),
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
        error=message.last_error
        if message.status in {MessageStatus.FAILED, MessageStatus.DEAD, MessageStatus.FELL_BACK}
        else "",
        fallback=fallback,
    )


def deliveries_for_subject(*, subject_ref: str) -> list[Delivery]:
    """Every message about one record (its `subject_ref`, e.g. "appointment:17"), oldest first, each SMS
    fallback folded under the ZNS message it replaced. The caller has checked the record's access.
    One query."""
    messages = list(
        OutboxMessage.objects.filter(subject_ref=subject_ref)
        .defer("body_encrypted", "template_data")
        .order_by("created_at", "pk")
    )
    replacing = {m.fallback_for_id: m for m in messages if m.fallback_for_id}
    listed = {m.pk for m in messages}
    return [
        _delivery(m, _delivery(replacing[m.pk]) if m.pk in replacing else None)
        for m in messages
        if m.fallback_for_id not in listed  # a fallback SMS is shown under its ZNS message
    ]
