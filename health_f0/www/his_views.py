"""The patient's side of HIS linking: ask to link the account with one's hospital record (HIS patient code,
BHYT number or CCCD), see where each hospital's link stands, print the link form for the reception desk,
unlink; then the visit history with lab results, the lab results alone, and a printable summary.

Whom the account acts for is resolved on every request through access.patients_for (the family switch of
/ca-nhan); the records come from his.selectors, which read through access.his_records_for: only rows of the
account's own patients from active links. An id outside that scope is a 404, never someone else's record.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import get_script_prefix, get_urlconf
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from health_f0.core.exceptions import DomainError
from health_f0.core.keyset import Keyset
from health_f0.his import selectors as his_selectors
from health_f0.his.models import OPEN_LINK_STATUSES, IdentifierType, LinkChannel
from health_f0.his.services import link_form_pdf, link_request_create, link_unlink
from health_f0.his.transitions import link_actions
from health_f0.privacy.models import ConsentChannel, ConsentMethod
from health_f0.privacy.selectors import policy_of_request
from health_f0.privacy.services import consent_record
from health_f0.www import selectors
from health_f0.www.caching import never_cache
from health_f0.www.his_forms import LinkFormDrawing, LinkRequestForm, UnlinkForm, link_form_drawing
from health_f0.www.his_rows import (
    lab_groups,
    lab_list,
    lab_row,
    link_items,
    portal_lab_results,
    portal_visits,
    row_texts,
    visit_cards,
    visit_rows,
)
from health_f0.www.jinja import choice_labels, urls_for
from health_f0.www.monitoring_views import _staff_or_missing
from health_f0.www.paging import PAGE_PARAM, keyset_page
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
        overview = his_selectors.link_overview_sql(user=request.user, patient=patient)
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
        his_selectors.link_overview_sql(user=request.user, patient=patient),
        key=lambda row: STATE_ORDER.get(row.state, len(STATE_ORDER)),
    )
    facilities = [row.facility for row in overview if row.can_request]
    shown: LinkRequestForm | LinkFormDrawing | None = form
    policy_version = ""
    if form is not None:
        policy_version = form["policy_version"].value()
    elif facilities:
        # The empty form, drawn once per language, policy version and hospitals offered (his_forms). The policy
        # in force as the consent check of this request read it (privacy.middleware): no second cache read.
        policy_version = policy_of_request(request).version
        shown = link_form_drawing(patient=patient, facilities=facilities, policy_version=policy_version)
    # row.request.get_identifier_type_display(), by the kept labels
    identifier_labels = choice_labels(IdentifierType)
    return _page(
        request,
        "www/his_links.html",
        {
            "choice": choice,
            "patient": patient,
            "overview": overview,
            # The hospitals' items, with the links the page's `url` writes (www.jinja.context's).
            "link_items": link_items(
                overview,
                identifier_labels,
                urls_for(get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF),
            ),
            "any_linked": any(row.state == "linked" for row in overview),
            "form": shown if facilities else None,
            "policy_version": policy_version,
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


def _records_context(request: HttpRequest) -> tuple[dict[str, Any], his_selectors.RecordScope] | HttpResponse:
    """The page's patient and the account's record scope (his.selectors.RecordScope), read once for whether
    the patient has an active link (`linked`) and for the page's lists. A patient account's active links are
    read with its patients, in the patient choice's statement."""
    choice = patient_choice(request, his_links=True)
    early = _staff_or_missing(request, choice)
    if early is not None:
        return early
    patient = choice.current
    scope = his_selectors.RecordScope.of(request.user)
    return {"choice": choice, "patient": patient, "linked": scope.linked(patient)}, scope


