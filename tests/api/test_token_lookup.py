"""The bearer-token look-up (api/sql/tokens.py) also tells facilities.access whether the user holds a staff role;
what it tells must be what access finds by itself, for every kind of account (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from health_f0.api.models import hash_token
from health_f0.api.services import api_token_issue
from health_f0.api.sql.tokens import token_with_user
from health_f0.core.db_health import checked_by_use
from health_f0.facilities import access
from health_f0.facilities.models import Membership


@pytest.mark.parametrize("username", ["bn0000001", "thanhdong.nv", "tiepdon", "admin"])
def test_the_staff_flag_agrees_with_access(persona: Any, username: str) -> None:
    user = persona(username)
    raw, _ = api_token_issue(user=user)
    token = token_with_user(hash_token(raw))
    assert token is not None
    fresh = persona(username)
    assert access.is_staff_member(token.user) == access.is_staff_member(fresh)
    assert access.roles_of(token.user) == access.roles_of(fresh)


def test_a_patient_request_asks_no_staff_question(as_user: Any) -> None:
    client = as_user("bn0000001")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v2/episodes").status_code == 200
    # The memberships query of facilities.access (its own statement, not a subquery of another one).
    asked = [q["sql"] for q in queries if q["sql"].startswith("SELECT `facilities_membership`.")]
    assert asked == []


def test_a_role_ended_since_is_not_remembered_as_staff(persona: Any) -> None:
    user = persona("thanhdong.nv")
    raw, _ = api_token_issue(user=user)
    Membership.objects.filter(user=user).update(is_active=False)
    token = token_with_user(hash_token(raw))
    assert token is not None and not access.is_staff_member(token.user)


# --- The look-up is the connection's health check (api/sql/tokens.py, module docstring) --------------------


def _kill_server_side() -> None:
    """What a MariaDB restart does to a persistent connection: the server ends it, the client does not know."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        (connection_id,) = cursor.fetchone()
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        other.cursor().execute(f"KILL {int(connection_id)}")
    finally:
        other.close()


def _new_request(monkeypatch: Any) -> list[int]:
    """As at the start of a request on a persistent connection: its health check not yet done. Counts pings."""
    connection.ensure_connection()
    connection.health_check_done = False
    pings: list[int] = []
    usable = connection.is_usable

    def counted() -> bool:
        pings.append(1)
        return usable()

    monkeypatch.setattr(connection, "is_usable", counted)
    return pings


@pytest.mark.django_db(transaction=True)
def test_a_token_request_sends_no_ping(persona: Any, monkeypatch: Any) -> None:
    raw, _ = api_token_issue(user=persona("bn0000001"))
    pings = _new_request(monkeypatch)
    assert connection.health_check_enabled
    token = token_with_user(hash_token(raw))
    assert token is not None and token.user.username == "bn0000001"
    assert pings == []
    assert connection.health_check_done
    # Later queries of the request do not ping either (Django's own check counts as done).
    assert Membership.objects.filter(user=token.user).count() == 0
    assert pings == []


@pytest.mark.django_db(transaction=True)
def test_a_dead_connection_is_replaced_not_failed(persona: Any, monkeypatch: Any) -> None:
    """What the ping is for: after a MariaDB restart the request gets a new connection, not an error."""
    raw, _ = api_token_issue(user=persona("bn0000001"))
    _kill_server_side()
    pings = _new_request(monkeypatch)
    dead = connection.connection
    token = token_with_user(hash_token(raw))
    assert token is not None and token.user.username == "bn0000001"
    assert connection.connection is not dead
    assert not connection.errors_occurred
    assert pings == []


@pytest.mark.django_db(transaction=True)
def test_a_connection_closed_here_is_replaced_too(persona: Any, monkeypatch: Any) -> None:
    raw, _ = api_token_issue(user=persona("bn0000001"))
    _new_request(monkeypatch)
    connection.connection.close()
    token = token_with_user(hash_token(raw))
    assert token is not None and token.user.username == "bn0000001"


