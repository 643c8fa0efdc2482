"""Issue 8, item 1 — identity: an identifier the patient types is a claim, never a key.

The attack from the review: a patient asks to link their account while typing a stranger's CCCD. Before the
fix the typed number was stored on the link, and the insurance-XML import attached every later record with
that CCCD (visits, diagnoses, an HIV result, XML14 re-exam bookings with their SMS) to the requester.

Each test below failed on the code before the fix:
* a link stores only identifiers the HIS returned for the record the linker (or the auto-link) chose; the
  typed value stays on the request as the requester's claim;
* the linker cannot link free text: the HIS code must resolve (FHIR lookup or an imported XML1 patient);
* the XML import attaches through BHYT/CCCD only when name and date of birth agree; otherwise the record is
  held in the linker's queue with the reason, and nothing is booked or texted until a linker attaches it;
* the desk shows the claim as a claim and the resolved HIS record beside the account;
* the portal shows the HIS code that was actually linked;
* links made before the fix are re-derived from what the HIS returned.
"""

from __future__ import annotations

import io
import random
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from health_f0.appointments.models import Appointment
from health_f0.core.exceptions import DomainError
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.his import imports, services
from health_f0.his.adapters import NoLookupAdapter
from health_f0.his.adapters import xml_4750 as x
from health_f0.his.adapters.fhir import FhirAdapter
from health_f0.his.models import HisLabResult, HisLink, HisLinkRequest, HisReexamSlip, HisVisit
from health_f0.his.tests.conftest import (  # noqa: F401 - fixtures: the real FHIR server
    FhirServer,
    fhir,
    fhir_base_url,
    make_patient,
    other_hospital,
    unique_bhyt,
    unique_cccd,
)
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db

QUEUE = "/desk/his/hislinkrequest/hang-cho/"
ASKER = "Trần Thị Bích Ngọc"
ASKER_BORN = date(1975, 3, 14)
VICTIM = "Nguyễn Văn Phúc"
VICTIM_BORN = date(1988, 6, 21)


@pytest.fixture
def ttyt(demo: Any) -> Facility:
    return Facility.objects.get(code="TTYT-HD")


@pytest.fixture
def linker(persona: Any) -> Any:
    return persona("lienket.his")


@pytest.fixture
def no_fhir(settings: Any) -> None:
    """A HIS reached only through its XML files (no online lookup)."""
    settings.HIS_FHIR_BASE_URL = ""


def _code(prefix: str) -> str:
    return f"{prefix}{random.randrange(10**6, 10**7)}"


def _workday(days: int) -> date:
    day = timezone.localdate() + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _xml1(
    ma_lk: str, *, ma_bn: str, name: str, born: date, cccd: str = "", card: str = ""
) -> tuple[str, bytes]:
    row = {
        "MA_LK": ma_lk,
        "STT": 1,
        "MA_BN": ma_bn,
        "HO_TEN": name,
        "SO_CCCD": cccd,
        "NGAY_SINH": f"{born:%Y%m%d}0000",
        "GIOI_TINH": 1,
        "MA_THE_BHYT": card,
        "CHAN_DOAN_RV": "Nhiễm HIV",
        "MA_BENH_CHINH": "B20",
        "MA_KHOA": "K01",
        "NGAY_VAO": "202611020815",
        "NGAY_RA": "202611021130",
    }
    return ("XML1", x.table_xml("XML1", [row]))


def _xml4(ma_lk: str) -> tuple[str, bytes]:
    row = {
        "MA_LK": ma_lk,
        "STT": 1,
        "MA_DICH_VU": "24.0001.1714",
        "MA_CHI_SO": "HIV",
        "TEN_CHI_SO": "HIV Ab test nhanh",
        "GIA_TRI": "Dương tính",
        "DON_VI_DO": "",
        "MO_TA": "",
        "KET_LUAN": "Dương tính",
        "NGAY_KQ": "202611020930",
    }
    return ("XML4", x.table_xml("XML4", [row]))


