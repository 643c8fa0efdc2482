"""Constant SQL on his_hislabresult for the API's lab result list (GET /api/v1|v2/lab-results): the patient's
results newest report first, a report's results by name (his.selectors.LAB_ORDER), with their visit, patient,
facility and report, as a `core.sqllist.SqlList` paged like the ORM queryset (v1 count and slices, v2 the same
keyset cursors). With the scope's (patient, facility) pairs bound as parameters, a page is a range of the index
(patient, -sort_at, sort_report, name, id): it reads its own rows whatever the history holds.

Why not the ORM: building and compiling the queryset (four joins, the scope, the withdrawn reports' exclusion)
cost more CPU than MariaDB needs to answer it. In-process worker CPU per request, 100k-patient set
(bench/list_inproc.py, same-minute pairs), before -> after: v1 first page 3.3 -> 1.7 ms, v2 3.2 -> 1.7 ms; a heavy
patient's page at offset 2000 (v1) 7.5 -> 3.9 ms, its fifth page by cursor (v2) 7.1 -> 3.7 ms.
"""

from __future__ import annotations

from typing import Any

from health_f0.core.sqllist import SqlColumns, SqlList, columns_of
from health_f0.facilities.models import Facility
from health_f0.his.models import HisLabReport, HisLabResult, HisVisit
from health_f0.his.sql import FACILITY_REF, PATIENT_REF, REPORT_REF, field_of
from health_f0.patients.models import Patient

_V = field_of(HisVisit)

_OWN = (
    "id",
    "visit_id",
    "public_id",
    "code",
    "name",
    "value",
    "unit",
    "reference_low",
    "reference_high",
    "reference_text",
    "flag",
    "observed_at",
    "report_id",
    "value_number",
    "conclusion",
    "source",
    "sort_at",
    "sort_report",
)
# The columns of api.apis.his.LAB_RESULT_COLUMNS, named as `.values()` names them.
LAB_RESULTS = SqlColumns(
    {
        **columns_of("r", HisLabResult, _OWN),
        **columns_of("rep", HisLabReport, REPORT_REF, prefix="report__"),
        **columns_of("v", HisVisit, ("public_id",), prefix="visit__"),
        **columns_of("p", Patient, PATIENT_REF, prefix="patient__"),
        **columns_of("f", Facility, FACILITY_REF, prefix="facility__"),
    }
)
_FROM = (
    f"{HisLabResult._meta.db_table} r "
    f"INNER JOIN {Patient._meta.db_table} p ON p.id = r.patient_id "
    f"INNER JOIN {Facility._meta.db_table} f ON f.id = r.facility_id "
    f"LEFT OUTER JOIN {HisVisit._meta.db_table} v ON v.id = r.visit_id "
    f"LEFT OUTER JOIN {HisLabReport._meta.db_table} rep ON rep.id = r.report_id"
)


def _where(
    scope: tuple[str, list[Any]],
    *,
    withdrawn: tuple[str, ...],
    patient_id: int | None,
    flags: tuple[str, ...],
    visit_public_id: Any = None,
) -> tuple[str, list[Any]]:
    where, params = scope
    where += f" AND (rep.id IS NULL OR rep.status NOT IN ({', '.join(['%s'] * len(withdrawn))}))"
    params = [*params, *withdrawn]
    if patient_id is not None:
        where += " AND r.patient_id = %s"
        params.append(patient_id)
    if flags:
        where += f" AND r.flag IN ({', '.join(['%s'] * len(flags))})"
        params.extend(flags)
    if visit_public_id is not None:
        from django.db import connections, router

        field = _V("public_id")
        connection = connections[router.db_for_read(HisVisit)]
        where += " AND v.public_id = %s"
        params.append(field.get_db_prep_value(visit_public_id, connection))
    return where, params


def lab_results(
    scope: tuple[str, list[Any]],
    *,
    ordering: tuple[str, ...],
    withdrawn: tuple[str, ...],
    patient_id: int | None = None,
    flags: tuple[str, ...] = (),
    visit_public_id: Any = None,
) -> SqlList:
    """The results `scope` keeps (access.his_records_sql on r.patient_id, r.facility_id) whose report is not
    `withdrawn`: of one patient with `patient_id`, of these flags with `flags`, of one visit (by its public id)
    with `visit_public_id`; in `ordering` (column names of LAB_RESULTS)."""
    where, params = _where(
        scope, withdrawn=withdrawn, patient_id=patient_id, flags=flags, visit_public_id=visit_public_id
    )
    return LAB_RESULTS.rows(_FROM, where, params, model=HisLabResult, ordering=ordering)


# What the portal's page of lab results (/ket-qua-xet-nghiem) shows of a result: its value and range, its
# report, its visit's department and its facility's name (and the sort key its pager reads).
PORTAL_LAB_RESULTS = SqlColumns(
    {
        **columns_of(
            "r",
            HisLabResult,
            (
                *("id", "name", "value", "value_number", "unit", "reference_low", "reference_high"),
                *("reference_text", "flag", "conclusion", "observed_at", "visit_id", "report_id"),
                *("sort_at", "sort_report"),
            ),
        ),
        **columns_of(
            "rep",
            HisLabReport,
            ("name", "status", "issued_at", "effective_at", "conclusion"),
            prefix="report__",
        ),
        **columns_of("v", HisVisit, ("department_code", "department_name"), prefix="visit__"),
        **columns_of("f", Facility, ("name",), prefix="facility__"),
    }
)


# The API's FROM without the patient (the page reads none of its columns; r.patient_id is NOT NULL, so the join
# dropped no row): one table fewer to open and look up per statement.
_PORTAL_FROM = (
    f"{HisLabResult._meta.db_table} r "
    f"INNER JOIN {Facility._meta.db_table} f ON f.id = r.facility_id "
    f"LEFT OUTER JOIN {HisVisit._meta.db_table} v ON v.id = r.visit_id "
    f"LEFT OUTER JOIN {HisLabReport._meta.db_table} rep ON rep.id = r.report_id"
)


def portal_lab_results(
    scope: tuple[str, list[Any]],
    *,
    ordering: tuple[str, ...],
    withdrawn: tuple[str, ...],
    patient_id: int,
    flags: tuple[str, ...] = (),
) -> SqlList:
    """lab_results' rows (the same WHERE, the FROM without the patient) of one patient, with PORTAL_LAB_RESULTS'
    columns."""
    where, params = _where(scope, withdrawn=withdrawn, patient_id=patient_id, flags=flags)
    return PORTAL_LAB_RESULTS.rows(_PORTAL_FROM, where, params, model=HisLabResult, ordering=ordering)
