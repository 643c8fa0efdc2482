"""Constant SQL on monitoring_episode: the declaration hot path (monitoring.services.declaration_submit), and
the account's episodes as a list (GET /api/v1|v2/episodes, below).

What: the patient's active episode (newest first, one row), and the UPDATE that marks the episode declared
on a local day, counts the declaration and refuses past the daily cap — in one statement, whose row lock
makes the count exact under concurrency (no extra query for the cap).

Why not the ORM: the active episode, the recent readings and this update as constant SQL took the
in-process declaration from 1.95 to 1.5 ms; with the rest of the hot path in constant SQL a declaration
costs 2.3 ms of worker CPU at 542 req/s, p99 54 ms (100k patients, gthread 2 x 4, wrk -t2 -c16):

    WORKER_CLASSES=gthread RUNS=3 bench/declarations.sh

(docs/benchmarks.md, "3. Declarations through the API" and "Issues 8, 9 and 14".)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import connection, router

from health_f0.core.rawsql import fetch_joined, fetch_models, select_list
from health_f0.core.sqllist import Col, SqlColumns, SqlList
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.monitoring.models import Declaration, Episode, EpisodeStatus
from health_f0.patients.models import Patient

_TABLE = Episode._meta.db_table

ACTIVE_OF_PATIENT = (
    f"SELECT * FROM {_TABLE} WHERE patient_id = %s AND status = %s ORDER BY start_date DESC LIMIT 1"  # noqa: S608
)
# The count is assigned before last_declared_on: MariaDB evaluates SET left to right (a later assignment sees
# the earlier ones' new values), SQLite from the old row; both read the old day here.
MARK_DECLARED = (
    f"UPDATE {_TABLE} SET "  # noqa: S608
    "declarations_on_last_day = CASE WHEN last_declared_on = %s THEN declarations_on_last_day + 1 "
    "ELSE 1 END, last_declared_on = %s, last_alert_level = %s, updated_at = %s "
    "WHERE id = %s AND (last_declared_on IS NULL OR last_declared_on <> %s "
    "OR declarations_on_last_day < %s)"
)


def active_of_patient(patient_id: int) -> Episode | None:
    """The patient's active episode (the newest by start date), its facility not loaded."""
    rows = fetch_models(Episode, ACTIVE_OF_PATIENT, [patient_id, EpisodeStatus.ACTIVE])
    return rows[0] if rows else None


def mark_declared(episode_id: int, day: date, level: str, now: datetime, *, limit: int) -> bool:
    """Mark the episode declared on `day` and count the declaration; False (nothing changed) when `day`
    already has `limit` declarations. One UPDATE: the row lock makes the count exact under concurrency."""
    ops = connection.ops
    on_day = ops.adapt_datefield_value(day)
    with connection.cursor() as cursor:
        cursor.execute(
            MARK_DECLARED,
            [on_day, on_day, level, ops.adapt_datetimefield_value(now), episode_id, on_day, limit],
        )
        return bool(cursor.rowcount)


# --- The account's episodes as a list (GET /api/v1|v2/episodes) ----------------------------------------------
#
# What: the episodes of the patients a portal account acts for (its own and its family's: the rule of
# access.own_patients_for, written out by `access.own_or_family_sql` and the staff test access.not_staff_sql,
# as monitoring/sql/patients.py does), newest first, with the patient's and the station's columns the API
# answers with. `episode_instances` turns a page's rows into Episode instances (patient and station attached),
# so the API's compiled EpisodeSerializer and EPISODE_WORKFLOW.available (the row's `actions`) read exactly
# what they read from the ORM's instances. tests/api/test_sql_lists.py checks the rows and instances equal the
# ORM's (selectors.own_episodes) for every kind of account.
#
# Why not the ORM: building and compiling `own_episodes(user)` (two subqueries, two joins) was most of the
# view's CPU: in process on the 100k data set (home-care patients, one episode each) v2 went from 2.7 to
# 1.1 ms of CPU per request, v1 from 3.1 to 1.9 (same minute; issue 11).

_P = Patient._meta
_F = Facility._meta
_EPISODE_FIELDS = list(Episode._meta.concrete_fields)
_PATIENT_FIELDS = ["id", "public_id", "full_name", "account", "verified_phone"]
_FACILITY_FIELDS = ["id", "public_id", "code", "name", "hotline"]


def _columns() -> dict[str, Col]:
    columns = {field.attname: Col(f"e.{field.column}", field) for field in _EPISODE_FIELDS}
    for name in _PATIENT_FIELDS:
        field: Any = _P.get_field(name)
        columns[f"patient__{field.attname}"] = Col(f"ep.{field.column}", field)
    for name in _FACILITY_FIELDS:
        field = _F.get_field(name)
        columns[f"facility__{field.attname}"] = Col(f"ef.{field.column}", field)
    return columns


OWN_EPISODES = SqlColumns(_columns())
OWN_FROM = (
    f"{_TABLE} e INNER JOIN {_P.db_table} ep ON ep.id = e.{Episode._meta.get_field('patient').column} "
    f"INNER JOIN {_F.db_table} ef ON ef.id = e.{Episode._meta.get_field('facility').column}"
)


