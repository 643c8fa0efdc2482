"""The guards of the registration, HIS-link and episode workflows that are a test and a message
(core.workflow.Guard.when): what a list asks (`Guard.refuses`, no sentence built) is what a step's check answers
(`Guard.refusal`, the sentence), over records in every combination each guard reads. The appointment
workflow's guards have the same test in health_f0/appointments/tests/test_guards.py."""

from __future__ import annotations

from itertools import product
from types import SimpleNamespace
from typing import Any

import pytest

from health_f0.core.actors import PATIENT, STAFF
from health_f0.core.workflow import Guard, Step
from health_f0.facilities.models import FacilityKind
from health_f0.his.transitions import NOT_LINKED_YET
from health_f0.monitoring.models import EpisodeStatus
from health_f0.monitoring.transitions import EPISODE_WORKFLOW
from health_f0.registration.eligibility import ELIGIBLE, HOSPITAL, REVIEW
from health_f0.registration.transitions import RISK_CONFIRMED, TRANSFER_FIRST


def _agree(guard: Guard, records: list[Any], params: list[dict[str, Any]]) -> int:
    """Asserts refuses() == bool(refusal()) for every record, input and capacity; returns the refusals seen."""
    assert guard.test is not None, guard.name
    refused = 0
    for record, given, capacity in product(records, params, (STAFF, PATIENT)):
        step = Step(action="any", actor=None, capacity=capacity, now=None, params=given)  # type: ignore[arg-type]
        message = guard.refusal(record, step)
        assert guard.refuses(record, step) is bool(message), (guard.name, record, given, capacity)
        if message:
            refused += 1
            assert isinstance(message, str) and message.strip()
    return refused


def test_registration_guards() -> None:
    records = [
        SimpleNamespace(
            facility=SimpleNamespace(kind=kind),
            eligibility=eligibility,
            get_eligibility_display=lambda eligibility=eligibility: eligibility.title(),
            eligibility_reasons=["SpO2 93%"],
        )
        for kind, eligibility in product([k.value for k in FacilityKind], (ELIGIBLE, REVIEW, HOSPITAL))
    ]
    params = [{}, {"confirm_risk": False}, {"confirm_risk": True}]
    assert _agree(TRANSFER_FIRST, records, params)
    assert _agree(RISK_CONFIRMED, records, params)


def test_his_link_guard() -> None:
    records = [SimpleNamespace(patient_linked_here=linked) for linked in (True, False)]
    assert _agree(NOT_LINKED_YET, records, [{}])


def test_certificate_guard() -> None:
    (guard,) = [g for t in EPISODE_WORKFLOW.transitions for g in t.guards if g.name == "no_certificate"]
    records = [
        SimpleNamespace(status=status, certificate_code=code)
        for status, code in product([s.value for s in EpisodeStatus], ("", "GCN-0001"))
    ]
    assert _agree(guard, records, [{}])


@pytest.mark.parametrize(
    "guard, record, given, sentence",
    [
        (
            TRANSFER_FIRST,
            SimpleNamespace(facility=SimpleNamespace(kind=FacilityKind.HEALTH_CENTRE)),
            {},
            "Hồ sơ đang ở hàng chờ của tuyến trên",
        ),
        (
            RISK_CONFIRMED,
            SimpleNamespace(
                eligibility=REVIEW,
                get_eligibility_display=lambda: "Cần xem xét",
                eligibility_reasons=["SpO2 93%"],
            ),
            {},
            "Hồ sơ được đánh giá “Cần xem xét”: SpO2 93%.",
        ),
        (NOT_LINKED_YET, SimpleNamespace(patient_linked_here=True), {}, "đã có liên kết HIS tại cơ sở này"),
    ],
)
def test_the_refusals_keep_their_sentences(
    guard: Guard, record: Any, given: dict[str, Any], sentence: str
) -> None:
    step = Step(action="any", actor=None, capacity=STAFF, now=None, params=given)  # type: ignore[arg-type]
    assert sentence in guard.refusal(record, step)
