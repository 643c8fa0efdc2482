"""core/rawsql's statements through the driver's cursor (issue 11): the same rows, description, errors and
connection state as through Django's cursor, and Django's cursor (its query log, execute_wrappers) whenever
something watches the statements."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db import ProgrammingError as DjangoProgrammingError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.test.utils import CaptureQueriesContext

from health_f0.core import rawsql

SQL = "SELECT %s AS a, %s AS b UNION ALL SELECT %s, %s"
PARAMS = [1, "x", 2, "y"]


def _django(sql: str, params: Any) -> tuple[list[Any], Any]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()), cursor.description


@pytest.fixture
def prepare_spy() -> Any:
    """A spy on Django's cursor wrapping (BaseDatabaseWrapper._prepare_cursor): called on Django's path only."""
    with mock.patch.object(
        BaseDatabaseWrapper, "_prepare_cursor", autospec=True, side_effect=BaseDatabaseWrapper._prepare_cursor
    ) as spy:
        yield spy


@pytest.mark.django_db
def test_fetch_all_answers_what_djangos_cursor_answers(prepare_spy: Any) -> None:
    expected = _django(SQL, PARAMS)
    prepare_spy.reset_mock()
    rows, description = rawsql.fetch_all(connections[DEFAULT_DB_ALIAS], SQL, PARAMS)
    assert (rows, tuple(d[0] for d in description)) == (expected[0], tuple(d[0] for d in expected[1]))
    assert tuple(description) == tuple(expected[1])
    assert prepare_spy.call_count == 0  # the lean path: no Django cursor wrapper
    assert rawsql.fetch_all(connections[DEFAULT_DB_ALIAS], "SELECT 1 WHERE 1 = 0", None)[0] == []


@pytest.mark.django_db
def test_statements_are_logged_where_queries_are_captured(prepare_spy: Any) -> None:
    with CaptureQueriesContext(connection) as captured:
        rows, _description = rawsql.fetch_all(connections[DEFAULT_DB_ALIAS], SQL, PARAMS)
    assert rows == [(1, "x"), (2, "y")]
    assert len(captured.captured_queries) == 1
    assert "UNION ALL" in captured.captured_queries[0]["sql"]
    assert prepare_spy.call_count == 1


@pytest.mark.django_db
def test_execute_wrappers_still_run(prepare_spy: Any) -> None:
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        rawsql.fetch_all(connections[DEFAULT_DB_ALIAS], SQL, PARAMS)
        rawsql.execute(connections[DEFAULT_DB_ALIAS], "SELECT 1", None)
    assert seen == [SQL, "SELECT 1"]
    assert prepare_spy.call_count == 2


@pytest.mark.django_db
def test_a_patched_cursor_execute_takes_djangos_path(prepare_spy: Any) -> None:
    """An instrumentation that replaces CursorWrapper.execute (APM libraries do) still sees the statements."""
    plain = CursorWrapper.execute
    seen: list[str] = []

    def execute(self: Any, sql: str, params: Any = None) -> Any:
        seen.append(sql)
        return plain(self, sql, params)

    with mock.patch.object(CursorWrapper, "execute", execute):
        assert rawsql.fetch_all(connections[DEFAULT_DB_ALIAS], SQL, PARAMS)[0] == [(1, "x"), (2, "y")]
    assert seen == [SQL]


@pytest.mark.django_db
def test_errors_are_djangos_and_mark_the_connection() -> None:
    """The driver's error comes out as Django's (db_health's 503 reads those), errors_occurred set as Django's
    cursor sets it, and the connection stays usable."""
    connection.errors_occurred = False
    with pytest.raises(DjangoProgrammingError):
        rawsql.fetch_all(connections[DEFAULT_DB_ALIAS], "SELECT no_such_column FROM no_such_table_hf0", None)
    assert connection.errors_occurred is True
    connection.errors_occurred = False
    with pytest.raises(DjangoProgrammingError):
        rawsql.execute(connections[DEFAULT_DB_ALIAS], "DELETE FROM no_such_table_hf0", None)
    assert connection.errors_occurred is True
    assert rawsql.fetch_all(connections[DEFAULT_DB_ALIAS], "SELECT 1", None)[0] == [(1,)]


@pytest.mark.django_db(transaction=True)
def test_a_closed_connection_is_opened_again() -> None:
    connections[DEFAULT_DB_ALIAS].close()
    assert connection.connection is None
    assert rawsql.fetch_all(connections[DEFAULT_DB_ALIAS], "SELECT 2", None)[0] == [(2,)]
    assert connection.connection is not None


@pytest.mark.django_db
def test_execute_answers_rowcount_and_lastrowid() -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="rawsql-lean")
    table = get_user_model()._meta.db_table
    sql = f"UPDATE {table} SET first_name = %s WHERE id = %s"  # noqa: S608
    rowcount, _last = rawsql.execute(connections[DEFAULT_DB_ALIAS], sql, ["An", user.pk])
    assert rowcount == 1
    user.refresh_from_db()
    assert user.first_name == "An"
