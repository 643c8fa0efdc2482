"""access._active_memberships and access.visible_facility_ids read their rows with constant SQL (issue 11: the
ORM's query building cost ~0.6 ms of CPU on every staff request). They answer exactly what the ORM queries they
replaced answer, for every persona of the access matrix and every role set, with an inactive membership and an
inactive facility among the rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Q

from health_f0.facilities import access
from health_f0.facilities.models import Facility, Membership, Role
from tests.test_access_matrix import PERSONAS

pytestmark = pytest.mark.django_db

ROLE_SETS = [
    None,
    access.STATION_ROLES,
    access.ALERT_READER_ROLES,
    access.BOOKING_DESK_ROLES,
    access.HIS_LINKER_ROLES,
    access.RESTRICTED_RECORD_READER_ROLES,
    access.OVERSIGHT_ROLES,
    frozenset({Role.ACCOUNTANT}),
]


def _fresh(username: str) -> Any:
    return get_user_model().objects.get(username=username)


def _orm_memberships(user: Any) -> set[tuple[int, str, str]]:
    return set(
        Membership.objects.filter(user=user, is_active=True, facility__is_active=True).values_list(
            "facility_id", "facility__path", "role"
        )
    )


def _orm_visible(user: Any, roles: Any) -> frozenset[int]:
    role_set = frozenset(roles) if roles is not None else access.ALL_STAFF_ROLES
    if user.is_superuser:
        return frozenset(Facility.objects.values_list("id", flat=True))
    paths = {path for _, path, role in _orm_memberships(user) if role in role_set}
    if not paths:
        return frozenset()
    condition = Q()
    for path in paths:
        condition |= Q(path__startswith=path)
    return frozenset(Facility.objects.filter(condition).values_list("id", flat=True))


@pytest.fixture
def inactive_rows(demo: Any, persona: Any) -> None:
    """A membership switched off, and one at a facility that closed (neither counts)."""
    Membership.objects.create(
        user=persona("tanhung.nv"),
        facility=Facility.objects.get(code="TTYT-HD"),
        role=Role.MANAGER,
        is_active=False,
    )
    closed = Facility.objects.get(code="TYT-10532")
    Membership.objects.create(user=persona("thanhdong.nv"), facility=closed, role=Role.STATION_HEAD)
    Facility.objects.filter(pk=closed.pk).update(is_active=False)


@pytest.mark.parametrize("username", [*PERSONAS, "bn0000001"])
def test_memberships_and_visible_facilities_are_the_orm_queries(username: str, inactive_rows: None) -> None:
    user = _fresh(username)
    memberships = access._active_memberships(user)
    assert all(isinstance(row, tuple) for row in memberships)
    assert set(memberships) == _orm_memberships(user)
    assert len(memberships) == len(set(memberships))
    for roles in ROLE_SETS:
        assert access.visible_facility_ids(_fresh(username), roles) == _orm_visible(user, roles), roles


def test_a_path_with_like_wildcards_matches_only_itself(demo: Any, persona: Any) -> None:
    """The LIKE pattern is escaped as the ORM escapes `startswith`."""
    station = Facility.objects.get(code="TYT-10510")
    Facility.objects.filter(pk=station.pk).update(path=station.path.rstrip("/") + "_%/")
    user = _fresh("thanhdong.nv")
    assert access.visible_facility_ids(user) == _orm_visible(_fresh("thanhdong.nv"), None)
    assert station.pk in access.visible_facility_ids(_fresh("thanhdong.nv"))
