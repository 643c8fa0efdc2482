"""Constant SQL for the reminder fan-out (monitoring.reminders.reminder_sms_fanout): the multi-row INSERT of
monitoring_reminderlog rows and of their notifications_outboxmessage rows.

What: `insert_many(model, objects)` does what `bulk_create` does for new rows without an explicit key
(defaults from the model's own constructor, auto_now fields through `pre_save`, values through
`get_db_prep_save`), without its per-value SQL compilation: one INSERT statement per model, run through the
driver's `executemany` (one multi-row INSERT per few thousand rows). No signals, as with bulk_create; keys are
not set. Rows are identical to bulk_create's (checked column by column).

Why not the ORM: `bulk_create` compiling 2.8 million values one by one took most of a 100,000-row fan-out's
time — 60.7 s before, 22.8 s after (median of 3; 10k province: 2.1 s), target < 60 s:

    DATABASE_URL=…/hf0_bench .venv/bin/python bench/reminders.py --repeat 3 --all-silent

(docs/benchmarks.md, "2. Reminder fan-out".)
"""

from __future__ import annotations

from typing import Any

from django.db import connections, router


def insert_many(model: Any, objects: list[Any]) -> None:
    """Insert new `objects` of `model` (not yet saved, no explicit key) as bulk_create would."""
    if not objects:
        return
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names from _meta
    rows = [tuple(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields) for obj in objects]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
