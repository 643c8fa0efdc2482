"""The managers' appointment report page and its XLSX export (server-rendered, in the desk's look). Thin:
parse the query, call one selector or service, render. Access: managers, administrators and the booking
desk, for the facilities where they hold the role (reports.appointments_selectors through
facilities.access); others get 403, anonymous users the desk login."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from health_f0.appointments.models import Channel
from health_f0.core.exceptions import PermissionDenied
from health_f0.reports import appointments_charts as charts
from health_f0.reports import appointments_selectors as selectors
from health_f0.reports.appointments_services import appointment_report_export
from health_f0.reports.views import _denied as _denied_page
from health_f0.reports.views import _guard as _guard_page
from health_f0.reports.views import _not_in_scope, _page, _query_or_error, _selected_facility

TEMPLATE = "reports/appointments.html"


DENIED = gettext_lazy(
    "Bạn không có quyền xem báo cáo lịch hẹn. Báo cáo dành cho lãnh đạo, quản trị và bộ phận tư vấn đặt lịch."
)


def _denied(request: HttpRequest) -> HttpResponse:
    return _denied_page(request, DENIED)


def _guard(request: HttpRequest) -> HttpResponse | None:
    return _guard_page(request, selectors.can_view_appointment_reports, DENIED)


@require_GET
def appointments(request: HttpRequest) -> HttpResponse:
    """`/bao-cao/lich-hen/?from=dd/mm/yyyy&to=dd/mm/yyyy&facility=<id>`."""
    if (response := _guard(request)) is not None:
        return response
    user = request.user
    raw = {key: request.GET.get(key, "") for key in ("from", "to", "facility")}
    context: dict[str, Any] = {
        "title": _("Báo cáo lịch hẹn khám"),
        "facilities": selectors.report_facilities(user),
        "raw": raw,
        "selected_facility": _selected_facility(raw["facility"]),
    }
    query, errors = _query_or_error(request)
    report = None
    if query is not None:
        try:
            report = selectors.appointment_report(
                user=user, date_from=query.date_from, date_to=query.date_to, facility_id=query.facility_id
            )
        except LookupError:
            errors = _not_in_scope()
        except PermissionDenied:
            return _denied(request)
    if report is None or query is None:
        return _page(request, TEMPLATE, {**context, "errors": errors}, status=400)

    params = {
        "from": f"{query.date_from:%d/%m/%Y}",
        "to": f"{query.date_to:%d/%m/%Y}",
        **({"facility": str(query.facility_id)} if query.facility_id else {}),
    }
    low, high = selectors.APP_SHARE_TARGET
    context.update(
        report=report,
        form_from=params["from"],
        form_to=params["to"],
        selected_facility=query.facility_id or (report.root.pk if report.root else None),
        export_url=reverse("reports:appointments_xlsx") + "?" + urlencode(params),
        sections=_sections(report),
        by_service=report.service_period(),
        summary=report.period,
        target_low=round(low * 100),
        target_high=round(high * 100),
        target_met=(report.period.app_share is not None and report.period.app_share >= low),
        window_days=selectors.REEXAM_WINDOW_DAYS,
        channel_chart=charts.channel_chart(report.days, report.totals),
        share_chart=charts.app_share_chart(report.days, report.totals),
        channel_legend=[(charts.CHANNEL_COLOURS[c], label) for c, label in Channel.choices],
        chart_rows=[(day, report.totals.get(day, selectors.AppointmentFigures())) for day in report.days],
        scope_label=report.root.name if report.root else _("Tất cả cơ sở bạn được xem"),
    )
    return _page(request, TEMPLATE, context)


@require_GET
def appointments_xlsx(request: HttpRequest) -> HttpResponse:
    if (response := _guard(request)) is not None:
        return response
    query, errors = _query_or_error(request)
    base = {"title": _("Báo cáo lịch hẹn khám"), "facilities": [], "raw": {}}
    if query is None:
        return _page(request, TEMPLATE, {**base, "errors": errors}, status=400)
    try:
        filename, content = appointment_report_export(
            user=request.user, date_from=query.date_from, date_to=query.date_to, facility_id=query.facility_id
        )
    except LookupError:
        return _page(
            request,
            TEMPLATE,
            {**base, "errors": _not_in_scope(), "facilities": selectors.report_facilities(request.user)},
            status=400,
        )
    except PermissionDenied:
        return _denied(request)
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _sections(report: selectors.AppointmentReport) -> list[dict[str, Any]]:
    """Tables top-down: province, TTYT, service; each unit a group of day rows."""
    titles = {
        selectors.PROVINCE: _("Toàn tỉnh (Sở Y tế) theo ngày"),
        selectors.TTYT: _("Trung tâm Y tế theo ngày"),
        selectors.SERVICE: _("Dịch vụ khám theo ngày"),
    }
    sections = []
    for level in (selectors.PROVINCE, selectors.TTYT, selectors.SERVICE):
        units = report.units.get(level, [])
        if not units:
            continue
        rows = report.rows(level)
        groups = [{"unit": unit, "rows": [row for row in rows if row.unit.id == unit.id]} for unit in units]
        sections.append({"level": level, "title": titles[level], "groups": groups})
    return sections
