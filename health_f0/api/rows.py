"""Plain-dict rows for the API's lists (issue 11): a list reads only the columns it answers with (`.values()`)
and turns each row into JSON-ready values here, instead of building a model instance and running a DRF
serializer field by field for each of 100 rows. The values are formatted by DRF's own fields, so the bytes
are the same as the serializers that document these shapes in the OpenAPI schema (tests compare both)."""

from __future__ import annotations

from datetime import date, datetime

from rest_framework import serializers

_DATETIME = serializers.DateTimeField()
_DATE = serializers.DateField()


def iso_datetime(value: datetime | None) -> str | None:
    """As serializers.DateTimeField answers: in the current time zone, ISO 8601, `Z` for UTC."""
    return None if value is None else _DATETIME.to_representation(value)


def iso_date(value: date | None) -> str | None:
    return None if value is None else _DATE.to_representation(value)
