"""The report families one may subscribe to (one `register` line each) and the morning report's sections.

Each summary picks figures out of the report its family's selector built and formats them; it computes
nothing the report pages do not show (period sums over the selector's day figures are what the pages'
summaries do too).

The payments family (issue 13 §4) is registered like the others and adds a morning section when anything was
paid or refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from health_f0.appointments.models import Channel
from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.reports.appointments import exports as appointment_exports
from health_f0.reports.appointments import selectors as appointment_selectors
from health_f0.reports.common import export, rollup
from health_f0.reports.his import exports as his_exports
from health_f0.reports.his import selectors as his_selectors
from health_f0.reports.homecare import exports as homecare_exports
from health_f0.reports.homecare import selectors as homecare_selectors
from health_f0.reports.payments import exports as payment_exports
from health_f0.reports.payments import selectors as payment_selectors
from health_f0.reports.subscriptions.registry import (
    MORNING_SECTIONS,
    Figure,
    ReportEntry,
    Section,
    Table,
    register,
    register_morning_section,
)
from health_f0.reports.templatetags.report_format import decimal1, percent, thousands

MORNING = "morning"
# The morning report is about a TTYT, a hospital or the whole province.
MORNING_KINDS: frozenset[str] = frozenset(
    {FacilityKind.DEPARTMENT_OF_HEALTH, FacilityKind.HEALTH_CENTRE, FacilityKind.HOSPITAL}
)


def _flag(ok: bool | None) -> str:
    return "" if ok is None else ("good" if ok else "bad")


# --- Appointments -----------------------------------------------------------------------------------------


def _channel_figures(period: appointment_selectors.AppointmentFigures) -> list[Figure]:
    labels = dict(Channel.choices)
    by_channel = {
        Channel.APP: period.booked_app,
        Channel.WEB: period.booked_web,
        Channel.PHONE: period.booked_phone,
        Channel.DESK: period.booked_desk,
    }
    return [
        Figure(_("Lượt đặt lịch"), thousands(period.booked), _("không gồm khám vãng lai")),
        *(Figure(f"— {labels[channel]}", thousands(count)) for channel, count in by_channel.items()),
    ]


def _no_show_figure(period: appointment_selectors.AppointmentFigures) -> Figure:
    return Figure(
        _("Không đến khám"),
        thousands(period.no_show),
        _("%(rate)s lịch hẹn đã rõ kết quả") % {"rate": percent(period.no_show_rate)},
    )


def appointments_summary(report: appointment_selectors.AppointmentReport) -> list[Section]:
    period = report.period
    low, high = appointment_selectors.APP_SHARE_TARGET
    share = period.app_share
    figures = [
        *_channel_figures(period),
        Figure(_("Lượt khám"), thousands(period.visits), _("kể cả vãng lai")),
        Figure(
            _("Tỷ lệ khám đặt qua ứng dụng"),
            percent(share),
            _("chỉ tiêu %(low)s–%(high)s %%") % {"low": round(low * 100), "high": round(high * 100)},
            _flag(None if share is None else share >= low),
        ),
        _no_show_figure(period),
        Figure(_("Tái khám đúng hẹn"), percent(period.reexam_adherence)),
        Figure(
            _("Xác nhận lịch đặt trực tuyến"),
            thousands(period.confirmed),
            _("trung vị %(minutes)s phút") % {"minutes": decimal1(period.median_confirm_minutes)},
        ),
    ]
    rows = [
        [
            unit.name,
            unit.place or "",
            thousands(f.booked),
            thousands(f.visits),
            percent(f.app_share),
            thousands(f.no_show),
            percent(f.no_show_rate),
        ]
        for unit, f in report.service_period()
    ]
    table = Table(
        _("Theo dịch vụ khám"),
        [
            _("Dịch vụ"),
            _("Nơi khám"),
            _("Lượt đặt"),
            _("Lượt khám"),
            _("Qua ứng dụng"),
            _("Không đến"),
            _("Tỷ lệ không đến"),
        ],
        rows,
    )
    return [Section(_("Lịch hẹn khám"), figures, [table] if rows else [])]


# --- Home care --------------------------------------------------------------------------------------------


def _home_care_figures(report: homecare_selectors.MonitoringReport) -> tuple[Any, Any]:
    """(the period's sums, the last day's figures): what the report page's summary shows."""
    total = rollup.total(report.totals.values(), homecare_selectors.DayFigures())
    last = report.totals.get(report.date_to, homecare_selectors.DayFigures())
    return total, last


