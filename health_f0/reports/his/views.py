"""The managers' HIS linking report page and its XLSX export (server-rendered, in the desk's look). Thin:
parse the query, call one selector or the export service, render. Access: managers, administrators and HIS
linkers, for the facilities where they hold the role (reports.his.selectors through facilities.access);
others get 403, anonymous users the desk login."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from health_f0.reports.common.query import ReportQuery
from health_f0.reports.common.views import ReportKind
from health_f0.reports.his import selectors
from health_f0.reports.his.charts import share_chart
from health_f0.reports.his.services import his_link_report_export

DENIED = gettext_lazy(
    "Bạn không có quyền xem báo cáo liên kết HIS. Báo cáo dành cho lãnh đạo, quản trị và cán bộ liên kết HIS."
)


def _context(report: selectors.HisLinkReport, query: ReportQuery) -> dict[str, Any]:
    return {
        "target_percent": round(report.target * 100),
        "chart": share_chart(report.days, report.by_day, report.target),
        "day_rows": [
            (
                day,
                report.by_day.get(day, selectors.ShareFigures()),
                report.linked_by_day.get(day, 0),
                report.median_hours_by_day.get(day),
            )
            for day in report.days
        ],
        "department_rows": report.department_rows(),
        "runs": [{"run": run, "errors": run.errors[: selectors.ERRORS_PER_RUN]} for run in report.runs],
    }


HIS_LINKS = ReportKind(
    url_name="his_links",
    template="reports/his_links.html",
    title=gettext_lazy("Báo cáo liên kết HIS"),
    build=selectors.his_link_report,
    export=his_link_report_export,
    context=_context,
    facilities=selectors.report_facilities,
    can_view=selectors.can_view_his_report,
    denied=DENIED,
)


# `/bao-cao/lien-ket-his/?from=dd/mm/yyyy&to=dd/mm/yyyy&facility=<id>` and its XLSX download.
his_links = HIS_LINKS.page_view()
his_links_xlsx = HIS_LINKS.xlsx_view()
