"""Fast output for the API's lists (issue 11): a DRF serializer class compiled once into a plain function of
a row, with the same answer.

`Serializer(page, many=True).data` spends most of a 100-row page's CPU in DRF's per-field machinery: a
`_readable_fields` generator, `get_attribute` walking the source, `SkipField`/`PKOnlyObject` checks and a
`to_representation` call for every field of every row. `compiled(SerializerClass)` walks the class's fields
once and builds, per field, the cheapest exact reader: a plain attribute chain (`operator.attrgetter`), a
formatter picked by field type (str for text and UUIDs, DRF's own `to_representation` for dates, decimals,
choices and booleans), nested serializers compiled the same way, `SerializerMethodField`s called on one
serializer instance per page (so they keep their `context`). Anything unusual (a `*` source, a missing
intermediate object, a field type without a fast path) falls back to DRF's own call for that field, so the
answer stays the serializer's. The serializer class remains what the OpenAPI schema documents, and
tests/api/test_fast_rows.py compares both answers for every list's serializer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import partial
from operator import attrgetter
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Manager
from django.utils import timezone
from django.utils.translation import get_language
from rest_framework import ISO_8601, serializers
from rest_framework import fields as drf_fields
from rest_framework.fields import SkipField, is_simple_callable
from rest_framework.settings import api_settings

from health_f0.core.memo import Memo

Row = dict[str, Any]
_Reader = Callable[[Any, serializers.Serializer], Any]

_AS_STR = (serializers.CharField, serializers.EmailField, serializers.URLField)
_AS_INT = (serializers.IntegerField,)


def _formatter(field: drf_fields.Field) -> Callable[[Any], Any]:
    """The value -> JSON-ready value function of one (non-nested) field, exact for its type."""
    if type(field) in _AS_STR:
        return str
    if type(field) is serializers.UUIDField and field.uuid_format == "hex_verbose":
        return str
    if type(field) in _AS_INT:
        return int
    return field.to_representation


def _attribute_reader(field: drf_fields.Field) -> Callable[[Any], Any]:
    """instance -> the field's attribute, as Field.get_attribute finds it; DRF's own call when anything is
    unusual (a None on the way, a dict, a missing related object). A source that ends in a method
    (`get_status_display`) is called as DRF calls it; whether it may be called without arguments
    (DRF's is_simple_callable, an inspect.signature each time) is worked out once."""
    attrs = list(field.source_attrs)
    if not attrs or any(not name.isidentifier() for name in attrs):
        return field.get_attribute
    display = _DISPLAY.fullmatch(attrs[-1])
    if display is not None:
        return _display_reader(field, attrs[:-1], display.group(1))
    getter = attrgetter(".".join(attrs))
    simple: dict[type, bool] = {}

    def read(instance: Any) -> Any:
        if isinstance(instance, Mapping):
            return field.get_attribute(instance)
        try:
            value = getter(instance)
        except Exception:  # noqa: BLE001 - AttributeError, ObjectDoesNotExist...: DRF decides
            return field.get_attribute(instance)
        if callable(value):
            kind = type(value)
            if kind not in simple:
                simple[kind] = is_simple_callable(value)
            if simple[kind]:
                return value()
            return field.get_attribute(instance)
        return value

    return read


_DISPLAY = re.compile(r"get_(\w+)_display")
_LABELS: dict[tuple[Any, str, str | None], dict[Any, str]] = {}


def _display_reader(field: drf_fields.Field, path: list[str], name: str) -> Callable[[Any], Any]:
    """`get_FOO_display` without Model._get_FIELD_display's per-call work (it rebuilds the choices dict and
    hashes every choice on each call): the labels of a model field, in the active language, worked out once."""
    owner = attrgetter(".".join(path)) if path else None

    def read(instance: Any) -> Any:
        try:
            obj = owner(instance) if owner is not None else instance
            model_field = obj._meta.get_field(name)
        except Exception:  # noqa: BLE001 - not a model, no such field, a None on the way: DRF decides
            return field.get_attribute(instance)
        key = (model_field, name, get_language())
        labels = _LABELS.get(key)
        if labels is None:
            labels = _LABELS[key] = {value: str(label) for value, label in model_field.flatchoices}
        value = getattr(obj, model_field.attname)
        try:
            return labels[value]
        except (KeyError, TypeError):  # not a choice (or unhashable): Django shows the value itself
            return getattr(obj, f"get_{name}_display")()

    return read


def _field_reader(name: str, field: drf_fields.Field) -> _Reader:
    if isinstance(field, serializers.SerializerMethodField):
        method_name = field.method_name

        def call_method(instance: Any, serializer: serializers.Serializer) -> Any:
            return getattr(serializer, method_name)(instance)

        return call_method

    read = _attribute_reader(field)

    if isinstance(field, serializers.ListSerializer):
        child_class: Any = type(field.child)
        child = _compile_serializer(child_class)

        def many(instance: Any, serializer: serializers.Serializer) -> Any:
            value = read(instance)
            if value is None:
                return None
            items = value.all() if isinstance(value, Manager) else value
            inner = _nested(serializer, name, child_class)
            return [child(item, inner) for item in items]

        return many

    if isinstance(field, serializers.Serializer):
        nested_class: Any = type(field)
        nested = _compile_serializer(nested_class)

        def one(instance: Any, serializer: serializers.Serializer) -> Any:
            value = read(instance)
            return None if value is None else nested(value, _nested(serializer, name, nested_class))

        return one

    formatter = _formatter(field)

    def plain(instance: Any, serializer: serializers.Serializer) -> Any:
        value = read(instance)
        return None if value is None else formatter(value)

    return plain


def _nested(parent: serializers.Serializer, name: str, cls: type[serializers.Serializer]) -> Any:
    """The nested serializer instance of `parent`'s field `name` (one per page, sharing the context), on which
    its SerializerMethodFields are called."""
    children = parent.__dict__.setdefault("_fast_children", {})
    if name not in children:
        children[name] = cls(context=parent.context)
    return children[name]


_COMPILED: dict[type[serializers.Serializer], Callable[[Any, serializers.Serializer], Row]] = {}


def _compile_serializer(cls: type[serializers.Serializer]) -> Callable[[Any, serializers.Serializer], Row]:
    if cls in _COMPILED:
        return _COMPILED[cls]
    readers = [
        (name, _field_reader(name, field)) for name, field in cls().fields.items() if not field.write_only
    ]

    def to_row(instance: Any, serializer: serializers.Serializer) -> Row:
        row: Row = {}
        for name, reader in readers:
            try:
                row[name] = reader(instance, serializer)
            except SkipField:
                continue
        return row

    _COMPILED[cls] = to_row
    return to_row


def compiled(
    cls: type[serializers.Serializer], context: dict[str, Any] | None = None
) -> Callable[[Iterable[Any]], list[Row]]:
    """`lambda page: cls(page, many=True, context=context).data`, only faster (same answer)."""
    to_row = _compile_serializer(cls)

    def rows(page: Iterable[Any]) -> list[Row]:
        serializer = cls(context=context or {})
        return [to_row(instance, serializer) for instance in page]

    return rows


# --- `.values()` rows (issue 11, the staff lists): helpers for lists that read only the columns they answer
# with and build the JSON-ready row from a dict, with no model instance. Each list's row builder is tested
# against its serializer over model instances (tests/api/test_fast_rows.py).


def choice_labels(model: Any, name: str) -> dict[Any, str]:
    """{value: label} of a model field's choices in the active language: what `get_<name>_display` shows.
    Built once per field and language (shared with the `get_FOO_display` reader above)."""
    field = model._meta.get_field(name)
    key = (field, name, get_language())
    labels = _LABELS.get(key)
    if labels is None:
        labels = _LABELS[key] = {value: str(label) for value, label in field.flatchoices}
    return labels


def display(labels: dict[Any, str], value: Any) -> Any:
    """`get_FOO_display()` as a serializer's CharField answers it: the label, else the value itself as text
    (None stays None)."""
    if value is None:
        return None
    label = labels.get(value)
    return label if label is not None else str(value)


_TEXT_ONLY = frozenset({str})


def text_list(values: Iterable[Any] | None) -> list[Any] | None:
    """ListField(child=CharField()) of a JSON list. A list of plain texts (what a JSON column of texts decodes
    to) is its own answer and is returned as it is, not copied."""
    if values is None:
        return None
    if type(values) is list and _TEXT_ONLY.issuperset(map(type, values)):
        return values
    return [None if value is None else str(value) for value in values]


def text_dict(values: Mapping[Any, Any] | None) -> dict[str, Any] | None:
    """DictField() (unvalidated values) of a JSON object. A dict whose keys are all plain texts (every JSON object
    decodes to one) is its own answer and is returned as it is, not copied: copying 100 declarations' answers
    was ~0.3 ms of a staff alerts page (issue 11)."""
    if values is None:
        return None
    if type(values) is dict and _TEXT_ONLY.issuperset(map(type, values)):
        return values
    return {str(key): value for key, value in values.items()}


def uuid_text(value: Any) -> str | None:
    """`str(uuid)` of a public id read as text (core.sqllist lists declare public ids as text columns): MariaDB's
    native uuid type answers the canonical lowercase text already, so no UUID is built for it; 32-hex text
    (SQLite, char(32) columns) and UUID objects (`.values()` rows) are formatted as str(UUID) formats them.
    Building 300 UUIDs and their text was ~0.4 ms of a 100-row staff page's CPU (issue 11)."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 36:
        return value
    return str(value if isinstance(value, UUID) else UUID(value))


def facility_refs(ids: Iterable[int | None]) -> dict[int, Row]:
    """{facility id: {"id", "code", "name"}} for the facilities of a page (one query by primary key): the
    `{id: public_id, code, name}` reference the staff lists answer with. Fetched apart rather than joined:
    joined, the small facilities table lets MariaDB start from it and sort the whole scope (see the
    selectors' notes)."""
    from health_f0.facilities.models import Facility

    wanted = {pk for pk in ids if pk is not None}
    if not wanted:
        return {}
    return {
        pk: {"id": str(public_id), "code": str(code), "name": str(name)}
        for pk, public_id, code, name in Facility.objects.filter(pk__in=wanted).values_list(
            "id", "public_id", "code", "name"
        )
    }


def datetimes() -> Callable[[Any], Any]:
    """`api.rows.iso_datetime` (serializers.DateTimeField's answer) for one page: the current time zone is
    read once, not for each value (DRF asks asgiref's Local for it on every call: a third of a 100-row page's
    row-building CPU). Aware datetimes are formatted here exactly as DRF does. The text of a datetime in UTC
    (what the database's rows hold: Django's converters and core.sqllist give `datetime.UTC` itself) is kept in
    a bounded memo of that time zone (_iso_texts): `astimezone` and `isoformat` cost ~2 µs a value, 260 values
    of a booking desk page, and such a value's text depends only on its instant, which is what `==` and `hash`
    compare between UTC datetimes (a zone with folds is left out: within one tzinfo, Python compares wall
    times, so two instants of a repeated hour would be one key). Anything else (a naive value, another
    tzinfo, a string, a subclass, a non-ISO DATETIME_FORMAT) is formatted each time, unkept."""
    from health_f0.api.rows import iso_datetime

    output_format = api_settings.DATETIME_FORMAT
    if not settings.USE_TZ or not isinstance(output_format, str) or output_format.lower() != ISO_8601:
        return iso_datetime
    zone = timezone.get_current_timezone()
    texts = _iso_texts.get(zone)
    if texts is None:
        texts = _iso_texts.keep(zone, Memo(_ISO_TEXTS_KEPT))
    known = texts.get

    def iso(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is UTC:
            text = known(value)
            if text is not None:
                return text
        if value is None:
            return None
        if not isinstance(value, datetime) or value.utcoffset() is None:
            return iso_datetime(value)
        try:
            text = value.astimezone(zone).isoformat()
        except OverflowError:
            return iso_datetime(value)
        text = text[:-6] + "Z" if text.endswith("+00:00") else text
        if type(value) is datetime and value.tzinfo is UTC:
            texts.keep(value, text)
        return text

    return iso


def datetime_texts() -> Callable[[Sequence[Any]], list[Any]]:
    """`datetimes()` for one page's columns: values -> [iso(value) for value in values]. A column of UTC
    datetimes (`datetime` itself, tzinfo `UTC` itself; None allowed) is first looked up in iso's memo by one C
    map of its `get`, so the texts it holds cost no Python call each (the booking desk's page: ~400 created,
    confirmed, checked-in and slot times, 270 calls); a value it does not hold, and any other column (another
    type or zone), goes through iso itself, which formats (and keeps) it as before."""
    from health_f0.api.rows import iso_datetime

    iso = datetimes()
    # iso's memo (the one datetimes() has just found or made for the current time zone)
    texts = None if iso is iso_datetime else _iso_texts.get(timezone.get_current_timezone())
    if texts is None:
        return partial(_each, iso)
    known = texts.get

    def column(values: Sequence[Any]) -> list[Any]:
        if not _UTC_OR_NONE.issuperset(map(type, values)) or not _UTC.issuperset(
            map(_tzinfo, filter(None, values))
        ):
            return list(map(iso, values))
        found = list(map(known, values))
        if None not in found:
            return found
        return [
            iso(value) if text is None and value is not None else text
            for text, value in zip(found, values, strict=True)
        ]

    return column


def _each(formatter: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    return list(map(formatter, values))


_UTC_OR_NONE: frozenset[type] = frozenset({datetime, type(None)})
_UTC: frozenset[Any] = frozenset({UTC})
_tzinfo = attrgetter("tzinfo")


# {time zone: {aware datetime: its DateTimeField text in that zone}}: pure functions of the key (an instant and
# a zone), so no one's data under another's key.
_ISO_TEXTS_KEPT = 4096
_iso_texts: Memo[Any, Memo[datetime, str]] = Memo(16)


def dates() -> Callable[[Any], Any]:
    """`api.rows.iso_date` (serializers.DateField's answer) for one page: a plain `date` is its `isoformat()`
    when DRF's DATE_FORMAT is ISO 8601, as DateField.to_representation writes it, without its per-call checks;
    anything else (None, a string, a datetime, another format) goes to DRF's own field."""
    from health_f0.api.rows import iso_date

    output_format = api_settings.DATE_FORMAT
    if not isinstance(output_format, str) or output_format.lower() != ISO_8601:
        return iso_date

    def iso(value: Any) -> Any:
        if type(value) is date:
            return value.isoformat()
        return iso_date(value)

    return iso


def date_texts() -> Callable[[Sequence[Any]], list[Any]]:
    """`dates()` for one page's columns: values -> [iso(value) for value in values], a column of plain dates by
    one C map of `date.isoformat` (what iso answers for each under an ISO DATE_FORMAT), anything else value by
    value."""
    from health_f0.api.rows import iso_date

    iso = dates()
    if iso is iso_date:  # another DATE_FORMAT: DRF's own field for each
        return partial(_each, iso)

    def column(values: Sequence[Any]) -> list[Any]:
        if _DATE_ONLY.issuperset(map(type, values)):
            return list(map(date.isoformat, values))
        return list(map(iso, values))

    return column


_DATE_ONLY: frozenset[type] = frozenset({date})


def texts_of(values: Iterable[Any], formatter: Callable[[Any], Any]) -> dict[Any, Any]:
    """{value: formatter(value)} for each distinct value of a page's column: a column whose values repeat (the
    slot times of a day's bookings) is formatted once per value. For a formatter whose answer depends only on
    what `==` compares (an aware datetime's instant, a date)."""
    return {value: formatter(value) for value in set(values)}
