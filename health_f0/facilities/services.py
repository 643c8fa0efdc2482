"""Writes to the facility tree."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from health_f0.facilities.models import Facility, Membership


@transaction.atomic
def facility_save(*, facility: Facility) -> Facility:
    """Save a facility and keep `path` (its chain of ids) right for it and all its descendants."""
    facility.full_clean(exclude=["path"])
    if facility.parent_id and facility.pk and facility.parent_id == facility.pk:
        from health_f0.core.exceptions import DomainError

        raise DomainError(_("Cơ sở không thể trực thuộc chính nó."), field="parent")
    facility.save()
    old_path = facility.path
    parent_path = facility.parent.path if facility.parent else "/"
    new_path = f"{parent_path}{facility.pk}/"
    if new_path != old_path:
        facility.path = new_path
        facility.save(update_fields=["path"])
        if old_path:
            for child in Facility.objects.filter(path__startswith=old_path).exclude(pk=facility.pk):
                child.path = new_path + child.path[len(old_path) :]
                child.save(update_fields=["path"])
    return facility


@transaction.atomic
def membership_save(*, membership: Membership, actor: Any) -> Membership:
    """Grant (or change) a staff role; the member can then log in to the desk (is_staff)."""
    from health_f0.core.audit import audit_log
    from health_f0.core.models import AuditLog

    created = membership.pk is None
    membership.full_clean()
    membership.save()
    user = membership.user
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE if created else AuditLog.Action.UPDATE,
        verb="grant_role" if created else "change_role",
        target=membership,
        facility=membership.facility,
        data={"user": user.pk, "role": membership.role, "is_active": membership.is_active},
    )
    return membership
