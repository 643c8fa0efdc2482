"""Daily reconciliation: each list, the resolution (audited), closing, the settlement reader, manual refunds."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from openpyxl import Workbook

from health_f0.accounting import services
from health_f0.accounting.models import ItemKind, ReconciliationState, Resolution
from health_f0.accounting.money import vnd, vnd_words
from health_f0.accounting.settlement import SettlementError, read_settlement
from health_f0.accounting.tests.builders import paid_payment, settlement_csv
from health_f0.core.exceptions import Conflict, DomainError, PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.payments.models import GatewayAccount, GatewayName, PaymentStatus, RefundStatus


def _yesterday_at(hour: int) -> datetime:
    day = timezone.localdate() - timedelta(days=1)
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, 5))


@pytest.fixture
def day_payments(ttyt: Facility, patient: Any) -> dict[str, Any]:
    clinic = Facility.objects.get(code="PK-NOI1")
    return {
        "ok": paid_payment(patient=patient, facility=ttyt, amount=150_000, paid_at=_yesterday_at(9)),
        # A clinic under the TTYT: the TTYT's account collects for it.
        "ok_clinic": paid_payment(patient=patient, facility=clinic, amount=50_000, paid_at=_yesterday_at(10)),
        "mismatch": paid_payment(patient=patient, facility=ttyt, amount=200_000, paid_at=_yesterday_at(11)),
        "theirs_missing": paid_payment(
            patient=patient, facility=ttyt, amount=80_000, paid_at=_yesterday_at(12)
        ),
        # Paid today: not yesterday's; the gateway listing it yesterday is "missing on our side" (linked).
        "other_day": paid_payment(patient=patient, facility=ttyt, amount=30_000, paid_at=timezone.now()),
        # Never paid here, another gateway, another facility: never in the day.
        "pending": paid_payment(
            patient=patient,
            facility=ttyt,
            amount=70_000,
            paid_at=_yesterday_at(8),
            status=PaymentStatus.PENDING,
        ),
        "momo": paid_payment(
            patient=patient, facility=ttyt, amount=90_000, gateway="momo", paid_at=_yesterday_at(9)
        ),
    }


def _run(
    ttyt: Facility, actor: Any, payments: dict[str, Any], extra: list[tuple[str, str, int, str]] | None = None
):
    rows = [
        (payments["ok"].reference, "14000001", 150_000, "20260101090500"),
        (payments["ok_clinic"].reference, "14000002", 50_000, "20260101100500"),
        (payments["mismatch"].reference, "14000003", 210_000, "20260101110500"),
        (payments["other_day"].reference, "14000004", 30_000, "20260101230000"),
        ("251231999999999", "14000005", 120_000, "20260101130000"),
        *(extra or []),
    ]
    lines, skipped = read_settlement(content=settlement_csv(rows, refund_rows=2), file_name="vnpay.csv")
    return services.reconciliation_run(
        facility=ttyt,
        gateway="vnpay",
        day=timezone.localdate() - timedelta(days=1),
        lines=lines,
        skipped=skipped,
        file_name="vnpay.csv",
        actor=actor,
    )


def test_matching_fills_each_list(ttyt: Facility, persona: Any, day_payments: dict[str, Any]) -> None:
    rec = _run(ttyt, persona("ketoan"), day_payments)
    by_kind: dict[str, set[str]] = {}
    for item in rec.items.select_related("payment"):
        by_kind.setdefault(item.kind, set()).add(item.their_reference or item.payment.reference)
    p = day_payments
    assert by_kind[ItemKind.MATCHED] == {p["ok"].reference, p["ok_clinic"].reference}
    assert by_kind[ItemKind.AMOUNT_MISMATCH] == {p["mismatch"].reference}
    assert by_kind[ItemKind.MISSING_THEIRS] == {p["theirs_missing"].reference}
    assert by_kind[ItemKind.MISSING_OURS] == {p["other_day"].reference, "251231999999999"}
    linked = rec.items.get(their_reference=p["other_day"].reference)
    assert linked.payment == p["other_day"] and linked.our_amount == 30_000
    mismatch = rec.items.get(kind=ItemKind.AMOUNT_MISMATCH)
    assert (mismatch.their_amount, mismatch.our_amount) == (210_000, 200_000)  # vnp_Amount / 100
    assert (rec.our_count, rec.our_total) == (4, 480_000)
    assert (rec.their_count, rec.their_total, rec.matched_count, rec.skipped_count) == (5, 560_000, 2, 2)
    assert rec.items.filter(kind=ItemKind.MATCHED).exclude(resolution=Resolution.MATCHED).count() == 0
    audit = AuditLog.objects.get(verb="reconcile", target_id=str(rec.pk))
    assert (
        audit.actor.username == "ketoan" and audit.data["mismatch"] == 1 and audit.data["missing_ours"] == 2
    )


def test_a_duplicate_line_is_missing_on_our_side(
    ttyt: Facility, persona: Any, day_payments: dict[str, Any]
) -> None:
    ok = day_payments["ok"].reference
    rec = _run(ttyt, persona("ketoan"), day_payments, extra=[(ok, "14000009", 150_000, "20260101090600")])
    assert rec.items.filter(kind=ItemKind.MATCHED, their_reference=ok).count() == 1
    assert rec.items.filter(kind=ItemKind.MISSING_OURS, their_reference=ok).count() == 1


def test_a_clinic_with_its_own_account_is_not_in_the_ttyts_day(
    ttyt: Facility, persona: Any, day_payments: dict[str, Any]
) -> None:
    GatewayAccount.objects.create(
        facility=Facility.objects.get(code="PK-NOI1"), gateway="vnpay", merchant_code="X"
    )
    rec = _run(ttyt, persona("ketoan"), day_payments)
    item = rec.items.get(their_reference=day_payments["ok_clinic"].reference)
    assert item.kind == ItemKind.MISSING_OURS and item.payment is None


def test_resolution_is_audited_and_closing_waits_for_every_item(
    ttyt: Facility, persona: Any, day_payments: dict[str, Any]
) -> None:
    ketoan = persona("ketoan")
    rec = _run(ttyt, ketoan, day_payments)
    with pytest.raises(Conflict) as refused:
        services.reconciliation_close(reconciliation=rec, actor=ketoan)
    assert refused.value.code == "open_items" and "4" in refused.value.message
    mismatch = rec.items.get(kind=ItemKind.AMOUNT_MISMATCH)
    with pytest.raises(DomainError) as short:
        services.reconciliation_item_resolve(
            item=mismatch, actor=ketoan, resolution="gateway_right", reason="ok"
        )
    assert short.value.field == "reason"
    with pytest.raises(DomainError):
        services.reconciliation_item_resolve(
            item=mismatch, actor=ketoan, resolution="matched", reason="Khớp rồi"
        )
    matched = rec.items.filter(kind=ItemKind.MATCHED).first()
    with pytest.raises(DomainError):
        services.reconciliation_item_resolve(
            item=matched, actor=ketoan, resolution="other", reason="Không cần"
        )
    # A manager reads but does not resolve.
    with pytest.raises(PermissionDenied):
        services.reconciliation_item_resolve(
            item=mismatch, actor=persona("ttyt.lanhdao"), resolution="other", reason="Lãnh đạo xử lý"
        )
    services.reconciliation_item_resolve(
        item=mismatch, actor=ketoan, resolution="gateway_right", reason="Người bệnh trả thêm 10.000 đ phí thẻ"
    )
    mismatch.refresh_from_db()
    assert mismatch.resolved_by == ketoan and mismatch.resolved_at is not None
    row = AuditLog.objects.get(verb="resolve_item")
    assert row.actor == ketoan and row.target_id == str(rec.pk)
    assert row.data["resolution"] == "gateway_right" and row.data["reason"].startswith("Người bệnh")
    assert row.data["reference"] == day_payments["mismatch"].reference
    for item in rec.items.exclude(kind=ItemKind.MATCHED).filter(resolution=""):
        services.reconciliation_item_resolve(
            item=item, actor=ketoan, resolution="other_day", reason="Sang ngày sau"
        )
    closed = services.reconciliation_close(reconciliation=rec, actor=ketoan)
    assert closed.state == ReconciliationState.CLOSED and closed.closed_by == ketoan
    assert AuditLog.objects.filter(verb="close", target_id=str(rec.pk)).exists()
    # Closed: nothing changes any more, not even a new file.
    with pytest.raises(Conflict):
        services.reconciliation_item_resolve(
            item=mismatch, actor=ketoan, resolution="other", reason="Sửa lại sau"
        )
    with pytest.raises(Conflict):
        _run(ttyt, ketoan, day_payments)


def test_a_new_file_replaces_the_day_until_something_is_resolved(
    ttyt: Facility, persona: Any, day_payments: dict[str, Any]
) -> None:
    ketoan = persona("ketoan")
    first = _run(ttyt, ketoan, day_payments)
    again = _run(ttyt, ketoan, day_payments)
    assert again.pk == first.pk and again.items.count() == first.items.count() == 6
    item = again.items.filter(kind=ItemKind.MISSING_THEIRS).get()
    services.reconciliation_item_resolve(
        item=item, actor=ketoan, resolution="ours_right", reason="Đã báo VNPay"
    )
    with pytest.raises(Conflict):
        _run(ttyt, ketoan, day_payments)


def test_only_accountants_at_the_facility_reconcile(
    ttyt: Facility, persona: Any, day_payments: dict[str, Any]
) -> None:
    for username in ("ttyt.lanhdao", "datlich", "thanhdong.nv"):
        with pytest.raises(PermissionDenied):
            _run(ttyt, persona(username), day_payments)


def test_reader_accepts_portal_headers_xlsx_and_refuses_garbage() -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Báo cáo giao dịch VNPAY"])
    sheet.append(
        [
            "STT",
            "Mã tham chiếu",
            "Mã giao dịch VNPAY",
            "Số tiền",
            "Thời gian thanh toán",
            "Loại giao dịch",
            "Trạng thái",
        ]
    )
    sheet.append(
        [1, "260101000000001", "14001", "1.500.000", "01/01/2026 09:30:00", "Thanh toán", "Thành công"]
    )
    sheet.append([2, "260101000000002", "14002", 200000, "01/01/2026 10:00", "Hoàn trả", "Thành công"])
    sheet.append(
        [3, "260101000000003", "14003", "50,000", "01/01/2026 10:30", "Thanh toán", "Không thành công"]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    lines, skipped = read_settlement(content=buffer.getvalue(), file_name="bao-cao.xlsx")
    assert [(line.reference, line.amount, line.gateway_ref) for line in lines] == [
        ("260101000000001", 1_500_000, "14001")
    ]
    assert lines[0].paid_at is not None and timezone.localtime(lines[0].paid_at).hour == 9
    assert skipped == 2
    for content, name in (
        (b"", "a.csv"),
        (b"a,b,c\n1,2,3\n", "a.csv"),
        (b"vnp_TxnRef,vnp_Amount\n123,abc\n", "a.csv"),
        (b"PK\x03\x04garbage", "a.xlsx"),
    ):
        with pytest.raises(SettlementError) as error:
            read_settlement(content=content, file_name=name)
        assert error.value.field == "file" and error.value.message


def test_manual_refund(ttyt: Facility, persona: Any, patient: Any) -> None:
    failed = paid_payment(patient=patient, facility=ttyt, status=PaymentStatus.REFUND_FAILED)
    paid = paid_payment(patient=patient, facility=ttyt)
    ketoan = persona("ketoan")
    with pytest.raises(PermissionDenied):
        services.refund_mark_manual(
            payment=failed, actor=persona("ttyt.lanhdao"), reference="FT1", reason="Chuyển khoản"
        )
    with pytest.raises(DomainError) as not_waiting:
        services.refund_mark_manual(payment=paid, actor=ketoan, reference="FT1", reason="Chuyển khoản")
    assert not_waiting.value.status_code == 409
    assert "không chờ hoàn tiền thủ công" in not_waiting.value.message
    with pytest.raises(DomainError) as missing:
        services.refund_mark_manual(payment=failed, actor=ketoan, reference=" ", reason="Chuyển khoản")
    assert missing.value.field == "reference"
    done = services.refund_mark_manual(
        payment=failed,
        actor=ketoan,
        reference="FT26001123456",
        reason="Chuyển khoản Vietcombank cho người bệnh",
    )
    assert done.status == PaymentStatus.REFUNDED and done.closed_at is not None
    refund = done.refunds.get()
    assert refund.status == RefundStatus.DONE and refund.gateway_ref == "FT26001123456"
    row = AuditLog.objects.get(verb="refund_manual")
    assert row.actor == ketoan and row.data["from"] == "refund_failed" and row.data["to"] == "refunded"
    assert row.data["reference"] == "FT26001123456"


def test_a_pending_refund_is_made_by_hand_only_where_the_gateway_has_no_refund_call(
    ttyt: Facility, persona: Any, patient: Any
) -> None:
    ketoan = persona("ketoan")
    vnpay = paid_payment(patient=patient, facility=ttyt, status=PaymentStatus.REFUND_PENDING)
    with pytest.raises(Conflict) as refused:
        services.refund_mark_manual(payment=vnpay, actor=ketoan, reference="FT2", reason="Chuyển khoản")
    assert refused.value.code == "not_manual_refund"
    vnpay.refresh_from_db()
    assert vnpay.status == PaymentStatus.REFUND_PENDING
    vietqr = paid_payment(
        patient=patient, facility=ttyt, status=PaymentStatus.REFUND_PENDING, gateway=GatewayName.VIETQR
    )
    done = services.refund_mark_manual(payment=vietqr, actor=ketoan, reference="FT3", reason="Chuyển khoản")
    assert done.status == PaymentStatus.REFUNDED


def test_the_payment_status_is_written_only_by_the_payment_workflow() -> None:
    # payments.transitions (and accounting.transitions for a day) is the one table of who moves a record where; a service that sets the status
    # itself (as the manual refund once did) bypasses its roles, its guards and its audit row.
    root = Path(__file__).resolve().parents[2]
    writers = re.compile(
        r"\.status\s*=\s*PaymentStatus\.|update\([^)]*status\s*=\s*PaymentStatus\."
        r"|\.state\s*=\s*ReconciliationState\.|update\([^)]*state\s*=\s*ReconciliationState\."
    )
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if writers.search(line)
    ]
    assert found == []


def test_amounts_in_words() -> None:
    assert vnd(1_500_000) == "1.500.000 đ"
    assert vnd_words(1_500_000) == "Một triệu năm trăm nghìn đồng"
    assert vnd_words(105_000) == "Một trăm lẻ năm nghìn đồng"
    assert vnd_words(1_021_000) == "Một triệu không trăm hai mươi mốt nghìn đồng"
    assert vnd_words(15_000) == "Mười lăm nghìn đồng"


class _FakeVnpay:
    """A gateway answering `query` from a table (reference -> (outcome, amount)); the real modules are the
    payments helper's and are tested against their stand-ins."""

    name = "vnpay"

    def __init__(self, answers: dict[str, tuple[str, int]]):
        self.answers = answers
        self.asked: list[str] = []

    def query(self, request: Any) -> Any:
        from health_f0.payments.gateways.base import Outcome, QueryResult

        self.asked.append(request.reference)
        outcome, amount = self.answers.get(request.reference, (Outcome.UNKNOWN, 0))
        return QueryResult(
            reference=request.reference,
            outcome=Outcome(outcome),
            amount=amount,
            gateway_ref="Q" + request.reference[-4:],
        )


