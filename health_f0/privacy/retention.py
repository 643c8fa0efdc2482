"""Retention jobs: personal data that has served its purpose is removed on a schedule, in batches, each run
recorded (a RetentionRun row and one audit row with the counts). Running a job twice removes nothing more
the second time. Each kind has its own setting (docs/operations.md, "Lưu giữ dữ liệu"):

| kind          | setting                      | what goes                                                           |
|---------------|------------------------------|---------------------------------------------------------------------|
| otp           | RETENTION_OTP_DAYS           | OTP challenges (phone, IP, code hash) older than that               |
| secret_sms    | RETENTION_SECRET_SMS_HOURS   | encrypted bodies (passwords, OTPs) still unsent after that: expired |
| sessions      | SESSION_COOKIE_AGE           | expired portal/desk sessions (Django's clearsessions)               |
| api_tokens    | RETENTION_API_TOKEN_DAYS     | API tokens expired for longer than that                             |
| early_reports | RETENTION_EARLY_REPORT_DAYS  | SMS delivery reports that never matched a message                   |
| exports       | PRIVACY_EXPORT_HOURS         | the patients' PDF copies (file and row) once expired                |
| audit         | RETENTION_AUDIT_DAYS         | audit rows older than that                                          |
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from health_f0.core.audit import audit_log
from health_f0.core.models import AuditLog
from health_f0.privacy.models import RetentionRun

logger = logging.getLogger(__name__)


def _delete_in_batches(queryset: QuerySet[Any]) -> int:
    """Delete by primary-key batches (short transactions: a year of OTP rows never locks the table)."""
    total = 0
    size = max(settings.RETENTION_BATCH_SIZE, 1)
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return total
        with transaction.atomic():
            total += queryset.model.objects.filter(pk__in=ids).delete()[1].get(queryset.model._meta.label, 0)


def _otp(cutoff: datetime) -> dict[str, int]:
    from health_f0.patients.models import OtpChallenge

    return {"otp_challenges": _delete_in_batches(OtpChallenge.objects.filter(created_at__lt=cutoff))}


def _secret_sms(cutoff: datetime) -> dict[str, int]:
    """A secret the gateway could not deliver within the window is worthless (an OTP expired long ago; an
    account password is issued again by the station) and must not sit in the database."""
    from health_f0.notifications.models import MessageStatus, OutboxMessage

    stale = OutboxMessage.objects.filter(is_secret=True, body_encrypted__isnull=False, created_at__lt=cutoff)
    wiped = 0
    size = max(settings.RETENTION_BATCH_SIZE, 1)
    while True:
        ids = list(stale.order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            break
        with transaction.atomic():
            rows = OutboxMessage.objects.filter(pk__in=ids)
            rows.filter(status__in=[MessageStatus.QUEUED, MessageStatus.FAILED]).update(
                status=MessageStatus.EXPIRED, next_attempt_at=None, last_error="retention: secret expired"
            )
            wiped += rows.update(body_encrypted=None)
    return {"secret_bodies_wiped": wiped}


def _sessions(cutoff: datetime) -> dict[str, int]:
    from django.contrib.sessions.backends.db import SessionStore as DatabaseStore

    engine = import_module(settings.SESSION_ENGINE)
    counted = 0
    # The database store and any store built on it (cached_db, accounts.sql): their rows are counted.
    if issubclass(engine.SessionStore, DatabaseStore):
        from django.contrib.sessions.models import Session

        counted = _delete_in_batches(Session.objects.filter(expire_date__lt=cutoff))
    engine.SessionStore.clear_expired()
    return {"sessions": counted}


def _api_tokens(cutoff: datetime) -> dict[str, int]:
    from health_f0.api.models import ApiToken

    return {"api_tokens": _delete_in_batches(ApiToken.objects.filter(expires_at__lt=cutoff))}


def _early_reports(cutoff: datetime) -> dict[str, int]:
    from health_f0.notifications.models import EarlyDeliveryReport

    return {"early_reports": _delete_in_batches(EarlyDeliveryReport.objects.filter(received_at__lt=cutoff))}


def _exports(cutoff: datetime) -> dict[str, int]:
    from health_f0.privacy.exports import export_dir
    from health_f0.privacy.models import DataExport

    files = 0
    for export in DataExport.objects.filter(expires_at__lt=cutoff).exclude(file_name=""):
        path = export_dir() / export.file_name
        if path.exists():
            path.unlink()
            files += 1
    return {
        "export_files": files,
        "exports": _delete_in_batches(DataExport.objects.filter(expires_at__lt=cutoff)),
    }


def _audit(cutoff: datetime) -> dict[str, int]:
    return {"audit_rows": _delete_in_batches(AuditLog.objects.filter(created_at__lt=cutoff))}


@dataclass(frozen=True)
class RetentionJob:
    kind: str
    setting: str
    keep: Callable[[], timedelta]
    run: Callable[[datetime], dict[str, int]]


JOBS: tuple[RetentionJob, ...] = (
    RetentionJob("otp", "RETENTION_OTP_DAYS", lambda: timedelta(days=settings.RETENTION_OTP_DAYS), _otp),
    RetentionJob(
        "secret_sms",
        "RETENTION_SECRET_SMS_HOURS",
        lambda: timedelta(hours=settings.RETENTION_SECRET_SMS_HOURS),
        _secret_sms,
    ),
    # A session is kept until it expires (SESSION_COOKIE_AGE after the last login); expired ones go now.
    RetentionJob("sessions", "SESSION_COOKIE_AGE", lambda: timedelta(0), _sessions),
    RetentionJob(
        "api_tokens",
        "RETENTION_API_TOKEN_DAYS",
        lambda: timedelta(days=settings.RETENTION_API_TOKEN_DAYS),
        _api_tokens,
    ),
    RetentionJob(
        "early_reports",
        "RETENTION_EARLY_REPORT_DAYS",
        lambda: timedelta(days=settings.RETENTION_EARLY_REPORT_DAYS),
        _early_reports,
    ),
    # An export expires PRIVACY_EXPORT_HOURS after it was asked for; expired ones go now.
    RetentionJob("exports", "PRIVACY_EXPORT_HOURS", lambda: timedelta(0), _exports),
    RetentionJob(
        "audit", "RETENTION_AUDIT_DAYS", lambda: timedelta(days=settings.RETENTION_AUDIT_DAYS), _audit
    ),
)
JOBS_BY_KIND = {job.kind: job for job in JOBS}


def retention_run(*, kind: str, now: datetime | None = None) -> RetentionRun:
    """Run one retention job and record it (a RetentionRun row and an audit row with the counts). A failure is
    recorded on the run and logged; it never stops the other jobs."""
    job = JOBS_BY_KIND[kind]
    now = now or timezone.now()
    cutoff = now - job.keep()
    run = RetentionRun.objects.create(kind=kind, cutoff=cutoff)
    try:
        counts = job.run(cutoff)
    except Exception as exc:  # noqa: BLE001 - recorded and logged; the next run tries again
        logger.exception("retention job %s failed", kind)
        counts = {}
        run.error = f"{exc.__class__.__name__}: {exc}"[:255]
    run.counts = counts
    run.finished_at = timezone.now()
    run.save(update_fields=["counts", "finished_at", "error"])
    audit_log(
        actor=None,
        action=AuditLog.Action.DELETE,
        verb=f"retention_{kind}",
        target=run,
        data={"setting": job.setting, "cutoff": cutoff.isoformat(), "counts": counts, "error": run.error},
    )
    return run


def retention_run_all(*, now: datetime | None = None, kinds: list[str] | None = None) -> list[RetentionRun]:
    return [retention_run(kind=kind, now=now) for kind in (kinds or [job.kind for job in JOBS])]


def setting_values() -> list[tuple[str, str, Any]]:
    """(kind, setting name, value) for the desk and the docs."""
    return [(job.kind, job.setting, getattr(settings, job.setting)) for job in JOBS]
