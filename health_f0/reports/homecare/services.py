"""Writes of the home-care report: an export is an audited read of many patients' figures."""

from __future__ import annotations

from datetime import date
from typing import Any

from health_f0.reports.common.export import audited_export
from health_f0.reports.homecare import selectors
from health_f0.reports.homecare.exports import export_filename, report_xlsx


def monitoring_report_export(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> tuple[str, bytes]:
    """Build the XLSX of the monitoring report for the user's scope and record the export in the audit log
    (target: the facility reported on, or the user's first top facility when the scope has several).
    Returns (filename, content). Raises like `selectors.monitoring_report`."""
    report = selectors.monitoring_report(
        user=user, date_from=date_from, date_to=date_to, facility_id=facility_id
    )
    return audited_export(
        user=user,
        verb="export_monitoring_report",
        report="theo-doi-tai-nha",
        target=report.root or selectors.visible_facilities(user)[0],
        date_from=date_from,
        date_to=date_to,
        counts={"stations": len(report.units.get(selectors.STATION, []))},
        filename=export_filename(date_from, date_to),
        content=report_xlsx(report),
    )
