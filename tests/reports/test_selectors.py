"""Figures per station per day, the roll-ups, the median, the scope, and a query count that does not grow."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.facilities.services import facility_save
from health_f0.monitoring.services import alert_acknowledge, declaration_submit, episode_start
from health_f0.reports.homecare.selectors import PROVINCE, STATION, TTYT, DayFigures, monitoring_report

from .conftest import D0, D1, D2, D3, FEVER, _patient, at

FIELDS = (
    "active",
    "new",
    "completed",
    "transferred",
    "declared",
    "on_time",
    "silent",
    "alerts_watch",
    "alerts_urgent",
    "alerts_emergency",
    "median_ack_minutes",
)


def figures_of(report, level, facility, day) -> tuple:
    f = report.figures[level].get((facility.pk, day), DayFigures())
    return tuple(getattr(f, name) for name in FIELDS)


def test_station_figures_per_day(dataset, persona):
    report = monitoring_report(user=persona("syt.lanhdao"), date_from=D0, date_to=D3)
    a, b = dataset.station_a, dataset.station_b
    #                                           act new done trf decl ontime silent w  u  e  median
    assert figures_of(report, STATION, a, D0) == (3, 1, 0, 0, 2, 2, 1, 0, 0, 0, None)
    assert figures_of(report, STATION, a, D1) == (4, 1, 0, 1, 3, 2, 1, 1, 1, 1, 10.0)
    assert figures_of(report, STATION, a, D2) == (3, 0, 1, 0, 1, 1, 2, 0, 0, 0, None)
    assert figures_of(report, STATION, a, D3) == (2, 0, 0, 0, 1, 1, 1, 0, 0, 0, None)
    assert figures_of(report, STATION, b, D0) == (1, 0, 0, 0, 1, 0, 0, 0, 0, 0, None)
    assert figures_of(report, STATION, b, D1) == (1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 40.0)
    # P6 declared at 00:30 local on D2 (17:30 UTC on D1): the declaration and its alert belong to D2.
    assert figures_of(report, STATION, b, D2) == (2, 1, 0, 0, 1, 1, 1, 0, 1, 0, None)
    assert figures_of(report, STATION, b, D3) == (2, 0, 0, 0, 1, 1, 1, 0, 0, 0, None)
    # The third station has no data but still has its rows (zeros).
    station_codes = [unit.code for unit in report.units[STATION]]
    assert station_codes[:3] == ["TYT-10510", "TYT-10532", "TYT-10537"]
    rows = [row for row in report.rows(STATION) if row.unit.code == "TYT-10537"]
    assert [row.day for row in rows] == [D0, D1, D2, D3]
    assert all(row.figures == DayFigures() for row in rows)
    # Rates.
    a1 = report.figures[STATION][(a.pk, D1)]
    assert a1.declaration_rate == pytest.approx(3 / 4) and a1.on_time_rate == pytest.approx(2 / 3)
    assert a1.acknowledged == 3
    assert report.figures[STATION][(b.pk, D2)].acknowledged == 0


def test_roll_ups_sum_and_recompute_rates(dataset, persona):
    report = monitoring_report(user=persona("syt.lanhdao"), date_from=D0, date_to=D3)
    for level, unit in ((TTYT, dataset.ttyt), (PROVINCE, dataset.province)):
        assert [u.id for u in report.units[level]] == [unit.pk]
        assert figures_of(report, level, unit, D0) == (4, 1, 0, 0, 3, 2, 1, 0, 0, 0, None)
        # Median over the TTYT's own alerts [5, 10, 30, 40] = 20, not the mean of station medians (25).
        assert figures_of(report, level, unit, D1) == (5, 1, 0, 1, 4, 3, 1, 2, 1, 1, 20.0)
        assert figures_of(report, level, unit, D2) == (5, 1, 1, 0, 2, 2, 3, 0, 1, 0, None)
        assert figures_of(report, level, unit, D3) == (4, 0, 0, 0, 2, 2, 2, 0, 0, 0, None)
        d0 = report.figures[level][(unit.pk, D0)]
        # On time 2 of 3 who declared (A: 2/2, B: 0/1; the mean of rates would say 50 %).
        assert d0.on_time_rate == pytest.approx(2 / 3)
        assert d0.declaration_rate == pytest.approx(3 / 4)
    assert report.totals[D1].median_ack_minutes == 20.0
    assert report.totals[D2].active == 5


def test_odd_median_and_single_day(dataset, persona):
    report = monitoring_report(user=persona("ttyt.lanhdao"), date_from=D1, date_to=D1)
    assert report.days == [D1]
    assert report.figures[STATION][(dataset.station_a.pk, D1)].median_ack_minutes == 10.0
    assert figures_of(report, TTYT, dataset.ttyt, D1)[0] == 5


def test_scope_station_head_ttyt_manager_and_others(dataset, persona):
    a, b = dataset.station_a, dataset.station_b
    head = monitoring_report(user=persona("thanhdong.truong"), date_from=D0, date_to=D3)
    assert [u.id for u in head.units[STATION]] == [a.pk]
    assert head.root == a
    assert not head.units[TTYT] and not head.units[PROVINCE]
    assert all(key[0] == a.pk for key in head.figures[STATION])
    assert head.totals[D1].active == 4

    ttyt = monitoring_report(user=persona("ttyt.lanhdao"), date_from=D0, date_to=D3)
    assert {u.id for u in ttyt.units[STATION]} >= {a.pk, b.pk}
    assert [u.id for u in ttyt.units[TTYT]] == [dataset.ttyt.pk]
    assert not ttyt.units[PROVINCE]  # the TTYT manager does not see the whole province

    # A manager narrowing to one station sees no roll-up.
    narrowed = monitoring_report(user=persona("syt.lanhdao"), date_from=D0, date_to=D3, facility_id=b.pk)
    assert [u.id for u in narrowed.units[STATION]] == [b.pk]
    assert not narrowed.units[TTYT] and not narrowed.units[PROVINCE]

    with pytest.raises(LookupError):
        monitoring_report(user=persona("thanhdong.truong"), date_from=D0, date_to=D3, facility_id=b.pk)
    for username in ("thanhdong.nv", "bacsi.dieutri", "datlich", "bn0000001"):
        with pytest.raises(PermissionDenied):
            monitoring_report(user=persona(username), date_from=D0, date_to=D3)


def test_query_count_does_not_grow_with_stations_or_days(dataset, persona, django_assert_max_num_queries):
    manager = persona("syt.lanhdao")
    with django_assert_max_num_queries(12) as small:
        monitoring_report(user=manager, date_from=D0, date_to=D0)
    baseline = len(small.captured_queries)
    ttyt = dataset.ttyt
    nurse = persona("admin")
    for i in range(20):
        station = facility_save(
            facility=Facility(
                kind=FacilityKind.STATION,
                code=f"TYT-X{i}",
                name=f"Trạm Y tế thử {i}",
                parent=ttyt,
                province_code=ttyt.province_code,
            )
        )
        if i % 4 == 0:  # some of them with patients, declarations and acknowledged alerts
            patient = _patient(f"Người bệnh {i}", f"+8491300{i:04d}", station, 10510)
            episode_start(patient=patient, facility=station, actor=nurse, start_date=D0 - timedelta(days=100))
            for day in (D0 - timedelta(days=50), D1):
                declaration, _ = declaration_submit(
                    patient=patient, actor=None, answers=FEVER, now=at(day, 8)
                )
                alert_acknowledge(alert=declaration.alert, actor=nurse, outcome="advised")
    manager = persona("syt.lanhdao")  # a fresh user object: no cached scope
    with django_assert_max_num_queries(baseline) as large:
        report = monitoring_report(user=manager, date_from=D0 - timedelta(days=300), date_to=D3)
    assert len(report.units[STATION]) >= 23 and len(report.days) == 304
    assert len(large.captured_queries) == baseline
    assert report.figures[TTYT][(ttyt.pk, D1)].alerts_watch == 2 + 5


def test_empty_scope_range(dataset, persona):
    report = monitoring_report(
        user=persona("syt.lanhdao"), date_from=date(2020, 1, 1), date_to=date(2020, 1, 3)
    )
    assert all(row.figures == DayFigures() for row in report.rows(STATION))
    assert report.totals == {}
