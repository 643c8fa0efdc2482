"""Lab reports (FHIR DiagnosticReport, category LAB) against the real FHIR server (sekmet-fhir): pulled with
their results (referenced, sent along by `_include`, or contained), grouped, paged, idempotent, incremental;
a HIS that ignores `_include`; and the grouping as the patient sees it in the API and the portal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from health_f0.api.services import api_token_issue
from health_f0.his import imports, services
from health_f0.his.adapters.fhir import FhirAdapter, Page
from health_f0.his.models import HisLabReport, HisLabResult, HisLink, HisVisit, PullCursor
from health_f0.his.tests.conftest import lab_observation, make_patient, unique_bhyt
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db

CBC = "Tổng phân tích tế bào máu"


def link(fhir: Any, adapter: FhirAdapter, patient: Patient, ttyt: Any) -> tuple[dict[str, Any], HisLink]:
    bhyt = unique_bhyt()
    his = fhir.patient(name=patient.full_name, birth=patient.date_of_birth.isoformat(), bhyt=bhyt)
    request = services.link_request_create(
        patient=patient,
        identifier_type="bhyt",
        identifier=bhyt,
        channel="reception",
        actor=get_user_model().objects.get(username="tiepdon"),
        facility=ttyt,
        adapter=adapter,
    )
    assert request.status == "linked"
    return his, HisLink.objects.get(patient=patient, facility=ttyt, active=True)


def blood_count(fhir: Any, his_id: str, day: str = "2026-06-02") -> dict[str, Any]:
    """A visit with a blood count report: two results filed as laboratory Observations, one filed under
    another category (only the report finds it), one contained in the report."""
    enc = fhir.encounter(his_id, start=f"{day}T08:00:00+07:00", icd="D64.9", text="Thiếu máu")
    when = f"{day}T08:30:00+07:00"
    wbc = fhir.observation(
        his_id,
        enc["id"],
        code="6690-2",
        name="Bạch cầu",
        value=3.1,
        unit="G/L",
        low=4.0,
        high=10.0,
        when=when,
    )
    rbc = fhir.observation(
        his_id, enc["id"], code="789-8", name="Hồng cầu", value=4.5, unit="T/L", low=3.8, high=5.5, when=when
    )
    plt = fhir.observation(
        his_id,
        enc["id"],
        code="777-3",
        name="Tiểu cầu",
        value=250,
        unit="G/L",
        low=150,
        high=400,
        when=when,
        laboratory=False,
    )
    hb = lab_observation(
        code="718-7", name="Huyết sắc tố", value=105, unit="g/L", low=120, high=160, when=when, local_id="hb"
    )
    report = fhir.diagnostic_report(
        his_id,
        enc["id"],
        code="58410-2",
        name=CBC,
        results=[wbc["id"], rbc["id"], plt["id"]],
        contained=[hb],
        conclusion="Thiếu máu nhẹ, bạch cầu giảm.",
        issued=f"{day}T10:00:00+07:00",
    )
    return {"encounter": enc, "report": report, "wbc": wbc, "rbc": rbc, "plt": plt}


def chemistry(fhir: Any, his_id: str, encounter_id: str, *, status: str = "final") -> dict[str, Any]:
    glucose = fhir.observation(
        his_id,
        encounter_id,
        code="2345-7",
        name="Glucose máu",
        value=7.8,
        unit="mmol/L",
        low=3.9,
        high=6.4,
        when="2026-06-02T08:30:00+07:00",
    )
    return fhir.diagnostic_report(
        his_id,
        encounter_id,
        code="24323-8",
        name="Sinh hoá máu",
        results=[glucose["id"]],
        issued="2026-06-02T11:00:00+07:00",
        status=status,
    )


def test_backfill_pages_reports_and_groups_every_result_once(fhir: Any, ttyt: Any) -> None:
    adapter = Recording(base_url=fhir.base_url, page_size=2, backoff=0.01)
    patient = make_patient()
    his, his_link = link(fhir, adapter, patient, ttyt)
    cbc = blood_count(fhir, his["id"])
    enc_id = cbc["encounter"]["id"]
    chemistry(fhir, his["id"], enc_id)
    chemistry(fhir, his["id"], enc_id, status="preliminary")  # three reports: two pages

    run = imports.fhir_backfill(link=his_link, adapter=adapter)
    assert run.status == "done", run.failure
    visit = HisVisit.objects.get(external_id=enc_id)
    report = HisLabReport.objects.get(external_id=cbc["report"]["id"])
    assert (report.patient, report.facility, report.visit, report.source) == (patient, ttyt, visit, "fhir")
    assert (report.name, report.code, report.status) == (CBC, "58410-2", "final")
    assert report.conclusion == "Thiếu máu nhẹ, bạch cầu giảm."
    assert report.issued_at == datetime(2026, 6, 2, 3, 0, tzinfo=UTC) and not report.is_preliminary
    grouped = set(report.results.values_list("external_id", flat=True))
    hb_id = f"{cbc['report']['id']}#hb"
    assert grouped == {cbc["wbc"]["id"], cbc["rbc"]["id"], cbc["plt"]["id"], hb_id}
    hb = HisLabResult.objects.get(external_id=hb_id)
    assert (hb.value_number, hb.flag, hb.visit, hb.patient) == (Decimal("105"), "L", visit, patient)
    assert HisLabResult.objects.get(external_id=cbc["plt"]["id"]).name == "Tiểu cầu"  # found by its report
    assert HisLabReport.objects.filter(patient=patient).count() == 3
    assert sorted(HisLabReport.objects.filter(patient=patient).values_list("status", flat=True)) == [
        "final",
        "final",
        "preliminary",
    ]
    # 4 results of the blood count + one glucose per chemistry report, each stored once.
    assert HisLabResult.objects.filter(patient=patient).count() == 6
    assert not HisLabResult.objects.filter(patient=patient, report__isnull=True).exists()
    assert adapter.asked_by_id == []  # the server sent every result along (`_include`)

    again = imports.fhir_backfill(link=his_link, adapter=adapter)
    assert again.status == "done" and again.imported_count == 0
    assert HisLabReport.objects.filter(patient=patient).count() == 3
    assert HisLabResult.objects.filter(patient=patient).count() == 6
    assert set(report.results.values_list("external_id", flat=True)) == grouped


def test_incremental_pull_reads_new_and_amended_reports_only(fhir: Any, ttyt: Any) -> None:
    adapter = FhirAdapter(base_url=fhir.base_url, page_size=2, backoff=0.01)
    patient = make_patient()
    his, _link = link(fhir, adapter, patient, ttyt)
    cbc = blood_count(fhir, his["id"])

    first = imports.fhir_pull(facility=ttyt, adapter=adapter)
    assert first.status == "done", first.failure
    report = HisLabReport.objects.get(external_id=cbc["report"]["id"])
    assert report.results.count() == 4
    assert PullCursor.objects.get(facility=ttyt, resource_type="DiagnosticReport").last_updated

    second = imports.fhir_pull(facility=ttyt, adapter=adapter)
    assert second.status == "done" and second.imported_count == 0
    assert HisLabReport.objects.filter(patient=patient).count() == 1
    assert HisLabResult.objects.filter(patient=patient).count() == 4

    # The laboratory amends the report (red cells and haemoglobin withdrawn) and issues a new one at a
    # later visit.
    withdrawn = {f"Observation/{cbc['rbc']['id']}", "#hb"}
    amended = {
        **cbc["report"],
        "status": "amended",
        "conclusion": "Thiếu máu nhẹ.",
        "result": [r for r in cbc["report"]["result"] if r["reference"] not in withdrawn],
    }
    fhir.update(amended)
    later = fhir.encounter(his["id"], start="2026-07-01T08:00:00+07:00", icd="D64.9", text="Thiếu máu")
    new_report = chemistry(fhir, his["id"], later["id"])

    third = imports.fhir_pull(facility=ttyt, adapter=adapter)
    assert third.status == "done", third.failure
    assert third.imported_count == 3  # the visit, its glucose, its report (the amended report is known)
    report.refresh_from_db()
    assert (report.status, report.conclusion) == ("amended", "Thiếu máu nhẹ.")
    rbc = HisLabResult.objects.get(external_id=cbc["rbc"]["id"])
    assert rbc.report is None  # no longer part of the report, still the patient's result
    assert not HisLabResult.objects.filter(
        external_id=f"{report.external_id}#hb"
    ).exists()  # only existed there
    assert report.results.count() == 2
    fresh = HisLabReport.objects.get(external_id=new_report["id"])
    assert fresh.visit == HisVisit.objects.get(external_id=later["id"]) and fresh.results.count() == 1
    assert HisLabResult.objects.filter(patient=patient).count() == 4


class Recording(FhirAdapter):
    """Notes the ids asked one by one (`_id`: results a report did not bring along)."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.asked_by_id: list[str] = []

    def search(self, resource_type: str, params: list[tuple[str, str]]) -> Iterator[Page]:
        for key, value in params:
            if key == "_id":
                self.asked_by_id.extend(value.split(","))
        return super().search(resource_type, params)


