"""/lich-su's constant SQL (monitoring/sql/declarations.py) reads what the ORM queries it replaced read: the
episode's declarations a keyset page at a time (the same rows, instances and cursors, forwards and back),
the charts' readings, and the charts' table shows numbers as Django's templates did in each language."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Q
from django.utils import formats, timezone, translation

from health_f0.core.keyset import Keyset
from health_f0.monitoring.models import Declaration, Episode, EpisodeStatus
from health_f0.monitoring.selectors import patient_declarations
from health_f0.monitoring.sql.declarations import HISTORY_TEXT_FIELDS
from health_f0.patients.models import Patient
from health_f0.www import selectors
from health_f0.www.monitoring_views import HISTORY_KEYSET, json_value
from tests.www.chart_reference import table_rows
from tests.www.test_list_pages import add_declarations, hung  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

ORM_KEYSET = Keyset(selectors.HISTORY_ORDER)


def orm_history(episode: Episode) -> Any:
    """The ORM query /lich-su read before (www.selectors.declaration_history)."""
    return patient_declarations(patient_ids=[episode.patient_id]).filter(episode=episode)


@pytest.fixture
def episode(hung: Patient) -> Episode:  # noqa: F811
    episode = add_declarations(hung, 11)
    rows = list(Declaration.objects.filter(episode=episode).order_by("id"))
    # Ties on submitted_at (ordered by id), missing readings, and rows of another episode and patient that
    # must not show.
    rows[3].submitted_at = rows[4].submitted_at
    rows[5].spo2 = None
    rows[6].temperature = None
    rows[7].spo2, rows[7].temperature = None, None
    rows[8].temperature = Decimal("38.5")
    rows[9].late = True
    Declaration.objects.bulk_update(rows, ["submitted_at", "spo2", "temperature", "late"])
    old = Episode.objects.create(
        patient=hung,
        facility=episode.facility,
        status=EpisodeStatus.COMPLETED,
        start_date=episode.start_date - timedelta(days=60),
        expected_end_date=episode.start_date - timedelta(days=50),
    )
    template = rows[0]
    Declaration.objects.create(
        episode=old,
        patient=hung,
        questionnaire_id=template.questionnaire_id,
        submitted_at=template.submitted_at - timedelta(days=55),
        local_date=timezone.localdate(template.submitted_at - timedelta(days=55)),
        answers=template.answers,
        spo2=95,
        alert_level=template.alert_level,
        reasons=template.reasons,
        idempotency_key="old-episode",
    )
    return episode


FIELDS = ("id", "questionnaire_id", "submitted_at", "local_date", "late", "answers", "alert_level", "reasons")


def values(row: dict[str, Any]) -> list[Any]:
    """A page's row as the ORM's fields: its answers and reasons are their stored JSON text, read by the page
    as the JSONField reads them (monitoring_views.json_value)."""
    return [json_value(row[f]) if f in HISTORY_TEXT_FIELDS else row[f] for f in FIELDS]


def test_history_pages_equal_the_orm_forwards_and_back(episode: Episode) -> None:
    sql = selectors.declaration_history(episode=episode)
    orm = orm_history(episode)
    cursor_sql = cursor_orm = None
    pages = 0
    while True:
        page_sql = sql.keyset_page(HISTORY_KEYSET, size=4, cursor=cursor_sql)
        page_orm = ORM_KEYSET.page(orm, size=4, cursor=cursor_orm)
        assert [values(row) for row in page_sql.items] == [
            [getattr(d, f) for f in FIELDS] for d in page_orm.items
        ]
        assert (page_sql.next_cursor, page_sql.previous_cursor) == (
            page_orm.next_cursor,
            page_orm.previous_cursor,
        )
        pages += 1
        if page_sql.next_cursor is None:
            break
        cursor_sql, cursor_orm = page_sql.next_cursor, page_orm.next_cursor
    assert pages == 3  # 12 declarations of the episode, not the old episode's
    back = sql.keyset_page(HISTORY_KEYSET, size=4, cursor=page_sql.previous_cursor)
    back_orm = ORM_KEYSET.page(orm, size=4, cursor=page_orm.previous_cursor)
    assert [r["id"] for r in back.items] == [d.id for d in back_orm.items]
    assert (back.next_cursor, back.previous_cursor) == (back_orm.next_cursor, back_orm.previous_cursor)


def test_chart_readings_equal_the_orm(episode: Episode) -> None:
    expected = list(
        orm_history(episode)
        .filter(Q(spo2__isnull=False) | Q(temperature__isnull=False))
        .order_by(*selectors.HISTORY_ORDER)
        .values_list("submitted_at", "local_date", "spo2", "temperature")[:5]
    )
    readings = selectors.chart_readings(episode=episode, limit=5)
    assert [(r.submitted_at, r.local_date, r.spo2, r.temperature) for r in readings] == expected
    everything = selectors.chart_readings(episode=episode)
    assert len(everything) == 11  # 12 declarations, one without SpO2 or temperature; not the old episode's
    assert Decimal("38.5") in [r.temperature for r in everything]


@pytest.mark.parametrize("limit", [None, 5])
def test_chart_readings_of_a_whole_page_equal_the_statement(episode: Episode, limit: int | None) -> None:
    page = selectors.declaration_history(episode=episode).keyset_page(HISTORY_KEYSET, size=30, cursor=None)
    assert page.next_cursor is None and len(page.items) == 12
    expected = selectors.chart_readings(episode=episode, limit=limit)
    assert selectors.chart_readings(episode=episode, limit=limit, every=page.items) == expected
    assert len(expected) == (limit or 11)


@pytest.mark.parametrize("language", ["vi", "en"])
def test_table_rows_show_numbers_as_django_did(episode: Episode, language: str) -> None:
    readings = selectors.chart_readings(episode=episode)
    with translation.override(language):
        rows = table_rows(readings)
        assert [row.temperature for row in rows] == [
            None if r.temperature is None else formats.localize(r.temperature) for r in readings
        ]
        assert [row.when for row in rows] == [
            formats.date_format(timezone.localtime(r.submitted_at), "d/m/Y H:i") for r in readings
        ]
    assert [row.spo2 for row in rows] == [r.spo2 for r in readings]


def test_declaration_views_read_a_version_s_questions_once(
    episode: Episode, django_assert_num_queries: Any
) -> None:
    from health_f0.monitoring.selectors import declaration_views
    from health_f0.monitoring.services import reset_caches

    declarations = list(orm_history(episode))
    reset_caches()
    with django_assert_num_queries(1):
        first = declaration_views(declarations)
    with django_assert_num_queries(0):
        again = declaration_views(declarations)
    assert first == again
    assert first[0].values  # the template's answers are labelled ("Nhiệt độ", "37 °C"…)
