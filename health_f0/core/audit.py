"""Write audit rows. Every state change and every staff read of a patient record calls this."""

from __future__ import annotations

from typing import Any

from django.db import models

from health_f0.core.models import AuditLog
from health_f0.core.request_context import current_ip


def audit_log(
    *,
    actor: Any,
    action: str,
    verb: str,
    target: models.Model,
    facility: Any = None,
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Record one action. `actor` may be None (the public, or the system)."""
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditLog.objects.create(
        actor=actor if is_user else None,
        actor_label=(actor.get_username() if is_user else "hệ thống/công chúng")[:150],
        action=action,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:255],
        facility=facility,
        data=data or {},
        ip_address=current_ip(),
    )
