"""Issue 14 items 4, 5 and 7: persistent connections are health-checked (a MariaDB restart costs no request),
every connection has timeouts and a statement time limit, and a database that is away answers a clear 503 —
a Vietnamese page on the portal and the desk, the documented JSON error body under /api/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import MySQLdb
import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from health_f0.core import db_health
from health_f0.core.lean_stack import WSGIHandler  # the handler gunicorn serves (health_f0.wsgi)

pytestmark = pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB connection behaviour")

APP = WSGIHandler()


def wsgi_get(path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One request the way gunicorn makes it: through the WSGI handler, so request_started and
    request_finished run Django's connection housekeeping (the test client switches it off)."""
    environ = RequestFactory().get(path, **headers).environ
    status: list[str] = []
    response_headers: dict[str, str] = {}

    def start_response(line: str, items: list[tuple[str, str]], exc_info: Any = None) -> None:
        status.append(line)
        response_headers.update(items)

    response = APP(environ, start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()  # request_finished
    return int(status[0].split()[0]), response_headers, body


def _server_kill(thread_id: int) -> None:
    """KILL a connection from another one, as a MariaDB restart does to every open connection."""
    s = connection.settings_dict
    admin = MySQLdb.connect(host=s["HOST"], port=int(s["PORT"] or 3306), user=s["USER"], passwd=s["PASSWORD"])
    try:
        cursor = admin.cursor()
        cursor.execute(f"KILL {int(thread_id)}")
        for _ in range(50):
            cursor.execute("SELECT COUNT(*) FROM information_schema.processlist WHERE id = %s", [thread_id])
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)
    finally:
        admin.close()


# --- Item 4: health checks -----------------------------------------------------------------------


def test_connections_are_persistent_and_health_checked() -> None:
    database = django_settings.DATABASES["default"]
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["CONN_MAX_AGE"] > 0


@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_by_the_server_costs_no_request(demo: Any) -> None:
    assert wsgi_get("/huong-dan")[0] == 200
    assert connection.connection is not None, "the connection should persist between requests"
    _server_kill(connection.connection.thread_id())
    status, _, body = wsgi_get("/huong-dan")
    assert status == 200, body[:300]
    assert wsgi_get("/api/v1/guidance")[0] == 200


# --- Item 5: timeouts and the statement limit ----------------------------------------------------


def test_connection_timeouts_and_web_statement_limit(db: Any) -> None:
    options = django_settings.DATABASES["default"]["OPTIONS"]
    limit = django_settings.DB_STATEMENT_TIMEOUT
    assert options["connect_timeout"] == django_settings.DB_CONNECT_TIMEOUT > 0
    # The client gives up a little after the server would have stopped the statement itself.
    assert options["read_timeout"] == options["write_timeout"] > limit > 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.max_statement_time")
        assert float(cursor.fetchone()[0]) == limit


def _settings_in(env: dict[str, str], argv: list[str]) -> dict[str, Any]:
    code = (
        f"import sys; sys.argv = {argv!r}; import django, json; django.setup(); "
        "from django.conf import settings; o = settings.DATABASES['default'].get('OPTIONS', {}); "
        "print(json.dumps({'process': settings.DB_PROCESS, 'read_timeout': o.get('read_timeout'), "
        "'init': o.get('init_command', '')}))"
    )
    environ = {k: v for k, v in os.environ.items() if k != "DB_PROCESS"}
    environ.update({"DJANGO_SETTINGS_MODULE": "health_f0.settings", **env})
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        cwd=django_settings.BASE_DIR,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_the_worker_gets_a_longer_limit_and_commands_none() -> None:
    web = _settings_in({}, ["gunicorn"])
    worker = _settings_in({}, ["manage.py", "run_huey"])
    command = _settings_in({}, ["manage.py", "migrate"])
    assert (web["process"], worker["process"], command["process"]) == ("web", "worker", "command")
    assert f"max_statement_time={django_settings.DB_STATEMENT_TIMEOUT:g}" in web["init"]
    assert f"max_statement_time={django_settings.DB_WORKER_STATEMENT_TIMEOUT:g}" in worker["init"]
    assert worker["read_timeout"] > web["read_timeout"]
    # migrate and other commands run by hand: no statement limit (a large ALTER TABLE may take minutes).
    assert "max_statement_time" not in command["init"] and command["read_timeout"] is None
    assert _settings_in({"DB_PROCESS": "worker"}, ["gunicorn"])["process"] == "worker"


