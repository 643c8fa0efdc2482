"""Writes of scheduled report e-mails: save or delete a subscription, create the due deliveries, send one.

Guarantees:

- A subscription is for a facility its owner may see the report of, as a manager or an administrator there
  (facilities.access), checked when it is saved AND each time it is sent: an owner who lost the right gets
  nothing sent, the delivery fails with the reason (not retried) and the subscription shows it
  (`blocked_reason`) until a later period goes out again.
- A period is sent once per subscription: the scheduled delivery row is unique on (subscription, period,
  sequence 0), and a row moves queued → sending under a row lock, so two workers finding the same due
  subscription send one e-mail. A worker that died while sending leaves a "sending" row that is retried after
  SENDING_LEASE (at worst a second e-mail, never none).
- A failed send is retried with back-off (BACKOFF) up to MAX_ATTEMPTS; the desk's "Gửi thử ngay" sends at
  once as a new row of the same period (sequence 1, 2, ...), recorded with who asked.
- The report is built by its family's selector as the owner: the same data and scope as the report page.
  Each e-mail sent is an audit row (action EXPORT, verb "email_report") at the subscription's facility.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.audit import audit_log
from health_f0.core.exceptions import DomainError, NotFound, PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind, Membership
from health_f0.reports.subscriptions import periods
from health_f0.reports.subscriptions.models import (
    DeliveryState,
    Format,
    Period,
    ReportDelivery,
    ReportSubscription,
)
from health_f0.reports.subscriptions.registry import entry_for

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# The wait after attempt n (1-based) failed, before attempt n + 1.
BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
)
SENDING_LEASE = timedelta(minutes=10)
# Like Frappe's max_reports_per_user: a mailbox, not a mailing list.
MAX_SUBSCRIPTIONS_PER_OWNER = 20
MAX_RECIPIENTS = 10
MORNING_TIME = "07:00"


# --- Who may receive, and may the owner still see it ----------------------------------------------------------


def recipients_parse(raw: str) -> list[str]:
    """Addresses separated by commas, semicolons, spaces or lines -> lower-case, unique, in order. Raises
    DomainError (field "recipients") naming the first address that is not an e-mail address."""
    result: list[str] = []
    for part in raw.replace(";", ",").replace("\n", ",").replace(" ", ",").split(","):
        address = part.strip().lower()
        if not address:
            continue
        try:
            validate_email(address)
        except DjangoValidationError:
            raise DomainError(
                _("“%(address)s” không phải địa chỉ e-mail hợp lệ.") % {"address": address[:80]},
                code="recipient_invalid",
                field="recipients",
            ) from None
        if address not in result:
            result.append(address)
    if len(result) > MAX_RECIPIENTS:
        raise DomainError(
            _("Tối đa %(n)s người nhận khác.") % {"n": MAX_RECIPIENTS}, code="too_many", field="recipients"
        )
    return result


def _colleague_emails(facility: Facility, addresses: list[str]) -> set[str]:
    """Of `addresses`, those of active accounts that are managers or administrators at `facility` or above."""
    if not addresses:
        return set()
    above = [int(pk) for pk in facility.path.strip("/").split("/") if pk]
    found = Membership.objects.filter(
        is_active=True,
        role__in=access.REPORT_SUBSCRIPTION_ROLES,
        facility_id__in=above,
        user__is_active=True,
    )
    matches = Q()
    for address in addresses:
        matches |= Q(user__email__iexact=address)
    found = found.filter(matches)
    return {email.lower() for email in found.values_list("user__email", flat=True) if email}


def recipient_refusals(subscription: ReportSubscription) -> list[str]:
    """The extra recipients that may not receive this report: not at an allowed domain
    (settings.REPORT_EMAIL_ALLOWED_DOMAINS) and not the account e-mail of a manager or administrator of the
    facility (or above)."""
    allowed_domains = set(settings.REPORT_EMAIL_ALLOWED_DOMAINS)
    extra = [a for a in subscription.extra_recipients if a != (subscription.owner.email or "").lower()]
    outside = [a for a in extra if a.rsplit("@", 1)[-1] not in allowed_domains]
    colleagues = _colleague_emails(subscription.facility, outside)
    return [a for a in outside if a not in colleagues]


def subscription_refusal(subscription: ReportSubscription) -> str | None:
    """Why this subscription may not be sent now (None: it may): the owner's account, their role at the
    facility, their right to the report there. The same rules when saving and when sending."""
    owner, facility = subscription.owner, subscription.facility
    try:
        entry = entry_for(subscription.report)
    except KeyError:
        return _("Báo cáo “%(report)s” không còn được hỗ trợ.") % {"report": subscription.report}
    if not owner.is_active:
        return _("Tài khoản người đăng ký đã bị khoá.")
    if not facility.is_active:
        return _("Cơ sở %(facility)s đã ngừng hoạt động.") % {"facility": facility.name}
    if not access.can_act_at(owner, facility, access.REPORT_SUBSCRIPTION_ROLES):
        return _("%(user)s không còn là lãnh đạo/quản trị tại %(facility)s.") % {
            "user": owner.get_username(),
            "facility": facility.name,
        }
    if facility.pk not in {f.pk for f in entry.facilities(owner)}:
        return _("%(user)s không còn quyền xem %(report)s của %(facility)s.") % {
            "user": owner.get_username(),
            "report": entry.label,
            "facility": facility.name,
        }
    return None


def all_recipients(subscription: ReportSubscription) -> list[str]:
    """The owner's account e-mail (when set), then the extra recipients allowed now."""
    refused = set(recipient_refusals(subscription))
    owner = (subscription.owner.email or "").lower()
    result = [owner] if owner else []
    return result + [a for a in subscription.extra_recipients if a not in refused and a not in result]


