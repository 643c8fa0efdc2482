"""The patient's side of daily home-care monitoring: declare, see the result and what to do now, history,
guidance, the completion certificate, and the public certificate check.

Whom the account acts for is resolved on every request through access.patients_for (a family shares one
phone): a patient id outside it is a 404, never someone else's record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from json import JSONDecoder
from json.scanner import c_make_scanner  # type: ignore[attr-defined]
from typing import Any, NamedTuple

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_http_methods
from markupsafe import Markup, escape

from health_f0.core.exceptions import DomainError, ValidationErrors
from health_f0.core.keyset import Keyset
from health_f0.core.memo import Memo
from health_f0.core.request_context import client_ip
from health_f0.facilities import access
from health_f0.monitoring import certificates
from health_f0.monitoring import selectors as monitoring
from health_f0.monitoring.models import AlertLevel, Declaration, EpisodeStatus, QuestionType
from health_f0.monitoring.services import active_questionnaire, declaration_submit, questions_for_patient
from health_f0.www import selectors
from health_f0.www.caching import never_cache
from health_f0.www.charts import (
    Chart,
    SummaryTexts,
    figures,
    local_isos,
    series_chart,
    summary_texts,
    table_body,
)
from health_f0.www.forms import DeclarationForm
from health_f0.www.jinja import ESCAPES, choice_labels, date_filter
from health_f0.www.jinja import kept_gettext as _
from health_f0.www.jinja import kept_gettext as gettext
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
        # Shown only for a completed episode (declare.html, _today_card.html): not asked for any other.
        "may_certificate": episode is not None
        and episode.status == EpisodeStatus.COMPLETED
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
    write_answers = answers_writer()
    return _page(
        request,
        "www/declare_result.html",
        {
            "declaration": declaration,
            # _declaration_values.html's `row`: the answers as /lich-su shows them (answers_writer).
            "view": ShownAnswers(Markup(write_answers(view.values, view.symptoms, view.note))),  # noqa: S704
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
    texts = _history_texts()
    # history.html's `_("…")|fmt(name=…, year=…)`: the catalogue's text (markup) with each value escaped
    lead = texts.lead % {
        "name": escape(patient.full_name),
        "year": escape(date_filter(patient.date_of_birth, "Y")),
    }
    context: dict[str, Any] = {
        "choice": choice,
        "patient": patient,
        "episode": episode,
        "lead": Markup(lead),  # noqa: S704 - the catalogue's markup, the values escaped
    }
    if episode is not None:
        # episode.get_status_display()'s text
        status = texts.episode_status.get(episode.status, episode.status)
        line = texts.episode_from % {
            "start": escape(date_filter(episode.start_date, "d/m/Y")),
            "status": escape(status),
        }
        context["episode_line"] = Markup(line)  # noqa: S704 - the catalogue's markup, the values escaped
        history: Any = selectors.declaration_history(episode=episode)  # a SqlList, paged by keyset_page
        pager = keyset_page(request, history, HISTORY_KEYSET, size=HISTORY_PER_PAGE)
        rows = pager.items
        isos = local_isos(
            [row["submitted_at"] for row in rows]
        )  # once for the rows, the charts and the table
        context.update(pager=pager, items=history_items(rows, texts, isos))
        if rows and pager.previous_url is None:
            # A first page with no page after it holds the whole episode: the charts' readings are its rows'.
            whole = pager.next_url is None
            readings = selectors.chart_readings(episode=episode, every=rows if whole else None)
            if whole:  # the rows' own local ISO texts, by moment (an equal moment has the same text)
                by_moment = dict(zip([row["submitted_at"] for row in rows], isos, strict=True))
                local = [by_moment[r.submitted_at] for r in readings]
            else:
                local = local_isos(r.submitted_at for r in readings)  # once for both charts and the table
            charts = _history_charts(episode, readings, local, texts, newest=rows[0]["local_date"])
            context.update(
                charts=charts,
                chart_figures=figures(charts),
                chart_help=Markup(texts.chart_help),  # noqa: S704 - the catalogue's markup
                chart_rows=table_body(readings, local),
                chart_limited=len(readings) >= selectors.CHART_READINGS,
                chart_limit=selectors.CHART_READINGS,
            )
    return _page(request, "www/history.html", context)


# --- /lich-su's rows, each one escaped string (issue 11) -------------------------------------------------------
#
# The page's declarations were drawn by history.html's loop and _declaration_values.html: about 40 outputs a row,
# each escaped one by one, and an include per row. They are written here instead, as those templates wrote them
# (tests/www/test_history_rows_html.py compares both): every value from the row is escaped, the catalogue's
# strings are written as the templates wrote `_("…")`, the times are digits by construction.


@dataclass(frozen=True)
class ShownAnswers:
    """_declaration_values.html's `row` on the declaration's result page: its answers' markup."""

    markup: Markup


