"""Constant SQL on monitoring_episode for the declaration hot path (monitoring.services.declaration_submit).

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

from django.db import connection

from health_f0.core.rawsql import fetch_models
from health_f0.monitoring.models import Episode, EpisodeStatus

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
