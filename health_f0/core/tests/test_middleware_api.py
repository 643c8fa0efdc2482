"""core/middleware.py: the work the API does not need is skipped for /api/, pages keep it."""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.contrib.sessions.backends.cache import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings

from health_f0.core import middleware
from health_f0.core.request_context import current_ip


def _run(request: HttpRequest) -> HttpRequest:
    request.session = SessionStore()
    middleware.MessageMiddleware(lambda r: HttpResponse())(request)
    return request


def test_messages_for_pages_not_for_the_api() -> None:
    factory = RequestFactory()
    assert hasattr(_run(factory.get("/desk/")), "_messages")
    assert list(get_messages(_run(factory.get("/tai-khoan/")))) == []
    assert not hasattr(_run(factory.post("/api/v1/declarations")), "_messages")


def test_the_remembered_client_address_follows_the_headers_and_the_trusted_proxies() -> None:
    def seen(**meta: str) -> str | None:
        request = RequestFactory().get("/api/v1/questionnaire", **meta)
        middleware.ForcePasswordChangeMiddleware(lambda r: HttpResponse())(request)
        return current_ip()

    assert seen(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4") == "10.0.0.5"
    with override_settings(TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert seen(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4") == "1.2.3.4"
        assert seen(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.9") == "1.2.3.9"
        assert seen(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, " + "9" * 300) == "10.0.0.5"
    assert seen(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4") == "10.0.0.5"