def home_care_summary(report: homecare_selectors.MonitoringReport) -> list[Section]:
    total, last = _home_care_figures(report)
    figures = [
        Figure(
            _("Đang theo dõi"),
            thousands(last.active),
            _("ngày %(day)s") % {"day": f"{report.date_to:%d/%m/%Y}"},
        ),
        Figure(_("Tiếp nhận mới"), thousands(total.new)),
        Figure(_("Hoàn thành cách ly"), thousands(total.completed)),
        Figure(_("Chuyển viện"), thousands(total.transferred)),
        Figure(
            _("Đã khai báo"),
            percent(last.declaration_rate),
            _("%(silent)s người chưa khai báo") % {"silent": thousands(last.silent)},
        ),
        Figure(
            _("Cảnh báo"),
            thousands(total.alerts),
            _("cấp cứu %(e)s · liên hệ ngay %(u)s · theo dõi %(w)s")
            % {
                "e": thousands(total.alerts_emergency),
                "u": thousands(total.alerts_urgent),
                "w": thousands(total.alerts_watch),
            },
            _flag(False) if total.alerts_emergency else "",
        ),
    ]
    tables = []
    for level, title in (
        (homecare_selectors.TTYT, _("Theo Trung tâm Y tế")),
        (homecare_selectors.STATION, _("Theo trạm y tế")),
    ):
        table = report.figures.get(level, {})
        rows = []
        for unit in report.units.get(level, []):
            unit_total = rollup.total(
                (table[key] for key in ((unit.id, day) for day in report.days) if key in table),
                homecare_selectors.DayFigures(),
            )
            unit_last = table.get((unit.id, report.date_to), homecare_selectors.DayFigures())
            rows.append(
                [
                    unit.name,
                    thousands(unit_last.active),
                    thousands(unit_total.new),
                    percent(unit_last.declaration_rate),
                    thousands(unit_total.alerts),
                ]
            )
        if rows:
            headers = [_("Đơn vị"), _("Đang theo dõi"), _("Mới"), _("Đã khai báo"), _("Cảnh báo")]
            tables.append(Table(title, headers, rows))
    return [Section(_("Theo dõi F0 tại nhà"), figures, tables)]


# --- HIS linking ------------------------------------------------------------------------------------------


def _link_figure(report: his_selectors.HisLinkReport) -> Figure:
    share = report.period.share
    return Figure(
        _("Tỷ lệ tài khoản đã liên kết HIS"),
        percent(share),
        _("%(linked)s/%(patients)s người bệnh đến khám; mục tiêu ≥ %(target)s %%")
        % {
            "linked": thousands(report.period.linked),
            "patients": thousands(report.period.patients),
            "target": round(report.target * 100),
        },
        _flag(report.period.meets_target),
    )


def his_summary(report: his_selectors.HisLinkReport) -> list[Section]:
    figures = [
        _link_figure(report),
        Figure(
            _("Cần liên kết thêm để đạt mục tiêu"),
            thousands(report.period.gap),
        ),
        Figure(
            _("Yêu cầu liên kết đang chờ"),
            thousands(report.waiting),
            _("chờ lâu nhất %(days)s ngày") % {"days": report.oldest_waiting_days}
            if report.oldest_waiting_days is not None
            else "",
        ),
        Figure(
            _("Đã liên kết trong kỳ"),
            thousands(report.linked),
            _("trung vị %(hours)s giờ") % {"hours": decimal1(report.median_hours)},
        ),
    ]
    rows = [
        [dept.facility_name, dept.label, thousands(p.patients), thousands(p.linked), percent(p.share)]
        for dept, _days, p in report.department_rows()
    ]
    table = Table(
        _("Theo khoa"), [_("Bệnh viện/TTYT"), _("Khoa"), _("Người bệnh"), _("Đã liên kết"), _("Tỷ lệ")], rows
    )
    return [Section(_("Liên kết tài khoản với HIS"), figures, [table] if rows else [])]