def _xml14(ma_lk: str, day: date) -> tuple[str, bytes]:
    row = {
        "MA_LK": ma_lk,
        "SO_GIAYHEN_KL": f"GH{ma_lk}",
        "NGAY_HEN_KL": f"{day:%Y%m%d}",
        "MA_KHOA": "KNOI",
        "CHAN_DOAN_RV": "Nhiễm HIV",
    }
    return ("XML14", x.table_xml("XML14", [row]))


def _import(facility: Facility, hosos: list[list[tuple[str, bytes]]]) -> Any:
    body = "".join(x.hoso_xml(tables) for tables in hosos)
    data = (x.envelope_head("31001", len(hosos), date(2026, 11, 3)) + body + x.ENVELOPE_TAIL).encode()
    return imports.xml_import(facility=facility, stream=io.BytesIO(data), file_name="GD.xml", size=len(data))


def _victim_visit(facility: Facility, *, cccd: str, ma_lk: str) -> Any:
    """The stranger's later visit: their own HIS code, their CCCD, an HIV result and a re-exam slip."""
    return _import(
        facility,
        [
            [
                _xml1(ma_lk, ma_bn=_code("BNV"), name=VICTIM, born=VICTIM_BORN, cccd=cccd),
                _xml4(ma_lk),
                _xml14(ma_lk, _workday(14)),
            ]
        ],
    )


def _nothing_attached(patient: Patient, sms: Any) -> None:
    assert not HisVisit.objects.filter(patient=patient).exists()
    assert not HisLabResult.objects.filter(patient=patient).exists()
    assert not HisReexamSlip.objects.filter(patient=patient).exists()
    assert not Appointment.objects.filter(patient=patient).exists()
    assert not [m for m in sms.messages() if m["to"] == patient.phone and m["kind"] != "his_link"]


@pytest.fixture
def reexam_service(ttyt: Facility) -> Any:
    from health_f0.appointments.tests.conftest import make_service

    return make_service(Facility.objects.get(code="PK-NOI1"), code="knoi", booking_horizon_days=120)


# --- The typed identifier is a claim -------------------------------------------------------------------


def test_a_typed_cccd_is_kept_as_the_claim_never_on_the_link(
    no_fhir: None, ttyt: Facility, linker: Any, sms: Any, reexam_service: Any
) -> None:
    asker = make_patient(name=ASKER, born=ASKER_BORN)
    own_code = _code("BNA")
    victim_cccd = unique_cccd(1988)
    # The hospital's XML already named the asker's own record (their HIS code, no CCCD).
    _import(ttyt, [[_xml1(_code("LK"), ma_bn=own_code, name=ASKER, born=ASKER_BORN)]])
    request = services.link_request_create(
        patient=asker,
        identifier_type="cccd",
        identifier=victim_cccd,
        channel="reception",
        actor=linker,
        facility=ttyt,
        adapter=NoLookupAdapter(),
    )
    link = services.link_request_approve(request=request, actor=linker, his_patient_id=own_code)
    link.refresh_from_db()
    assert link.cccd == "" and victim_cccd not in link.identifiers.values()
    assert link.his_code == own_code and link.identifiers.get("his_code") == own_code
    request.refresh_from_db()
    assert (request.identifier_type, request.identifier) == ("cccd", victim_cccd)  # kept as the claim

    # The stranger's later visit (their CCCD, an HIV result, a re-exam slip) is not the asker's.
    run = _victim_visit(ttyt, cccd=victim_cccd, ma_lk=_code("LKV"))
    assert run.imported_count == 0
    _nothing_attached(asker, sms)


def test_identifiers_come_from_the_fhir_record_the_linker_chose(
    fhir: FhirServer,  # noqa: F811 - the fixture imported above
    ttyt: Facility,
    linker: Any,
) -> None:
    adapter = FhirAdapter(base_url=fhir.base_url, backoff=0.01, attempts=2)
    asker = make_patient(name=ASKER, born=ASKER_BORN)
    own_code = _code("BNA")
    own = fhir.patient(name=ASKER, birth=ASKER_BORN.isoformat(), his_code=own_code, gender="female")
    victim_cccd = unique_cccd(1988)
    fhir.patient(name=VICTIM, birth=VICTIM_BORN.isoformat(), cccd=victim_cccd)
    request = services.link_request_create(
        patient=asker,
        identifier_type="cccd",
        identifier=victim_cccd,
        channel="reception",
        actor=linker,
        facility=ttyt,
        adapter=adapter,
    )
    assert request.status == "needs_review"  # the HIS's record with that CCCD is someone else
    link = services.link_request_approve(request=request, actor=linker, his_patient_id=own["id"])
    assert link.his_patient_id == own["id"]
    assert link.cccd == "" and link.his_code == own_code
    assert link.identifiers == {"his_code": own_code}