@pytest.mark.django_db(transaction=True)
def test_a_dead_connection_through_the_api(persona: Any, monkeypatch: Any) -> None:
    raw, _ = api_token_issue(user=persona("bn0000001"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/me").status_code == 200
    _kill_server_side()
    # A served request starts with close_old_connections (health check not done); the test client skips it.
    pings = _new_request(monkeypatch)
    response = client.get("/api/v2/episodes")
    assert response.status_code == 200, response.content
    assert pings == []


@pytest.mark.django_db(transaction=True)
def test_other_errors_are_not_retried(monkeypatch: Any) -> None:
    _new_request(monkeypatch)
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise OperationalError(1969, "Query execution was interrupted (max_statement_time exceeded)")

    with pytest.raises(OperationalError):
        checked_by_use(connection, failing)
    assert calls == [1]


@pytest.mark.django_db
def test_inside_a_transaction_django_checks_as_before(monkeypatch: Any) -> None:
    """A test's transaction (or a view made atomic): a connection cannot be replaced there, so the look-up
    leaves the check to Django."""
    _new_request(monkeypatch)
    assert connection.in_atomic_block
    assert checked_by_use(connection, lambda: 1) == 1
    assert not connection.health_check_done


@pytest.mark.parametrize("username", ["bn0000001", "thanhdong.nv", "admin"])
def test_the_token_and_user_are_the_orms(persona: Any, username: str) -> None:
    """The instances the look-up builds (api/sql/tokens._fetched) are what the ORM fetches: every field's
    value and type, the fetched state, the user cached on the token."""
    from health_f0.api.models import ApiToken

    raw, _ = api_token_issue(user=persona(username))
    ApiToken.objects.filter(key_hash=hash_token(raw)).update(last_used_at=timezone.now())
    token = token_with_user(hash_token(raw))
    orm = ApiToken.objects.select_related("user").get(key_hash=hash_token(raw))
    assert token is not None
    for built, fetched in ((token, orm), (token.user, orm.user)):
        assert type(built) is type(fetched)
        for field in type(fetched)._meta.concrete_fields:
            value, expected = getattr(built, field.attname), getattr(fetched, field.attname)
            assert value == expected, field.attname
            assert type(value) is type(expected), field.attname
        assert built._state.adding is False and built._state.db == fetched._state.db
        assert {k for k in vars(built) if not k.startswith("_")} == {
            k for k in vars(fetched) if not k.startswith("_")
        }
    assert ApiToken._meta.get_field("user").is_cached(token)
    assert token.user.pk == orm.user_id
    token.user.save(update_fields=["last_login"])  # a fetched instance: an UPDATE, not an INSERT


def test_listeners_of_init_get_the_orms_path(persona: Any) -> None:
    from django.db.models.signals import post_init

    from health_f0.api.models import ApiToken

    raw, _ = api_token_issue(user=persona("bn0000001"))
    seen: list[Any] = []

    def listener(sender: Any, instance: Any, **kwargs: Any) -> None:
        seen.append(instance)

    post_init.connect(listener, sender=ApiToken)
    try:
        token = token_with_user(hash_token(raw))
    finally:
        post_init.disconnect(listener, sender=ApiToken)
    assert seen == [token]


# --- The memberships come with the token (api/sql/tokens._MEMBERSHIPS) -------------------------------------


@pytest.mark.parametrize("username", ["bn0000001", "thanhdong.nv", "tiepdon", "admin"])
def test_the_memberships_sent_with_the_token_are_the_ones_access_reads(persona: Any, username: str) -> None:
    """What the look-up tells facilities.access is what access's own statement reads: roles at several
    facilities, an ended role and a role at a closed facility (both left out) included."""
    from health_f0.facilities.models import Facility

    user = persona(username)
    if username != "bn0000001":
        facilities = list(Facility.objects.order_by("id")[:3])
        Membership.objects.get_or_create(user=user, facility=facilities[0], role="accountant")
        Membership.objects.update_or_create(
            user=user, facility=facilities[1], role="his_linker", defaults={"is_active": False}
        )
        closed = facilities[2]
        Membership.objects.get_or_create(user=user, facility=closed, role="treatment_doctor")
        Facility.objects.filter(pk=closed.pk).update(is_active=False)
    raw, _ = api_token_issue(user=user)
    token = token_with_user(hash_token(raw))
    assert token is not None
    with CaptureQueriesContext(connection) as queries:
        told = sorted(access._active_memberships(token.user))
    assert len(queries) == 0
    fresh = persona(username)
    assert told == sorted(access._active_memberships(fresh))
    assert access.visible_facility_ids(token.user) == access.visible_facility_ids(fresh)


def test_a_staff_request_reads_its_memberships_once(as_user: Any) -> None:
    client = as_user("thanhdong.nv")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v2/alerts").status_code == 200
    asked = [q["sql"] for q in queries if "facilities_membership" in q["sql"]]
    assert len(asked) == 1 and "api_apitoken" in asked[0]


def test_a_staff_list_asks_for_no_facility_of_its_own(as_user: Any) -> None:
    """The facilities the user's roles reach (access.visible_facility_ids) come with the token too: the list
    sends the token's statement and its own, nothing on the facility table (access._subtree_ids)."""
    client = as_user("ttyt.lanhdao")
    assert client.get("/api/v2/alerts").status_code == 200  # the token's first use is written (last_used_at)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v2/alerts").status_code == 200
    assert [q["sql"] for q in queries if q["sql"].startswith("SELECT id FROM facilities_facility")] == []
    assert len(queries) == 2, [q["sql"][:80] for q in queries]


def test_a_revoked_token_and_an_ended_role_count_from_the_next_request(persona: Any) -> None:
    """Nothing of the look-up is kept between requests: a token deleted (logout) is refused at once, and a
    role ended between two requests no longer opens a staff list."""
    from health_f0.api.models import ApiToken

    user = persona("thanhdong.nv")
    raw, _ = api_token_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v2/alerts").status_code == 200
    Membership.objects.filter(user=user).update(is_active=False)
    assert client.get("/api/v2/alerts").status_code == 403
    Membership.objects.filter(user=user).update(is_active=True)
    assert client.get("/api/v2/alerts").status_code == 200
    ApiToken.objects.filter(key_hash=hash_token(raw)).delete()
    assert client.get("/api/v2/alerts").status_code == 401


@pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB's group_concat_max_len")
def test_a_memberships_text_cut_by_the_server_is_not_used(persona: Any) -> None:
    """A GROUP_CONCAT cut at group_concat_max_len could read as a wrong path (a wider scope): its length tells,
    and access reads the memberships itself."""
    user = persona("thanhdong.nv")
    raw, _ = api_token_issue(user=user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.group_concat_max_len")
        (limit,) = cursor.fetchone()
        cursor.execute("SET SESSION group_concat_max_len = 6")
    try:
        token = token_with_user(hash_token(raw))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION group_concat_max_len = %s", [limit])
    assert token is not None
    assert "memberships" not in access._cache(token.user)
    assert "subtrees" not in access._cache(token.user)
    assert sorted(access._active_memberships(token.user)) == sorted(
        access._active_memberships(persona("thanhdong.nv"))
    )
    assert access._active_memberships(token.user)


@pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB's group_concat_max_len")
@pytest.mark.parametrize("short_by", [1, 0, -1])
def test_a_memberships_text_at_the_servers_limit_is_not_used(persona: Any, short_by: int) -> None:
    """A text cut by one character (the last digit of a subtree id, the `/` ending a path) is told apart: a text
    that reaches group_concat_max_len is never used, one below it is."""
    from django.contrib.auth import get_user_model

    from health_f0.api.sql.tokens import _statement

    user = persona("ttyt.lanhdao")
    raw, _ = api_token_issue(user=user)
    with connection.cursor() as cursor:
        cursor.execute(_statement(get_user_model(), connection), [hash_token(raw)])
        whole = cursor.fetchone()[-2]
        cursor.execute("SELECT @@SESSION.group_concat_max_len")
        (limit,) = cursor.fetchone()
        cursor.execute("SET SESSION group_concat_max_len = %s", [len(whole) - short_by])
    try:
        token = token_with_user(hash_token(raw))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION group_concat_max_len = %s", [limit])
    assert token is not None
    assert ("subtrees" in access._cache(token.user)) is (short_by < 0)
    assert access.visible_facility_ids(token.user) == access.visible_facility_ids(persona("ttyt.lanhdao"))


@pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB's plan")
def test_the_subtrees_are_joined_not_asked_once_a_role(persona: Any) -> None:
    """The facilities under each role's facility are a join in the memberships' subquery, not a subquery of
    their own nested in it: MariaDB ran the nested one at 0.4 ms of its CPU a staff request (issue 11)."""
    from django.contrib.auth import get_user_model

    from health_f0.api.sql.tokens import _statement

    user = persona("ttyt.lanhdao")
    raw, _ = api_token_issue(user=user)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + _statement(get_user_model(), connection), [hash_token(raw)])
        columns = [column[0] for column in cursor.description]
        plan = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    select_of = {row["table"]: row["id"] for row in plan}
    assert select_of["s"] == select_of["m"] == select_of["f"], plan


def test_a_role_at_a_facility_with_others_under_it_reaches_them_all(persona: Any) -> None:
    """Each role's subtree is read whole from the joined items: two roles, one at a TTYT and one at a station
    under it, give the TTYT's every facility once and keep both roles."""
    from health_f0.facilities.models import Facility

    user = persona("ttyt.lanhdao")
    ttyt = Membership.objects.filter(user=user, is_active=True).first()
    assert ttyt is not None
    under = Facility.objects.filter(path__startswith=ttyt.facility.path).exclude(pk=ttyt.facility_id).first()
    assert under is not None
    Membership.objects.get_or_create(user=user, facility=under, role="accountant")
    raw, _ = api_token_issue(user=user)
    token = token_with_user(hash_token(raw))
    assert token is not None
    fresh = persona("ttyt.lanhdao")
    assert sorted(access._active_memberships(token.user)) == sorted(access._active_memberships(fresh))
    assert access._cache(token.user)["subtrees"][ttyt.facility.path] == frozenset(
        Facility.objects.filter(path__startswith=ttyt.facility.path).values_list("id", flat=True)
    )
    assert access.visible_facility_ids(token.user) == access.visible_facility_ids(fresh)


def test_the_memberships_column_read_by_columns_is_read_item_by_item() -> None:
    """The column-wise reading (api/sql/tokens._memberships) answers what the item-by-item one does: one or many
    roles, at one facility or several, roles without a subtree id, a path with a space, an empty path."""
    import random

    from health_f0.api.sql.tokens import _memberships, _memberships_by_item

    rng = random.Random(13)
    for _ in range(5000):
        path_of = {f: rng.choice([f"/1/{f}/", f"/{f}/", "", "/a b/"]) for f in (1, 2, 3, 14)}
        items = []
        for _ in range(rng.randint(1, 4)):
            facility_id = rng.choice(list(path_of))
            role = rng.choice(["manager", "station_staff"])
            for _ in range(rng.randint(1, 5)):
                member = "" if rng.random() < 0.05 else str(rng.randint(1, 99))
                items.append(f"{facility_id} {role} {member} {path_of[facility_id]}")
        rng.shuffle(items)
        text = ",".join(items)
        assert _memberships(text, None) == _memberships_by_item(text), text
