"""Declaration reminders: SMS at the province's reminder times to patients who have not declared today,
a call list for staff at the deadline, and an escalation to the station head for patients silent for
several days running. The unique (episode, day, kind) row of ReminderLog makes every step idempotent:
nothing is sent twice for the same reason on the same day, however often the job runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from health_f0.core.text import SMS_TWO_SEGMENTS, sms_segments, sms_text, unaccent
from health_f0.facilities.models import Facility, Membership, Role
from health_f0.monitoring.models import Episode, EpisodeStatus, ReminderLog
from health_f0.monitoring.services import Policy, policy_for
from health_f0.monitoring.sql.reminders import insert_many
from health_f0.notifications.models import MessageKind, OutboxMessage
from health_f0.notifications.services import queue_due_sending

logger = logging.getLogger(__name__)
BATCH = 5000


@dataclass(frozen=True)
class FanoutResult:
    kind: str
    province_code: int
    queued: int


def _silent(province_code: int, today: date, kind: str) -> Any:
    already = ReminderLog.objects.filter(episode=OuterRef("pk"), local_date=today, kind=kind)
    return (
        Episode.objects.filter(status=EpisodeStatus.ACTIVE, facility__province_code=province_code)
        .filter(Q(last_declared_on__lt=today) | Q(last_declared_on__isnull=True))
        .filter(start_date__lt=today)  # admitted today: the acceptance SMS is reminder enough
        .exclude(Exists(already))
    )


def _chunks(iterable: Any, size: int) -> Any:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _plain_name(name: str) -> str:
    plain_name = unaccent(name).upper()
    if len(plain_name) > 30:
        plain_name = plain_name[:27] + "..."
    return plain_name


def _reminder_raw(plain_name: str, deadline: str, facility_label: str, hotline: str) -> str:
    return (
        f"{facility_label}: {plain_name} chua khai bao suc khoe hom nay. Vui long khai bao truoc {deadline} "
        f"tai {settings.PORTAL_URL}/dang-nhap" + (f" Hotline {hotline}" if hotline else "")
    )


def _reminder_text(name: str, deadline: str, facility_label: str, hotline: str) -> str:
    return sms_text(_reminder_raw(_plain_name(name), deadline, facility_label, hotline))[:SMS_TWO_SEGMENTS]


_NAME_SLOT = "QZXNAMESLOTQZX"


class _ReminderTexts:
    """`_reminder_text` for a whole province: the station's part of the text is cleaned once per station,
    only the name once per patient (a fan-out of 100,000 spent most of its text time re-cleaning the same
    station text). Same result as `_reminder_text`; unusual names take that path."""

    def __init__(self, deadline: str) -> None:
        self.deadline = deadline
        self.templates: dict[tuple[str, str], list[str]] = {}

    def __call__(self, name: str, facility_label: str, hotline: str) -> str:
        plain_name = _plain_name(name)
        parts = self.templates.get((facility_label, hotline))
        if parts is None:
            raw = _reminder_raw(_NAME_SLOT, self.deadline, facility_label, hotline)
            parts = sms_text(raw).split(_NAME_SLOT)
            self.templates[(facility_label, hotline)] = parts
        edges = unaccent(plain_name)
        if len(parts) != 2 or not edges or edges != edges.strip():
            # White space at the name's edges would merge with the text around it: clean the whole text.
            return _reminder_text(name, self.deadline, facility_label, hotline)
        return (parts[0] + sms_text(plain_name) + parts[1])[:SMS_TWO_SEGMENTS]


def reminder_sms_fanout(*, kind: str, province_code: int, now: datetime | None = None) -> FanoutResult:
    """Queue one reminder SMS per silent patient of the province for this reminder slot (sms_1, sms_2)."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    policy = policy_for(province_code)
    deadline = policy.deadline.strftime("%H:%M")
    rows = (
        _silent(province_code, today, kind)
        .values_list(
            "pk",
            "patient__phone",
            "patient__full_name",
            "facility_id",
            "facility__short_name",
            "facility__name",
            "facility__hotline",
        )
        .order_by()
        .iterator(chunk_size=BATCH)
    )
    # A reminder is useless after the deadline: do not deliver it late.
    expires_at = timezone.make_aware(datetime.combine(today, policy.deadline))
    queued = 0
    reminder_text = _ReminderTexts(deadline)
    for chunk in _chunks(rows, BATCH):
        logs, messages = [], []
        for episode_id, phone, name, facility_id, short, full, hotline in chunk:
            body = reminder_text(name, short or unaccent(full), hotline)
            logs.append(ReminderLog(episode_id=episode_id, local_date=today, kind=kind))
            messages.append(
                OutboxMessage(
                    kind=MessageKind.REMINDER,
                    to=phone,
                    body=body,
                    segments=sms_segments(body),
                    facility_id=facility_id,
                    subject_ref=f"episode:{episode_id}",
                    next_attempt_at=now,
                    expires_at=expires_at,
                )
            )
        with transaction.atomic():
            insert_many(ReminderLog, logs)
            insert_many(OutboxMessage, messages)
        queued += len(messages)
    if queued:
        transaction.on_commit(queue_due_sending)
    return FanoutResult(kind=kind, province_code=province_code, queued=queued)


