"""The patient's side of HIS linking: ask to link the account with one's hospital record (HIS patient code,
BHYT number or CCCD), see where each hospital's link stands, print the link form for the reception desk,
unlink; then the visit history with lab results, the lab results alone, and a printable summary.

Whom the account acts for is resolved on every request through access.patients_for (the family switch of
/ca-nhan); the records come from his.selectors, which read through access.his_records_for: only rows of the
account's own patients from active links. An id outside that scope is a 404, never someone else's record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import dateformat, timezone, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from health_f0.core.exceptions import DomainError
from health_f0.core.keyset import Keyset
from health_f0.his import selectors as his_selectors
from health_f0.his.models import (
    OPEN_LINK_STATUSES,
    OUT_OF_RANGE_FLAGS,
    PRELIMINARY_REPORT_STATUSES,
    HisLabReport,
    HisLabResult,
    HisVisit,
    LabFlag,
    LinkChannel,
)
from health_f0.his.services import link_form_pdf, link_request_create, link_unlink
from health_f0.his.transitions import link_actions
from health_f0.payments import selectors as payment_selectors
from health_f0.privacy.models import ConsentChannel, ConsentMethod
from health_f0.privacy.services import consent_record
from health_f0.www import selectors
from health_f0.www.his_forms import LinkRequestForm, UnlinkForm
from health_f0.www.monitoring_views import _staff_or_missing
from health_f0.www.paging import PAGE_PARAM, keyset_page
from health_f0.www.templatetags.payment_tags import visit_bill
from health_f0.www.views import _error_summary, _page, patient_choice

SESSION_FLASH = "www_his_flash"
VISITS_PER_PAGE = 20
RESULTS_PER_PAGE = 50
# A visit's results on /ho-so-kham (all of them on /ket-qua-xet-nghiem and in the printed summary).
RESULTS_PER_VISIT = 40
VISIT_KEYSET = Keyset(his_selectors.PORTAL_VISIT_ORDER)
LAB_KEYSET = Keyset(his_selectors.PORTAL_LAB_ORDER)
PRINT_VISITS = 100

FLASHES = {
    "linked": gettext_lazy(
        "Đã liên kết tài khoản với hồ sơ bệnh viện. Lịch sử khám và kết quả xét nghiệm sẽ hiện ở trang "
        "Hồ sơ khám bệnh khi bệnh viện gửi dữ liệu."
    ),
    "waiting": gettext_lazy(
        "Đã gửi yêu cầu liên kết. Cán bộ bệnh viện sẽ kiểm tra và nhắn tin cho bạn. Để nhanh hơn, hãy tải "
        "phiếu đề nghị liên kết và mang đến quầy tiếp đón."
    ),
    "unlinked": gettext_lazy("Đã huỷ liên kết. Hồ sơ của bệnh viện này không còn hiện trong tài khoản."),
}

# Hospitals on /lien-ket-ho-so: linked ones first, then what waits, then what the patient may (re)ask.
STATE_ORDER = {"linked": 0, "waiting": 1, "rejected": 2, "unlinked": 3, "none": 4}

# The flag in words and a symbol, so it never depends on colour alone.
FLAG_TEXT: dict[str, tuple[Any, str, str]] = {
    LabFlag.HIGH: (gettext_lazy("Cao"), "↑", "flag-high"),
    LabFlag.LOW: (gettext_lazy("Thấp"), "↓", "flag-low"),
    LabFlag.NORMAL: (gettext_lazy("Bình thường"), "", "flag-normal"),
}


# --- Display helpers --------------------------------------------------------------------------------


def _number(value: Decimal | None) -> str:
    """7.8000 -> '7,8' (Vietnamese decimal comma), 100.0000 -> '100' (his.selectors.decimal_text)."""
    return his_selectors.decimal_text(value)


def _reference(result: HisLabResult) -> str:
    # From the range's numbers when the HIS sent them: the same separator as the value, portal and desk.
    return his_selectors.lab_reference_text(result)


@dataclass(frozen=True)
class LabRow:
    # A HisLabResult (visits, print) or a PortalLabResult (/ket-qua-xet-nghiem): the same attributes.
    result: Any
    value: str
    reference: str
    flag_label: str
    flag_symbol: str
    flag_class: str

    @property
    def out_of_range(self) -> bool:
        return self.result.is_out_of_range

    def _flag_html(self) -> str:
        """The flag's `<span>` after the value (the lab table and the lab result item), '' for none."""
        if not self.flag_label:
            return ""
        result = self.result
        symbol = f'<span aria-hidden="true">{escape(self.flag_symbol)} </span>' if self.flag_symbol else ""
        outside = ""
        if result.is_out_of_range:
            # Outside the f-string, where makemessages (xgettext) finds it.
            words = escape(_("ngoài khoảng tham chiếu"))
            outside = f'<span class="visually-hidden"> — {words}</span> ({escape(result.flag)})'
        label = escape(self.flag_label)
        return f' <span class="flag {escape(self.flag_class)}">{symbol}{label}{outside}</span>'

    def _item_html(self, *, nested: bool) -> SafeString:
        """The result's `<li>` on /ket-qua-xet-nghiem as the per-row include wrote it (`nested`: under its
        report, without the date and place), built here rather than by an include per row (issue 11)."""
        result = self.result
        css = ("" if nested else "card ") + "lab-item" + (" row-out" if self.out_of_range else "")
        unit = " " + escape(result.unit) if result.unit else ""
        reference = ""
        if self.reference:
            text = _("Khoảng tham chiếu: %(ref)s") % {"ref": escape(self.reference)}
            reference = f'<p class="muted">{text}</p>'
        conclusion = f"<p>{escape(result.conclusion)}</p>" if result.conclusion else ""
        where = ""
        if not nested:
            when = ""
            if result.observed_at is not None:
                local = timezone.localtime(result.observed_at)
                when = (
                    f'<time datetime="{escape(dateformat.format(local, "c"))}">'
                    f"{escape(dateformat.format(local, 'd/m/Y'))}</time> · "
                )
            department = result.visit.department_label if result.visit is not None else ""
            department = f" · {escape(department)}" if department else ""
            where = f'<p class="muted">{when}{escape(result.facility.name)}{department}</p>'
        return mark_safe(  # noqa: S308 - every value above is escaped
            f'<li class="{css}">\n'
            f"    <h3>{escape(result.name)}</h3>\n"
            f'    <p class="lab-value">{escape(self.value)}{unit}{self._flag_html()}</p>\n'
            f"    {reference}\n"
            f"    {conclusion}\n"
            f"    {where}\n"
            "  </li>\n"
        )

    @property
    def item_card(self) -> SafeString:
        return self._item_html(nested=False)

    @property
    def item_nested(self) -> SafeString:
        return self._item_html(nested=True)

    @property
    def table_row(self) -> SafeString:
        """The row's `<tr>` of www/his_lab_table.html, built here rather than by the template engine (a visits
        page holds up to 800 of them: issue 11); the same HTML the template wrote."""
        result = self.result
        value = escape(self.value) + (" " + escape(result.unit) if result.unit else "")
        flag = self._flag_html()
        conclusion = (
            f'<br><span class="muted">{escape(result.conclusion)}</span>' if result.conclusion else ""
        )
        css = ' class="row-out"' if self.out_of_range else ""
        return mark_safe(  # noqa: S308 - every value above is escaped
            f'<tr{css}><th scope="row">{escape(result.name)}</th>\n'
            f'      <td><span class="value">{value}</span>{flag}{conclusion}</td>\n'
            f'      <td class="ref">{escape(self.reference or "—")}</td></tr>'
        )


