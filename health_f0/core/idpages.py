"""A desk list paged by ids read in constant SQL, its rows loaded by the ORM (issue 11).

The ORM cannot name an index, and for an ORDER BY ... LIMIT MariaDB may walk the ordering column's own index
and test every row against the filter instead of reading the filter's range and sorting it, a choice that
turns on the page's size (appointments.sql.worklist: the desk's waiting requests). `IdPages` gives a Paginator
(its object_list) the count and each page's ids from a `core.sqllist.SqlList` whose statement names the
index, then loads the page's rows by primary key through the list's own queryset — its scope, joins,
prefetches and annotations — in the ids' order. The rows are the queryset's, in its order, as long as the
statement's condition and ordering are the queryset's (each use keeps a test that compares the pages).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar, overload

from django.db.models import Model, QuerySet

from health_f0.core.sqllist import SqlList

M = TypeVar("M", bound=Model)


class SlicePages(Generic[M]):
    """What a Paginator pages (its object_list) when a page is read as one contiguous slice: `count()` and
    `rows(start, stop)` (0 <= start < stop), the rest of the sequence protocol the Paginator uses given here.
    IdPages below and monitoring.selectors.TieGroupPages."""

    def count(self) -> int:
        raise NotImplementedError

    def rows(self, start: int, stop: int) -> list[M]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[M]:
        return iter(self[0 : self.count()])

    @overload
    def __getitem__(self, window: int) -> M: ...

    @overload
    def __getitem__(self, window: slice) -> list[M]: ...

    def __getitem__(self, window: int | slice) -> M | list[M]:
        if isinstance(window, int):
            rows = self[window : window + 1]
            if not rows:
                raise IndexError(window)
            return rows[0]
        if window.step is not None:
            raise TypeError(f"{type(self).__name__} reads contiguous slices only.")
        start = window.start or 0
        stop = self.count() if window.stop is None else window.stop
        if stop <= start:
            return []
        return self.rows(start, stop)


class IdPages(SlicePages[M]):
    """The rows of `rows` (a queryset in the same order as `ids`) a page at a time: `ids` (a SqlList with an
    "id" column, ordered) answers the count and which ids a page holds; `rows` loads them. Two queries a page
    and one for the count, whatever the page's size."""

    def __init__(self, ids: SqlList, rows: QuerySet[M]) -> None:
        self._ids = ids
        self._rows = rows
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            self._count = self._ids.count()
        return self._count

    def rows(self, start: int, stop: int) -> list[M]:
        ids = [row["id"] for row in self._ids[start:stop]]
        if not ids:
            return []
        # In the ids' order (the statement's), so the rows need no ORDER BY of their own; a row gone from the
        # list between the two statements (confirmed meanwhile) is left out, as the next page load would.
        found: dict[Any, M] = {row.pk: row for row in self._rows.filter(pk__in=ids).order_by()}
        return [found[pk] for pk in ids if pk in found]
