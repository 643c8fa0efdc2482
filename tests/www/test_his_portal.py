"""The patient's side of HIS linking in the portal, through Django's test client and the real FHIR server
(sekmet, see health_f0/his/tests/conftest.py): asking for a link (exact match links at once and pulls the
history; ambiguity waits for the linker), the link form PDF, rejection with its reason, unlinking, the visit
history with lab results and flags, the lab results list, the printable summary, the family switch, and
access (another family's records never appear; staff go to the desk)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from health_f0.facilities.models import Facility
from health_f0.his import services
from health_f0.his.adapters import NoLookupAdapter
from health_f0.his.models import HisLabResult, HisLink, HisLinkRequest, HisVisit
from health_f0.his.tests.conftest import make_patient, unique_bhyt, unique_cccd, xml_patient
from health_f0.patients.bonds import phone_bond_record
from health_f0.patients.models import BondMethod, Patient

pytestmark = pytest.mark.django_db

PAGES = ["/lien-ket-ho-so", "/ho-so-kham", "/ket-qua-xet-nghiem", "/ho-so-kham/in"]


def html(response: Any) -> str:
    return response.content.decode()


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(response)))


@pytest.fixture
def hung(demo: Any) -> Patient:
    return Patient.objects.select_related("account").get(account__username="bn0000001")


@pytest.fixture
def portal(hung: Patient) -> Client:
    client = Client()
    client.force_login(hung.account)
    return client


def link_with_records(patient: Patient, facility: Facility, tag: str, days_ago: int = 3) -> HisVisit:
    """An active link and one imported visit with two results (as the XML import stores them)."""
    HisLink.objects.get_or_create(
        patient=patient,
        facility=facility,
        active=True,
        defaults={"his_patient_id": f"HIS-{tag}", "his_code": f"BN-{tag}", "linked_at": timezone.now()},
    )
    when = timezone.now() - timedelta(days=days_ago)
    visit = HisVisit.objects.create(
        patient=patient,
        facility=facility,
        source="xml",
        external_id=f"MALK-{tag}",
        department_name="Khoa Nội tiết",
        admitted_at=when,
        discharged_at=when + timedelta(hours=2),
        diagnosis_text=f"Chẩn đoán {tag}",
        icd10="E11.9",
    )
    for n, (name, value, flag) in enumerate([("Glucose", "7.8", "H"), ("Kali", "3.1", "L")]):
        HisLabResult.objects.create(
            patient=patient,
            facility=facility,
            source="xml",
            external_id=f"MALK-{tag}:{n}",
            visit=visit,
            name=f"{name} {tag}",
            value=value,
            value_number=Decimal(value),
            unit="mmol/L",
            reference_low=Decimal("3.5"),
            reference_high=Decimal("6.4"),
            flag=flag,
            observed_at=when + timedelta(minutes=n),
        )
    return visit


def family_member(hung: Patient) -> Patient:
    """A relative on the same phone with an account of their own (the family rule of access.patients_for)."""
    account = get_user_model().objects.create_user(username="bn-con", phone=hung.phone)
    child = make_patient(name="Nguyễn Minh Khang", born=date(2015, 6, 1), phone=hung.phone, account=account)
    # The phone answered an OTP (patients.bonds): accounts on it act for each other.
    phone_bond_record(patient=child, phone=hung.phone, method=BondMethod.PORTAL_OTP, actor=None)
    return child


# --- Access ----------------------------------------------------------------------------------------


def test_pages_need_a_patient_login(hung: Patient, persona: Any) -> None:
    for path in PAGES:
        response = Client().get(path)
        assert response.status_code == 302 and "/dang-nhap" in response["Location"], path
    staff = Client()
    staff.force_login(persona("lienket.his"))
    for path in PAGES:
        response = staff.get(path)
        assert response.status_code == 302 and response["Location"] == reverse("admin:index"), path


def test_me_links_to_the_his_pages(portal: Client) -> None:
    page = html(portal.get("/ca-nhan"))
    assert 'href="/ho-so-kham"' in page and 'href="/lien-ket-ho-so"' in page


def test_only_own_records_and_the_family_switch(portal: Client, hung: Patient, ttyt: Facility) -> None:
    link_with_records(hung, ttyt, "HUNG")
    stranger = make_patient(name="Trần Văn Lạ")
    link_with_records(stranger, ttyt, "LA")
    child = family_member(hung)
    link_with_records(child, ttyt, "CON", days_ago=1)

    for path in ["/ho-so-kham", "/ket-qua-xet-nghiem", "/ho-so-kham/in"]:
        page = text(portal.get(path))
        assert "Chẩn đoán HUNG" in page or "Glucose HUNG" in page, path
        assert "LA" not in re.findall(r"\b(?:HUNG|LA|CON)\b", page), path
        assert "CON" not in re.findall(r"\b(?:HUNG|LA|CON)\b", page), path
        assert "Nguyễn Minh Khang" in page  # the switch offers the relative

    switched = text(portal.get(f"/ho-so-kham?nguoi-benh={child.public_id}"))
    assert "Chẩn đoán CON" in switched and "Chẩn đoán HUNG" not in switched
    # The choice is remembered for the other pages.
    assert "Glucose CON" in text(portal.get("/ket-qua-xet-nghiem"))
    assert portal.get(f"/ho-so-kham?nguoi-benh={stranger.public_id}").status_code == 404
    assert portal.get("/ho-so-kham?nguoi-benh=khong-phai-ma").status_code == 404


def test_the_records_scope_is_read_with_the_patient_choice(
    portal: Client, hung: Patient, ttyt: Facility
) -> None:
    """The HIS record pages read the account's active links in the patient choice's statement (issue 11): no
    statement of their own on his_hislink, the same records and family switch; a link that ends hides its
    patient's records on the next request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    link_with_records(hung, ttyt, "HUNG")
    child = family_member(hung)
    link_with_records(child, ttyt, "CON", days_ago=1)
    for path in ["/ho-so-kham", "/ket-qua-xet-nghiem", f"/ho-so-kham?nguoi-benh={child.public_id}"]:
        with CaptureQueriesContext(connection) as ctx:
            response = portal.get(path)
        assert response.status_code == 200, path
        own = [
            q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT patient_id, facility_id")
        ]
        assert not own, (path, own)
        assert "Glucose" in text(response), path
    assert "Chẩn đoán CON" in text(portal.get("/ho-so-kham"))  # the switch remembered
    HisLink.objects.filter(patient=child).update(active=False)
    page = text(portal.get("/ho-so-kham"))
    assert "Chẩn đoán CON" not in page and "Glucose CON" not in page


