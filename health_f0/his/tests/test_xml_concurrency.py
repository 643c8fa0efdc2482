"""Two XML imports of one facility at the same time on MariaDB (threads, each with its own connection and
transaction): a MA_LK both files contain is imported once and counted as a duplicate by the other run;
both runs finish, nothing is lost and no visit is left half written."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from health_f0.his import imports
from health_f0.his.models import HisLabResult, HisLink, HisReexamSlip, HisVisit, ImportRun
from health_f0.his.tests.conftest import make_patient, unique_bhyt
from health_f0.his.tests.test_xml import LABS, envelope, run, xml1, xml4, xml14
from tests.standins.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def both_past_the_duplicate_check(monkeypatch: Any) -> None:
    """Hold each run after it has looked for already imported MA_LK (none yet) until the other one has
    too, so both go on to write the same visits: the race the uploads can hit."""
    barrier = threading.Barrier(2, timeout=10)
    match_links = imports._match_links

    def held(*args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):  # the other run had nothing to write
            barrier.wait()
        return match_links(*args, **kwargs)

    monkeypatch.setattr(imports, "_match_links", held)


@pytest.fixture
def linked(ttyt: Any) -> Any:
    patient = make_patient()
    HisLink.objects.create(
        patient=patient,
        facility=ttyt,
        his_patient_id="BN001",
        his_code="BN001",
        bhyt_key=unique_bhyt(),
        identifiers={"his_code": "BN001"},
        linked_at=timezone.now(),
    )
    return patient


def hoso(ma_lk: str) -> list[tuple[str, bytes]]:
    return [xml1(ma_lk), xml4(ma_lk, LABS), xml14(ma_lk, timezone.localdate() + timedelta(days=30))]


@pytest.mark.parametrize("forced", [True, False], ids=["both-past-the-check", "free-running"])
def test_same_ma_lk_in_two_concurrent_imports(ttyt: Any, linked: Any, monkeypatch: Any, forced: bool) -> None:
    patient = linked
    if forced:
        both_past_the_duplicate_check(monkeypatch)
    first = envelope([hoso("LKC1"), hoso("LKC2"), hoso("LKC3")])
    second = envelope([hoso("LKC3"), hoso("LKC2"), hoso("LKC4")])  # two shared, in the other order

    results = run_together(lambda: run(ttyt, first, "a.xml"), lambda: run(ttyt, second, "b.xml"), timeout=60)

    assert all(isinstance(r, ImportRun) for r in results), results
    runs = [ImportRun.objects.get(pk=r.pk) for r in results]
    assert [r.status for r in runs] == ["done", "done"], [r.failure for r in runs]
    assert sum(r.imported_count for r in runs) == 4 and sum(r.duplicate_count for r in runs) == 2
    assert [r.read_count for r in runs] == [3, 3] and not any(r.rejected_count for r in runs)
    visits = HisVisit.objects.filter(facility=ttyt, source="xml", patient=patient)
    assert sorted(visits.values_list("external_id", flat=True)) == ["LKC1", "LKC2", "LKC3", "LKC4"]
    for visit in visits:  # whole visits: every result and the slip, once
        assert HisLabResult.objects.filter(visit=visit).count() == len(LABS)
        assert HisReexamSlip.objects.filter(visit=visit).count() == 1
    assert HisLabResult.objects.filter(patient=patient).count() == 4 * len(LABS)


@pytest.mark.django_db(transaction=True)
def test_seen_visits_are_written_again_when_picked_as_a_deadlock_victim(ttyt: Any, monkeypatch: Any) -> None:
    """Two imports sharing visits both INSERT IGNORE their "seen" rows; MariaDB may pick one as a deadlock
    victim (CI saw it: the whole run failed). The step is idempotent, so it runs again, and in key order."""
    from django.db import OperationalError

    from health_f0.his.models import HisVisitSeen

    original = HisVisitSeen.objects.bulk_create
    calls: list[list[str]] = []

    def deadlock_once(objs: Any, **kwargs: Any) -> Any:
        calls.append([o.external_id for o in objs])
        if len(calls) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
        return original(objs, **kwargs)

    monkeypatch.setattr(HisVisitSeen.objects, "bulk_create", deadlock_once)
    now = timezone.now()
    imports._seen(ttyt, "xml", [("LKD2", now, "K01", "k2", False), ("LKD1", now, "K01", "k1", False)])
    assert calls == [["LKD1", "LKD2"], ["LKD1", "LKD2"]]
    assert sorted(HisVisitSeen.objects.filter(facility=ttyt).values_list("external_id", flat=True)) == [
        "LKD1",
        "LKD2",
    ]
