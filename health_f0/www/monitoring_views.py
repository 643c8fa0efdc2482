"""The patient's side of daily home-care monitoring: declare, see the result and what to do now, history,
guidance, the completion certificate, and the public certificate check.

Whom the account acts for is resolved on every request through access.patients_for (a family shares one
phone): a patient id outside it is a 404, never someone else's record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from health_f0.core.exceptions import DomainError, ValidationErrors
from health_f0.core.keyset import Keyset
from health_f0.core.request_context import client_ip
from health_f0.facilities import access
from health_f0.monitoring import certificates
from health_f0.monitoring import selectors as monitoring
from health_f0.monitoring.models import AlertLevel, Declaration, EpisodeStatus
from health_f0.monitoring.services import active_questionnaire, declaration_submit, questions_for_patient
from health_f0.www import selectors
from health_f0.www.charts import Chart, Reading, series_chart, table_markup, table_rows
from health_f0.www.forms import DeclarationForm
from health_f0.www.paging import keyset_page
from health_f0.www.plain_text import render_plain
from health_f0.www.views import PATIENT_PARAM, _error_summary, _page, hotline_context, patient_choice

HISTORY_PER_PAGE = 30


HISTORY_KEYSET = Keyset(selectors.HISTORY_ORDER)


def status_context(patient: Any, user: Any) -> dict[str, Any]:
    status = monitoring.declaration_status(patient=patient)
    episode = status.episode
    return {
        "status": status,
        "episode": episode,
        "may_certificate": episode is not None
        and certificates.may_download_certificate(episode=episode, actor=user),
        **hotline_context(episode.facility if episode else patient.facility),
    }


def _staff_or_missing(request: HttpRequest, choice: selectors.PatientChoice) -> HttpResponse | None:
    if access.is_staff_member(request.user):
        return redirect("admin:index")
    if choice.current is None:
        return _page(request, "www/me_missing.html", {}, status=404)
    return None


def _declaration_form(request: HttpRequest, patient: Any, questions: list[Any]) -> DeclarationForm:
    # The key is made when the form is shown: a double tap or a resend of this same page is one declaration.
    initial = {"patient": patient.public_id, "idempotency_key": uuid.uuid4().hex}
    return DeclarationForm(initial=initial, questions=questions)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def declare(request: HttpRequest) -> HttpResponse:
    """The daily questionnaire for the chosen patient (Phần 2, bước 4)."""
    choice = patient_choice(request)
    early = _staff_or_missing(request, choice)
    if early is not None:
        return early
    _version, questionnaire = active_questionnaire()
    today = timezone.localdate()
    status = 200
    page_error = ""
    if request.method == "POST":
        # The form asks what this patient's age band is asked (child-only signs are not shown to adults).
        posted = str(request.POST.get("patient", "")).strip().lower()
        shown_for = next((p for p in choice.patients if str(p.public_id) == posted), choice.current)
        assert shown_for is not None
        questions = questions_for_patient(questions=questionnaire, patient=shown_for, on=today)
        form = DeclarationForm(request.POST, questions=questions)
        patient = None
        if form.is_valid():
            wanted = str(form.cleaned_data["patient"])
            patient = next((p for p in choice.patients if str(p.public_id) == wanted), None)
            if patient is None:
                raise Http404(_("Không tìm thấy người bệnh."))
            try:
                declaration, _created = declaration_submit(
                    patient=patient,
                    actor=request.user,
                    answers=form.answers(),
                    idempotency_key=form.cleaned_data.get("idempotency_key") or None,
                )
            except ValidationErrors as exc:
                form.add_service_errors(exc.errors)
            except DomainError as exc:
                page_error = exc.message
                status = 409
            else:
                request.session[selectors.SESSION_PATIENT] = str(patient.public_id)
                return redirect("www:declare_result", public_id=declaration.public_id)
        if status == 200:
            status = 400
        patient = patient or shown_for
    else:
        patient = choice.current
        assert patient is not None
        questions = questions_for_patient(questions=questionnaire, patient=patient, on=today)
        form = _declaration_form(request, patient, questions)
    assert patient is not None
    context = status_context(patient, request.user)
    danger_codes = sorted(
        o["code"] for q in questions if q.type == "multi" for o in q.options if o.get("danger")
    )
    return _page(
        request,
        "www/declare.html",
        {
            "choice": choice,
            "patient": patient,
            "form": form,
            "danger_codes": danger_codes,
            "error_summary": _error_summary(form) if form.is_bound else [],
            "page_error": page_error,
            "confirmed_now": bool(request.session.pop("www_confirmed", False)),
            **context,
        },
        status=status,
    )


@never_cache
@login_required
@require_GET
def declare_result(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    if access.is_staff_member(request.user):
        return redirect("admin:index")
    declaration = monitoring.declaration_of(user=request.user, public_id=public_id)
    if declaration is None:
        raise Http404(_("Không tìm thấy khai báo."))
    episode = declaration.episode
    status = monitoring.declaration_status(patient=declaration.patient)
    (view,) = monitoring.declaration_views([declaration])
    return _page(
        request,
        "www/declare_result.html",
        {
            "declaration": declaration,
            "view": view,
            "patient": declaration.patient,
            "episode": episode,
            # What to do now depends on the level (the reasons come from the triage rules).
            "level": declaration.alert_level if declaration.alert_level in AlertLevel.values else "none",
            "is_latest": status.last is not None and status.last.pk == declaration.pk,
            "deadline": status.deadline,
            "tomorrow": timezone.localdate() + timedelta(days=1),
            "patient_param": PATIENT_PARAM,
            **hotline_context(episode.facility),
        },
    )


@never_cache
@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """The chosen patient's declarations over the current (or last) episode, newest first, a keyset page at a
    time; the first page opens with charts of the episode's latest readings (selectors.chart_readings)."""
    choice = patient_choice(request)
    early = _staff_or_missing(request, choice)
    if early is not None:
        return early
    patient = choice.current
    assert patient is not None
    episode = monitoring.current_episode(patient=patient)
    context: dict[str, Any] = {"choice": choice, "patient": patient, "episode": episode}
    if episode is not None:
        history: Any = selectors.declaration_history(episode=episode)  # a SqlList, paged by keyset_page
        pager = keyset_page(request, history, HISTORY_KEYSET, size=HISTORY_PER_PAGE)
        declarations = selectors.declaration_rows(pager.items)
        context.update(pager=pager, rows=history_rows(monitoring.declaration_views(declarations)))
        if declarations and pager.previous_url is None:
            readings = selectors.chart_readings(episode=episode)
            context.update(
                charts=_history_charts(episode, readings, newest=declarations[0].local_date),
                chart_rows=table_markup(table_rows(readings)),
                chart_limited=len(readings) >= selectors.CHART_READINGS,
                chart_limit=selectors.CHART_READINGS,
            )
    return _page(request, "www/history.html", context)


