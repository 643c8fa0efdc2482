"""Link workflow without an online HIS (the linker decides), rejection and unlinking with SMS, the link form,
and the access matrix: a patient sees only their own results; a linker only their hospital's queue."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from health_f0.core.exceptions import Conflict, DomainError, PermissionDenied
from health_f0.facilities import access
from health_f0.his import selectors, services
from health_f0.his.adapters import NoLookupAdapter
from health_f0.his.models import HisLabResult, HisLink, HisLinkRequest, HisVisit, HisVisitSeen, ImportRun
from health_f0.his.tests.conftest import make_patient, xml_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def own(persona):
    from health_f0.patients.models import Patient

    return Patient.objects.get(account__username="bn0000001")


def _request(patient, actor, ttyt, ident="BN12345", kind="his_code", channel="portal"):
    return services.link_request_create(
        patient=patient,
        identifier_type=kind,
        identifier=ident,
        channel=channel,
        actor=actor,
        facility=ttyt,
        adapter=NoLookupAdapter(),
    )


def test_portal_request_waits_for_the_linker_who_links_with_sms(
    own, ttyt, linker, sms, django_capture_on_commit_callbacks
):
    request = _request(own, own.account, ttyt)
    assert request.status == "needs_review" and request.candidates == []
    with pytest.raises(Conflict):
        _request(own, own.account, ttyt)  # one open request at a time
    # The HIS code must resolve to a record the HIS returned (here: a patient of its imported XML files).
    xml_patient(ttyt, "BN12345", own)
    with django_capture_on_commit_callbacks(execute=True):
        link = services.link_request_approve(request=request, actor=linker, his_patient_id="BN12345")
    assert link.his_code == "BN12345" and link.active
    assert "da duoc lien ket" in sms.last(to=own.phone, kind="his_link")["body"]
    with django_capture_on_commit_callbacks(execute=True):
        services.link_unlink(link=link, actor=own.account, reason="Nhầm hồ sơ")
    link.refresh_from_db()
    request.refresh_from_db()
    assert not link.active and link.active_marker is None and request.status == "unlinked"
    assert "da huy lien ket" in sms.last(to=own.phone, kind="his_link")["body"]
    # A fresh request is possible after unlinking.
    assert _request(own, own.account, ttyt).status == "needs_review"


def test_open_actions_come_from_the_workflow_and_its_guards(own, ttyt, linker, persona):
    """LINK_WORKFLOW.available is what the desk's buttons, the portal's links and the API's `actions` show;
    the guards carry their name as the refusal's code."""
    from health_f0.his.transitions import LINK_WORKFLOW, link_actions

    request = _request(own, own.account, ttyt)
    assert LINK_WORKFLOW.available(request, linker) == ["approve", "reject", "lookup"]
    assert LINK_WORKFLOW.available(request, own.account) == []
    assert LINK_WORKFLOW.available(request, persona("thanhdong.nv")) == []
    # A record the request does not list is refused by the `chosen_record` guard.
    with pytest.raises(Conflict) as err:
        LINK_WORKFLOW.check(request, "approve", linker, his_patient_id="NOT-A-CANDIDATE")
    assert err.value.code == "chosen_record"
    xml_patient(ttyt, "BN12345", own)
    link = services.link_request_approve(request=request, actor=linker, his_patient_id="BN12345")
    request.refresh_from_db()
    assert request.status == "linked"
    assert link_actions(link, own.account) == ["unlink"] and link_actions(link, linker) == ["unlink"]
    assert link_actions(link, persona("thanhdong.nv")) == []
    services.link_unlink(link=link, actor=linker, reason="Nhầm hồ sơ")
    link.refresh_from_db()
    assert link_actions(link, linker) == []
    with pytest.raises(Conflict) as err:
        services.link_unlink(link=link, actor=linker, reason="Lần nữa")
    assert err.value.code == "already_unlinked"
    # The status writes went through the workflow: each transition audited with its states.
    from health_f0.core.models import AuditLog

    rows = AuditLog.objects.filter(
        target_type="his.hislinkrequest", target_id=str(request.pk), action="transition"
    ).order_by("id")
    assert [(r.verb, r.data["from"], r.data["to"]) for r in rows] == [
        ("his_link_to_review", "requested", "needs_review"),
        ("his_link_approve", "needs_review", "linked"),
        ("his_link_unlinked", "linked", "unlinked"),
    ]


def test_a_patient_already_linked_there_is_refused_by_the_guard(own, ttyt, linker):
    xml_patient(ttyt, "BN31", own)
    first = _request(own, own.account, ttyt, ident="BN31")
    second = HisLinkRequest.objects.create(
        patient=own, facility=ttyt, identifier_type="his_code", identifier="BN31", status="needs_review"
    )
    services.link_request_approve(request=first, actor=linker, his_patient_id="BN31")
    with pytest.raises(Conflict) as err:
        services.link_request_approve(request=second, actor=linker, his_patient_id="BN31")
    assert err.value.code == "already_linked"


