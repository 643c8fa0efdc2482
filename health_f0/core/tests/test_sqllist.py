"""core/sqllist.py: a list written as SQL pages exactly as the ORM queryset it stands for, with the same cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health_f0.core.keyset import InvalidCursor, Keyset
from health_f0.core.sqllist import Col, SqlColumns

BASE = datetime(2026, 11, 1, tzinfo=UTC)
User = get_user_model()
_meta = User._meta
USERS = SqlColumns(
    {
        "id": Col("u.id", _meta.get_field("id")),
        "username": Col("u.username", _meta.get_field("username")),
        "date_joined": Col("u.date_joined", _meta.get_field("date_joined")),
        "is_active": Col("u.is_active", _meta.get_field("is_active")),
    }
)


@pytest.fixture
def users(db: Any) -> Any:
    """23 users whose join times tie in groups of three (so the id decides), every fourth inactive."""
    for i in range(23):
        User.objects.create(
            username=f"sqllist{i:02d}", date_joined=BASE + timedelta(hours=i // 3), is_active=i % 4 != 0
        )
    return User.objects.filter(username__startswith="sqllist")


def rows(*ordering: str) -> Any:
    return USERS.rows(
        f"{_meta.db_table} u", "u.username LIKE %s", ["sqllist%"], model=User, ordering=ordering
    )


def walk(keyset: Keyset, listing: Any, size: int) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        page = listing.keyset_page(keyset, size=size, cursor=cursor)
        assert len(page.items) <= size
        seen.extend(row["id"] for row in page.items)
        if not page.has_next:
            return seen
        cursor = page.next_cursor


@pytest.mark.parametrize("ordering", [("-date_joined", "-id"), ("date_joined", "id"), ("-date_joined", "id")])
@pytest.mark.parametrize("size", [1, 4, 23, 50])
def test_keyset_pages_cover_the_orm_order_exactly_once(users: Any, ordering: Any, size: int) -> None:
    expected = list(users.order_by(*ordering).values_list("pk", flat=True))
    assert walk(Keyset(ordering), rows(), size) == expected


def test_cursors_are_the_orm_keysets_both_ways(users: Any) -> None:
    keyset = Keyset(("-date_joined", "-id"))
    orm = keyset.page(users, size=5)
    sql = rows().keyset_page(keyset, size=5, cursor=None)
    assert orm.next_cursor == sql.next_cursor
    orm2 = keyset.page(users, size=5, cursor=orm.next_cursor)
    sql2 = rows().keyset_page(keyset, size=5, cursor=orm.next_cursor)
    assert [u.pk for u in orm2.items] == [r["id"] for r in sql2.items]
    assert orm2.previous_cursor == sql2.previous_cursor
    back = rows().keyset_page(keyset, size=5, cursor=sql2.previous_cursor)
    assert [r["id"] for r in back.items] == [u.pk for u in orm.items]


def test_values_are_converted_as_the_orm_converts_them(users: Any) -> None:
    expected = list(users.order_by("id").values("id", "username", "date_joined", "is_active"))
    assert rows("id")[0:100] == expected
    assert all(isinstance(r["is_active"], bool) and r["date_joined"].tzinfo for r in expected)


def test_limit_offset_and_count_for_v1(users: Any) -> None:
    listing = rows("-date_joined", "-id")
    ids = list(users.order_by("-date_joined", "-id").values_list("pk", flat=True))
    assert listing.count() == 23
    assert [r["id"] for r in listing[5:12]] == ids[5:12]
    assert listing[30:40] == []


def test_one_statement_a_page(users: Any) -> None:
    keyset = Keyset(("-date_joined", "-id"))
    first = rows().keyset_page(keyset, size=5, cursor=None)
    with CaptureQueriesContext(connection) as queries:
        rows().keyset_page(keyset, size=5, cursor=first.next_cursor)
    assert len(queries) == 1


def test_a_forged_cursor_is_refused(users: Any) -> None:
    keyset = Keyset(("-date_joined", "-id"))
    forged = keyset.cursor_for({"date_joined": "not a date", "id": 1})
    with pytest.raises(InvalidCursor):
        rows().keyset_page(keyset, size=5, cursor=forged)


def _steps(col: Col) -> tuple[list[Any], Any]:
    expression = col.field.get_col(col.field.model._meta.db_table)
    return connection.ops.get_db_converters(expression) + expression.get_db_converters(connection), expression


def _one_by_one(col: Col, values: list[Any]) -> list[Any]:
    """What the ORM's compiler does: every converter, value by value."""
    steps, expression = _steps(col)
    converted = []
    for value in values:
        for step in steps:
            value = step(value, expression, connection)
        converted.append(value)
    return converted


def test_column_converters_answer_what_the_orms_converters_answer(db: Any) -> None:
    """The fast path of MariaDB's boolean converter (one pass over a column) gives exactly the converter's
    values, None and odd values included; a column without a fast path calls its converters."""
    from decimal import Decimal

    from health_f0.core.sqllist import _column_converter

    cases = {
        "is_active": [0, 1, None, 2, True, False, 1.0, Decimal(0)],
        "username": ["a", "", None],
    }
    for name, values in cases.items():
        col = USERS.columns[name]
        steps, expression = _steps(col)
        if not steps:
            continue
        fast = _column_converter(steps, expression)(values, connection)
        slow = _one_by_one(col, values)
        assert fast == slow
        assert [type(v) for v in fast] == [type(v) for v in slow]


