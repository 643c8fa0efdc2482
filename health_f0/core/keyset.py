"""Keyset ("seek") pagination: the next page is the rows after the last row's sort key, so page 500 reads what
page 1 reads (an index range from the key), never the rows before it, and no COUNT(*) runs (issue 11).

    keyset = Keyset(("-submitted_at", "-id"))
    page = keyset.page(queryset, size=100, cursor=request.GET.get("cursor"))
    page.items, page.next_cursor, page.previous_cursor

Rules the ordering must follow (checked where they can be): every column is NOT NULL (wrap a nullable column
in an annotation such as Coalesce first), the last column is unique (`id`), and each is a model field or an
annotation of the queryset. A cursor holds the typed key of one row (JSON, base64url) and a direction; values
are converted back by the column's own field (`to_python`) and compared as the column's type — a forged or
mangled cursor is `InvalidCursor` (the API answers 400), and can only move within the caller's own queryset.

Why not a package: DRF's CursorPagination keeps only the first column and an offset among ties, and cannot
order by an expression; django-cursor-pagination compares every key as text, which on MariaDB compares a
DATETIME column against '2026-11-28 03:12:00+00:00' as a string conversion. Both were tried.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import DateTimeField, F, Field, Model, Q, QuerySet, Value
from django.db.models.functions import Cast, Coalesce


class InvalidCursor(ValueError):
    pass


# The sort key of a row whose time is unknown (a visit without admission time, a result without observation
# time): far in the past, so such rows come last in newest-first lists, where MariaDB puts NULLs.
NO_TIME = datetime(1900, 1, 1, tzinfo=UTC)


def time_key(column: str) -> Coalesce:
    """A NOT NULL sort key for a nullable datetime column (annotate it, then order by it). The default is cast
    to DATETIME: COALESCE of a DATETIME and a text parameter is text on MariaDB."""
    return Coalesce(F(column), Cast(Value(NO_TIME), output_field=DateTimeField()))


@dataclass(frozen=True)
class KeysetPage:
    items: list[Any]
    next_cursor: str | None
    previous_cursor: str | None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def _value_of(row: Any, column: str) -> Any:
    if isinstance(row, dict):
        return row[column]
    value = row
    for part in column.split("__"):
        value = getattr(value, part)
    return value


class Keyset:
    def __init__(self, ordering: Sequence[str]) -> None:
        if not ordering:
            raise ValueError("a keyset needs at least one ordering column")
        self.ordering = tuple(ordering)
        self.columns = tuple(item.lstrip("-") for item in self.ordering)
        self.descending = tuple(item.startswith("-") for item in self.ordering)

    # --- Cursors ---------------------------------------------------------------------------------------

    def cursor_for(self, row: Any, *, backwards: bool = False) -> str:
        """The cursor of the page after `row` (or before it, `backwards`)."""
        payload = {"k": [_jsonable(_value_of(row, column)) for column in self.columns], "b": int(backwards)}
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _decode(self, queryset: QuerySet[Any], cursor: str) -> tuple[list[Any], bool]:
        return self.decode(cursor, lambda column: self._field(queryset, column))

    def decode(
        self, cursor: str, field_of: Callable[[str], Field[Any, Any] | None]
    ) -> tuple[list[Any], bool]:
        """The typed sort key a cursor holds and its direction; `field_of(column)` converts each value
        (`to_python`). Raises InvalidCursor for anything malformed or out of range."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            payload = json.loads(raw)
            values, backwards = payload["k"], bool(payload["b"])
        except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
            raise InvalidCursor("malformed cursor")
        if not isinstance(values, list) or len(values) != len(self.columns):
            raise InvalidCursor("cursor does not match the ordering")
        typed = []
        for column, value in zip(self.columns, values, strict=True):
            if value is None or isinstance(value, dict | list):
                raise InvalidCursor("cursor value out of range")
            field = field_of(column)
            try:
                typed.append(field.to_python(value) if field is not None else value)
            except (ValidationError, TypeError, ValueError):
                raise InvalidCursor("cursor value out of range")
        return typed, backwards

    @staticmethod
    def _field(queryset: QuerySet[Any], column: str) -> Field[Any, Any] | None:
        annotation = queryset.query.annotations.get(column)
        if annotation is not None:
            output: Field[Any, Any] = annotation.output_field
            return output
        model: type[Model] = queryset.model
        field: Any = None
        for part in column.split("__"):
            try:
                field = model._meta.get_field(part)
            except FieldDoesNotExist:
                return None
            if field.is_relation and field.related_model is not None:
                model = field.related_model
        if field is not None and field.is_relation:
            field = field.target_field
        return field  # type: ignore[no-any-return]

    # --- Pages -----------------------------------------------------------------------------------------

    def _after(self, values: list[Any], *, flip: bool) -> Q:
        """Rows strictly after `values` in this ordering (`flip`: strictly before)."""
        condition = Q()
        equal: dict[str, Any] = {}
        for column, descending, value in zip(self.columns, self.descending, values, strict=True):
            lookup = "lt" if descending != flip else "gt"
            condition |= Q(**equal, **{f"{column}__{lookup}": value})
            equal[column] = value
        return condition

    def page(self, queryset: QuerySet[Any], *, size: int, cursor: str | None = None) -> KeysetPage:
        """`size` rows of `queryset` in this ordering, from `cursor` (None: the first page); one query of
        `size + 1` rows."""
        backwards = False
        if cursor:
            values, backwards = self._decode(queryset, cursor)
            queryset = queryset.filter(self._after(values, flip=backwards))
        ordering = self.reversed_ordering() if backwards else self.ordering
        rows = list(queryset.order_by(*ordering)[: size + 1])
        return self.finish(rows, size=size, cursor=cursor, backwards=backwards)

    def reversed_ordering(self) -> tuple[str, ...]:
        """The ordering read backwards (a `previous` page is read this way, then reversed)."""
        return tuple(
            column if descending else f"-{column}"
            for column, descending in zip(self.columns, self.descending, strict=True)
        )

    def finish(self, rows: list[Any], *, size: int, cursor: str | None, backwards: bool) -> KeysetPage:
        """The page from `size + 1` rows read in this ordering (reversed when `backwards`) after the cursor."""
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
            next_cursor = self.cursor_for(rows[-1]) if rows else None
            previous_cursor = self.cursor_for(rows[0], backwards=True) if rows and more else None
        else:
            next_cursor = self.cursor_for(rows[-1]) if rows and more else None
            previous_cursor = self.cursor_for(rows[0], backwards=True) if rows and cursor else None
        return KeysetPage(items=rows, next_cursor=next_cursor, previous_cursor=previous_cursor)
