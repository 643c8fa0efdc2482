"""Keyset pages (core/keyset.py) against the plain ORDER BY they stand for, on real rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health_f0.core.keyset import InvalidCursor, Keyset, time_key

BASE = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def users(db: Any) -> Any:
    """23 users whose join times tie in groups of three (so later columns decide), a third never logged in."""
    model = get_user_model()
    for i in range(23):
        model.objects.create(
            username=f"keyset{i:02d}",
            date_joined=BASE + timedelta(hours=i // 3),
            last_login=None if i % 3 == 0 else BASE + timedelta(minutes=7 * i),
        )
    return model.objects.filter(username__startswith="keyset")


def walk(keyset: Keyset, queryset: Any, size: int) -> list[Any]:
    """Every row, following `next` from the first page; each page checked for its size."""
    seen: list[Any] = []
    cursor = None
    while True:
        page = keyset.page(queryset, size=size, cursor=cursor)
        assert len(page.items) <= size
        seen.extend(row.pk for row in page.items)
        if not page.has_next:
            return seen
        assert len(page.items) == size
        cursor = page.next_cursor


@pytest.mark.parametrize("ordering", [("-date_joined", "-id"), ("date_joined", "id"), ("-date_joined", "id")])
@pytest.mark.parametrize("size", [1, 4, 7, 23, 50])
def test_pages_cover_the_order_by_exactly_once(users: Any, ordering: tuple[str, ...], size: int) -> None:
    expected = list(users.order_by(*ordering).values_list("pk", flat=True))
    assert walk(Keyset(ordering), users, size) == expected


def test_a_nullable_column_pages_through_a_coalesced_annotation(users: Any) -> None:
    queryset = users.annotate(login_sort=time_key("last_login"))
    ordering = ("-login_sort", "username", "id")
    expected = list(queryset.order_by(*ordering).values_list("pk", flat=True))
    assert walk(Keyset(ordering), queryset, 5) == expected


def test_previous_returns_the_page_before(users: Any) -> None:
    keyset = Keyset(("-date_joined", "-id"))
    first = keyset.page(users, size=5)
    assert first.previous_cursor is None
    second = keyset.page(users, size=5, cursor=first.next_cursor)
    third = keyset.page(users, size=5, cursor=second.next_cursor)
    back = keyset.page(users, size=5, cursor=third.previous_cursor)
    assert [u.pk for u in back.items] == [u.pk for u in second.items]
    assert back.has_next and back.has_previous
    again = keyset.page(users, size=5, cursor=back.previous_cursor)
    assert [u.pk for u in again.items] == [u.pk for u in first.items]
    assert not again.has_previous


def test_a_deep_page_is_one_query_like_the_first(users: Any) -> None:
    keyset = Keyset(("-date_joined", "-id"))
    with CaptureQueriesContext(connection) as first:
        page = keyset.page(users, size=3)
    for _ in range(4):
        page = keyset.page(users, size=3, cursor=page.next_cursor)
    with CaptureQueriesContext(connection) as deep:
        keyset.page(users, size=3, cursor=page.next_cursor)
    assert len(first) == len(deep) == 1
    assert "OFFSET" not in deep[0]["sql"].upper()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        "e30",  # {}
        "eyJrIjpbMV0sImIiOjB9",  # {"k":[1],"b":0}: one value for two columns
        "eyJrIjpbIm5vdCBhIGRhdGUiLDFdLCJiIjowfQ",  # {"k":["not a date",1],"b":0}
        "eyJrIjpbbnVsbCwxXSwiYiI6MH0",  # {"k":[null,1],"b":0}
    ],
)
def test_a_mangled_cursor_is_refused(users: Any, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        Keyset(("-date_joined", "-id")).page(users, size=5, cursor=cursor)