# --- Subscriptions ----------------------------------------------------------------------------------------------


def subscription_validate(*, subscription: ReportSubscription) -> None:
    """Check a subscription before saving it. Raises DomainError naming the field at fault."""
    try:
        entry_for(subscription.report)
    except KeyError:
        raise DomainError(
            _("Chọn một báo cáo trong danh sách."), code="report_unknown", field="report"
        ) from None
    if subscription.period not in Period.values:
        raise DomainError(_("Chọn chu kỳ gửi."), code="period_invalid", field="period")
    if subscription.format not in Format.values:
        raise DomainError(_("Chọn định dạng."), code="format_invalid", field="format")
    refusal = subscription_refusal(subscription)
    if refusal:
        raise DomainError(refusal, code="scope", field="facility")
    subscription.recipients = ",".join(recipients_parse(subscription.recipients or ""))
    refused = recipient_refusals(subscription)
    if refused:
        raise DomainError(
            _(
                "Không gửi báo cáo ra ngoài: %(addresses)s không phải e-mail tài khoản của lãnh đạo/quản trị "
                "cơ sở này, cũng không thuộc tên miền được phép."
            )
            % {"addresses": ", ".join(refused)},
            code="recipient_outside",
            field="recipients",
        )
    if not all_recipients(subscription):
        raise DomainError(
            _("Chưa có người nhận: tài khoản của bạn chưa có e-mail; nhập ít nhất một địa chỉ."),
            code="no_recipient",
            field="recipients",
        )
    others = ReportSubscription.objects.filter(owner=subscription.owner).exclude(pk=subscription.pk)
    if others.count() >= MAX_SUBSCRIPTIONS_PER_OWNER:
        raise DomainError(
            _("Mỗi người đăng ký tối đa %(n)s báo cáo.") % {"n": MAX_SUBSCRIPTIONS_PER_OWNER}, code="too_many"
        )


def _may_manage(actor: Any, subscription: ReportSubscription) -> bool:
    if subscription.pk is None:
        return bool(subscription.owner_id == actor.pk or actor.is_superuser)
    return access.report_subscriptions_for(actor).filter(pk=subscription.pk).exists()


def _audit_data(subscription: ReportSubscription) -> dict[str, Any]:
    return {
        "report": subscription.report,
        "period": subscription.period,
        "format": subscription.format,
        "send_time": subscription.send_time.strftime("%H:%M"),
        "recipients": len(subscription.extra_recipients),
        "active": subscription.is_active,
        "owner": subscription.owner.get_username(),
    }


@transaction.atomic
def subscription_save(*, subscription: ReportSubscription, actor: Any) -> ReportSubscription:
    """Create or change a subscription (the owner, an administrator of its facility, or a superuser). Validates
    (subscription_validate), clears a past refusal, saves and audits."""
    if not access.roles_of(actor) & access.REPORT_SUBSCRIPTION_ROLES and not actor.is_superuser:
        raise PermissionDenied(_("Chỉ lãnh đạo và quản trị được đăng ký nhận báo cáo."))
    if not _may_manage(actor, subscription):
        raise NotFound(_("Không tìm thấy đăng ký."))
    created = subscription.pk is None
    subscription_validate(subscription=subscription)
    subscription.blocked_reason, subscription.blocked_at = "", None
    subscription.full_clean(exclude=["owner", "facility"])
    subscription.save()
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE if created else AuditLog.Action.UPDATE,
        verb="report_subscription_save",
        target=subscription,
        facility=subscription.facility,
        data=_audit_data(subscription),
    )
    return subscription


