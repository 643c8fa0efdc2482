"""A list read by constant SQL, paged like a queryset (issue 11).

Building and compiling an ORM query costs 0.3–1 ms of CPU, more than MariaDB takes to answer a patient's
100-row page; for the hot lists that is most of a request. `SqlList` is such a list written once as SQL —
its columns, FROM clause and scope condition, in the owning app's `sql/` module — that the API's
`paginate()` pages as it pages a queryset: v1 through DRF's LimitOffsetPagination (`count()` and slicing,
in the list's ordering), v2 through `core.keyset.Keyset` (`keyset_page`, the same cursors as the ORM path).

    EPISODES = SqlColumns({"id": Col("e.id", Episode._meta.pk), ...})      # once, at import
    rows = EPISODES.rows("monitoring_episode e", "e.patient_id = %s", [patient_id], model=Episode)
    paginate(request, view, rows, ordering=("-start_date", "-id"), serialize=...)

Rows come back as dicts keyed by the column names, each value converted as the ORM converts its field
(aware datetimes, booleans, UUIDs, decimals; `core.rawsql`'s converters, worked out once per column set).
The statements are built from constant pieces: a parameter is always bound (`%s`), never formatted in.
Every list written this way keeps a test that compares its rows with the ORM query it replaces (the scope
rule stays `facilities/access.py`'s; the SQL module only writes it out).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import repeat
from operator import itemgetter
from typing import Any, Self

from django.conf import settings
from django.db import connections, router
from django.db.backends.mysql.operations import DatabaseOperations as MySQLOperations
from django.db.models import CharField, Field, JSONField, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from health_f0.core.keyset import Keyset, KeysetPage


@dataclass(frozen=True)
class Col:
    """One output column: its SQL expression (qualified, e.g. "e.start_date") and the model field whose
    converters turn the database value into Python and whose `to_python` types a cursor's value."""

    sql: str
    field: Field[Any, Any]


def declared_index(model: type[Model], *fields: str, name: str | None = None) -> str:
    """The name of `model`'s Meta.indexes entry on exactly `fields` (or named `name`), for a statement that names
    it to MariaDB (USE INDEX / FORCE INDEX): an index changed or dropped fails here, at import, not in a plan."""
    return next(
        index.name
        for index in model._meta.indexes
        if (index.name == name if name is not None else tuple(index.fields) == fields)
    )


# A scope of this many facility ids or more is read in the list's order index with the facility appended, named
# with FORCE INDEX (ScopedFrom). Measured on the 100k data set (issue 11, tenth round; MariaDB's CPU of the
# statement, 300-1,000 runs over one connection, first and next 100-row pages): from two facilities on, the forced
# index (each entry's facility tested in the index, no row read for another facility's) was cheaper than the
# optimizer's own plan for every scope tried but one, two to 77 facilities, largest and smallest: booking desk
# requested, two clinics 2.11-2.28 -> 1.25-1.40 ms, the TTYT 1.66-1.94 -> 1.31-1.38 ms; confirmed, two small
# clinics 4.53-5.79 -> 1.39-1.59 ms; alerts, two stations 1.24-1.59 -> 0.80-0.94 ms, the TTYT 1.18-1.48 ->
# 0.85-0.92 ms. The loss: two small stations with 73 open alerts between them, 0.65 -> 0.85 ms (the forced index
# walks the province's 3,346 open alerts). For one facility its own (facility, ...) index reads only its rows
# and the forced one walks every facility's entries until the page is full: the largest clinic's requests 1.23
# -> 1.30 ms, a facility with none 0.30 -> 0.80 ms (confirmed: 0.23 -> 1.97), the largest station's alerts 0.73
# -> 0.80 ms. So one facility keeps the optimizer's choice, two or more are forced.
MANY_FACILITIES = 2


