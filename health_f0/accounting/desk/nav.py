"""The "Kế toán" group of the desk's sidebar (health_f0.desk.navigation): reconciliations, a new one, the
refund worklist and the payments report. The pages check access themselves."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import exact_page, has_role, item, register_group, url
from health_f0.facilities import access


def group(request: HttpRequest) -> dict[str, Any]:
    return {
        "title": _("Kế toán"),
        "separator": True,
        "items": [
            {
                **item(
                    _("Đối soát ngày"),
                    "account_balance",
                    url("accounting_reconciliation_changelist"),
                    has_role(access.ACCOUNTING_READER_ROLES),
                ),
                "active": exact_page(
                    "accounting_reconciliation_changelist",
                    prefix_of=("accounting_upload", "accounting_refunds"),
                ),
            },
            item(
                _("Đối soát tệp mới"),
                "upload_file",
                url("accounting_upload"),
                has_role(access.ACCOUNTANT_ROLES),
            ),
            item(
                _("Hoàn tiền thủ công"),
                "currency_exchange",
                url("accounting_refunds"),
                has_role(access.ACCOUNTING_READER_ROLES),
            ),
            item(
                _("Báo cáo thanh toán"),
                "monitoring",
                "/bao-cao/thanh-toan/",
                has_role(access.PAYMENT_REPORT_ROLES),
            ),
        ],
    }


register_group("accounting", 45, group)