_FLAG_TEXTS: dict[str | None, dict[str, tuple[str, str, str]]] = {}


def _flag_text(flag: str) -> tuple[str, str, str]:
    """FLAG_TEXT's entry with its label as text in the active language (worked out once per language)."""
    language = translation.get_language()
    texts = _FLAG_TEXTS.get(language)
    if texts is None:
        texts = _FLAG_TEXTS[language] = {
            key: (str(label), symbol, css) for key, (label, symbol, css) in FLAG_TEXT.items()
        }
    return texts.get(flag, ("", "", ""))


def lab_row(result: Any) -> LabRow:
    """A result's row (a HisLabResult, or a PortalLabResult: the same attributes)."""
    value = his_selectors.lab_value_text(result)
    label, symbol, css = _flag_text(result.flag)
    return LabRow(
        result=result,
        value=value or "—",
        reference=_reference(result),
        flag_label=label,
        flag_symbol=symbol,
        flag_class=css,
    )


@dataclass(frozen=True)
class PortalLabReport:
    """What /ket-qua-xet-nghiem shows of a lab report (HisLabReport's attributes the page reads)."""

    pk: int
    name: str
    status: str
    issued_at: Any
    effective_at: Any
    conclusion: str

    @property
    def is_preliminary(self) -> bool:
        return self.status in PRELIMINARY_REPORT_STATUSES


