"""The desk's own "Hệ thống" group of the sidebar: the audit log and user accounts (health_f0.desk.users).
Other apps add their system pages to it (`register_items("system", ...)`: the SMS outbox comes first)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import can_view, item, register_group, register_items, url


def group(request: HttpRequest) -> dict[str, Any]:
    return {"title": _("Hệ thống"), "separator": True, "items": []}


def desk_items(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        item(
            _("Nhật ký truy cập và thao tác"),
            "history",
            url("core_auditlog_changelist"),
            can_view("core.AuditLog"),
        ),
        item(
            _("Người dùng"),
            "manage_accounts",
            url("core_user_changelist"),
            can_view("core.User"),
        ),
    ]


register_group("system", 100, group)
register_items("system", 50, desk_items)
