"""SecurityMiddleware's response headers written ahead of it by PrivateDataHeadersMiddleware
(core/security_headers.py: security_headers): the same headers, values and order as Django's middleware alone
writes, for every setting that shapes them, on plain and secure requests, and never over a view's own."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware
from django.test import RequestFactory, override_settings

from health_f0.core.security_headers import PrivateDataHeadersMiddleware


def _headers(with_ours: bool, secure: bool, preset: dict[str, str]) -> list[tuple[str, str]]:
    def view(request: Any) -> HttpResponse:
        response = HttpResponse(b"")
        for name, value in preset.items():
            response[name] = value
        return response

    inner: Any = PrivateDataHeadersMiddleware(view) if with_ours else view
    request = RequestFactory().get("/ca-nhan", secure=secure)
    response = SecurityMiddleware(inner)(request)
    names = (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
    )
    return [(name, value) for name, value in response.items() if name in names]


@pytest.mark.parametrize(
    ("hsts", "nosniff", "referrer", "coop"),
    list(
        product(
            [(0, False, False), (3600, False, False), (31536000, True, True)],
            [True, False],
            ["same-origin", "no-referrer, strict-origin-when-cross-origin", ["origin", "same-origin"], None],
            ["same-origin", "same-origin-allow-popups", None],
        )
    ),
)
@pytest.mark.parametrize("secure", [False, True])
def test_the_headers_are_security_middleware_s(
    hsts: tuple[int, bool, bool], nosniff: bool, referrer: Any, coop: str | None, secure: bool
) -> None:
    seconds, subdomains, preload = hsts
    with override_settings(
        SECURE_HSTS_SECONDS=seconds,
        SECURE_HSTS_INCLUDE_SUBDOMAINS=subdomains,
        SECURE_HSTS_PRELOAD=preload,
        SECURE_CONTENT_TYPE_NOSNIFF=nosniff,
        SECURE_REFERRER_POLICY=referrer,
        SECURE_CROSS_ORIGIN_OPENER_POLICY=coop,
    ):
        for preset in ({}, {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "other"}):
            assert _headers(True, secure, preset) == _headers(False, secure, preset)


def test_the_headers_follow_a_changed_setting() -> None:
    before = _headers(True, True, {})
    with override_settings(SECURE_REFERRER_POLICY="no-referrer", SECURE_HSTS_SECONDS=60):
        changed = _headers(True, True, {})
        assert ("Referrer-Policy", "no-referrer") in changed
        assert dict(changed)["Strict-Transport-Security"].startswith("max-age=60")
        assert changed == _headers(False, True, {}) != before
    assert _headers(True, True, {}) == before
