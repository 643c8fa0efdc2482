"""The payments report page and its XLSX export (reports.common.views.ReportKind). Access: accountants,
managers and administrators for the facilities where they hold the role; others 403."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from health_f0.accounting.money import vnd
from health_f0.reports.common.query import ReportQuery
from health_f0.reports.common.views import ReportKind
from health_f0.reports.payments import selectors
from health_f0.reports.payments.services import payment_report_export

DENIED = gettext_lazy(
    "Bạn không có quyền xem báo cáo thanh toán. Báo cáo dành cho kế toán, lãnh đạo và quản trị."
)


def _context(report: selectors.PaymentReport, query: ReportQuery) -> dict[str, Any]:
    def money(figures: selectors.Figures) -> dict[str, Any]:
        return {
            "paid": figures.paid,
            "amount": vnd(figures.amount),
            "refunded": figures.refunded,
            "refunded_amount": vnd(figures.refunded_amount),
            "net": vnd(figures.net),
        }

    return {
        "total": money(report.total),
        "gateway_rows": [(label, money(f)) for label, f in report.by_gateway],
        "service_rows": [(code, name, money(f)) for code, name, f in report.by_service],
        "detail_rows": [(row, money(row.figures)) for row in report.rows],
        "day_rows": [(day, money(f)) for day, f in report.by_day if f.paid],
    }


PAYMENTS = ReportKind(
    url_name="payments",
    template="reports/payments.html",
    title=gettext_lazy("Báo cáo thanh toán trực tuyến"),
    build=selectors.payment_report,
    export=payment_report_export,
    context=_context,
    facilities=selectors.report_facilities,
    can_view=selectors.can_view_payment_report,
    denied=DENIED,
)

# `/bao-cao/thanh-toan/?from=dd/mm/yyyy&to=dd/mm/yyyy&facility=<id>` and its XLSX download.
payments = PAYMENTS.page_view()
payments_xlsx = PAYMENTS.xlsx_view()
