"""Writes of the appointment report: an export is an audited read of many patients' figures."""

from __future__ import annotations

from datetime import date
from typing import Any

from health_f0.reports.appointments import department_exports, departments, selectors
from health_f0.reports.appointments.exports import export_filename, report_xlsx
from health_f0.reports.common.export import audited_export


def appointment_report_export(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> tuple[str, bytes]:
    """Build the XLSX of the appointment report for the user's scope and record the export in the audit log
    (target: the facility reported on, or the user's first top facility when the scope has several).
    Returns (filename, content). Raises like `appointment_report`."""
    report = selectors.appointment_report(
        user=user, date_from=date_from, date_to=date_to, facility_id=facility_id
    )
    return audited_export(
        user=user,
        verb="export_appointment_report",
        report="lich-hen",
        target=report.root or selectors.visible_facilities(user)[0],
        date_from=date_from,
        date_to=date_to,
        counts={"services": len(report.units.get(selectors.SERVICE, []))},
        filename=export_filename(date_from, date_to),
        content=report_xlsx(report),
    )


def department_report_export(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> tuple[str, bytes]:
    """The per-department view as XLSX, recorded in the audit log like the appointment report's export
    (verb export_appointment_department_report). Raises like `departments.department_report`."""
    report = departments.department_report(
        user=user, date_from=date_from, date_to=date_to, facility_id=facility_id
    )
    return audited_export(
        user=user,
        verb="export_appointment_department_report",
        report="lich-hen-theo-khoa",
        target=report.root or selectors.visible_facilities(user)[0],
        date_from=date_from,
        date_to=date_to,
        counts={"departments": len(report.departments)},
        filename=department_exports.export_filename(date_from, date_to),
        content=department_exports.report_xlsx(report),
    )