def test_the_linker_cannot_link_free_text(no_fhir: None, ttyt: Facility, linker: Any, settings: Any) -> None:
    asker = make_patient(name=ASKER, born=ASKER_BORN)
    request = services.link_request_create(
        patient=asker,
        identifier_type="his_code",
        identifier="BN-KHAI-1",
        channel="reception",
        actor=linker,
        facility=ttyt,
        adapter=NoLookupAdapter(),
    )
    with pytest.raises(DomainError) as err:
        services.link_request_approve(request=request, actor=linker, his_patient_id="BN-KHAI-1")
    assert err.value.code == "his_record_not_found"
    assert not HisLink.objects.filter(patient=asker).exists()
    request.refresh_from_db()
    assert request.status == "needs_review"


# --- The XML import's secondary keys -------------------------------------------------------------------


@pytest.fixture
def linked_asker(ttyt: Facility) -> tuple[Patient, HisLink, str]:
    """A patient linked through the proper flow with a CCCD the HIS itself returned."""
    asker = make_patient(name=ASKER, born=ASKER_BORN)
    cccd = unique_cccd(1975, female=True)
    code = _code("BNA")
    link = HisLink.objects.create(
        patient=asker,
        facility=ttyt,
        his_patient_id=code,
        his_code=code,
        cccd=cccd,
        identifiers={"his_code": code, "cccd": cccd},
        linked_at=timezone.now(),
    )
    return asker, link, cccd