# --- The morning report ("Báo cáo sáng") --------------------------------------------------------------------


@dataclass
class MorningReport:
    date_from: date
    date_to: date
    root: Facility
    sections: list[Section]


def morning_facilities(user: Any) -> list[Facility]:
    """The TTYT, hospitals and Sở Y tế where the user is a manager or an administrator (or under them)."""
    return rollup.scope_facilities(
        user, access.REPORT_SUBSCRIPTION_ROLES, "_hf0_morning_facilities", kinds=MORNING_KINDS
    )


def morning_report(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> MorningReport:
    """Each morning section, built by its family's selector as `user` for `facility_id`; a family the user
    may not see for that facility is left out. PermissionDenied/LookupError when the facility itself is not in
    the user's scope."""
    root = rollup.pick_root(morning_facilities(user), facility_id)
    if root is None:
        raise PermissionDenied(_("Bạn không có quyền xem báo cáo sáng."))
    sections = []
    for build in MORNING_SECTIONS:
        try:
            section = build(user=user, date_from=date_from, date_to=date_to, facility_id=root.pk)
        except (PermissionDenied, LookupError):
            continue
        if section is not None:
            sections.append(section)
    return MorningReport(date_from=date_from, date_to=date_to, root=root, sections=sections)


def morning_summary(report: MorningReport) -> list[Section]:
    return report.sections


@register_morning_section
def morning_bookings(**query: Any) -> Section:
    """Bookings by channel and no-shows (the appointment report's period figures)."""
    period = appointment_selectors.appointment_report(**query).period
    return Section(_("Đặt lịch khám"), [*_channel_figures(period), _no_show_figure(period)])


@register_morning_section
def morning_links(**query: Any) -> Section:
    """Accounts linked to the HIS against the 80 % target."""
    return Section(_("Liên kết tài khoản với HIS"), [_link_figure(his_selectors.his_link_report(**query))])


@register_morning_section
def morning_home_care(**query: Any) -> Section | None:
    """Home-care counts, only while a home-care programme is running in the scope: someone monitored, taken
    in or alerted during the period."""
    report = homecare_selectors.monitoring_report(**query)
    total, last = _home_care_figures(report)
    if not (total.active or total.new or total.alerts):
        return None
    return Section(
        _("Theo dõi F0 tại nhà"),
        [
            Figure(_("Đang theo dõi"), thousands(last.active)),
            Figure(_("Tiếp nhận mới"), thousands(total.new)),
            Figure(_("Chưa khai báo"), thousands(last.silent)),
            Figure(
                _("Cảnh báo cấp cứu / liên hệ ngay"),
                f"{thousands(total.alerts_emergency)} / {thousands(total.alerts_urgent)}",
                flag=_flag(False) if total.alerts_emergency else "",
            ),
        ],
    )


# --- Payments (the payments report's figures) ------------------------------------------------------------


def _money(amount: int) -> str:
    return f"{thousands(amount)} đ"


def _payment_figures(report: payment_selectors.PaymentReport) -> list[Figure]:
    total = report.total
    return [
        Figure(_("Đã thanh toán trực tuyến"), _money(total.amount), _("%(n)s giao dịch") % {"n": total.paid}),
        Figure(
            _("Đã hoàn tiền"),
            _money(total.refunded_amount),
            _("%(n)s giao dịch") % {"n": total.refunded},
        ),
        Figure(_("Thực thu"), _money(total.net)),
    ]


def payments_summary(report: payment_selectors.PaymentReport) -> list[Section]:
    gateways = Table(
        _("Theo cổng thanh toán"),
        [_("Cổng"), _("Giao dịch"), _("Đã thanh toán"), _("Đã hoàn"), _("Thực thu")],
        [
            [label, thousands(f.paid), _money(f.amount), _money(f.refunded_amount), _money(f.net)]
            for label, f in report.by_gateway
        ],
    )
    services = Table(
        _("Theo dịch vụ"),
        [_("Dịch vụ"), _("Giao dịch"), _("Đã thanh toán"), _("Đã hoàn"), _("Thực thu")],
        [
            [name, thousands(f.paid), _money(f.amount), _money(f.refunded_amount), _money(f.net)]
            for _code, name, f in report.by_service
        ],
    )
    return [Section(_("Thanh toán trực tuyến"), _payment_figures(report), [gateways, services])]


@register_morning_section
def morning_payments(**query: Any) -> Section | None:
    """Yesterday's online payments, refunds and net takings, when anything was paid or refunded."""
    report = payment_selectors.payment_report(**query)
    if not (report.total.paid or report.total.refunded):
        return None
    return Section(_("Thanh toán trực tuyến"), _payment_figures(report))


def sections_xlsx(sections: list[Section]) -> bytes:
    """A workbook of a summary: one sheet of headline figures, one per table (the morning report's XLSX)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet: Any = workbook.create_sheet(title=_("Tóm tắt"))
    export.start_sheet(
        sheet, [_("Mục"), _("Chỉ số"), _("Giá trị"), _("Ghi chú")], widths=[28, 40, 16, 50], freeze="A2"
    )
    for section in sections:
        for figure in section.figures:
            export.append_row(sheet, [section.title, figure.label, figure.value, figure.note])
    for index, section in enumerate(sections):
        for table in section.tables:
            sheet = workbook.create_sheet(title=f"{index + 1}. {table.title}"[:31])
            export.start_sheet(sheet, table.headers, widths=[30] * len(table.headers), freeze="A2")
            for row in table.rows:
                export.append_row(sheet, row)
    return export.workbook_bytes(workbook)


def _appointment_facilities(user: Any) -> list[Facility]:
    return appointment_selectors.report_facilities(user)


register(
    ReportEntry(
        key="appointments",
        label=gettext_lazy("Báo cáo lịch hẹn khám"),
        build=appointment_selectors.appointment_report,
        facilities=_appointment_facilities,
        summarize=appointments_summary,
        xlsx=appointment_exports.report_xlsx,
        filename=appointment_exports.export_filename,
        page="reports:appointments",
    )
)
register(
    ReportEntry(
        key="home_care",
        label=gettext_lazy("Báo cáo theo dõi F0 tại nhà"),
        build=homecare_selectors.monitoring_report,
        facilities=homecare_selectors.report_facilities,
        summarize=home_care_summary,
        xlsx=homecare_exports.report_xlsx,
        filename=homecare_exports.export_filename,
        page="reports:home_care",
    )
)
register(
    ReportEntry(
        key="his_links",
        label=gettext_lazy("Báo cáo liên kết HIS"),
        build=his_selectors.his_link_report,
        facilities=his_selectors.report_facilities,
        summarize=his_summary,
        xlsx=his_exports.report_xlsx,
        filename=his_exports.export_filename,
        page="reports:his_links",
    )
)
register(
    ReportEntry(
        key=MORNING,
        label=gettext_lazy("Báo cáo sáng"),
        build=morning_report,
        facilities=morning_facilities,
        summarize=morning_summary,
        xlsx=None,
        filename=lambda a, b: export.export_filename("bao-cao-sang", a, b),
        page="",
    )
)
register(
    ReportEntry(
        key="payments",
        label=gettext_lazy("Báo cáo thanh toán"),
        build=payment_selectors.payment_report,
        facilities=payment_selectors.report_facilities,
        summarize=payments_summary,
        xlsx=payment_exports.report_xlsx,
        filename=payment_exports.export_filename,
        page="reports:payments",
    )
)