def own_episodes(user: Any, *, ordering: tuple[str, ...] = ()) -> SqlList:
    """The episodes of the account's own and family patients (access.own_patients_for), as a `SqlList` of
    rows for `episode_instances`. Nothing for anonymous users and superusers; staff accounts get none."""
    if not getattr(user, "is_authenticated", False) or user.is_superuser:
        return OWN_EPISODES.rows(OWN_FROM, "1 = 0", [], model=Episode, ordering=ordering)
    family, params = access.own_or_family_sql(user)
    # The staff test: its answer where the request's token or session statement has read it already.
    not_staff, not_staff_params = access.not_staff_sql(user)
    # The rule's columns are patients_patient's, unqualified: in this subquery they are its own table's.
    where = (
        f"e.{Episode._meta.get_field('patient').column} IN (SELECT {_P.pk.column} FROM {_P.db_table} "  # noqa: S608
        f"WHERE {family} AND {not_staff})"
    )
    return OWN_EPISODES.rows(OWN_FROM, where, [*params, *not_staff_params], model=Episode, ordering=ordering)


# Model.from_db takes a subset of the fields in the model's field order.
_EPISODE_NAMES = [field.attname for field in _EPISODE_FIELDS]
_PATIENT_NAMES = [field.attname for field in _P.concrete_fields if field.name in _PATIENT_FIELDS]
_FACILITY_NAMES = [field.attname for field in _F.concrete_fields if field.name in _FACILITY_FIELDS]


def episode_instances(rows: list[dict[str, Any]]) -> list[Episode]:
    """Episode instances of `own_episodes` rows, each with its patient (the columns read: public id, name,
    account, verified phone; the others deferred) and its station (public id, code, name, hotline) attached,
    as select_related attaches them."""
    using = router.db_for_read(Episode)
    episodes = []
    for row in rows:
        episode = Episode.from_db(using, _EPISODE_NAMES, [row[name] for name in _EPISODE_NAMES])
        patient = Patient.from_db(using, _PATIENT_NAMES, [row[f"patient__{name}"] for name in _PATIENT_NAMES])
        facility = Facility.from_db(
            using, _FACILITY_NAMES, [row[f"facility__{name}"] for name in _FACILITY_NAMES]
        )
        _PATIENT_CACHE.set_cached_value(episode, patient)
        _FACILITY_CACHE.set_cached_value(episode, facility)
        episodes.append(episode)
    return episodes


_PATIENT_CACHE: Any = Episode._meta.get_field("patient")
_FACILITY_CACHE: Any = Episode._meta.get_field("facility")


# --- The portal's current episode of one patient (/ca-nhan, /khai-bao, /lich-su) -----------------------------
#
# What: monitoring.selectors.current_episode's choice — the active episode (newest start date, then id), else
# the most recent one — with its station and its latest declaration (declaration_status's "last"), in one
# statement instead of two or three ORM queries. tests/www/test_current_episode_sql.py checks it answers what
# the ORM queries answer for every kind of patient.
#
# Why not the ORM: those queries cost 2.0 ms of CPU, this statement 0.19 (each read alone, in process:
# bench/portal_floor_reads.py, 100k data set); with the other reads of the page's floor in constant SQL too, /ca-nhan went from 12.0
# to 5.4 ms of CPU (bench/portal_lists.py --pages /ca-nhan --requests 300; issue 11).

_D = Declaration._meta
CURRENT_OF_PATIENT = (
    f"SELECT {select_list('e', Episode)}, {select_list('f', Facility)}, {select_list('d', Declaration)} "  # noqa: S608
    f"FROM {_TABLE} e INNER JOIN {_F.db_table} f ON f.id = e.facility_id "
    f"LEFT JOIN {_D.db_table} d ON d.id = (SELECT d2.id FROM {_D.db_table} d2 WHERE d2.episode_id = e.id "
    "ORDER BY d2.submitted_at DESC, d2.id DESC LIMIT 1) "
    "WHERE e.patient_id = %s ORDER BY e.status = %s DESC, e.start_date DESC, e.id DESC LIMIT 1"
)


def current_of_patient(patient_id: int) -> tuple[Episode, Declaration | None] | None:
    """The patient's current episode (its station attached, as select_related attaches it) and that episode's
    latest declaration; None when the patient never had an episode."""
    rows = fetch_joined(
        (Episode, Facility, Declaration), CURRENT_OF_PATIENT, [patient_id, EpisodeStatus.ACTIVE]
    )
    if not rows:
        return None
    episode, facility, last = rows[0]
    _FACILITY_CACHE.set_cached_value(episode, facility)
    if last is not None:  # as episode.declarations.first() leaves it
        _DECLARATION_EPISODE.set_cached_value(last, episode)
    return episode, last


_DECLARATION_EPISODE: Any = Declaration._meta.get_field("episode")

# The same choice without the latest declaration (/lich-su, which reads the episode's declarations itself): no
# correlated subquery on monitoring_declaration and no declaration columns to convert (its two JSON columns
# among them). tests/www/test_portal_floor_sql.py checks it answers current_of_patient's episode.
CURRENT_EPISODE_OF_PATIENT = (
    f"SELECT {select_list('e', Episode)}, {select_list('f', Facility)} "  # noqa: S608
    f"FROM {_TABLE} e INNER JOIN {_F.db_table} f ON f.id = e.facility_id "
    "WHERE e.patient_id = %s ORDER BY e.status = %s DESC, e.start_date DESC, e.id DESC LIMIT 1"
)


def current_episode_of_patient(patient_id: int) -> Episode | None:
    """current_of_patient's episode (its station attached), without reading its latest declaration."""
    rows = fetch_joined((Episode, Facility), CURRENT_EPISODE_OF_PATIENT, [patient_id, EpisodeStatus.ACTIVE])
    if not rows:
        return None
    episode, facility = rows[0]
    _FACILITY_CACHE.set_cached_value(episode, facility)
    return episode
