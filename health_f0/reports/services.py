"""Writes of the reports app: an export is an audited read of many patients' figures."""

from __future__ import annotations

from datetime import date
from typing import Any

from health_f0.core.audit import audit_log
from health_f0.core.models import AuditLog
from health_f0.reports import selectors
from health_f0.reports.exports import export_filename, report_xlsx


def monitoring_report_export(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> tuple[str, bytes]:
    """Build the XLSX of the monitoring report for the user's scope and record the export in the audit log
    (target: the facility reported on, or the user's first top facility when the scope has several).
    Returns (filename, content). Raises like `selectors.monitoring_report`."""
    report = selectors.monitoring_report(
        user=user, date_from=date_from, date_to=date_to, facility_id=facility_id
    )
    content = report_xlsx(report)
    target = report.root or selectors.visible_facilities(user)[0]
    audit_log(
        actor=user,
        action=AuditLog.Action.EXPORT,
        verb="export_monitoring_report",
        target=target,
        facility=target,
        data={
            "report": "theo-doi-tai-nha",
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            "stations": len(report.units.get(selectors.STATION, [])),
            "format": "xlsx",
        },
    )
    return export_filename(date_from, date_to), content