def test_the_query_fallback_finds_their_missing_and_mismatched(
    ttyt: Facility, persona: Any, day_payments: dict[str, Any]
) -> None:
    p = day_payments
    fake = _FakeVnpay(
        {
            p["ok"].reference: ("paid", 150_000),
            p["ok_clinic"].reference: ("paid", 50_000),
            p["mismatch"].reference: ("paid", 210_000),
            p["theirs_missing"].reference: ("unknown", 0),
        }
    )
    rec = services.reconciliation_run_by_query(
        facility=ttyt, gateway=fake, day=timezone.localdate() - timedelta(days=1), actor=persona("ketoan")
    )
    assert sorted(fake.asked) == sorted(
        p[k].reference for k in ("ok", "ok_clinic", "mismatch", "theirs_missing")
    )
    kinds = {item.payment.reference: item.kind for item in rec.items.select_related("payment")}
    assert kinds == {
        p["ok"].reference: ItemKind.MATCHED,
        p["ok_clinic"].reference: ItemKind.MATCHED,
        p["mismatch"].reference: ItemKind.AMOUNT_MISMATCH,
        p["theirs_missing"].reference: ItemKind.MISSING_THEIRS,
    }
    assert rec.source == "query" and rec.skipped_count == 1
    with pytest.raises(PermissionDenied):
        services.reconciliation_run_by_query(
            facility=ttyt, gateway=fake, day=timezone.localdate(), actor=persona("ttyt.lanhdao")
        )
