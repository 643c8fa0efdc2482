"""Queue and send SMS through the persisted outbox."""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.exceptions import DomainError
from health_f0.core.phone import mask_phone
from health_f0.core.text import SMS_TWO_SEGMENTS, sms_segments, sms_text
from health_f0.notifications import crypto
from health_f0.notifications.gateways import GatewayError, get_gateway
from health_f0.notifications.models import EarlyDeliveryReport, MessageStatus, OutboxMessage

logger = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


def sms_enqueue(
    *,
    to: str,
    body: str,
    kind: str,
    facility: Any = None,
    secret: bool = False,
    expires_at: datetime | None = None,
    subject_ref: str = "",
) -> OutboxMessage:
    """Persist an SMS and queue its sending after the surrounding transaction commits.

    The text is made unaccented GSM-7 and must fit two segments; a secret body is stored only encrypted.
    """
    text = sms_text(body)
    if len(text) > SMS_TWO_SEGMENTS:
        raise DomainError(f"SMS quá dài ({len(text)} ký tự, tối đa {SMS_TWO_SEGMENTS}).", code="sms_too_long")
    message = OutboxMessage(
        kind=kind,
        to=to,
        is_secret=secret,
        segments=sms_segments(text),
        expires_at=expires_at,
        facility=facility,
        subject_ref=subject_ref,
        next_attempt_at=timezone.now(),
    )
    if secret:
        message.body_encrypted = crypto.encrypt(text)
    else:
        message.body = text
    message.save()
    transaction.on_commit(lambda: _queue_send(message.pk))
    return message


def _queue_send(message_id: int) -> None:
    from health_f0.notifications.tasks import send_message

    try:
        send_message(message_id)
    except Exception:  # the sweeper picks it up: the row is already persisted
        logger.exception("could not queue SMS %s; the periodic sweep will send it", message_id)


def queue_due_sending() -> None:
    """Ask the worker to sweep the outbox now (after a bulk insert of messages)."""
    from health_f0.notifications.tasks import send_due_messages

    try:
        send_due_messages()
    except Exception:  # the minute sweep sends them anyway
        logger.exception("could not queue the outbox sweep")


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def outbox_send(*, message_id: int) -> OutboxMessage | None:
    """Send one queued message at most once. Returns None if it is not due or another worker holds it.

    The row stays locked (SELECT ... FOR UPDATE SKIP LOCKED) from the status check until the result is
    saved, so two workers never send the same message: the second one skips it. On a failure the message
    goes back to the queue with a growing delay; after SMS_MAX_ATTEMPTS, or on a permanent refusal, it is
    marked dead. An expired message (an OTP nobody can use any more) is never sent. A secret body is wiped
    once the message leaves the queue for good (sent, dead or expired).
    """
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status__in=[MessageStatus.QUEUED, MessageStatus.FAILED])
            .first()
        )
        if message is None:
            return None
        now = timezone.now()
        if message.expires_at and message.expires_at <= now:
            message.status = MessageStatus.EXPIRED
            message.next_attempt_at = None
            message.body_encrypted = None
            message.save(update_fields=["status", "next_attempt_at", "body_encrypted", "updated_at"])
            return message
        try:
            body = crypto.decrypt(bytes(message.body_encrypted or b"")) if message.is_secret else message.body
        except InvalidToken:  # SECRET_KEY changed since it was queued: nobody can ever read it again
            _give_up(message, "body cannot be decrypted (SECRET_KEY changed?)")
            message.save()
            return message
        gateway = get_gateway()
        message.attempts += 1
        message.gateway = gateway.name
        try:
            result = gateway.send(
                to=message.to, body=body, kind=message.kind, reference=str(message.public_id)
            )
        except Exception as exc:  # noqa: BLE001 - any failure must be counted, or the sweeper loops forever
            retryable = exc.retryable if isinstance(exc, GatewayError) else True
            error = str(exc) if isinstance(exc, GatewayError) else f"{exc.__class__.__name__}: {exc}"
            if not retryable or message.attempts >= settings.SMS_MAX_ATTEMPTS:
                _give_up(message, error)
            else:
                message.status = MessageStatus.FAILED
                message.last_error = error[:255]
                message.next_attempt_at = now + _backoff(message.attempts)
            log = logger.warning if isinstance(exc, GatewayError) else logger.exception
            log(
                "SMS %s to %s failed (attempt %s): %s",
                message.pk,
                mask_phone(message.to),
                message.attempts,
                error,
            )
        else:
            message.status = MessageStatus.SENT
            message.sent_at = now
            message.provider_message_id = result.provider_message_id[:64]
            message.next_attempt_at = None
            message.last_error = ""
            message.body_encrypted = None
        message.save()
    if message.status == MessageStatus.SENT:
        outbox_apply_early_reports(message=message)
    return message


def _give_up(message: OutboxMessage, error: str) -> None:
    message.status = MessageStatus.DEAD
    message.last_error = error[:255]
    message.next_attempt_at = None
    message.body_encrypted = None