AnswersWriter = Callable[[list[monitoring.Answer], list[monitoring.Symptom], str], str]


# A labelled value's and a symptom's markup, by its text: the same few hundred ("Nhiệt độ", "36,8 °C") on every
# page. A pure function of the key (what any page would write for it), so sharing it between accounts shares no
# one's data; bounded, emptied when it grows past _MARKUP_KEPT.
_MARKUP_KEPT = 4096
_item_markup: Memo[monitoring.Answer, str] = Memo(_MARKUP_KEPT)
_symptom_markup: Memo[monitoring.Symptom, str] = Memo(_MARKUP_KEPT)


def _item(answer: monitoring.Answer) -> str:
    text = _item_markup.get(answer)
    if text is None:
        text = f"\n  <div><dt>{escape(answer.label)}</dt><dd>{escape(answer.value)}</dd></div>"
        _item_markup.keep(answer, text)
    return text


def _symptom(symptom: monitoring.Symptom) -> str:
    try:
        text = _symptom_markup.get(symptom)
    except TypeError:  # a label that is not text (a questionnaire's option written as a list): not kept
        return _symptom_text(symptom)
    if text is None:
        text = _symptom_text(symptom)
        _symptom_markup.keep(symptom, text)
    return text


def _symptom_text(symptom: monitoring.Symptom) -> str:
    label = escape(symptom.label)
    if symptom.danger:
        return f'<span class="symptom symptom-danger"><span aria-hidden="true">⚠ </span>{label}</span>'
    return f'<span class="symptom">{label}</span>'


def answers_writer() -> AnswersWriter:
    """`write(values, symptoms, note)`: a declaration's labelled values, symptoms and note as markup, in the
    active language (what _declaration_values.html drew); its catalogue strings looked up once per writer."""
    symptoms_title = gettext("Biểu hiện:")
    # Outside the f-string, where makemessages sees it.
    none_chosen = gettext("Không có biểu hiện nào được chọn.")
    no_symptoms = f'<p class="symptoms muted">{none_chosen}</p>\n'
    note_title = gettext("Ghi chú:")

    def write(values: list[monitoring.Answer], symptoms: list[monitoring.Symptom], note: str) -> str:
        return _answers_markup(
            "".join(map(_item, values)), symptoms, note, symptoms_title, no_symptoms, note_title
        )

    return write


def _answers_markup(
    values: str,
    symptoms: list[monitoring.Symptom],
    note: str,
    symptoms_title: str,
    no_symptoms: str,
    note_title: str,
) -> str:
    """A declaration's values (their `<div>` items, written), symptoms and note as _declaration_values.html drew
    them, with the writer's catalogue strings (answers_writer, history_answers_writer)."""
    shown = f'<dl class="values">{values}\n</dl>\n' if values else "\n"
    if symptoms:
        shown += (
            f'<p class="symptoms"><span class="muted">{symptoms_title}</span> '
            f"{', '.join(map(_symptom, symptoms))}</p>\n"
        )
    else:
        shown += no_symptoms
    if note:
        shown += f'<p class="note"><span class="muted">{note_title}</span> {escape(note)}</p>'
    return shown


_LEVEL_MARKUP: Memo[str | None, dict[str, str]] = Memo(16)


def _level_markup() -> dict[str, str]:
    """The alert levels' labels in the active language, escaped (once per language)."""
    language = get_language()
    labels = _LEVEL_MARKUP.get(language)
    if labels is None:
        labels = _LEVEL_MARKUP.keep(language, {value: escape(label) for value, label in AlertLevel.choices})
    return labels


