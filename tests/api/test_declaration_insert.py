"""monitoring/sql/declarations.insert writes the row Declaration.save() writes (the declaration POST's INSERT,
prepared by hand for the morning peak's CPU budget: docs/benchmarks.md, "Issue 11: the declaration path")."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from health_f0.monitoring.models import Declaration
from health_f0.monitoring.services import declaration_submit
from health_f0.monitoring.sql import declarations as sql_declarations
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db


def _fields(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


@pytest.mark.parametrize("submitted_by", [True, False])
def test_insert_writes_what_save_writes(demo: Any, submitted_by: bool) -> None:
    own = Patient.objects.get(account__username="bn0000001")
    declaration_submit(
        patient=own,
        actor=own.account,
        answers={"temperature": "38.6", "spo2": 93, "breathing_rate": 24, "symptoms": ["cough", "fatigue"]},
        idempotency_key="insert-1",
    )
    first = Declaration.objects.get(idempotency_key="insert-1")
    assert first.reasons and first.temperature is not None  # an alert: JSON list, decimal, ints all set
    copies = []
    for key, write in (("by-save", lambda d: d.save()), ("by-insert", sql_declarations.insert)):
        copy = Declaration(
            **{f.attname: getattr(first, f.attname) for f in Declaration._meta.concrete_fields}
        )
        copy.pk = None
        copy.public_id = uuid.uuid4()
        copy.idempotency_key = key
        copy.late = not first.late
        if not submitted_by:
            copy.submitted_by = None
        write(copy)
        assert copy.pk is not None and not copy._state.adding and copy._state.db == "default"
        copies.append((copy, Declaration.objects.get(pk=copy.pk)))
    (saved_obj, saved), (inserted_obj, inserted) = copies
    assert inserted.public_id == inserted_obj.public_id
    got, want = _fields(inserted), _fields(saved)
    for name in ("id", "public_id", "idempotency_key"):
        got.pop(name), want.pop(name)
    assert got == want
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in want.items()}


def test_recent_readings_are_what_the_orm_reads(demo: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    own = Patient.objects.get(account__username="bn0000001")
    for i, answers in enumerate(
        ({"temperature": "38.6", "spo2": 93}, {"temperature": "37.1", "spo2": 97, "pulse": 80}, {"spo2": 96})
    ):
        declaration_submit(patient=own, actor=own.account, answers=answers, idempotency_key=f"recent-{i}")
    episode_id = Declaration.objects.get(idempotency_key="recent-0").episode_id
    since = timezone.now() - timedelta(hours=96)
    columns = ("submitted_at", "local_date", "spo2", "temperature", "breathing_rate", "pulse")
    expected = list(
        Declaration.objects.filter(episode_id=episode_id, submitted_at__gte=since)
        .order_by("-submitted_at")
        .values_list(*columns)[:120]
    )
    actual = sql_declarations.recent_readings(episode_id, since, limit=120)
    assert len(expected) >= 3 and actual == expected
    assert [[type(v) for v in row] for row in actual] == [[type(v) for v in row] for row in expected]
    assert all(row[0].tzinfo is not None for row in actual)
    assert sql_declarations.recent_readings(episode_id, since, limit=2) == expected[:2]