def test_visit_history_shows_dates_diagnosis_and_flags_in_words(
    portal: Client, hung: Patient, ttyt: Facility
) -> None:
    visit = link_with_records(hung, ttyt, "HUNG")
    page = text(portal.get("/ho-so-kham"))
    day = timezone.localtime(visit.admitted_at).strftime("%d/%m/%Y")
    assert day in page and "Trung tâm Y tế khu vực Hải Dương" in page and "Khoa Nội tiết" in page
    assert "Chẩn đoán: Chẩn đoán HUNG" in page and "E11.9" in page
    # Value with a decimal comma, unit, reference range, and the flag as a word (not colour only).
    assert "7,8 mmol/L" in page and "3,5 – 6,4 mmol/L" in page
    assert "Cao — ngoài khoảng tham chiếu (H)" in page and "Thấp — ngoài khoảng tham chiếu (L)" in page


def test_lab_results_newest_first_and_out_of_range_filter(
    portal: Client, hung: Patient, ttyt: Facility
) -> None:
    link_with_records(hung, ttyt, "CU", days_ago=30)
    link_with_records(hung, ttyt, "MOI", days_ago=2)
    HisLabResult.objects.create(
        patient=hung,
        facility=ttyt,
        source="xml",
        external_id="MALK-N:1",
        name="Ure",
        value="5.0",
        value_number=Decimal("5"),
        unit="mmol/L",
        reference_low=Decimal("2.5"),
        reference_high=Decimal("7.5"),
        flag="N",
        observed_at=timezone.now(),
    )
    page = text(portal.get("/ket-qua-xet-nghiem"))
    assert page.index("Ure") < page.index("Kali MOI") < page.index("Glucose MOI") < page.index("Kali CU")
    assert "Bình thường" in page
    only = text(portal.get("/ket-qua-xet-nghiem?bat-thuong=1"))
    assert "Ure" not in only and "Glucose MOI" in only and "Kali CU" in only


