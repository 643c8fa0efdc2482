"""Constant SQL on patients_patient for the declaration hot path (monitoring.selectors.declaring_patient).

What: the patient an account declares for — its own record, or with a patient id a family member — excluding
accounts that are staff, in one statement. The family condition is facilities.access.own_or_family_sql and
the staff test access.not_staff_sql (access.NOT_STAFF_SQL, or its answer when the request's token or session
statement has read the memberships already; the rules of access.own_patients_for and access.is_staff_member):
this module only puts them in one SELECT. tests/api/test_declaration_hot_path.py checks the result equals the
ORM rule's for every kind of account and patient id.

Why not the ORM: building `own_patients_for(user).get(...)` took 37 % of a declaration's CPU (half of it in
the ORM) at the morning peak; with it as constant SQL the in-process declaration went from 3.1–3.3 to
2.5–2.6 ms of CPU, and the whole hot path now costs 2.3 ms of worker CPU at 542 req/s, p99 54 ms (100k
patients, gthread 2 x 4, wrk -t2 -c16):

    WORKER_CLASSES=gthread RUNS=3 bench/declarations.sh

(docs/benchmarks.md, "3. Declarations through the API".)
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections, router

from health_f0.core.rawsql import fetch_joined, fetch_models, fetch_rows, select_list
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient


def declarable(user: Any, public_id: Any = None) -> list[Patient]:
    """At most two patients `user` may declare for: its own record, or the family member `public_id`
    (none for a malformed id). Nothing for anonymous users, superusers and staff."""
    rule = _declarable_rule(user, public_id)
    if rule is None:
        return []
    where, params = rule
    sql = f"SELECT * FROM {Patient._meta.db_table} WHERE {where} LIMIT 2"  # noqa: S608
    return fetch_models(Patient, sql, params)


def _declarable_rule(user: Any, public_id: Any) -> tuple[str, list[Any]] | None:
    """`declarable`'s condition on patients_patient's unqualified columns and its parameters; None when no
    patient can match (anonymous user, superuser, malformed id)."""
    if not getattr(user, "is_authenticated", False) or user.is_superuser:
        return None
    meta = Patient._meta
    account = meta.get_field("account").column
    where, params = f"{account} = %s", [user.pk]
    if public_id is not None:
        field = meta.get_field("public_id")
        connection = connections[router.db_for_read(Patient)]
        try:
            key = field.get_db_prep_value(field.to_python(public_id), connection)
        except (ValueError, TypeError, DjangoValidationError):
            key = None  # malformed: no such patient
        where, params = access.own_or_family_sql(user)
        # Qualified: the statement with the episode joins a table with a public_id of its own.
        where = f"{meta.db_table}.{field.column} = %s AND {where}"
        params.insert(0, key)
    if params[0] is None:
        return None
    not_staff, not_staff_params = access.not_staff_sql(user)
    return f"{where} AND {not_staff}", [*params, *not_staff_params]


# --- The declaring patient with its active episode (POST /api/v1/declarations) ------------------------------
#
# What: `declarable`'s patient with its active episode (episodes.ACTIVE_OF_PATIENT's choice: status active, the
# newest start date first; NULL columns without one), in one statement instead of two: the patient by
# `declarable`'s condition (on its unique account or public id: one row at most), the episode by the index
# monitoring_episode (patient, status) as ACTIVE_OF_PATIENT reads it. tests/api/test_declaration_reads.py checks
# both parts equal `declarable`'s and `episodes.active_of_patient`'s for every kind of account.
#
# Why: one round trip less on the morning's hot path (the worker's cursor and conversion work: 3,152 -> 2,920
# Python calls a declaration), and no more MariaDB CPU than the two statements: replayed alone (the server
# thread's CPU, 21 alternated rounds of 300 accounts), the two 297 us, this join 265; a derived table of the
# patients (to keep `declarable`'s LIMIT 2) cost 347, the episode as a correlated subquery 298 (issue 11).


def _declarable_with_episode_sql(rule: str) -> str:
    from health_f0.monitoring.models import Episode

    patients, episodes = Patient._meta.db_table, Episode._meta.db_table
    # The rule's columns are patients_patient's, unqualified (account_id, verified_phone: none of the
    # episode's; its public_id qualified by _declarable_rule). A column of that name added to the episode
    # makes this statement fail loudly (ambiguous), never read the other table's.
    return (
        f"SELECT {select_list(patients, Patient)}, {select_list('e', Episode)} "  # noqa: S608 - names from _meta
        f"FROM {patients} LEFT JOIN {episodes} e ON e.patient_id = {patients}.id AND e.status = %s "
        f"WHERE {rule} ORDER BY e.start_date DESC LIMIT 1"
    )


def declarable_with_episode(user: Any, public_id: Any = None) -> list[tuple[Patient, Any]]:
    """`declarable(user, public_id)`'s patient (at most one: its condition is on a unique column) with its
    active episode (None without one; its facility not loaded), as a list of at most one (patient, episode)."""
    from health_f0.monitoring.models import Episode, EpisodeStatus

    rule = _declarable_rule(user, public_id)
    if rule is None:
        return []
    where, params = rule
    sql = _with_episode.get(where)
    if sql is None:
        sql = _with_episode[where] = _declarable_with_episode_sql(where)
    rows = fetch_joined((Patient, Episode), sql, [EpisodeStatus.ACTIVE, *params])
    return [(patient, episode) for patient, episode in rows]


# The statement per rule text (the rule's SQL has a handful of forms: own record or family, the staff test read
# or asked): built once each.
_with_episode: dict[str, str] = {}


# --- The patients a portal account acts for, with their managing facility (www.selectors.patient_choice) -----
#
# What: `access.patients_for(user).select_related("facility").order_by("full_name", "id")` for a patient
# account (access.account_patients_sql writes its rule out; staff keep the queryset), as one constant statement.
# Every portal page of a signed-in patient starts with it. tests/www/test_portal_floor_sql.py checks it
# answers what the queryset answers for every kind of account.
#
# Why not the ORM: the queryset (two RawSQL conditions, a join, an ordering) cost 1.1 ms of CPU, this
# statement 0.14 (each read alone, in process: bench/portal_floor_reads.py, 100k data set; issue 11).

_ACCOUNT_PATIENTS = (
    f"SELECT {select_list('p', Patient)}, {select_list('f', Facility)} "  # noqa: S608 - names from _meta
    f"FROM {Patient._meta.db_table} p INNER JOIN {Facility._meta.db_table} f ON f.id = p.facility_id "
    # The rule's columns are patients_patient's, unqualified (facilities_facility has none of those names).
    "WHERE {rule} ORDER BY p.full_name, p.id"
)
_PATIENT_FACILITY: Any = Patient._meta.get_field("facility")
# The same, each patient with the facilities of its active HIS links (access.his_active_pairs' rule on one
# patient, the index his_hislink (patient, ...) per row), for the portal's HIS pages: one statement, not two.
_ACCOUNT_PATIENTS_HIS = _ACCOUNT_PATIENTS.replace(
    " FROM ",
    ", (SELECT GROUP_CONCAT(l.facility_id) FROM his_hislink l WHERE l.patient_id = p.id AND l.active) FROM ",
    1,
)


def account_patients(user: Any, *, his_links: bool = False) -> list[Patient] | None:
    """The patients a patient account may act for, by name then id, each with its facility attached; None
    when `user` is not a patient account (access.account_patients_sql): the caller reads patients_for.
    `his_links`: read their active HIS links in the same statement and keep them for the request
    (access.remember_his_active_pairs; the HIS pages' record scope then reads no more)."""
    rule = access.account_patients_sql(user)
    if rule is None:
        return None
    where, params = rule
    patients = []
    pairs: list[tuple[int, int]] = []
    sql = (_ACCOUNT_PATIENTS_HIS if his_links else _ACCOUNT_PATIENTS).format(rule=where)
    for patient, facility, *linked in fetch_joined((Patient, Facility), sql, params, extra=int(his_links)):
        _PATIENT_FACILITY.set_cached_value(patient, facility)
        patients.append(patient)
        if linked and linked[0]:
            text = linked[0].decode() if isinstance(linked[0], bytes) else str(linked[0])
            pairs += [(patient.pk, int(facility_id)) for facility_id in text.split(",")]
    # The rule is own_patients_for's for a patient account: the page's later statements bind these ids.
    access.remember_own_patients(user, [patient.pk for patient in patients])
    if his_links:
        access.remember_his_active_pairs(user, pairs)
    return patients


# Whether the account acts for more than one patient (/lich-hen names each booking's patient then): the same rule
# and join as _ACCOUNT_PATIENTS, at most two ids, no instance built.
_SEVERAL = (
    f"SELECT p.id FROM {Patient._meta.db_table} p "  # noqa: S608 - names from _meta
    f"INNER JOIN {Facility._meta.db_table} f ON f.id = p.facility_id WHERE {{rule}} LIMIT 2"
)


def acts_for_several(user: Any) -> bool | None:
    """len(account_patients(user)) > 1 without reading the patients; None when `user` is not a patient account
    (the caller reads patients_for)."""
    rule = access.account_patients_sql(user)
    if rule is None:
        return None
    where, params = rule
    return len(fetch_rows(Patient, _SEVERAL.format(rule=where), params)) > 1
