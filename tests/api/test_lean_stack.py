"""Bearer-token API requests skip the browser-session middleware (core/lean_stack.py) and DRF's content
negotiation is worked out once per kind of request (api/negotiation.py): what the API answers stays exactly
what the whole stack answers (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIClient

from health_f0.api.apis.common import PdfRenderer
from health_f0.api.negotiation import CachedContentNegotiation
from health_f0.api.services import api_token_issue
from health_f0.core import lean_stack
from health_f0.core.lean_stack import WEB_ONLY, is_token_api_request

LEAN_PREFIX = "health_f0.core.lean_stack."


def full_stack() -> list[str]:
    """settings.MIDDLEWARE with each web-only variant replaced by the middleware it wraps."""
    return [
        WEB_ONLY[name[len(LEAN_PREFIX) :]] if name.startswith(LEAN_PREFIX) else name
        for name in settings.MIDDLEWARE
    ]


def bearer(user: Any) -> str:
    raw, _ = api_token_issue(user=user)
    return f"Bearer {raw}"


def answer(client: Client, path: str, **headers: Any) -> tuple[Any, ...]:
    response = client.get(path, **headers)
    return (
        response.status_code,
        response.content,
        sorted(response.headers.items()),
        sorted(response.cookies.keys()),
    )


# --- Which requests take the lean stack -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "meta", "lean"),
    [
        ("/api/v1/me", {"HTTP_AUTHORIZATION": "Bearer abc"}, True),
        ("/api/v2/episodes", {"HTTP_AUTHORIZATION": "bearer abc", "HTTP_COOKIE": "csrftoken=x"}, True),
        (
            "/api/v1/me",
            {"HTTP_AUTHORIZATION": "Bearer abc", "HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}=x"},
            False,
        ),
        ("/api/v1/me", {}, False),
        ("/api/v1/me", {"HTTP_AUTHORIZATION": "Token abc"}, False),
        ("/desk/", {"HTTP_AUTHORIZATION": "Bearer abc"}, False),
        ("/ca-nhan", {"HTTP_AUTHORIZATION": "Bearer abc"}, False),
    ],
)
def test_only_token_api_requests_without_a_session_cookie_are_lean(
    path: str, meta: dict[str, str], lean: bool
) -> None:
    assert is_token_api_request(RequestFactory().get(path, **meta)) is lean


def test_a_web_only_middleware_is_the_same_class_for_browsers() -> None:
    from django.contrib.sessions.middleware import SessionMiddleware

    assert issubclass(lean_stack.SessionMiddleware, SessionMiddleware)
    assert lean_stack.SessionMiddleware is lean_stack.SessionMiddleware
    seen: list[Any] = []
    middleware = lean_stack.SessionMiddleware(lambda request: seen.append(request) or HttpResponse())
    page = RequestFactory().get("/ca-nhan")
    middleware(page)
    token = RequestFactory().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer abc")
    middleware(token)
    assert hasattr(page, "session") and not hasattr(token, "session")
    assert seen == [page, token]
    with pytest.raises(AttributeError):
        lean_stack.NoSuchMiddleware  # noqa: B018


# --- A token request skips the session machinery; a session request keeps it -------------------------------


def test_a_bearer_request_reads_no_session_and_sets_no_cookie(demo: Any, persona: Any) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(persona("bn0000001")))
    response = client.get("/api/v2/episodes")
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "_messages")
    assert "CSRF_COOKIE" not in request.META
    assert request.user.username == "bn0000001"  # DRF's user, from the token
    assert not response.cookies and "Set-Cookie" not in response.headers


def test_a_session_request_keeps_the_whole_stack(demo: Any, persona: Any) -> None:
    client = Client()
    client.force_login(persona("bn0000001"))
    for headers in ({}, {"HTTP_AUTHORIZATION": bearer(persona("bn0000001"))}):
        response = client.get("/api/v2/episodes", **headers)
        assert response.status_code == 200
        assert hasattr(response.wsgi_request, "session")
        assert response.wsgi_request.user.username == "bn0000001"


def test_an_unverified_staff_session_with_a_token_still_owes_its_code(
    demo: Any, persona: Any, settings: Any
) -> None:
    from tests.security.test_two_factor import desk_login

    settings.STAFF_2FA_REQUIRED = True
    client = desk_login("syt.lanhdao")
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=bearer(persona("syt.lanhdao")))
    assert response.status_code == 403 and response.json()["code"] == "two_factor_required"


# --- The lean stack answers what the whole stack answers --------------------------------------------------


def _publish_policy(persona: Any) -> None:
    from tests.security.test_privacy import _publish

    _publish(persona)


@pytest.mark.parametrize(
    ("username", "path", "headers", "setup"),
    [
        ("bn0000001", "/api/v2/episodes", {}, None),
        ("bn0000001", "/api/v1/declarations?limit=100", {}, None),
        ("bn0000001", "/api/v2/declarations?limit=5", {"HTTP_ACCEPT": "application/json; indent=2"}, None),
        ("bn0000001", "/api/v1/me", {"HTTP_ACCEPT_LANGUAGE": "en"}, None),
        ("bn0000001", "/api/v1/me", {"HTTP_ACCEPT": "text/html"}, None),
        ("bn0000001", "/api/v1/khong-co", {}, None),
        ("bn0000001", "/api/v2/alerts", {}, None),  # a patient on a staff list: 403
        ("thanhdong.nv", "/api/v2/alerts?limit=100", {}, None),
        ("thanhdong.nv", "/api/v1/registrations", {}, "must_change_password"),
        ("bn0000001", "/api/v2/episodes", {"HTTP_ACCEPT_LANGUAGE": "en"}, "must_change_password"),
        ("bn0000001", "/api/v2/episodes", {}, "inactive"),
        ("bn0000001", "/api/v2/episodes", {}, "consent"),
        (None, "/api/v1/me", {"HTTP_ACCEPT_LANGUAGE": "en"}, None),  # an unknown token: 401
    ],
)
def test_the_lean_stack_answers_what_the_whole_stack_answers(
    demo: Any, persona: Any, username: str | None, path: str, headers: dict[str, str], setup: str | None
) -> None:
    if username is None:
        token = "Bearer not-a-token"
    else:
        user = persona(username)
        if setup == "must_change_password":
            user.must_change_password = True
            user.save()
        elif setup == "inactive":
            user.is_active = False
            user.save()
        elif setup == "consent":
            _publish_policy(persona)
        token = bearer(user)
    lean_client = Client(HTTP_AUTHORIZATION=token)
    lean_client.get(path, **headers)  # the token's hourly last_used_at, the consent cache: as in production
    with CaptureQueriesContext(connection) as lean_queries:
        lean = answer(lean_client, path, **headers)
    assert not hasattr(lean_client.get(path, **headers).wsgi_request, "session")
    with override_settings(MIDDLEWARE=full_stack()):
        full_client = Client(HTTP_AUTHORIZATION=token)
        with CaptureQueriesContext(connection) as full_queries:
            full = answer(full_client, path, **headers)
        assert hasattr(full_client.get(path, **headers).wsgi_request, "session")
    assert lean[:2] == full[:2]  # status and body
    assert dict(lean[2]) == dict(full[2])  # headers
    assert lean[3] == full[3] == []  # no cookie set
    assert len(lean_queries) <= len(full_queries)
    assert any(name == "Cache-Control" and "no-store" in value for name, value in lean[2])


def test_the_answers_carry_the_security_headers(demo: Any, persona: Any) -> None:
    response = Client(HTTP_AUTHORIZATION=bearer(persona("bn0000001"))).get("/api/v2/episodes")
    assert "no-store" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response and "Permissions-Policy" in response


# --- Content negotiation --------------------------------------------------------------------------------


def _negotiate(negotiation: Any, path: str, accept: str | None, renderers: list[Any]) -> tuple[Any, ...]:
    meta = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(RequestFactory().get(path, **meta))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except (exceptions.NotAcceptable, Http404) as exc:
        return ("error", type(exc))
    return (renderers.index(renderer), media_type)


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "application/json",
        "application/json; indent=4",
        "application/*",
        "application/pdf",
        "text/html",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "image/png",
        "application/pdf;q=0.5, application/json",
        "x" * 300,
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/me", "/api/v1/me?format=json", "/api/v1/me?format=pdf", "/api/v1/me?format=xml"]
)
def test_negotiation_answers_as_drf_every_time(accept: str | None, path: str) -> None:
    for renderer_classes in (
        [JSONRenderer],
        [JSONRenderer, PdfRenderer],
        [JSONRenderer, BrowsableAPIRenderer],
    ):
        expected = _negotiate(DefaultContentNegotiation(), path, accept, [cls() for cls in renderer_classes])
        for _ in range(2):  # worked out, then remembered
            assert (
                _negotiate(CachedContentNegotiation(), path, accept, [cls() for cls in renderer_classes])
                == expected
            )


def test_no_store_is_written_as_patch_cache_control_writes_it() -> None:
    from django.utils.cache import patch_cache_control

    from health_f0.core.security_headers import PrivateDataHeadersMiddleware

    for existing in (None, "", "max-age=60", "public, max-age=3600"):

        def view(request: Any, existing: str | None = existing) -> HttpResponse:
            response = HttpResponse()
            if existing is not None:
                response["Cache-Control"] = existing
            return response

        expected = view(None)
        if "public" not in expected.get("Cache-Control", ""):
            patch_cache_control(expected, no_store=True, private=True)
        got = PrivateDataHeadersMiddleware(view)(RequestFactory().get("/api/v1/me"))
        assert got.get("Cache-Control") == expected.get("Cache-Control")


@pytest.mark.parametrize(
    "meta", [{}, {"HTTP_AUTHORIZATION": "Bearer abc"}, {"HTTP_AUTHORIZATION": "Token  x y"}]
)
def test_the_authorization_header_is_read_as_drf_reads_it(meta: dict[str, str]) -> None:
    from rest_framework.authentication import get_authorization_header

    from health_f0.api.authentication import _authorization_header

    request = Request(RequestFactory().get("/api/v1/me", **meta))
    assert _authorization_header(request) == get_authorization_header(request)


def test_the_csrf_deploy_check_sees_either_middleware() -> None:
    from health_f0.core.lean_stack import CSRF_MIDDLEWARE, check_csrf_middleware

    assert check_csrf_middleware() == []
    without = [name for name in settings.MIDDLEWARE if not name.endswith(".CsrfViewMiddleware")]
    with override_settings(MIDDLEWARE=without):
        assert [message.id for message in check_csrf_middleware()] == ["health_f0.W003"]
    with override_settings(MIDDLEWARE=[*without, CSRF_MIDDLEWARE]):
        assert check_csrf_middleware() == []


# --- A token request goes past the layers it passes through (lean_stack.token_next) ------------------------


def _loaded_stack() -> dict[str, Any]:
    """settings.MIDDLEWARE's instances, built as the WSGI handler builds them, by class name."""
    from django.core.handlers.base import BaseHandler

    handler = BaseHandler()
    handler.load_middleware()
    found: dict[str, Any] = {}
    layer: Any = handler._middleware_chain
    while hasattr(getattr(layer, "__wrapped__", None), "get_response"):
        layer = layer.__wrapped__
        found[type(layer).__name__] = layer
        layer = layer.get_response
    return found


