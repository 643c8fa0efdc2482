"""The request floor's header writers (issue 11) against Django's: the CSRF cookie's renewal
(core/middleware.CsrfViewMiddleware), `Vary: Cookie` (lean_stack.vary_on_cookie) and the Cache-Control that
PrivateDataHeadersMiddleware patches (core/security_headers), each compared byte for byte with what Django's own
code writes."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.middleware.csrf import get_token
from django.test import RequestFactory, override_settings
from django.utils.cache import patch_cache_control, patch_vary_headers

from health_f0.core import lean_stack, security_headers
from health_f0.core.http_dates import SecondDates
from health_f0.core.middleware import CsrfViewMiddleware
from health_f0.core.security_headers import PrivateDataHeadersMiddleware

NOW = 1_765_000_000.25


def _headers(response: HttpResponse) -> list[tuple[str, str]]:
    cookies = [("Set-Cookie", morsel.output(header="")) for morsel in response.cookies.values()]
    return list(response.items()) + cookies


def _renewed(middleware_class: Any, rf: RequestFactory, vary: str | None, now: float = NOW) -> HttpResponse:
    request = rf.get("/", HTTP_COOKIE=f"{settings.CSRF_COOKIE_NAME}=" + "a" * 32)
    middleware = middleware_class(lambda r: HttpResponse())
    middleware.process_request(request)
    get_token(request)  # a page with a form: the cookie is renewed
    response = HttpResponse()
    if vary is not None:
        response["Vary"] = vary
    with mock.patch("time.time", return_value=now):
        middleware.process_response(request, response)
    return response


CASES = [
    {},
    {"CSRF_COOKIE_SECURE": True, "CSRF_COOKIE_HTTPONLY": True, "CSRF_COOKIE_SAMESITE": "Strict"},
    {"CSRF_COOKIE_AGE": None},
    {"CSRF_COOKIE_DOMAIN": ".example.vn", "CSRF_COOKIE_PATH": "/a", "CSRF_COOKIE_SAMESITE": None},
    {"CSRF_COOKIE_SAMESITE": "LAX"},  # Django's path (the value as written is not in the lean set)
    {"CSRF_COOKIE_AGE": 3600.5},  # Django's path
    {"CSRF_COOKIE_NAME": "hf0csrf"},
]


@pytest.mark.parametrize("overrides", CASES)
@pytest.mark.parametrize("vary", [None, "Accept-Language", "Cookie", "accept-encoding, cookie", "*"])
def test_the_renewed_csrf_cookie_is_djangos(
    rf: RequestFactory, overrides: dict[str, Any], vary: str | None
) -> None:
    with override_settings(**overrides):
        ours = _renewed(CsrfViewMiddleware, rf, vary)
        djangos = _renewed(DjangoCsrfViewMiddleware, rf, vary)
    assert _headers(ours) == _headers(djangos)
    assert list(ours.cookies) == list(djangos.cookies)


def test_the_csrf_cookie_keeps_its_expiry_across_seconds(rf: RequestFactory) -> None:
    for now in (NOW, NOW + 0.5, NOW + 1, NOW + 0.9999996, NOW + 86400):
        assert _headers(_renewed(CsrfViewMiddleware, rf, None, now)) == _headers(
            _renewed(DjangoCsrfViewMiddleware, rf, None, now)
        )


@override_settings(CSRF_USE_SESSIONS=True)
def test_csrf_in_the_session_is_djangos(rf: RequestFactory) -> None:
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    for middleware_class in (CsrfViewMiddleware, DjangoCsrfViewMiddleware):
        request = rf.get("/")
        request.session = SessionStore()
        middleware = middleware_class(lambda r: HttpResponse())
        middleware.process_request(request)
        token = get_token(request)
        response = middleware.process_response(request, HttpResponse())
        assert not response.cookies
        assert request.session["_csrftoken"] and token


def test_the_web_only_csrf_middleware_is_ours() -> None:
    assert issubclass(lean_stack.CsrfViewMiddleware, CsrfViewMiddleware)
    assert issubclass(lean_stack.CsrfViewMiddleware, DjangoCsrfViewMiddleware)


@pytest.mark.parametrize("vary", [None, "Accept-Language", "Cookie", "a, b", "*", "x" * 300])
def test_vary_on_cookie_is_patch_vary_headers(vary: str | None) -> None:
    ours, djangos = HttpResponse(), HttpResponse()
    if vary is not None:
        ours["Vary"] = djangos["Vary"] = vary
    for _ in range(2):  # the second time from the memo
        lean_stack.vary_on_cookie(ours)
        patch_vary_headers(djangos, ("Cookie",))
        assert list(ours.items()) == list(djangos.items())


@pytest.mark.parametrize(
    "cache_control",
    [
        "max-age=0, no-cache, no-store, must-revalidate, private",
        "max-age=60",
        "no-cache",
        "no-cache=Set-Cookie, no-cache=Vary",
        "s-maxage=10, Private",
        "y" * 300,
    ],
)
def test_the_patched_cache_control_is_djangos(rf: RequestFactory, cache_control: str) -> None:
    middleware = PrivateDataHeadersMiddleware(lambda r: _with_cache_control(cache_control))
    for _ in range(2):  # the second time from the memo
        ours = middleware(rf.get("/"))
        djangos = _with_cache_control(cache_control)
        patch_cache_control(djangos, no_store=True, private=True)
        assert ours["Cache-Control"] == djangos["Cache-Control"]
        assert list(ours.items())[0] == list(djangos.items())[0]
    assert (
        len(cache_control) > security_headers._NO_STORE_LIMIT
        or cache_control in security_headers._no_store_patched
    )


def _with_cache_control(value: str) -> HttpResponse:
    response = HttpResponse()
    response["Cache-Control"] = value
    return response


def test_second_dates_are_http_date() -> None:
    from django.utils.http import http_date

    dates = SecondDates()
    for t in (NOW, NOW + 0.1, NOW + 0.9999994, NOW + 0.9999996, NOW + 1, NOW + 31449600, 0.0, 1.9999999):
        assert dates(t) == http_date(t)
