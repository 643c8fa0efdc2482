"""XLSX export of the appointment report's view per clinical department: one sheet of rows (departments, each
hospital/TTYT's total, the scope's total) with percentage, minute and money formats, and a sheet saying what
each column counts."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from health_f0.reports.appointments.departments import (
    DEPARTMENT,
    HOSPITAL,
    WAIT_PERCENTILE,
    DepartmentReport,
    DepartmentRow,
)
from health_f0.reports.appointments.selectors import APP_SHARE_TARGET
from health_f0.reports.common import export
from health_f0.reports.common.export import MINUTES_FORMAT, PERCENT_FORMAT, append_row, number_cell

VND_FORMAT = "#,##0"
COUNT_FORMAT = "#,##0"


def headers() -> list[str]:
    return [
        _("Cấp"),
        _("Mã"),
        _("Khoa"),
        _("Bệnh viện/TTYT"),
        _("Người bệnh của khoa"),
        _("Có tài khoản"),
        _("Tài khoản mới trong kỳ"),
        _("Tài khoản đã liên kết HIS"),
        _("Tỷ lệ liên kết HIS"),
        _("Chỉ tiêu liên kết HIS"),
        _("Đạt chỉ tiêu liên kết"),
        _("Đặt qua ứng dụng"),
        _("Đặt qua cổng web"),
        _("Đặt qua điện thoại"),
        _("Đặt tại quầy"),
        _("Tổng lượt đặt"),
        _("Vãng lai"),
        _("Lượt khám (đã tiếp đón)"),
        _("Khám đặt qua ứng dụng"),
        _("Tỷ lệ khám đặt qua ứng dụng"),
        _("Đến khám đúng hẹn"),
        _("Không đến"),
        _("Tỷ lệ không đến"),
        _("Lượt được gọi"),
        _("Chờ gọi số: trung vị (phút)"),
        _("Chờ gọi số: P%(p)s (phút)") % {"p": WAIT_PERCENTILE},
        _("Tin nhắc qua SMS"),
        _("Chi phí SMS (đồng)"),
        _("Tin nhắc qua Zalo ZNS"),
        _("Chi phí Zalo ZNS (đồng)"),
        _("Tin ZNS chuyển sang SMS"),
        _("Tổng chi phí tin nhắc (đồng)"),
    ]


def export_filename(date_from: date, date_to: date) -> str:
    return export.export_filename("bao-cao-lich-hen-theo-khoa", date_from, date_to)


def level_label(row: DepartmentRow) -> str:
    if row.level == DEPARTMENT:
        return _("Khoa")
    if row.level == HOSPITAL:
        return _("Tổng bệnh viện/TTYT")
    return _("Tổng phạm vi")


def report_xlsx(report: DepartmentReport) -> bytes:
    workbook = Workbook(write_only=True)
    sheet: Any = workbook.create_sheet(title=_("Theo khoa"))
    names = headers()
    export.start_sheet(sheet, names, widths=[16, 14, 36, 30] + [13] * (len(names) - 4), freeze="E2")
    for row in report.table_rows:
        append_row(sheet, _values(sheet, row))
    export.notes_sheet(workbook, _("Ghi chú"), notes_lines(report))
    return export.workbook_bytes(workbook)


def _met(value: bool | None) -> str:
    if value is None:
        return "—"
    return _("Đạt") if value else _("Chưa đạt")


def _values(sheet: Any, row: DepartmentRow) -> list[Any]:
    f = row.figures
    values: list[Any] = [
        level_label(row),
        row.code,
        row.name,
        row.hospital,
        f.patients,
        f.accounts,
        f.new_accounts,
        f.linked,
        number_cell(sheet, f.link_share, PERCENT_FORMAT),
        number_cell(sheet, row.link_target, "0%"),
        _met(row.link_target_met),
        f.booked_app,
        f.booked_web,
        f.booked_phone,
        f.booked_desk,
        f.booked,
        f.walk_ins,
        f.visits,
        f.visits_app,
        number_cell(sheet, f.app_share, PERCENT_FORMAT),
        f.came,
        f.no_show,
        number_cell(sheet, f.no_show_rate, PERCENT_FORMAT),
        f.waited,
        number_cell(sheet, f.wait_median_minutes, MINUTES_FORMAT),
        number_cell(sheet, f.wait_p90_minutes, MINUTES_FORMAT),
        number_cell(sheet, f.sms_messages, COUNT_FORMAT),
        number_cell(sheet, f.sms_cost_vnd, VND_FORMAT),
        number_cell(sheet, f.zns_messages, COUNT_FORMAT),
        number_cell(sheet, f.zns_cost_vnd, VND_FORMAT),
        f.zns_fell_back,
        number_cell(sheet, f.reminder_cost_vnd, VND_FORMAT),
    ]
    if row.level != DEPARTMENT:
        bold = Font(bold=True)
        for index, value in enumerate(values[:4]):
            cell = WriteOnlyCell(sheet, value=value)
            cell.font = bold
            values[index] = cell
    return values


def notes_lines(report: DepartmentReport) -> list[str]:
    low, high = APP_SHARE_TARGET
    return [
        _("Báo cáo lịch hẹn khám theo khoa từ %(a)s đến %(b)s.")
        % {"a": f"{report.date_from:%d/%m/%Y}", "b": f"{report.date_to:%d/%m/%Y}"},
        _(
            "Khoa: khoa/phòng (cơ sở loại “Khoa/phòng”) chứa phòng khám của dịch vụ; dịch vụ không thuộc khoa nào "
            "được tính vào dòng “Không thuộc khoa” của bệnh viện/TTYT."
        ),
        _(
            "Người bệnh của khoa: người có lịch hẹn (kể cả vãng lai) tại các dịch vụ của khoa, đặt trong kỳ hoặc "
            "hẹn trong kỳ, dù sau đó đến, không đến hay huỷ. Có tài khoản: người bệnh có tài khoản cổng thông "
            "tin; tài khoản mới: tài khoản tạo trong kỳ."
        ),
        _(
            "Đã liên kết HIS: tài khoản đang liên kết với hồ sơ HIS của bệnh viện/TTYT của khoa vào cuối kỳ. Tỷ "
            "lệ liên kết = đã liên kết / có tài khoản; chỉ tiêu của kế hoạch: ít nhất 80 %, hoặc chỉ tiêu riêng "
            "của khoa (cấu hình DEPARTMENT_LINK_TARGETS)."
        ),
        _(
            "Lượt đặt: tính vào ngày đặt, theo kênh, không gồm vãng lai. Lượt khám: người bệnh được tiếp đón "
            "trong kỳ, kể cả vãng lai. Tỷ lệ khám đặt qua ứng dụng = khám đặt qua ứng dụng / lượt khám; chỉ "
            "tiêu %(low)s–%(high)s %%."
        )
        % {"low": round(low * 100), "high": round(high * 100)},
        _(
            "Tỷ lệ không đến = không đến / (đến khám + không đến) của các lịch hẹn trong kỳ; lịch đã huỷ hoặc "
            "chưa rõ kết quả không tính."
        ),
        _(
            "Chờ gọi số: số phút từ lúc tiếp đón đến lúc được gọi vào khám lần đầu, của các lượt tiếp đón trong "
            "kỳ; trung vị và phân vị %(p)s (giá trị thứ ⌈%(p)s %% × n⌉ khi xếp tăng dần)."
        )
        % {"p": WAIT_PERCENTILE},
        _(
            "Chi phí tin nhắc: tin nhắc lịch hẹn tạo trong kỳ mà kênh đã nhận gửi (đã gửi, đã đến máy, hoặc tin "
            "ZNS đã chuyển sang SMS); chi phí theo đơn giá lúc xếp hàng gửi; tin ZNS bị Zalo từ chối không "
            "tính tiền; tin SMS gửi thay tin ZNS tính vào SMS."
        ),
        _(
            "Dòng tổng bệnh viện/TTYT đếm mỗi người bệnh một lần dù đến nhiều khoa; dòng tổng phạm vi cộng các "
            "bệnh viện/TTYT. Thời gian chờ của các dòng tổng tính lại từ chính các lượt của dòng đó."
        ),
    ]