def test_a_token_request_is_handed_past_the_layers_it_passes_through() -> None:
    stack = _loaded_stack()
    # CSRF to the session policy: one web-only run, then the clickjacking header's layer.
    assert (
        lean_stack.token_next(stack["CsrfViewMiddleware"].get_response).__wrapped__
        is (stack["XFrameOptionsMiddleware"])
    )
    # The two-factor step, then the consent gate (nothing to do for a token request), then axes.
    assert (
        lean_stack.token_next(stack["TwoFactorMiddleware"].get_response).__wrapped__
        is stack["AxesMiddleware"]
    )
    # The session layer adds `Vary: Cookie` on the way back: it is kept, and what follows it is not skipped.
    assert not stack["SessionMiddleware"].token_api_passthrough
    assert (
        lean_stack.token_next(stack["SessionMiddleware"].get_response)
        is stack["SessionMiddleware"].get_response
    )


def test_the_skipped_layers_run_for_every_other_request(demo: Any, persona: Any, monkeypatch: Any) -> None:
    from health_f0.privacy.middleware import ConsentRequiredMiddleware

    ran: list[str] = []
    original = ConsentRequiredMiddleware.__call__

    def consent_call(self: Any, request: Any) -> Any:
        ran.append(request.path)
        return original(self, request)

    monkeypatch.setattr(ConsentRequiredMiddleware, "__call__", consent_call)
    user = persona("bn0000001")
    assert Client(HTTP_AUTHORIZATION=bearer(user)).get("/api/v2/episodes").status_code == 200
    assert ran == []
    browser = Client()
    browser.force_login(user)
    browser.get("/api/v2/episodes")
    browser.get("/ca-nhan")
    Client().get("/api/v1/me", HTTP_AUTHORIZATION="Token abc")
    assert ran == ["/api/v2/episodes", "/ca-nhan", "/api/v1/me"]
