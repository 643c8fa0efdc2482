"""The rows the portal's HIS pages draw (/ho-so-kham, its printed summary, /ket-qua-xet-nghiem), built from the
constant SQL reads of his.selectors (his/sql): a visit with its facility and bill, a lab result with its value,
range and flag as text and its HTML (a page holds hundreds of them: built here rather than by the template
engine, issue 11), the results under their report. Presentation only: whom the rows belong to is decided by the
reads (access.his_records_sql through his.selectors.RecordScope)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.utils import dateformat, timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from markupsafe import Markup

from health_f0.core.memo import Memo
from health_f0.his import selectors as his_selectors
from health_f0.his.models import OUT_OF_RANGE_FLAGS, PRELIMINARY_REPORT_STATUSES, LabFlag
from health_f0.payments import selectors as payment_selectors
from health_f0.www.jinja import ESCAPES, date_filter, url
from health_f0.www.templatetags.payment_tags import visit_bill

# The flag in words and a symbol, so it never depends on colour alone.
FLAG_TEXT: dict[str, tuple[Any, str, str]] = {
    LabFlag.HIGH: (gettext_lazy("Cao"), "↑", "flag-high"),
    LabFlag.LOW: (gettext_lazy("Thấp"), "↓", "flag-low"),
    LabFlag.NORMAL: (gettext_lazy("Bình thường"), "", "flag-normal"),
}


# --- Display helpers --------------------------------------------------------------------------------


# html.escape's replacements (quote=True) as one table: str.translate maps each character once, so the text is
# html.escape's (its "&" first keeps the others from being escaped twice; a single pass does that by itself).
_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def escape(text: Any) -> str:
    """django.utils.html.escape's text (html.escape of str(text)) without its lazy-string wrapper, which cost
    about a third of each call, in one str.translate instead of html.escape's five replaces; the rows' values
    are plain text, never lazy."""
    return str(text).translate(_HTML_ESCAPES)


# The `<time>` of a result's card by (time, time zone): a page's results share their report's time, and Django's
# dateformat costs more than the rest of the card (issue 11). Bounded: emptied when it grows past _TIMES_KEPT.
_TIMES_KEPT = 4096
_TIME_HTML: Memo[tuple[Any, Any], str] = Memo(_TIMES_KEPT)


def _time_html(moment: Any, zone: Any = None) -> str:
    """`<time datetime="…">dd/mm/yyyy</time> · ` of an aware datetime in the current time zone (`zone`, when the
    caller has it already)."""
    if zone is None:
        zone = timezone.get_current_timezone()
    key = (moment, zone)
    html = _TIME_HTML.get(key)
    if html is None:
        local = timezone.localtime(moment, zone)
        html = _TIME_HTML.keep(
            key,
            f'<time datetime="{escape(dateformat.format(local, "c"))}">'
            f"{escape(dateformat.format(local, 'd/m/Y'))}</time> · ",
        )
    return html


# A visit's dates as its card writes them (`|date("c")`, `|date("d/m/Y")`) by (time, time zone): Django's
# dateformat costs 20–30 µs a call and a card asks for up to five. Bounded like _TIME_HTML.
_DAY_TEXTS: Memo[tuple[Any, Any], tuple[str, str]] = Memo(_TIMES_KEPT)


def _day_texts(moment: Any, zone: Any = None) -> tuple[str, str]:
    """(`moment|date("c")`, `moment|date("d/m/Y")`) of www.jinja's date filter, in the current time zone
    (`zone`, when the caller has it already)."""
    if zone is None:
        zone = timezone.get_current_timezone()
    key = (moment, zone)
    texts = _DAY_TEXTS.get(key)
    if texts is None:
        texts = _DAY_TEXTS.keep(key, (date_filter(moment, "c"), date_filter(moment, "d/m/Y")))
    return texts


class RowTexts(NamedTuple):
    """What a page's lab rows write in its language and time zone, looked up once a page (row_texts)."""

    language: str | None
    zone: Any
    flags: dict[str, tuple[str, str, str]]  # FLAG_TEXT's entries with their label as text
    outside: str  # the out-of-range words, escaped
    reference: str  # "Khoảng tham chiếu: %(ref)s", translated
    # his.selectors.decimal_text's answers in this language and grouping, by (type, text) of the number: a page's
    # values and ranges repeat (one test's range on every row of it), each is worked out once.
    numbers: dict[tuple[type, str], str]
    # A flag's `<span>` after the value (LabRow._flag_html), '' for none, by the flag.
    flag_spans: dict[str, str]


