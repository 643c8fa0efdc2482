"""The "Báo cáo" group of the desk's sidebar (health_f0.desk.navigation); the report pages check access
themselves."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import has_role, item, register_group
from health_f0.facilities import access


def group(request: HttpRequest) -> dict[str, Any]:
    return {
        "title": _("Báo cáo"),
        "separator": True,
        "items": [item(_("Báo cáo"), "monitoring", "/bao-cao/", has_role(access.HOME_CARE_REPORT_ROLES))],
    }


register_group("reports", 50, group)
