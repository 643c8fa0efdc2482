"""The "Theo dõi tại nhà" and "Cấu hình" groups of the desk's sidebar (health_f0.desk.navigation)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import can_view, item, register_group, url


def _episodes_active(request: HttpRequest) -> bool:
    """The board and the silent list live under the episodes' URL; only the list and details light this."""
    base = url("monitoring_episode_changelist")
    extra = (url("monitoring_board"), url("monitoring_silent"))
    return bool(base) and request.path.startswith(base) and not request.path.startswith(extra)


def home_care_group(request: HttpRequest) -> dict[str, Any]:
    return {
        "title": _("Theo dõi tại nhà"),
        "separator": True,
        "items": [
            item(
                _("Bảng theo dõi hôm nay"),
                "monitor_heart",
                url("monitoring_board"),
                can_view("monitoring.Episode"),
            ),
            item(
                _("Cảnh báo"),
                "notifications_active",
                url("monitoring_alert_changelist", "?xu_ly=chua"),
                can_view("monitoring.Alert"),
            ),
            item(
                _("Chưa khai báo / Danh sách gọi"),
                "phone_in_talk",
                url("monitoring_silent"),
                can_view("monitoring.Episode"),
            ),
            {
                **item(
                    _("Đợt chăm sóc"),
                    "home_health",
                    url("monitoring_episode_changelist", "?status__exact=active"),
                    can_view("monitoring.Episode"),
                ),
                "active": _episodes_active,
            },
        ],
    }


def configuration_group(request: HttpRequest) -> dict[str, Any]:
    return {
        "title": _("Cấu hình"),
        "separator": True,
        "items": [
            item(
                _("Bộ câu hỏi khai báo"),
                "quiz",
                url("monitoring_questionnaireversion_changelist"),
                can_view("monitoring.QuestionnaireVersion"),
            ),
            item(
                _("Quy tắc phân loại cảnh báo"),
                "rule",
                url("monitoring_triagerule_changelist"),
                can_view("monitoring.TriageRule"),
            ),
            item(
                _("Hạn khai báo và giờ nhắc"),
                "schedule",
                url("monitoring_provincepolicy_changelist"),
                can_view("monitoring.ProvincePolicy"),
            ),
            item(
                _("Tài liệu hướng dẫn"),
                "menu_book",
                url("monitoring_guidancedocument_changelist"),
                can_view("monitoring.GuidanceDocument"),
            ),
        ],
    }


register_group("monitoring", 20, home_care_group)
register_group("configuration", 80, configuration_group)