class HistoryTexts(NamedTuple):
    """/lich-su's catalogue strings and labels in one language (_history_texts)."""

    symptoms_title: str
    no_symptoms: str  # markup
    note_title: str
    late: str  # markup
    levels: dict[str, tuple[str, str]]  # a level's class and label (_level_markup's), escaped
    episode_status: dict[Any, str]  # get_status_display's texts
    spo2: str
    temperature: str
    summary: SummaryTexts
    # history.html's `_("…")|fmt(…)` lines, filled in by history() as fmt filled them (www.jinja.fmt)
    lead: str
    episode_from: str
    chart_help: str  # markup: fmt() of a text without values (its "%%" written "%")


_HISTORY_TEXTS: Memo[str | None, HistoryTexts] = Memo(16)


def _history_texts() -> HistoryTexts:
    """The page's catalogue strings in the active language, looked up once per language: a page asks for the
    active language once, not a dozen times (each kept_gettext's and label's look-up asked for it)."""
    language = get_language()
    texts = _HISTORY_TEXTS.get(language)
    if texts is None:
        # Outside the f-string, where makemessages sees it.
        none_chosen = gettext("Không có biểu hiện nào được chọn.")
        texts = _HISTORY_TEXTS.keep(
            language,
            HistoryTexts(
                symptoms_title=gettext("Biểu hiện:"),
                no_symptoms=f'<p class="symptoms muted">{none_chosen}</p>\n',
                note_title=gettext("Ghi chú:"),
                late=f' <span class="flag-late">{gettext("khai báo muộn")}</span>',
                levels={value: (value.translate(ESCAPES), label) for value, label in _level_markup().items()},
                episode_status=choice_labels(EpisodeStatus),
                spo2=_("SpO2"),
                temperature=_("Nhiệt độ"),
                summary=summary_texts(),
                lead=gettext("Người bệnh: <strong>%(name)s</strong> (sinh năm %(year)s)"),
                episode_from=gettext("Đợt theo dõi từ %(start)s — %(status)s."),
                chart_help=gettext(
                    "Đường đứt nét là ngưỡng cần báo nhân viên y tế (SpO2 từ 96%% trở xuống, sốt từ 38 °C). "
                    "Điểm màu đỏ là lần đo vượt ngưỡng."
                )
                % {},
            ),
        )
    return texts


# JSONField.from_db_value's value of a stored JSON text, in one call of the C scanner (json.loads' Python wrapper
# and the converter take eight calls a value; a page has thirty: issue 11).
_SCAN = c_make_scanner(JSONDecoder()) if c_make_scanner is not None else None
_FROM_DB: Any = Declaration._meta.get_field("answers").from_db_value  # type: ignore[union-attr]


def json_value(text: str | None) -> Any:
    """What the JSONField's converter gives for `text` (its decoder is json's default): the C scanner reads a
    text that is JSON from its first character to its last; anything else (whitespace around it, text that is
    not JSON, NULL) goes through the converter itself."""
    if _SCAN is not None and text:
        try:
            value, end = _SCAN(text, 0)
        except (StopIteration, ValueError, TypeError):
            pass
        else:
            if end == len(text):
                return value
    return _FROM_DB(text, None, None)


# A number answer's markup (answers_writer's `_item` of answer_parts' Answer) by the question's label, unit and
# decimals and the value's type and value: a page's answers are a few dozen readings ("Nhiệt độ", "36,8 °C") seen
# again and again. A pure function of the key; only what monitoring.number_text keeps is kept (an int, a string,
# a non-zero float: their type and value decide the text). Bounded, emptied when it grows past _MARKUP_KEPT.
_number_markup: Memo[tuple[str, str, int | None, type, Any], str] = Memo(_MARKUP_KEPT)
_NUMBER_KEPT = (int, str, float)


def _number_item(question: monitoring.ShownQuestion, raw: Any) -> str:
    """_item(Answer(label, number_text(raw, decimals) + unit)), kept when number_text would keep its text."""
    text = _item(
        monitoring.Answer(question.label, monitoring.number_text(raw, question.decimals) + question.unit)
    )
    kind = type(raw)
    if kind in _NUMBER_KEPT and not (kind is float and raw == 0):
        _number_markup.keep((question.label, question.unit, question.decimals, kind, raw), text)
    return text


