"""Writes of accounting: a day's reconciliation (built from the gateway's settlement lines), the resolution of
each difference, closing the day, and a refund the accountant made by hand. Each checks the actor is an
accountant (ACCOUNTANT_ROLES) at the record's facility, runs in one transaction under the row's lock, and
writes an audit row (who, when, what, why)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.accounting.models import (
    DIFFERENCE_KINDS,
    RESOLUTION_CHOICES,
    ItemKind,
    Reconciliation,
    ReconciliationItem,
    ReconciliationState,
    Resolution,
    Source,
)
from health_f0.accounting.selectors import account_payments, day_payments
from health_f0.accounting.settlement import SettlementLine
from health_f0.accounting.transitions import RECONCILIATION_WORKFLOW
from health_f0.core.audit import audit_log
from health_f0.core.exceptions import Conflict, DomainError, NotFound
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.payments.models import GatewayName, Payment, PaymentStatus, Refund, RefundStatus
from health_f0.payments.transitions import PAYMENT_WORKFLOW

REASON_MIN = 5


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise DomainError(_("Vui lòng ghi lý do (ít nhất 5 ký tự)."), code="reason_required", field="reason")
    return reason[:500]


@transaction.atomic
def reconciliation_run(
    *,
    facility: Facility,
    gateway: str,
    day: date,
    lines: Sequence[SettlementLine],
    skipped: int = 0,
    source: str = Source.FILE,
    file_name: str = "",
    actor: Any,
) -> Reconciliation:
    """Match the gateway's successful payment lines of `day` against our payments paid that day through
    `facility`'s account at `gateway`, by our reference:

    - matched: same reference, same amount;
    - amount mismatch: same reference, different amounts;
    - missing on their side: our paid payment the file does not have;
    - missing on our side: a line whose reference is not one of our payments of that day (unknown, paid
      another day, or never marked paid here; linked to our payment when the reference is ours), or a
      second line with a reference already matched.

    A day is reconciled again (a corrected file) only while it is open and none of its differences has been
    resolved; its items are rebuilt. Audited ("reconcile")."""
    access.require_role_at(actor, facility, access.ACCOUNTANT_ROLES)
    if gateway not in GatewayName.values:
        raise DomainError(_("Cổng thanh toán không hợp lệ."), field="gateway")
    if day > timezone.localdate():
        raise DomainError(_("Không thể đối soát một ngày chưa đến."), field="day")
    reconciliation, created = Reconciliation.objects.select_for_update().get_or_create(
        facility=facility, gateway=gateway, day=day, defaults={"source": source, "created_by": actor}
    )
    if not created:
        if reconciliation.state == ReconciliationState.CLOSED:
            raise Conflict(_("Ngày này đã chốt đối soát; không thể đối soát lại."), code="closed")
        if reconciliation.items.filter(kind__in=DIFFERENCE_KINDS).exclude(resolution="").exists():
            raise Conflict(
                _("Ngày này đã có chênh lệch được xử lý; không thể thay tệp đối soát."), code="resolved_items"
            )
        reconciliation.items.all().delete()

    ours = {p.reference: p for p in day_payments(facility=facility, gateway=gateway, day=day)}
    theirs_refs = {line.reference for line in lines}
    known = {
        p.reference: p
        for p in account_payments(facility=facility, gateway=gateway).filter(
            reference__in=theirs_refs - set(ours)
        )
    }
    items: list[ReconciliationItem] = []
    seen: set[str] = set()
    matched = 0
    for line in lines:
        payment = ours.get(line.reference)
        common = {
            "reconciliation": reconciliation,
            "their_reference": line.reference,
            "their_gateway_ref": line.gateway_ref,
            "their_amount": line.amount,
            "their_time": line.paid_at,
        }
        if payment is None or line.reference in seen:
            other = payment or known.get(line.reference)
            items.append(
                ReconciliationItem(
                    kind=ItemKind.MISSING_OURS,
                    payment=other,
                    our_amount=other.amount if other else None,
                    **common,
                )
            )
            continue
        seen.add(line.reference)
        same = payment.amount == line.amount
        matched += same
        items.append(
            ReconciliationItem(
                kind=ItemKind.MATCHED if same else ItemKind.AMOUNT_MISMATCH,
                payment=payment,
                our_amount=payment.amount,
                resolution=Resolution.MATCHED if same else "",
                **common,
            )
        )
    for reference, payment in ours.items():
        if reference not in seen:
            items.append(
                ReconciliationItem(
                    reconciliation=reconciliation,
                    kind=ItemKind.MISSING_THEIRS,
                    payment=payment,
                    our_amount=payment.amount,
                )
            )
    ReconciliationItem.objects.bulk_create(items)
    reconciliation.source = source
    reconciliation.file_name = file_name[:200]
    reconciliation.our_count = len(ours)
    reconciliation.our_total = sum(p.amount for p in ours.values())
    reconciliation.their_count = len(lines)
    reconciliation.their_total = sum(line.amount for line in lines)
    reconciliation.matched_count = matched
    reconciliation.skipped_count = skipped
    reconciliation.save()
    counts = {kind: sum(1 for item in items if item.kind == kind) for kind in ItemKind.values}
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE if created else AuditLog.Action.UPDATE,
        verb="reconcile",
        target=reconciliation,
        facility=facility,
        data={
            "gateway": gateway,
            "day": day.isoformat(),
            "source": source,
            "file": file_name[:200],
            "our_total": reconciliation.our_total,
            "their_total": reconciliation.their_total,
            "skipped": skipped,
            **counts,
        },
    )
    return reconciliation


def _locked_open(reconciliation: Reconciliation, actor: Any) -> Reconciliation:
    access.require_role_at(actor, reconciliation.facility, access.ACCOUNTANT_ROLES)
    locked = Reconciliation.objects.select_for_update().select_related("facility").get(pk=reconciliation.pk)
    if locked.state != ReconciliationState.OPEN:
        raise Conflict(_("Ngày này đã chốt đối soát."), code="closed")
    return locked


@transaction.atomic
def reconciliation_item_resolve(
    *, item: ReconciliationItem, actor: Any, resolution: str, reason: str
) -> ReconciliationItem:
    """Record how a difference was settled (a resolution and its reason), by whom and when; a resolution may
    be changed while the day is open (the audit keeps every one). Matched lines need none."""
    reconciliation = _locked_open(item.reconciliation, actor)
    item = ReconciliationItem.objects.select_for_update().get(pk=item.pk, reconciliation=reconciliation)
    if item.kind not in DIFFERENCE_KINDS:
        raise DomainError(_("Dòng này khớp; không cần xử lý."), code="matched")
    if resolution not in dict(RESOLUTION_CHOICES):
        raise DomainError(_("Vui lòng chọn cách xử lý."), code="resolution_required", field="resolution")
    reason = _reason(reason)
    previous = item.resolution
    item.resolution = resolution
    item.reason = reason
    item.resolved_by = actor
    item.resolved_at = timezone.now()
    item.save(update_fields=["resolution", "reason", "resolved_by", "resolved_at"])
    audit_log(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        verb="resolve_item",
        target=reconciliation,
        facility=reconciliation.facility,
        data={
            "item": item.pk,
            "kind": item.kind,
            "reference": item.their_reference or (item.payment.reference if item.payment else ""),
            "their_amount": item.their_amount,
            "our_amount": item.our_amount,
            "resolution": resolution,
            "previous": previous,
            "reason": reason,
        },
    )
    return item


@transaction.atomic
def reconciliation_close(*, reconciliation: Reconciliation, actor: Any) -> Reconciliation:
    """Close the day: only when every difference has been resolved (the workflow's open_items guard). Audited
    ("close")."""
    locked = Reconciliation.objects.select_for_update().select_related("facility").get(pk=reconciliation.pk)
    RECONCILIATION_WORKFLOW.apply(
        locked, "close", actor, fields={"closed_by": actor, "closed_at": timezone.now()}
    )
    return locked


@transaction.atomic
def reconciliation_reopen(*, reconciliation: Reconciliation, actor: Any, reason: str) -> Reconciliation:
    """Reopen a closed day (a settlement file corrected by the gateway, a resolution found wrong later): by an
    accountant of the facility, with a reason. The day's lines and resolutions stay; the audit keeps who closed
    it and when, who reopened it and why ("reopen"). It is closed again the usual way."""
    locked = (
        Reconciliation.objects.select_for_update()
        .select_related("facility", "closed_by")
        .get(pk=reconciliation.pk)
    )
    RECONCILIATION_WORKFLOW.check(locked, "reopen", actor)
    reason = _reason(reason)
    closed_by, closed_at = locked.closed_by, locked.closed_at
    RECONCILIATION_WORKFLOW.apply(
        locked,
        "reopen",
        actor,
        fields={"closed_by": None, "closed_at": None},
        audit={
            "reason": reason,
            "closed_by": closed_by.get_username() if closed_by else "",
            "closed_at": closed_at.isoformat() if closed_at else "",
        },
    )
    return locked


# Payments whose money the accountant gives back by hand (selectors.manual_refund_worklist).
MANUAL_REFUND_FROM: tuple[str, ...] = (PaymentStatus.REFUND_FAILED, PaymentStatus.REFUND_PENDING)


@transaction.atomic
def refund_mark_manual(*, payment: Payment, actor: Any, reference: str, reason: str) -> Payment:
    """ "Đã hoàn tiền thủ công": the accountant gave the money back outside the gateway (a bank transfer, cash at
    the counter) and records its reference. The payment goes from refund_failed (or a VietQR refund_pending)
    to refunded under its lock, its open refund is marked done with that reference, and the step is audited.

    The status moves by the payment workflow's `refund_manual` step (payments.transitions), which says who may
    take it and from which states; this service adds the refund row and the accountant's reference."""
    locked = Payment.objects.select_for_update().select_related("facility").get(pk=payment.pk)
    # Who and from which state, before the form is read: the workflow's table (payments.transitions).
    PAYMENT_WORKFLOW.check(locked, "refund_manual", actor)
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(
            _("Vui lòng nhập mã giao dịch chuyển tiền hoàn (hoặc số phiếu chi)."),
            code="reference_required",
            field="reference",
        )
    if len(reference) > 64:
        raise DomainError(_("Mã giao dịch hoàn tối đa 64 ký tự."), field="reference")
    reason = _reason(reason)
    now = timezone.now()
    refund = (
        Refund.objects.select_for_update()
        .filter(payment=locked, status__in=(RefundStatus.PENDING, RefundStatus.FAILED))
        .order_by("-requested_at", "-id")
        .first()
    )
    if refund is not None:
        refund.status = RefundStatus.DONE
        refund.gateway_ref = reference
        refund.finished_at = now
        refund.save(update_fields=["status", "gateway_ref", "finished_at", "updated_at"])
    PAYMENT_WORKFLOW.apply(
        locked,
        "refund_manual",
        actor,
        now=now,
        fields={"closed_at": now},
        audit={
            "refund": refund.reference if refund else "",
            "amount": refund.amount if refund else locked.amount,
            "reference": reference,
            "reason": reason,
        },
    )
    return locked


def item_of(reconciliation: Reconciliation, item_id: Any) -> ReconciliationItem:
    """One line of a reconciliation the caller already found in its scope; NotFound otherwise."""
    try:
        return reconciliation.items.get(pk=int(item_id))
    except (ReconciliationItem.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("Không tìm thấy dòng đối soát.")) from None


def reconciliation_run_by_query(*, facility: Facility, gateway: Any, day: date, actor: Any) -> Reconciliation:
    """Reconcile a day without the gateway's file: query the gateway (a `payments.gateways.base.Gateway` built
    for `facility`'s account by payments) about each of our payments of the day (settlement.
    lines_from_gateway_queries), then match as `reconciliation_run` does (source "query")."""
    from health_f0.accounting.settlement import lines_from_gateway_queries

    access.require_role_at(actor, facility, access.ACCOUNTANT_ROLES)
    ours = list(day_payments(facility=facility, gateway=gateway.name, day=day).order_by("paid_at", "id"))
    lines, skipped = lines_from_gateway_queries(gateway=gateway, payments=ours)
    return reconciliation_run(
        facility=facility,
        gateway=gateway.name,
        day=day,
        lines=lines,
        skipped=skipped,
        source=Source.QUERY,
        actor=actor,
    )