def test_print_summary_has_print_css_and_identity(portal: Client, hung: Patient, ttyt: Facility) -> None:
    link_with_records(hung, ttyt, "HUNG")
    response = portal.get("/ho-so-kham/in")
    page = html(response)
    assert response.status_code == 200 and "@media print" in page
    assert hung.full_name in page and hung.date_of_birth.strftime("%d/%m/%Y") in page
    assert "BN-HUNG" in page and "Glucose HUNG" in page


def test_without_a_link_the_pages_point_to_linking(portal: Client) -> None:
    for path in ["/ho-so-kham", "/ket-qua-xet-nghiem"]:
        page = html(portal.get(path))
        assert "Chưa liên kết với hồ sơ bệnh viện" in page and 'href="/lien-ket-ho-so"' in page


def test_pages_stay_small(portal: Client, hung: Patient, ttyt: Facility) -> None:
    for n in range(25):
        link_with_records(hung, ttyt, f"V{n}", days_ago=n + 1)
    for path in PAGES:
        response = portal.get(path)
        assert response.status_code == 200, path
        assert len(response.content) < 100 * 1024, (path, len(response.content))
    first = html(portal.get("/ho-so-kham"))
    assert "Trang sau" in first and "Chẩn đoán V24" not in first
    next_link = re.search(r'<a href="([^"]+)" rel="next"', first)
    assert next_link is not None
    assert "Chẩn đoán V24" in text(portal.get(next_link.group(1).replace("&amp;", "&")))
    assert portal.get("/ho-so-kham?trang=abc").status_code == 200


# --- Linking against the real FHIR server ---------------------------------------------------------