# A questionnaire version's questions as history_answers_writer walks them: (code, kind, the number's memo key
# prefix or the choice's symptoms' markup by option code), by version id, with the ShownQuestion list it was
# made from (a list re-read by monitoring._shown_questions makes a new plan). A pure function of the version's
# questions; bounded.
_NUMBER, _CHOICE, _TEXT = 0, 1, 2
AnswersPlan = list[tuple[str, int, Any, Any]]
_plans: Memo[int, tuple[list[monitoring.ShownQuestion], AnswersPlan]] = Memo(256)


def _answers_plan(version_id: int, questions: list[monitoring.ShownQuestion]) -> AnswersPlan:
    """The version's questions as history_answers_writer's fast path walks them: a number's question and its
    _number_markup key prefix, a choice's symptoms' markup by option code (_symptom's of answer_parts' Symptom),
    a text's question."""
    found = _plans.get(version_id)
    if found is not None and found[0] is questions:
        return found[1]
    number, choices = QuestionType.NUMBER, (QuestionType.MULTI, QuestionType.CHOICE)
    plan: AnswersPlan = []
    for q in questions:
        if q.type == number:
            plan.append((q.code, _NUMBER, q, (q.label, q.unit, q.decimals)))
        elif q.type in choices:
            shown = {
                code: _symptom_text(monitoring.Symptom(option.get("vi", code), bool(option.get("danger"))))
                for code, option in q.options.items()
            }
            plan.append((q.code, _CHOICE, q, shown))
        else:
            plan.append((q.code, _TEXT, q, None))
    _plans.keep(version_id, (questions, plan))
    return plan


def history_answers_writer(
    versions: Iterable[int], texts: HistoryTexts | None = None
) -> Callable[[int, Any], str]:
    """`write(version_id, answers)`: answers_writer()(*monitoring.answer_parts(versions)(version_id, answers)),
    written in one pass over the version's questions (_answers_plan): a number's markup is looked up by its
    value (_number_markup) and a symptom's by its code, instead of formatted, wrapped in an Answer or a Symptom
    and escaped on every row. `texts`: the page's (_history_texts), when the caller has them."""
    questions = monitoring.shown_questions(versions)
    plans = {version: _answers_plan(version, shown) for version, shown in questions.items()}
    number, choices = QuestionType.NUMBER, (QuestionType.MULTI, QuestionType.CHOICE)
    empty: tuple[Any, ...] = (None, "", [])
    texts = texts or _history_texts()
    symptoms_title, no_symptoms, note_title = texts.symptoms_title, texts.no_symptoms, texts.note_title
    kept = _number_markup

    def walk(version_id: int, answers: Any) -> str:
        """answer_parts' walk, for answers that are not a JSON object (their `get` decides)."""
        values: list[str] = []
        symptoms: list[monitoring.Symptom] = []
        note = ""
        for q in questions[version_id]:
            raw = answers.get(q.code)
            if raw in empty:
                continue
            if q.type == number:
                item = kept.get((q.label, q.unit, q.decimals, raw.__class__, raw))
                values.append(_number_item(q, raw) if item is None else item)
            elif q.type in choices:
                for code in raw if isinstance(raw, list) else [raw]:
                    option = q.options.get(code, {"vi": code})
                    symptoms.append(monitoring.Symptom(option.get("vi", code), bool(option.get("danger"))))
            else:
                note = str(raw)
        return _answers_markup("".join(values), symptoms, note, symptoms_title, no_symptoms, note_title)

    def write(version_id: int, answers: Any) -> str:
        if answers.__class__ is not dict:
            return walk(version_id, answers)
        values = ""
        symptoms = ""
        note = ""
        for code, kind, q, extra in plans[version_id]:
            raw = answers.get(code)
            if raw in empty:
                continue
            if kind == _NUMBER:
                item = kept.get(extra + (raw.__class__, raw))
                values += _number_item(q, raw) if item is None else item
            elif kind == _CHOICE:
                for option in raw if raw.__class__ is list else (raw,):
                    shown = extra.get(option)
                    if shown is None:  # a code the question does not offer: its code as its label
                        shown = _symptom(monitoring.Symptom(option, False))
                    symptoms = f"{symptoms}, {shown}" if symptoms else shown
            else:
                note = str(raw)
        # _answers_markup's, with the symptoms' markup joined
        shown = f'<dl class="values">{values}\n</dl>\n' if values else "\n"
        if symptoms:
            shown += f'<p class="symptoms"><span class="muted">{symptoms_title}</span> {symptoms}</p>\n'
        else:
            shown += no_symptoms
        if note:
            shown += f'<p class="note"><span class="muted">{note_title}</span> {escape(note)}</p>'
        return shown

    return write


