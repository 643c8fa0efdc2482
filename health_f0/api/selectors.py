"""Reads behind the mobile API. Every staff read is scoped through facilities.access."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from health_f0.core.exceptions import DomainError
from health_f0.facilities import access
from health_f0.facilities.models import Facility, Membership
from health_f0.patients.models import Patient
from health_f0.registration.models import Registration


def registration_list(
    *, user: Any, status: str | None = None, facility: UUID | None = None
) -> QuerySet[Registration]:
    """The registrations the staff member may see, oldest first (the queue order), optionally filtered."""
    queryset = access.registrations_for(user).select_related("facility")
    if status:
        queryset = queryset.filter(status=status)
    if facility is not None:
        queryset = queryset.filter(facility__public_id=facility)
    return queryset.order_by("created_at", "id")


def registration_get(*, user: Any, public_id: UUID) -> Registration:
    """One registration the staff member may see; NotFound for missing and for not-yours alike."""
    queryset = access.registrations_for(user).select_related("facility", "patient", "decided_by")
    registration: Registration = access.get_scoped_or_404(queryset, public_id=public_id)
    return registration


def transfer_target(*, public_id: UUID) -> Facility:
    """The facility a registration is being transferred to (any active one; the service checks the kind)."""
    facility = Facility.objects.filter(public_id=public_id, is_active=True).first()
    if facility is None:
        raise DomainError(
            _("Không tìm thấy trạm y tế nhận chuyển."), code="station_not_found", field="station"
        )
    return facility


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
        "roles": [
            {"facility": m.facility, "role": m.role, "role_label": m.get_role_display()} for m in memberships
        ],
    }