def test_exact_match_links_at_once_and_the_history_appears(
    portal: Client,
    hung: Patient,
    ttyt: Facility,
    fhir: Any,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    bhyt = unique_bhyt()
    his = fhir.patient(name=hung.full_name.upper(), birth=hung.date_of_birth.isoformat(), bhyt=bhyt)
    encounter = fhir.encounter(
        his["id"], start="2026-04-07T08:00:00+07:00", icd="I10", text="Tăng huyết áp vô căn"
    )
    fhir.observation(
        his["id"],
        encounter["id"],
        code="2345-7",
        name="Glucose máu",
        value=7.2,
        unit="mmol/L",
        low=3.9,
        high=6.4,
        when="2026-04-07T09:00:00+07:00",
    )
    form = html(portal.get("/lien-ket-ho-so"))
    assert "Chưa liên kết" in form and 'name="identifier"' in form
    with django_capture_on_commit_callbacks(execute=True):
        response = portal.post(
            "/lien-ket-ho-so",
            {"patient": str(hung.public_id), "identifier_type": "bhyt", "identifier": f" {bhyt} "},
        )
    assert response.status_code == 302 and response["Location"] == "/lien-ket-ho-so"
    request = HisLinkRequest.objects.get(patient=hung)
    assert (request.status, request.channel, request.auto_linked) == ("linked", "portal", True)
    assert "da duoc lien ket" in sms.last(to=hung.phone, kind="his_link")["body"]

    page = text(portal.get("/lien-ket-ho-so"))
    assert "Đã liên kết tài khoản với hồ sơ bệnh viện" in page and "Đã liên kết" in page
    assert 'name="identifier"' not in page  # nothing more to ask for at the only hospital
    history = text(portal.get("/ho-so-kham"))
    assert "07/04/2026" in history and "Tăng huyết áp vô căn" in history and "I10" in history
    assert "Glucose máu" in history and "7,2 mmol/L" in history and "3,9 – 6,4 mmol/L" in history
    assert "Cao — ngoài khoảng tham chiếu (H)" in history


def test_ambiguity_waits_with_the_link_form_then_rejection_shows_the_reason(
    portal: Client,
    hung: Patient,
    ttyt: Facility,
    fhir: Any,
    linker: Any,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    cccd = unique_cccd(hung.date_of_birth.year)
    for code in ("BN-A1", "BN-A2"):
        fhir.patient(name=hung.full_name, birth=hung.date_of_birth.isoformat(), cccd=cccd, his_code=code)
    response = portal.post(
        "/lien-ket-ho-so", {"patient": str(hung.public_id), "identifier_type": "cccd", "identifier": cccd}
    )
    assert response.status_code == 302
    request = HisLinkRequest.objects.get(patient=hung)
    assert request.status == "needs_review" and len(request.candidates) == 2
    assert not HisLink.objects.filter(patient=hung).exists()
    page = text(portal.get("/lien-ket-ho-so"))
    assert "Đã gửi yêu cầu liên kết" in page and "Đang chờ bệnh viện kiểm tra" in page and cccd in page
    assert f"/lien-ket-ho-so/{request.public_id}/phieu-lien-ket.pdf" in html(portal.get("/lien-ket-ho-so"))
    # A second request while one waits: a clear message, nothing created.
    again = portal.post(
        "/lien-ket-ho-so", {"patient": str(hung.public_id), "identifier_type": "cccd", "identifier": cccd}
    )
    assert again.status_code == 409 and "Đã có một yêu cầu liên kết đang chờ xử lý" in text(again)
    assert HisLinkRequest.objects.filter(patient=hung).count() == 1

    pdf = portal.get(f"/lien-ket-ho-so/{request.public_id}/phieu-lien-ket.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf["Content-Disposition"]

    with django_capture_on_commit_callbacks(execute=True):
        services.link_request_reject(request=request, actor=linker, reason="Có hai hồ sơ trùng số CCCD")
    page = text(portal.get("/lien-ket-ho-so"))
    assert "Chưa được chấp nhận" in page and "Có hai hồ sơ trùng số CCCD" in page
    assert 'name="identifier"' in html(portal.get("/lien-ket-ho-so"))  # may ask again
    # The form of a decided request is no longer offered.
    assert portal.get(f"/lien-ket-ho-so/{request.public_id}/phieu-lien-ket.pdf").status_code == 404


def test_bad_identifiers_get_vietnamese_messages_at_the_field(
    portal: Client, hung: Patient, ttyt: Facility, fhir: Any
) -> None:
    cases = [
        ("cccd", "12345", "CCCD"),
        ("bhyt", "12ab", "BHYT"),
        ("his_code", "a", "Mã người bệnh tại bệnh viện gồm 3–32 ký tự"),
        ("cccd", "", "Vui lòng nhập mã."),
        ("khac", "123456789012", "Vui lòng chọn loại mã."),
    ]
    for kind, value, message in cases:
        response = portal.post(
            "/lien-ket-ho-so", {"patient": str(hung.public_id), "identifier_type": kind, "identifier": value}
        )
        assert response.status_code == 400, (kind, value)
        page = html(response)
        assert "error-summary" in page and message in page, (kind, value)
        assert 'class="field has-error' in page or "choices-field has-error" in page
    assert not HisLinkRequest.objects.filter(patient=hung).exists()
    stranger = make_patient(name="Trần Văn Lạ")
    response = portal.post(
        "/lien-ket-ho-so", {"patient": str(stranger.public_id), "identifier_type": "cccd", "identifier": "x"}
    )
    assert response.status_code == 404


def test_unlink_with_a_reason(
    portal: Client, hung: Patient, ttyt: Facility, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    request = services.link_request_create(
        patient=hung,
        identifier_type="his_code",
        identifier="BN778899",
        channel="portal",
        actor=hung.account,
        facility=ttyt,
        adapter=NoLookupAdapter(),  # a HIS reached only through its XML files: the linker decides
    )
    xml_patient(ttyt, "BN778899", hung)  # the code must name a record the HIS returned (issue 8)
    link = services.link_request_approve(
        request=request, actor=get_user_model().objects.get(username="lienket.his"), his_patient_id="BN778899"
    )
    HisVisit.objects.create(
        patient=hung, facility=ttyt, source="xml", external_id="MALK-U", diagnosis_text="Viêm họng cấp"
    )
    assert "Viêm họng cấp" in text(portal.get("/ho-so-kham"))
    url = f"/lien-ket-ho-so/{link.public_id}/huy"
    assert url in html(portal.get("/lien-ket-ho-so"))
    confirm = text(portal.get(url))
    assert "Xác nhận huỷ liên kết" in confirm and "Trung tâm Y tế khu vực Hải Dương" in confirm
    empty = portal.post(url, {"reason": "  "})
    assert empty.status_code == 400 and "Vui lòng nhập lý do huỷ liên kết." in html(empty)
    with django_capture_on_commit_callbacks(execute=True):
        done = portal.post(url, {"reason": "Không phải hồ sơ của tôi"})
    assert done.status_code == 302
    link.refresh_from_db()
    assert not link.active and link.unlinked_by == hung.account
    assert "da huy lien ket" in sms.last(to=hung.phone, kind="his_link")["body"]
    page = text(portal.get("/lien-ket-ho-so"))
    assert "Đã huỷ liên kết. Hồ sơ của bệnh viện này" in page
    assert "Viêm họng cấp" not in text(portal.get("/ho-so-kham"))
    assert portal.get(url).status_code == 404  # already ended

    stranger = make_patient(name="Trần Văn Lạ")
    theirs = HisLink.objects.create(
        patient=stranger, facility=ttyt, his_patient_id="X-1", linked_at=timezone.now()
    )
    assert portal.get(f"/lien-ket-ho-so/{theirs.public_id}/huy").status_code == 404
    assert portal.post(f"/lien-ket-ho-so/{theirs.public_id}/huy", {"reason": "x"}).status_code == 404
    assert HisLink.objects.get(pk=theirs.pk).active


def test_someone_elses_link_form_is_not_found(portal: Client, ttyt: Facility, linker: Any) -> None:
    stranger = make_patient(name="Trần Văn Lạ")
    theirs = services.link_request_create(
        patient=stranger,
        identifier_type="his_code",
        identifier="BN5555",
        channel="reception",
        actor=linker,
        facility=ttyt,
        adapter=NoLookupAdapter(),
    )
    assert portal.get(f"/lien-ket-ho-so/{theirs.public_id}/phieu-lien-ket.pdf").status_code == 404


def test_print_summary_escapes_as_the_django_template_did(
    portal: Client, hung: Patient, ttyt: Facility
) -> None:
    """/ho-so-kham/in moved to Jinja2 (issue 11) with its bytes: values escaped as Django escapes them
    (`&#x27;`, `&quot;`), the page ending in a newline, and drawn like the Django template for both languages
    and for a patient without a link."""
    from django.template import engines
    from django.utils.html import escape

    Patient.objects.filter(pk=hung.pk).update(full_name='Lê Thị "Hoa" O\'Neil <b>&', bhyt="HS'4<0>1")
    hung.refresh_from_db()
    unlinked = html(portal.get("/ho-so-kham/in"))
    assert unlinked.endswith("</html>\n") and "Chưa liên kết với hồ sơ bệnh viện" in unlinked
    link_with_records(hung, ttyt, "HUNG")
    HisLink.objects.filter(patient=hung).update(his_code="BN'\"<&>")
    page = html(portal.get("/ho-so-kham/in"))
    assert page.endswith("</html>\n")
    assert f"<dd>{escape(hung.full_name)}</dd>" in page and "&#x27;Neil &lt;b&gt;&amp;" in page
    assert f"<dd>{escape(hung.bhyt)}</dd>" in page
    assert f"{escape(ttyt.name)} — mã {escape(chr(66) + 'N' + chr(39) + chr(34) + '<&>')}</dd>" in page
    assert "&#39;" not in page.split("<main", 1)[1]  # no Jinja2-style quote escapes in the page's body
    dj = engines["jinja2"].from_string("{{ a|dj }}|{{ b|dj }}").render({"a": "<'\">&", "b": escape("<'>")})
    assert dj == "&lt;&#x27;&quot;&gt;&amp;|&lt;&#x27;&gt;"
