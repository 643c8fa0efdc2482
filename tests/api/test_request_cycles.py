"""An API request's object graph is freed when its response is closed, not left to the cyclic garbage collector
(core/cycles.py, issue 11): DRF's view, request and response refer to each other, so without the cut each
request's rows waited for a collection (0.5 ms a request on a 100-row staff list) and a full collection of the
process every few thousand requests added 170-340 ms to one answer."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from health_f0.api.services import api_token_issue
from health_f0.core import cycles


def wsgi_call(app: WSGIHandler, path: str, **headers: str) -> tuple[str, bytes]:
    """One request the way gunicorn makes it: the body read, then the response closed (without Django's
    connection housekeeping, as the test client does: the test's transaction stays open)."""
    environ = RequestFactory().get(path, **headers).environ
    status: list[str] = []
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = app(environ, lambda line, items, exc_info=None: status.append(line))
        try:
            return status[0], b"".join(result)
        finally:
            result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def drf_objects(garbage: list[Any]) -> list[str]:
    # type(), not isinstance(): a lazy object in the garbage would be evaluated by its __class__.
    return [type(o).__name__ for o in garbage if issubclass(type(o), APIView | Request | Response)]


def api_garbage(persona: Any, path: str) -> list[str]:
    raw, _ = api_token_issue(user=persona("bn0000001"))
    app = WSGIHandler()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert wsgi_call(app, path, **headers)[0].startswith("200")  # warm: first-use caches
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    start = len(gc.garbage)
    try:
        status, _ = wsgi_call(app, path, **headers)
        assert status.startswith("200")
        gc.collect()
        return drf_objects(gc.garbage[start:])
    finally:
        del gc.garbage[start:]
        gc.set_debug(0)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v2/declarations", "/api/v1/declarations", "/api/v1/me"])
def test_an_api_request_leaves_no_cycle_for_the_collector(persona: Any, path: str) -> None:
    assert settings.MIDDLEWARE[0] == "health_f0.core.cycles.ReleaseCyclesMiddleware"
    assert api_garbage(persona, path) == []


@pytest.mark.django_db
def test_without_the_cut_the_view_request_and_response_wait_for_the_collector(
    persona: Any, settings: Any
) -> None:
    """The check above can see the defect: the same request without the middleware leaves the cycle."""
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "health_f0.core.cycles.ReleaseCyclesMiddleware"
    ]
    left = api_garbage(persona, "/api/v2/declarations")
    assert {"Request", "Response"} <= set(left) and any(name.endswith("Api") for name in left), left


@pytest.mark.django_db
def test_the_answer_and_the_test_clients_view_of_it_are_unchanged(as_user: Any) -> None:
    """The test client closes the response too: the data and the rendered body stay."""
    response = as_user("bn0000001").get("/api/v2/declarations")
    assert response.status_code == 200
    assert response.data["results"] == response.json()["results"]
    assert "view" not in response.renderer_context and "response" not in response.renderer_context


def test_release_leaves_other_responses_alone() -> None:
    from django.http import HttpResponse

    response = HttpResponse(b"x")
    cycles.release(response)
    assert response.content == b"x"


def test_the_worker_freezes_the_loaded_application() -> None:
    """bench/gunicorn_conf.py (scripts/run.sh's config): after the worker has loaded the application, what is
    loaded goes to the collector's permanent generation, so a full collection does not walk it."""
    from pathlib import Path

    from gunicorn.config import Config

    namespace: dict[str, Any] = {}
    source = Path(__file__).resolve().parents[2] / "bench" / "gunicorn_conf.py"
    exec(source.read_text(encoding="utf-8"), namespace)  # noqa: S102
    Config().set("post_worker_init", namespace["post_worker_init"])  # gunicorn accepts the hook's signature
    assert gc.get_freeze_count() == 0
    try:
        namespace["post_worker_init"](object())
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
