"""The project's WSGI handler (core/lean_stack.WSGIHandler, health_f0.wsgi.application): Django's request signals'
work done without the dispatcher, and the header list read from the response's store. What must not change:
connections in error, outside autocommit or past CONN_MAX_AGE closed at the start and the end of a request, the
query log emptied, the URLconf reset, every other receiver still called, and the same status, headers (names,
values, order, Set-Cookie) and body as Django's WSGIHandler."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.core import signals
from django.core.cache.backends.locmem import LocMemCache
from django.core.handlers.wsgi import WSGIHandler as DjangoWSGIHandler
from django.db import close_old_connections, connection, connections, reset_queries
from django.http import FileResponse, HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import get_urlconf, path, set_urlconf

from health_f0 import wsgi
from health_f0.core import lean_stack

APP = lean_stack.WSGIHandler()
DJANGO_APP = DjangoWSGIHandler()


def wsgi_get(
    app: Any, url: str, environ_extra: dict[str, Any] | None = None, **headers: str
) -> tuple[str, list[tuple[str, str]], bytes, Any]:
    """One request as gunicorn makes it: status, header list, body, and the (closed) response."""
    environ = RequestFactory().get(url, **headers).environ
    environ.update(environ_extra or {})
    seen: list[Any] = []

    def start_response(status: str, items: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen.extend([status, items])

    response = app(environ, start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()  # request_finished
    return seen[0], seen[1], body, response


def test_the_wsgi_application_is_the_lean_handler() -> None:
    assert type(wsgi.application) is lean_stack.WSGIHandler


# --- Headers and bodies, against Django's handler -----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/huong-dan", {}),
        ("/dang-nhap", {}),  # a form: the CSRF cookie (Set-Cookie)
        ("/khong-co-trang-nay", {}),
        ("/api/v1/guidance", {}),
        ("/api/v1/guidance", {"HTTP_ACCEPT_LANGUAGE": "en"}),
        ("/api/v1/me", {"HTTP_AUTHORIZATION": "Bearer nope"}),
        ("/api/v1/me", {"HTTP_COOKIE": "sessionid=nope; csrftoken=x"}),
        ("/static/css/app.css", {}),
    ],
)
def test_the_same_status_headers_and_body_as_djangos_handler(url: str, headers: dict[str, str]) -> None:
    ours = wsgi_get(APP, url, **headers)
    django = wsgi_get(DJANGO_APP, url, **headers)
    assert ours[0] == django[0]
    assert _without_tokens(ours[1]) == _without_tokens(django[1])
    assert _TOKEN.sub(b"X", ours[2]) == _TOKEN.sub(b"X", django[2])


# The CSRF token is random (the cookie, and the form's hidden field).
_TOKEN = re.compile(rb"(?<=csrfmiddlewaretoken\" value=\")[^\"]+")
_COOKIE_TOKEN = re.compile(r"(?<=csrftoken=)[^;]+")


def _without_tokens(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, _COOKIE_TOKEN.sub("X", value)) for name, value in items]


# --- The response's close ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_close_runs_the_closers_and_leaves_no_cycle() -> None:
    ran: list[str] = []
    _, _, _, response = wsgi_get(APP, "/api/v1/guidance")
    assert response.closed
    assert "close" not in response.__dict__, "the bound close refers to the response until it runs"
    assert response._resource_closers == []

    response = HttpResponse(b"x")

    def failing() -> None:
        ran.append("failing")
        raise RuntimeError("ignored, as Django ignores it")

    response._resource_closers.extend([failing, lambda: ran.append("next")])
    response._handler_class = lean_stack.WSGIHandler
    lean_stack._close(response)
    assert ran == ["failing", "next"]
    assert response.closed and response._resource_closers == []


def test_close_mirrors_djangos() -> None:
    """_close copies HttpResponseBase.close (Django 5.2): a Django that changes it needs a look here."""
    import inspect

    from django.http.response import HttpResponseBase

    source = inspect.getsource(HttpResponseBase.close)
    for line in (
        "for closer in self._resource_closers:",
        "self._resource_closers.clear()",
        "self.closed = True",
        "signals.request_finished.send(sender=self._handler_class)",
    ):
        assert line in source


@pytest.mark.django_db
def test_a_file_response_closed_through_the_file_wrapper(tmp_path: Any) -> None:
    closed: list[bool] = []

    class Wrapper:
        def __init__(self, filelike: Any, block_size: int) -> None:
            self.filelike = filelike

        def __iter__(self) -> Iterator[bytes]:
            yield self.filelike.read()

        def close(self) -> None:
            closed.append(True)
            self.filelike.close()

    target = tmp_path / "f.txt"
    target.write_bytes(b"hello")

    def view(request: Any) -> FileResponse:
        return FileResponse(open(target, "rb"))  # noqa: SIM115 - the response closes it

    urlconf = type("urls", (), {"urlpatterns": [path("f", view)]})
    with override_settings(ROOT_URLCONF=urlconf):
        status, _, body, response = wsgi_get(APP, "/f", {"wsgi.file_wrapper": Wrapper})
    assert status.startswith("200") and body == b"hello" and closed == [True]
    assert response.filelike.closed


# --- Django's receivers' work ----------------------------------------------------------------------------------


@pytest.fixture
def open_connection() -> Iterator[Any]:
    connection.ensure_connection()
    yield connection


@pytest.mark.django_db(transaction=True)
def test_a_connection_past_conn_max_age_is_closed_at_the_end_and_the_start(open_connection: Any) -> None:
    status, *_ = wsgi_get(APP, "/api/v1/guidance")
    assert status.startswith("200")
    assert connection.connection is not None, "persistent between requests (CONN_MAX_AGE)"
    connection.close_at = time.monotonic() - 1
    # The request below opens a new connection when the old one is closed at its start.
    old = connection.connection
    wsgi_get(APP, "/api/v1/guidance")
    assert connection.connection is not old

    # request_finished alone (the response's close) closes it too.
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1
    lean_stack.request_finished.send(sender=lean_stack.WSGIHandler)
    assert connection.connection is None


@pytest.mark.django_db(transaction=True)
def test_a_connection_in_error_or_outside_autocommit_is_closed(open_connection: Any) -> None:
    connection.errors_occurred = True
    with mock.patch.object(type(connections["default"]), "is_usable", return_value=False):
        lean_stack.request_started.send(sender=lean_stack.WSGIHandler, environ={})
    assert connection.connection is None

    connection.ensure_connection()
    connection.set_autocommit(False)
    lean_stack.request_finished.send(sender=lean_stack.WSGIHandler)
    assert connection.connection is None
    connection.ensure_connection()
    assert connection.get_autocommit()


@pytest.mark.django_db(transaction=True)
def test_the_query_log_is_emptied_and_the_urlconf_reset(open_connection: Any) -> None:
    connection.queries_log.append({"sql": "SELECT 1", "time": "0"})
    lean_stack.request_started.send(sender=lean_stack.WSGIHandler, environ={})
    assert len(connection.queries_log) == 0
    # Django's receivers, without the dispatcher: the plan of the receivers connected now (the test client
    # disconnects and reconnects close_old_connections, so their order depends on the tests run before), and in
    # Django's own order (django/db/__init__.py) the two of request_started share one look-up.
    receivers = lean_stack._resolved(signals.request_started)
    assert receivers is not None
    assert lean_stack.request_started.state[1] == lean_stack._plan(receivers)
    assert lean_stack._plan([reset_queries, close_old_connections]) == (
        lean_stack._reset_queries_and_close_old_connections,
    )
    assert lean_stack._plan([close_old_connections, reset_queries]) == (close_old_connections, reset_queries)
    set_urlconf("health_f0.urls")
    lean_stack.request_finished.send(sender=lean_stack.WSGIHandler)
    assert get_urlconf() is None


@pytest.mark.django_db(transaction=True)
def test_another_receiver_is_called_and_djangos_still_run(open_connection: Any) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append((sender, kwargs))

    signals.request_started.connect(receiver)
    signals.request_finished.connect(receiver)
    try:
        connection.close_at = time.monotonic() - 1
        old = connection.connection
        status, *_ = wsgi_get(APP, "/api/v1/guidance")
        assert status.startswith("200")
        assert connection.connection is not old  # Django's close_old_connections ran
        assert [c[0] for c in calls] == [lean_stack.WSGIHandler, lean_stack.WSGIHandler]
        assert "environ" in calls[0][1] and "environ" not in calls[1][1]
    finally:
        signals.request_started.disconnect(receiver)
        signals.request_finished.disconnect(receiver)
    calls.clear()
    wsgi_get(APP, "/api/v1/guidance")
    assert calls == []
    assert lean_stack.request_started.state[0] == signals.request_started.receivers  # planned again


@pytest.mark.django_db(transaction=True)
def test_a_receiver_disconnected_is_not_run(open_connection: Any) -> None:
    """As the test client does: close_old_connections disconnected, a connection past its age stays open."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        connection.close_at = time.monotonic() - 1
        old = connection.connection
        wsgi_get(APP, "/api/v1/guidance")
        assert connection.connection is old
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    wsgi_get(APP, "/api/v1/guidance")
    assert connection.connection is not old


