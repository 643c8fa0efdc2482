"""The accountant's day in a real browser (headless Chromium, desktop): log in as ketoan, reconcile
yesterday's VNPay settlement file, see the one amount mismatch, resolve it with a reason, close the day; the
refund worklist, the payments report and the receipt. Each desk page passes axe (no serious or critical
violations) and is saved as var/screenshots/accounting-*.png."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from health_f0.accounting.models import ItemKind, Reconciliation, ReconciliationState
from health_f0.accounting.receipts import receipt_html
from health_f0.accounting.tests.builders import paid_payment, settlement_csv
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient
from health_f0.payments.models import GatewayAccount, PaymentStatus
from tests.browser.test_desk_journeys import desk_session

pytestmark = pytest.mark.browser


def test_the_accountant_resolves_a_mismatch_and_closes_the_day(
    browser: Any, live_server: Any, seeded: None, axe: Any, shoot: Any, tmp_path: Path
) -> None:
    base = live_server.url
    ttyt = Facility.objects.get(code="TTYT-HD")
    clinic = Facility.objects.get(code="PK-NOI1")
    GatewayAccount.objects.create(facility=ttyt, gateway="vnpay", merchant_code="HF0TEST1")
    patient = Patient.objects.get(account__username="bn0000001")
    day = timezone.localdate() - timedelta(days=1)
    at = timezone.make_aware(datetime(day.year, day.month, day.day, 8, 15))
    ok = paid_payment(patient=patient, facility=ttyt, amount=150_000, paid_at=at)
    ok2 = paid_payment(patient=patient, facility=clinic, amount=35_000, paid_at=at + timedelta(hours=2))
    off = paid_payment(patient=patient, facility=ttyt, amount=1_250_000, paid_at=at + timedelta(hours=3))
    paid_payment(
        patient=patient,
        facility=ttyt,
        amount=200_000,
        status=PaymentStatus.REFUND_FAILED,
        paid_at=at - timedelta(days=1),  # the day before: not in the day reconciled
    )
    settlement = tmp_path / f"VNPAY_HF0TEST1_{day:%Y%m%d}.csv"
    settlement.write_bytes(
        settlement_csv(
            [
                (ok.reference, "14512001", 150_000, f"{day:%Y%m%d}081530"),
                (ok2.reference, "14512002", 35_000, f"{day:%Y%m%d}101502"),
                (off.reference, "14512003", 1_260_000, f"{day:%Y%m%d}111547"),
            ],
            refund_rows=1,
        )
    )
    with desk_session(browser, base, "ketoan") as desk:
        # The accountant lands on the reconciliations.
        assert "/desk/accounting/reconciliation/" in desk.url
        desk.get_by_role("link", name="Đối soát tệp mới").first.click()
        desk.wait_for_url("**/doi-soat-moi/")
        assert not axe(desk), axe(desk)
        shoot(desk, "accounting-upload")
        assert desk.get_by_label("Ngày giao dịch").input_value() == f"{day:%d/%m/%Y}"  # yesterday by default
        desk.get_by_label("Tệp đối soát của cổng (.csv hoặc .xlsx)").set_input_files(str(settlement))
        desk.locator("#acc-upload").get_by_role("button", name="Đối soát", exact=True).click()
        desk.wait_for_url("**/accounting/reconciliation/*/change/")
        body = desk.locator("body").inner_text()
        assert "Đối soát VNPay ngày" in body and "Còn 1 chênh lệch chưa xử lý" in body
        assert desk.get_by_role("button", name="Chốt ngày").is_disabled()
        mismatch = desk.locator("#section-mismatch")
        assert "1.260.000 đ" in mismatch.inner_text() and "1.250.000 đ" in mismatch.inner_text()
        assert "lệch +10.000 đ" in mismatch.inner_text()
        assert not axe(desk), axe(desk)
        shoot(desk, "accounting-reconciliation-open")
        mismatch.get_by_label("Cách xử lý").select_option("gateway_right")
        mismatch.get_by_label("Lý do").fill("VNPay thu thêm 10.000 đ phí thẻ quốc tế; đã điều chỉnh sổ")
        mismatch.get_by_role("button", name="Ghi nhận xử lý").click()
        desk.wait_for_load_state("networkidle")
        body = desk.locator("body").inner_text()
        assert "Đã ghi nhận cách xử lý" in body and "Mọi chênh lệch đã được xử lý" in body
        assert "VNPay thu thêm 10.000 đ phí thẻ quốc tế" in desk.locator("#section-mismatch").inner_text()
        shoot(desk, "accounting-reconciliation-resolved")
        desk.get_by_role("button", name="Chốt ngày").click()
        desk.wait_for_load_state("networkidle")
        assert "Đã chốt đối soát" in desk.locator("body").inner_text()
        assert not axe(desk), axe(desk)
        shoot(desk, "accounting-reconciliation-closed")
        desk.get_by_role("link", name="Các ngày đã đối soát").click()
        desk.wait_for_url("**/accounting/reconciliation/")
        assert "đã chốt" in desk.locator("#result_list").inner_text().lower()
        assert not axe(desk), axe(desk)
        shoot(desk, "accounting-reconciliations")
        # The refund worklist and the payments report.
        desk.get_by_role("link", name="Hoàn tiền thủ công").first.click()
        desk.wait_for_url("**/hoan-tien/")
        assert "Đã hoàn tiền thủ công" in desk.locator("body").inner_text()
        assert not axe(desk), axe(desk)
        shoot(desk, "accounting-refunds")
        desk.goto(base + f"/bao-cao/thanh-toan/?from={day - timedelta(days=1):%d/%m/%Y}")
        assert "1.635.000 đ" in desk.locator("body").inner_text()
        assert not axe(desk), axe(desk)
        shoot(desk, "accounting-payments-report")
        # A paid payment's desk page offers its receipt.
        desk.goto(base + f"/desk/payments/payment/{off.pk}/change/")
        assert desk.get_by_role("link", name="Biên lai (PDF)").count() == 1
        assert not axe(desk), axe(desk)
        shoot(desk, "accounting-payment-receipt-action")
        # The receipt as rendered for the PDF, to look at.
        desk.set_content(receipt_html(payment=off))
        shoot(desk, "accounting-receipt")
    rec = Reconciliation.objects.get()
    assert rec.state == ReconciliationState.CLOSED
    item = rec.items.get(kind=ItemKind.AMOUNT_MISMATCH)
    assert item.resolution == "gateway_right" and item.resolved_by.username == "ketoan"
    assert AuditLog.objects.filter(verb="resolve_item", actor__username="ketoan").count() == 1
