"""The managers' HIS linking report page and its XLSX export (server-rendered, in the desk's look). Thin:
parse the query, call one selector or the export service, render. Access: managers, administrators and HIS
linkers, for the facilities where they hold the role (reports.his_selectors through facilities.access);
others get 403, anonymous users the desk login."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from health_f0.core.exceptions import PermissionDenied
from health_f0.reports import his_selectors as selectors
from health_f0.reports.his_charts import share_chart
from health_f0.reports.his_exports import his_link_report_export
from health_f0.reports.views import _denied as _denied_page
from health_f0.reports.views import _guard as _guard_page
from health_f0.reports.views import _not_in_scope, _page, _query_or_error, _selected_facility

TEMPLATE = "reports/his_links.html"


DENIED = gettext_lazy(
    "Bạn không có quyền xem báo cáo liên kết HIS. Báo cáo dành cho lãnh đạo, quản trị và cán bộ liên kết HIS."
)


def _denied(request: HttpRequest) -> HttpResponse:
    return _denied_page(request, DENIED)


def _guard(request: HttpRequest) -> HttpResponse | None:
    return _guard_page(request, selectors.can_view_his_report, DENIED)


@require_GET
def his_links(request: HttpRequest) -> HttpResponse:
    """`/bao-cao/lien-ket-his/?from=dd/mm/yyyy&to=dd/mm/yyyy&facility=<id>`."""
    if (response := _guard(request)) is not None:
        return response
    user = request.user
    raw = {key: request.GET.get(key, "") for key in ("from", "to", "facility")}
    context: dict[str, Any] = {
        "title": _("Báo cáo liên kết HIS"),
        "facilities": selectors.report_facilities(user),
        "raw": raw,
        "selected_facility": _selected_facility(raw["facility"]),
    }
    query, errors = _query_or_error(request)
    report = None
    if query is not None:
        try:
            report = selectors.his_link_report(
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
    context.update(
        report=report,
        form_from=params["from"],
        form_to=params["to"],
        selected_facility=query.facility_id or (report.root.pk if report.root else None),
        export_url=reverse("reports:his_links_xlsx") + "?" + urlencode(params),
        target_percent=round(report.target * 100),
        chart=share_chart(report.days, report.by_day, report.target),
        day_rows=[
            (
                day,
                report.by_day.get(day, selectors.ShareFigures()),
                report.linked_by_day.get(day, 0),
                report.median_hours_by_day.get(day),
            )
            for day in report.days
        ],
        department_rows=report.department_rows(),
        runs=[{"run": run, "errors": run.errors[: selectors.ERRORS_PER_RUN]} for run in report.runs],
        scope_label=report.root.name if report.root else _("Tất cả cơ sở bạn được xem"),
    )
    return _page(request, TEMPLATE, context)


@require_GET
def his_links_xlsx(request: HttpRequest) -> HttpResponse:
    if (response := _guard(request)) is not None:
        return response
    query, errors = _query_or_error(request)
    base = {"title": _("Báo cáo liên kết HIS"), "facilities": [], "raw": {}}
    if query is None:
        return _page(request, TEMPLATE, {**base, "errors": errors}, status=400)
    try:
        filename, content = his_link_report_export(
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