def test_a_statement_over_the_limit_is_stopped_and_classified(db: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION max_statement_time = 0.3")
        try:
            with pytest.raises(OperationalError) as stopped:
                cursor.execute("SELECT SLEEP(3)")
        finally:
            cursor.execute(f"SET SESSION max_statement_time = {django_settings.DB_STATEMENT_TIMEOUT}")
    assert db_health.database_unavailable(stopped.value)


def test_programming_errors_are_not_outages(db: Any) -> None:
    with connection.cursor() as cursor, pytest.raises(OperationalError) as bad:
        cursor.execute("SELECT no_such_column FROM monitoring_declaration")
    assert not db_health.database_unavailable(bad.value)
    assert not db_health.database_unavailable(ValueError("x"))


# --- Items 5 and 7: a clear 503 while the database is away ---------------------------------------


@pytest.fixture
def database_away(transactional_db: Any) -> Iterator[None]:
    """Point this thread's connection at a port where nothing listens: every query fails to connect."""
    connection.close()
    saved = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = "1"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved


def _client(**defaults: Any) -> Client:
    return Client(raise_request_exception=False, **defaults)


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/huong-dan"), ("get", "/dang-ky"), ("post", "/dang-nhap"), ("post", "/desk/login/")],
)
def test_portal_and_desk_answer_503_in_vietnamese(database_away: None, method: str, path: str) -> None:
    client = _client()
    if method == "post":
        response = client.post(path, {"username": "bn0000001", "password": "demo-2026"})
    else:
        response = client.get(path)
    assert response.status_code == 503, (path, response.status_code)
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Hệ thống tạm thời gián đoạn" in page and "115" in page
    assert ("Thử lại" in page) == (method == "get")


@pytest.mark.django_db(transaction=True)
def test_desk_answers_503_in_vietnamese(demo: Any, persona: Any) -> None:
    desk = _client()
    desk.force_login(persona("thanhdong.nv"))
    assert desk.get("/desk/").status_code in (200, 302)  # the desk's start page for this role
    connection.close()
    saved = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = "1"
    try:
        response = desk.get("/desk/")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved
    assert response.status_code == 503
    assert "Hệ thống tạm thời gián đoạn" in response.content.decode()


def test_the_503_page_follows_the_language(database_away: None) -> None:
    response = _client(HTTP_ACCEPT_LANGUAGE="en").get("/huong-dan")
    assert response.status_code == 503
    assert '<html lang="en">' in response.content.decode()


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/v1/guidance"), ("get", "/api/v1/questionnaire"), ("post", "/api/v1/auth/token")],
)
def test_api_answers_503_as_json(database_away: None, method: str, path: str) -> None:
    client = _client()
    if method == "post":
        body = {"username": "bn0000001", "password": "demo-2026"}
        response = client.post(path, body, content_type="application/json")
    else:
        response = client.get(path, HTTP_AUTHORIZATION="Bearer not-a-real-token")
    assert response.status_code == 503, (path, response.status_code, response.content[:200])
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "service_unavailable" and not body["detail"].isascii()
    assert body["retry_after"] == int(response["Retry-After"]) > 0


def test_a_statement_stopped_by_the_limit_answers_503(db: Any, monkeypatch: Any) -> None:
    from health_f0.monitoring import selectors

    def slow() -> Any:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION max_statement_time = 0.2")
            try:
                cursor.execute("SELECT SLEEP(2)")
            finally:
                cursor.execute(f"SET SESSION max_statement_time = {django_settings.DB_STATEMENT_TIMEOUT}")
        return []

    monkeypatch.setattr(selectors, "published_guidance", slow)
    response = _client().get("/huong-dan")
    assert response.status_code == 503 and "Retry-After" in response


# --- Item 7: every /api/ error is the JSON error body --------------------------------------------


def test_api_404_from_django_is_json(db: Any) -> None:
    response = _client().get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "not_found" and not body["detail"].isascii()
    # The portal keeps its page.
    assert _client().get("/khong-co-trang-nay")["Content-Type"].startswith("text/html")


def test_api_500_is_json(db: Any, monkeypatch: Any) -> None:
    from health_f0.monitoring import selectors

    def broken() -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "published_guidance", broken)
    response = _client().get("/api/v1/guidance")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "server_error" and not body["detail"].isascii()
    assert "a bug" not in response.content.decode()