@pytest.mark.skipif(connection.vendor != "mysql", reason="the text path is MariaDB's")
def test_datetimes_and_dates_read_as_text_are_the_drivers_and_the_orms_values(db: Any) -> None:
    """A DATETIME read as `CONCAT(col, '+00:00')` and a DATE as text, parsed by fromisoformat, are the values
    the driver's parser and Django's converter give, whatever the text: with and without fractions, NULL, and
    a zero date (which the driver reads as None)."""
    from django.db.models import DateField
    from MySQLdb.times import Date_or_None, DateTime_or_None

    from health_f0.core.sqllist import _as_text

    col = USERS.columns["date_joined"]
    steps, expression = _steps(col)
    found = _as_text(col, steps, expression, connection)
    assert found is not None
    sql, convert = found
    assert sql == "CONCAT(u.date_joined, '+00:00')"
    texts = ["2026-11-01 03:04:05.000678", "2026-11-01 03:04:05", "1900-01-01 00:00:00.000000", None]
    expected = [None if t is None else steps[0](DateTime_or_None(t), expression, connection) for t in texts]
    got = convert([None if t is None else t + "+00:00" for t in texts], connection)
    assert got == expected
    assert all(v is None or v.tzinfo is connection.timezone for v in got)
    # A column without NULL (parsed in one C pass) gives the same values.
    assert convert([t + "+00:00" for t in texts if t], connection) == expected[:3]
    # What fromisoformat refuses goes down the driver's own path (a zero date: None).
    assert convert(["0000-00-00 00:00:00+00:00", "2026-11-01 03:04:05+00:00"], connection) == [
        None,
        expected[1],
    ]
    day: DateField[Any, Any] = DateField()
    day.set_attributes_from_name("day_joined")
    day.model = User
    date_col = Col("DATE(u.date_joined)", day)
    date_steps, date_expression = _steps(date_col)
    found = _as_text(date_col, date_steps, date_expression, connection)
    assert found is not None
    assert found[0] == "CAST(DATE(u.date_joined) AS CHAR)"
    dates = ["1990-02-03", "0001-01-01", None, "0000-00-00"]
    assert found[1](dates, connection) == [None if d is None else Date_or_None(d) for d in dates]
    assert found[1](dates[:2], connection) == [Date_or_None(d) for d in dates[:2]]
    assert found[1]([dates[0], dates[3]], connection) == [Date_or_None(dates[0]), None]


def test_nullable_datetimes_equal_the_orm_values(users: Any) -> None:
    users.filter(username__in=["sqllist01", "sqllist05"]).update(last_login=BASE + timedelta(microseconds=7))
    users.filter(username="sqllist02").update(last_login=BASE + timedelta(days=3))
    listing = SqlColumns(
        {"id": USERS.columns["id"], "last_login": Col("u.last_login", _meta.get_field("last_login"))}
    ).rows(f"{_meta.db_table} u", "u.username LIKE %s", ["sqllist%"], model=User, ordering=("id",))
    assert listing[0:100] == list(users.order_by("id").values("id", "last_login"))


def test_rows_of_every_column_kind_equal_the_orm_values(users: Any) -> None:
    """A page read column by column holds the ORM's `.values()` row for row (after the first converted column
    and without one)."""
    plain = SqlColumns({"id": USERS.columns["id"], "username": USERS.columns["username"]})
    listing = plain.rows(
        f"{_meta.db_table} u", "u.username LIKE %s", ["sqllist%"], model=User, ordering=("id",)
    )
    assert listing[0:100] == list(users.order_by("id").values("id", "username"))
    assert rows("-date_joined", "-id")[3:9] == list(
        users.order_by("-date_joined", "-id").values("id", "username", "date_joined", "is_active")[3:9]
    )


def test_bare_instances_are_bare_instance_of_each_row() -> None:
    """core.sqllist.bare_instances: one instance per row holding exactly the named columns, as bare_instance
    builds it (not adding, no database, an empty related cache), for one column and many, and for a model with
    init signal receivers (through from_db)."""
    from health_f0.core.models import AuditLog  # core's tests name no domain app (tests/test_architecture.py)
    from health_f0.core.sqllist import bare_instance, bare_instances

    rows = [{"id": pk, "verb": "accept", "target_id": str(pk * 2), "other": "x"} for pk in (1, 2, 3)]
    for columns in (("id", "verb", "target_id"), ("id",)):
        got = bare_instances(AuditLog, rows, columns)
        expected = [bare_instance(AuditLog, {name: row[name] for name in columns}) for row in rows]
        for instance, other in zip(got, expected, strict=True):
            assert type(instance) is AuditLog
            assert {k: v for k, v in vars(instance).items() if k != "_state"} == {
                k: v for k, v in vars(other).items() if k != "_state"
            }
            assert (instance._state.adding, instance._state.db) == (False, None)
            assert instance._state.fields_cache == {}
    user_model = get_user_model()
    users = bare_instances(user_model, [{"id": 5, "username": "a"}], ("id", "username"))
    assert (users[0].pk, users[0].username, users[0]._state.adding) == (5, "a", False)
