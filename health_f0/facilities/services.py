"""Writes to the facility tree."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from health_f0.facilities import access
from health_f0.facilities.models import Facility, Membership, Role


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


# Who grants roles: administrators (any role), managers (any but administrator), at the facilities they
# oversee. Nobody grants, changes or re-activates a role of their own (separation of duties).
ROLE_GRANTING_ROLES: frozenset[str] = access.OVERSIGHT_ROLES


def _membership_state(membership: Membership) -> dict[str, Any]:
    return {
        "user": membership.user_id,
        "facility": membership.facility_id,
        "role": membership.role,
        "is_active": membership.is_active,
    }


def membership_check(*, membership: Membership, actor: Any, before: Membership | None = None) -> None:
    """Whether `actor` may save `membership` (new, or changed from `before`); PermissionDenied otherwise.
    The actor must grant roles at the membership's facility (and at its old one, when it moves), only an
    administrator grants the administrator role, and no one touches a membership of their own (a superuser,
    who holds every right anyway, excepted)."""
    from health_f0.core.exceptions import PermissionDenied
    from health_f0.facilities import access

    if getattr(actor, "is_superuser", False):
        return
    if membership.user_id is not None and membership.user_id == getattr(actor, "pk", None):
        raise PermissionDenied(
            _("Không thể tự cấp hoặc sửa vai trò của chính mình: nhờ quản trị hệ thống hoặc lãnh đạo khác."),
            code="own_role",
            field="user",
        )
    facilities = [membership.facility] + ([before.facility] if before is not None else [])
    for facility in facilities:
        access.require_role_at(actor, facility, ROLE_GRANTING_ROLES)
    administrator = {membership.role} | ({before.role} if before is not None else set())
    if Role.ADMINISTRATOR in administrator:
        for facility in facilities:
            access.require_role_at(actor, facility, {Role.ADMINISTRATOR})


@transaction.atomic
def membership_save(*, membership: Membership, actor: Any) -> Membership:
    """Grant (or change) a staff role; the member can then log in to the desk (is_staff). Checks
    `membership_check` under a lock of the row being changed; the audit row records the membership before
    and after."""
    from health_f0.core.audit import audit_log
    from health_f0.core.models import AuditLog

    created = membership.pk is None
    before = (
        None
        if created
        else Membership.objects.select_for_update().select_related("facility").get(pk=membership.pk)
    )
    membership_check(membership=membership, actor=actor, before=before)
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
        data={
            "user": user.pk,
            "role": membership.role,
            "is_active": membership.is_active,
            "before": _membership_state(before) if before is not None else None,
            "after": _membership_state(membership),
        },
    )
    return membership