class IgnoresInclude(Recording):
    """A HIS that does not implement `_include`: the reports come alone."""

    def search(self, resource_type: str, params: list[tuple[str, str]]) -> Iterator[Page]:
        return super().search(resource_type, [(k, v) for k, v in params if k != "_include"])


def test_results_a_server_did_not_send_along_are_asked_by_id(fhir: Any, ttyt: Any) -> None:
    adapter = IgnoresInclude(base_url=fhir.base_url, backoff=0.01)
    patient = make_patient()
    his, his_link = link(fhir, adapter, patient, ttyt)
    cbc = blood_count(fhir, his["id"])
    run = imports.fhir_backfill(link=his_link, adapter=adapter)
    assert run.status == "done", run.failure
    # Only the one the Observation search did not bring was missing.
    assert adapter.asked_by_id == [cbc["plt"]["id"]]
    report = HisLabReport.objects.get(external_id=cbc["report"]["id"])
    assert report.results.count() == 4 and HisLabResult.objects.filter(patient=patient).count() == 4


def test_another_patients_result_is_never_stored_under_the_report(fhir: Any, ttyt: Any) -> None:
    adapter = FhirAdapter(base_url=fhir.base_url, backoff=0.01)
    patient = make_patient()
    his, his_link = link(fhir, adapter, patient, ttyt)
    stranger = fhir.patient(name="Đỗ Văn Lạ", birth="1950-01-01", bhyt=unique_bhyt())
    enc = fhir.encounter(his["id"], start="2026-06-03T08:00:00+07:00", icd="D64.9", text="Thiếu máu")
    theirs = fhir.observation(
        stranger["id"],
        enc["id"],
        code="6690-2",
        name="Bạch cầu",
        value=9,
        unit="G/L",
        low=4,
        high=10,
        when="2026-06-03T08:30:00+07:00",
        laboratory=False,
    )
    report = fhir.diagnostic_report(
        his["id"],
        enc["id"],
        code="58410-2",
        name=CBC,
        results=[theirs["id"]],
        issued="2026-06-03T10:00:00+07:00",
    )
    assert imports.fhir_backfill(link=his_link, adapter=adapter).status == "done"
    assert HisLabReport.objects.get(external_id=report["id"]).results.count() == 0
    assert not HisLabResult.objects.filter(external_id=theirs["id"]).exists()