def test_reject_needs_a_reason_and_a_linker(
    own, ttyt, linker, persona, sms, django_capture_on_commit_callbacks
):
    request = _request(own, own.account, ttyt, ident="079190000123", kind="cccd")
    with pytest.raises(DomainError):
        services.link_request_reject(request=request, actor=linker, reason=" ")
    with pytest.raises(PermissionDenied):
        services.link_request_reject(request=request, actor=persona("thanhdong.nv"), reason="Không khớp")
    with pytest.raises(PermissionDenied):
        services.link_request_approve(request=request, actor=own.account, his_patient_id="X1")
    with django_capture_on_commit_callbacks(execute=True):
        services.link_request_reject(
            request=request, actor=linker, reason="Không tìm thấy hồ sơ với số CCCD này"
        )
    assert HisLinkRequest.objects.get(pk=request.pk).status == "rejected"
    assert "chua duoc chap nhan" in sms.last(to=own.phone, kind="his_link")["body"]


def test_identifier_validation_and_channels(own, ttyt, persona):
    with pytest.raises(DomainError) as err:
        _request(own, own.account, ttyt, ident="12345", kind="cccd")
    assert err.value.field == "identifier"
    with pytest.raises(DomainError):
        _request(own, own.account, ttyt, ident="ab", kind="his_code")
    stranger = make_patient()
    with pytest.raises(PermissionDenied):
        _request(stranger, own.account, ttyt)
    # Reception starts one for any patient at the counter; a station nurse may not.
    assert _request(stranger, persona("tiepdon"), ttyt, channel="reception").status == "needs_review"
    with pytest.raises(PermissionDenied):
        _request(make_patient(), persona("thanhdong.nv"), ttyt, channel="reception")


def test_same_his_record_cannot_be_linked_twice(own, ttyt, linker):
    xml_patient(ttyt, "BN7", own)
    services.link_request_approve(
        request=_request(own, own.account, ttyt), actor=linker, his_patient_id="BN7"
    )
    other = make_patient()
    request = _request(other, linker, ttyt, ident="BN7", channel="reception")
    with pytest.raises(Conflict):
        services.link_request_approve(request=request, actor=linker, his_patient_id="BN7")


def test_link_form_pdf(own, ttyt):
    pdf = services.link_form_pdf(request=_request(own, own.account, ttyt))
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000


def _data(patient, facility, ma_lk):
    visit = HisVisit.objects.create(
        patient=patient,
        facility=facility,
        source="xml",
        external_id=ma_lk,
        admitted_at=timezone.now(),
        icd10="E11",
    )
    HisLabResult.objects.create(
        patient=patient,
        facility=facility,
        source="xml",
        external_id=f"{ma_lk}:1",
        visit=visit,
        name="Glucose",
        value="7.8",
        flag="H",
    )
    return visit


def test_patient_sees_only_own_results_from_active_links(own, ttyt, persona):
    HisLink.objects.create(patient=own, facility=ttyt, his_patient_id="BN1", linked_at=timezone.now())
    stranger = make_patient()
    HisLink.objects.create(patient=stranger, facility=ttyt, his_patient_id="BN2", linked_at=timezone.now())
    _data(own, ttyt, "A1")
    _data(stranger, ttyt, "B1")
    user = own.account
    assert [v.external_id for v in selectors.visits_for(user=user)] == ["A1"]
    assert [r.external_id for r in selectors.lab_results_for(user=user, out_of_range_only=True)] == ["A1:1"]
    assert not selectors.lab_results_for(user=user, patient=stranger).exists()
    assert not access.his_records_for(user, ImportRun).exists()
    # After unlinking, the portal no longer shows that hospital's data.
    HisLink.objects.filter(patient=own).update(active=False, active_marker=None)
    assert not selectors.visits_for(user=user).exists()
    # Staff of the facility read both; a station nurse (no HIS role) reads none.
    assert selectors.visits_for(user=persona("lienket.his")).count() == 2
    assert not selectors.visits_for(user=persona("thanhdong.nv")).exists()


def test_linker_sees_only_their_hospitals_queue(own, ttyt, linker, other_hospital):
    hospital, other_linker = other_hospital
    mine = _request(own, own.account, ttyt)
    theirs = _request(make_patient(), other_linker, hospital, channel="reception")
    assert list(selectors.link_queue(user=linker)) == [mine]
    assert list(selectors.link_queue(user=other_linker)) == [theirs]
    assert list(selectors.link_queue(user=own.account)) == []
    with pytest.raises(PermissionDenied):
        services.link_request_approve(request=theirs, actor=linker, his_patient_id="X9")
    assert list(selectors.link_requests_for(user=own.account)) == [mine]


def test_manager_figures(own, ttyt, linker, persona):
    xml_patient(ttyt, "BN1", own)
    services.link_request_approve(
        request=_request(own, own.account, ttyt), actor=linker, his_patient_id="BN1"
    )
    _request(make_patient(), linker, ttyt, channel="reception")
    day = date(2026, 11, 2)
    for n, linked in enumerate([True, True, False, True]):
        HisVisitSeen.objects.create(
            facility=ttyt,
            source="xml",
            external_id=f"S{n}",
            day=day,
            department_code="K01",
            patient_key=f"p{n}",
            linked=linked,
        )
    manager = persona("ttyt.lanhdao")
    [row] = selectors.linked_share(user=manager, facility=ttyt, start=day, end=day)
    assert (row.patients, row.linked, row.share, row.meets_target) == (4, 3, 0.75, False)
    assert selectors.linked_share(user=persona("thanhdong.nv"), facility=ttyt, start=day, end=day) == []
    stats = selectors.link_stats(user=linker, facility=ttyt)
    assert stats.waiting == 1 and stats.linked == 1 and stats.median_hours_to_link is not None