@dataclass(frozen=True)
class PortalPlace:
    """A result's facility (its name) and visit (its department), as the page reads them."""

    name: str = ""
    department_label: str = ""


@dataclass(frozen=True)
class PortalLabResult:
    """A row of his.selectors.portal_lab_result_rows with HisLabResult's attribute names (lab_row, the page)."""

    pk: int
    name: str
    value: str
    value_number: Decimal | None
    unit: str
    reference_low: Decimal | None
    reference_high: Decimal | None
    reference_text: str
    flag: str
    conclusion: str
    observed_at: Any
    report_id: int | None
    report: PortalLabReport | None
    facility: PortalPlace
    visit: PortalPlace | None
    visit_id: int | None = None

    @property
    def is_out_of_range(self) -> bool:
        return self.flag in OUT_OF_RANGE_FLAGS


def portal_lab_results(rows: list[dict[str, Any]]) -> list[PortalLabResult]:
    """The page's rows as PortalLabResult, one PortalLabReport per report and one PortalPlace per facility."""
    reports: dict[int, PortalLabReport] = {}
    facilities: dict[str, PortalPlace] = {}
    results = []
    for row in rows:
        report = None
        report_id = row["report_id"]
        if report_id is not None:
            report = reports.get(report_id)
            if report is None:
                report = reports[report_id] = PortalLabReport(
                    pk=report_id,
                    name=row["report__name"],
                    status=row["report__status"],
                    issued_at=row["report__issued_at"],
                    effective_at=row["report__effective_at"],
                    conclusion=row["report__conclusion"],
                )
        facility_name = row["facility__name"]
        facility = facilities.get(facility_name)
        if facility is None:
            facility = facilities[facility_name] = PortalPlace(name=facility_name)
        visit = None
        if row["visit_id"] is not None:
            label = his_selectors.department_label(
                code=row["visit__department_code"], name=row["visit__department_name"]
            )
            visit = PortalPlace(department_label=label)
        results.append(
            _lab_result(
                row,
                observed_at=row["observed_at"],
                report_id=report_id,
                report=report,
                facility=facility,
                visit=visit,
            )
        )
    return results


def _lab_result(row: dict[str, Any], **context: Any) -> PortalLabResult:
    """A PortalLabResult of a row's own columns (the result's value and reference) and `context`."""
    return PortalLabResult(
        pk=row["id"],
        name=row["name"],
        value=row["value"],
        value_number=row["value_number"],
        unit=row["unit"],
        reference_low=row["reference_low"],
        reference_high=row["reference_high"],
        reference_text=row["reference_text"],
        flag=row["flag"],
        conclusion=row["conclusion"],
        **context,
    )


