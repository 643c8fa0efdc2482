"""The "Dữ liệu cá nhân" group of the desk's sidebar (health_f0.desk.navigation), before the system group."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import can_view, item, register_group, url


def group(request: HttpRequest) -> dict[str, Any]:
    """Items the user may not open are hidden."""
    return {
        "title": _("Dữ liệu cá nhân"),
        "separator": True,
        "items": [
            item(
                _("Yêu cầu xoá, rút đồng ý"),
                "privacy_tip",
                url("privacy_datasubjectrequest_changelist", "?status__exact=submitted"),
                can_view("privacy.DataSubjectRequest"),
            ),
            item(
                _("Ghi nhận đồng ý"),
                "fact_check",
                url("privacy_consentrecord_changelist"),
                can_view("privacy.ConsentRecord"),
            ),
            item(
                _("Chính sách dữ liệu"),
                "policy",
                url("privacy_privacypolicy_changelist"),
                can_view("privacy.PrivacyPolicy"),
            ),
            item(
                _("Lưu giữ dữ liệu"),
                "auto_delete",
                url("privacy_retentionrun_changelist"),
                can_view("privacy.RetentionRun"),
            ),
        ],
    }


register_group("privacy", 90, group)
