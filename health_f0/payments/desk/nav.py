"""The "Thanh toán" group of the desk's sidebar (health_f0.desk.navigation)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import has_role, item, register_group, url
from health_f0.facilities import access


def group(request: HttpRequest) -> dict[str, Any]:
    return {
        "title": _("Thanh toán"),
        "separator": True,
        "items": [
            item(
                _("Thanh toán"),
                "payments",
                url("payments_payment_changelist"),
                has_role(access.PAYMENT_READER_ROLES),
            ),
            item(
                _("Nhật ký cổng thanh toán"),
                "receipt_long",
                url("payments_paymentevent_changelist"),
                has_role(access.PAYMENT_LOG_ROLES),
            ),
            item(
                _("Giá khám và thu trước"),
                "sell",
                url("payments_servicepaymentpolicy_changelist"),
                has_role(access.OVERSIGHT_ROLES),
            ),
            item(
                _("Tài khoản cổng thanh toán"),
                "account_balance",
                url("payments_gatewayaccount_changelist"),
                has_role(access.GATEWAY_ACCOUNT_ROLES),
            ),
        ],
    }


register_group("payments", 35, group)
