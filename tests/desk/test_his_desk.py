"""HIS linking in the desk: the linker's queue (patient next to the HIS candidates), its scoping, approve /
reject / look up again / unlink with SMS and audit rows, reception's request and link form, the insurance XML
upload (good, malformed, not XML, queued in the background), the FHIR "pull now", the read-only visits."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility, Membership, Role
from health_f0.his import services
from health_f0.his.adapters import HisPatient, HisUnavailable
from health_f0.his.models import HisLink, HisLinkRequest, HisVisit, ImportRun
from health_f0.his.tests.conftest import make_patient, unique_bhyt, xml_patient
from health_f0.his.tests.test_xml import LABS, envelope, xml1, xml4
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db

QUEUE = "/desk/his/hislinkrequest/hang-cho/"
NAME = "Trần Thị Bích Ngọc"
BORN = date(1975, 3, 14)


class FakeHis:
    """A HIS that answers with these patients, or is down."""

    def __init__(self, found: list[HisPatient] | None = None, down: bool = False):
        self.found = found or []
        self.down = down

    def find_patients(self, *, identifier_type: str, identifier: str) -> list[HisPatient]:
        if self.down:
            raise HisUnavailable("kết nối bị từ chối")
        return self.found


def his_patient(his_id: str, *, name: str = NAME, born: date = BORN, bhyt: str = "") -> HisPatient:
    return HisPatient(
        his_patient_id=his_id,
        full_name=name,
        date_of_birth=born,
        sex="female",
        identifiers={"bhyt": bhyt, "his_code": his_id},
        address="Phường Thành Đông, Hải Phòng",
    )


@pytest.fixture(autouse=True)
def no_fhir(settings: Any) -> None:
    settings.HIS_FHIR_BASE_URL = ""


@pytest.fixture
def ttyt(demo: Any) -> Facility:
    return Facility.objects.get(code="TTYT-HD")


def waiting(persona: Any, *, found: list[HisPatient] | None = None, down: bool = False) -> HisLinkRequest:
    """A request reception started whose HIS answer was not exact: it waits in the linker's queue."""
    card = unique_bhyt()
    patient = make_patient()
    found = (
        found
        if found is not None
        else [his_patient("BN100", bhyt=card), his_patient("BN200", name="Trần Thị Ngọc", bhyt=card)]
    )
    request = services.link_request_create(
        patient=patient,
        identifier_type="bhyt",
        identifier=card,
        channel="reception",
        actor=persona("tiepdon"),
        adapter=FakeHis(found, down=down),
    )
    assert request.status == "needs_review"
    return request


def other_linker(ttyt: Facility) -> Any:
    root = Facility.objects.get(code="SYT-31")
    hospital = Facility.objects.create(
        kind="hospital", code="BV-KHAC", name="Bệnh viện Đa khoa Khác", parent=root, province_code=31
    )
    hospital.path = f"{root.path}{hospital.pk}/"
    hospital.save(update_fields=["path"])
    user = get_user_model().objects.create_user(username="lienket.bvkhac", is_staff=True)
    Membership.objects.create(user=user, facility=hospital, role=Role.HIS_LINKER)
    return user


# --- The queue ---------------------------------------------------------------------------------------


def test_queue_shows_the_patient_and_candidates_side_by_side(desk: Any, persona: Any, ttyt: Facility) -> None:
    request = waiting(persona)
    response = desk("lienket.his").get(QUEUE)
    assert response.status_code == 200
    html = response.content.decode()
    assert request.patient.full_name in html and "14/03/1975" in html
    assert "Hồ sơ HIS 1 · mã BN100" in html and "Hồ sơ HIS 2 · mã BN200" in html
    # Mismatches are said in words, not by colour only.
    assert "✓ Khớp" in html and "✗ Không khớp" in html and "Khác: Họ và tên" in html
    assert "Liên kết hồ sơ này" in html and "Tra cứu lại HIS" in html and "In phiếu liên kết" in html
    viewed = AuditLog.objects.get(verb="view_his_link_queue")
    assert viewed.action == "view" and viewed.target_id == str(request.patient_id)


