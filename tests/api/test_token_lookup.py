"""The bearer-token look-up (api/sql/tokens.py) also tells facilities.access whether the user holds a staff role;
what it tells must be what access finds by itself, for every kind of account (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health_f0.api.models import hash_token
from health_f0.api.services import api_token_issue
from health_f0.api.sql.tokens import token_with_user
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
