"""The board and the silent list read a page through TieGroupPages (issue 11): only the (alert level, last
declaration) groups the page overlaps. Every page, at every page size and filter, holds exactly the rows the
fully ordered list holds there, ties (same level and day, same name) and never-declared episodes included."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from health_f0.facilities.models import Facility
from health_f0.monitoring.models import Declaration, Episode, EpisodeStatus
from health_f0.monitoring.selectors import (
    BoardFilters,
    board_episodes,
    board_pages,
    board_summary,
    silent_episodes,
    silent_pages,
)
from health_f0.patients.models import Patient
from tests.desk.test_monitoring import add_episodes, declare

pytestmark = pytest.mark.django_db

LEVELS = ["none", "watch", "urgent", "emergency"]


def _mixed_station() -> None:
    """23 more episodes at TYT-10510 over every level and a few days (some never declared, some today), two
    patients with one name."""
    today = timezone.localdate()
    days = [None, today, today - timedelta(days=1), today - timedelta(days=3)]
    episodes = add_episodes(23)
    for i, episode in enumerate(episodes):
        Episode.objects.filter(pk=episode.pk).update(
            last_alert_level=LEVELS[i % 4], last_declared_on=days[(i + i // 4) % 4]
        )
    Patient.objects.filter(pk=episodes[3].patient_id).update(full_name=episodes[4].patient.full_name)


def _read_all(pages: Any, per_page: int) -> tuple[int, list[int]]:
    paginator = Paginator(pages, per_page)
    return paginator.count, [e.pk for n in paginator.page_range for e in paginator.page(n).object_list]


@pytest.mark.parametrize(
    "filters",
    [None, BoardFilters(alert_level="none"), BoardFilters(alert_level="urgent"), BoardFilters(age_min=40)],
)
def test_board_pages_are_the_ordered_list_cut_in_pages(persona: Any, filters: BoardFilters | None) -> None:
    _mixed_station()
    nurse, today = persona("thanhdong.nv"), timezone.localdate()
    station = Facility.objects.get(code="TYT-10510")
    expected = [e.pk for e in board_episodes(user=nurse, facility=station, today=today, filters=filters)]
    assert expected
    for per_page in (1, 3, 7, 50):
        pages = board_pages(user=nurse, facility=station, today=today, filters=filters)
        assert _read_all(pages, per_page) == (len(expected), expected)


def test_silent_pages_are_the_ordered_list_cut_in_pages(persona: Any) -> None:
    _mixed_station()
    nurse, today = persona("thanhdong.nv"), timezone.localdate()
    station = Facility.objects.get(code="TYT-10510")
    expected = [e.pk for e in silent_episodes(user=nurse, facility=station, today=today)]
    assert len(expected) > 7
    for per_page in (1, 4, 50):
        pages = silent_pages(user=nurse, facility=station, today=today)
        assert _read_all(pages, per_page) == (len(expected), expected)


def test_a_page_reads_only_the_groups_it_shows(persona: Any) -> None:
    """Page 1 of 3 asks for the most severe groups only: the 'none' episodes are not read (nor sorted)."""
    _mixed_station()
    nurse, today = persona("thanhdong.nv"), timezone.localdate()
    station = Facility.objects.get(code="TYT-10510")
    pages = board_pages(user=nurse, facility=station, today=today)
    pages.groups()
    with CaptureQueriesContext(connection) as ctx:
        first = pages[0:3]
    assert [e.last_alert_level for e in first] == ["emergency"] * 3
    (sql,) = [q["sql"] for q in ctx.captured_queries]
    assert "'emergency'" in sql
    assert "'none'" not in sql.split("WHERE", 1)[1].split("ORDER BY", 1)[0].replace("WHEN", "")


def test_other_stations_staff_read_nothing(persona: Any) -> None:
    _mixed_station()
    other, today = persona("lethanhnghi.nv"), timezone.localdate()
    station = Facility.objects.get(code="TYT-10510")
    assert _read_all(board_pages(user=other, facility=station, today=today), 5) == (0, [])
    assert _read_all(silent_pages(user=other, facility=station, today=today), 5) == (0, [])


def test_late_tile_counts_the_stations_active_episodes_late_today_once_each(persona: Any) -> None:
    """The tile reads today's late declarations (index decl_day_late_episode): two late ones of one episode
    count once; a late one of yesterday, of an ended episode or of another station's episode not at all."""
    today = timezone.localdate()
    twice, yesterday, ended, on_time = add_episodes(4)
    (elsewhere,) = add_episodes(1, code="TYT-10532", ward_code=10532, start=10)
    for episode, keys in ((twice, "ab"), (yesterday, "c"), (ended, "d"), (on_time, "e"), (elsewhere, "f")):
        for key in keys:
            declare(episode.patient, key, temperature="36.8")
    Declaration.objects.filter(episode__in=[twice, yesterday, ended, elsewhere]).update(late=True)
    Declaration.objects.filter(episode=on_time).update(late=False)  # (late or not by the clock of the run)
    Declaration.objects.filter(episode=yesterday).update(local_date=today - timedelta(days=1))
    Episode.objects.filter(pk=ended.pk).update(status=EpisodeStatus.COMPLETED)
    station = Facility.objects.get(code="TYT-10510")
    summary = board_summary(user=persona("thanhdong.nv"), facility=station, today=today)
    assert summary.late == 1