def test_queue_is_oldest_first(desk: Any, persona: Any, ttyt: Facility) -> None:
    first, second = waiting(persona), waiting(persona)
    html = desk("lienket.his").get(QUEUE).content.decode()
    assert html.index(f'data-request="{first.pk}"') < html.index(f'data-request="{second.pk}"')


def test_a_linker_of_another_hospital_sees_nothing(client: Any, persona: Any, ttyt: Facility) -> None:
    request = waiting(persona)
    client.force_login(other_linker(ttyt))
    html = client.get(QUEUE).content.decode()
    assert request.patient.full_name not in html and "Không có yêu cầu liên kết nào đang chờ" in html
    assert client.get(reverse("admin:his_hislinkrequest_change", args=[request.pk])).status_code == 404
    assert (
        client.post(
            reverse("admin:his_link_approve", args=[request.pk]), {"his_patient_id": "BN100"}
        ).status_code
        == 404
    )
    assert client.get(reverse("admin:his_link_form_pdf", args=[request.pk])).status_code == 404
    request.refresh_from_db()
    assert request.status == "needs_review"


@pytest.mark.parametrize("username", ["thanhdong.nv", "datlich"])
def test_staff_without_the_linker_role_cannot_open_the_queue(
    desk: Any, persona: Any, ttyt: Facility, username: str
) -> None:
    waiting(persona)
    assert desk(username).get(QUEUE).status_code == 403


# --- Decisions ---------------------------------------------------------------------------------------


