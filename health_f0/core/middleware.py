from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.messages.storage import default_storage
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.http.response import HttpResponseBase
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.shortcuts import redirect
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.functional import LazyObject, SimpleLazyObject, empty
from django_otp.middleware import OTPMiddleware as DjangoOTPMiddleware

from health_f0.core.http_dates import SecondDates
from health_f0.core.lean_stack import vary_on_cookie
from health_f0.core.memo import Memo
from health_f0.core.request_context import client_ip, set_current_ip
from health_f0.core.security_headers import header_store, put_header

# Paths a user who must change their password may still reach.
_ALLOWED_PREFIXES = ("/tai-khoan/doi-mat-khau", "/dang-xuat", "/static/", "/api/", "/i18n/", "/desk/logout")

# client_ip() of recent requests by the headers it reads (and the trusted proxies it was worked out with):
# parsing and checking the addresses was about 90 Python calls on every request, 2 % of a declaration's CPU.
_IP_MEMO_SIZE = 4096
_IP_MEMO_HEADER_LIMIT = 200  # characters of X-Forwarded-For + X-Real-IP; at most ~1 MB kept
_ip_memo: Memo[tuple[object, ...], str] = Memo(_IP_MEMO_SIZE)  # cleared when full: bounded memory


def _client_ip(request: HttpRequest) -> str:
    meta = request.META
    forwarded, real = meta.get("HTTP_X_FORWARDED_FOR", ""), meta.get("HTTP_X_REAL_IP", "")
    if len(forwarded) + len(real) > _IP_MEMO_HEADER_LIMIT:
        return client_ip(request)  # long proxy chains (or junk) are worked out, not kept
    key = (meta.get("REMOTE_ADDR"), forwarded, real, tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    ip = _ip_memo.get(key)
    if ip is None:
        ip = client_ip(request)
        _ip_memo.keep(key, ip)
    return ip


def loaded_user(request: HttpRequest) -> Any:
    """The signed-in user (or AnonymousUser) itself, kept on the request in place of the lazy proxies the
    authentication and OTP middleware put there: the same object they hand out, with what they set on it
    (django_otp's `is_verified`, access's per-request cache). Each attribute read through the two proxies costs
    about eight Python calls, and the middleware after ForcePasswordChangeMiddleware, the view and the layout read
    the user 30-130 times a page (issue 11). Loaded as login_required loads it."""
    user: Any = request.user
    while isinstance(user, LazyObject):
        proxy: Any = user
        if proxy._wrapped is empty:
            proxy._setup()
        user = proxy._wrapped
    request.user = user
    return user


class ForcePasswordChangeMiddleware:
    """Records the client IP for the request, and sends users with an SMS-issued password to change it. On the
    pages it checks, the user it loads is kept on the request unwrapped (loaded_user)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        set_current_ip(_client_ip(request))
        # The path first: on the allowed paths (the API above all) the user is never looked up here, so
        # a bearer-token request does not load a session it does not use (the API checks
        # must_change_password itself: api.permissions.HasOwnPassword / IsStaffMember).
        if not request.path.startswith(_ALLOWED_PREFIXES) and getattr(request, "user", None) is not None:
            user = loaded_user(request)
            if user.is_authenticated and getattr(user, "must_change_password", False):
                return redirect("www:password_change")
        return self.get_response(request)


class MessageMiddleware(DjangoMessageMiddleware):
    """contrib.messages for pages only: the API never shows a flash message, and setting up the message
    storage (a cookie signer and the session store) was about 50 Python calls on every API request.
    settings.MIDDLEWARE takes it in place of django.contrib.messages.middleware.MessageMiddleware.

    On a page the storage is set up when something first uses it (`messages.add_message`, `get_messages`, the
    desk's context processor): only the desk and the session policy's notice show or leave flash messages, so
    a portal page no longer builds one for nothing. A storage never set up has nothing to save: its response
    is left as it is (Django's `update` would have done nothing to it either)."""

    def process_request(self, request: HttpRequest) -> None:
        if not request.path_info.startswith("/api/"):
            request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        storage = request.__dict__.get("_messages")
        if isinstance(storage, SimpleLazyObject) and storage._wrapped is empty:  # type: ignore[attr-defined]
            return response
        return super().process_response(request, response)


# The language negotiated by get_language_from_request, by (language cookie, Accept-Language) — the two
# things it reads when the URLs have no language prefix. Cleared when full (bounded) and when the language
# settings change (tests).
_LANGUAGE_MEMO_SIZE = 1024
_LANGUAGE_MEMO_HEADER_LIMIT = 200  # characters of Accept-Language; longer headers are worked out each time
_languages: Memo[tuple[str | None, str], tuple[str, str]] = Memo(_LANGUAGE_MEMO_SIZE)


@receiver(setting_changed, dispatch_uid="health_f0.core.middleware.languages")
def _languages_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in {
        "LANGUAGES",
        "LANGUAGE_CODE",
        "LOCALE_PATHS",
        "LANGUAGE_COOKIE_NAME",
        "ROOT_URLCONF",
        "USE_I18N",
    }:
        _languages.clear()
        _root_prefixed.clear()


# Whether settings.ROOT_URLCONF uses i18n_patterns (is_language_prefix_patterns_used's first answer), read once:
# four Python calls, twice a request, for an answer that changes only with the setting (cleared above).
_root_prefixed: list[bool] = []


def _language_prefixed(request: HttpRequest) -> bool:
    """is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]."""
    urlconf = request.__dict__.get("urlconf")
    if urlconf is not None:
        return is_language_prefix_patterns_used(urlconf)[0]  # type: ignore[no-any-return]
    if not _root_prefixed:
        _root_prefixed.append(is_language_prefix_patterns_used(settings.ROOT_URLCONF)[0])
    return _root_prefixed[0]


# The Vary header patch_vary_headers(response, ("Accept-Language",)) writes, by the Vary header the response had
# (header names set by the code, nothing of a request's). Bounded; long values are worked out each time.
_VARY_MEMO_SIZE = 64
_VARY_LIMIT = 200
_vary_with_language: Memo[str, str] = Memo(_VARY_MEMO_SIZE)


class LocaleMiddleware(DjangoLocaleMiddleware):
    """django.middleware.locale.LocaleMiddleware (settings.MIDDLEWARE takes it in its place), which negotiates
    the language from the language cookie and Accept-Language on every request: here once per pair of them
    (`_languages`). With URLs that carry a language prefix (i18n_patterns; not used by the product) it is
    Django's middleware as it is. The response gets the same `Vary: Accept-Language` and `Content-Language`."""

    def __call__(self, request: HttpRequest) -> Any:
        """MiddlewareMixin.__call__ without its per-request checks for the two hooks (process_request answers
        nothing)."""
        if self.async_mode:  # type: ignore[attr-defined]
            return self.__acall__(request)
        self.process_request(request)
        response: Any = self.get_response(request)
        return self.process_response(request, response)

    def process_request(self, request: HttpRequest) -> None:
        if _language_prefixed(request):
            return super().process_request(request)  # type: ignore[no-any-return]
        meta = request.META
        accept = meta.get("HTTP_ACCEPT_LANGUAGE", "")
        # No Cookie header (the apps' token requests): no language cookie, and the cookies are not parsed here.
        cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) if meta.get("HTTP_COOKIE") else None
        key = (cookie, accept)
        answer = _languages.get(key)
        if answer is None:
            language = translation.get_language_from_request(request, check_path=False)
            translation.activate(language)
            # The language and what get_language() answers once it is active (the same for the same language).
            answer = (language, translation.get_language())
            if len(accept) + len(cookie or "") <= _LANGUAGE_MEMO_HEADER_LIMIT:
                _languages.keep(key, answer)
        else:
            translation.activate(answer[0])
        request.LANGUAGE_CODE = answer[1]
        return None

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if _language_prefixed(request):
            return super().process_response(request, response)  # type: ignore[no-any-return]
        headers = header_store(response)
        vary = headers.get("vary")
        if vary is None:  # what patch_vary_headers writes on a response without the header
            put_header(response, "Vary", "Accept-Language")
        elif len(vary[1]) > _VARY_LIMIT:
            patch_vary_headers(response, ("Accept-Language",))
        else:
            patched = _vary_with_language.get(vary[1])
            if patched is None:
                patch_vary_headers(response, ("Accept-Language",))
                _vary_with_language.keep(vary[1], header_store(response)["vary"][1])
            else:
                put_header(response, "Vary", patched)
        if "content-language" not in headers:
            put_header(
                response, "Content-Language", translation.get_language()
            )  # the view may have changed it
        return response


# request.get_host() by (X-Forwarded-Host, Host): the host Django checked against ALLOWED_HOSTS, about 20 Python
# calls on every request for the same one or two answers. Only a host Django accepted is kept (a refused one
# raises DisallowedHost every time); what else get_host reads is settings, and the memo is cleared when they
# change. Requests without a Host header (HTTP/1.0) are worked out each time. Bounded, cleared when full.
_HOST_MEMO_SIZE = 256
_HOST_MEMO_LIMIT = 300  # characters of Host + X-Forwarded-Host
_hosts: Memo[tuple[str | None, str], str] = Memo(_HOST_MEMO_SIZE)
_HOST_SETTINGS = frozenset({"ALLOWED_HOSTS", "USE_X_FORWARDED_HOST", "DEBUG"})


@receiver(setting_changed, dispatch_uid="health_f0.core.middleware.hosts")
def _hosts_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in _HOST_SETTINGS:
        _hosts.clear()


def validated_host(request: HttpRequest) -> str:
    """`request.get_host()`: the request's host, or DisallowedHost when ALLOWED_HOSTS does not allow it."""
    meta = request.META
    host = meta.get("HTTP_HOST")
    forwarded = meta.get("HTTP_X_FORWARDED_HOST")
    if host is None or len(host) + len(forwarded or "") > _HOST_MEMO_LIMIT:
        return request.get_host()
    key = (forwarded, host)
    found = _hosts.get(key)
    if found is None:
        found = request.get_host()
        _hosts.keep(key, found)
    return found


class CommonMiddleware(DjangoCommonMiddleware):
    """django.middleware.common.CommonMiddleware (settings.MIDDLEWARE takes it in its place), whose request step
    checks the host against ALLOWED_HOSTS through validated_host (the same answer, or the same DisallowedHost).
    With DISALLOWED_USER_AGENTS or PREPEND_WWW set (the product sets neither) it is Django's as it is."""

    def __call__(self, request: HttpRequest) -> Any:
        """MiddlewareMixin.__call__ without its per-request checks for the two hooks."""
        if self.async_mode:  # type: ignore[attr-defined]
            return self.__acall__(request)
        response: Any = self.process_request(request) or self.get_response(request)
        return self.process_response(request, response)

    def process_request(self, request: HttpRequest) -> HttpResponsePermanentRedirect | None:
        if settings.DISALLOWED_USER_AGENTS or settings.PREPEND_WWW:
            return super().process_request(request)  # type: ignore[no-any-return]
        validated_host(request)
        return None


class CsrfViewMiddleware(DjangoCsrfViewMiddleware):
    """Django's CsrfViewMiddleware (every check, the token's rotation and when the cookie is renewed are its own),
    whose renewed cookie is written with fewer calls (about 70 Python calls on each page with a form): the same
    morsel attributes set_cookie writes for the CSRF settings (an `int` CSRF_COOKIE_AGE or None, a SameSite
    value set_cookie accepts as written; anything else goes through Django's own), its Expires date formatted once
    a second, and `Vary: Cookie` added as patch_vary_headers adds it (lean_stack.vary_on_cookie). tests/test_lean_csrf.py
    compares the Set-Cookie and Vary headers with Django's."""

    def _set_csrf_cookie(self, request: HttpRequest, response: HttpResponseBase) -> None:
        max_age = settings.CSRF_COOKIE_AGE
        samesite = settings.CSRF_COOKIE_SAMESITE
        if (
            settings.CSRF_USE_SESSIONS
            or (max_age is not None and type(max_age) is not int)
            or (samesite and samesite not in _SAMESITE)
        ):
            super()._set_csrf_cookie(request, response)  # type: ignore[misc]
            return
        name = settings.CSRF_COOKIE_NAME
        cookies = response.cookies
        cookies[name] = request.META["CSRF_COOKIE"]
        morsel = cookies[name]
        # set_cookie's writes, in its order (Morsel.__setitem__'s check: every key is one of its reserved ones).
        if max_age is None:
            dict.__setitem__(morsel, "expires", "")
        else:
            dict.__setitem__(morsel, "max-age", max_age)
            dict.__setitem__(morsel, "expires", _expires(time.time() + max_age))
        path, domain = settings.CSRF_COOKIE_PATH, settings.CSRF_COOKIE_DOMAIN
        if path is not None:
            dict.__setitem__(morsel, "path", path)
        if domain is not None:
            dict.__setitem__(morsel, "domain", domain)
        if settings.CSRF_COOKIE_SECURE:
            dict.__setitem__(morsel, "secure", True)
        if settings.CSRF_COOKIE_HTTPONLY:
            dict.__setitem__(morsel, "httponly", True)
        if samesite:
            dict.__setitem__(morsel, "samesite", samesite)
        vary_on_cookie(response)


# The SameSite values set_cookie accepts (it compares them lower-cased), as they are usually written.
_SAMESITE = frozenset(("Lax", "Strict", "None", "lax", "strict", "none"))
_expires = SecondDates()


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's SessionMiddleware, whose answer to a request that leaves its session as it was (not modified, not
    saved every request, not emptied under a cookie: no cookie to set or delete) adds `Vary: Cookie` as
    patch_vary_headers adds it (lean_stack.vary_on_cookie) when the session was read; any other answer is
    Django's process_response. settings.MIDDLEWARE takes its web-only variant (lean_stack.SessionMiddleware)."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            session: Any = request.session  # type: ignore[attr-defined]
            accessed = session.accessed
            modified = session.modified
            empty = session.is_empty()
        except AttributeError:
            return response
        if (
            modified
            or settings.SESSION_SAVE_EVERY_REQUEST
            or (empty and settings.SESSION_COOKIE_NAME in request.COOKIES)
        ):
            return super().process_response(request, response)
        if accessed:
            vary_on_cookie(response)
        return response


class OTPMiddleware(DjangoOTPMiddleware):
    """django_otp's OTPMiddleware, whose lazy user verifies the signed-in user itself rather than the
    authentication middleware's lazy proxy of it: the same `_verify_user_sync` (django_otp stays the authority:
    the session's device looked up, bound to the user and confirmed, or dropped from the session), given the
    user that proxy loads, as the proxy would have handed every attribute read and write to it. One proxy in
    place of two on each page (about 20 Python calls). When request.user is anything else (already loaded, or
    not the authentication middleware's proxy) django_otp installs its accessors itself."""

    def _install_lazy_accessors(self, request: HttpRequest) -> None:
        user = request.__dict__.get("user")
        if type(user) is not SimpleLazyObject or user._wrapped is not empty:  # type: ignore[attr-defined]
            super()._install_lazy_accessors(request)
            return
        proxy: Any = user

        def verified() -> Any:
            if proxy._wrapped is empty:
                proxy._setup()
            return self._verify_user_sync(request, proxy._wrapped)

        request.user = SimpleLazyObject(verified)  # type: ignore[assignment]
        auser = getattr(request, "auser", None)
        if auser is not None:
            request.auser = partial(self._verify_user_async_via_auser, request, auser)  # type: ignore[attr-defined]