def history_items(
    rows: list[dict[str, Any]], texts: HistoryTexts | None = None, isos: list[str] | None = None
) -> Markup:
    """The `<li>` of each of a page's declarations (rows of selectors.declaration_history: their answers and
    reasons as JSON text, json_value), labelled with their questionnaire version (history_answers_writer),
    their time in the active time zone and their level's label in the active language (`texts`: the page's,
    _history_texts, when the caller has them; `isos`: the rows' local ISO texts, charts.local_isos, when the
    caller has them)."""
    if not rows:
        return Markup("")
    texts = texts or _history_texts()
    if isos is None:
        isos = local_isos([row["submitted_at"] for row in rows])
    write_answers = history_answers_writer((row["questionnaire_id"] for row in rows), texts)
    levels = texts.levels
    late = texts.late
    out = []
    for row, iso in zip(rows, isos, strict=True):
        shown = levels.get(row["alert_level"])
        if shown is None:  # a level the choices do not name: its value as its label
            text = str(row["alert_level"]).translate(ESCAPES)
            shown = (text, text)
        level, label = shown
        # `iso`: the local time's ISO text, Django's "c". The `date` filter's "d/m/Y" and "H:i": the same digits
        # as the ISO text for years 1000-9999 (an earlier year's ISO text starts with a zero).
        if iso[0] != "0":
            day, clock = f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}", iso[11:16]
        else:
            at = row["submitted_at"].astimezone(timezone.get_current_timezone())
            day, clock = f"{at:%d/%m/%Y}", f"{at:%H:%M}"
        reasons = row["reasons"]
        # "[]", the stored text of no reasons (most declarations), needs no reading.
        reasons = None if reasons == "[]" else json_value(reasons)
        if reasons:
            reasons = f'<ul class="reasons">{"".join([f"<li>{str(reason).translate(ESCAPES)}</li>" for reason in reasons])}</ul>'
        else:
            reasons = ""
        answers = write_answers(row["questionnaire_id"], json_value(row["answers"]))
        out.append(
            f'\n  <li class="card history-item history-{level}">\n'
            f'    <h3><time datetime="{iso}">{day} <span class="time">{clock}</span></time></h3>\n'
            f'    <p class="history-flags"><span class="badge badge-{level}">{label}</span>{late if row["late"] else ""}</p>\n'
            f"    {reasons}\n    {answers}\n  </li>"
        )
    return Markup("".join(out))  # noqa: S704 - every value from the rows is escaped


def _history_charts(
    episode: Any,
    readings: list[selectors.ChartReading],
    local: list[str],
    texts: HistoryTexts,
    *,
    newest: date,
) -> list[Chart]:
    """SpO2 and temperature over the episode's days (to today while it is active); `local`: the readings'
    local ISO texts (charts.local_isos); `texts`: the page's (_history_texts)."""
    today = timezone.localdate()
    last_day = max(episode.expected_end_date - timedelta(days=1), episode.start_date, newest)
    if episode.status == EpisodeStatus.ACTIVE:
        last_day = max(last_day, today)
    first_day = min([episode.start_date] + [r.local_date for r in readings])
    common = {"first_day": first_day, "last_day": last_day}
    return [
        series_chart(
            key="spo2",
            title=texts.spo2,
            unit="%",
            readings=[
                (at, spo2, iso)
                for (at, _, spo2, _), iso in zip(readings, local, strict=True)
                if spo2 is not None
            ],
            low=Decimal(88),
            high=Decimal(100),
            step=Decimal(2),
            threshold=Decimal(96),
            alert_when_below=True,
            decimals=0,
            texts=texts.summary,
            **common,
        ),
        series_chart(
            key="temperature",
            title=texts.temperature,
            unit=" °C",
            readings=[
                (at, temperature, iso)
                for (at, _, _, temperature), iso in zip(readings, local, strict=True)
                if temperature is not None
            ],
            low=Decimal(35),
            high=Decimal(40),
            step=Decimal(1),
            threshold=Decimal(38),
            alert_when_below=False,
            decimals=1,
            texts=texts.summary,
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
