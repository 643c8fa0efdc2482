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
        identifiers={"his_code": "BN24000123", "bhyt": "HS4313101234567"},
        bhyt_key="3101234567",
        record_source="fhir",
        his_full_name=patient.full_name,
        his_date_of_birth=patient.date_of_birth,
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
    assert page.get_by_role("link", name=re.compile("^Hồ sơ khám bệnh")).is_visible()

    weight = visit_and_weigh(page, base + "/lien-ket-ho-so", base)
    assert weight < 100 * 1024
    main = page.locator("main")
    assert main.get_by_text("Đã liên kết", exact=True).is_visible()
    assert main.get_by_text("BN24000123", exact=True).is_visible()  # the HIS code actually linked
    assert main.get_by_text(f"{hung.full_name}, sinh ngày {hung.date_of_birth:%d/%m/%Y}").is_visible()
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


def test_the_linker_compares_the_claim_with_the_his_record(
    browser: Any, live_server: Any, seeded: None, axe: Any, shoot: Any
) -> None:
    """Issue 8 (identity): the requester's typed CCCD is shown as an unverified claim; the linker names the
    HIS code, sees that record (name, date of birth, identifiers) beside the account, and links it; an XML
    record that met a linked patient only by CCCD with another name waits below with the reason."""
    import io
    from datetime import date

    from django.contrib.auth import get_user_model

    from health_f0.his import imports, services
    from health_f0.his.adapters import NoLookupAdapter
    from health_f0.his.adapters import xml_4750 as x
    from health_f0.his.tests.conftest import make_patient
    from tests.browser.test_desk_journeys import desk_session

    base = live_server.url
    ttyt = Facility.objects.get(code="TTYT-HD")
    asker = make_patient(name="Trần Thị Bích Ngọc", born=date(1975, 3, 14), cccd="001175009911")
    linked = make_patient(name="Lê Văn Tâm", born=date(1990, 1, 5), sex="male")
    HisLink.objects.create(
        patient=linked,
        facility=ttyt,
        his_patient_id="BN0042",
        his_code="BN0042",
        cccd="001090001234",
        identifiers={"his_code": "BN0042", "cccd": "001090001234"},
        record_source="xml",
        his_full_name="Lê Văn Tâm",
        his_date_of_birth=date(1990, 1, 5),
        linked_at=timezone.now(),
    )

    def xml1(ma_lk: str, ma_bn: str, name: str, born: str, cccd: str = "", card: str = "") -> str:
        row = {
            "MA_LK": ma_lk, "MA_BN": ma_bn, "HO_TEN": name, "SO_CCCD": cccd, "NGAY_SINH": born,
            "GIOI_TINH": 2, "MA_THE_BHYT": card, "MA_BENH_CHINH": "E11", "MA_KHOA": "K01",
            "NGAY_VAO": "202611020815",
        }  # fmt: skip
        return x.hoso_xml([("XML1", x.table_xml("XML1", [row]))])

    body = xml1("LK-SHOT-1", "BN24000777", "Trần Thị Bích Ngọc", "19750314", card="HS4313101234567") + xml1(
        "LK-SHOT-2", "BN24000999", "Lê Thị Tâm", "19920511", cccd="001090001234"
    )
    data = (x.envelope_head("31001", 2, date(2026, 11, 3)) + body + x.ENVELOPE_TAIL).encode()
    run = imports.xml_import(facility=ttyt, stream=io.BytesIO(data), file_name="GD.xml", size=len(data))
    assert run.held_count == 1
    request = services.link_request_create(
        patient=asker,
        identifier_type="cccd",
        identifier="001088004321",  # someone else's CCCD: a claim
        channel="reception",
        actor=get_user_model().objects.get(username="tiepdon"),
        facility=ttyt,
        adapter=NoLookupAdapter(),
    )
    assert request.status == "needs_review"

    with desk_session(browser, base, "lienket.his") as desk:
        desk.goto(base + "/desk/his/hislinkrequest/hang-cho/")
        card = desk.locator(f"#req-{request.pk}")
        assert card.get_by_text("Mã người yêu cầu khai (chưa xác minh)").is_visible()
        card.get_by_label("Mã người bệnh trong HIS (MA_BN)").fill("BN24000777")
        card.get_by_role("button", name="Tìm hồ sơ").click()
        desk.wait_for_load_state("networkidle")
        card = desk.locator(f"#req-{request.pk}")
        assert card.get_by_text("Hồ sơ HIS 1 · mã BN24000777").is_visible()
        assert card.get_by_text("Số thẻ BHYT: HS4313101234567", exact=False).is_visible()
        held = desk.locator("#held-records")
        assert "Khớp số CCCD với người bệnh đã liên kết nhưng khác họ tên, ngày sinh." in held.inner_text()
        assert not axe(desk), axe(desk)
        shoot(desk, "his-linker-queue")
        desk.set_viewport_size({"width": 390, "height": 844})
        shoot(desk, "his-linker-queue-mobile")
        overflow = desk.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, overflow
        desk.set_viewport_size({"width": 1280, "height": 900})
        card.get_by_role("button", name="Liên kết hồ sơ này").click()
        desk.wait_for_load_state("networkidle")
        assert "Đã liên kết" in desk.locator("body").inner_text()
    link = HisLink.objects.get(patient=asker, active=True)
    assert link.his_code == "BN24000777" and link.cccd == "" and link.bhyt_key == "3101234567"
