"""Writes of the payments report: an export is an audited read of many payments."""

from __future__ import annotations

from datetime import date
from typing import Any

from health_f0.reports.common.export import audited_export
from health_f0.reports.payments import selectors
from health_f0.reports.payments.exports import export_filename, report_xlsx


def payment_report_export(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> tuple[str, bytes]:
    """The XLSX of the payments report for the user's scope, recorded in the audit log. Raises like
    `payment_report`."""
    report = selectors.payment_report(
        user=user, date_from=date_from, date_to=date_to, facility_id=facility_id
    )
    return audited_export(
        user=user,
        verb="export_payment_report",
        report="thanh-toan",
        target=report.root or selectors.visible_facilities(user)[0],
        date_from=date_from,
        date_to=date_to,
        counts={"rows": len(report.rows), "paid": report.total.paid},
        filename=export_filename(date_from, date_to),
        content=report_xlsx(report),
    )