@never_cache
@login_required
@require_GET
def his_visits(request: HttpRequest) -> HttpResponse:
    """/ho-so-kham: the chosen patient's visits, newest first, each with its lab results."""
    found = _records_context(request)
    if isinstance(found, HttpResponse):
        return found
    context, scope = found
    user, patient = request.user, context["patient"]
    if not context["linked"]:
        return _page(request, "www/his_visits.html", context)
    # Constant SQL (his/sql/visits.py), the scope read once for the visits and their results: the rows and
    # cursors of his_selectors.portal_visits' querysets.
    # A page read forwards brings the first undated visits in the same statement (DatedVisits).
    dated = his_selectors.dated_portal_visit_rows(
        scope=scope, patient=patient, undated_limit=VISITS_PER_PAGE + 1
    )
    pager = keyset_page(request, dated, VISIT_KEYSET, size=VISITS_PER_PAGE, param=PAGE_PARAM)
    shown = portal_visits(pager.items)
    undated_more = False
    if pager.next_url is None:
        # Visits without a time come after the dated ones, on the last page (a bounded few).
        found = dated.undated_rows
        if found is None:
            undated_rows = his_selectors.portal_visit_rows(scope=scope, patient=patient, timed=False)
            found = undated_rows.fetch(ordering=("-id",), limit=VISITS_PER_PAGE + 1)
        undated = portal_visits(found)
        shown += undated[:VISITS_PER_PAGE]
        undated_more = len(undated) > VISITS_PER_PAGE
    rows = visit_rows(scope, user, patient, shown, per_visit=RESULTS_PER_VISIT)
    context.update(
        pager=pager,
        rows=rows,
        cards=visit_cards(rows),
        undated_more=undated_more,
        undated_limit=VISITS_PER_PAGE,
    )
    return _page(request, "www/his_visits.html", context)


@never_cache
@login_required
@require_GET
def his_lab_results(request: HttpRequest) -> HttpResponse:
    """/ket-qua-xet-nghiem: the chosen patient's lab results, newest first; ?bat-thuong=1 only H/L."""
    found = _records_context(request)
    if isinstance(found, HttpResponse):
        return found
    context, scope = found
    out_of_range = request.GET.get("bat-thuong") == "1"
    context.update(out_of_range=out_of_range)
    if not context["linked"]:
        return _page(request, "www/his_lab_results.html", context)
    # Constant SQL (his/sql/lab_results.py): the same rows and cursors as portal_lab_results' queryset.
    results = his_selectors.portal_lab_result_rows(
        user=request.user, patient=context["patient"], out_of_range_only=out_of_range, scope=scope
    )
    pager = keyset_page(request, results, LAB_KEYSET, size=RESULTS_PER_PAGE, param=PAGE_PARAM)
    texts = row_texts()  # the page's language and time zone, once for its rows
    rows = [lab_row(r, texts) for r in portal_lab_results(pager.items)]
    context.update(pager=pager, rows=rows, lab_list=lab_list(lab_groups(rows)))
    return _page(request, "www/his_lab_results.html", context)


@never_cache
@login_required
@require_GET
def his_print(request: HttpRequest) -> HttpResponse:
    """/ho-so-kham/in: a printable summary of the chosen patient's visits and their lab results."""
    found = _records_context(request)
    if isinstance(found, HttpResponse):
        return found
    context, scope = found
    user, patient = request.user, context["patient"]
    if not context["linked"]:
        return _print_page(request, {**context, "links": [], "printed_at": timezone.localtime()})
    # Each hospital's code: links_for's rows by constant SQL (his/sql/links.py).
    links = his_selectors.patient_links_sql(user=user, patient=patient, related=False)
    # The visits of visits_for(patient) by constant SQL (his/sql/visits.py), as /ho-so-kham reads them.
    rows = his_selectors.portal_visit_rows(scope=scope, patient=patient, timed=None)
    visits = portal_visits(rows.fetch(ordering=rows.ordering, limit=PRINT_VISITS + 1))
    shown = visit_rows(scope, user, patient, visits[:PRINT_VISITS])
    context.update(
        links=links,
        rows=shown,
        cards=visit_cards(shown),
        truncated=len(visits) > PRINT_VISITS,
        limit=PRINT_VISITS,
        printed_at=timezone.localtime(),
    )
    return _print_page(request, context)


def _print_page(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The printed summary, drawn by Jinja2 (issue 11) and ending, as the Django template it was ended, in a
    newline (Jinja2 drops a template's last one): the same bytes."""
    response = _page(request, "www/his_print.html", context)
    response.content += b"\n"
    return response
