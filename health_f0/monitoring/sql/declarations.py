"""Constant SQL on monitoring_declaration for the declaration hot path (monitoring.services.declaration_submit).

What: the row already stored under an (episode, idempotency key) — the unique index; the newest readings of
an episode since a time — one backward range read of the (episode, submitted_at) index; and the INSERT of a
new declaration, prepared once per process (core/rawsql.insert_one: `save()` without its SQL compilation and
without signals — Declaration has no receivers).

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

from health_f0.core.rawsql import fetch_models, fetch_rows, insert_one
from health_f0.monitoring.models import Declaration

_TABLE = Declaration._meta.db_table

STORED_FOR_KEY = f"SELECT * FROM {_TABLE} WHERE episode_id = %s AND idempotency_key = %s"  # noqa: S608
RECENT_READINGS = (
    f"SELECT submitted_at, local_date, spo2, temperature, breathing_rate, pulse FROM {_TABLE} "  # noqa: S608
    "WHERE episode_id = %s AND submitted_at >= %s ORDER BY submitted_at DESC LIMIT %s"
)


def stored_for_key(episode_id: int, key: str) -> list[Declaration]:
    """The declarations stored under `key` for the episode (none or one: the index is unique). Runs on every
    refusal past the daily cap, the path a looping client takes, so it costs less than a declaration."""
    return fetch_models(Declaration, STORED_FOR_KEY, [episode_id, key])


def recent_readings(episode_id: int, since: datetime, *, limit: int) -> list[tuple[Any, ...]]:
    """(submitted_at, local_date, spo2, temperature, breathing_rate, pulse) of the episode's latest `limit`
    declarations since `since`, newest first: one backward range read of the (episode, submitted_at) index.
    With the daily cap, `limit` >= 5 x DECLARATIONS_PER_DAY holds every declaration of the 96 hours (they
    span at most five local days), so the trend rules see exactly what they saw without a limit."""
    return fetch_rows(
        Declaration, RECENT_READINGS, [episode_id, connection.ops.adapt_datetimefield_value(since), limit]
    )


def insert(declaration: Declaration) -> None:
    """`declaration.save()` for a new row without its per-call SQL compilation; sets its key."""
    insert_one(declaration)
