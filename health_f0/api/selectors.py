"""Reads behind the mobile API. Every staff read is scoped through facilities.access."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from health_f0.facilities import access
from health_f0.facilities.models import Membership
from health_f0.patients import selectors as patient_selectors
from health_f0.patients.models import Patient
from health_f0.registration.models import Registration


def registration_get(*, user: Any, public_id: UUID) -> Registration:
    """One registration the staff member may see; NotFound for missing and for not-yours alike."""
    queryset = access.registrations_for(user).select_related("facility", "patient", "decided_by")
    registration: Registration = access.get_scoped_or_404(queryset, public_id=public_id)
    return registration


def me_profile(*, user: Any) -> dict[str, Any]:
    """Who is logged in: account facts, own patient records, and staff roles."""
    is_staff = access.is_staff_member(user)
    patients = Patient.objects.filter(account=user).select_related("facility").order_by("id")
    memberships = (
        Membership.objects.filter(user=user, is_active=True, facility__is_active=True)
        .select_related("facility")
        .order_by("facility__path", "role")
    )
    return {
        "username": user.get_username(),
        # Vietnamese order: family and middle names (last_name) before the given name (first_name).
        "full_name": " ".join(part for part in (user.last_name, user.first_name) if part),
        "kind": "staff" if is_staff else "patient",
        "must_change_password": bool(getattr(user, "must_change_password", False)),
        "patients": list(patients),
        # Added in v1 (issue 9): whom the account acts for; `patients` keeps its meaning (own records).
        "acting_for": list(patient_selectors.acting_for(user=user)),
        "roles": [
            {"facility": m.facility, "role": m.role, "role_label": m.get_role_display()} for m in memberships
        ],
    }