def test_approve_links_texts_and_audits(
    desk: Any, persona: Any, ttyt: Facility, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    request = waiting(persona)
    with django_capture_on_commit_callbacks(execute=True):
        response = desk("lienket.his").post(
            reverse("admin:his_link_approve", args=[request.pk]),
            {"his_patient_id": "BN100", "next": QUEUE},
            follow=True,
        )
    assert "Đã liên kết" in response.content.decode()
    request.refresh_from_db()
    assert request.status == "linked" and request.decided_by.username == "lienket.his"
    link = HisLink.objects.get(patient=request.patient, active=True)
    assert link.his_patient_id == "BN100" and link.his_code == "BN100"
    assert "da duoc lien ket" in sms.last(to=request.patient.phone, kind="his_link")["body"]
    assert AuditLog.objects.filter(
        verb="his_link_approve", target_id=str(request.pk), action="transition"
    ).exists()
    # The decided request's page offers no decision: its buttons are the workflow's open actions.
    detail = desk("lienket.his").get(reverse("admin:his_hislinkrequest_change", args=[request.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200 and "Liên kết hồ sơ này" not in html and "Tra cứu lại HIS" not in html


def test_reject_without_a_reason_is_refused(desk: Any, persona: Any, ttyt: Facility, sms: Any) -> None:
    request = waiting(persona)
    response = desk("lienket.his").post(
        reverse("admin:his_link_reject", args=[request.pk]), {"reason": "  ", "next": QUEUE}, follow=True
    )
    assert response.status_code == 200 and "Vui lòng nhập lý do từ chối" in response.content.decode()
    request.refresh_from_db()
    assert request.status == "needs_review"
    assert not [m for m in sms.messages() if m["kind"] == "his_link"]


def test_reject_with_a_reason_texts_it(
    desk: Any, persona: Any, ttyt: Facility, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    request = waiting(persona)
    with django_capture_on_commit_callbacks(execute=True):
        desk("lienket.his").post(
            reverse("admin:his_link_reject", args=[request.pk]),
            {"reason": "Ngày sinh trên HIS khác giấy tờ, mời đến quầy tiếp đón"},
        )
    request.refresh_from_db()
    assert request.status == "rejected" and request.reason.startswith("Ngày sinh")
    assert "Ngay sinh tren HIS khac" in sms.last(to=request.patient.phone, kind="his_link")["body"]
    assert AuditLog.objects.filter(verb="his_link_reject", target_id=str(request.pk)).exists()


def test_look_up_again_when_the_his_was_down(
    desk: Any, persona: Any, ttyt: Facility, monkeypatch: Any
) -> None:
    request = waiting(persona, found=[], down=True)
    client = desk("lienket.his")
    assert "Chưa tra cứu được HIS" in client.get(QUEUE).content.decode()
    monkeypatch.setattr(
        services, "adapter_for", lambda facility: FakeHis([his_patient("BN300", bhyt=request.identifier)])
    )
    response = client.post(reverse("admin:his_link_lookup", args=[request.pk]), {"next": QUEUE}, follow=True)
    assert "1 hồ sơ tìm được" in response.content.decode()
    request.refresh_from_db()
    assert request.lookup_error == "" and request.candidates[0]["his_patient_id"] == "BN300"
    assert request.status == "needs_review"  # a person decides from here on
    assert AuditLog.objects.filter(verb="his_link_lookup", target_id=str(request.pk)).exists()


def test_no_candidates_the_linker_types_the_his_code(desk: Any, persona: Any, ttyt: Facility) -> None:
    """The linker names the HIS code; it must resolve to a record the HIS returned (issue 8: free text
    used to link as is), which is shown beside the account before the linker links it."""
    request = waiting(persona, found=[])
    client = desk("lienket.his")
    html = client.get(QUEUE).content.decode()
    assert "HIS không trả về hồ sơ nào" in html and "Mã người bệnh trong HIS (MA_BN)" in html
    response = client.post(
        reverse("admin:his_link_find", args=[request.pk]), {"his_code": "BN777", "next": QUEUE}, follow=True
    )
    assert "Không tìm thấy hồ sơ mã BN777" in response.content.decode()
    xml_patient(ttyt, "BN777", request.patient)
    html = client.post(
        reverse("admin:his_link_find", args=[request.pk]), {"his_code": "BN777", "next": QUEUE}, follow=True
    ).content.decode()
    assert "Hồ sơ HIS 1 · mã BN777" in html and "Liên kết hồ sơ này" in html
    client.post(reverse("admin:his_link_approve", args=[request.pk]), {"his_patient_id": "BN777"})
    assert HisLink.objects.get(patient=request.patient).his_code == "BN777"


def test_unlink_needs_a_reason_and_is_audited(
    desk: Any, persona: Any, ttyt: Facility, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    request = waiting(persona)
    link = services.link_request_approve(
        request=request, actor=persona("lienket.his"), his_patient_id="BN100"
    )
    client = desk("lienket.his")
    url = reverse("admin:his_hislink_unlink_action", args=[link.pk])
    page = client.get(reverse("admin:his_hislink_change", args=[link.pk]))
    assert page.status_code == 200 and "Huỷ liên kết" in page.content.decode()
    assert AuditLog.objects.filter(verb="view_his_link", target_id=str(link.patient_id)).exists()
    refused = client.post(url, {"_form_submitted": "on", "reason": ""})
    assert "Vui lòng nhập lý do huỷ liên kết" in refused.content.decode()
    link.refresh_from_db()
    assert link.active
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"_form_submitted": "on", "reason": "Liên kết nhầm người cùng tên"})
    link.refresh_from_db()
    assert not link.active and link.unlink_reason == "Liên kết nhầm người cùng tên"
    assert AuditLog.objects.filter(
        verb="his_unlink", target_id=str(link.pk), actor__username="lienket.his"
    ).exists()
    assert "da huy lien ket" in sms.last(to=link.patient.phone, kind="his_link")["body"]


# --- Reception ---------------------------------------------------------------------------------------


def test_reception_starts_a_request_and_prints_the_link_form(
    desk: Any, persona: Any, ttyt: Facility, appointments_demo: Any
) -> None:
    from health_f0.appointments.models import Service
    from health_f0.appointments.services import walk_in_register

    patient = make_patient(phone="+84912000111")
    patient.account = get_user_model().objects.create_user(username="bn-his-1")
    patient.save(update_fields=["account"])
    # At the counter with a queue ticket: reception finds patients through its own work only (issue 8).
    walk_in_register(patient=patient, service=Service.objects.get(code="kham-noi"), actor=persona("tiepdon"))
    client = desk("tiepdon")
    card = unique_bhyt()
    response = client.post(
        reverse("admin:his_hislinkrequest_add"),
        {"patient_query": "0912 000 111", "identifier_type": "bhyt", "identifier": card},
    )
    html = response.content.decode()
    assert response.status_code == 200 and "In phiếu liên kết (PDF)" in html
    request = HisLinkRequest.objects.get(patient=patient)
    assert (
        request.channel == "reception" and request.status == "needs_review"
    )  # no online HIS: the linker decides
    pdf = client.get(reverse("admin:his_link_form_pdf", args=[request.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_reception_with_an_unknown_patient_gets_a_message(desk: Any, ttyt: Facility) -> None:
    response = desk("tiepdon").post(
        reverse("admin:his_hislinkrequest_add"),
        {"patient_query": "0999999999", "identifier_type": "bhyt", "identifier": "0123456789"},
    )
    assert response.status_code == 200
    assert "Không tìm thấy người bệnh có tài khoản" in response.content.decode()
    assert not HisLinkRequest.objects.exists()


# --- XML upload and FHIR pull ------------------------------------------------------------------------


@pytest.fixture
def linked_patient(ttyt: Facility) -> Patient:
    patient = make_patient()
    HisLink.objects.create(
        patient=patient,
        facility=ttyt,
        his_patient_id="BN001",
        his_code="BN001",
        identifiers={"his_code": "BN001"},
        linked_at=timezone.now(),
    )
    return patient


def upload(client: Any, ttyt: Facility, content: bytes, name: str = "GD_202611.xml") -> Any:
    return client.post(
        reverse("admin:his_import_upload"),
        {"facility": ttyt.pk, "file": SimpleUploadedFile(name, content, content_type="text/xml")},
    )


def test_upload_of_a_good_file_imports_visits(desk: Any, ttyt: Facility, linked_patient: Patient) -> None:
    client = desk("lienket.his")
    data = envelope(
        [[xml1("LK901"), xml4("LK901", LABS)], [xml1("LK902", ma_bn="BN999", card="HS4319999999999")]]
    )
    response = upload(client, ttyt, data)
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:his_importrun_change", args=[run.pk]
    )
    assert (run.status, run.read_count, run.imported_count, run.duplicate_count, run.rejected_count) == (
        "done",
        2,
        1,
        0,
        1,
    )
    assert HisVisit.objects.get(external_id="LK901").patient == linked_patient
    page = client.get(response["Location"]).content.decode()
    assert "LK902" in page and "không tìm thấy người bệnh đã liên kết" in page
    listing = client.get(reverse("admin:his_importrun_changelist")).content.decode()
    assert "GD_202611.xml" in listing and "Nhập tệp XML / đồng bộ FHIR" in listing


def test_a_malformed_file_shows_its_errors_not_a_500(
    desk: Any, ttyt: Facility, linked_patient: Patient
) -> None:
    client = desk("lienket.his")
    good = envelope([[xml1("LK910")], [xml1("LK911", ngay_vao="2026-11-02")]])
    broken = good.replace(b"</GIAMDINHHS>", b"<HOSO><FILEHOSO><LOAIHOSO>XML1</LOAI")
    response = upload(client, ttyt, broken, "hong.xml")
    run = ImportRun.objects.get()
    assert run.status == "failed"
    page = client.get(response["Location"])
    html = page.content.decode()
    assert (
        page.status_code == 200 and "không đúng cấu trúc" in html and "NGAY_VAO không đúng định dạng" in html
    )


def test_a_non_xml_upload_is_refused(desk: Any, ttyt: Facility) -> None:
    client = desk("lienket.his")
    response = upload(client, ttyt, b"%PDF-1.7 ...", "giay-to.pdf")
    assert response.status_code == 400 and "Chỉ nhận tệp .xml" in response.content.decode()
    response = upload(client, ttyt, b"MA_LK,HO_TEN\nLK1,An\n", "bang.xml")
    assert response.status_code == 400 and "Nội dung tệp không phải XML" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_an_oversized_upload_is_refused_before_reading(desk: Any, ttyt: Facility, settings: Any) -> None:
    settings.HIS_XML_MAX_UPLOAD_BYTES = 1024
    response = upload(desk("lienket.his"), ttyt, b"<x>" + b" " * 200_000 + b"</x>")
    assert response.status_code == 413 and "Tệp lớn hơn" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_a_large_file_is_imported_in_the_background(
    desk: Any, ttyt: Facility, linked_patient: Patient, monkeypatch: Any, settings: Any, tmp_path: Any
) -> None:
    from health_f0.his.desk import uploads

    monkeypatch.setattr(uploads, "XML_INLINE_BYTES", 100)
    settings.VAR_DIR = tmp_path
    response = upload(desk("lienket.his"), ttyt, envelope([[xml1("LK920")]]))
    assert response.status_code == 302 and response["Location"] == reverse("admin:his_importrun_changelist")
    run = ImportRun.objects.get()  # Huey runs immediately in tests
    assert run.status == "done" and run.imported_count == 1 and run.started_by.username == "lienket.his"
    assert not list((tmp_path / "his-uploads").iterdir())  # the spooled copy is gone


def test_a_linker_cannot_upload_for_another_hospital(client: Any, ttyt: Facility) -> None:
    client.force_login(other_linker(ttyt))
    response = upload(client, ttyt, envelope([[xml1("LK930")]]))
    assert response.status_code == 400 and "Không tìm thấy cơ sở" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_fhir_pull_now(desk: Any, ttyt: Facility, settings: Any, monkeypatch: Any) -> None:
    from health_f0.his import imports

    pulled: list[Facility] = []
    monkeypatch.setattr(imports, "fhir_pull", lambda *, facility: pulled.append(facility))
    client = desk("lienket.his")
    response = client.post(reverse("admin:his_fhir_pull"), {"facility": ttyt.pk}, follow=True)
    assert "Chưa cấu hình địa chỉ FHIR" in response.content.decode() and not pulled
    settings.HIS_FHIR_BASE_URL = "http://127.0.0.1:1/fhir"
    response = client.post(reverse("admin:his_fhir_pull"), {"facility": ttyt.pk}, follow=True)
    assert "Đã yêu cầu đồng bộ FHIR" in response.content.decode() and pulled == [ttyt]


# --- Imported records --------------------------------------------------------------------------------


def test_visits_are_read_only_scoped_and_audited(
    desk: Any, ttyt: Facility, linked_patient: Patient, client: Any
) -> None:
    from health_f0.his import imports

    data = envelope([[xml1("LK940"), xml4("LK940", LABS)]])
    imports.xml_import(facility=ttyt, stream=io.BytesIO(data), file_name="a.xml")
    linker = desk("lienket.his")
    html = linker.get(reverse("admin:his_hisvisit_changelist")).content.decode()
    assert linked_patient.full_name in html and "E11" in html
    assert AuditLog.objects.filter(verb="view_his_visits", target_id=str(linked_patient.pk)).exists()
    results = linker.get(reverse("admin:his_hislabresult_changelist")).content.decode()
    assert "Glucose" in results and "Cao" in results
    visit = HisVisit.objects.get(external_id="LK940")
    assert linker.get(reverse("admin:his_hisvisit_change", args=[visit.pk])).status_code == 200
    client.force_login(other_linker(ttyt))
    assert (
        linked_patient.full_name not in client.get(reverse("admin:his_hisvisit_changelist")).content.decode()
    )
    assert client.get(reverse("admin:his_hisvisit_change", args=[visit.pk])).status_code in (302, 404)


def test_sidebar_has_the_his_group_for_linkers_only(desk: Any, ttyt: Facility) -> None:
    html = desk("lienket.his").get(QUEUE).content.decode()
    assert "Liên kết HIS" in html and "Hàng chờ liên kết" in html and "Báo cáo liên kết HIS" in html
    station = desk("thanhdong.nv").get(reverse("admin:registration_registration_changelist")).content.decode()
    assert "Hàng chờ liên kết" not in station