def call_list_build(*, province_code: int, now: datetime | None = None) -> int:
    """At the deadline: every patient still silent goes on the station's call list for today."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    ids = list(_silent(province_code, today, ReminderLog.Kind.CALL_LIST).values_list("pk", flat=True))
    for chunk in _chunks(ids, BATCH):
        ReminderLog.objects.bulk_create(
            [ReminderLog(episode_id=i, local_date=today, kind=ReminderLog.Kind.CALL_LIST) for i in chunk],
            ignore_conflicts=True,
        )
    return len(ids)


def escalate_silent(*, province_code: int, now: datetime | None = None) -> int:
    """Patients silent for `escalate_after_silent_days` days running go to the station head, once a day.
    Each station head with a phone gets one summary SMS for their station."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    policy = policy_for(province_code)
    days = policy.escalate_after_silent_days
    cutoff = today - timedelta(days=days - 1)  # silent today and the days before
    candidates = (
        _silent(province_code, today, ReminderLog.Kind.ESCALATION)
        .filter(Q(last_declared_on__lt=cutoff) | Q(last_declared_on__isnull=True, start_date__lte=cutoff))
        .values_list("pk", "facility_id")
    )
    per_station: dict[int, int] = {}
    logs = []
    for episode_id, facility_id in candidates:
        logs.append(ReminderLog(episode_id=episode_id, local_date=today, kind=ReminderLog.Kind.ESCALATION))
        per_station[facility_id] = per_station.get(facility_id, 0) + 1
    if not logs:
        return 0
    with transaction.atomic():
        ReminderLog.objects.bulk_create(logs, batch_size=BATCH, ignore_conflicts=True)
        heads = Membership.objects.filter(
            facility_id__in=per_station, role=Role.STATION_HEAD, is_active=True
        ).select_related("user", "facility")
        from health_f0.notifications.services import sms_enqueue

        for membership in heads:
            if not membership.user.phone:
                continue
            count = per_station[membership.facility_id]
            label = membership.facility.short_name or unaccent(membership.facility.name)
            sms_enqueue(
                to=membership.user.phone,
                body=f"{label}: {count} nguoi benh khong khai bao suc khoe {days} ngay lien tiep. "
                f"Xem danh sach: {settings.PORTAL_URL}/desk/",
                kind=MessageKind.STAFF_ALERT,
                facility=membership.facility,
                subject_ref=f"escalation:{today.isoformat()}",
            )
    return len(logs)


def _policy_slots(policy: Policy) -> list[tuple[str, Any]]:
    slots = []
    for index, text in enumerate(policy.reminder_times[:2]):
        hour, minute = (int(part) for part in text.split(":"))
        slots.append((f"sms_{index + 1}", datetime.min.replace(hour=hour, minute=minute).time()))
    return slots


def run_due(*, now: datetime | None = None) -> list[FanoutResult]:
    """Run every reminder step whose time has come today, for every province with active patients.
    Called every few minutes by the worker; idempotent, so a late or repeated run catches up safely."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    results = []
    provinces = (
        Facility.objects.filter(episodes__status=EpisodeStatus.ACTIVE)
        .values_list("province_code", flat=True)
        .distinct()
    )
    for province_code in provinces:
        policy = policy_for(province_code)
        if local.time() < policy.deadline:
            # Only the latest slot that has come: a worker that was down at 08:00 and back at 09:40
            # sends one reminder, not two at once.
            due = [kind for kind, at in _policy_slots(policy) if local.time() >= at]
            if due:
                results.append(reminder_sms_fanout(kind=due[-1], province_code=province_code, now=now))
        else:
            call_list_build(province_code=province_code, now=now)
            escalate_silent(province_code=province_code, now=now)
    return results
