"""Issue 8, item 3: least privilege for hospital roles — the parts that are not a row of the access matrix
(tests/test_access_matrix.py holds who sees which record on which surface).

Separation of duties: nobody grants, changes or re-activates a role of their own (an administrator grants
roles to a manager, not the manager to himself), and a role is granted only at a facility where the actor
administers; every role change is audited with what it was before and after.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from health_f0.core.exceptions import PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility, Membership
from health_f0.facilities.services import membership_save

pytestmark = pytest.mark.django_db


def _desk(persona: Any, username: str) -> Client:
    client = Client()
    client.force_login(persona(username))
    return client


def test_a_manager_cannot_grant_himself_a_station_role(demo: Any, persona: Any) -> None:
    manager = persona("ttyt.lanhdao")
    station = Facility.objects.get(code="TYT-10510")
    response = _desk(persona, "ttyt.lanhdao").post(
        reverse("admin:facilities_membership_add"),
        {"user": manager.pk, "facility": station.pk, "role": "station_staff", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "Không thể tự cấp hoặc sửa vai trò của chính mình" in response.content.decode()
    assert not Membership.objects.filter(user=manager, facility=station).exists()
    with pytest.raises(PermissionDenied):
        membership_save(
            membership=Membership(user=manager, facility=station, role="station_head"), actor=manager
        )
    assert not Membership.objects.filter(user=manager, facility=station).exists()


def test_a_manager_cannot_change_or_reactivate_his_own_role(demo: Any, persona: Any) -> None:
    manager = persona("ttyt.lanhdao")
    own = Membership.objects.get(user=manager)
    response = _desk(persona, "ttyt.lanhdao").post(
        reverse("admin:facilities_membership_change", args=[own.pk]),
        {"user": manager.pk, "facility": own.facility_id, "role": "his_linker", "is_active": "on"},
    )
    assert response.status_code in (200, 403)
    own.refresh_from_db()
    assert own.role == "manager"


def test_a_role_is_granted_only_where_the_actor_administers(
    demo: Any, persona: Any, django_user_model: Any
) -> None:
    """A TTYT manager cannot grant a role at the Sở Y tế or at a hospital outside the TTYT, even by calling
    the service directly (the desk's facility list is not the only guard)."""
    newcomer = django_user_model.objects.create_user(username="moi3.nv", password="x-long-password-1")
    with pytest.raises(PermissionDenied):
        membership_save(
            membership=Membership(
                user=newcomer, facility=Facility.objects.get(code="SYT-31"), role="manager"
            ),
            actor=persona("ttyt.lanhdao"),
        )
    with pytest.raises(PermissionDenied):
        membership_save(
            membership=Membership(
                user=newcomer, facility=Facility.objects.get(code="TTYT-HD"), role="administrator"
            ),
            actor=persona("ttyt.lanhdao"),
        )
    assert not Membership.objects.filter(user=newcomer).exists()


def test_role_changes_are_audited_with_before_and_after(demo: Any, persona: Any) -> None:
    nurse = persona("tanhung.nv")
    membership = Membership.objects.get(user=nurse)
    response = _desk(persona, "ttyt.lanhdao").post(
        reverse("admin:facilities_membership_change", args=[membership.pk]),
        {"user": nurse.pk, "facility": membership.facility_id, "role": "station_head", "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = AuditLog.objects.filter(target_type="facilities.membership", target_id=str(membership.pk)).latest(
        "id"
    )
    assert row.verb == "change_role" and row.actor == persona("ttyt.lanhdao")
    assert row.data["before"] == {
        "user": nurse.pk,
        "facility": membership.facility_id,
        "role": "station_staff",
        "is_active": True,
    }
    assert row.data["after"] == {
        "user": nurse.pk,
        "facility": membership.facility_id,
        "role": "station_head",
        "is_active": True,
    }
