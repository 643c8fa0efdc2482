"""XLSX export of the HIS linking report (write-only workbook, Vietnamese headers, real dates and percentage
formats); his.services records the export in the audit log."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from health_f0.reports.common import export
from health_f0.reports.common.export import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    HOURS_FORMAT,
    PERCENT_FORMAT,
    append_row,
    number_cell,
)
from health_f0.reports.his import selectors


def export_filename(date_from: date, date_to: date) -> str:
    return export.export_filename("bao-cao-lien-ket-his", date_from, date_to)


def report_xlsx(report: selectors.HisLinkReport) -> bytes:
    workbook = Workbook(write_only=True)
    target = report.target

    sheet: Any = workbook.create_sheet(title=_("Theo khoa và ngày"))
    _start(sheet, [_("Bệnh viện/TTYT"), _("Mã khoa"), _("Khoa"), _("Ngày"), *_share_headers()], "E2")
    for dept, days, _period in report.department_rows():
        for day, figures in days:
            append_row(
                sheet,
                [
                    dept.facility_name,
                    dept.code,
                    dept.name,
                    number_cell(sheet, day, DATE_FORMAT),
                    *_share(sheet, figures, target),
                ],
            )

    sheet = workbook.create_sheet(title=_("Theo khoa cả kỳ"))
    _start(sheet, [_("Bệnh viện/TTYT"), _("Mã khoa"), _("Khoa"), *_share_headers()], "D2")
    for dept, _days, period in report.department_rows():
        append_row(sheet, [dept.facility_name, dept.code, dept.name, *_share(sheet, period, target)])

    sheet = workbook.create_sheet(title=_("Theo ngày"))
    _start(
        sheet,
        [_("Ngày"), *_share_headers(), _("Số yêu cầu đã liên kết"), _("Trung vị thời gian liên kết (giờ)")],
        "B2",
    )
    for day in report.days:
        figures = report.by_day.get(day, selectors.ShareFigures())
        append_row(
            sheet,
            [
                number_cell(sheet, day, DATE_FORMAT),
                *_share(sheet, figures, target),
                report.linked_by_day.get(day, 0),
                number_cell(sheet, report.median_hours_by_day.get(day), HOURS_FORMAT),
            ],
        )

    sheet = workbook.create_sheet(title=_("Yêu cầu liên kết"))
    _start(sheet, [_("Chỉ số"), _("Giá trị")], "A2")
    for label, value, number_format in (
        (_("Tỷ lệ người bệnh đến khám đã liên kết (cả kỳ)"), report.period.share, PERCENT_FORMAT),
        (_("Chỉ tiêu"), target, PERCENT_FORMAT),
        (_("Người bệnh đến khám (cả kỳ)"), report.period.patients, "0"),
        (_("Trong đó đã liên kết"), report.period.linked, "0"),
        (_("Yêu cầu đang chờ cán bộ liên kết"), report.waiting, "0"),
        (_("Yêu cầu chờ lâu nhất (ngày)"), report.oldest_waiting_days, "0"),
        (_("Yêu cầu đã liên kết trong kỳ"), report.linked, "0"),
        (_("Trong đó liên kết tự động"), report.auto_linked, "0"),
        (_("Yêu cầu bị từ chối trong kỳ"), report.rejected, "0"),
        (_("Trung vị thời gian liên kết, mọi yêu cầu (giờ)"), report.median_hours, HOURS_FORMAT),
        (_("Trung vị thời gian liên kết do cán bộ duyệt (giờ)"), report.median_hours_manual, HOURS_FORMAT),
    ):
        append_row(sheet, [label, number_cell(sheet, value, number_format)])

    sheet = workbook.create_sheet(title=_("Lượt nhập dữ liệu"))
    _start(
        sheet,
        [
            _("Bắt đầu"),
            _("Bệnh viện/TTYT"),
            _("Loại"),
            _("Tệp"),
            _("Trạng thái"),
            _("Số hồ sơ đọc"),
            _("Đã nhập"),
            _("Trùng (bỏ qua)"),
            _("Bị từ chối"),
            _("Lý do lỗi"),
        ],
        "B2",
    )
    for run in report.runs:
        append_row(
            sheet,
            [
                number_cell(sheet, timezone.localtime(run.started_at).replace(tzinfo=None), DATETIME_FORMAT),
                run.facility.name,
                run.get_kind_display(),
                run.file_name,
                run.get_status_display(),
                run.read_count,
                run.imported_count,
                run.duplicate_count,
                run.rejected_count,
                run.failure,
            ],
        )

    sheet = workbook.create_sheet(title=_("Lỗi nhập"))
    _start(sheet, [_("Bắt đầu"), _("Tệp"), _("Hồ sơ (MA_LK / mã)"), _("Bảng"), _("Lý do")], "A2")
    for run in report.runs:
        for error in run.errors[: selectors.ERRORS_PER_RUN]:
            append_row(
                sheet,
                [
                    number_cell(
                        sheet, timezone.localtime(run.started_at).replace(tzinfo=None), DATETIME_FORMAT
                    ),
                    run.file_name or run.get_kind_display(),
                    error.get("record", ""),
                    error.get("table", ""),
                    error.get("reason", ""),
                ],
            )

    export.notes_sheet(workbook, _("Ghi chú"), notes_lines(report))
    return export.workbook_bytes(workbook)


def notes_lines(report: selectors.HisLinkReport) -> list[str]:
    return [
        _("Báo cáo liên kết HIS từ %(a)s đến %(b)s.")
        % {"a": f"{report.date_from:%d/%m/%Y}", "b": f"{report.date_to:%d/%m/%Y}"},
        _(
            "Người bệnh đến khám: số người bệnh khác nhau HIS báo có lượt khám (qua FHIR hoặc tệp XML), theo khoa và "
            "ngày; đã liên kết: tài khoản đã liên kết với hồ sơ HIS khi nhập lượt khám. Chỉ tiêu: %(n)s %%."
        )
        % {"n": round(report.target * 100)},
        _(
            "Một người khám nhiều khoa trong ngày được tính một lần ở dòng cả ngày; cả kỳ đếm người, không cộng ngày."
        ),
        _("Thời gian liên kết: từ lúc gửi yêu cầu đến lúc liên kết, tính theo ngày liên kết."),
        _("Lượt nhập: các lần nhập tệp XML và đồng bộ FHIR bắt đầu trong kỳ (tối đa %(n)s lượt gần nhất).")
        % {"n": selectors.RUNS_SHOWN},
    ]


def _share_headers() -> list[str]:
    return [
        _("Người bệnh đến khám"),
        _("Đã liên kết"),
        _("Tỷ lệ đã liên kết"),
        _("Chỉ tiêu"),
        _("Đạt chỉ tiêu"),
        _("Cần liên kết thêm để đạt"),
    ]


def _share(sheet: Any, figures: selectors.ShareFigures, target: float) -> list[Any]:
    met = figures.meets_target
    return [
        figures.patients,
        figures.linked,
        number_cell(sheet, figures.share, PERCENT_FORMAT),
        number_cell(sheet, target, PERCENT_FORMAT),
        "" if met is None else (_("Đạt") if met else _("Chưa đạt")),
        figures.gap,
    ]


def _start(sheet: Any, names: list[str], freeze: str) -> None:
    widths = [22 if index <= 3 else 14 for index in range(1, len(names) + 1)]
    export.start_sheet(sheet, names, widths=widths, freeze=freeze)
