"""A signed-in page's session read is the connection's health check (core.db_health.checked_by_use,
accounts/sql.py; issue 11): no ping before it, and after a MariaDB restart (the server killed the persistent
connection) the page still answers, on a new connection — what CONN_HEALTH_CHECKS' ping was for."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client

from health_f0.accounts import sql
from health_f0.core import db_health
from tests.resilience.test_database import _server_kill, wsgi_get

pytestmark = pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB connection behaviour")


def _cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.session.session_key}"


def _count_pings(monkeypatch: Any) -> list[int]:
    pings: list[int] = []
    wrapper = type(connections["default"])
    usable = wrapper.is_usable

    def counted(self: Any) -> bool:
        pings.append(1)
        return bool(usable(self))

    monkeypatch.setattr(wrapper, "is_usable", counted)
    return pings


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seen", [False, True], ids=["first-request", "user-read-with-session"])
def test_a_signed_in_page_survives_a_killed_connection_without_a_ping(
    demo: Any, persona: Any, monkeypatch: Any, seen: bool
) -> None:
    cookie = _cookie(persona("bn0000001"))
    sql._session_users.clear()
    assert wsgi_get("/ca-nhan", HTTP_COOKIE=cookie)[0] == 200
    pings = _count_pings(monkeypatch)
    assert wsgi_get("/ca-nhan", HTTP_COOKIE=cookie)[0] == 200
    assert pings == []  # the session read stood for the check
    assert connection.connection is not None
    if not seen:  # the session read alone, the user read after it
        sql._session_users.clear()
    _server_kill(connection.connection.thread_id())
    status, _, body = wsgi_get("/ca-nhan", HTTP_COOKIE=cookie)
    assert status == 200, body[:300]
    assert pings == []
    # Signed in still: the page is the patient's own, not the login page.
    assert b"/dang-xuat" in body


@pytest.mark.django_db(transaction=True)
def test_a_public_page_keeps_django_s_check(demo: Any, monkeypatch: Any) -> None:
    """No session to read: the first query of the request is checked by Django's ping as before."""
    assert wsgi_get("/huong-dan")[0] == 200
    pings = _count_pings(monkeypatch)
    assert wsgi_get("/huong-dan")[0] == 200
    assert len(pings) == 1


@pytest.mark.django_db(transaction=True)
def test_only_a_gone_connection_is_retried() -> None:
    connection.ensure_connection()
    assert not connection.in_atomic_block
    connection.health_check_done = False
    calls: list[int] = []

    def interrupted() -> None:
        calls.append(1)
        raise OperationalError(1969, "Query execution was interrupted (max_statement_time exceeded)")

    with pytest.raises(OperationalError):
        db_health.checked_by_use(connection, interrupted)
    assert calls == [1]
    assert db_health.connection_gone(OperationalError(2006, "MySQL server has gone away"))
    assert not db_health.connection_gone(OperationalError(1969, "interrupted"))
