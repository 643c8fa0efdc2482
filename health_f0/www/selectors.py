"""Reads the public portal needs that are not scoped to a staff member or a patient account."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from health_f0.appointments.models import Appointment
from health_f0.appointments.sql import bookings as bookings_sql
from health_f0.core.counters import sliding_count
from health_f0.core.exceptions import NotFound
from health_f0.core.memo import Memo
from health_f0.core.phone import display_phone
from health_f0.core.request_context import limit_key
from health_f0.core.sqllist import SqlList
from health_f0.facilities import access
from health_f0.facilities.portal import SiteInfo as SiteInfo
from health_f0.facilities.portal import site_info as site_info
from health_f0.monitoring.models import Episode
from health_f0.monitoring.sql import declarations as declaration_sql
from health_f0.monitoring.sql import patients as patients_sql
from health_f0.patients.models import Patient

SESSION_REGISTRATIONS = "www_registrations"


# display_hotline's answers by number: every page shows the Sở's hotline (and some a facility's), the same few
# numbers of public bodies, never a person's. Bounded; a pure function of the key.
_hotlines: Memo[str, str] = Memo(256)


def display_hotline(number: str) -> str:
    """Mobile numbers as '0912 345 678', landlines as '0220 389 1001', anything else unchanged."""
    shown = _hotlines.get(number)
    if shown is None:
        shown = _hotlines.keep(number, _display_hotline(number))
    return shown


def _display_hotline(number: str) -> str:
    digits = re.sub(r"\D", "", number or "")
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    if len(digits) == 10 and digits[1] in "35789":
        return display_phone("+84" + digits[1:])
    if len(digits) == 11:
        return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    return number


# --- Whom a patient account acts for (a family on one phone). Every read starts from access.patients_for.
# The home-care reads of the portal (current episode, declaration status, history) are
# monitoring.selectors'. ---

SESSION_PATIENT = "www_patient"


@dataclass(frozen=True)
class PatientChoice:
    """The patients this account may act for (a family on one phone) and the one it is acting for now."""

    patients: list[Patient]
    current: Patient | None

    @property
    def is_family(self) -> bool:
        return len(self.patients) > 1


def patient_choice(
    *, user: Any, remembered: str | None, requested: str | None, his_links: bool = False
) -> PatientChoice:
    """Resolve whom the account is acting for: the requested id (which must be one of its own patients,
    else NotFound), then the one remembered in the session, then the account's own record, then the first.
    `his_links`: a patient account's active HIS links read with its patients, for the HIS pages' record scope
    (monitoring.sql.patients.account_patients)."""
    patients = patients_sql.account_patients(user, his_links=his_links)
    if patients is None:  # staff and anonymous users: access.patients_for's queryset
        patients = list(access.patients_for(user).select_related("facility").order_by("full_name", "id"))
    if requested is not None:
        current = _with_public_id(patients, requested.strip().lower())
        if current is None:
            raise NotFound("Không tìm thấy người bệnh.")
        return PatientChoice(patients=patients, current=current)
    current = _with_public_id(patients, remembered) if remembered else None
    if current is None:
        own = getattr(user, "pk", None)
        for patient in patients:
            if patient.account_id == own:
                current = patient
                break
    if current is None and patients:
        current = patients[0]
    return PatientChoice(patients=patients, current=current)


def _with_public_id(patients: list[Patient], public_id: str) -> Patient | None:
    """The patient whose public id reads `public_id` (its lower-case text), if any of `patients`."""
    for patient in patients:
        if str(patient.public_id) == public_id:
            return patient
    return None


# --- The history page (/lich-su): a keyset page of one episode's declarations and a bounded chart. ---

HISTORY_ORDER = ("-submitted_at", "-id")
CHART_READINGS = 120  # two a day for two months: the chart and its table read at most this many rows


def declaration_history(*, episode: Episode) -> SqlList:
    """The episode's declarations for a keyset page in HISTORY_ORDER (constant SQL, index decl_patient_time:
    monitoring/sql/declarations.py): a page's rows are dicts of its columns (HISTORY_FIELDS), which
    monitoring_views.history_items writes out."""
    return declaration_sql.history(episode.patient_id, episode.pk)


class ChartReading(NamedTuple):
    submitted_at: datetime
    local_date: date
    spo2: int | None
    temperature: Decimal | None


def chart_readings(
    *, episode: Episode, limit: int | None = None, every: list[dict[str, Any]] | None = None
) -> list[ChartReading]:
    """The episode's latest declarations with SpO2 or a temperature, newest first: four columns of at most
    `limit` (CHART_READINGS) rows, whatever the episode holds. `every`: the episode's declarations, all of
    them, as declaration_history's rows in its order (a first page with no page after it), from which the
    readings are taken without a statement."""
    limit = limit or CHART_READINGS
    if every is not None:
        return [
            ChartReading(row["submitted_at"], row["local_date"], row["spo2"], row["temperature"])
            for row in every
            if row["spo2"] is not None or row["temperature"] is not None
        ][:limit]
    rows = declaration_sql.chart_readings(episode.patient_id, episode.pk, limit=limit)
    return [ChartReading._make(row) for row in rows]


# --- The account's bookings (/lich-hen): what is still ahead, then a keyset page of the rest. ---

UPCOMING_ORDER = ("slot_start", "id")
PAST_ORDER = ("-slot_start", "-id")


def upcoming_bookings(*, user: Any, since: datetime, limit: int) -> list[Appointment]:
    """Live bookings (not walk-in tickets) of a patient account and its family (access.appointments_for)
    ending at or after `since` (the start of today), soonest first: at most `limit` rows, as bare bookings
    with their service, room, doctor and patient (appointments.sql.bookings)."""
    rows = bookings_sql.portal_bookings(user, since=since, ahead=True).fetch(
        ordering=UPCOMING_ORDER, limit=limit
    )
    return bookings_sql.booking_instances(rows)


def past_bookings(*, user: Any, since: datetime) -> SqlList:
    """Every other booking (held before `since`, cancelled, missed, done), for a keyset page in PAST_ORDER:
    rows for appointments.sql.bookings.booking_instances."""
    return bookings_sql.portal_bookings(user, since=since, ahead=False)


VERIFY_LIMIT_PER_MINUTE = 30


def verification_allowed(*, ip: str) -> bool:
    """A light per-address limit on the public certificate lookup (30 a minute): codes are not guessable,
    but nobody should be able to walk the code space either. Counted per `limit_key` like every other
    limit: an IPv6 client is its whole /64, which it could otherwise rotate through. A sliding minute: a
    burst that straddles a clock minute is counted whole, not twice the limit."""
    return sliding_count(f"www:verify:{limit_key(ip)}", window_seconds=60) <= VERIFY_LIMIT_PER_MINUTE


def portal_page_context() -> dict[str, Any]:
    """The province's name and hotline every portal page shows (settings.LOCKOUT_PAGE_CONTEXT: the lockout
    page of accounts.lockout, which does not import the portal)."""
    site = site_info()
    return {"site": site, "site_hotline": display_hotline(site.hotline)}