@transaction.atomic
def subscription_delete(*, subscription: ReportSubscription, actor: Any) -> None:
    if not _may_manage(actor, subscription):
        raise NotFound(_("Không tìm thấy đăng ký."))
    audit_log(
        actor=actor,
        action=AuditLog.Action.DELETE,
        verb="report_subscription_delete",
        target=subscription,
        facility=subscription.facility,
        data=_audit_data(subscription),
    )
    subscription.delete()


def default_facility(owner: Any) -> Facility | None:
    """The TTYT (else hospital, else Sở Y tế) where `owner` is a manager or an administrator: the morning
    report's scope."""
    from health_f0.reports.subscriptions.families import morning_facilities

    held = set(
        Membership.objects.filter(
            user=owner, is_active=True, role__in=access.REPORT_SUBSCRIPTION_ROLES
        ).values_list("facility_id", flat=True)
    )
    candidates = [f for f in morning_facilities(owner) if f.pk in held] or morning_facilities(owner)
    for kind in (FacilityKind.HEALTH_CENTRE, FacilityKind.HOSPITAL, FacilityKind.DEPARTMENT_OF_HEALTH):
        for facility in candidates:
            if facility.kind == kind:
                return Facility.objects.get(pk=facility.pk)
    return None


def subscription_default_create(
    *, owner: Any, actor: Any, facility: Facility | None = None
) -> ReportSubscription:
    """The morning report ("Báo cáo sáng") for a TTYT director: every day at 07:00, yesterday's bookings by
    channel, accounts linked against the 80 % target, no-shows and (while home care runs) the home-care counts,
    as an HTML summary to the owner's e-mail. Returns the existing one when the owner already has it."""
    from health_f0.reports.subscriptions.families import MORNING

    facility = facility or default_facility(owner)
    if facility is None:
        raise PermissionDenied(_("Báo cáo sáng dành cho lãnh đạo/quản trị của TTYT, bệnh viện hoặc Sở Y tế."))
    existing = ReportSubscription.objects.filter(owner=owner, report=MORNING, facility=facility).first()
    if existing is not None:
        return existing
    subscription = ReportSubscription(
        owner=owner,
        name=_("Báo cáo sáng — %(facility)s") % {"facility": facility.name},
        report=MORNING,
        facility=facility,
        period=Period.DAILY,
        format=Format.HTML,
        send_time=datetime.strptime(MORNING_TIME, "%H:%M").time(),
    )
    return subscription_save(subscription=subscription, actor=actor)


# --- Deliveries -------------------------------------------------------------------------------------------------


def deliveries_create_due(*, now: datetime | None = None) -> list[int]:
    """Create the scheduled delivery (sequence 0) of every active subscription whose last complete period is
    due and has none yet; returns the new rows' ids. A period due before the subscription existed is not
    sent (a new subscription starts with the next one). Safe to run in several workers at once: the unique
    row is created once, the others see it."""
    now = now or timezone.now()
    created: list[int] = []
    for subscription in ReportSubscription.objects.filter(is_active=True).only(
        "id", "period", "send_time", "created_at"
    ):
        start, end, due = periods.due_period(subscription.period, subscription.send_time, now)
        if now < due or due < subscription.created_at:
            continue
        if ReportDelivery.objects.filter(subscription=subscription, period_start=start, sequence=0).exists():
            continue
        try:
            with transaction.atomic():
                delivery = ReportDelivery.objects.create(
                    subscription=subscription, period_start=start, period_end=end, sequence=0
                )
        except IntegrityError:  # another worker created it a moment ago
            continue
        created.append(delivery.pk)
    return created


