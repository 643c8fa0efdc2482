"""Writes of the HIS linking report: an export is an audited read of many patients' figures."""

from __future__ import annotations

from datetime import date
from typing import Any

from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.reports.common.export import audited_export
from health_f0.reports.his import selectors
from health_f0.reports.his.exports import export_filename, report_xlsx


def his_link_report_export(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> tuple[str, bytes]:
    """Build the XLSX for the user's scope and record the export in the audit log (target: the facility
    reported on, or the user's first hospital). Raises like `selectors.his_link_report`."""
    report = selectors.his_link_report(
        user=user, date_from=date_from, date_to=date_to, facility_id=facility_id
    )
    target = report.root or (
        report.hospitals[0]
        if report.hospitals
        else Facility.objects.filter(id__in=access.visible_facility_ids(user, selectors.HIS_REPORT_ROLES))
        .order_by("path")
        .first()
    )
    if target is None:
        raise PermissionDenied("Bạn không có quyền xem báo cáo liên kết HIS.")
    return audited_export(
        user=user,
        verb="export_his_link_report",
        report="lien-ket-his",
        target=target,
        date_from=date_from,
        date_to=date_to,
        counts={"departments": len(report.departments)},
        filename=export_filename(date_from, date_to),
        content=report_xlsx(report),
    )
