"""The managers' appointment report page, its view per clinical department (departments.py), and their XLSX
exports (server-rendered, in the desk's look). Thin:
parse the query, call one selector or service, render. Access: managers, administrators and the booking
desk, for the facilities where they hold the role (reports.appointments_selectors through
facilities.access); others get 403, anonymous users the desk login."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from health_f0.appointments.models import Channel
from health_f0.his.selectors import LINK_TARGET
from health_f0.reports.appointments import charts, departments, selectors
from health_f0.reports.appointments.services import appointment_report_export, department_report_export
from health_f0.reports.common.query import ReportQuery
from health_f0.reports.common.views import ReportKind, unit_sections

DENIED = gettext_lazy(
    "Bạn không có quyền xem báo cáo lịch hẹn. Báo cáo dành cho lãnh đạo, quản trị và bộ phận tư vấn đặt lịch."
)


def _context(report: selectors.AppointmentReport, query: ReportQuery) -> dict[str, Any]:
    low, high = selectors.APP_SHARE_TARGET
    return {
        "sections": unit_sections(
            report,
            [
                (selectors.PROVINCE, _("Toàn tỉnh (Sở Y tế) theo ngày")),
                (selectors.TTYT, _("Trung tâm Y tế theo ngày")),
                (selectors.SERVICE, _("Dịch vụ khám theo ngày")),
            ],
        ),
        "by_service": report.service_period(),
        "summary": report.period,
        "target_low": round(low * 100),
        "target_high": round(high * 100),
        "target_met": report.period.app_share is not None and report.period.app_share >= low,
        "window_days": selectors.REEXAM_WINDOW_DAYS,
        "channel_chart": charts.channel_chart(report.days, report.totals),
        "share_chart": charts.app_share_chart(report.days, report.totals),
        "channel_legend": [(charts.CHANNEL_COLOURS[c], label) for c, label in Channel.choices],
        "chart_rows": [(day, report.totals.get(day, selectors.AppointmentFigures())) for day in report.days],
        "departments_url": reverse("reports:appointment_departments") + "?" + urlencode(_params(query)),
    }


APPOINTMENTS = ReportKind(
    url_name="appointments",
    template="reports/appointments.html",
    title=gettext_lazy("Báo cáo lịch hẹn khám"),
    build=selectors.appointment_report,
    export=appointment_report_export,
    context=_context,
    facilities=selectors.report_facilities,
    can_view=selectors.can_view_appointment_reports,
    denied=DENIED,
)


# `/bao-cao/lich-hen/?from=dd/mm/yyyy&to=dd/mm/yyyy&facility=<id>` and its XLSX download.
appointments = APPOINTMENTS.page_view()
appointments_xlsx = APPOINTMENTS.xlsx_view()


def _department_context(report: departments.DepartmentReport, query: ReportQuery) -> dict[str, Any]:
    low, high = selectors.APP_SHARE_TARGET
    return {
        "rows": report.table_rows,
        "total": report.total,
        "summary": report.total.figures if report.total is not None else departments.DepartmentFigures(),
        "link_target": round(LINK_TARGET * 100),
        "target_low": round(low * 100),
        "target_high": round(high * 100),
        "percentile": departments.WAIT_PERCENTILE,
        "appointments_url": reverse("reports:appointments") + "?" + urlencode(_params(query)),
    }


def _params(query: ReportQuery) -> dict[str, str]:
    return {
        "from": f"{query.date_from:%d/%m/%Y}",
        "to": f"{query.date_to:%d/%m/%Y}",
        **({"facility": str(query.facility_id)} if query.facility_id else {}),
    }


DEPARTMENTS = ReportKind(
    url_name="appointment_departments",
    template="reports/appointment_departments.html",
    title=gettext_lazy("Báo cáo lịch hẹn theo khoa"),
    build=departments.department_report,
    export=department_report_export,
    context=_department_context,
    facilities=selectors.report_facilities,
    can_view=selectors.can_view_appointment_reports,
    denied=DENIED,
)

# `/bao-cao/lich-hen/theo-khoa/?from=dd/mm/yyyy&to=dd/mm/yyyy&facility=<id>` and its XLSX download: the same
# scope and access as the appointment report.
appointment_departments = DEPARTMENTS.page_view()
appointment_departments_xlsx = DEPARTMENTS.xlsx_view()
