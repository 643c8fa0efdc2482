"""Constant SQL of a service's queue for one day, as a ticket's place in it needs it (selectors.queue_place:
the patient's bookings list and pages).

What: the waiting tickets (checked in, not called) and the latest calls of a service's queue of a day, as
Appointment instances without their patient and facility (the calling order reads only the tickets' own
columns: queue_rules.calling_order), the same rows selectors.queue_for reads.

Why not the ORM: a checked-in booking on a patient's 100-row page cost two compiled queries and three model
instances per ticket of its queue (select_related of the patient and the room, which the reception's screens
show and a place in the queue does not): 60 % of the heavy patients' page (bench/list_inproc.py with
heavy_tokens.txt). Read this way the heavy patients' v2 100-row page went from 13.2–15.4 to 9.3–9.7 ms of CPU
(same minute, loaded machine).
"""

from __future__ import annotations

from datetime import date

from django.db import connections, router

from health_f0.appointments.models import Appointment, Status
from health_f0.core.rawsql import fetch_models

_TABLE = Appointment._meta.db_table
WAITING = (
    f"SELECT * FROM {_TABLE} WHERE service_id = %s AND queue_date = %s AND status = %s "  # noqa: S608
    "AND called_at IS NULL ORDER BY slot_start, id"
)
CALLED = (
    f"SELECT * FROM {_TABLE} WHERE service_id = %s AND queue_date = %s "  # noqa: S608
    "AND called_at IS NOT NULL ORDER BY called_at DESC, id DESC LIMIT %s"
)


def tickets(service_id: int, day: date, *, recent: int) -> tuple[list[Appointment], list[Appointment]]:
    """(waiting tickets, the `recent` latest called, most recent first) of the service's queue of `day`."""
    on_day = connections[router.db_for_read(Appointment)].ops.adapt_datefield_value(day)
    waiting = fetch_models(Appointment, WAITING, [service_id, on_day, Status.CHECKED_IN])
    called = fetch_models(Appointment, CALLED, [service_id, on_day, recent])
    return waiting, called
