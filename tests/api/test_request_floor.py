"""The request floor's middleware pieces (issue 11): the Vary header a token request gets from the lean stack
and the locale middleware's memo answer what Django's own code answers."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import translation
from django.utils.cache import patch_vary_headers

from health_f0.core import lean_stack, middleware

VARIES = (
    None,
    "",
    "Accept-Language",
    "Accept, Accept-Language",
    "cookie",
    "*",
    "Origin,Accept-Encoding",
    "a" * 300,
)


def test_vary_on_cookie_writes_what_patch_vary_headers_writes() -> None:
    lean_stack._vary_with_cookie.clear()
    for _ in range(2):  # worked out, then from the memo
        for vary in VARIES:
            ours, django = HttpResponse(), HttpResponse()
            if vary is not None:
                ours["Vary"] = django["Vary"] = vary
            lean_stack.vary_on_cookie(ours)
            patch_vary_headers(django, ("Cookie",))
            assert list(ours.items()) == list(django.items()), vary
    assert "Accept-Language" in lean_stack._vary_with_cookie
    assert "a" * 300 not in lean_stack._vary_with_cookie


def test_a_request_without_cookies_does_not_parse_them() -> None:
    middleware._languages.clear()
    for attempt in range(2):  # worked out (Django reads the cookies), then from the memo
        request = RequestFactory().get("/api/v2/alerts", HTTP_ACCEPT_LANGUAGE="en")
        with translation.override(None):
            response = middleware.LocaleMiddleware(lambda request: HttpResponse())(request)
        assert request.LANGUAGE_CODE == "en" and response["Content-Language"] == "en"
        assert attempt == 0 or "COOKIES" not in request.__dict__