class ClosingCache(LocMemCache):
    closed = 0

    def close(self, **kwargs: Any) -> None:
        ClosingCache.closed += 1


def test_caches_with_a_close_of_their_own_are_closed() -> None:
    assert lean_stack._caches_close_nothing(), "the project's backends do nothing on close()"
    backend = f"{__name__}.ClosingCache"
    with override_settings(CACHES={"default": {"BACKEND": backend}, "other": {"BACKEND": backend}}):
        from django.core.cache import caches

        assert not lean_stack._caches_close_nothing()
        caches["default"].get("x")  # opened; "other" is not
        ClosingCache.closed = 0
        lean_stack.request_finished.send(sender=lean_stack.WSGIHandler)
        assert ClosingCache.closed == 1
    assert lean_stack._caches_close_nothing()


def test_the_header_list_is_the_response_items_in_order() -> None:
    response = HttpResponse(b"x", headers={"X-B": "2", "x-a": "1"})
    response["Content-Type"] = "text/plain; charset=utf-8"
    response.set_cookie("a", "b c", httponly=True)
    seen: list[Any] = []

    class Handler(lean_stack.WSGIHandler):
        def get_response(self, request: Any) -> HttpResponse:
            return response

    def start_response(status: str, items: list[tuple[str, str]]) -> None:
        seen.extend([status, items])

    Handler()(RequestFactory().get("/").environ, start_response).close()
    assert seen[0] == "200 OK"
    assert seen[1] == [*response.items(), ("Set-Cookie", response.cookies["a"].output(header=""))]


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"SCRIPT_NAME": ""},
        {"SCRIPT_NAME": "/sub"},
        {"SCRIPT_NAME": "/s\u00c3\u00a1"},  # UTF-8 read as latin-1, as a WSGI server hands it over
        {"SCRIPT_NAME": "/x", "SCRIPT_URL": "/a/b/c", "PATH_INFO": "/b/c"},
        {"SCRIPT_NAME": "/x", "SCRIPT_URL": "", "REDIRECT_URL": "/r//b/c", "PATH_INFO": "/b/c"},
    ],
)
@pytest.mark.parametrize("force", [None, "/forced"])
def test_the_script_name_is_djangos(environ: dict[str, str], force: str | None) -> None:
    from django.core.handlers.wsgi import get_script_name

    with override_settings(FORCE_SCRIPT_NAME=force):
        assert lean_stack._script_name(environ) == get_script_name(environ)