def test_a_cccd_match_with_another_name_is_held_not_attached(
    no_fhir: None,
    ttyt: Facility,
    linked_asker: tuple[Patient, HisLink, str],
    sms: Any,
    desk_client: Any,
    reexam_service: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    asker, _link, cccd = linked_asker
    ma_lk = _code("LKH")
    with django_capture_on_commit_callbacks(execute=True):
        run = _victim_visit(ttyt, cccd=cccd, ma_lk=ma_lk)
    assert run.imported_count == 0 and run.rejected_count == 0
    _nothing_attached(asker, sms)
    # The record waits in the linker's queue with the reason.
    client = desk_client("lienket.his")
    html = client.get(QUEUE).content.decode()
    assert ma_lk in html and VICTIM in html and asker.full_name in html
    assert "Khớp số CCCD" in html and "họ tên, ngày sinh" in html
    # Importing the file again neither attaches it nor holds it twice.
    assert _victim_visit(ttyt, cccd=cccd, ma_lk=ma_lk).duplicate_count == 1

    # The linker resolves it (say, the HIS corrected the name) and attaches it: audited, then booked.
    from health_f0.his.models import HisHeldRecord

    held = HisHeldRecord.objects.get(external_id=ma_lk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:his_held_attach", args=[held.pk]), {"next": QUEUE}, follow=True)
    assert response.status_code == 200
    visit = HisVisit.objects.get(external_id=ma_lk)
    assert visit.patient == asker and HisLabResult.objects.filter(visit=visit).count() == 1
    assert HisReexamSlip.objects.get(visit=visit).status == "booked"
    assert AuditLog.objects.filter(
        verb="his_held_attach", target_id=str(held.pk), actor__username="lienket.his"
    ).exists()
    held.refresh_from_db()
    assert held.status == "attached"


def test_a_cccd_match_with_the_same_name_and_birth_date_is_attached(
    no_fhir: None, ttyt: Facility, linked_asker: tuple[Patient, HisLink, str]
) -> None:
    asker, _link, cccd = linked_asker
    ma_lk = _code("LKS")
    run = _import(ttyt, [[_xml1(ma_lk, ma_bn=_code("BNX"), name=ASKER.upper(), born=ASKER_BORN, cccd=cccd)]])
    assert run.imported_count == 1
    assert HisVisit.objects.get(external_id=ma_lk).patient == asker


def test_a_held_record_can_be_dismissed_with_a_reason(
    no_fhir: None,
    ttyt: Facility,
    linked_asker: tuple[Patient, HisLink, str],
    desk_client: Any,
    sms: Any,
    other_hospital: tuple[Facility, Any],  # noqa: F811 - the fixture imported above
) -> None:
    from health_f0.his.models import HisHeldRecord

    asker, _link, cccd = linked_asker
    ma_lk = _code("LKD")
    _victim_visit(ttyt, cccd=cccd, ma_lk=ma_lk)
    held = HisHeldRecord.objects.get(external_id=ma_lk)
    # A linker of another hospital neither sees nor touches it.
    outsider_user = other_hospital[1]
    outsider_user.is_staff = True
    outsider_user.save(update_fields=["is_staff"])
    outsider = Client()
    outsider.force_login(outsider_user)
    assert ma_lk not in outsider.get(QUEUE).content.decode()
    assert f'data-held="{held.pk}"' in client_html(desk_client("lienket.his"))
    assert outsider.post(reverse("admin:his_held_attach", args=[held.pk])).status_code == 404
    client = desk_client("lienket.his")
    refused = client.post(reverse("admin:his_held_dismiss", args=[held.pk]), {"reason": " "}, follow=True)
    assert "Vui lòng nhập lý do" in refused.content.decode()
    client.post(
        reverse("admin:his_held_dismiss", args=[held.pk]),
        {"reason": "Người khác, trùng số CCCD do nhập sai"},
    )
    held.refresh_from_db()
    assert held.status == "dismissed" and held.payload == {}
    assert AuditLog.objects.filter(verb="his_held_dismiss", target_id=str(held.pk)).exists()
    _nothing_attached(asker, sms)
    assert f'data-held="{held.pk}"' not in client.get(QUEUE).content.decode()  # no longer waiting


def client_html(client: Client) -> str:
    return client.get(QUEUE).content.decode()


# --- The screens ---------------------------------------------------------------------------------------


@pytest.fixture
def desk_client(persona: Any) -> Any:
    def login(username: str) -> Client:
        client = Client()
        client.force_login(persona(username))
        return client

    return login


def test_the_desk_shows_the_claim_as_a_claim_and_the_resolved_record(
    no_fhir: None, ttyt: Facility, persona: Any, desk_client: Any
) -> None:
    asker = make_patient(name=ASKER, born=ASKER_BORN)
    own_code, card = _code("BNA"), unique_bhyt()
    _import(ttyt, [[_xml1(_code("LK"), ma_bn=own_code, name=ASKER, born=ASKER_BORN, card=f"HS431{card}")]])
    victim_cccd = unique_cccd(1988)
    request = services.link_request_create(
        patient=asker,
        identifier_type="cccd",
        identifier=victim_cccd,
        channel="reception",
        actor=persona("tiepdon"),
        facility=ttyt,
        adapter=NoLookupAdapter(),
    )
    client = desk_client("lienket.his")
    html = client.get(QUEUE).content.decode()
    assert "Mã người yêu cầu khai (chưa xác minh)" in html and victim_cccd in html

    # Free text is refused on the desk too.
    client.post(reverse("admin:his_link_approve", args=[request.pk]), {"his_patient_id": "KHONG-CO-1"})
    assert not HisLink.objects.filter(patient=asker).exists()

    # The linker names the HIS code: the record the HIS holds is shown beside the account before linking.
    response = client.post(
        reverse("admin:his_link_find", args=[request.pk]), {"his_code": own_code, "next": QUEUE}, follow=True
    )
    html = response.content.decode()
    assert f"mã {own_code}" in html and "14/03/1975" in html and f"HS431{card}" in html
    assert "Liên kết hồ sơ này" in html
    client.post(reverse("admin:his_link_approve", args=[request.pk]), {"his_patient_id": own_code})
    link = HisLink.objects.get(patient=asker, active=True)
    assert link.his_code == own_code and link.bhyt_key == card and link.cccd == ""


def test_the_portal_shows_the_his_code_that_was_linked(no_fhir: None, ttyt: Facility, linker: Any) -> None:
    hung = Patient.objects.select_related("account").get(account__username="bn0000001")
    claimed, real = _code("BNK"), _code("BNR")
    _import(ttyt, [[_xml1(_code("LK"), ma_bn=real, name=hung.full_name, born=hung.date_of_birth)]])
    request = services.link_request_create(
        patient=hung,
        identifier_type="his_code",
        identifier=claimed,
        channel="portal",
        actor=hung.account,
        facility=ttyt,
        adapter=NoLookupAdapter(),
    )
    services.link_request_approve(request=request, actor=linker, his_patient_id=real)
    portal = Client()
    portal.force_login(hung.account)
    page = portal.get("/lien-ket-ho-so").content.decode()
    assert real in page and claimed not in page


# --- Links made before the fix --------------------------------------------------------------------------


def test_existing_links_are_rederived_from_what_the_his_returned(ttyt: Facility) -> None:
    from health_f0.his.identity import rederive_link_identifiers

    asker = make_patient(name=ASKER, born=ASKER_BORN)
    typed = unique_cccd(1988)
    request = HisLinkRequest.objects.create(
        patient=asker,
        facility=ttyt,
        identifier_type="cccd",
        identifier=typed,
        channel="portal",
        status="linked",
        his_patient_id="BN-OLD-1",
    )
    typed_link = HisLink.objects.create(
        patient=asker,
        facility=ttyt,
        request=request,
        his_patient_id="BN-OLD-1",
        identifiers={"cccd": typed, "his_code": "BN-OLD-1"},
        cccd=typed,
        his_code="BN-OLD-1",
        linked_at=timezone.now(),
    )
    other = make_patient(name=VICTIM, born=VICTIM_BORN)
    card = unique_bhyt()
    answered = HisLinkRequest.objects.create(
        patient=other,
        facility=ttyt,
        identifier_type="cccd",
        identifier=typed,
        channel="portal",
        status="linked",
        his_patient_id="77",
        candidates=[
            {
                "his_patient_id": "77",
                "full_name": VICTIM,
                "date_of_birth": VICTIM_BORN.isoformat(),
                "identifiers": {"bhyt": f"HS431{card}", "his_code": "BN77"},
                "match": {"identifier": False, "name": True, "date_of_birth": True},
            }
        ],
    )
    his_link = HisLink.objects.create(
        patient=other,
        facility=ttyt,
        request=answered,
        his_patient_id="77",
        identifiers={"cccd": typed, "bhyt": f"HS431{card}", "his_code": "BN77"},
        cccd=typed,
        bhyt_key=card,
        his_code="BN77",
        linked_at=timezone.now(),
    )
    changed = rederive_link_identifiers(HisLink, AuditLog)
    assert changed == 2
    audit = AuditLog.objects.get(verb="his_link_identifiers_rederived", target_id=str(typed_link.pk))
    assert audit.data == {"dropped": ["cccd"], "kept": ["his_code"]}  # kinds only, never the values
    typed_link.refresh_from_db()
    his_link.refresh_from_db()
    assert (typed_link.cccd, typed_link.bhyt_key, typed_link.his_code) == ("", "", "BN-OLD-1")
    assert typed_link.identifiers == {"his_code": "BN-OLD-1"}
    assert (his_link.cccd, his_link.bhyt_key, his_link.his_code) == ("", card, "BN77")
    assert his_link.identifiers == {"bhyt": f"HS431{card}", "his_code": "BN77"}
    request.refresh_from_db()
    assert request.identifier == typed  # the claim stays on the request
    assert rederive_link_identifiers(HisLink) == 0  # idempotent
    out = io.StringIO()
    call_command("his_rederive_link_identifiers", stdout=out)  # the documented re-run
    assert out.getvalue().strip() == "0 HIS link(s) re-derived."
