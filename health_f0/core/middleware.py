from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from health_f0.core.request_context import client_ip, set_current_ip

# Paths a user who must change their password may still reach.
_ALLOWED_PREFIXES = ("/tai-khoan/doi-mat-khau", "/dang-xuat", "/static/", "/api/", "/i18n/", "/desk/logout")

# client_ip() of recent requests by the headers it reads (and the trusted proxies it was worked out with):
# parsing and checking the addresses was about 90 Python calls on every request, 2 % of a declaration's CPU.
_IP_MEMO_SIZE = 4096
_IP_MEMO_HEADER_LIMIT = 200  # characters of X-Forwarded-For + X-Real-IP; at most ~1 MB kept
_ip_memo: dict[tuple[object, ...], str] = {}  # cleared when full: bounded memory


def _client_ip(request: HttpRequest) -> str:
    meta = request.META
    forwarded, real = meta.get("HTTP_X_FORWARDED_FOR", ""), meta.get("HTTP_X_REAL_IP", "")
    if len(forwarded) + len(real) > _IP_MEMO_HEADER_LIMIT:
        return client_ip(request)  # long proxy chains (or junk) are worked out, not kept
    key = (meta.get("REMOTE_ADDR"), forwarded, real, tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    ip = _ip_memo.get(key)
    if ip is None:
        ip = client_ip(request)
        if len(_ip_memo) >= _IP_MEMO_SIZE:
            _ip_memo.clear()
        _ip_memo[key] = ip
    return ip


class ForcePasswordChangeMiddleware:
    """Records the client IP for the request, and sends users with an SMS-issued password to change it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        set_current_ip(_client_ip(request))
        # The path first: on the allowed paths (the API above all) the user is never looked up here, so
        # a bearer-token request does not load a session it does not use (the API checks
        # must_change_password itself: api.permissions.HasOwnPassword / IsStaffMember).
        if not request.path.startswith(_ALLOWED_PREFIXES):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated and getattr(user, "must_change_password", False):
                return redirect("www:password_change")
        return self.get_response(request)


class MessageMiddleware(DjangoMessageMiddleware):
    """contrib.messages for pages only: the API never shows a flash message, and setting up the message
    storage (a cookie signer and the session store) was about 50 Python calls on every API request.
    settings.MIDDLEWARE takes it in place of django.contrib.messages.middleware.MessageMiddleware."""

    def process_request(self, request: HttpRequest) -> None:
        if not request.path_info.startswith("/api/"):
            super().process_request(request)
