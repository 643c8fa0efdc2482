"""Portal pages for personal-data rights (Law 91/2025/QH15, Decree 356/2025/NĐ-CP): the policy in force, agreeing
to a new version, and "Dữ liệu cá nhân của tôi" — a copy of everything held (JSON now, a readable PDF built in
the background), the consent history, and withdrawal or deletion requests with their outcome.

Views parse input, call one privacy service or selector, and render. Access, export, withdrawal and deletion
stay reachable without agreeing to the policy (privacy.middleware lets these paths through).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from health_f0.core.exceptions import DomainError
from health_f0.facilities import access
from health_f0.privacy import exports, selectors
from health_f0.privacy import services as privacy_services
from health_f0.privacy.models import ConsentChannel, ExportStatus, RequestChannel, RequestStatus
from health_f0.privacy.transitions import REQUEST_WORKFLOW
from health_f0.www.caching import never_cache
from health_f0.www.privacy_forms import ConsentForm, DataRequestForm
from health_f0.www.views import _error_summary, _page

STATUS_CLASS: dict[str, str] = {
    RequestStatus.SUBMITTED: "badge-info",
    RequestStatus.COMPLETED: "badge-none",
    RequestStatus.REJECTED: "badge-urgent",
    RequestStatus.CANCELLED: "badge-muted",
}


def policy(request: HttpRequest) -> HttpResponse:
    """The policy in force: the product's standard text, or the text the Department published."""
    current = selectors.policy_current()
    upcoming = selectors.policy_upcoming()
    context = {"policy_version": current.version, "policy": current, "upcoming": upcoming}
    if not current.body:
        return _page(request, "www/privacy.html", context)
    paragraphs = [p.strip() for p in current.body.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return _page(request, "www/privacy_policy.html", {**context, "paragraphs": paragraphs})


def _safe_next(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("www:me")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest) -> HttpResponse:
    """Agree to the policy in force (asked after a new version, or after a withdrawal)."""
    if access.is_staff_member(request.user):
        return redirect("admin:index")
    current = selectors.policy_current()
    needed = selectors.consent_required_version(request.user) is not None
    form = ConsentForm(
        request.POST if request.method == "POST" else None, initial={"policy_version": current.version}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                privacy_services.consent_give(
                    user=request.user,
                    channel=ConsentChannel.PORTAL,
                    policy_version=form.cleaned_data["policy_version"],
                )
            except DomainError as exc:
                form = ConsentForm(initial={"policy_version": current.version})
                form.add_error(None, exc.message)
                status = exc.status_code
            else:
                return redirect(_safe_next(request))
    return _page(
        request,
        "www/privacy_consent.html",
        {
            "form": form,
            "policy": current,
            "needed": needed,
            "next": _safe_next(request),
            "error_summary": _error_summary(form) if form.is_bound or form.errors else [],
        },
        status=status,
    )


def _request_rows(user: Any) -> list[dict[str, Any]]:
    now = timezone.now()
    return [
        {
            "request": r,
            "badge": STATUS_CLASS.get(r.status, "badge-muted"),
            "overdue": r.status == RequestStatus.SUBMITTED and r.due_at < now,
            # The "Huỷ yêu cầu" button: the workflow says whether this account may cancel it now.
            "can_cancel": REQUEST_WORKFLOW.can(r, "cancel", user, now=now),
        }
        for r in selectors.requests_for_account(user=user)[:20]
    ]


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def my_data(request: HttpRequest) -> HttpResponse:
    """Dữ liệu cá nhân của tôi: the copy, the consents, the requests (and sending one)."""
    user: Any = request.user
    if access.is_staff_member(user):
        return redirect("admin:index")
    patients = list(access.own_patients_for(user).select_related("facility").order_by("pk"))
    form = DataRequestForm(request.POST if request.method == "POST" else None, patients=patients)
    status = 200
    page_error = ""
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                created = privacy_services.request_submit(
                    user=user,
                    patient=form.chosen_patient(),
                    kind=form.cleaned_data["kind"],
                    reason=form.cleaned_data["reason"],
                    channel=RequestChannel.PORTAL,
                )
            except DomainError as exc:
                if exc.field in form.fields:
                    form.add_error(exc.field, exc.message)
                else:
                    page_error = exc.message
                status = exc.status_code
            else:
                request.session["privacy_request_sent"] = str(created.public_id)
                return redirect(reverse("www:my_data") + "#yeu-cau")
    export = selectors.latest_export(user=user)
    return _page(
        request,
        "www/privacy_my_data.html",
        {
            "patients": patients,
            "form": form,
            "page_error": page_error,
            "error_summary": _error_summary(form) if form.is_bound else [],
            "export": export,
            "export_building": export is not None
            and export.status in {ExportStatus.QUEUED, ExportStatus.RUNNING},
            "consents": selectors.consents_for_account(user=user),
            "requests": _request_rows(user),
            "sent": request.session.pop("privacy_request_sent", None),
            "policy": selectors.policy_current(),
            "consent_needed": selectors.consent_required_version(user) is not None,
            "deadline_days": _deadline_days(),
        },
        status=status,
    )


def _deadline_days() -> int:
    from django.conf import settings

    return int(settings.PRIVACY_REQUEST_RESPONSE_WORKING_DAYS)


@never_cache
@login_required
@require_GET
def export_json(request: HttpRequest) -> HttpResponseBase:
    """Everything held about the account's patients, as one JSON file, streamed."""
    if access.is_staff_member(request.user):
        raise Http404
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        exports.export_json_stream(user=request.user), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="du-lieu-ca-nhan-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def export_pdf(request: HttpRequest) -> HttpResponse:
    """Start building the readable PDF (or try a failed one again); the page shows its progress."""
    if access.is_staff_member(request.user):
        raise Http404
    try:
        latest = selectors.latest_export(user=request.user)
        if latest is not None and latest.status == ExportStatus.FAILED:
            exports.export_retry(export=latest, user=request.user)
        else:
            exports.export_pdf_request(user=request.user)
    except DomainError as exc:
        raise Http404(exc.message)
    return redirect(reverse("www:my_data") + "#ban-sao")


@never_cache
@login_required
@require_GET
def export_pdf_download(request: HttpRequest, public_id: str) -> HttpResponseBase:
    export = (
        access.data_exports_for(request.user)
        .filter(public_id=public_id, status=ExportStatus.READY, expires_at__gt=timezone.now())
        .first()
    )
    if export is None or not exports.export_path(export).exists():
        raise Http404(_("Không tìm thấy bản sao dữ liệu (có thể đã hết hạn)."))
    response = FileResponse(
        exports.export_path(export).open("rb"),
        content_type="application/pdf",
        as_attachment=True,
        filename=f"du-lieu-ca-nhan-{timezone.localtime(export.created_at):%Y%m%d-%H%M}.pdf",
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def request_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    found = access.privacy_requests_for(request.user).filter(public_id=public_id).first()
    if found is None or access.is_staff_member(request.user):
        raise Http404(_("Không tìm thấy yêu cầu."))
    with contextlib.suppress(DomainError):  # already decided: the list shows what happened
        privacy_services.request_cancel(request=found, actor=request.user)
    return redirect(reverse("www:my_data") + "#yeu-cau")
