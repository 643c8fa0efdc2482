"""Queue and send messages through the persisted outbox: SMS, or Zalo ZNS with the SMS as its fallback.

A message goes by ZNS only where configured (ZNS_ENABLED and a template for its kind) and when the holder
of the number chose Zalo (ContactPreference); it then carries its SMS text too. The SMS is sent instead,
once, when Zalo says the phone has no Zalo or refuses the message, or when no delivery report came by the
message's `fallback_at` (zns_fallback_due, every minute). A ZNS message is never sent twice by ZNS, and a
one-to-one link (OutboxMessage.fallback_for) makes a second fallback SMS impossible.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping
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
from health_f0.notifications.gateways import (
    UNKNOWN,
    Attempt,
    AttemptStatus,
    GatewayError,
    GatewayRecord,
    ZnsError,
    ZnsEvent,
    ZnsGateway,
    get_gateway,
)
from health_f0.notifications.models import (
    Channel,
    ContactPreference,
    EarlyDeliveryReport,
    MessageStatus,
    OutboxMessage,
)
from health_f0.notifications.selectors import contact_channel, zns_available

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
    zns_data: Mapping[str, Any] | None = None,
) -> OutboxMessage:
    """Persist a message and queue its sending after the surrounding transaction commits.

    The text is made unaccented GSM-7 and must fit two segments; a secret body is stored only encrypted
    (and always goes by SMS). The message goes by Zalo ZNS instead when `message_channel` says so: its
    template parameters are `zns_data` (the template's named fields), or {"content": the text}.
    """
    text = sms_text(body)
    if len(text) > SMS_TWO_SEGMENTS:
        raise DomainError(f"SMS quá dài ({len(text)} ký tự, tối đa {SMS_TWO_SEGMENTS}).", code="sms_too_long")
    segments = sms_segments(text)
    channel, template_id = message_channel(to=to, kind=kind, secret=secret)
    now = timezone.now()
    message = OutboxMessage(
        channel=channel,
        kind=kind,
        to=to,
        is_secret=secret,
        segments=segments,
        cost_vnd=sms_cost_vnd(segments),
        expires_at=expires_at,
        facility=facility,
        subject_ref=subject_ref,
        next_attempt_at=now,
    )
    if channel == Channel.ZNS:
        message.template_id = template_id
        message.template_data = {str(k): str(v) for k, v in (zns_data or {"content": body}).items()}
        message.cost_vnd = int(settings.ZNS_COST_VND)
        message.fallback_at = now + _fallback_after()
    if secret:
        message.body_encrypted = crypto.encrypt(text)
    else:
        message.body = text
    message.save()
    transaction.on_commit(lambda: _queue_send(message.pk))
    return message


def message_channel(*, to: str, kind: str, secret: bool = False) -> tuple[str, str]:
    """(channel, ZNS template id) for a message: ZNS where configured (enabled, a template for the kind)
    and chosen by the number's holder; SMS otherwise and always for a secret. No query unless ZNS is on."""
    if secret or not zns_available():
        return Channel.SMS, ""
    template_id = settings.ZNS_TEMPLATES.get(kind, "")
    if not template_id or contact_channel(phone=to) != Channel.ZNS:
        return Channel.SMS, ""
    return Channel.ZNS, template_id


def _fallback_after() -> timedelta:
    return timedelta(minutes=max(int(settings.ZNS_FALLBACK_AFTER_MINUTES), 1))


def sms_cost_vnd(segments: int) -> int:
    """What `segments` SMS segments cost: segments x SMS_COST_PER_SEGMENT_VND (the brand-name contract's price)."""
    return segments * int(settings.SMS_COST_PER_SEGMENT_VND)


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


def _reconcile_after() -> timedelta:
    """How long an attempt may go unanswered before the gateway is asked about it: longer than any
    honest send (connect + read timeouts) so a live worker still waiting is never second-guessed."""
    return timedelta(seconds=max(settings.SMS_RECONCILE_AFTER_SECONDS, 3 * settings.ESMS_TIMEOUT))


def _body_of(message: OutboxMessage) -> str:
    """The text to send; raises InvalidToken when a secret body cannot be decrypted any more."""
    return crypto.decrypt(bytes(message.body_encrypted or b"")) if message.is_secret else message.body


def outbox_send(*, message_id: int) -> OutboxMessage | None:
    """Send one queued message at most once. Returns None if it is not due or another worker has it.

    Exactly-once does not rest on the gateway refusing a repeated request id:
    1. the attempt is recorded and committed first — status `sending`, `attempt_id` (the request id the
       gateway gets), `attempt_started_at` — under a row lock taken with SKIP LOCKED, so a second worker
       skips the message;
    2. the gateway is called outside any transaction;
    3. the answer is saved only if the row still holds this attempt. A refusal puts the message back with
       a growing delay (dead after SMS_MAX_ATTEMPTS or a permanent refusal); a failure that may have
       reached the gateway (timeout, dropped connection) — or a worker that died during the call — leaves
       it `sending`, and `outbox_reconcile_due` asks the gateway's status call before anything is resent.
    An expired message (an OTP nobody can use any more) is never sent. A secret body is wiped once the
    message leaves the queue for good (sent, dead or expired).
    """
    claimed = _attempt_begin(message_id)
    if claimed is None:
        return None
    message, body = claimed
    if body is None:  # expired or undecryptable: already closed
        return message
    if message.channel == Channel.ZNS:
        try:
            result = ZnsGateway().send_template(
                to=message.to,
                template_id=message.template_id,
                template_data=message.template_data,
                tracking_id=message.attempt_id,
            )
        except Exception as exc:  # noqa: BLE001 - recorded: the message falls back or waits for its report
            return _zns_failed(message, exc)
        return _attempt_sent(message, result.provider_message_id)
    gateway = get_gateway(message.gateway)
    try:
        result = gateway.send(to=message.to, body=body, kind=message.kind, reference=message.attempt_id)
    except Exception as exc:  # noqa: BLE001 - any failure must be recorded, or the sweeper loops forever
        return _attempt_failed(message, exc)
    return _attempt_sent(message, result.provider_message_id)


def _attempt_begin(message_id: int) -> tuple[OutboxMessage, str | None] | None:
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
            _expire(message)
            message.save()
            return message, None
        try:
            body = _body_of(message)
        except InvalidToken:  # SECRET_KEY changed since it was queued: nobody can ever read it again
            _give_up(message, "body cannot be decrypted (SECRET_KEY changed?)")
            message.save()
            return message, None
        if not message.attempt_id:
            # The first attempt is known by the message's public id (what delivery reports carry back);
            # an attempt after the gateway refused the previous id gets a fresh one.
            first = message.attempt_started_at is None
            message.attempt_id = str(message.public_id) if first else uuid.uuid4().hex
        message.attempts += 1
        message.gateway = ZnsGateway.name if message.channel == Channel.ZNS else get_gateway().name
        if message.channel == Channel.ZNS and message.attempts == 1:
            # The report is awaited from the first attempt on (a retry does not push the SMS further back).
            message.fallback_at = max(message.fallback_at or now, now + _fallback_after())
        message.status = MessageStatus.SENDING
        message.attempt_started_at = now
        message.status_checks = 0
        message.next_attempt_at = now + _reconcile_after()  # when to ask the gateway if no answer is saved
        message.save()
    return message, body


def _locked_attempt(message: OutboxMessage) -> OutboxMessage | None:
    """The message's row, locked, if it still holds this attempt (nobody reconciled it meanwhile)."""
    return (
        OutboxMessage.objects.select_for_update()
        .filter(pk=message.pk, status=MessageStatus.SENDING, attempt_id=message.attempt_id)
        .first()
    )


def _attempt_sent(message: OutboxMessage, provider_message_id: str) -> OutboxMessage:
    with transaction.atomic():
        current = _locked_attempt(message)
        if current is None:
            return OutboxMessage.objects.get(pk=message.pk)
        _mark_sent(current, provider_message_id, sent_at=timezone.now())
        current.save()
    outbox_apply_early_reports(message=current)
    return current


def _mark_sent(message: OutboxMessage, provider_message_id: str, *, sent_at: datetime) -> None:
    message.status = MessageStatus.SENT
    message.sent_at = sent_at
    message.provider_message_id = provider_message_id[:64]
    message.next_attempt_at = None
    message.last_error = ""
    message.body_encrypted = None


def _attempt_failed(message: OutboxMessage, exc: Exception) -> OutboxMessage:
    known = isinstance(exc, GatewayError)
    error = str(exc) if known else f"{exc.__class__.__name__}: {exc}"
    maybe_sent = exc.maybe_sent if isinstance(exc, GatewayError) else True
    log = logger.warning if known else logger.exception
    log("SMS %s to %s failed (attempt %s): %s", message.pk, mask_phone(message.to), message.attempts, error)
    with transaction.atomic():
        current = _locked_attempt(message)
        if current is None:
            return OutboxMessage.objects.get(pk=message.pk)
        now = timezone.now()
        current.last_error = error[:255]
        if maybe_sent:
            # The gateway may have the message: stay `sending`; the sweep asks it once the attempt is old
            # enough (next_attempt_at was set when the attempt began).
            current.last_error = f"result unknown: {error}"[:255]
        elif not getattr(exc, "retryable", True) or current.attempts >= settings.SMS_MAX_ATTEMPTS:
            _give_up(current, error)
        else:
            current.status = MessageStatus.FAILED
            current.next_attempt_at = now + _backoff(current.attempts)
        if getattr(exc, "answered", False):
            current.attempt_id = ""  # the gateway has answered about this id: the next attempt gets a new one
        current.save()
    return current


def _zns_failed(message: OutboxMessage, exc: Exception) -> OutboxMessage:
    """A ZNS attempt failed. Zalo refused it (no Zalo on the phone, template, quota, token...): the SMS goes
    now. It never reached Zalo (connection refused, 502/503): ZNS is tried again, unless the next try would
    come after the fallback time. It may have reached Zalo (timeout, lost answer): it stays `sending`; its
    delivery report settles it, or the SMS goes at `fallback_at`."""
    known = isinstance(exc, ZnsError)
    error = str(exc) if known else f"{exc.__class__.__name__}: {exc}"
    maybe_sent = exc.maybe_sent if isinstance(exc, GatewayError) else True
    (logger.warning if known else logger.exception)(
        "ZNS %s to %s failed (attempt %s): %s", message.pk, mask_phone(message.to), message.attempts, error
    )
    with transaction.atomic():
        current = _locked_attempt(message)
        if current is None:
            return OutboxMessage.objects.get(pk=message.pk)
        now = timezone.now()
        if maybe_sent:
            current.last_error = f"result unknown: {error}"[:255]
            current.next_attempt_at = (
                None  # no status call exists for ZNS: the report or the fallback settles it
            )
            current.save()
            return current
        retry_at = now + _backoff(current.attempts)
        retryable = isinstance(exc, GatewayError) and exc.retryable and not exc.answered
        if retryable and current.fallback_at and retry_at < current.fallback_at:
            current.status = MessageStatus.FAILED
            current.next_attempt_at = retry_at
            current.last_error = error[:255]
            current.save()
            return current
        why = "ZNS: số điện thoại không dùng Zalo" if getattr(exc, "no_zalo", False) else "ZNS lỗi"
        _fall_back(current, f"{why} ({error})", billed=False)
    return current


def _fall_back(message: OutboxMessage, reason: str, *, billed: bool) -> OutboxMessage | None:
    """Close a ZNS message (locked by the caller) and queue its text as one SMS. `billed` False: Zalo did
    not take it, so it costs nothing. An expired message is expired, not sent by SMS. Returns the SMS."""
    now = timezone.now()
    if message.expires_at and message.expires_at <= now:
        _expire(message)
        message.last_error = reason[:255]
        message.fallback_at = None
        message.save()
        return None
    message.status = MessageStatus.FELL_BACK
    message.last_error = reason[:255]
    message.next_attempt_at = None
    message.fallback_at = None
    if not billed:
        message.cost_vnd = 0
    message.save()
    sms = OutboxMessage.objects.create(
        channel=Channel.SMS,
        kind=message.kind,
        to=message.to,
        body=message.body,
        segments=message.segments,
        cost_vnd=sms_cost_vnd(message.segments),
        expires_at=message.expires_at,
        facility_id=message.facility_id,
        subject_ref=message.subject_ref,
        next_attempt_at=now,
        fallback_for=message,
    )
    logger.info("ZNS %s fell back to SMS %s: %s", message.pk, sms.pk, reason)
    transaction.on_commit(lambda: _queue_send(sms.pk))
    return sms


ZNS_OPEN_STATUSES = (MessageStatus.QUEUED, MessageStatus.FAILED, MessageStatus.SENDING, MessageStatus.SENT)


def zns_fallback_due(*, limit: int = 500) -> int:
    """ZNS messages with no delivery report by their `fallback_at`: each is closed and its text queued as
    one SMS, under the message's row lock (SKIP LOCKED: two sweeps, or a sweep and a late report, never
    both act on it). One that never reached Zalo costs nothing. Returns how many fell back."""
    now = timezone.now()
    ids = list(
        OutboxMessage.objects.filter(channel=Channel.ZNS, status__in=ZNS_OPEN_STATUSES, fallback_at__lte=now)
        .order_by("fallback_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    minutes = int(settings.ZNS_FALLBACK_AFTER_MINUTES)
    for message_id in ids:
        with transaction.atomic():
            message = (
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(pk=message_id, status__in=ZNS_OPEN_STATUSES, fallback_at__lte=timezone.now())
                .first()
            )
            if message is None:  # delivered, or taken by another worker, meanwhile
                continue
            billed = message.status in (MessageStatus.SENT, MessageStatus.SENDING)
            reason = f"ZNS: không có báo đã nhận sau {minutes} phút" if billed else "ZNS: chưa gửi được"
            _fall_back(message, reason, billed=billed)
            done += 1
    return done


def zns_report_apply(*, event: ZnsEvent) -> int:
    """A ZNS delivery event (user_received_message): the message reached the phone. Found by Zalo's msg_id
    or by our tracking id; a repeat changes nothing; one that came before the message was saved as sent
    waits as an early report. Returns how many messages it settled."""
    return outbox_mark_delivered(
        provider_message_id=event.msg_id, delivered=True, reference=event.tracking_id
    )


def _expire(message: OutboxMessage) -> None:
    message.status = MessageStatus.EXPIRED
    message.next_attempt_at = None
    message.body_encrypted = None


def _give_up(message: OutboxMessage, error: str) -> None:
    message.status = MessageStatus.DEAD
    message.last_error = error[:255]
    message.next_attempt_at = None
    message.body_encrypted = None


def outbox_reconcile_due(*, limit: int = 200) -> int:
    """Attempts whose result is unknown and whose check is due: ask each gateway whether it has their
    messages, then, per message: found → sent (or delivered / undelivered, if the gateway already knows);
    certainly absent → queued again under the same request id (or expired / dead if its time or its
    attempts are up); unknown → asked again later with a growing delay. Never resent blindly.
    Returns how many messages left `sending`."""
    due = list(
        OutboxMessage.objects.filter(status=MessageStatus.SENDING, next_attempt_at__lte=timezone.now())
        .exclude(channel=Channel.ZNS)  # no status call: the delivery report or the fallback settles it
        .order_by("pk")[:limit]
    )
    by_gateway: dict[str, list[tuple[OutboxMessage, Attempt]]] = {}
    for message in due:
        try:
            body = _body_of(message)
        except InvalidToken:
            body = ""  # SECRET_KEY changed: only a gateway that looks up by reference can still find it
        attempt = Attempt(
            reference=message.attempt_id,
            to=message.to,
            body=body,
            started_at=message.attempt_started_at or message.updated_at,
        )
        by_gateway.setdefault(message.gateway or settings.SMS_BACKEND, []).append((message, attempt))
    settled = 0
    for name, pairs in by_gateway.items():
        try:
            statuses = get_gateway(name).status([attempt for _, attempt in pairs])
        except Exception:  # noqa: BLE001 - an unanswerable question is "unknown", asked again later
            logger.exception("gateway %s status query failed", name)
            statuses = {}
        for message, attempt in pairs:
            settled += _reconcile_one(message, statuses.get(attempt.reference, UNKNOWN))
    return settled


def _reconcile_one(message: OutboxMessage, status: AttemptStatus) -> int:
    with transaction.atomic():
        current = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(
                pk=message.pk,
                status=MessageStatus.SENDING,
                attempt_id=message.attempt_id,
                next_attempt_at__lte=timezone.now(),
            )
            .first()
        )
        if current is None:  # answered, reported or reconciled meanwhile
            return 0
        now = timezone.now()
        record = _unclaimed_match(current, status.matches) if status.state == "found" else None
        if status.state == "found" and record is None:
            status = AttemptStatus("absent")  # every match is another message of ours
        if status.state == "unknown":
            current.status_checks += 1
            current.next_attempt_at = now + _backoff(current.status_checks)
            current.last_error = f"result unknown; gateway asked {current.status_checks} time(s)"
            current.save()
            return 0
        if record is not None:
            _mark_sent(current, record.provider_message_id, sent_at=current.attempt_started_at or now)
            if record.delivered is True:
                current.status, current.delivered_at = MessageStatus.DELIVERED, now
            elif record.delivered is False:
                current.status, current.last_error = MessageStatus.DEAD, record.error[:255] or "undelivered"
            current.save()
            logger.info("SMS %s: the gateway had it (%s); not resent", current.pk, record.provider_message_id)
        elif current.expires_at and current.expires_at <= now:
            _expire(current)
            current.save()
        elif current.attempts >= settings.SMS_MAX_ATTEMPTS:
            _give_up(current, f"not sent after {current.attempts} attempts")
            current.save()
        else:
            # The gateway never got it: send again, under the same request id (should the lost request
            # still arrive, a gateway that refuses repeats refuses it).
            current.status = MessageStatus.QUEUED
            current.next_attempt_at = now
            current.last_error = "the gateway never got it: sent again"
            current.save()
    if current.status == MessageStatus.SENT:
        outbox_apply_early_reports(message=current)
    return 1


def _unclaimed_match(message: OutboxMessage, matches: tuple[GatewayRecord, ...]) -> GatewayRecord | None:
    """The first of the gateway's records that is not already another message of ours."""
    ids = [record.provider_message_id for record in matches if record.provider_message_id]
    claimed = set(
        OutboxMessage.objects.filter(provider_message_id__in=ids)
        .exclude(pk=message.pk)
        .values_list("provider_message_id", flat=True)
    )
    for record in matches:
        if not record.provider_message_id or record.provider_message_id not in claimed:
            return record
    return None


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
FINAL_STATUSES = (MessageStatus.DELIVERED, MessageStatus.DEAD, MessageStatus.EXPIRED, MessageStatus.FELL_BACK)


def _report_match(provider_message_id: str, reference: str) -> Q:
    match = Q(provider_message_id=provider_message_id) if provider_message_id else Q(pk__in=[])
    if reference:
        match |= Q(attempt_id=reference)
    with contextlib.suppress(ValueError):
        match |= Q(public_id=uuid.UUID(reference))
    return match


def _apply_report(*, match: Q, delivered: bool, error: str, provider_message_id: str = "") -> int:
    """A final report settles a sent message, or one still `sending` (the gateway's report is proof it
    took the attempt: the sender's late answer, or the reconciliation, then finds nothing to do)."""
    now = timezone.now()
    final: dict[str, Any] = (
        {"status": MessageStatus.DELIVERED, "delivered_at": now}
        if delivered
        else {"status": MessageStatus.DEAD, "last_error": error[:255] or "undelivered"}
    )
    updated = OutboxMessage.objects.filter(match, status=MessageStatus.SENT).update(updated_at=now, **final)
    sending = OutboxMessage.objects.filter(match, status=MessageStatus.SENDING)
    if provider_message_id:
        final["provider_message_id"] = provider_message_id[:64]
    updated += sending.update(updated_at=now, sent_at=now, next_attempt_at=None, body_encrypted=None, **final)
    if delivered:  # a ZNS message that reached the phone after its SMS fallback went: recorded, nothing else
        updated += OutboxMessage.objects.filter(
            match, status=MessageStatus.FELL_BACK, delivered_at__isnull=True
        ).update(updated_at=now, delivered_at=now)
    return updated


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
    matched = _apply_report(
        match=match, delivered=delivered, error=error, provider_message_id=provider_message_id
    )
    if matched:
        return matched
    already_final = OutboxMessage.objects.filter(match, status__in=FINAL_STATUSES).exists()
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
        if message.attempt_id:
            by_message |= Q(reference=message.attempt_id)
        if message.provider_message_id:
            by_message |= Q(provider_message_id=message.provider_message_id)
        pending = pending.filter(by_message)
    applied = 0
    for report in pending[:1000]:
        matched = _apply_report(
            match=_report_match(report.provider_message_id, report.reference),
            delivered=report.delivered,
            error=report.error,
            provider_message_id=report.provider_message_id,
        )
        if (
            matched
            or OutboxMessage.objects.filter(
                _report_match(report.provider_message_id, report.reference),
                status__in=FINAL_STATUSES,
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


def outbox_may_requeue(message: OutboxMessage) -> bool:
    """Whether staff's "Gửi lại" is open on this message (failed or dead); the one rule for the desk's
    button and for outbox_requeue."""
    return message.status in REQUEUEABLE_STATUSES


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
    if not outbox_may_requeue(locked):
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
    locked.attempt_id = ""  # a new request: the gateway may remember (and refuse) the old id
    locked.next_attempt_at = timezone.now()
    locked.save(update_fields=["status", "attempts", "attempt_id", "next_attempt_at", "updated_at"])
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


# --- The recipient's channel -----------------------------------------------------------------------------


@transaction.atomic
def contact_channel_set(*, phone: str, channel: str, actor: Any) -> ContactPreference:
    """Record how the holder of `phone` wants notices (SMS or Zalo ZNS), audited. Zalo may be chosen only
    where ZNS is configured; SMS always. The caller has checked that the actor holds the number."""
    from health_f0.core.audit import audit_log
    from health_f0.core.models import AuditLog

    if channel not in Channel.values:
        raise DomainError(_("Kênh nhận tin không hợp lệ."), code="invalid_channel", field="channel")
    if channel == Channel.ZNS and not zns_available():
        raise DomainError(
            _("Chưa thể nhận tin qua Zalo: Sở Y tế chưa bật kênh Zalo."),
            code="zns_unavailable",
            field="channel",
        )
    if not phone:
        raise DomainError(_("Tài khoản chưa có số điện thoại."), code="no_phone", field="channel")
    preference = ContactPreference.objects.select_for_update().filter(phone=phone).first()
    previous = preference.channel if preference else Channel.SMS
    if preference is None:
        preference = ContactPreference(phone=phone)
    preference.channel = channel
    preference.save()
    if previous != channel:
        audit_log(
            actor=actor,
            action=AuditLog.Action.UPDATE,
            verb="notification_channel",
            target=preference,
            data={"from": previous, "to": channel},
        )
    return preference


# --- Outbox age alert ---------------------------------------------------------------------------------


def outbox_age_check() -> str:
    """Compare the age of the outbox's oldest waiting message with OUTBOX_ALERT_MINUTES.

    Over it with no open alert: an OutboxAlert is raised, audited (on the Sở Y tế, so its managers and
    administrators see it in the desk's audit log), logged as an ERROR, and every active administrator and
    superuser with a phone number is texted once. Still over: the alert's peak is updated, nobody is texted again. Back under it: the alert
    is cleared, audited, and the same administrators are told. Returns "raised", "open", "cleared" or
    "ok". The texts go through the outbox like any SMS but are queued as their own job, not behind the
    backlog (the sweep is not needed to send them).
    """
    from health_f0.core.audit import audit_log
    from health_f0.core.models import AuditLog
    from health_f0.notifications.models import OutboxAlert
    from health_f0.notifications.selectors import outbox_backlog

    threshold = settings.OUTBOX_ALERT_MINUTES
    backlog = outbox_backlog()
    too_old = backlog.oldest is not None and backlog.age_minutes >= threshold
    with transaction.atomic():
        alert = (
            OutboxAlert.objects.select_for_update()
            .filter(cleared_at__isnull=True)
            .order_by("-raised_at")
            .first()
        )
        data = {"oldest_age_minutes": backlog.age_minutes, "waiting": backlog.waiting, "threshold": threshold}
        if too_old and alert is None:
            alert = OutboxAlert.objects.create(
                raised_at=timezone.now(),
                threshold_minutes=threshold,
                oldest_age_minutes=backlog.age_minutes,
                peak_age_minutes=backlog.age_minutes,
                waiting_count=backlog.waiting,
            )
            logger.error(
                "SMS outbox backlog: the oldest waiting message is %s min old (%s waiting, %s unknown); "
                "threshold %s min",
                backlog.age_minutes,
                backlog.waiting,
                backlog.unknown,
                threshold,
            )
            alert.administrators_notified = _text_administrators(
                f"health_f0: hop thu SMS dang cham, tin cho lau nhat {backlog.age_minutes} phut "
                f"({backlog.waiting} tin dang cho). Kiem tra tien trinh gui tin (run_huey) va cong SMS.",
                subject_ref=f"outbox-alert:{alert.pk}",
            )
            alert.save(update_fields=["administrators_notified", "updated_at"])
            audit_log(
                actor=None,
                action=AuditLog.Action.ALERT,
                verb="outbox_alert_raise",
                target=alert,
                facility=_province(),
                data=data,
            )
            return "raised"
        if too_old and alert is not None:
            if backlog.age_minutes > alert.peak_age_minutes:
                alert.peak_age_minutes = backlog.age_minutes
                alert.save(update_fields=["peak_age_minutes", "updated_at"])
            return "open"
        if alert is not None:
            alert.cleared_at = timezone.now()
            alert.save(update_fields=["cleared_at", "updated_at"])
            logger.warning(
                "SMS outbox backlog back under %s min (oldest %s min)", threshold, backlog.age_minutes
            )
            _text_administrators(
                f"health_f0: hop thu SMS da tro lai binh thuong (tin cho lau nhat {backlog.age_minutes} phut, "
                f"dot cham lau nhat {alert.peak_age_minutes} phut).",
                subject_ref=f"outbox-alert:{alert.pk}",
            )
            audit_log(
                actor=None,
                action=AuditLog.Action.ALERT,
                verb="outbox_alert_clear",
                target=alert,
                facility=_province(),
                data=data,
            )
            return "cleared"
    return "ok"


def _province() -> Any:
    from health_f0.facilities.models import Facility, FacilityKind

    return Facility.objects.filter(kind=FacilityKind.DEPARTMENT_OF_HEALTH).order_by("pk").first()


def _text_administrators(body: str, *, subject_ref: str) -> int:
    """Queue `body` to every active administrator and superuser with a phone (once per number), as the OTP
    budget alert does (patients.otp); returns how many numbers."""
    from health_f0.core.models import User
    from health_f0.facilities.models import Membership, Role
    from health_f0.notifications.models import MessageKind

    memberships = (
        Membership.objects.filter(role=Role.ADMINISTRATOR, is_active=True, user__is_active=True)
        .exclude(user__phone="")
        .select_related("user", "facility")
        .order_by("pk")
    )
    recipients: dict[str, Any] = {}
    for membership in memberships:
        recipients.setdefault(membership.user.phone, membership.facility)
    province = _province()
    for user in User.objects.filter(is_superuser=True, is_active=True).exclude(phone="").order_by("pk"):
        recipients.setdefault(user.phone, province)
    for phone, facility in recipients.items():
        sms_enqueue(
            to=phone, body=body, kind=MessageKind.STAFF_ALERT, facility=facility, subject_ref=subject_ref
        )
    return len(recipients)
