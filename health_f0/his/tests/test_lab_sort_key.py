"""The stored sort key of lab results (issue 11): HisLabResult.sort_at is the report's time (sampled, else
issued), else the result's own, else core.keyset.NO_TIME; sort_report the report's id (0: none). Every writer
keeps it (the autouse check in conftest runs after every HIS test), the 0006 migration fills it for existing
rows in batches, and the lists read in that order."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from health_f0.core.keyset import NO_TIME
from health_f0.his import selectors
from health_f0.his.models import HisLabReport, HisLabResult, HisLink
from health_f0.his.tests.conftest import stale_lab_sort_keys
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def hung(demo: Any) -> Patient:
    return Patient.objects.select_related("account").get(account__username="bn0000001")


def _report(patient: Patient, facility: Any, key: str, **times: Any) -> HisLabReport:
    return HisLabReport.objects.create(
        patient=patient, facility=facility, source="fhir", external_id=key, name=f"Phiếu {key}", **times
    )


def _result(patient: Patient, facility: Any, key: str, **fields: Any) -> HisLabResult:
    return HisLabResult.objects.create(
        patient=patient, facility=facility, source="fhir", external_id=key, name=key, **fields
    )


def test_save_and_update_or_create_keep_the_sort_key(hung: Patient, ttyt: Any) -> None:
    alone = _result(hung, ttyt, "alone", observed_at=T0)
    untimed = _result(hung, ttyt, "untimed")
    report = _report(
        hung, ttyt, "R1", effective_at=T0 + timedelta(hours=2), issued_at=T0 + timedelta(hours=5)
    )
    issued_only = _report(hung, ttyt, "R2", issued_at=T0 + timedelta(hours=7))
    in_report = _result(hung, ttyt, "in-report", observed_at=T0, report=report)
    by_issue = _result(hung, ttyt, "by-issue", report=issued_only)
    assert (alone.sort_at, alone.sort_report) == (T0, 0)
    assert (untimed.sort_at, untimed.sort_report) == (NO_TIME, 0)
    assert (in_report.sort_at, in_report.sort_report) == (T0 + timedelta(hours=2), report.pk)
    assert (by_issue.sort_at, by_issue.sort_report) == (T0 + timedelta(hours=7), issued_only.pk)
    # update_or_create saves only the fields it was given: the key goes along (and reads the report by id).
    HisLabResult.objects.update_or_create(
        facility=ttyt, source="fhir", external_id="alone", defaults={"report_id": report.pk}
    )
    HisLabResult.objects.update_or_create(
        facility=ttyt, source="fhir", external_id="untimed", defaults={"observed_at": T0 - timedelta(days=1)}
    )
    assert stale_lab_sort_keys() == []
    assert HisLabResult.objects.get(external_id="alone").sort_report == report.pk


def test_bulk_create_and_refresh_sort(hung: Patient, ttyt: Any) -> None:
    report = _report(hung, ttyt, "R1", issued_at=T0 + timedelta(hours=3))
    HisLabResult.objects.bulk_create(
        [
            HisLabResult(
                patient=hung, facility=ttyt, source="xml", external_id="x1", name="a", observed_at=T0
            ),
            HisLabResult(
                patient=hung, facility=ttyt, source="fhir", external_id="x2", name="b", report=report
            ),
            # The report by id only: read in one query for the batch.
            HisLabResult(
                patient=hung, facility=ttyt, source="fhir", external_id="x3", name="c", report_id=report.pk
            ),
        ]
    )
    assert stale_lab_sort_keys() == []
    # A queryset update bypasses save(): refresh_sort() puts the key right, in one UPDATE.
    HisLabReport.objects.filter(pk=report.pk).update(effective_at=T0 + timedelta(hours=1))
    assert len(stale_lab_sort_keys()) == 2
    HisLabResult.objects.filter(report=report).refresh_sort()
    assert stale_lab_sort_keys() == []


def test_the_migration_fills_existing_rows_in_batches(
    hung: Patient, ttyt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    migration = importlib.import_module("health_f0.his.migrations.0006_lab_result_sort_key")
    report = _report(hung, ttyt, "R1", effective_at=T0 + timedelta(hours=2))
    for n in range(7):
        _result(
            hung,
            ttyt,
            f"r{n}",
            observed_at=T0 + timedelta(minutes=n) if n % 3 else None,
            report=report if n % 2 else None,
        )
    # Rows as they stood before the migration: the column's default.
    HisLabResult.objects.update(sort_at=NO_TIME, sort_report=0)
    assert len(stale_lab_sort_keys()) == 5
    monkeypatch.setattr(migration, "BATCH", 2)
    migration.fill_sort_key(apps, None)
    assert stale_lab_sort_keys() == []


def test_lists_read_newest_report_first_by_the_stored_key(hung: Patient, ttyt: Any) -> None:
    HisLink.objects.create(
        patient=hung, facility=ttyt, active=True, his_patient_id="H1", linked_at=timezone.now()
    )
    old = _report(hung, ttyt, "old", effective_at=T0)
    new = _report(hung, ttyt, "new", issued_at=T0 + timedelta(days=2))
    _result(hung, ttyt, "o-b", observed_at=T0 + timedelta(days=9), report=old)  # the report's time counts
    _result(hung, ttyt, "o-a", report=old)
    _result(hung, ttyt, "n-z", report=new)
    _result(hung, ttyt, "n-y", report=new)
    _result(hung, ttyt, "alone", observed_at=T0 + timedelta(days=1))
    _result(hung, ttyt, "untimed")
    rows = selectors.portal_lab_results(user=hung.account, patient=hung)
    assert [r.external_id for r in rows] == ["n-y", "n-z", "alone", "o-a", "o-b", "untimed"]
    # The order is the stored key's, and it equals the report-time order computed by the ORM.
    from django.db.models import DateTimeField, IntegerField, Value
    from django.db.models.functions import Coalesce

    from health_f0.core.keyset import time_key

    by_orm = (
        HisLabResult.objects.filter(patient=hung)
        .annotate(
            when=Coalesce(
                "report__effective_at",
                "report__issued_at",
                time_key("observed_at"),
                output_field=DateTimeField(),
            ),
            key=Coalesce("report_id", Value(0), output_field=IntegerField()),
        )
        .order_by("-when", "key", "name", "id")
    )
    assert [r.external_id for r in rows] == [r.external_id for r in by_orm]
