"""The HIS pages in a real browser (headless Chromium, 390x844): the link status page with a linked, a waiting
and a rejected hospital and the request form; a bad identifier's error; the unlink confirmation; the visit
history with lab results; the lab results list; the printable summary (also as printed). Each page passes
axe (no serious or critical violations), weighs under 100 KB with everything it loads, loads nothing from
another host, and is saved as var/screenshots/his-*.png."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from health_f0.facilities.models import Facility
from health_f0.his.models import HisLabResult, HisLink, HisLinkRequest, HisVisit
from health_f0.patients.models import Patient
from tests.browser.conftest import _new_page

pytestmark = pytest.mark.browser

LABS = [
    # name, value, unit, low, high, flag
    ("Glucose máu lúc đói", "7.8", "mmol/L", "3.9", "6.4", "H"),
    ("HbA1c", "7.2", "%", "4", "6.4", "H"),
    ("Creatinin", "88", "µmol/L", "62", "106", "N"),
    ("Kali", "3.2", "mmol/L", "3.5", "5", "L"),
]


@pytest.fixture
def his_page(browser: Any, live_server: Any, seeded: None) -> Any:
    yield from _new_page(browser)


def hospital(code: str, name: str) -> Facility:
    root = Facility.objects.get(code="SYT-31")
    facility = Facility.objects.create(kind="hospital", code=code, name=name, parent=root, province_code=31)
    facility.path = f"{root.path}{facility.pk}/"
    facility.save(update_fields=["path"])
    return facility


def load_records(patient: Patient) -> None:
    """TTYT Hải Dương linked with three visits; a hospital waiting; another that rejected the request."""
    ttyt = Facility.objects.get(code="TTYT-HD")
    now = timezone.now()
    request = HisLinkRequest.objects.create(
        patient=patient,
        facility=ttyt,
        identifier_type="bhyt",
        identifier="3101234567",
        channel="portal",
        status="linked",
        auto_linked=True,
        his_patient_id="HIS-000123",
        decided_at=now - timedelta(days=60),
    )
    HisLink.objects.create(
        patient=patient,
        facility=ttyt,
        request=request,
        his_patient_id="HIS-000123",
        his_code="BN24000123",
        linked_at=now - timedelta(days=60),
    )
    waiting = hospital("BV-DK-HP", "Bệnh viện Đa khoa tỉnh Hải Phòng")
    HisLinkRequest.objects.create(
        patient=patient,
        facility=waiting,
        identifier_type="cccd",
        identifier="030085001234",
        channel="portal",
        status="needs_review",
    )
    rejected = hospital("BV-PHCN", "Bệnh viện Phục hồi chức năng Hải Phòng")
    HisLinkRequest.objects.create(
        patient=patient,
        facility=rejected,
        identifier_type="his_code",
        identifier="PH-7781",
        channel="portal",
        status="rejected",
        reason="Không tìm thấy hồ sơ với mã này; vui lòng mang thẻ BHYT đến quầy tiếp đón.",
        decided_at=now - timedelta(days=2),
    )
    visits = [
        (40, "Khoa Khám bệnh", "Đái tháo đường type 2 không biến chứng", "E11.9", LABS),
        (25, "Khoa Nội tiết", "Tăng huyết áp vô căn (nguyên phát)", "I10", LABS[:2]),
        (5, "Khoa Khám bệnh", "Viêm họng cấp", "J02.9", []),
    ]
    for n, (days, dept, text, icd, labs) in enumerate(visits):
        when = now - timedelta(days=days)
        visit = HisVisit.objects.create(
            patient=patient,
            facility=ttyt,
            source="xml",
            external_id=f"MALK-SHOT-{n}",
            department_name=dept,
            admitted_at=when,
            discharged_at=when + timedelta(hours=3),
            diagnosis_text=text,
            icd10=icd,
        )
        for m, (name, value, unit, low, high, flag) in enumerate(labs):
            HisLabResult.objects.create(
                patient=patient,
                facility=ttyt,
                source="xml",
                external_id=f"MALK-SHOT-{n}:{m}",
                visit=visit,
                name=name,
                value=value,
                value_number=Decimal(value),
                unit=unit,
                reference_low=Decimal(low),
                reference_high=Decimal(high),
                flag=flag,
                observed_at=when + timedelta(hours=1, minutes=m),
            )


def login(page: Any, base: str) -> None:
    page.goto(base + "/dang-nhap")
    page.get_by_label("Tên tài khoản").fill("bn0000001")
    page.get_by_label(re.compile(r"^Mật khẩu")).fill("demo-2026")
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.wait_for_url("**/ca-nhan")


def visit_and_weigh(page: Any, url: str, base: str) -> int:
    responses: list[Any] = []

    def handler(response: Any) -> None:
        responses.append(response)

    page.on("response", handler)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", handler)
    assert all(r.url.startswith(base) for r in responses), "no third-party requests"
    return sum(len(r.body()) for r in responses if r.status < 300)


def check(page: Any, axe: Any, shoot: Any, name: str) -> None:  # noqa: F811
    violations = axe(page)
    assert not violations, violations
    shoot(page, name)


def test_his_pages(his_page: Any, live_server: Any, axe: Any, shoot: Any) -> None:
    page, base = his_page, live_server.url
    hung = Patient.objects.get(account__username="bn0000001")
    load_records(hung)
    login(page, base)
    assert page.get_by_role("link", name="Lịch sử khám, xét nghiệm").is_visible()

    weight = visit_and_weigh(page, base + "/lien-ket-ho-so", base)
    assert weight < 100 * 1024
    main = page.locator("main")
    assert main.get_by_text("Đã liên kết", exact=True).is_visible()
    assert main.get_by_text("Đang chờ bệnh viện kiểm tra").is_visible()
    assert main.get_by_text("Không tìm thấy hồ sơ với mã này").is_visible()
    check(page, axe, shoot, "his-links")

    # A bad identifier: the error summary and the field say what is wrong, in Vietnamese.
    page.get_by_label("Số CCCD").check()
    page.get_by_label("Mã của bạn").fill("12345")
    page.get_by_role("button", name="Gửi yêu cầu liên kết").click()
    assert page.locator(".error-summary").is_visible()
    assert "12 chữ số" in page.locator(".error-summary").inner_text()
    check(page, axe, shoot, "his-links-error")

    waiting = HisLinkRequest.objects.get(patient=hung, status="needs_review")
    with page.expect_download() as download:
        page.goto(base + "/lien-ket-ho-so")
        page.get_by_role("link", name="Tải phiếu đề nghị liên kết (PDF)").click()
    assert download.value.suggested_filename.startswith("phieu-lien-ket-ho-so-")
    assert str(waiting.public_id)[:8] in download.value.suggested_filename

    link = HisLink.objects.get(patient=hung, active=True)
    assert visit_and_weigh(page, base + f"/lien-ket-ho-so/{link.public_id}/huy", base) < 100 * 1024
    check(page, axe, shoot, "his-unlink")

    assert visit_and_weigh(page, base + "/ho-so-kham", base) < 100 * 1024
    text = page.locator("main").inner_text()
    assert "E11.9" in text and "Đái tháo đường type 2" in text and "7,8 mmol/L" in text
    check(page, axe, shoot, "his-visits")

    assert visit_and_weigh(page, base + "/ket-qua-xet-nghiem", base) < 100 * 1024
    assert "Thấp" in page.locator("main").inner_text()
    check(page, axe, shoot, "his-lab-results")
    page.goto(base + "/ket-qua-xet-nghiem?bat-thuong=1")
    assert "Creatinin" not in page.locator("main").inner_text()

    assert visit_and_weigh(page, base + "/ho-so-kham/in", base) < 100 * 1024
    check(page, axe, shoot, "his-print")
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    shoot(page, "his-print-media")
    page.emulate_media(media="screen")
