"""The report pages (server-rendered, in the desk's look) and their XLSX downloads, shared by every report
family: the guard, the query parsing, the scope errors and the response shape. Thin: parse the query, call
the family's selector or export service, render. Anonymous users get the desk login, users without the
family's role 403."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from health_f0.core.exceptions import PermissionDenied
from health_f0.reports.common.export import XLSX_CONTENT_TYPE
from health_f0.reports.common.query import ReportQuery, ReportQueryError, parse_report_query


def page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    request.current_app = admin.site.name
    base = {**admin.site.each_context(request), "subtitle": None, "is_fullwidth": "1"}
    return TemplateResponse(request, template, {**base, **context}, status=status)


def _denied(request: HttpRequest, message: Any) -> HttpResponse:
    """403 in the desk's look for staff, a plain page for anyone else; `message` says who the report is for."""
    if admin.site.has_permission(request):
        return page(
            request, "reports/forbidden.html", {"title": _("Không có quyền"), "message": message}, 403
        )
    return TemplateResponse(request, "reports/forbidden_plain.html", {"message": message}, status=403)


def guard(request: HttpRequest, can_view: Callable[[Any], bool], message: Any) -> HttpResponse | None:
    """None when the user may see the report (`can_view`); otherwise the response to send: the desk login
    for anonymous users, 403 (saying `message`) for the others."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    allowed = can_view(user)
    if not (admin.site.has_permission(request) and allowed):
        return _denied(request, message)
    return None


def _not_in_scope() -> list[str]:
    return [_("Không tìm thấy cơ sở trong phạm vi bạn được xem báo cáo.")]


def _selected_facility(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _query_or_error(request: HttpRequest) -> tuple[ReportQuery | None, list[str]]:
    try:
        return parse_report_query(request.GET), []
    except ReportQueryError as exc:
        return None, exc.messages


@dataclass(frozen=True)
class ReportKind:
    """One report page and its XLSX export: what differs between the home-care, appointment and HIS
    reports. The page and the export share the guard, the query parsing, the scope errors and the
    response shape (`report_page`, `report_xlsx`)."""

    url_name: str  # the page's URL name in the "reports" namespace; the export's is url_name + "_xlsx"
    template: str
    title: Any  # lazy text
    build: Callable[..., Any]  # (user=, date_from=, date_to=, facility_id=) -> the report; LookupError
    export: Callable[..., tuple[str, bytes]]  # same arguments -> (filename, xlsx bytes)
    context: Callable[[Any, ReportQuery], dict[str, Any]]  # the page's own figures and charts
    facilities: Callable[[Any], Any]  # facilities the user may pick from
    can_view: Callable[[Any], bool]  # who may see it (facilities.access through the family's selectors)
    denied: Any  # who the report is for, on the 403 page (lazy text)

    def page_view(self) -> Callable[[HttpRequest], HttpResponse]:
        """The page's view: `?from=dd/mm/yyyy&to=dd/mm/yyyy&facility=<id>` (GET only)."""

        @require_GET
        def view(request: HttpRequest) -> HttpResponse:
            return report_page(request, self)

        view.__name__ = view.__qualname__ = self.url_name
        return view

    def xlsx_view(self) -> Callable[[HttpRequest], HttpResponse]:
        """The export's view: the same query, an XLSX download (GET only)."""

        @require_GET
        def view(request: HttpRequest) -> HttpResponse:
            return report_xlsx(request, self)

        view.__name__ = view.__qualname__ = f"{self.url_name}_xlsx"
        return view


def report_page(request: HttpRequest, kind: ReportKind) -> HttpResponse:
    """`?from=dd/mm/yyyy&to=dd/mm/yyyy&facility=<id>`: the report, or the form with errors (400)."""
    if (response := guard(request, kind.can_view, kind.denied)) is not None:
        return response
    user = request.user
    raw = {key: request.GET.get(key, "") for key in ("from", "to", "facility")}
    context: dict[str, Any] = {
        "title": kind.title,
        "facilities": kind.facilities(user),
        "raw": raw,
        "selected_facility": _selected_facility(raw["facility"]),
    }
    query, errors = _query_or_error(request)
    report = None
    if query is not None:
        try:
            report = kind.build(
                user=user, date_from=query.date_from, date_to=query.date_to, facility_id=query.facility_id
            )
        except LookupError:
            errors = _not_in_scope()
        except PermissionDenied:
            return _denied(request, kind.denied)
    if report is None or query is None:
        return page(request, kind.template, {**context, "errors": errors}, status=400)
    params = {
        "from": f"{query.date_from:%d/%m/%Y}",
        "to": f"{query.date_to:%d/%m/%Y}",
        **({"facility": str(query.facility_id)} if query.facility_id else {}),
    }
    context.update(
        report=report,
        query=query,
        form_from=params["from"],
        form_to=params["to"],
        selected_facility=query.facility_id or (report.root.pk if report.root else None),
        export_url=reverse(f"reports:{kind.url_name}_xlsx") + "?" + urlencode(params),
        scope_label=report.root.name if report.root else _("Tất cả cơ sở bạn được xem"),
        **kind.context(report, query),
    )
    return page(request, kind.template, context)


def report_xlsx(request: HttpRequest, kind: ReportKind) -> HttpResponse:
    """The same report as an XLSX download (audited by the export service); errors as the page shows them."""
    if (response := guard(request, kind.can_view, kind.denied)) is not None:
        return response
    query, errors = _query_or_error(request)
    base = {"title": kind.title, "facilities": [], "raw": {}}
    if query is None:
        return page(request, kind.template, {**base, "errors": errors}, status=400)
    try:
        filename, content = kind.export(
            user=request.user, date_from=query.date_from, date_to=query.date_to, facility_id=query.facility_id
        )
    except LookupError:
        context = {**base, "errors": _not_in_scope(), "facilities": kind.facilities(request.user)}
        return page(request, kind.template, context, status=400)
    except PermissionDenied:
        return _denied(request, kind.denied)
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def unit_sections(report: Any, levels: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Tables top-down, one per level (`levels`: (level, title) pairs); each unit a group of its day rows."""
    sections = []
    for level, title in levels:
        units = report.units.get(level, [])
        if not units:
            continue
        rows = report.rows(level)
        groups = [{"unit": unit, "rows": [row for row in rows if row.unit.id == unit.id]} for unit in units]
        sections.append({"level": level, "title": title, "groups": groups})
    return sections
