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


# --- The scope told with the bearer token (api/sql/tokens.py) -------------------------------------------------


def _told(username: str) -> Any:
    """The user of a token request: its memberships and their facilities' subtrees read in the token's own
    statement (access.remember_memberships), as api.authentication builds it on every request."""
    from health_f0.api.models import hash_token
    from health_f0.api.services import api_token_issue
    from health_f0.api.sql.tokens import token_with_user

    raw, _ = api_token_issue(user=_fresh(username))
    token = token_with_user(hash_token(raw))
    assert token is not None
    return token.user


@pytest.mark.parametrize("username", [*PERSONAS, "bn0000001"])
def test_the_scope_told_with_the_token_is_the_orms(username: str, inactive_rows: None) -> None:
    """For every persona of the access matrix (every role) and every role set: the facilities a token request
    sees, from the subtrees read with the token, are the ORM's, and asking for them costs no query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = _told(username)
    for roles in ROLE_SETS:
        if user.is_superuser:  # every facility, read as before
            assert access.visible_facility_ids(user, roles) == _orm_visible(_fresh(username), roles)
            continue
        with CaptureQueriesContext(connection) as queries:
            told = access.visible_facility_ids(user, roles)
        assert told == _orm_visible(_fresh(username), roles), roles
        assert len(queries) == 0, roles


def test_told_scopes_stay_each_users_own(demo: Any) -> None:
    """Two staff of different facilities, one after the other (the same worker): each request sees its own
    user's facilities only; nothing of one look-up is kept for the next."""
    first, second = _told("thanhdong.nv"), _told("lethanhnghi.nv")
    assert access.visible_facility_ids(first) == _orm_visible(_fresh("thanhdong.nv"), None)
    assert access.visible_facility_ids(second) == _orm_visible(_fresh("lethanhnghi.nv"), None)
    assert access.visible_facility_ids(first) != access.visible_facility_ids(second)


def test_a_facility_opened_or_moved_counts_from_the_next_request(demo: Any) -> None:
    """The subtrees are read with every token look-up, nothing kept between requests: a facility opened under a
    TTYT (facilities.services.facility_save) is in its manager's scope at the next request, and once moved
    under another TTYT it is out of it."""
    from health_f0.facilities.services import facility_save

    ttyt = Facility.objects.get(code="TTYT-HD")
    before = access.visible_facility_ids(_told("ttyt.lanhdao"))
    station = facility_save(
        facility=Facility(code="TYT-MOI", name="Trạm mới", kind="station", parent=ttyt, province_code=31)
    )
    assert station.path.startswith(ttyt.path)
    assert access.visible_facility_ids(_told("ttyt.lanhdao")) == before | {station.pk}
    station.parent = Facility.objects.exclude(path__startswith=ttyt.path).exclude(parent=None).first()
    facility_save(facility=station)
    assert access.visible_facility_ids(_told("ttyt.lanhdao")) == before


def test_a_told_path_with_like_wildcards_matches_only_itself(demo: Any) -> None:
    """The subtree read with the token escapes the path as the ORM escapes `startswith`: a `_` in a station's
    path does not reach a facility that a LIKE wildcard would."""
    station = Facility.objects.get(code="TYT-10510")
    odd = station.path.rstrip("/") + "_%/"
    Facility.objects.filter(pk=station.pk).update(path=odd)
    other = Facility.objects.exclude(pk=station.pk).filter(kind="station").first()
    assert other is not None
    Facility.objects.filter(pk=other.pk).update(path=station.path.rstrip("/") + "x%/")
    told = access.visible_facility_ids(_told("thanhdong.nv"))
    assert told == _orm_visible(_fresh("thanhdong.nv"), None)
    assert station.pk in told and other.pk not in told


# --- Facility ids written into the scope's SQL (access._in_ids) ------------------------------------------------


def test_scope_ids_are_written_as_the_driver_writes_them_and_only_ints(demo: Any) -> None:
    """facility_scope_sql and scope_hiding_restricted_sql write the facility ids into the statement (the
    driver's escaping call per id cost ~6 Python calls each): the text the driver would have sent, and
    nothing that is not an int can get there."""
    from django.db import connection

    ids = frozenset({12, 3, 7})
    sql = access._in_ids("a.facility_id", ids)
    assert sql == "a.facility_id IN (3, 7, 12)"
    with connection.cursor() as cursor:
        params = "a.facility_id IN (%s, %s, %s)"
        if connection.vendor == "mysql":
            assert cursor.mogrify(params, sorted(ids)) == sql
    for bad in ("1) OR (1 = 1", 1.5, None):
        with pytest.raises(TypeError):
            access._in_ids("a.facility_id", frozenset({1, bad}))  # type: ignore[arg-type]