@dataclass(frozen=True)
class ScopedFrom:
    """A list's FROM clauses by the size of its facility scope, for a list whose best index depends on it (issue 11,
    tenth round): `few` (the optimizer chooses among the indexes it names) below `many_from` facility ids, `many`
    (an index named with FORCE INDEX) from there on and for a scope of every facility (a superuser, `None`),
    `plain` on other databases. v1's COUNT(*) reads `few` whatever the scope: forced, it walks every facility's
    entries where the (facility, ...) index reads the scope's ranges (the TTYT's requested bookings 3.2 -> 3.7 ms,
    its confirmed ones 9.4 -> 10.7 ms). The hint only says which index to read; the rows and their order are the
    statement's whatever it says."""

    plain: str
    few: str
    many: str
    many_from: int = MANY_FACILITIES
    # A condition every row meets, for the pages' statements under `many` (SqlList's page_where): a range on the
    # forced index's first column where the list has none, so that MariaDB reads the index as a range and tests
    # each entry's facility in the index (index condition pushdown) instead of reading every row it walks.
    many_where: str = ""

    def choose(self, connection: Any, facilities: int | None) -> tuple[str, str]:
        """(the page's FROM, the count's FROM) on `connection` for a scope of `facilities` facility ids."""
        from_, count_from, _where = self.choose_page(connection, facilities)
        return from_, count_from

    def choose_page(self, connection: Any, facilities: int | None) -> tuple[str, str, str]:
        """(the page's FROM, the count's FROM, the pages' extra condition: `many_where` under `many`)."""
        if connection.vendor != "mysql":
            return self.plain, self.plain, ""
        if facilities is None or facilities >= self.many_from:
            return self.many, self.few, self.many_where
        return self.few, self.few, ""


def columns_of(alias: str, model: type[Model], names: Sequence[str], *, prefix: str = "") -> dict[str, Col]:
    """The columns `names` (field names or attnames, e.g. "visit_id") of `model` under the table alias `alias`,
    each keyed `prefix + name`: `columns_of("p", Patient, ("public_id",), prefix="patient__")` is the
    `patient__public_id` of `.values()`."""
    columns = {}
    for name in names:
        field = model._meta.get_field(name)
        if not isinstance(field, Field):
            raise TypeError(f"{model.__name__}.{name} is not a concrete field")
        columns[f"{prefix}{name}"] = Col(f"{alias}.{field.column}", field)
    return columns


def text_column(alias: str, model: type[Model], name: str) -> Col:
    """A column read as the database's text, without its field's converters: a public id stays MariaDB's
    canonical uuid text instead of becoming a `uuid.UUID` to be turned back into text (api.fast.uuid_text
    formats it as str(UUID) would)."""
    field: CharField[Any, Any] = CharField()
    field.set_attributes_from_name(name)
    field.model = model
    return Col(f"{alias}.{model._meta.get_field(name).column}", field)  # type: ignore[union-attr]


def stored_column(alias: str, model: type[Model], name: str) -> Col:
    """A stored generated column (GeneratedField) typed as its output field: the GeneratedField itself neither
    parses a cursor's value (`to_python`) nor prepares it for the database, so a forged cursor would reach
    MariaDB as text."""
    generated: Any = model._meta.get_field(name)
    field: Field[Any, Any] = generated.output_field.clone()
    field.set_attributes_from_name(name)
    field.model = model
    return Col(f"{alias}.{generated.column}", field)


# A column's converter: (the column's values from the cursor, connection) -> the converted values.
_ColumnConverter = Callable[[Sequence[Any], Any], list[Any]]
_Converters = list[tuple[int, _ColumnConverter]]


# The C scanner behind json.loads (a decoder with json.loads' defaults; the attribute is set in its __init__,
# which the stubs do not declare).
_scan_json: Any = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009


