"""The home-care monitoring report page, its XLSX export and the reports' index. Access: staff who are
managers, administrators or station heads (facilities.access through homecare.selectors); others get 403,
anonymous users the desk login."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from health_f0.reports.common import rollup
from health_f0.reports.common.query import ReportQuery
from health_f0.reports.common.views import ReportKind, guard, page, unit_sections
from health_f0.reports.homecare import charts, selectors, services

DENIED = gettext_lazy(
    "Bạn không có quyền xem báo cáo. Báo cáo dành cho lãnh đạo, quản trị và trưởng trạm y tế."
)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The reports' index: the home-care viewers' rule lets one in; each other report's card shows to its
    own viewers (templatetags)."""
    if (response := guard(request, selectors.can_view_reports, DENIED)) is not None:
        return response
    return page(
        request,
        "reports/index.html",
        {"title": _("Báo cáo"), "home_care_url": reverse("reports:home_care")},
    )


def _home_care_context(report: selectors.MonitoringReport, query: ReportQuery) -> dict[str, Any]:
    return {
        "sections": unit_sections(
            report,
            [
                (selectors.PROVINCE, _("Toàn tỉnh (Sở Y tế) theo ngày")),
                (selectors.TTYT, _("Trung tâm Y tế theo ngày")),
                (selectors.STATION, _("Trạm y tế theo ngày")),
            ],
        ),
        "summary": _summary(report),
        "active_chart": charts.active_chart(report.days, report.totals),
        "alerts_chart": charts.alerts_chart(report.days, report.totals),
        "chart_rows": [(day, report.totals.get(day, selectors.DayFigures())) for day in report.days],
    }


HOME_CARE = ReportKind(
    url_name="home_care",
    template="reports/home_care.html",
    title=gettext_lazy("Báo cáo theo dõi F0 tại nhà"),
    build=selectors.monitoring_report,
    export=services.monitoring_report_export,
    context=_home_care_context,
    facilities=selectors.report_facilities,
    can_view=selectors.can_view_reports,
    denied=DENIED,
)


# `/bao-cao/theo-doi-tai-nha/?from=dd/mm/yyyy&to=dd/mm/yyyy&facility=<id>` and its XLSX download.
home_care = HOME_CARE.page_view()
home_care_xlsx = HOME_CARE.xlsx_view()


def _summary(report: selectors.MonitoringReport) -> dict[str, Any]:
    total = rollup.total(report.totals.values(), selectors.DayFigures())
    last = report.totals.get(report.date_to, selectors.DayFigures())
    return {"period": total, "last": last}