_NO_PLACE = PortalPlace()


def visit_lab_results(rows: list[dict[str, Any]]) -> list[PortalLabResult]:
    """The rows of his.selectors.portal_visit_lab_result_rows as PortalLabResult (a visit's table reads
    neither the report, the facility nor the time: they are left empty)."""
    return [
        _lab_result(
            row,
            observed_at=None,
            report_id=None,
            report=None,
            facility=_NO_PLACE,
            visit=None,
            visit_id=row["visit_id"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class LabGroup:
    """Consecutive results of one lab report (`report` None: results issued without a report)."""

    report: HisLabReport | None
    rows: list[LabRow]


def lab_groups(rows: list[LabRow]) -> list[LabGroup]:
    """The rows of a page (ordered by report, see lab_results_for(by_report=True)) under their report."""
    groups: list[LabGroup] = []
    for row in rows:
        report = row.result.report
        if groups and (groups[-1].report.pk if groups[-1].report else None) == row.result.report_id:
            groups[-1].rows.append(row)
        else:
            groups.append(LabGroup(report=report, rows=[row]))
    return groups


@dataclass(frozen=True)
class VisitRow:
    visit: HisVisit
    results: list[LabRow]
    # More results than shown (per_visit of _visit_rows): the page links to the lab results list.
    more_results: bool = False
    # The bill's (paying payment, gateway offered), read for the whole page (payments.selectors.visit_bills).
    bill: tuple[Any, bool] | None = None

    @property
    def bill_view(self) -> dict[str, Any]:
        """What www/_pay_visit_bill.html shows of the visit's bill."""
        return visit_bill(self.visit, self.bill)

    @property
    def same_day(self) -> bool:
        start, end = self.visit.admitted_at, self.visit.discharged_at
        if start is None or end is None:
            return True
        return bool(timezone.localdate(start) == timezone.localdate(end))


def _visit_rows(
    user: Any, patient: Any, visits: list[HisVisit], per_visit: int | None = None
) -> list[VisitRow]:
    """The visits with their lab results: one query for all the results of these visits (at most
    `per_visit` of each when given)."""
    by_visit: dict[int, list[LabRow]] = {v.pk: [] for v in visits}
    if visits and per_visit is not None:
        # The visits page: constant SQL (his/sql/visits.py), the rows of visit_lab_results(per_visit=…).
        rows = his_selectors.portal_visit_lab_result_rows(
            user=user, patient=patient, visit_ids=list(by_visit), per_visit=per_visit + 1
        )
        for portal_result in visit_lab_results(rows):
            by_visit[portal_result.visit_id].append(lab_row(portal_result))  # type: ignore[index]
    elif visits:
        for result in his_selectors.visit_lab_results(user=user, patient=patient, visits=visits):
            by_visit[result.visit_id].append(lab_row(result))  # type: ignore[index]
    bills = payment_selectors.visit_bills(visits)
    if per_visit is None:
        return [VisitRow(visit=v, results=by_visit[v.pk], bill=bills.get(v.pk)) for v in visits]
    return [
        VisitRow(
            visit=v,
            results=by_visit[v.pk][:per_visit],
            more_results=len(by_visit[v.pk]) > per_visit,
            bill=bills.get(v.pk),
        )
        for v in visits
    ]


def _pop_flash(request: HttpRequest) -> str:
    return str(FLASHES.get(request.session.pop(SESSION_FLASH, ""), ""))


def _own_request(user: Any, public_id: uuid.UUID) -> Any:
    request = (
        his_selectors.link_requests_for(user=user)
        .select_related("patient__facility", "facility__parent")
        .filter(public_id=public_id)
        .first()
    )
    if request is None:
        raise Http404(_("Không tìm thấy yêu cầu liên kết."))
    return request


def _own_link(user: Any, public_id: uuid.UUID) -> Any:
    link = his_selectors.links_for(user=user).filter(public_id=public_id).first()
    if link is None:
        raise Http404(_("Không tìm thấy liên kết."))
    return link


# --- Linking --------------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def his_links(request: HttpRequest) -> HttpResponse:
    """/lien-ket-ho-so: where each hospital's link stands, and the form asking for a link."""
    choice = patient_choice(request)
    early = _staff_or_missing(request, choice)
    if early is not None:
        return early
    patient = choice.current
    assert patient is not None
    status = 200
    page_error = ""
    form: LinkRequestForm | None = None
    if request.method == "POST":
        wanted = request.POST.get("patient") or ""
        patient = next((p for p in choice.patients if str(p.public_id) == wanted), None)
        if patient is None:
            raise Http404(_("Không tìm thấy người bệnh."))
        overview = his_selectors.link_overview(user=request.user, patient=patient)
        facilities = [row.facility for row in overview if row.can_request]
        form = LinkRequestForm(request.POST, facilities=facilities)
        status = 400
        if form.is_valid():
            try:
                # The statement next to the button, recorded first: a refused lookup was still consented to.
                consent_record(
                    channel=ConsentChannel.HIS_LINK_WEB,
                    method=ConsentMethod.SUBMIT,
                    user=request.user,
                    patient=patient,
                    policy_version=form.cleaned_data.get("policy_version") or None,
                )
                created = link_request_create(
                    patient=patient,
                    identifier_type=form.cleaned_data["identifier_type"],
                    identifier=form.cleaned_data["identifier"],
                    channel=LinkChannel.PORTAL,
                    actor=request.user,
                    facility=form.chosen_facility(),
                )
            except DomainError as exc:
                if exc.field in form.fields and exc.field != "patient":
                    form.add_error(exc.field, exc.message)
                else:
                    page_error = exc.message
                status = exc.status_code
            else:
                request.session[SESSION_FLASH] = "linked" if created.status == "linked" else "waiting"
                request.session[selectors.SESSION_PATIENT] = str(patient.public_id)
                return redirect("www:his_links")
    overview = sorted(
        his_selectors.link_overview(user=request.user, patient=patient),
        key=lambda row: STATE_ORDER.get(row.state, len(STATE_ORDER)),
    )
    facilities = [row.facility for row in overview if row.can_request]
    if form is None and facilities:
        form = LinkRequestForm(
            initial={"patient": patient.public_id, "identifier_type": "bhyt"}, facilities=facilities
        )
    return _page(
        request,
        "www/his_links.html",
        {
            "choice": choice,
            "patient": patient,
            "overview": overview,
            "any_linked": any(row.state == "linked" for row in overview),
            "form": form if facilities else None,
            "error_summary": _error_summary(form) if form is not None and form.is_bound else [],
            "page_error": page_error,
            "flash": _pop_flash(request),
        },
        status=status,
    )


@never_cache
@login_required
@require_GET
def his_link_form(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The printable link form (PDF) of one of the account's waiting requests, for the reception desk."""
    link_request = _own_request(request.user, public_id)
    if link_request.status not in OPEN_LINK_STATUSES:
        raise Http404(_("Yêu cầu này đã được xử lý; không cần phiếu đề nghị nữa."))
    response = HttpResponse(link_form_pdf(request=link_request), content_type="application/pdf")
    short = str(link_request.public_id)[:8]
    response["Content-Disposition"] = f'attachment; filename="phieu-lien-ket-ho-so-{short}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def his_unlink(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """/lien-ket-ho-so/<link>/huy: confirm, with a reason, ending the account's own link."""
    link = _own_link(request.user, public_id)
    if "unlink" not in link_actions(link, request.user):
        raise Http404(_("Liên kết này đã được huỷ."))
    form = UnlinkForm(request.POST if request.method == "POST" else None)
    status = 200
    page_error = ""
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                link_unlink(link=link, actor=request.user, reason=form.cleaned_data["reason"])
            except DomainError as exc:
                if exc.field == "reason":
                    form.add_error("reason", exc.message)
                else:
                    page_error = exc.message
                status = exc.status_code
            else:
                request.session[SESSION_FLASH] = "unlinked"
                request.session[selectors.SESSION_PATIENT] = str(link.patient.public_id)
                return redirect("www:his_links")
    return _page(
        request,
        "www/his_unlink.html",
        {
            "link": link,
            "patient": link.patient,
            "form": form,
            "page_error": page_error,
            "error_summary": _error_summary(form) if form.is_bound else [],
        },
        status=status,
    )


# --- Records ----------------------------------------------------------------------------------------


def _records_context(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    choice = patient_choice(request)
    early = _staff_or_missing(request, choice)
    if early is not None:
        return early
    patient = choice.current
    links = list(his_selectors.links_for(user=request.user, patient=patient))
    return {"choice": choice, "patient": patient, "links": links}


@never_cache
@login_required
@require_GET
def his_visits(request: HttpRequest) -> HttpResponse:
    """/ho-so-kham: the chosen patient's visits, newest first, each with its lab results."""
    context = _records_context(request)
    if isinstance(context, HttpResponse):
        return context
    user, patient = request.user, context["patient"]
    if not context["links"]:
        return _page(request, "www/his_visits.html", context)
    dated, undated_visits = his_selectors.portal_visits(user=user, patient=patient)
    pager = keyset_page(request, dated, VISIT_KEYSET, size=VISITS_PER_PAGE, param=PAGE_PARAM)
    shown = list(pager.items)
    undated_more = False
    if pager.next_url is None:
        # Visits without a time come after the dated ones, on the last page (a bounded few).
        undated = list(undated_visits[: VISITS_PER_PAGE + 1])
        shown += undated[:VISITS_PER_PAGE]
        undated_more = len(undated) > VISITS_PER_PAGE
    context.update(
        pager=pager,
        rows=_visit_rows(user, patient, shown, per_visit=RESULTS_PER_VISIT),
        undated_more=undated_more,
        undated_limit=VISITS_PER_PAGE,
    )
    return _page(request, "www/his_visits.html", context)


@never_cache
@login_required
@require_GET
def his_lab_results(request: HttpRequest) -> HttpResponse:
    """/ket-qua-xet-nghiem: the chosen patient's lab results, newest first; ?bat-thuong=1 only H/L."""
    context = _records_context(request)
    if isinstance(context, HttpResponse):
        return context
    out_of_range = request.GET.get("bat-thuong") == "1"
    context.update(out_of_range=out_of_range)
    if not context["links"]:
        return _page(request, "www/his_lab_results.html", context)
    # Constant SQL (his/sql/lab_results.py): the same rows and cursors as portal_lab_results' queryset.
    results = his_selectors.portal_lab_result_rows(
        user=request.user, patient=context["patient"], out_of_range_only=out_of_range
    )
    pager = keyset_page(request, results, LAB_KEYSET, size=RESULTS_PER_PAGE, param=PAGE_PARAM)
    rows = [lab_row(r) for r in portal_lab_results(pager.items)]
    context.update(pager=pager, rows=rows, groups=lab_groups(rows))
    return _page(request, "www/his_lab_results.html", context)


@never_cache
@login_required
@require_GET
def his_print(request: HttpRequest) -> HttpResponse:
    """/ho-so-kham/in: a printable summary of the chosen patient's visits and their lab results."""
    context = _records_context(request)
    if isinstance(context, HttpResponse):
        return context
    user, patient = request.user, context["patient"]
    visits = list(his_selectors.visits_for(user=user, patient=patient)[: PRINT_VISITS + 1])
    context.update(
        rows=_visit_rows(user, patient, visits[:PRINT_VISITS]),
        truncated=len(visits) > PRINT_VISITS,
        limit=PRINT_VISITS,
        printed_at=timezone.localtime(),
    )
    return _page(request, "www/his_print.html", context)
