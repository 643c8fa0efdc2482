"""Issue 14 item 3: a Redis outage must not take the public portal down. Every cache read falls back to the
database; only OTP sending (whose caps cannot be counted) refuses, in Vietnamese."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from health_f0.core import safe_cache
from health_f0.monitoring.models import GuidanceDocument

# A Redis that refuses connections: nothing listens on port 1.
REDIS_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "KEY_PREFIX": "hf0-redis-down",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


@pytest.fixture
def redis_down(settings: Any) -> Iterator[None]:
    original = settings.CACHES
    settings.CACHES = REDIS_DOWN
    settings.RATE_LIMIT_STORE = "cache"
    from django.core.cache import cache
    from redis.exceptions import ConnectionError as RedisConnectionError

    with pytest.raises(RedisConnectionError):  # the outage is real: the cache itself fails
        cache.get("probe")
    safe_cache.reset()
    yield
    settings.CACHES = original  # before the shared fixture clears the (real) cache
    safe_cache.reset()


def _portal() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("path", ["/", "/dang-nhap", "/dang-ky", "/huong-dan"])
def test_public_pages_answer_while_redis_is_down(demo: Any, redis_down: None, path: str) -> None:
    response = _portal().get(path)
    assert response.status_code == 200, (path, response.status_code)
    # The page still knows who runs the portal (read from the database instead of the cache).
    assert "Sở Y tế" in response.content.decode()


def test_guidance_document_and_login_post_while_redis_is_down(demo: Any, redis_down: None) -> None:
    document = GuidanceDocument.objects.filter(is_published=True).first()
    assert document is not None
    assert _portal().get(f"/huong-dan/{document.public_id}").status_code == 200
    portal = _portal()
    response = portal.post("/dang-nhap", {"username": "bn0000001", "password": "demo-2026"})
    assert response.status_code == 302, response.status_code
    assert portal.get("/").status_code == 200


def test_api_answers_while_redis_is_down(demo: Any, redis_down: None) -> None:
    api = Client(raise_request_exception=False)
    token = api.post(
        "/api/v1/auth/token",
        {"username": "bn0000001", "password": "demo-2026"},
        content_type="application/json",
    )
    assert token.status_code in (200, 201), token.content
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token.json()['token']}"}
    assert api.get("/api/v1/questionnaire", **auth).status_code == 200
    assert api.get("/api/v1/guidance").status_code == 200
    declared = api.post(
        "/api/v1/declarations",
        {"answers": {"temperature": "36.8", "spo2": 98}},
        content_type="application/json",
        **auth,
    )
    assert declared.status_code == 201, declared.content


def test_otp_sending_refuses_in_vietnamese_while_redis_is_down(demo: Any, redis_down: None, sms: Any) -> None:
    response = Client(raise_request_exception=False).post(
        "/api/v1/otp", {"phone": "0977000333", "purpose": "registration"}, content_type="application/json"
    )
    assert response.status_code in (429, 503), response.content
    body = response.json()
    assert not body["detail"].isascii() and "thử lại" in body["detail"]
    assert response["Retry-After"]
    assert not [m for m in sms.messages() if m["to"] == "+84977000333"]


def test_a_cache_outage_is_not_retried_on_every_read(redis_down: None, monkeypatch: Any) -> None:
    from django.core.cache import caches

    backend = caches["default"]
    real_get = backend.get
    tries: list[str] = []

    def counting_get(key: str, *args: Any, **kwargs: Any) -> Any:
        tries.append(key)
        return real_get(key, *args, **kwargs)

    monkeypatch.setattr(backend, "get", counting_get)
    assert safe_cache.cached("k", lambda: 1, timeout=60) == 1
    assert safe_cache.cached("k", lambda: 2, timeout=60) == 2  # computed again: nothing was stored
    assert safe_cache.cache_get("k") is None
    assert tries == ["k"]  # one failed try, then the cache is skipped for CACHE_OUTAGE_SKIP_SECONDS
