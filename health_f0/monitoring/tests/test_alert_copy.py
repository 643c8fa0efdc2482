"""The alert's copy of what the open-alerts list shows of its declaration (Alert.declaration_public_id and
declaration_answers; monitoring/sql/alerts.py reads them instead of joining the declaration): written with the
alert, filled by migration monitoring.0010 for older alerts, and the declaration's own read where it is NULL.
The list against the ORM (which reads the declaration) for every persona: tests/api/test_sql_lists.py; the
privacy erasure (the one service that rewrites a patient's records) leaves the copy equal:
tests/security/test_privacy.py."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from health_f0.monitoring import selectors
from health_f0.monitoring.models import Alert, Declaration
from health_f0.monitoring.services import declaration_submit, reset_caches
from health_f0.patients.models import Patient

DANGER = {"temperature": "38,5", "spo2": 92, "symptoms": ["shortness_of_breath"], "note": "khó thở"}


def _copies_equal_their_declarations() -> list[Any]:
    """Each alert's (id, copy) and (id, the declaration's) as stored, read back from the database."""
    copies = list(
        Alert.objects.order_by("id").values_list("id", "declaration_public_id", "declaration_answers")
    )
    declared = list(
        Alert.objects.order_by("id").values_list("id", "declaration__public_id", "declaration__answers")
    )
    assert copies == declared
    return copies


@pytest.fixture
def patient(demo: Any) -> Patient:
    reset_caches()
    return Patient.objects.get(account__username="bn0000001")


def _danger_declarations(patient: Patient, count: int) -> None:
    """`count` declarations of danger signs (each raises an alert), each with its own key and note."""
    for n in range(count):
        declaration_submit(
            patient=patient,
            actor=patient.account,
            answers={**DANGER, "note": f"{n}"},
            idempotency_key=f"k{n}",
        )


def test_the_alert_is_written_with_its_declarations_public_id_and_answers(patient: Patient) -> None:
    declaration, created = declaration_submit(patient=patient, actor=patient.account, answers=DANGER)
    assert created
    alert = Alert.objects.get(declaration=declaration)
    stored = Declaration.objects.get(pk=declaration.pk)
    assert alert.declaration_public_id == stored.public_id == declaration.public_id
    assert alert.declaration_answers == stored.answers == declaration.answers
    assert alert.declaration_answers["note"] == "khó thở"
    assert _copies_equal_their_declarations()


def test_the_migration_fills_the_alerts_written_without_the_copy(patient: Patient) -> None:
    _danger_declarations(patient, 3)
    copies = _copies_equal_their_declarations()
    assert len(copies) >= 3
    # As an alert written by the previous release (or raw SQL) has it.
    Alert.objects.update(declaration_public_id=None, declaration_answers=None)
    migration = importlib.import_module("health_f0.monitoring.migrations.0010_alert_declaration_copy")
    migration.fill(None, SimpleNamespace(connection=connection))
    assert _copies_equal_their_declarations() == copies


def test_the_list_reads_the_declarations_own_where_the_copy_is_null(patient: Patient, persona: Any) -> None:
    """An alert without the copy (written while `migrate` ran) is listed as one with it: the same rows."""
    _danger_declarations(patient, 2)
    user = persona("thanhdong.nv")
    with_copy = selectors.alert_list_rows(user=user).order_by(*selectors.ALERT_ORDER)[0:100]
    assert with_copy and all(row["declaration__public_id"] for row in with_copy)
    first = Alert.objects.filter(acknowledged_at__isnull=True).order_by("id").first()
    assert first is not None
    Alert.objects.filter(pk=first.pk).update(declaration_public_id=None, declaration_answers=None)
    assert selectors.alert_list_rows(user=user).order_by(*selectors.ALERT_ORDER)[0:100] == with_copy
    Alert.objects.update(declaration_public_id=None, declaration_answers=None)
    assert selectors.alert_list_rows(user=user).order_by(*selectors.ALERT_ORDER)[0:100] == with_copy