def outbox_due_ids(*, limit: int = 500, after_id: int = 0) -> list[int]:
    """Messages whose (re)send time has come, oldest first by id: the sweeper's work list. `after_id`
    lets one sweep walk forward without revisiting a row another worker holds."""
    return list(
        OutboxMessage.objects.filter(
            status__in=[MessageStatus.QUEUED, MessageStatus.FAILED],
            next_attempt_at__lte=timezone.now(),
            pk__gt=after_id,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


EARLY_REPORT_KEEP_DAYS = 3


def _report_match(provider_message_id: str, reference: str) -> Q:
    match = Q(provider_message_id=provider_message_id) if provider_message_id else Q(pk__in=[])
    with contextlib.suppress(ValueError):
        match |= Q(public_id=uuid.UUID(reference))
    return match


def _apply_report(*, match: Q, delivered: bool, error: str) -> int:
    now = timezone.now()
    qs = OutboxMessage.objects.filter(match, status=MessageStatus.SENT)
    if delivered:
        return qs.update(status=MessageStatus.DELIVERED, delivered_at=now, updated_at=now)
    return qs.update(status=MessageStatus.DEAD, last_error=error[:255] or "undelivered", updated_at=now)


def outbox_mark_delivered(
    *, provider_message_id: str, delivered: bool, error: str = "", reference: str = ""
) -> int:
    """Apply a gateway delivery report to a sent message. Returns how many messages matched (0 or 1).

    The message is found by the gateway's id, or by our own reference (its public id, sent as the
    gateway's RequestId) when the gateway's answer carried no id. Repeated reports change nothing.
    A report for a message not yet recorded as sent (the gateway called back before our sender's commit)
    is kept as an EarlyDeliveryReport and applied once the message is saved as sent, so it is not lost.
    """
    match = _report_match(provider_message_id, reference)
    matched = _apply_report(match=match, delivered=delivered, error=error)
    if matched:
        return matched
    already_final = OutboxMessage.objects.filter(
        match, status__in=[MessageStatus.DELIVERED, MessageStatus.DEAD, MessageStatus.EXPIRED]
    ).exists()
    if not already_final and (provider_message_id or reference):
        EarlyDeliveryReport.objects.create(
            provider_message_id=provider_message_id[:64],
            reference=reference[:64],
            delivered=delivered,
            error=error[:255],
        )
    return 0


def outbox_apply_early_reports(*, message: OutboxMessage | None = None) -> int:
    """Apply waiting early delivery reports: those of `message` right after it was saved as sent, or all
    of them (the minute sweep, which also closes the gap when a report is stored just after the sender
    looked). Applied and expired reports are deleted. Returns how many messages were updated."""
    pending = EarlyDeliveryReport.objects.order_by("pk")
    if message is not None:
        by_message = Q(reference=str(message.public_id))
        if message.provider_message_id:
            by_message |= Q(provider_message_id=message.provider_message_id)
        pending = pending.filter(by_message)
    applied = 0
    for report in pending[:1000]:
        matched = _apply_report(
            match=_report_match(report.provider_message_id, report.reference),
            delivered=report.delivered,
            error=report.error,
        )
        if (
            matched
            or OutboxMessage.objects.filter(
                _report_match(report.provider_message_id, report.reference),
                status__in=[MessageStatus.DELIVERED, MessageStatus.DEAD, MessageStatus.EXPIRED],
            ).exists()
        ):
            report.delete()
        applied += matched
    if message is None:  # the sweep, not every send, drops the reports that never matched
        EarlyDeliveryReport.objects.filter(
            received_at__lt=timezone.now() - timedelta(days=EARLY_REPORT_KEEP_DAYS)
        ).delete()
    return applied


REQUEUEABLE_STATUSES = (MessageStatus.FAILED, MessageStatus.DEAD)


@transaction.atomic
def outbox_requeue(*, message: OutboxMessage, actor: Any) -> OutboxMessage:
    """Send a failed or dead message again (staff's "Gửi lại"), with a fresh attempt budget.

    A secret message whose encrypted body was already wiped cannot be re-sent: the person must ask for a
    new OTP, or staff must issue a new password.
    """
    from health_f0.core.audit import audit_log
    from health_f0.core.exceptions import NotFound, PermissionDenied
    from health_f0.core.models import AuditLog
    from health_f0.facilities import access

    locked = OutboxMessage.objects.select_for_update().filter(pk=message.pk).first()
    if locked is None:
        raise NotFound(_("Không tìm thấy tin nhắn."))
    if not getattr(actor, "is_superuser", False) and not access.can_act_at(
        actor, locked.facility, access.ALL_STAFF_ROLES
    ):
        raise PermissionDenied(_("Bạn không có quyền gửi lại tin nhắn này."))
    if locked.status not in REQUEUEABLE_STATUSES:
        raise DomainError(_("Chỉ gửi lại được tin đang lỗi hoặc không gửi được."), code="not_requeueable")
    if locked.is_secret and not locked.body_encrypted:
        raise DomainError(
            _(
                "Tin chứa mã OTP/mật khẩu đã bị xoá nội dung nên không gửi lại được: "
                "hãy yêu cầu mã OTP mới hoặc cấp lại mật khẩu."
            ),
            code="secret_wiped",
        )
    previous = {"status": locked.status, "attempts": locked.attempts}
    locked.status = MessageStatus.QUEUED
    locked.attempts = 0
    locked.next_attempt_at = timezone.now()
    locked.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    audit_log(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        verb="requeue",
        target=locked,
        facility=locked.facility,
        data=previous,
    )
    transaction.on_commit(lambda: _queue_send(locked.pk))
    return locked
