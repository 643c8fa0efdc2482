"""The "Người bệnh" group of the desk's sidebar (health_f0.desk.navigation)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import can_view, item, register_group, url


def group(request: HttpRequest) -> dict[str, Any]:
    return {
        "title": _("Người bệnh"),
        "separator": True,
        "items": [
            item(
                _("Người bệnh"),
                "personal_injury",
                url("patients_patient_changelist"),
                can_view("patients.Patient"),
            ),
        ],
    }


register_group("patients", 60, group)
