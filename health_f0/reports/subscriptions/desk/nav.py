"""The report e-mails' items in the desk's "Báo cáo" group (health_f0.reports.desk.nav)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import can_view, item, register_items, url


def items(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        item(
            _("Báo cáo định kỳ qua e-mail"),
            "forward_to_inbox",
            url("subscriptions_reportsubscription_changelist"),
            can_view("subscriptions.ReportSubscription"),
        ),
        item(
            _("Các lần gửi báo cáo"),
            "outbox",
            url("subscriptions_reportdelivery_changelist"),
            can_view("subscriptions.ReportDelivery"),
        ),
    ]


register_items("reports", 10, items)
