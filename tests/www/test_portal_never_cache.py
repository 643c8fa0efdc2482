"""The portal's never_cache (www.caching, issue 11): the headers Django's never_cache writes, in the same order,
with the date of the same instant; a response that already has Expires or Cache-Control goes through Django's
function; a call without a request fails as Django's decorator fails."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache as django_never_cache

from health_f0.www import caching


def _headers(response: HttpResponse) -> list[tuple[str, str]]:
    return list(response.headers.items())


def _pair(build: Any) -> tuple[HttpResponse, HttpResponse]:
    return build(), build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: HttpResponse(b"x"),
        lambda: HttpResponse(b"x", headers={"Vary": "Cookie"}),
        lambda: HttpResponse(b"x", headers={"Cache-Control": "public, max-age=60"}),
        lambda: HttpResponse(b"x", headers={"Cache-Control": ""}),
        lambda: HttpResponse(b"x", headers={"Expires": "Thu, 01 Jan 1970 00:00:00 GMT"}),
        lambda: HttpResponse(b"x", headers={"Expires": "0", "Cache-Control": "no-transform"}),
    ],
)
def test_headers_are_djangos(build: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for now in (1_765_000_000.25, 1_765_000_000.9999997, 1_765_000_059.0):
        monkeypatch.setattr(caching.time, "time", lambda now=now: now)
        monkeypatch.setattr("django.utils.cache.time.time", lambda now=now: now)
        ours, djangos = _pair(build)
        caching.add_headers(ours)
        add_never_cache_headers(djangos)
        assert _headers(ours) == _headers(djangos)


def test_the_date_follows_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kept date is the current second's: a later second (or the last half microsecond of one, which
    datetime rounds up) gets its own text."""
    seen = []
    for now in (1_765_000_000.1, 1_765_000_000.8, 1_765_000_000.9999996, 1_765_000_001.0, 1_765_000_002.5):
        monkeypatch.setattr(caching.time, "time", lambda now=now: now)
        response = HttpResponse(b"")
        caching.add_headers(response)
        seen.append(response["Expires"])
    assert seen == [
        "Sat, 06 Dec 2025 05:46:40 GMT",
        "Sat, 06 Dec 2025 05:46:40 GMT",
        "Sat, 06 Dec 2025 05:46:41 GMT",
        "Sat, 06 Dec 2025 05:46:41 GMT",
        "Sat, 06 Dec 2025 05:46:42 GMT",
    ]


def test_decorated_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caching.time, "time", lambda: 1_765_000_000.5)
    monkeypatch.setattr("django.utils.cache.time.time", lambda: 1_765_000_000.5)

    def view(request: Any, n: int) -> HttpResponse:
        return HttpResponse(str(n).encode(), headers={"X-A": "1"})

    request = RequestFactory().get("/")
    ours, djangos = caching.never_cache(view)(request, n=3), django_never_cache(view)(request, n=3)
    assert _headers(ours) == _headers(djangos)
    assert ours.content == b"3"
    assert caching.never_cache(view).__name__ == "view"
    with pytest.raises(TypeError, match="didn't receive an HttpRequest"):
        caching.never_cache(view)(object(), n=3)