class ScannedJSONField(JSONField):  # type: ignore[type-arg]
    """A JSONField whose stored text is decoded by the C scanner alone: `json.loads` walks four Python calls
    (loads, decode, raw_decode and a whitespace match on each side) to reach it (issue 11). The same object as
    JSONField.from_db_value gives: text that is one JSON value and nothing else (what Django writes) is the
    scanner's answer; anything else (leading or trailing whitespace, not JSON, not text) takes JSONField's own
    path. A list's column of it is decoded a column at a time (`_json_values`)."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if type(value) is str:
            try:
                decoded, end = _scan_json(value, 0)
            except (StopIteration, ValueError):  # no value at the start; or a broken one (JSONDecodeError)
                pass
            else:
                if end == len(value):
                    return decoded
        return super().from_db_value(value, expression, connection)


def json_column(alias: str, model: type[Model], name: str) -> Col:
    """A JSON column decoded as its JSONField decodes it (a `ScannedJSONField`; a field with a decoder of its own
    keeps it)."""
    original: Any = model._meta.get_field(name)
    if original.decoder is not None:
        return Col(f"{alias}.{original.column}", original)
    field = ScannedJSONField()
    field.set_attributes_from_name(name)
    field.model = model
    return Col(f"{alias}.{original.column}", field)


def _json_values(step: Callable[..., Any], expression: Any) -> _ColumnConverter:
    """A ScannedJSONField's column decoded by C loops (the scanner mapped over the column, each value's end
    checked against its length at once): no Python call per value, where `step` (its from_db_value) took three.
    A column with anything else in it (NULL, text that is not one JSON value and nothing else: the scanner stops,
    fails or ends short) is decoded value by value by `step`, as the ORM decodes it."""

    def values_of(values: Sequence[Any], connection: Any) -> list[Any]:
        try:
            scanned = list(map(_scan_json, values, repeat(0)))
        except (ValueError, TypeError):
            scanned = []
        # A StopIteration (no JSON value at a text's start) ends the map early: the lengths differ.
        if len(scanned) == len(values) and list(map(len, values)) == list(map(_second, scanned)):
            return list(map(_first, scanned))
        return [step(value, expression, connection) for value in values]

    return values_of


_first, _second = itemgetter(0), itemgetter(1)


def _column_converter(steps: list[Callable[..., Any]], expression: Any) -> _ColumnConverter:
    """One column's values converted as the ORM converts them (`steps`: the backend's converters, then the
    field's), as one pass over the column. MariaDB/MySQL's boolean converter has an exact fast path, with no
    Python call per value (issue 11): an integer 0 or 1 is False or True (what `bool(value)` gives); any other
    value takes the converter itself. Other converters (a field's `from_db_value`, another backend's) are called
    as the ORM calls them, on every value."""
    if len(steps) == 1:
        step = steps[0]
        if getattr(step, "__func__", None) is ScannedJSONField.from_db_value:
            return _json_values(step, expression)
        if getattr(step, "__func__", None) is _MYSQL_BOOLEAN:

            def booleans(values: Sequence[Any], connection: Any) -> list[Any]:
                return [
                    _BOOLEANS[value]
                    if type(value) is int and value in _BOOLEANS
                    else step(value, expression, connection)
                    for value in values
                ]

            return booleans

        def one(values: Sequence[Any], connection: Any) -> list[Any]:
            return [step(value, expression, connection) for value in values]

        return one

    def each(values: Sequence[Any], connection: Any) -> list[Any]:
        converted = []
        for value in values:
            for step in steps:
                value = step(value, expression, connection)
            converted.append(value)
        return converted

    return each


_BOOLEANS = {0: False, 1: True}
# The MariaDB/MySQL backend's converters (its operations module imports no driver).
_MYSQL_DATETIME: Any = MySQLOperations.convert_datetimefield_value
_MYSQL_BOOLEAN: Any = MySQLOperations.convert_booleanfield_value
_UTC_SUFFIX = "+00:00"


def _as_text(
    col: Col, steps: list[Callable[..., Any]], expression: Any, connection: Any
) -> tuple[str, _ColumnConverter] | None:
    """A DATETIME or DATE column read on MariaDB/MySQL as the server's text and parsed by the C
    `fromisoformat`, or None where this does not apply (issue 11). The driver parses a DATETIME value in Python
    (MySQLdb.times.DateTime_or_None, about 2 µs) and Django then makes it aware (`make_aware`, about 1 µs more);
    a DATE the same way (Date_or_None). Read as text instead — `CONCAT(col, '+00:00')` for a DATETIME when the
    connection's time zone is UTC, `CAST(col AS CHAR)` for a DATE — `fromisoformat` gives the same aware
    datetime (its tzinfo is the connection's UTC itself) or date in a tenth of that. A value it cannot parse
    (a zero date, what else the server may write) goes down the driver's and Django's own path, so the values
    are the ORM's whatever the text. NULL stays NULL."""
    if connection.vendor != "mysql":
        return None
    from MySQLdb.constants import FIELD_TYPE

    # The driver's own parsers of the connection (Django's `conv`, or the one OPTIONS give).
    driver = connection.get_connection_params()["conv"]
    kind = col.field.get_internal_type()
    if kind == "DateTimeField":
        if (
            len(steps) != 1
            or getattr(steps[0], "__func__", None) is not _MYSQL_DATETIME
            or datetime.fromisoformat("2000-01-01 00:00:00" + _UTC_SUFFIX).tzinfo is not connection.timezone
        ):
            return None
        step = steps[0]
        parse = datetime.fromisoformat
        driver_datetime = driver[FIELD_TYPE.DATETIME]

        def aware(text: str | None) -> Any:
            """The driver's value of `text` (what it would have parsed), then Django's converter."""
            if text is None:
                return None
            if isinstance(text, bytes):
                text = text.decode()
            value = driver_datetime(text[: -len(_UTC_SUFFIX)] if text.endswith(_UTC_SUFFIX) else text)
            return step(value, expression, connection)

        def datetimes(values: Sequence[Any], connection: Any) -> list[Any]:
            try:
                if None not in values:  # one C loop (map), no Python step per value
                    return list(map(parse, values))
                return [None if value is None else parse(value) for value in values]
            except (ValueError, TypeError):
                return [aware(value) for value in values]

        return f"CONCAT({col.sql}, '{_UTC_SUFFIX}')", datetimes
    if kind == "DateField" and not steps:
        parse_date = date.fromisoformat
        driver_date = driver[FIELD_TYPE.DATE]

        def as_driver(text: Any) -> Any:
            if text is None:
                return None
            return driver_date(text.decode() if isinstance(text, bytes) else text)

        def dates(values: Sequence[Any], connection: Any) -> list[Any]:
            try:
                if None not in values:
                    return list(map(parse_date, values))
                return [None if value is None else parse_date(value) for value in values]
            except (ValueError, TypeError):
                return [as_driver(value) for value in values]

        return f"CAST({col.sql} AS CHAR)", dates
    return None


class SqlColumns:
    """The SELECT list of a family of statements (one per list), built once at import; its form for a connection
    (`statement`: some columns read as text, core: _as_text) and the converters of its values, once per
    connection and time zone."""

    def __init__(self, columns: Mapping[str, Col]) -> None:
        self.columns = dict(columns)
        self.names = tuple(self.columns)
        # The plain SELECT list (every column as it is stored).
        self.select = ", ".join(f"{col.sql} AS {name}" for name, col in self.columns.items())
        self._statements: dict[tuple[Any, ...], tuple[str, _Converters]] = {}
        self.row_type = _row_type(self.names)

    def rows(
        self,
        from_: str,
        where: str,
        params: Sequence[Any],
        *,
        model: type[Model],
        ordering: Sequence[str] = (),
        count_from: str | None = None,
        page_where: str = "",
        tuples: bool = False,
    ) -> SqlList:
        return SqlList(
            self,
            from_,
            where,
            list(params),
            model=model,
            ordering=tuple(ordering),
            count_from=count_from,
            page_where=page_where,
            tuples=tuples,
        )

    def statement(self, connection: Any) -> tuple[str, _Converters]:
        """The SELECT list read on `connection` and (position, converter) of each column it converts: the
        ORM's converters, or the text path of a DATETIME or DATE column on MariaDB (_as_text)."""
        key = (connection.alias, settings.USE_TZ, connection.timezone)
        found = self._statements.get(key)
        if found is None:
            parts: list[str] = []
            plan: _Converters = []
            for index, (name, col) in enumerate(self.columns.items()):
                expression = col.field.get_col(col.field.model._meta.db_table)
                steps = connection.ops.get_db_converters(expression) + expression.get_db_converters(
                    connection
                )
                text = _as_text(col, steps, expression, connection)
                if text is not None:
                    parts.append(f"{text[0]} AS {name}")
                    plan.append((index, text[1]))
                    continue
                parts.append(f"{col.sql} AS {name}")
                if steps:
                    plan.append((index, _column_converter(steps, expression)))
            found = self._statements[key] = (", ".join(parts), plan)
        return found


def _row_type(names: tuple[str, ...]) -> type[tuple[Any, ...]]:
    """A tuple of a list's columns in their order whose attribute `name` is that column's value (a C getter, for
    core.keyset's cursors; a name that is a tuple's own attribute, such as `count`, gets none)."""
    namespace: dict[str, Any] = {"__slots__": ()}
    for index, name in enumerate(names):
        if not hasattr(tuple, name):
            namespace[name] = property(itemgetter(index))
    return type("SqlRow", (tuple,), namespace)


class SqlList:
    """The rows of `SELECT <columns> FROM <from_> WHERE <where>` in `ordering` (column names, `-` for
    descending; NOT NULL, the last one unique), as dicts, or (`tuples`) as tuples of the columns in their
    order, each column's value also its attribute (`SqlColumns.row_type`): a row builder that reads a page a
    column at a time (`zip(*rows)`) takes them without a dict built and read for each row (issue 11). Quacks
    like the querysets `paginate()` takes."""

    def __init__(
        self,
        columns: SqlColumns,
        from_: str,
        where: str,
        params: list[Any],
        *,
        model: type[Model],
        ordering: tuple[str, ...] = (),
        count_from: str | None = None,
        page_where: str = "",
        tuples: bool = False,
    ) -> None:
        self.columns, self.from_, self.where, self.params = columns, from_, where, params
        self.tuples = tuples
        # v1's COUNT(*) reads `count_from` where it is given (a FROM whose index hint suits the ordered page only:
        # ScopedFrom), else `from_`.
        self.count_from = count_from or from_
        # A condition without parameters that every row meets, written into the pages' statements only (not the
        # count's): one that lets MariaDB read `from_`'s forced index as a range, with index condition pushdown
        # (ScopedFrom.many_where).
        self.page_where = page_where
        self.model, self.ordering = model, ordering
        self.connection = connections[router.db_for_read(model)]

    def _with(self, **changes: Any) -> Self:
        """This list (of its own class: a subclass keeps its statement's changes) with `changes` made."""
        other = copy.copy(self)
        other.__dict__.update(changes)
        return other

    def order_by(self, *ordering: str) -> Self:
        return self._with(ordering=tuple(ordering))

    def as_tuples(self) -> Self:
        """This list with its rows as tuples (`SqlColumns.row_type`) instead of dicts."""
        return self._with(tuples=True)

    # --- Reading ---------------------------------------------------------------------------------------

    def _order_sql(self, ordering: Sequence[str]) -> str:
        parts = []
        for item in ordering:
            name = item.lstrip("-")
            parts.append(f"{self.columns.columns[name].sql} {'DESC' if item.startswith('-') else 'ASC'}")
        return ", ".join(parts)

    def fetch(
        self,
        *,
        where: str = "",
        params: Sequence[Any] = (),
        ordering: Sequence[str],
        limit: int,
        offset: int = 0,
    ) -> list[Any]:
        return self.run(
            *self.statement(where=where, params=params, ordering=ordering, limit=limit, offset=offset)
        )

    def statement(
        self,
        *,
        where: str = "",
        params: Sequence[Any] = (),
        ordering: Sequence[str],
        limit: int,
        offset: int = 0,
    ) -> tuple[str, list[Any]]:
        """The statement `fetch` runs, with its parameters (for a caller that runs it with another one of the
        same columns, as one statement: `run`)."""
        condition = f"({self.where}) AND ({where})" if where else self.where
        if self.page_where:
            condition = f"{self.page_where} AND ({condition})"
        select, _plan = self.columns.statement(self.connection)
        sql = (
            f"SELECT {select} FROM {self.from_} WHERE {condition} "  # noqa: S608
            f"ORDER BY {self._order_sql(ordering)} LIMIT %s OFFSET %s"
        )
        return sql, [*self.params, *params, limit, offset]

    def run(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of `sql`, a statement whose SELECT list is this list's on its connection (`statement`), as
        dicts (or tuples: `tuples`) with each column converted as `fetch` converts it."""
        connection = self.connection
        _select, plan = self.columns.statement(connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if not rows:
            return []
        names = self.columns.names
        if plan:
            # Column by column: each converted column is one pass (core: _column_converter), then the rows.
            columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
            for index, convert in plan:
                columns[index] = convert(columns[index], connection)
            rows = zip(*columns, strict=True)
        if self.tuples:
            return list(map(self.columns.row_type, rows))
        return [dict(zip(names, row, strict=True)) for row in rows]

    def count(self) -> int:
        sql = f"SELECT COUNT(*) FROM {self.count_from} WHERE {self.where}"  # noqa: S608
        with self.connection.cursor() as cursor:
            cursor.execute(sql, self.params)
            (total,) = cursor.fetchone()
        return int(total)

    def __getitem__(self, window: slice) -> list[Any]:
        """Rows [start:stop] in the list's ordering (v1's limit/offset page)."""
        if not isinstance(window, slice) or window.step is not None or not self.ordering:
            raise TypeError("SqlList pages by slices, once ordered")
        start, stop = window.start or 0, window.stop
        if stop is None or stop <= start:
            return []
        return self.fetch(ordering=self.ordering, limit=stop - start, offset=start)

    def keyset_page(self, keyset: Keyset, *, size: int, cursor: str | None) -> KeysetPage:
        """`Keyset.page` for this list: the same cursors, one statement of `size + 1` rows."""
        if self.tuples and not all(
            isinstance(getattr(self.columns.row_type, name, None), property) for name in keyset.columns
        ):
            raise TypeError("a keyset of tuple rows reads its columns as the rows' attributes")
        backwards = False
        where, params = "", list[Any]()
        if cursor:
            values, backwards = keyset.decode(cursor, lambda name: self.columns.columns[name].field)
            where, params = self._after(keyset, values, flip=backwards)
        ordering = keyset.reversed_ordering() if backwards else keyset.ordering
        rows = self.fetch(where=where, params=params, ordering=ordering, limit=size + 1)
        return keyset.finish(rows, size=size, cursor=cursor, backwards=backwards)

    def _after(self, keyset: Keyset, values: list[Any], *, flip: bool) -> tuple[str, list[Any]]:
        """Rows strictly after `values` in the keyset's ordering (`flip`: before), as Keyset._after writes
        it: (a < x) OR (a = x AND b < y) OR ..., each value prepared as its field prepares it."""
        connection = self.connection
        alternatives: list[str] = []
        params: list[Any] = []
        equal: list[tuple[str, Any]] = []
        for name, descending, value in zip(keyset.columns, keyset.descending, values, strict=True):
            col = self.columns.columns[name]
            prepared = col.field.get_db_prep_value(value, connection)
            operator = "<" if descending != flip else ">"
            terms = [f"{sql} = %s" for sql, _ in equal] + [f"{col.sql} {operator} %s"]
            alternatives.append("(" + " AND ".join(terms) + ")")
            params.extend(v for _, v in equal)
            params.append(prepared)
            equal.append((col.sql, prepared))
        return " OR ".join(alternatives), params


# --- Instances from rows ------------------------------------------------------------------------------------
# What reads a row as a model (the workflow's guards, a property such as Doctor.display_name) gets a bare
# instance holding the row's columns; anything else it reads is loaded on access, so a new guard stays right,
# only slower.


def bare_instance(model: Any, values: dict[str, Any]) -> Any:
    """A `model` instance holding only `values` (by attname; the rest loaded on access), as `from_db` builds one
    but without walking every field of the model (a fifth of a page's CPU for 200 instances); `from_db`
    itself when the model has init signal receivers."""
    if model not in _PLAIN_INIT:
        _PLAIN_INIT[model] = not (pre_init.has_listeners(model) or post_init.has_listeners(model))
    if not _PLAIN_INIT[model]:
        names = tuple(f.attname for f in model._meta.concrete_fields if f.attname in values)
        return model.from_db(None, names, [values[name] for name in names])
    obj = model.__new__(model)
    obj.__dict__.update(values)
    state = obj._state = ModelState()
    state.adding = False
    state.db = None
    return obj


# Models without init signal receivers (checked once: receivers are connected when the apps load).
_PLAIN_INIT: dict[Any, bool] = {}


def bare_instances(model: Any, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[Any]:
    """`bare_instance(model, {name: row[name] for name in columns})` for each row, the same instances built in
    one loop (a page's 100 bookings for the workflow's guards: no per-row dict, call and signal check)."""
    if model not in _PLAIN_INIT:
        _PLAIN_INIT[model] = not (pre_init.has_listeners(model) or post_init.has_listeners(model))
    if not _PLAIN_INIT[model] or not columns:
        return [bare_instance(model, {name: row[name] for name in columns}) for row in rows]
    new = model.__new__
    pick = itemgetter(*columns)
    single = len(columns) == 1
    instances = []
    for row in rows:
        obj = new(model)
        values = pick(row)
        obj.__dict__.update(zip(columns, (values,) if single else values, strict=True))
        state = obj._state = ModelState()
        state.adding = False
        state.db = None
        instances.append(obj)
    return instances


def related_instances(model: Any, rows: list[dict[str, Any]], key: str, prefix: str) -> dict[int, Any]:
    """The page's `model` instances by id, from the rows' `prefix`ed columns (one instance per id)."""
    if not rows:
        return {}
    names = [name[len(prefix) :] for name in rows[0] if name.startswith(prefix)]
    found: dict[int, Any] = {}
    for row in rows:
        pk = row[key]
        if pk is not None and pk not in found:
            found[pk] = bare_instance(model, {"id": pk, **{name: row[prefix + name] for name in names}})
    return found
