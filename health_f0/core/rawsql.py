"""Model instances from constant SQL, for the few hot paths that cannot afford the ORM's per-call work.

`fetch_models(Model, sql, params)` returns what `list(Model.objects.raw(sql, params))` returns — instances
built by `Model.from_db` with every value converted by the backend's and the field's converters, columns
that are not fields set as plain attributes — but works out the column → field → converters plan once
per (model, database, column list) instead of on every call. `raw()` redoes that plan each time: about
0.1 ms of CPU per query, a twentieth of a declaration's budget at the morning peak, paid on every query
of the declaration path (bench/declarations.sh). Unlike raw(), it does not require the primary key.
`fetch_rows` converts the same way but returns tuples; `insert_one` is `obj.save()` for a new row without
the ORM's SQL compilation (and, like bulk_create, without signals).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID, SafeUUID

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.db import connections, router
from django.db.backends import utils as backend_utils
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.mysql.base import CursorWrapper as MySQLCursorWrapper
from django.db.backends.mysql.operations import DatabaseOperations as MySQLOperations
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from django.db.models.base import DEFERRED, ModelState
from django.db.models.signals import post_init, pre_init
from django.dispatch import receiver

M = TypeVar("M", bound=Model)
R = TypeVar("R")

# (model, alias, columns) -> (one (position, converters) or None per concrete field, extra (column, position))
_Plan = tuple[list[tuple[int, list[Callable[..., Any]], Any] | None], list[tuple[str, int]]]
_plans: dict[tuple[Any, str, tuple[str, ...]], _Plan] = {}


# MariaDB/MySQL's converters of DATETIME and UUID columns, which every read here runs on each such value: Django's
# make the driver's naive datetime aware through make_aware and is_aware (four Python calls a value) and build a
# UUID through UUID.__init__'s parsing (six). `_lean` puts in their place a converter that gives the same value in
# one call for the values the driver gives (a naive datetime; a UUID's text, with or without its dashes) and
# hands any other value to Django's own (tests/test_floor_pieces.py compares both).
_MYSQL_DATETIME: Any = MySQLOperations.convert_datetimefield_value
_MYSQL_UUID: Any = MySQLOperations.convert_uuidfield_value


def _lean(converter: Callable[..., Any]) -> Callable[..., Any]:
    """`converter`, or one giving the same values in fewer calls (Django's DATETIME and UUID converters)."""
    function = getattr(converter, "__func__", None)
    if function is _MYSQL_DATETIME:
        ops = converter.__self__  # type: ignore[attr-defined]

        def aware(value: Any, expression: Any, connection: Any) -> Any:
            """make_aware(value, ops.connection.timezone) of a naive datetime (what the driver gives)."""
            if value is not None and value.tzinfo is None:
                return value.replace(tzinfo=ops.connection.timezone)
            return converter(value, expression, connection)

        return aware
    if function is _MYSQL_UUID:
        new, put, unknown = object.__new__, object.__setattr__, SafeUUID.unknown

        def uuid(value: Any, expression: Any, connection: Any) -> Any:
            """UUID(value) of 32 hex digits, dashes between them or not (MariaDB's UUID type answers the 36
            characters of its text, a CHAR(32) column the digits): its number, as UUID.__init__ sets it after
            dropping the dashes."""
            if type(value) is str:
                digits = value.replace("-", "")
                if len(digits) == 32 and digits.isalnum() and digits.isascii():
                    made = new(UUID)
                    put(made, "int", int(digits, 16))
                    put(made, "is_safe", unknown)
                    return made
            return converter(value, expression, connection)

        return uuid
    return converter


def _plan(model: Any, connection: Any, columns: tuple[str, ...]) -> _Plan:
    key = (model, connection.alias, columns)
    plan = _plans.get(key)
    if plan is None:
        position = {name: index for index, name in enumerate(columns)}
        fields: list[tuple[int, list[Callable[..., Any]], Any] | None] = []
        for field in model._meta.concrete_fields:
            index = position.get(field.column)
            if index is None:
                fields.append(None)
                continue
            col = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            fields.append((index, [_lean(converter) for converter in converters], col))
        known = {field.column for field in model._meta.concrete_fields}
        extra = [(name, index) for index, name in enumerate(columns) if name not in known]
        plan = _plans[key] = (fields, extra)
    return plan


# --- One statement through the driver's cursor (issue 11) --------------------------------------------------------
#
# `with connection.cursor() as cursor: cursor.execute(sql, params); rows = cursor.fetchall()` costs about 70 Python
# calls of Django's around the driver's own: the async-safety check twice (cursor() and ensure_connection()), the
# cursor wrapped twice (_prepare_cursor's CursorWrapper over the backend's), execute_wrappers folded into
# partials, a fresh error-wrapping function for fetchall (CursorWrapper.__getattr__), description read through two
# __getattr__. `fetch_all` and `execute` do the same steps in the same order - the health check of a reused
# connection, ensure_connection (connects, reconnects; async-unsafe), the backend's own cursor (create_cursor: the
# MySQL wrapper that turns its integrity error codes into IntegrityError), validate_thread_sharing,
# validate_no_broken_transaction, the statement and its rows inside wrap_database_errors (the driver's errors as
# Django's, errors_occurred set as Django sets it: db_health's 503 sees the same exceptions), the cursor closed
# whatever happens - without the wrappers, whenever nothing would have watched the statement through them:
# no query log (DEBUG, CaptureQueriesContext / assertNumQueries in tests: `queries_logged`), no execute_wrapper
# installed, Django's CursorWrapper.execute not replaced by an instrumentation (APM libraries patch it) and the
# connection's make_cursor Django's own. Otherwise the statement goes through Django's cursor as before
# (tests/test_rawsql_lean.py runs both).

_DJANGO_EXECUTE: Any = CursorWrapper.execute
_DJANGO_MAKE_CURSOR: Any = BaseDatabaseWrapper.make_cursor
# Whether CursorWrapper.execute is Django's own function (not already replaced when this module was imported).
_PLAIN_EXECUTE = (
    getattr(_DJANGO_EXECUTE, "__wrapped__", None) is None
    and _DJANGO_EXECUTE.__code__.co_filename == backend_utils.__file__
)


def _unwatched(connection: Any) -> bool:
    """Whether a statement on `connection` may skip Django's cursor wrappers (nothing watches it through them)."""
    return (
        not connection.execute_wrappers
        and not connection.queries_logged
        and _PLAIN_EXECUTE
        and CursorWrapper.execute is _DJANGO_EXECUTE
        and type(connection).make_cursor is _DJANGO_MAKE_CURSOR
        and apps.ready
    )


def _close(connection: Any, cursor: Any) -> None:
    """CursorWrapper.__exit__: the cursor closed, the driver's error in closing it ignored."""
    try:  # noqa: SIM105 - as Django's __exit__ (contextlib.suppress: two calls more)
        cursor.close()
    except connection.Database.Error:
        pass


def _open(connection: Any) -> Any:
    """connection.cursor() without its wrapper: the backend's cursor (BaseDatabaseWrapper._cursor's steps)."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = connection.create_cursor(None)
        connection.validate_thread_sharing()
    return cursor


def _driver_cursor(cursor: Any) -> Any:
    """The driver's cursor under the MySQL backend's wrapper (whose __getattr__ hands out its attributes: its
    fetchall, description, rowcount, lastrowid and close are the driver's), else `cursor`."""
    return cursor.cursor if type(cursor) is MySQLCursorWrapper else cursor


def _run_lean(connection: Any, sql: str, params: Sequence[Any] | None, read: Callable[[Any], R]) -> R:
    """`read(driver cursor)` after `sql` ran on `connection` through the backend's own cursor, Django's steps in
    Django's order (_open; the broken-transaction check; the statement and the read inside
    wrap_database_errors; the cursor closed whatever happens)."""
    cursor = _open(connection)
    try:
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            if params is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, params)
            return read(_driver_cursor(cursor))
    finally:
        _close(connection, _driver_cursor(cursor))


def _rows_and_description(driver: Any) -> tuple[list[Any], Any]:
    return list(driver.fetchall()), driver.description


def _count_and_id(driver: Any) -> tuple[int, Any]:
    return driver.rowcount, driver.lastrowid


def fetch_all(connection: Any, sql: str, params: Sequence[Any] | None) -> tuple[list[Any], Any]:
    """(rows, description) of `sql` on `connection`: `with connection.cursor() as cursor:
    cursor.execute(sql, params); cursor.fetchall(); cursor.description`, in fewer calls when nothing watches
    the statement (_unwatched)."""
    if not _unwatched(connection):
        with connection.cursor() as wrapped:
            wrapped.execute(sql, params)
            return list(wrapped.fetchall()), wrapped.description
    return _run_lean(connection, sql, params, _rows_and_description)


def execute(connection: Any, sql: str, params: Sequence[Any] | None) -> tuple[int, Any]:
    """(rowcount, lastrowid) of a statement that returns no rows (INSERT, UPDATE, DELETE) on `connection`, as
    Django's cursor runs it (fetch_all's lean path when nothing watches it: _unwatched)."""
    if not _unwatched(connection):
        with connection.cursor() as wrapped:
            wrapped.execute(sql, params)
            return wrapped.rowcount, wrapped.lastrowid
    return _run_lean(connection, sql, params, _count_and_id)


def _execute(connection: Any, sql: str, params: Sequence[Any]) -> tuple[list[Any], tuple[str, ...]]:
    rows, description = fetch_all(connection, sql, params)
    columns = tuple(column[0] for column in description) if rows else ()
    return rows, columns


def fetch_rows(
    model: Any, sql: str, params: Sequence[Any], *, using: str | None = None
) -> list[tuple[Any, ...]]:
    """Rows as tuples in the query's column order; a column named like one of `model`'s fields is converted
    as the ORM converts that field (aware datetimes, Decimals, dates, booleans, UUIDs)."""
    connection = connections[using or router.db_for_read(model)]
    rows, columns = _execute(connection, sql, params)
    if not rows:
        return []
    fields, _extra = _plan(model, connection, columns)
    steps = [spec for spec in fields if spec is not None and spec[1]]
    if not steps:
        return [tuple(row) for row in rows]
    result = []
    for row in rows:
        values = list(row)
        for index, converters, col in steps:
            value = values[index]
            for converter in converters:
                value = converter(value, col, connection)
            values[index] = value
        result.append(tuple(values))
    return result


def fetch_models(model: type[M], sql: str, params: Sequence[Any], *, using: str | None = None) -> list[M]:
    """Run `sql` (read) and build one `model` instance per row, as `Model.objects.raw(sql, params)` does."""
    connection = connections[using or router.db_for_read(model)]
    rows, columns = _execute(connection, sql, params)
    if not rows:
        return []
    fields, extra = _plan(model, connection, columns)
    names = [f.attname for f, spec in zip(model._meta.concrete_fields, fields, strict=True) if spec]  # type: ignore[attr-defined]
    result: list[M] = []
    for row in rows:
        values: list[Any] = []
        for spec in fields:
            if spec is None:
                values.append(DEFERRED)
                continue
            index, converters, col = spec
            value = row[index]
            for converter in converters:
                value = converter(value, col, connection)
            values.append(value)
        instance = model.from_db(connection.alias, names, values)  # type: ignore[attr-defined]
        for name, index in extra:
            setattr(instance, name, row[index])
        result.append(instance)
    return result


_inserts: dict[tuple[Any, str], tuple[str, list[Any]]] = {}


def insert_one(obj: Any, *, using: str | None = None) -> None:
    """Insert a new `obj` (auto-increment key, not yet saved) as `obj.save()` would — defaults from the
    constructor, auto_now fields through `pre_save`, values through `get_db_prep_save` — and set its key.
    One constant INSERT; no signals (the model must have no pre_save/post_save receivers that matter)."""
    model = type(obj)
    connection = connections[using or router.db_for_write(model)]
    statement = _inserts.get((model, connection.alias))
    if statement is None:
        fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
        statement = _inserts[(model, connection.alias)] = (sql, fields)
    sql, fields = statement
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    if (
        _unwatched(connection)
        and type(connection.ops).last_insert_id is BaseDatabaseOperations.last_insert_id
    ):
        # Django's last_insert_id (MySQL's, SQLite's): the cursor's lastrowid.
        _rowcount, obj.pk = execute(connection, sql, values)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            obj.pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
    obj._state.adding = False
    obj._state.db = connection.alias


def select_list(alias: str, model: Any) -> str:
    """Every concrete column of `model` under the table alias `alias`, in field order: one part of the SELECT
    list `fetch_joined` reads (names quoted for the default database)."""
    quote = connections["default"].ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


_JoinedPlan = list[tuple[Any, tuple[str, ...], int, list[tuple[int, list[Callable[..., Any]], Any]]]]
_joined_plans: dict[tuple[tuple[Any, ...], str], _JoinedPlan] = {}


def _joined_plan(models: tuple[Any, ...], connection: Any) -> _JoinedPlan:
    key = (models, connection.alias)
    plan = _joined_plans.get(key)
    if plan is None:
        plan = []
        for model in models:
            steps = []
            for index, field in enumerate(model._meta.concrete_fields):
                col = field.get_col(model._meta.db_table)
                converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                if converters:
                    steps.append((index, [_lean(converter) for converter in converters], col))
            names = tuple(field.attname for field in model._meta.concrete_fields)
            plan.append((model, names, names.index(model._meta.pk.attname), steps))
        _joined_plans[key] = plan
    return plan


def _listened(model: Any) -> bool:
    """Whether anything listens to `model`'s pre_init or post_init (then instances are built by from_db)."""
    return pre_init.has_listeners(model) or post_init.has_listeners(model)


def _from_db(
    model: Any, alias: str, names: tuple[str, ...], values: list[Any], listened: bool | None = None
) -> Any:
    """`model.from_db(alias, names, values)` for a row of every concrete field in order: the same instance
    (fetched state, values set as Model.__init__ sets plain fields), without __init__'s per-field work when
    nothing listens to the model's pre_init/post_init (as api/sql/tokens.py builds the token's user).
    `listened`: _listened(model), when the caller asked it once for a statement's rows."""
    if _listened(model) if listened is None else listened:
        return model.from_db(alias, names, values)
    instance = model.__new__(model)
    state = instance._state = ModelState()
    state.adding = False
    state.db = alias
    instance.__dict__.update(zip(names, values, strict=True))
    return instance


def fetch_joined(
    models: Sequence[type[Model]],
    sql: str,
    params: Sequence[Any],
    *,
    using: str | None = None,
    extra: int = 0,
) -> list[tuple[Any, ...]]:
    """Run `sql`, whose SELECT list is `select_list(alias, model)` for each of `models` in turn (a row of
    joined tables), and build one instance per model per row, each value converted as the ORM converts it:
    what `select_related` builds, without compiling a query. A part whose primary key is NULL (a LEFT JOIN
    that found nothing) is None. The caller attaches the parts to each other (`set_cached_value`). `extra`:
    the SELECT list ends with that many more columns, each row's values of them following its instances as
    the driver gave them."""
    parts = tuple(models)
    connection = connections[using or router.db_for_read(parts[0])]
    rows, _description = fetch_all(connection, sql, params)
    if not rows:
        return []
    plan = _joined_plan(parts, connection)
    # The receivers are asked about once a statement, not once an instance (six Python calls each).
    listened = [_listened(model) for model, *_rest in plan]
    alias = connection.alias
    result = []
    for row in rows:
        start = 0
        instances: list[Any] = []
        for (model, names, pk_index, steps), listens in zip(plan, listened, strict=True):
            values = list(row[start : start + len(names)])
            start += len(names)
            if values[pk_index] is None:
                instances.append(None)
                continue
            for index, converters, col in steps:
                value = values[index]
                for converter in converters:
                    value = converter(value, col, connection)
                values[index] = value
            instances.append(_from_db(model, alias, names, values, listens))
        if start + extra != len(row):
            raise ValueError("fetch_joined: the SELECT list does not match the models' columns")
        result.append((*instances, *row[start:]) if extra else tuple(instances))
    return result


# get_user_model(), read once (ten Python calls a request: the setting, the app registry's look-up) and again
# when the setting changes (tests): the token look-up and the session's user read it on every request.
_user_models: list[Any] = []


@receiver(setting_changed, dispatch_uid="health_f0.core.rawsql.user_model")
def _user_model_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "AUTH_USER_MODEL":
        _user_models.clear()


def user_model() -> Any:
    """get_user_model(), read once per process (and again when AUTH_USER_MODEL changes)."""
    if not _user_models:
        _user_models.append(get_user_model())
    return _user_models[0]
