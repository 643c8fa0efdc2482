"""The SMS outbox in the desk's "Hệ thống" group of the sidebar (health_f0.desk.navigation), first."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import can_view, item, register_items, url


def items(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        item(
            _("Hộp thư đi (SMS)"),
            "sms",
            url("notifications_outboxmessage_changelist"),
            can_view("notifications.OutboxMessage"),
        )
    ]


register_items("system", 10, items)