# Per (language, thousands grouping): (outside, flags, reference, numbers, flag_spans). `numbers` is emptied when
# it grows past _NUMBERS_KEPT.
_ROW_TEXTS: dict[tuple[str | None, bool], tuple[Any, ...]] = {}
_NUMBERS_KEPT = 4096


def row_texts() -> RowTexts:
    """The active language's row texts (worked out once per language) and time zone."""
    language = translation.get_language()
    key = (language, settings.USE_THOUSAND_SEPARATOR)
    texts = _ROW_TEXTS.get(key)
    if texts is None:
        flags = {key: (str(label), symbol, css) for key, (label, symbol, css) in FLAG_TEXT.items()}
        # Each string outside an f-string, where makemessages (xgettext) finds it.
        texts = _ROW_TEXTS[key] = (
            escape(_("ngoài khoảng tham chiếu")),
            flags,
            _("Khoảng tham chiếu: %(ref)s"),
            {},
            {},
        )
    outside, flags, reference, numbers, flag_spans = texts
    if len(numbers) > _NUMBERS_KEPT:
        numbers.clear()
    return RowTexts(language, timezone.get_current_timezone(), flags, outside, reference, numbers, flag_spans)


def _number_text(value: Any, texts: RowTexts) -> str:
    """decimal_text(value) in the page's language, kept in `texts.numbers` (a miss of lab_row's look-up)."""
    text = texts.numbers[(value.__class__, str(value))] = his_selectors.decimal_text(value, texts.language)
    return text


def _flag_span(flag: str, texts: RowTexts) -> str:
    """The flag's `<span>` after a result's value (the lab table and the lab result item), '' for none."""
    label, symbol, css = texts.flags.get(flag, _NO_FLAG)
    span = ""
    if label:
        symbol_html = f'<span aria-hidden="true">{escape(symbol)} </span>' if symbol else ""
        outside = ""
        if flag in OUT_OF_RANGE_FLAGS:
            outside = f'<span class="visually-hidden"> — {texts.outside}</span> ({escape(flag)})'
        span = f' <span class="flag {escape(css)}">{symbol_html}{escape(label)}{outside}</span>'
    texts.flag_spans[flag] = span
    return span