@dataclass(frozen=True)
class HistoryRow:
    """One declaration of /lich-su: its answers (DeclarationView) and its time and level as the page shows
    them, formatted once here (Django's `date` filter, three times a row, cost more than the rest of it)."""

    declaration: Declaration
    values: list[monitoring.Answer]
    symptoms: list[monitoring.Symptom]
    note: str
    day: str  # 24/11/2026, local time
    time: str  # 07:05
    iso: str  # 2026-11-24T07:05:00+07:00, the <time datetime> (Django's "c")
    level: str  # the alert level's label in the page's language


def history_rows(views: list[monitoring.DeclarationView]) -> list[HistoryRow]:
    labels = {value: str(label) for value, label in AlertLevel.choices}
    zone = timezone.get_current_timezone()  # timezone.localtime's, looked up once
    rows = []
    for view in views:
        d = view.declaration
        at = d.submitted_at.astimezone(zone)
        rows.append(
            HistoryRow(
                declaration=d,
                values=view.values,
                symptoms=view.symptoms,
                note=view.note,
                day=f"{at:%d/%m/%Y}",
                time=f"{at:%H:%M}",
                iso=at.isoformat(),
                level=labels.get(d.alert_level, d.alert_level),
            )
        )
    return rows


def _history_charts(episode: Any, readings: list[selectors.ChartReading], *, newest: date) -> list[Chart]:
    """SpO2 and temperature over the episode's days (to today while it is active)."""
    today = timezone.localdate()
    last_day = max(episode.expected_end_date - timedelta(days=1), episode.start_date, newest)
    if episode.status == EpisodeStatus.ACTIVE:
        last_day = max(last_day, today)
    first_day = min([episode.start_date] + [r.local_date for r in readings])
    common = {"first_day": first_day, "last_day": last_day}
    return [
        series_chart(
            key="spo2",
            title=_("SpO2"),
            unit="%",
            readings=[Reading(r.submitted_at, Decimal(r.spo2)) for r in readings if r.spo2 is not None],
            low=Decimal(88),
            high=Decimal(100),
            step=Decimal(2),
            threshold=Decimal(96),
            alert_when_below=True,
            decimals=0,
            **common,
        ),
        series_chart(
            key="temperature",
            title=_("Nhiệt độ"),
            unit=" °C",
            readings=[
                Reading(r.submitted_at, Decimal(r.temperature)) for r in readings if r.temperature is not None
            ],
            low=Decimal(35),
            high=Decimal(40),
            step=Decimal(1),
            threshold=Decimal(38),
            alert_when_below=False,
            decimals=1,
            **common,
        ),
    ]


@require_GET
def guidance_list(request: HttpRequest) -> HttpResponse:
    return _page(request, "www/guidance_list.html", {"documents": list(monitoring.published_guidance())})


@require_GET
def guidance_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    document = monitoring.guidance_document(public_id=public_id)
    if document is None:
        raise Http404(_("Không tìm thấy tài liệu."))
    return _page(
        request,
        "www/guidance_detail.html",
        {"document": document, "body": render_plain(document.body)},
    )


@login_required
@require_GET
def certificate_download(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The PDF confirmation of completed home isolation, for the patient and the family only
    (monitoring.own_certificate_episode: a staff account gets "not found" here and downloads it in the desk,
    where the download is audited); whether there is one to download is certificate_download's."""
    episode = monitoring.own_certificate_episode(user=request.user, public_id=public_id)
    if episode is None:
        raise Http404(_("Không tìm thấy giấy xác nhận."))
    try:
        pdf = certificates.certificate_download(episode=episode, actor=request.user)
    except DomainError:
        raise Http404(_("Không tìm thấy giấy xác nhận.")) from None
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="giay-xac-nhan-{episode.certificate_code}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def certificate_verify(request: HttpRequest, code: str) -> HttpResponse:
    """Public check of a certificate's QR code: only the masked fields of certificate_lookup, no login."""
    if not selectors.verification_allowed(ip=client_ip(request)):
        response = _page(request, "www/verify.html", {"limited": True, "code": code[:16]}, status=429)
        response["Retry-After"] = "60"
        return response
    certificate = certificates.certificate_lookup(code=code)
    response = _page(
        request,
        "www/verify.html",
        {"certificate": certificate, "code": code[:16]},
        status=200 if certificate else 404,
    )
    response["X-Robots-Tag"] = "noindex"
    return response
