"""The FHIR adapter against a real FHIR R4 server (sekmet-fhir): matching and auto-link, ambiguity to the
linker's queue, paging, incremental pulls, idempotence, and a HIS that is down."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from health_f0.core.models import AuditLog
from health_f0.his import imports, services
from health_f0.his.adapters.fhir import FhirAdapter
from health_f0.his.models import HisLabResult, HisLink, HisReexamSlip, HisVisit, HisVisitSeen, PullCursor
from health_f0.his.tests.conftest import make_patient, unique_bhyt, unique_cccd

pytestmark = pytest.mark.django_db


def _linked(fhir, adapter, patient, ttyt, *, bhyt):
    his = fhir.patient(name=patient.full_name, birth=patient.date_of_birth.isoformat(), bhyt=bhyt)
    request = services.link_request_create(
        patient=patient,
        identifier_type="bhyt",
        identifier=bhyt,
        channel="reception",
        actor=_reception(),
        facility=ttyt,
        adapter=adapter,
    )
    assert request.status == "linked"
    return his, HisLink.objects.get(patient=patient, active=True)


def _reception():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="tiepdon")


def test_exact_match_links_automatically_audits_and_texts(
    fhir, adapter, ttyt, sms, django_capture_on_commit_callbacks
):
    bhyt = unique_bhyt()
    patient = make_patient(name="Nguyễn Thị Hồng Nhung", born=date(1968, 7, 2))
    his = fhir.patient(name="NGUYEN THI HONG NHUNG", birth="1968-07-02", bhyt=bhyt, gender="female")
    user = patient.account or _reception()
    with django_capture_on_commit_callbacks(execute=True):
        request = services.link_request_create(
            patient=patient,
            identifier_type="bhyt",
            identifier=bhyt,
            channel="reception",
            actor=user,
            facility=ttyt,
            adapter=adapter,
        )
    assert request.status == "linked" and request.auto_linked
    link = HisLink.objects.get(patient=patient, facility=ttyt, active=True)
    assert link.his_patient_id == his["id"] and link.bhyt_key == bhyt
    assert [c["match"] for c in request.candidates] == [
        {"identifier": True, "name": True, "date_of_birth": True}
    ]
    verbs = set(AuditLog.objects.filter(target_id=str(request.pk)).values_list("verb", flat=True))
    assert {"his_link_request", "his_auto_link"} <= verbs
    assert AuditLog.objects.get(verb="his_auto_link", target_id=str(request.pk)).actor is None
    message = sms.last(to=patient.phone, kind="his_link")
    assert "da duoc lien ket" in message["body"] and "TTYT Hai Duong" in message["body"]
    link.refresh_from_db()
    assert link.backfilled_at is not None  # the first pull of the history ran after commit


def test_two_his_patients_with_one_identifier_go_to_the_queue(fhir, adapter, ttyt, linker):
    cccd = unique_cccd(1990)
    patient = make_patient(name="Lê Văn Tâm", born=date(1990, 1, 5), sex="male")
    a = fhir.patient(name="Lê Văn Tâm", birth="1990-01-05", cccd=cccd)
    b = fhir.patient(name="Lê Văn Tâm", birth="1990-01-05", cccd=cccd, his_code="BN0099")
    request = services.link_request_create(
        patient=patient,
        identifier_type="cccd",
        identifier=cccd,
        channel="reception",
        actor=_reception(),
        facility=ttyt,
        adapter=adapter,
    )
    assert request.status == "needs_review"
    assert {c["his_patient_id"] for c in request.candidates} == {a["id"], b["id"]}
    assert not HisLink.objects.filter(patient=patient).exists()
    # The linker picks the right record; the link carries the HIS code the HIS returned.
    link = services.link_request_approve(request=request, actor=linker, his_patient_id=b["id"])
    assert link.his_code == "BN0099" and link.cccd == cccd


def test_name_mismatch_goes_to_the_queue_with_flags(fhir, adapter, ttyt):
    bhyt = unique_bhyt()
    patient = make_patient(name="Phạm Minh Châu", born=date(2001, 9, 9))
    fhir.patient(name="Phạm Minh Chiến", birth="2001-09-09", bhyt=bhyt)
    request = services.link_request_create(
        patient=patient,
        identifier_type="bhyt",
        identifier=bhyt,
        channel="reception",
        actor=_reception(),
        facility=ttyt,
        adapter=adapter,
    )
    assert request.status == "needs_review"
    assert request.candidates[0]["match"] == {"identifier": True, "name": False, "date_of_birth": True}


def _load_history(fhir, his_id, visits=3):
    encounters = []
    for n in range(visits):
        day = f"2026-0{n + 3}-1{n}"
        enc = fhir.encounter(his_id, start=f"{day}T08:00:00+07:00", icd="E11.9", text="Đái tháo đường type 2")
        encounters.append(enc)
        fhir.observation(
            his_id,
            enc["id"],
            code="2345-7",
            name="Glucose máu",
            value=7.8 - n,
            unit="mmol/L",
            low=3.9,
            high=6.4,
            when=f"{day}T09:00:00+07:00",
        )
    return encounters


def test_backfill_pages_and_stores_history_with_flags(fhir, ttyt, settings):
    patient = make_patient()
    bhyt = unique_bhyt()
    small_pages = FhirAdapter(base_url=fhir.base_url, page_size=2, backoff=0.01)
    his, link = _linked(fhir, small_pages, patient, ttyt, bhyt=bhyt)
    encounters = _load_history(fhir, his["id"], visits=3)
    fhir.observation(
        his["id"],
        encounters[0]["id"],
        code="14682-9",
        name="Creatinin",
        value=88,
        unit="µmol/L",
        low=62,
        high=106,
        when="2026-03-10T09:10:00+07:00",
    )
    fhir.observation(
        his["id"],
        encounters[0]["id"],
        code="4548-4",
        name="HbA1c",
        value=5.1,
        unit="%",
        low=None,
        high=6.4,
        when="2026-03-10T09:20:00+07:00",
    )
    run = imports.fhir_backfill(link=link, adapter=small_pages)
    assert run.status == "done", run.failure
    assert run.progress_done >= 4  # 3 encounters at 2 a page + 5 observations at 2 a page (+1 empty)
    visits = HisVisit.objects.filter(patient=patient)
    assert visits.count() == 3 and {v.icd10 for v in visits} == {"E11.9"}
    results = HisLabResult.objects.filter(patient=patient)
    assert results.count() == 5 and all(r.visit_id for r in results)
    glucose = sorted(r.value_number for r in results.filter(code="2345-7"))
    assert glucose == [Decimal("5.8"), Decimal("6.8"), Decimal("7.8")]
    assert {r.value_number: r.flag for r in results.filter(code="2345-7")} == {
        Decimal("5.8"): "N",
        Decimal("6.8"): "H",
        Decimal("7.8"): "H",
    }
    creat = results.get(code="14682-9")
    assert (creat.unit, creat.reference_low, creat.reference_high, creat.flag) == ("µmol/L", 62, 106, "N")
    link.refresh_from_db()
    assert link.backfilled_at is not None


def test_incremental_pull_is_idempotent_and_only_reads_new(fhir, ttyt):
    adapter = FhirAdapter(base_url=fhir.base_url, page_size=2, backoff=0.01)
    patient = make_patient()
    his, link = _linked(fhir, adapter, patient, ttyt, bhyt=unique_bhyt())
    _load_history(fhir, his["id"], visits=2)
    first = imports.fhir_pull(facility=ttyt, adapter=adapter)
    assert first.status == "done"
    assert HisVisit.objects.filter(patient=patient).count() == 2
    assert HisLabResult.objects.filter(patient=patient).count() == 2
    cursor = PullCursor.objects.get(facility=ttyt, resource_type="Encounter").last_updated
    assert cursor

    second = imports.fhir_pull(facility=ttyt, adapter=adapter)
    assert second.status == "done" and second.imported_count == 0
    assert second.read_count < first.read_count  # only what changed after the cursor is read
    assert HisVisit.objects.filter(patient=patient).count() == 2

    enc = fhir.encounter(his["id"], start="2026-10-01T08:00:00+07:00", icd="I10", text="Tăng huyết áp vô căn")
    fhir.observation(
        his["id"],
        enc["id"],
        code="4548-4",
        name="HbA1c",
        value=7.2,
        unit="%",
        low=4.0,
        high=6.4,
        when="2026-10-01T09:00:00+07:00",
    )
    third = imports.fhir_pull(facility=ttyt, adapter=adapter)
    assert third.imported_count == 2
    assert third.read_count <= 2 + second.read_count + 2
    new_visit = HisVisit.objects.get(external_id=enc["id"])
    assert new_visit.icd10 == "I10" and new_visit.diagnosis_text == "Tăng huyết áp vô căn"
    assert HisLabResult.objects.get(visit=new_visit).flag == "H"
    assert HisVisitSeen.objects.filter(facility=ttyt, external_id=enc["id"], linked=True).exists()


def test_server_down_is_recorded_failed_and_retried_without_loss(fhir, ttyt):
    patient = make_patient()
    adapter = FhirAdapter(base_url=fhir.base_url, page_size=2, backoff=0.01)
    his, _link = _linked(fhir, adapter, patient, ttyt, bhyt=unique_bhyt())
    _load_history(fhir, his["id"], visits=3)

    down = FhirAdapter(base_url="http://127.0.0.1:9/fhir", backoff=0.01, attempts=2, timeout=1)
    failed = imports.fhir_pull(facility=ttyt, adapter=down)
    assert failed.status == "failed" and "không phản hồi" in failed.failure
    assert HisVisit.objects.filter(patient=patient).count() == 0

    # The HIS dies after the first page: that page is stored, the cursor stops below its last stamp.
    class DiesAfterOnePage(FhirAdapter):
        calls = 0

        def _get(self, url, params=None):
            DiesAfterOnePage.calls += 1
            if DiesAfterOnePage.calls > 1:
                from health_f0.his.adapters import HisUnavailable

                raise HisUnavailable("HIS không phản hồi (giả lập)")
            return super()._get(url, params)

    partial = imports.fhir_pull(facility=ttyt, adapter=DiesAfterOnePage(base_url=fhir.base_url, page_size=2))
    assert partial.status == "failed"
    # The periodic task's next run picks up everything: three visits, three results, no duplicates.
    retry = imports.fhir_pull(facility=ttyt, adapter=adapter)
    assert retry.status == "done"
    assert HisVisit.objects.filter(patient=patient).count() == 3
    assert HisLabResult.objects.filter(patient=patient).count() == 3
    again = imports.fhir_pull(facility=ttyt, adapter=adapter)
    assert again.imported_count == 0


def test_booked_appointment_becomes_a_slip_for_the_desk(fhir, ttyt):
    patient = make_patient()
    adapter = FhirAdapter(base_url=fhir.base_url, backoff=0.01)
    his, link = _linked(fhir, adapter, patient, ttyt, bhyt=unique_bhyt())
    day = timezone.localdate() + timedelta(days=20)
    appt = fhir.appointment(his["id"], start=f"{day.isoformat()}T08:00:00+07:00", dept="KNOI")
    imports.fhir_backfill(link=link, adapter=adapter)
    slip = HisReexamSlip.objects.get(external_id=appt["id"])
    assert slip.date == day and slip.status == "needs_desk" and "KNOI" in slip.status_note
    imports.fhir_backfill(link=link, adapter=adapter)
    assert HisReexamSlip.objects.filter(patient=patient).count() == 1


def test_safe_cursor_never_skips_ties_at_a_page_boundary():
    page = [{"meta": {"lastUpdated": s}} for s in ("2026-01-01T00:00:00.001Z", "2026-01-01T00:00:00.002Z")]
    assert imports.safe_cursor(page, True, "") == "2026-01-01T00:00:00.001Z"
    assert imports.safe_cursor(page, False, "") == "2026-01-01T00:00:00.002Z"
    tie = [{"meta": {"lastUpdated": "2026-01-01T00:00:00.002Z"}}] * 2
    assert imports.safe_cursor(tie, True, "2026-01-01T00:00:00.000Z") == "2026-01-01T00:00:00.000Z"
