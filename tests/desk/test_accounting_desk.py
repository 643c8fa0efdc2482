"""The accountant's desk pages: reconcile a day from a settlement file, resolve a difference (POST, CSRF,
audited), closing refused while differences are open, the refund worklist, receipts (desk and portal), the
payments report and its XLSX."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from health_f0.accounting.models import ItemKind, Reconciliation, ReconciliationState
from health_f0.accounting.tests.builders import paid_payment, settlement_csv
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient
from health_f0.payments.models import GatewayAccount, PaymentStatus
from tests import access_records

UPLOAD = "/desk/accounting/reconciliation/doi-soat-moi/"


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def day(demo: Any) -> dict[str, Any]:
    ttyt = Facility.objects.get(code="TTYT-HD")
    GatewayAccount.objects.create(facility=ttyt, gateway="vnpay", merchant_code="HF0TEST1")
    patient = Patient.objects.get(account__username="bn0000001")
    yesterday = timezone.localdate() - timedelta(days=1)
    at = timezone.make_aware(datetime(yesterday.year, yesterday.month, yesterday.day, 9, 30))
    ok = paid_payment(patient=patient, facility=ttyt, amount=150_000, paid_at=at)
    off = paid_payment(patient=patient, facility=ttyt, amount=1_500_000, paid_at=at + timedelta(hours=1))
    csv = settlement_csv(
        [
            (ok.reference, "14000001", 150_000, f"{yesterday:%Y%m%d}093000"),
            (off.reference, "14000002", 1_510_000, f"{yesterday:%Y%m%d}103000"),
        ]
    )
    return {"ttyt": ttyt, "patient": patient, "ok": ok, "off": off, "csv": csv, "day": yesterday}


def _upload(client: Client, day: dict[str, Any], content: bytes | None = None) -> Any:
    return client.post(
        UPLOAD,
        {
            "facility": day["ttyt"].pk,
            "gateway": "vnpay",
            "day": f"{day['day']:%d/%m/%Y}",
            "file": SimpleUploadedFile("vnpay.csv", content if content is not None else day["csv"]),
        },
    )


def _csrf(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_the_accountant_reconciles_resolves_and_closes(day: dict[str, Any], persona: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(persona("ketoan"))
    form = client.get(UPLOAD)
    assert form.status_code == 200 and "Đối soát với cổng thanh toán" in form.content.decode()
    token = _csrf(form.content.decode())
    response = client.post(
        UPLOAD,
        {
            "csrfmiddlewaretoken": token,
            "facility": day["ttyt"].pk,
            "gateway": "vnpay",
            "day": f"{day['day']:%d/%m/%Y}",
            "file": SimpleUploadedFile("vnpay.csv", day["csv"]),
        },
    )
    assert response.status_code == 302, response.content.decode()[:800]
    rec = Reconciliation.objects.get()
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    for text in ("Lệch số tiền", "Cổng có, cơ sở không có", "Cơ sở có, cổng không có", "Khớp", "Chốt ngày"):
        assert text in html
    assert "1.510.000 đ" in html and "1.500.000 đ" in html and day["patient"].full_name in html
    mismatch = rec.items.get(kind=ItemKind.AMOUNT_MISMATCH)
    resolve = reverse("admin:accounting_resolve", args=[rec.pk, mismatch.pk])
    prefix = f"i{mismatch.pk}"
    # No CSRF token: refused. A GET changes nothing.
    assert (
        client.post(resolve, {f"{prefix}-resolution": "other", f"{prefix}-reason": "Thiếu token"}).status_code
        == 403
    )
    assert client.get(resolve).status_code == 405
    token = _csrf(html)
    short = client.post(
        resolve, {"csrfmiddlewaretoken": token, f"{prefix}-resolution": "other", f"{prefix}-reason": "ok"}
    )
    assert short.status_code == 400 and "ít nhất 5 ký tự" in short.content.decode()
    # Closing is refused while a difference is open.
    closed = client.post(
        reverse("admin:accounting_close", args=[rec.pk]), {"csrfmiddlewaretoken": token}, follow=True
    )
    assert "Còn 1 chênh lệch chưa xử lý" in closed.content.decode()
    rec.refresh_from_db()
    assert rec.state == ReconciliationState.OPEN
    done = client.post(
        resolve,
        {
            "csrfmiddlewaretoken": token,
            f"{prefix}-resolution": "gateway_right",
            f"{prefix}-reason": "Cổng thu thêm 10.000 đ phí thẻ quốc tế",
        },
        follow=True,
    )
    html = done.content.decode()
    assert "Đã ghi nhận cách xử lý" in html and "Cổng thu thêm 10.000 đ phí thẻ quốc tế" in html
    assert "Xử lý chênh lệch" in html  # the audit history under the page
    audit = AuditLog.objects.get(verb="resolve_item")
    assert (
        audit.actor.username == "ketoan" and audit.data["reason"] == "Cổng thu thêm 10.000 đ phí thẻ quốc tế"
    )
    client.post(reverse("admin:accounting_close", args=[rec.pk]), {"csrfmiddlewaretoken": token})
    rec.refresh_from_db()
    assert rec.state == ReconciliationState.CLOSED and rec.closed_by.username == "ketoan"
    # A closed day is reopened with a reason (POST with the token only); the audit keeps who closed it.
    reopen = reverse("admin:accounting_reopen", args=[rec.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Mở lại ngày" in page and 'id="acc-close"' not in page
    assert client.get(reopen).status_code == 405
    assert client.post(reopen, {"reason": "Cổng gửi lại tệp đã sửa"}).status_code == 403
    token = _csrf(page)
    missing = client.post(reopen, {"csrfmiddlewaretoken": token, "reason": " "})
    assert missing.status_code == 400 and "Vui lòng ghi lý do mở lại" in missing.content.decode()
    rec.refresh_from_db()
    assert rec.state == ReconciliationState.CLOSED
    reopened = client.post(
        reopen, {"csrfmiddlewaretoken": token, "reason": "Cổng gửi lại tệp đã sửa"}, follow=True
    )
    assert "Đã mở lại đối soát" in reopened.content.decode()
    rec.refresh_from_db()
    assert rec.state == ReconciliationState.OPEN and rec.closed_by is None and rec.closed_at is None
    row = AuditLog.objects.get(verb="reopen")
    assert row.actor.username == "ketoan" and row.data["reason"] == "Cổng gửi lại tệp đã sửa"
    assert row.data["closed_by"] == "ketoan" and row.data["closed_at"]


def test_bad_files_are_a_clear_400(day: dict[str, Any], desk: Any) -> None:
    client = desk("ketoan")
    for content, expected in (
        (b"a,b\n1,2\n", "Không tìm thấy dòng tiêu đề"),
        (b"vnp_TxnRef,vnp_Amount\n1,abc\n", "không đọc được"),
        (b"", "Tệp đối soát trống"),
    ):
        response = _upload(client, day, content)
        assert response.status_code == 400 and expected in response.content.decode(), expected
    bad_day = client.post(UPLOAD, {"facility": day["ttyt"].pk, "gateway": "vnpay", "day": "31/02/2026"})
    assert bad_day.status_code == 400 and "dd/mm/yyyy" in bad_day.content.decode()
    future = _upload(client, {**day, "day": timezone.localdate() + timedelta(days=1)})
    assert future.status_code == 400 and "chưa đến" in future.content.decode()
    assert not Reconciliation.objects.exists()


def test_a_manager_reads_but_does_not_act(day: dict[str, Any], desk: Any) -> None:
    assert _upload(desk("ketoan"), day).status_code == 302
    rec = Reconciliation.objects.get()
    manager = desk("ttyt.lanhdao")
    page = manager.get(reverse("admin:accounting_reconciliation_change", args=[rec.pk]))
    assert page.status_code == 200 and "Ghi nhận xử lý" not in page.content.decode()
    assert manager.get(UPLOAD).status_code == 403
    mismatch = rec.items.get(kind=ItemKind.AMOUNT_MISMATCH)
    prefix = f"i{mismatch.pk}"
    manager.post(
        reverse("admin:accounting_resolve", args=[rec.pk, mismatch.pk]),
        {f"{prefix}-resolution": "other", f"{prefix}-reason": "Lãnh đạo tự xử lý"},
    )
    mismatch.refresh_from_db()
    assert mismatch.resolution == ""
    # Nor does the manager reopen a closed day.
    Reconciliation.objects.filter(pk=rec.pk).update(state=ReconciliationState.CLOSED)
    page = manager.get(reverse("admin:accounting_reconciliation_change", args=[rec.pk]))
    assert "Mở lại ngày" not in page.content.decode()
    manager.post(reverse("admin:accounting_reopen", args=[rec.pk]), {"reason": "Lãnh đạo mở lại ngày"})
    rec.refresh_from_db()
    assert rec.state == ReconciliationState.CLOSED


def test_receipts_in_the_desk_and_the_portal(day: dict[str, Any], desk: Any, persona: Any) -> None:
    payment = day["off"]
    response = desk("ketoan").get(reverse("admin:accounting_receipt", args=[payment.public_id]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert payment.reference in text and "1.500.000 đ" in text and "Một triệu năm trăm nghìn đồng" in text
    assert payment.gateway_ref in text and day["patient"].full_name in text
    assert AuditLog.objects.filter(verb="receipt_pdf", target_id=str(payment.pk)).exists()
    # The portal: the patient's own only.
    url = reverse("www:payment_receipt", args=[payment.public_id])
    owner = Client()
    owner.force_login(access_records.portal_ready(day["patient"]).account)
    mine = owner.get(url)
    assert mine.status_code == 200 and mine["Content-Type"] == "application/pdf"
    assert payment.reference in pdf_text(mine.content)
    assert Client().get(url).status_code == 302  # anonymous: the login
    staff = Client()
    staff.force_login(persona("ketoan"))
    assert staff.get(url).status_code == 404  # staff download in the desk
    pending = paid_payment(patient=day["patient"], facility=day["ttyt"], status=PaymentStatus.PENDING)
    assert (
        desk("ketoan").get(reverse("admin:accounting_receipt", args=[pending.public_id])).status_code == 404
    )
    # The payment's own desk page offers its receipt (paid only) and leads to the same audited download.
    page = desk("ketoan").get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()
    action = reverse("admin:payments_payment_receipt_action", args=[payment.pk])
    assert "Biên lai (PDF)" in page and action in page
    assert desk("ketoan").get(action)["Location"] == reverse(
        "admin:accounting_receipt", args=[payment.public_id]
    )
    pending_page = (
        desk("ketoan").get(reverse("admin:payments_payment_change", args=[pending.pk])).content.decode()
    )
    assert "Biên lai (PDF)" not in pending_page


def test_manual_refund_from_the_worklist(day: dict[str, Any], desk: Any) -> None:
    failed = paid_payment(patient=day["patient"], facility=day["ttyt"], status=PaymentStatus.REFUND_FAILED)
    client = desk("ketoan")
    page = client.get(reverse("admin:accounting_refunds"))
    assert page.status_code == 200 and failed.reference in page.content.decode()
    assert "Đã hoàn tiền thủ công" in page.content.decode()
    url = reverse("admin:accounting_refund_manual", args=[failed.public_id])
    prefix = f"r{failed.pk}"
    bad = client.post(url, {f"{prefix}-reference": "", f"{prefix}-reason": "Chuyển khoản"})
    assert bad.status_code == 400 and "Vui lòng nhập mã giao dịch" in bad.content.decode()
    done = client.post(
        url, {f"{prefix}-reference": "FT26001", f"{prefix}-reason": "Chuyển khoản Vietcombank"}, follow=True
    )
    assert "Đã ghi nhận hoàn tiền thủ công" in done.content.decode()
    failed.refresh_from_db()
    assert failed.status == PaymentStatus.REFUNDED
    assert failed.reference not in client.get(reverse("admin:accounting_refunds")).content.decode()
    # The manager sees the list but no form.
    other = paid_payment(patient=day["patient"], facility=day["ttyt"], status=PaymentStatus.REFUND_FAILED)
    page = desk("ttyt.lanhdao").get(reverse("admin:accounting_refunds"))
    assert other.reference in page.content.decode() and "Chỉ xem" in page.content.decode()


def test_payments_report_and_export(day: dict[str, Any], desk: Any) -> None:
    client = desk("ketoan")
    query = {"from": f"{day['day']:%d/%m/%Y}", "to": f"{timezone.localdate():%d/%m/%Y}"}
    page = client.get("/bao-cao/thanh-toan/", query)
    html = page.content.decode()
    assert page.status_code == 200 and "1.650.000 đ" in html and "VNPay" in html
    export = client.get("/bao-cao/thanh-toan/xlsx/", query)
    assert export.status_code == 200
    workbook = load_workbook(io.BytesIO(export.content), read_only=True)
    assert workbook.sheetnames[:3] == ["Theo ngày", "Theo cổng", "Theo dịch vụ"]
    rows = list(workbook["Theo cổng"].iter_rows(values_only=True))
    assert rows[1][:3] == ("VNPay", 2, 1_650_000)
    assert AuditLog.objects.filter(verb="export_payment_report", actor__username="ketoan").exists()
    assert client.get("/bao-cao/thanh-toan/", {"from": "99/99/2026"}).status_code == 400
    assert desk("datlich").get("/bao-cao/thanh-toan/").status_code == 403


def test_the_accountant_is_offered_only_the_pages_of_its_work(demo: Any, desk: Any) -> None:
    # No patient records, no SMS outbox, no station wards: not empty pages in the menu, refused pages.
    client = desk("ketoan")
    home = client.get("/desk/", follow=True).content.decode()
    assert "Đối soát ngày" in home and "Hoàn tiền thủ công" in home
    for url in (
        "/desk/patients/patient/",
        "/desk/notifications/outboxmessage/",
        "/desk/facilities/stationward/",
    ):
        assert f'href="{url}"' not in home, url
    for url in (
        "/desk/patients/patient/",
        "/desk/notifications/outboxmessage/",
        "/desk/facilities/stationward/",
    ):
        assert client.get(url).status_code == 403, url
