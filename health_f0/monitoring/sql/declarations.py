"""Constant SQL on monitoring_declaration for the declaration hot path (monitoring.services.declaration_submit),
and for one episode's history in the portal (/lich-su, below).

What: the row already stored under an (episode, idempotency key) — the unique index; the newest readings of
an episode since a time — one backward range read of the (episode, submitted_at) index; and the INSERT of a
new declaration, its statement built once per process and its values prepared column by column (`save()`
without its SQL compilation and without signals — Declaration has no receivers; issue 11 took the simple
columns out of the field machinery: docs/benchmarks.md, "Issue 11: the declaration path").

Why not the ORM: building these queries cost about 1 ms of CPU per declaration, more than a third of the
budget at the morning peak (~400 declarations a second for a province). With constant SQL the whole
declaration costs 2.3 ms of worker CPU at 542 req/s, p99 54 ms (100k patients, gthread 2 x 4, wrk -t2 -c16;
in-process 1.8–1.9 ms per request after rawsql, 2.5–2.6 before), and a refusal past the daily cap 1.65 ms
instead of 4.3 ms once its stored-row look-up became constant SQL:

    WORKER_CLASSES=gthread RUNS=3 bench/declarations.sh
    DATABASE_URL=… .venv/bin/python bench/declare_inproc.py --requests 1000

(docs/benchmarks.md, "3. Declarations through the API" and "Issues 8, 9 and 14".)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection

from health_f0.core.rawsql import fetch_models, fetch_rows
from health_f0.core.sqllist import SqlColumns, SqlList, columns_of, text_column
from health_f0.monitoring.models import Declaration

_TABLE = Declaration._meta.db_table

STORED_FOR_KEY = f"SELECT * FROM {_TABLE} WHERE episode_id = %s AND idempotency_key = %s"  # noqa: S608
RECENT_READINGS = (
    f"SELECT submitted_at, local_date, spo2, temperature, breathing_rate, pulse FROM {_TABLE} "  # noqa: S608
    "WHERE episode_id = %s AND submitted_at >= %s ORDER BY submitted_at DESC LIMIT %s"
)
# The (episode, submitted_at) index, the one the optimiser chooses: named on MariaDB/MySQL so that it does not
# first weigh the table's three other indexes the condition could use (a dive into each per statement; the
# plan is the same). This statement's MariaDB CPU 219 -> 195 us, replayed alone (300 episodes, 15 alternated
# rounds; issue 11). An index of that name gone makes the statement fail, never scan.
EPISODE_TIME_INDEX = next(
    index.name for index in Declaration._meta.indexes if list(index.fields) == ["episode", "submitted_at"]
)
RECENT_READINGS_MYSQL = RECENT_READINGS.replace(
    f"FROM {_TABLE} ", f"FROM {_TABLE} FORCE INDEX ({EPISODE_TIME_INDEX}) ", 1
)


def stored_for_key(episode_id: int, key: str) -> list[Declaration]:
    """The declarations stored under `key` for the episode (none or one: the index is unique). Runs on every
    refusal past the daily cap, the path a looping client takes, so it costs less than a declaration."""
    return fetch_models(Declaration, STORED_FOR_KEY, [episode_id, key])


def recent_readings(episode_id: int, since: datetime, *, limit: int) -> list[tuple[Any, ...]]:
    """(submitted_at, local_date, spo2, temperature, breathing_rate, pulse) of the episode's latest `limit`
    declarations since `since`, newest first: one backward range read of the (episode, submitted_at) index.
    With the daily cap, `limit` >= 5 x DECLARATIONS_PER_DAY holds every declaration of the 96 hours (they
    span at most five local days), so the trend rules see exactly what they saw without a limit.

    On MariaDB/MySQL the driver already hands back these types but for `submitted_at` (naive, in the
    connection's time zone): made aware here with one `replace` a row instead of the generic converter
    (four calls a row; up to 120 rows for a patient who declares all day)."""
    params = [episode_id, connection.ops.adapt_datetimefield_value(since), limit]
    if connection.vendor != "mysql":
        return fetch_rows(Declaration, RECENT_READINGS, params)
    if connection.timezone is None:
        return fetch_rows(Declaration, RECENT_READINGS_MYSQL, params)
    zone = connection.timezone
    with connection.cursor() as cursor:
        cursor.execute(RECENT_READINGS_MYSQL, params)
        return [(at.replace(tzinfo=zone), *rest) for at, *rest in cursor.fetchall()]


# The INSERT's columns, in the model's order. Fields of these kinds are written as they are (ints as int, the
# strings and the boolean unchanged, dates and datetimes through the backend's adapters); every other field
# (the UUID, the decimal, the JSON columns) through its own get_db_prep_save, as save() does. A field added
# to Declaration that is in neither list stops insert() with an error instead of being left out.
_AS_IS = {"episode", "patient", "questionnaire", "submitted_by", "spo2", "breathing_rate", "pulse"}
_PLAIN = {"alert_level", "idempotency_key", "request_hash", "late"}
_DAY, _MOMENT = {"local_date"}, {"submitted_at"}
_PREPARED = {"public_id", "temperature", "answers", "reasons"}
_FIELDS = [f for f in Declaration._meta.local_concrete_fields if not f.primary_key]
_INSERT: str | None = None


def _statement() -> str:
    global _INSERT
    if _INSERT is None:
        names = {f.name for f in _FIELDS}
        known = _AS_IS | _PLAIN | _DAY | _MOMENT | _PREPARED
        if names != known:
            raise RuntimeError(
                f"Declaration's fields changed ({sorted(names ^ known)}): update sql/declarations.py"
            )
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in _FIELDS)
        _INSERT = f"INSERT INTO {quote(_TABLE)} ({columns}) VALUES ({', '.join(['%s'] * len(_FIELDS))})"  # noqa: S608
    return _INSERT


def insert(declaration: Declaration) -> None:
    """`declaration.save()` for a new row (no signals: Declaration has none), sets its key. One constant
    INSERT; the values are prepared field by field as save() prepares them, the simple ones without the
    field machinery (about 250 Python calls per declaration less than core/rawsql.insert_one: 6 % of the
    path's CPU). tests/api/test_declaration_insert.py checks the row equals save()'s."""
    sql = _statement()
    ops = connection.ops
    values: list[Any] = []
    for field in _FIELDS:
        value = getattr(declaration, field.attname)
        name = field.name
        if name in _AS_IS:
            values.append(None if value is None else int(value))
        elif name in _PLAIN:
            values.append(value)
        elif name in _MOMENT:
            values.append(ops.adapt_datetimefield_value(value))
        elif name in _DAY:
            values.append(ops.adapt_datefield_value(value))
        else:
            values.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        declaration.pk = ops.last_insert_id(cursor, _TABLE, Declaration._meta.pk.column)
    declaration._state.adding = False
    declaration._state.db = connection.alias


# --- One episode's history (/lich-su: www.selectors.declaration_history and chart_readings) ----------------------
#
# What: the episode's declarations newest first as a keyset list, with only the columns the page shows (a
# page's rows are dicts, written out by www.monitoring_views.history_items), and the latest readings with SpO2
# or a temperature for its two charts. Both read the index decl_patient_time (patient, submitted_at, id) backwards, as the ORM queries they replace did;
# tests/www/test_history_sql.py checks their rows equal those queries'.
#
# Why not the ORM: building and compiling the page's query (with a cursor's condition) and the charts'
# cost about 1 ms of CPU of a page whose aim is 3 ms (issue 11).

HISTORY_FIELDS = (
    "id",
    "questionnaire_id",
    "submitted_at",
    "local_date",
    "late",
    "alert_level",
    # The charts' readings: a first page holding the whole episode gives them without CHART_READINGS' statement
    # (www.selectors.chart_readings).
    "spo2",
    "temperature",
)
# The answers and the reasons as their stored JSON text (HISTORY_TEXT_FIELDS): history_items reads them with
# one call of the C scanner a value (www.monitoring_views.json_value), where the JSONField's converter took
# eight Python calls (json.loads' wrapper; 30 values a page: issue 11).
HISTORY_TEXT_FIELDS = ("answers", "reasons")
HISTORY_COLUMNS = SqlColumns(
    {
        **columns_of("d", Declaration, HISTORY_FIELDS),
        **{name: text_column("d", Declaration, name) for name in HISTORY_TEXT_FIELDS},
    }
)
CHART_READINGS = (
    f"SELECT submitted_at, local_date, spo2, temperature FROM {_TABLE} "  # noqa: S608
    "WHERE patient_id = %s AND episode_id = %s AND (spo2 IS NOT NULL OR temperature IS NOT NULL) "
    "ORDER BY submitted_at DESC, id DESC LIMIT %s"
)


def history(patient_id: int, episode_id: int) -> SqlList:
    """The episode's declarations (of `patient_id`, whose episode it is), to be read a keyset page at a time
    in ("-submitted_at", "-id")."""
    return HISTORY_COLUMNS.rows(
        f"{_TABLE} d",
        "d.patient_id = %s AND d.episode_id = %s",
        [patient_id, episode_id],
        model=Declaration,
        ordering=("-submitted_at", "-id"),
    )


def chart_readings(patient_id: int, episode_id: int, *, limit: int) -> list[tuple[Any, ...]]:
    """(submitted_at, local_date, spo2, temperature) of the episode's latest `limit` declarations with SpO2
    or a temperature, newest first."""
    return fetch_rows(Declaration, CHART_READINGS, [patient_id, episode_id, limit])


# --- A patient's declarations as a list (GET /api/v1|v2/declarations) -------------------------------------------
#
# What: the patient's declarations with the columns the API answers with (api.apis.monitoring.DECLARATION_COLUMNS,
# the declaring user's name LEFT JOINed), newest first: the ORM's `.values()` query as constant SQL, read by the
# index decl_patient_time backwards as that query was. tests/api/test_sql_lists.py checks its rows and pages
# equal the ORM's.
#
# Why not the ORM: building and compiling the `.values()` query with a keyset cursor's condition is a sizeable
# part of a list request whose aim is 3 ms of worker CPU (issue 11).

_SUBMITTER = Declaration._meta.get_field("submitted_by").related_model
LIST_COLUMNS = SqlColumns(
    {
        **columns_of(
            "d",
            Declaration,
            ("id", "public_id", "submitted_at", "local_date", "late", "alert_level", "reasons", "answers"),
        ),
        **columns_of("u", _SUBMITTER, ("username",), prefix="submitted_by__"),  # type: ignore[arg-type]
    }
)
LIST_FROM = f"{_TABLE} d LEFT JOIN {_SUBMITTER._meta.db_table} u ON u.id = d.submitted_by_id"  # type: ignore[union-attr]


def patient_list(patient_id: int) -> SqlList:
    """The patient's declarations as rows keyed like `Declaration.objects.filter(patient_id=…).values(…)`'s
    (LIST_COLUMNS), newest first (("-submitted_at", "-id"))."""
    return LIST_COLUMNS.rows(
        LIST_FROM, "d.patient_id = %s", [patient_id], model=Declaration, ordering=("-submitted_at", "-id")
    )
