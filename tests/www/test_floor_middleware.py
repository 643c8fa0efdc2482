"""The floor's middleware (issue 11, health_f0/core/middleware.py): the language negotiated once per (language
cookie, Accept-Language) answers what Django's LocaleMiddleware answers, with the same headers; the message
storage is set up only when something uses it, and flash messages still reach the next page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.test import Client, RequestFactory
from django.utils import translation
from django.utils.functional import empty

from health_f0.core import middleware

CASES = [
    (None, ""),
    (None, "en"),
    (None, "en-US,en;q=0.9,vi;q=0.8"),
    (None, "fr-FR,fr;q=0.9"),
    (None, "vi-VN"),
    (None, "*"),
    ("en", "vi"),
    ("vi", "en"),
    ("xx", "en"),
    ("en-gb", ""),
]


def _answer(mw_class: Any, cookie: str | None, accept: str, vary: str | None) -> tuple[str, dict[str, str]]:
    request = RequestFactory().get("/ca-nhan", HTTP_ACCEPT_LANGUAGE=accept)
    if cookie is not None:
        request.COOKIES["django_language"] = cookie

    def view(request: Any) -> HttpResponse:
        response = HttpResponse(b"")
        if vary:
            response["Vary"] = vary
        return response

    with translation.override(None):
        response = mw_class(view)(request)
        language = request.LANGUAGE_CODE
    return language, {name: response[name] for name in ("Vary", "Content-Language")}


@pytest.mark.parametrize(("cookie", "accept"), CASES)
@pytest.mark.parametrize("vary", [None, "Cookie", "Accept-Language", "Cookie, Accept, accept-language", "*"])
def test_the_language_and_headers_are_django_s(cookie: str | None, accept: str, vary: str | None) -> None:
    middleware._languages.clear()
    middleware._vary_with_language.clear()
    expected = _answer(DjangoLocaleMiddleware, cookie, accept, vary)
    assert _answer(middleware.LocaleMiddleware, cookie, accept, vary) == expected
    assert _answer(middleware.LocaleMiddleware, cookie, accept, vary) == expected  # from the memo


def test_the_memo_follows_the_language_settings(settings: Any) -> None:
    middleware._languages.clear()
    assert _answer(middleware.LocaleMiddleware, None, "en", None)[0] == "en"
    settings.LANGUAGES = [("vi", "Tiếng Việt")]
    assert _answer(middleware.LocaleMiddleware, None, "en", None)[0] == "vi"


def test_a_portal_page_sets_up_no_message_storage(db: Any) -> None:
    response = Client().get("/huong-dan")
    assert response.status_code == 200
    storage = response.wsgi_request._messages
    assert storage._wrapped is empty


def test_a_flash_message_reaches_the_next_page() -> None:
    request = RequestFactory().get("/desk/")
    request.session = {}  # type: ignore[assignment]
    mw = middleware.MessageMiddleware(lambda r: HttpResponse(b""))
    mw.process_request(request)
    messages.warning(request, "Phiên làm việc đã kết thúc.")
    assert isinstance(request._messages._wrapped, FallbackStorage)
    response = mw.process_response(request, HttpResponse(b""))
    cookie = response.cookies["messages"].value
    following = RequestFactory().get("/desk/login/")
    following.COOKIES["messages"] = cookie
    following.session = {}  # type: ignore[assignment]
    mw.process_request(following)
    assert [str(m) for m in messages.get_messages(following)] == ["Phiên làm việc đã kết thúc."]


# --- The user, loaded once and kept unwrapped (core.middleware.loaded_user) --------------------------------


def test_a_page_and_the_middleware_after_it_see_the_loaded_user(persona: Any) -> None:
    from django.contrib.auth.models import AnonymousUser
    from django.utils.functional import LazyObject

    user = persona("bn0000001")
    client = Client()
    client.force_login(user)
    response = client.get("/ca-nhan")
    assert response.status_code == 200
    seen = response.wsgi_request.user
    assert not isinstance(seen, LazyObject)
    assert seen.pk == user.pk and seen.is_authenticated
    assert seen.is_verified() is False  # what django_otp's proxy set on the object is kept
    public = Client().get("/huong-dan").wsgi_request.user
    assert isinstance(public, AnonymousUser)
    # The API's paths are left as they were: nothing here loads a user for them.
    api_request = client.get("/api/v2/episodes").wsgi_request
    assert api_request.user.pk == user.pk


def test_an_sms_issued_password_still_sends_the_account_to_change_it(persona: Any) -> None:
    user = persona("bn0000001")
    user.must_change_password = True
    user.save(update_fields=["must_change_password"])
    client = Client()
    client.force_login(user)
    response = client.get("/ca-nhan")
    assert response.status_code == 302 and response["Location"] == "/tai-khoan/doi-mat-khau"
    assert client.get("/tai-khoan/doi-mat-khau").status_code == 200


# --- The host, checked once per Host header (core.middleware.validated_host) --------------------------------


@pytest.mark.parametrize(
    ("allowed", "meta"),
    [
        (["testserver"], {"HTTP_HOST": "testserver"}),
        (["testserver"], {"HTTP_HOST": "testserver:8000"}),
        (["testserver"], {"HTTP_HOST": "evil.example"}),
        (["testserver"], {"HTTP_HOST": "testserver", "HTTP_X_FORWARDED_HOST": "evil.example"}),
        ([".example.gov.vn"], {"HTTP_HOST": "a.example.gov.vn"}),
        ([".example.gov.vn"], {"HTTP_HOST": "a.example.gov.vn.evil"}),
        (["*"], {"HTTP_HOST": "anything"}),
        (["testserver"], {"HTTP_HOST": "bad host!"}),
        (["testserver"], {}),
    ],
)
@pytest.mark.parametrize("forwarded_host", [False, True])
def test_the_host_is_the_one_django_checks(
    settings: Any, allowed: list[str], meta: dict[str, str], forwarded_host: bool
) -> None:
    from django.core.exceptions import DisallowedHost

    settings.ALLOWED_HOSTS = allowed
    settings.USE_X_FORWARDED_HOST = forwarded_host

    def django_s(request: Any) -> Any:
        try:
            return request.get_host()
        except DisallowedHost:
            return DisallowedHost

    def ours(request: Any) -> Any:
        try:
            return middleware.validated_host(request)
        except DisallowedHost:
            return DisallowedHost

    for _ in range(3):  # worked out, then from the memo: a refused host is refused every time
        request = RequestFactory().get("/ca-nhan", **meta)
        if not meta:
            request.META.pop("HTTP_HOST", None)
            request.META["SERVER_NAME"] = "testserver"
        assert ours(request) == django_s(request)


def test_a_host_refused_after_a_settings_change_is_refused(settings: Any, db: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "old.example"]
    assert Client(HTTP_HOST="old.example").get("/huong-dan").status_code == 200
    settings.ALLOWED_HOSTS = ["testserver"]
    assert Client(HTTP_HOST="old.example").get("/huong-dan").status_code == 400
    assert Client().get("/huong-dan").status_code == 200