@dataclass
class LabRow:
    # A PortalLabResult (HisLabResult's attribute names; a HisLabResult reads the same).
    result: Any
    value: str
    reference: str
    flag_label: str
    flag_symbol: str
    flag_class: str
    # The page's texts (lab_row's `texts`); None: looked up when the row is drawn.
    texts: RowTexts | None = None
    # The flag's `<span>` (_flag_span, by lab_row); None: written from the fields above when the row is drawn.
    flag_span: str | None = None

    def _texts(self) -> RowTexts:
        return self.texts if self.texts is not None else row_texts()

    @property
    def out_of_range(self) -> bool:
        return self.result.is_out_of_range

    def _flag_html(self) -> str:
        """The flag's `<span>` after the value (the lab table and the lab result item), '' for none."""
        if self.flag_span is not None:
            return self.flag_span
        if not self.flag_label:
            return ""
        result = self.result
        symbol = f'<span aria-hidden="true">{escape(self.flag_symbol)} </span>' if self.flag_symbol else ""
        outside = ""
        if result.is_out_of_range:
            words = self._texts().outside
            outside = f'<span class="visually-hidden"> — {words}</span> ({escape(result.flag)})'
        label = escape(self.flag_label)
        return f' <span class="flag {escape(self.flag_class)}">{symbol}{label}{outside}</span>'

    def _item_html(self, *, nested: bool) -> SafeString:
        """The result's `<li>` on /ket-qua-xet-nghiem as the per-row include wrote it (`nested`: under its
        report, without the date and place), built here rather than by an include per row (issue 11)."""
        return mark_safe(self.item_html(nested=nested))  # noqa: S308 - every value is escaped

    def item_html(self, *, nested: bool) -> str:
        """_item_html's text (its values escaped as Django's templates escaped them: html.escape's quotes)."""
        result = self.result
        texts = self.texts if self.texts is not None else row_texts()
        css = ("lab-item" if nested else "card lab-item") + (
            " row-out" if result.flag in OUT_OF_RANGE_FLAGS else ""
        )
        unit = result.unit
        unit = " " + str(unit).translate(_HTML_ESCAPES) if unit else ""
        reference = ""
        if self.reference:
            text = texts.reference % {"ref": str(self.reference).translate(_HTML_ESCAPES)}
            reference = f'<p class="muted">{text}</p>'
        conclusion = result.conclusion
        conclusion = f"<p>{str(conclusion).translate(_HTML_ESCAPES)}</p>" if conclusion else ""
        where = ""
        if not nested:
            when = _time_html(result.observed_at, texts.zone) if result.observed_at is not None else ""
            department = result.visit.department_label if result.visit is not None else ""
            department = f" · {str(department).translate(_HTML_ESCAPES)}" if department else ""
            where = (
                f'<p class="muted">{when}{str(result.facility.name).translate(_HTML_ESCAPES)}{department}</p>'
            )
        return (
            f'<li class="{css}">\n'
            f"    <h3>{str(result.name).translate(_HTML_ESCAPES)}</h3>\n"
            f'    <p class="lab-value">{str(self.value).translate(_HTML_ESCAPES)}{unit}{self._flag_html()}</p>\n'
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
        return mark_safe(self.table_html())  # noqa: S308 - every value is escaped

    def table_html(self) -> str:
        """table_row's text (its values escaped as Django's templates escaped them: html.escape's quotes)."""
        result = self.result
        unit = result.unit
        value = str(self.value).translate(_HTML_ESCAPES)
        if unit:
            value += " " + str(unit).translate(_HTML_ESCAPES)
        conclusion = result.conclusion
        conclusion = (
            f'<br><span class="muted">{str(conclusion).translate(_HTML_ESCAPES)}</span>' if conclusion else ""
        )
        return (
            f'<tr{_ROW_OUT if result.flag in OUT_OF_RANGE_FLAGS else ""}><th scope="row">'
            f"{str(result.name).translate(_HTML_ESCAPES)}</th>\n"
            f'      <td><span class="value">{value}</span>{self._flag_html()}{conclusion}</td>\n'
            f'      <td class="ref">{str(self.reference or "—").translate(_HTML_ESCAPES)}</td></tr>'
        )


_ROW_OUT = ' class="row-out"'
_NO_FLAG = ("", "", "")


def lab_row(result: Any, texts: RowTexts | None = None) -> LabRow:
    """A result's row (a HisLabResult, or a PortalLabResult: the same attributes); `texts`: the page's
    row_texts(), looked up once for all its rows (else here). The value and range are his.selectors'
    lab_value_text and lab_reference_text, their numbers looked up in the page's texts (a page's results repeat
    their ranges) rather than formatted a call each."""
    if texts is None:
        texts = row_texts()
    numbers = texts.numbers
    number = result.value_number
    if number is None:
        value = result.value
    else:
        value = numbers.get((number.__class__, str(number))) or _number_text(number, texts)
    low, high = result.reference_low, result.reference_high
    if low is None and high is None:
        reference = result.reference_text
    else:
        if low is not None:
            low = numbers.get((low.__class__, str(low))) or _number_text(low, texts)
        if high is not None:
            high = numbers.get((high.__class__, str(high))) or _number_text(high, texts)
        reference = his_selectors.reference_range_text(low or "", high or "", result.unit)
    flag = result.flag
    label, symbol, css = texts.flags.get(flag, _NO_FLAG)
    span = texts.flag_spans.get(flag)
    if span is None:
        span = _flag_span(flag, texts)
    return LabRow(result, value or "—", reference, label, symbol, css, texts, span)


# The rows of a page are built by the hundred and read once: plain dataclasses (a frozen one's __init__ sets each
# field through object.__setattr__, a call a field; issue 11). Nothing changes them after they are built.
@dataclass
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


@dataclass
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
    """The page's rows as PortalLabResult, one PortalLabReport per report, one PortalPlace per facility and one
    per visit's department."""
    reports: dict[int, PortalLabReport] = {}
    facilities: dict[str, PortalPlace] = {}
    departments: dict[tuple[str, str], PortalPlace] = {}
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
            # One place per department: a page's results come from a few visits (PortalPlace is frozen).
            department = (row["visit__department_code"], row["visit__department_name"])
            visit = departments.get(department)
            if visit is None:
                label = his_selectors.department_label(code=department[0], name=department[1])
                visit = departments[department] = PortalPlace(department_label=label)
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


@dataclass
class LabGroup:
    """Consecutive results of one lab report (`report` None: results issued without a report)."""

    report: PortalLabReport | None
    rows: list[LabRow]

    @property
    def when(self) -> tuple[str, str] | None:
        """The report's time (issued, else effective) as (ISO text, dd/mm/yyyy), `|date` writes them; None
        without one."""
        report = self.report
        moment = (report.issued_at or report.effective_at) if report is not None else None
        return _day_texts(moment) if moment else None


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


# /ket-qua-xet-nghiem's texts around a report's results in each language (www/his_lab_results.html's strings).
_GROUP_TEXTS: dict[str | None, tuple[str, str, str]] = {}


def lab_list(groups: list[LabGroup]) -> Markup:
    """The items of /ket-qua-xet-nghiem's list (what its template's loop over `groups` wrote, issue 11): a report's
    card with its results nested, or the cards of results without a report. Values are escaped as Jinja2 escapes
    them (www.jinja.ESCAPES); the items as LabRow.item_html writes them."""
    language = translation.get_language()
    texts = _GROUP_TEXTS.get(language)
    if texts is None:
        # Each string outside an f-string, where makemessages (xgettext) finds it.
        texts = _GROUP_TEXTS[language] = (
            _("Trả kết quả ngày %(day)s"),
            _("Kết quả sơ bộ: phòng xét nghiệm có thể còn bổ sung hoặc sửa."),
            _("Kết luận: %(text)s"),
        )
    issued, preliminary, concluded = texts
    out: list[str] = []
    for group in groups:
        report = group.report
        if report is None:
            out += ["\n  " + row.item_html(nested=False) for row in group.rows]
            continue
        first = group.rows[0].result
        when = group.when
        day = ""
        if when:
            day = (
                f'<time datetime="{when[0].translate(ESCAPES)}">'
                f"{issued % {'day': when[1].translate(ESCAPES)}}</time> · "
            )
        place = str(first.facility.name).translate(ESCAPES)
        department = first.visit.department_label if first.visit else ""
        if department:
            place += " · " + str(department).translate(ESCAPES)
        note = f"<p><strong>{preliminary}</strong></p>" if report.is_preliminary else ""
        conclusion = ""
        if report.conclusion:
            text = concluded % {"text": str(report.conclusion).translate(ESCAPES)}
            conclusion = f'<p class="report-conclusion">{text}</p>'
        items = "".join(["\n  " + row.item_html(nested=True) for row in group.rows])
        out.append(
            f'\n  <li class="card lab-report">\n    <h2>{str(report.name).translate(ESCAPES)}</h2>\n'
            f'    <p class="muted">{day}{place}</p>\n    {note}\n    {conclusion}\n'
            f'    <ol class="lab-list report-results">{items}\n    </ol>\n  </li>'
        )
    return Markup("".join(out))  # noqa: S704 - every value above is escaped


@dataclass(frozen=True)
class PortalFacility:
    """A visit's facility as the visits pages read it: its name, and its id and path (Facility.path), from which
    payments.selectors.gateways_offered finds the gateways it or a facility above it offers."""

    pk: int
    name: str
    path: str


@dataclass
class PortalVisit:
    """A row of his.selectors.portal_visit_rows with HisVisit's attribute names (the visit's card, its bill)."""

    pk: int
    public_id: Any
    department_code: str
    department_name: str
    admitted_at: Any
    discharged_at: Any
    diagnosis_text: str
    icd10: str
    bill_total: int | None
    bill_insurance: int | None
    bill_patient: int | None
    facility_id: int
    facility: PortalFacility

    @property
    def department_label(self) -> str:
        return his_selectors.department_label(code=self.department_code, name=self.department_name)


def portal_visits(rows: list[dict[str, Any]]) -> list[PortalVisit]:
    """The visits' rows as PortalVisit, one PortalFacility per facility."""
    facilities: dict[int, PortalFacility] = {}
    visits = []
    for row in rows:
        facility_id = row["facility_id"]
        facility = facilities.get(facility_id)
        if facility is None:
            facility = facilities[facility_id] = PortalFacility(
                pk=facility_id, name=row["facility__name"], path=row["facility__path"]
            )
        visits.append(
            PortalVisit(
                pk=row["id"],
                public_id=row["public_id"],
                department_code=row["department_code"],
                department_name=row["department_name"],
                admitted_at=row["admitted_at"],
                discharged_at=row["discharged_at"],
                diagnosis_text=row["diagnosis_text"],
                icd10=row["icd10"],
                bill_total=row["bill_total"],
                bill_insurance=row["bill_insurance"],
                bill_patient=row["bill_patient"],
                facility_id=facility_id,
                facility=facility,
            )
        )
    return visits


@dataclass
class VisitRow:
    visit: PortalVisit
    results: list[LabRow]
    # More results than shown (per_visit of visit_rows): the page links to the lab results list.
    more_results: bool = False
    # The bill's (paying payment, gateway offered), read for the whole page (payments.selectors.visit_bills).
    bill: tuple[Any, bool] | None = None

    @property
    def card(self) -> Markup:
        """The visit's `<li>` on /ho-so-kham and its printed summary (www.his_rows.visit_cards writes a page's),
        with its bill (www/_pay_visit_bill.html) and its results' table, built here rather than by an include per
        visit and per table (issue 11); the same HTML the templates wrote (tests/www/test_his_visit_card.py)."""
        return Markup(_visit_card(self, _card_texts(), timezone.get_current_timezone()))  # noqa: S704

    @property
    def bill_view(self) -> dict[str, Any]:
        """What www/_pay_visit_bill.html shows of the visit's bill."""
        return visit_bill(self.visit, self.bill)

    @property
    def admitted(self) -> tuple[str, str] | None:
        """The admission's (ISO text, dd/mm/yyyy) as `|date` writes them; None without a time."""
        moment = self.visit.admitted_at
        return _day_texts(moment) if moment else None

    @property
    def discharged(self) -> tuple[str, str]:
        moment = self.visit.discharged_at
        return _day_texts(moment) if moment else ("", "")

    @property
    def same_day(self) -> bool:
        """Whether the visit ended on the day it began (True without both times): their dd/mm/yyyy texts in the
        current time zone are equal (_day_texts, worked out once per time: no localdate of each)."""
        start, end = self.visit.admitted_at, self.visit.discharged_at
        if start is None or end is None:
            return True
        return _day_texts(start)[1] == _day_texts(end)[1]


def _visit_card(row: VisitRow, texts: dict[str, str], zone: Any) -> str:
    """VisitRow.card's HTML in the page's texts (_card_texts) and time zone. Values are escaped as Jinja2 escapes
    them (markupsafe's text: www.jinja.ESCAPES), translated text is the templates' own markup."""
    v = row.visit
    admitted = _day_texts(v.admitted_at, zone) if v.admitted_at else None
    if admitted:
        when = f'<time datetime="{admitted[0].translate(ESCAPES)}">{admitted[1].translate(ESCAPES)}</time>'
        if v.discharged_at:
            left = _day_texts(v.discharged_at, zone)
            if left[1] and left[1] != admitted[1]:  # not same_day, by the texts already worked out
                when += (
                    f' – <time datetime="{left[0].translate(ESCAPES)}">{left[1].translate(ESCAPES)}</time>'
                )
    else:
        when = texts["undated"]
    department = v.department_label
    meta = str(v.facility.name).translate(ESCAPES)
    if department:
        meta += " · " + str(department).translate(ESCAPES)
    diagnosis = ""
    if v.diagnosis_text or v.icd10:
        icd = ""
        if v.icd10:
            icd = (
                f' <span class="icd" title="{texts["icd_title"]}"><span class="visually-hidden">'
                f"{texts['icd']} </span>{str(v.icd10).translate(ESCAPES)}</span>"
            )
        diagnosis = (
            f'<p class="diagnosis">{texts["diagnosis"]} {str(v.diagnosis_text).translate(ESCAPES)}{icd}</p>'
        )
    bill = ""
    if v.bill_patient:
        bill = _draw_partial("www/_pay_visit_bill.html", {"bill": row.bill_view})
    if row.results:
        # `|fmt`: the catalogue's text (markup) with the value escaped.
        caption = texts["caption"] % {"when": admitted[1].translate(ESCAPES) if admitted else ""}
        more = ""
        if row.more_results:
            more = f'<p><a href="{url("www:his_lab_results")}">{texts["more"]}</a></p>'
        rows = "".join(["\n    " + result.table_html() for result in row.results])
        results = (
            f'<table class="lab-table">\n  <caption>{caption}</caption>\n  {texts["table_head"]}\n'
            f"  <tbody>{rows}\n  </tbody>\n</table>{more}\n  "
        )
    else:
        results = f'<p class="muted">{texts["no_results"]}</p>'
    return (
        f'<li class="card visit-item">\n  <h3>{when}</h3>\n  <p class="visit-meta muted">{meta}</p>\n'
        f"  {diagnosis}\n  {bill}\n  {results}\n</li>"
    )


def visit_cards(rows: list[VisitRow]) -> Markup:
    """The cards of a page's visits, each followed by a newline (what `{% for row in rows %}{{ row.card }}\n{%
    endfor %}` wrote), the page's texts and time zone looked up once."""
    texts, zone = _card_texts(), timezone.get_current_timezone()
    return Markup("".join([_visit_card(row, texts, zone) + "\n" for row in rows]))  # noqa: S704 - escaped


# The visit card's text in each language (its templates' strings; like _ROW_TEXTS, worked out once).
_CARD_TEXTS: dict[str | None, dict[str, str]] = {}


def _card_texts() -> dict[str, str]:
    language = translation.get_language()
    texts = _CARD_TEXTS.get(language)
    if texts is None:
        # Each string outside an f-string, where makemessages (xgettext) finds it.
        head = (_("Chỉ số"), _("Kết quả"), _("Khoảng tham chiếu"))
        texts = _CARD_TEXTS[language] = {
            "undated": _("Chưa rõ ngày"),
            "diagnosis": _("Chẩn đoán:"),
            "icd_title": _("Mã bệnh ICD-10"),
            "icd": _("mã ICD-10"),
            "caption": _("Kết quả xét nghiệm ngày %(when)s"),
            "more": _("Xem tất cả kết quả xét nghiệm"),
            "no_results": _("Không có kết quả xét nghiệm trong lượt khám này."),
            "table_head": "<thead><tr>"
            + "".join(f'<th scope="col">{t}</th>' for t in head)
            + "</tr></thead>",
        }
    return texts


def _draw_partial(name: str, values: dict[str, Any]) -> str:
    """A Jinja2 partial of the portal drawn on its own (it reads only `values`, the catalogue and `url`)."""
    from django.template import engines

    return str(engines["jinja2"].env.get_template(name).render(values))  # type: ignore[attr-defined]


def visit_rows(
    scope: his_selectors.RecordScope,
    user: Any,
    patient: Any,
    visits: list[PortalVisit],
    per_visit: int | None = None,
) -> list[VisitRow]:
    """The visits with their lab results: one statement for the results of these visits (at most `per_visit` of
    each when given, all of them otherwise), one for their bills' payments (payments.selectors.visit_bills)."""
    by_visit: dict[int, list[LabRow]] = {v.pk: [] for v in visits}
    if visits:
        # Constant SQL (his/sql/visits.py): the rows of visit_lab_results (per_visit=…).
        rows = his_selectors.portal_visit_lab_result_rows(
            user=user,
            patient=patient,
            visit_ids=list(by_visit),
            per_visit=per_visit + 1 if per_visit is not None else None,
            scope=scope,
        )
        texts = row_texts()
        for portal_result in visit_lab_results(rows):
            by_visit[portal_result.visit_id].append(lab_row(portal_result, texts))  # type: ignore[index]
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


# --- /lien-ket-ho-so's hospitals --------------------------------------------------------------------------------

# The link list's texts in each language (www/his_links.html's strings; like _CARD_TEXTS, worked out once).
_LINK_TEXTS: dict[str | None, dict[str, str]] = {}


def _link_texts() -> dict[str, str]:
    language = translation.get_language()
    texts = _LINK_TEXTS.get(language)
    if texts is None:
        # Each string outside an f-string, where makemessages (xgettext) finds it.
        texts = _LINK_TEXTS[language] = {
            "linked": _("Đã liên kết"),
            "since": _("Liên kết từ ngày"),
            "code": _("Mã người bệnh tại bệnh viện"),
            "his_name": _("Hồ sơ tại bệnh viện mang tên"),
            "born": _("sinh ngày %(born)s"),
            "unlink": _("Huỷ liên kết"),
            "waiting": _("Đang chờ bệnh viện kiểm tra"),
            "sent": _("Gửi yêu cầu ngày"),
            "identifier": _("Mã bạn đã khai để tra cứu"),
            "waiting_note": _(
                "Cán bộ bệnh viện sẽ đối chiếu thông tin và nhắn tin cho bạn. Muốn nhanh hơn, hãy in phiếu đề nghị "
                "(hoặc mở trên điện thoại) và đưa cho quầy tiếp đón khi đến khám."
            ),
            "form": _("Tải phiếu đề nghị liên kết (PDF)"),
            "rejected": _("Chưa được chấp nhận"),
            "answered": _("Ngày %(when)s, bệnh viện trả lời:"),
            "again": _("Bạn có thể kiểm tra lại mã và gửi yêu cầu mới ở bên dưới."),
            "unlinked": _("Đã huỷ liên kết"),
            "none": _("Chưa liên kết"),
        }
    return texts


def link_items(overview: list[Any], identifier_labels: dict[str, str], url_of: Any) -> Markup:
    """The items of /lien-ket-ho-so's list of hospitals (his.selectors.LinkOverview rows: what the page's loop
    over `overview` wrote, issue 11), each hospital's link or latest request by its state. `identifier_labels`:
    the identifier types' labels (www.jinja.choice_labels); `url_of`: the page's `url` (www.jinja.urls_for's).
    Values are escaped as Jinja2 escapes them (www.jinja.ESCAPES), translated text is the template's markup."""
    texts = _link_texts()
    zone = timezone.get_current_timezone()
    out = []
    for row in overview:
        state = row.state
        name = str(row.facility.name).translate(ESCAPES)
        if state == "linked":
            link = row.link
            linked_at = _day_texts(link.linked_at, zone)[1] if link.linked_at else ""
            his_name = ""
            if link.his_full_name:
                born = ""
                if link.his_date_of_birth:
                    day = date_filter(link.his_date_of_birth, "d/m/Y").translate(ESCAPES)
                    born = ", " + texts["born"] % {"born": day}
                his_name = (
                    f"<div><dt>{texts['his_name']}</dt><dd>{str(link.his_full_name).translate(ESCAPES)}{born}"
                    "</dd></div>"
                )
            unlink = ""
            if "unlink" in row.actions:
                href = str(url_of("www:his_unlink", link.public_id)).translate(ESCAPES)
                unlink = f'<p><a href="{href}">{texts["unlink"]}<span class="visually-hidden"> — {name}</span></a></p>'
            body = (
                f'\n    <p><span class="badge badge-none">{texts["linked"]}</span></p>\n    <dl class="details">\n'
                f"      <div><dt>{texts['since']}</dt><dd>{linked_at.translate(ESCAPES)}</dd></div>\n"
                f'      <div><dt>{texts["code"]}</dt><dd class="code">{str(link.linked_code).translate(ESCAPES)}'
                "</dd></div>\n"
                f"      {his_name}\n    </dl>\n    {unlink}\n    "
            )
        elif state == "waiting":
            request = row.request
            sent = _day_texts(request.created_at, zone)[1] if request.created_at else ""
            kind = identifier_labels.get(request.identifier_type, request.identifier_type)
            href = str(url_of("www:his_link_form", request.public_id)).translate(ESCAPES)
            body = (
                f'\n    <p><span class="badge badge-watch">{texts["waiting"]}</span></p>\n'
                f'    <dl class="details">\n      <div><dt>{texts["sent"]}</dt><dd>{sent.translate(ESCAPES)}</dd></div>\n'
                f"      <div><dt>{texts['identifier']}</dt><dd>{str(kind).translate(ESCAPES)}: "
                f'<span class="code">{str(request.identifier).translate(ESCAPES)}</span></dd></div>\n    </dl>\n'
                f"    <p>{texts['waiting_note']}</p>\n"
                f'    <p><a class="button button-secondary" href="{href}" download>{texts["form"]}</a></p>\n    '
            )
        elif state == "rejected":
            request = row.request
            decided = _day_texts(request.decided_at, zone)[1] if request.decided_at else ""
            answered = texts["answered"] % {"when": decided.translate(ESCAPES)}
            body = (
                f'\n    <p><span class="badge badge-urgent">{texts["rejected"]}</span></p>\n'
                f"    <p>{answered} <strong>{str(request.reason).translate(ESCAPES)}</strong></p>\n"
                f'    <p class="muted">{texts["again"]}</p>\n    '
            )
        elif state == "unlinked":
            body = f'\n    <p><span class="badge badge-muted">{texts["unlinked"]}</span></p>\n    '
        else:
            body = f'\n    <p><span class="badge badge-muted">{texts["none"]}</span></p>\n    '
        out.append(
            f'\n  <li class="card link-item link-{str(state).translate(ESCAPES)}">\n    <h3>{name}</h3>\n'
            f"    {body}\n  </li>"
        )
    return Markup("".join(out))  # noqa: S704 - every value above is escaped
