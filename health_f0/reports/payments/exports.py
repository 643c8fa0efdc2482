"""XLSX export of the payments report: the day × facility × gateway × service rows, the totals per gateway and
per service, and a notes sheet."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook

from health_f0.reports.common import export
from health_f0.reports.common.export import DATE_FORMAT, append_row, number_cell
from health_f0.reports.payments.selectors import Figures, PaymentReport

MONEY_FORMAT = "#,##0"


def export_filename(date_from: date, date_to: date) -> str:
    return export.export_filename("bao-cao-thanh-toan", date_from, date_to)


def _figures(sheet: Any, f: Figures) -> list[Any]:
    return [
        f.paid,
        number_cell(sheet, f.amount, MONEY_FORMAT),
        f.refunded,
        number_cell(sheet, f.refunded_amount, MONEY_FORMAT),
        number_cell(sheet, f.net, MONEY_FORMAT),
    ]


def figure_headers() -> list[str]:
    return [
        _("Số giao dịch đã thanh toán"),
        _("Số tiền đã thanh toán (đồng)"),
        _("Số giao dịch đã hoàn"),
        _("Số tiền đã hoàn (đồng)"),
        _("Thực thu (đồng)"),
    ]


def report_xlsx(report: PaymentReport) -> bytes:
    workbook = Workbook(write_only=True)
    rows: Any = workbook.create_sheet(title=_("Theo ngày"))
    names = [
        _("Ngày"),
        _("Mã cơ sở"),
        _("Cơ sở"),
        _("Cổng thanh toán"),
        _("Mã dịch vụ"),
        _("Dịch vụ"),
        *figure_headers(),
    ]
    export.start_sheet(rows, names, widths=[12, 14, 34, 20, 14, 30] + [16] * 5, freeze="G2")
    for row in report.rows:
        append_row(
            rows,
            [
                number_cell(rows, row.day, DATE_FORMAT),
                row.facility_code,
                row.facility_name,
                row.gateway_label,
                row.service_code,
                row.service_name,
                *_figures(rows, row.figures),
            ],
        )
    gateways: Any = workbook.create_sheet(title=_("Theo cổng"))
    export.start_sheet(
        gateways, [_("Cổng thanh toán"), *figure_headers()], widths=[24] + [16] * 5, freeze="B2"
    )
    for label, figures in report.by_gateway:
        append_row(gateways, [label, *_figures(gateways, figures)])
    append_row(gateways, [_("Tổng cộng"), *_figures(gateways, report.total)])
    services: Any = workbook.create_sheet(title=_("Theo dịch vụ"))
    export.start_sheet(
        services, [_("Mã dịch vụ"), _("Dịch vụ"), *figure_headers()], widths=[14, 30] + [16] * 5, freeze="C2"
    )
    for code, name, figures in report.by_service:
        append_row(services, [code, name, *_figures(services, figures)])
    export.notes_sheet(
        workbook,
        _("Ghi chú"),
        [
            _("Báo cáo thanh toán trực tuyến từ %(a)s đến %(b)s.")
            % {"a": f"{report.date_from:%d/%m/%Y}", "b": f"{report.date_to:%d/%m/%Y}"},
            _(
                "Một giao dịch tính vào ngày thanh toán thành công (giờ Việt Nam), kể cả khi sau đó được hoàn; "
                "số đã hoàn là các giao dịch đó đã hoàn xong. Thực thu = đã thanh toán − đã hoàn."
            ),
            _(
                "Dịch vụ: phí khám khi đặt lịch theo dịch vụ đã đặt; viện phí lượt khám gộp một dòng “Viện phí”."
            ),
        ],
    )
    return export.workbook_bytes(workbook)