def deliveries_due_ids(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Deliveries to send now: queued ones, failed ones whose retry time has come, and ones left "sending" by a
    worker that died (older than SENDING_LEASE)."""
    now = now or timezone.now()
    due = (
        Q(state=DeliveryState.QUEUED)
        | Q(state=DeliveryState.FAILED, next_attempt_at__lte=now)
        | Q(state=DeliveryState.SENDING, attempt_started_at__lt=now - SENDING_LEASE)
    )
    return list(
        ReportDelivery.objects.filter(due, subscription__is_active=True)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def _claim(delivery_id: int, now: datetime, *, force: bool) -> ReportDelivery | None:
    """Move the delivery to "sending" under its row lock; None when it is not this worker's to send (sent, being
    sent, or not yet due for a retry)."""
    with transaction.atomic():
        delivery = ReportDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.state == DeliveryState.SENT:
            return None
        if delivery.state == DeliveryState.SENDING and (
            delivery.attempt_started_at and delivery.attempt_started_at >= now - SENDING_LEASE
        ):
            return None
        waiting = delivery.next_attempt_at is None or delivery.next_attempt_at > now
        if delivery.state == DeliveryState.FAILED and not force and waiting:
            return None
        delivery.state = DeliveryState.SENDING
        delivery.attempts += 1
        delivery.attempt_started_at = now
        delivery.save(update_fields=["state", "attempts", "attempt_started_at", "updated_at"])
        return delivery


def _finish_failed(delivery: ReportDelivery, error: str, *, retry: bool, now: datetime) -> None:
    delivery.state = DeliveryState.FAILED
    delivery.last_error = error[:500]
    delivery.next_attempt_at = (
        now + BACKOFF[min(delivery.attempts, len(BACKOFF)) - 1]
        if retry and delivery.attempts < MAX_ATTEMPTS
        else None
    )
    delivery.save(update_fields=["state", "last_error", "next_attempt_at", "updated_at"])


def _block(subscription: ReportSubscription, reason: str, now: datetime) -> None:
    ReportSubscription.objects.filter(pk=subscription.pk).update(
        blocked_reason=reason[:300], blocked_at=now, updated_at=now
    )


def delivery_send(*, delivery_id: int, now: datetime | None = None, force: bool = False) -> str:
    """Send one delivery if it is this worker's to send (see _claim); returns its state afterwards. Never
    raises for a failed send: the row records the error and when it will be retried."""
    from health_f0.reports.subscriptions.mail import ReportUnavailable, compose

    now = now or timezone.now()
    delivery = _claim(delivery_id, now, force=force)
    if delivery is None:
        return ReportDelivery.objects.filter(pk=delivery_id).values_list("state", flat=True).first() or ""
    # A fresh owner object: the access checks read the memberships as they are now.
    subscription = ReportSubscription.objects.select_related("owner", "facility").get(
        pk=delivery.subscription_id
    )
    refusal = subscription_refusal(subscription)
    recipients = all_recipients(subscription) if refusal is None else []
    if refusal is None and not recipients:
        refusal = _("Không có người nhận: tài khoản người đăng ký chưa có e-mail.")
    if refusal is not None:
        _finish_failed(delivery, refusal, retry=False, now=now)
        _block(subscription, refusal, now)
        return delivery.state
    try:
        message = compose(subscription=subscription, delivery=delivery, recipients=recipients)
        message.send(fail_silently=False)
    except ReportUnavailable as exc:
        _finish_failed(delivery, str(exc), retry=False, now=now)
        _block(subscription, str(exc), now)
        return delivery.state
    except Exception as exc:  # noqa: BLE001 - SMTP, network, rendering: recorded and retried
        logger.warning("report delivery %s failed: %s", delivery.pk, type(exc).__name__)
        _finish_failed(delivery, f"{type(exc).__name__}: {exc}", retry=True, now=now)
        return delivery.state
    with transaction.atomic():
        delivery.state = DeliveryState.SENT
        delivery.sent_at = timezone.now()
        delivery.last_error = ""
        delivery.next_attempt_at = None
        delivery.sent_to = ", ".join(recipients)
        delivery.message_id = str(message.extra_headers.get("Message-ID", ""))[:200]
        delivery.save(
            update_fields=[
                "state",
                "sent_at",
                "last_error",
                "next_attempt_at",
                "sent_to",
                "message_id",
                "updated_at",
            ]
        )
        if subscription.blocked_reason:
            ReportSubscription.objects.filter(pk=subscription.pk).update(blocked_reason="", blocked_at=None)
        audit_log(
            actor=subscription.owner,
            action=AuditLog.Action.EXPORT,
            verb="email_report",
            target=delivery,
            facility=subscription.facility,
            data={
                "report": subscription.report,
                "from": delivery.period_start.isoformat(),
                "to": delivery.period_end.isoformat(),
                "format": subscription.format,
                "recipients": len(recipients),
                "subscription": subscription.pk,
                "requested_by": delivery.requested_by.get_username() if delivery.requested_by else None,
            },
        )
    return delivery.state


def delivery_send_now(*, subscription: ReportSubscription, actor: Any) -> ReportDelivery:
    """ "Gửi thử ngay": a new delivery of the last complete period (the next sequence), sent at once in this
    request; a failure is recorded on the row and retried like any other. Returns the row."""
    if not _may_manage(actor, subscription):
        raise NotFound(_("Không tìm thấy đăng ký."))
    start, end, _due = periods.due_period(subscription.period, subscription.send_time, timezone.now())
    with transaction.atomic():
        ReportSubscription.objects.select_for_update().filter(pk=subscription.pk).first()
        last = ReportDelivery.objects.filter(subscription=subscription, period_start=start).aggregate(
            n=Max("sequence")
        )["n"]
        delivery = ReportDelivery.objects.create(
            subscription=subscription,
            period_start=start,
            period_end=end,
            sequence=max(last or 0, 0) + 1,
            requested_by=actor,
        )
    delivery_send(delivery_id=delivery.pk, force=True)
    delivery.refresh_from_db()
    return delivery