# --- What the patient sees ------------------------------------------------------------------------


@pytest.fixture
def hung(demo: Any) -> Patient:
    return Patient.objects.select_related("account").get(account__username="bn0000001")


def test_api_and_portal_show_results_under_their_report(fhir: Any, ttyt: Any, hung: Patient) -> None:
    adapter = FhirAdapter(base_url=fhir.base_url, backoff=0.01)
    his, his_link = link(fhir, adapter, hung, ttyt)
    cbc = blood_count(fhir, his["id"])
    chemistry(fhir, his["id"], cbc["encounter"]["id"], status="preliminary")
    assert imports.fhir_backfill(link=his_link, adapter=adapter).status == "done"
    report = HisLabReport.objects.get(external_id=cbc["report"]["id"])

    raw, _ = api_token_issue(user=hung.account)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = api.get("/api/v1/lab-results").json()
    assert body["count"] == 5
    by_name = {r["name"]: r for r in body["results"]}
    hb = by_name["Huyết sắc tố"]
    assert hb["flag"] == "L" and hb["unit"] == "g/L" and hb["visit"]  # existing fields unchanged
    assert hb["report"] == {
        "id": str(report.public_id),
        "name": CBC,
        "status": "final",
        "issued": "2026-06-02T10:00:00+07:00",
        "conclusion": "Thiếu máu nhẹ, bạch cầu giảm.",
    }
    assert by_name["Glucose máu"]["report"]["status"] == "preliminary"
    [visit] = api.get("/api/v1/visits").json()["results"]
    assert {r["report"]["name"] for r in visit["lab_results"]} == {CBC, "Sinh hoá máu"}

    portal = Client()
    portal.force_login(hung.account)
    response = portal.get("/ket-qua-xet-nghiem")
    assert response.status_code == 200
    page = response.content.decode()
    # The chemistry report (issued later) first, then the blood count with its four results under it.
    chem_at, cbc_at = page.index("<h2>Sinh hoá máu</h2>"), page.index(f"<h2>{CBC}</h2>")
    assert chem_at < page.index("Glucose máu") < cbc_at
    assert "Kết quả sơ bộ" in page[chem_at:cbc_at]
    tail = page[cbc_at:]
    assert "Trả kết quả ngày 02/06/2026" in tail and "Kết luận: Thiếu máu nhẹ, bạch cầu giảm." in tail
    for name in ("Bạch cầu", "Hồng cầu", "Tiểu cầu", "Huyết sắc tố"):
        assert name in tail


def test_a_report_entered_in_error_is_hidden_from_everyone(fhir: Any, ttyt: Any, persona: Any) -> None:
    """The laboratory withdraws a report (entered-in-error): its results leave the patient's list and the
    staff's, at the next pull; they come back if it is set final again."""
    from health_f0.his import selectors

    adapter = FhirAdapter(base_url=fhir.base_url, page_size=5, backoff=0.01)
    patient = make_patient()
    his, _link = link(fhir, adapter, patient, ttyt)
    encounter = fhir.encounter(his["id"], start="2026-06-02T08:00:00+07:00", icd="E11", text="Đái tháo đường")
    report = chemistry(fhir, his["id"], encounter["id"])
    assert imports.fhir_pull(facility=ttyt, adapter=adapter).status == "done"
    staff = persona("lienket.his")
    assert selectors.lab_results_for(user=staff, patient=patient).count() == 1
    fhir.update({**report, "status": "entered-in-error"})
    assert imports.fhir_pull(facility=ttyt, adapter=adapter).status == "done"
    assert HisLabReport.objects.get(external_id=report["id"]).status == "entered-in-error"
    assert selectors.lab_results_for(user=staff, patient=patient).count() == 0
    assert HisLabResult.objects.filter(patient=patient).count() == 1  # kept, not shown
