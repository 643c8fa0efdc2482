"""The "Cơ sở & nhân viên" group of the desk's sidebar (health_f0.desk.navigation)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import can_view, item, register_group, url


def group(request: HttpRequest) -> dict[str, Any]:
    return {
        "title": _("Cơ sở & nhân viên"),
        "separator": True,
        "items": [
            item(
                _("Cơ sở y tế"),
                "local_hospital",
                url("facilities_facility_changelist"),
                can_view("facilities.Facility"),
            ),
            item(
                _("Địa bàn phụ trách"),
                "map",
                url("facilities_stationward_changelist"),
                can_view("facilities.StationWard"),
            ),
            item(
                _("Phân công nhân viên"),
                "badge",
                url("facilities_membership_changelist"),
                can_view("facilities.Membership"),
            ),
        ],
    }


register_group("facilities", 70, group)
