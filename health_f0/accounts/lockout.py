"""Login lockout that cannot be forged or turned against a user, on the desk, the portal and the API alike.

Every password check goes through `django.contrib.auth.authenticate` with the request, so django-axes
(database handler) counts it: login forms, the API's token login and the current-password check of every
password-change form (`check_current_password`). Two limits apply:

1. Per username + address (django-axes, AXES_LOCKOUT_PARAMETERS): AXES_FAILURE_LIMIT wrong passwords from
   one address lock that pair for the cool-off. The address comes from `request_context.client_ip` (forged
   X-Forwarded-For headers are ignored), so an attacker's failures lock only the attacker's address: the
   user logs in from theirs. A try refused while locked is not counted, so the lock ends on time.
2. Per username, all addresses together (`LoginGuardBackend`): a distributed attack (many addresses, each
   under the limit) meets a back-off once the username has AXES_USERNAME_BACKOFF_AFTER failures within the
   cool-off: each further try must wait 2, 4, 8 ... seconds (AXES_USERNAME_BACKOFF_BASE_SECONDS doubled per
   failure, at most AXES_USERNAME_BACKOFF_MAX_SECONDS) after the latest failure. One address alone can never reach that threshold (it is locked first), and an
   address the user logged in from in the last AXES_KNOWN_ADDRESS_DAYS days is not slowed: the attack
   slows guessing without locking the user out.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.contrib.auth import authenticate
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import ngettext

from health_f0.core.exceptions import RateLimited


def _cool_off_seconds(request: HttpRequest | None = None) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 900


def username_backoff_wait(*, username: str | None, ip_address: str | None) -> int:
    """Seconds this address must still wait before trying `username` again (0: go ahead)."""
    if not username:
        return 0
    now = timezone.now()
    since = now - timedelta(seconds=_cool_off_seconds())
    stats = AccessAttempt.objects.filter(username=username, attempt_time__gte=since).aggregate(
        failures=Sum("failures_since_start"), last=Max("attempt_time")
    )
    failures, last = stats["failures"] or 0, stats["last"]
    threshold = settings.AXES_USERNAME_BACKOFF_AFTER
    if failures < threshold or last is None:
        return 0
    base = settings.AXES_USERNAME_BACKOFF_BASE_SECONDS
    delay = min(settings.AXES_USERNAME_BACKOFF_MAX_SECONDS, base * 2 ** min(failures - threshold, 30))
    wait = math.ceil((last + timedelta(seconds=delay) - now).total_seconds())
    if wait <= 0:
        return 0
    known_since = now - timedelta(days=settings.AXES_KNOWN_ADDRESS_DAYS)
    if (
        ip_address
        and AccessLog.objects.filter(
            username=username, ip_address=ip_address, attempt_time__gte=known_since
        ).exists()
    ):
        return 0
    return wait


class LoginGuardBackend(AxesStandaloneBackend):
    """django-axes' lockout per username + address, then the per-username back-off. Authenticates no one:
    ModelBackend, next in AUTHENTICATION_BACKENDS, checks the password."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        super().authenticate(request, username, password, **kwargs)  # raises while the pair is locked
        if not settings.AXES_ENABLED or request is None:
            return None
        AxesProxyHandler.update_request(request)
        wait = username_backoff_wait(username=username, ip_address=request.axes_ip_address)  # type: ignore[attr-defined]
        if wait:
            # Flagged as locked out, so django-axes does not count this refused try as a failure.
            request.axes_locked_out = True  # type: ignore[attr-defined]
            request.axes_retry_after = wait  # type: ignore[attr-defined]
            raise AxesBackendPermissionDenied("username back-off")
        return None


def lockout_retry_after(request: HttpRequest, username: str | None = None) -> int:
    """Seconds until a refused request may try again: the back-off's wait, or what is left of the lock of
    this username + address (the cool-off counted from its latest failure)."""
    wait = getattr(request, "axes_retry_after", None)
    if wait:
        return int(wait)
    cool_off = _cool_off_seconds(request)
    ip_address = getattr(request, "axes_ip_address", None)
    last = None
    if username and ip_address:
        last = AccessAttempt.objects.filter(username=username, ip_address=ip_address).aggregate(
            last=Max("attempt_time")
        )["last"]
    if last is None:
        return cool_off
    return max(math.ceil((last + timedelta(seconds=cool_off) - timezone.now()).total_seconds()), 1)


def lockout_message(request: HttpRequest, retry_after: int) -> str:
    if getattr(request, "axes_retry_after", None):
        return ngettext(
            "Tài khoản này đang bị thử mật khẩu sai nhiều lần từ nhiều nơi. Vui lòng thử lại sau %(seconds)s giây.",
            "Tài khoản này đang bị thử mật khẩu sai nhiều lần từ nhiều nơi. Vui lòng thử lại sau %(seconds)s giây.",
            retry_after,
        ) % {"seconds": retry_after}
    minutes = max(math.ceil(retry_after / 60), 1)
    return ngettext(
        "Tài khoản tạm thời bị khoá do đăng nhập sai nhiều lần. Vui lòng thử lại sau %(minutes)s phút.",
        "Tài khoản tạm thời bị khoá do đăng nhập sai nhiều lần. Vui lòng thử lại sau %(minutes)s phút.",
        minutes,
    ) % {"minutes": minutes}


def locked_out_error(request: HttpRequest, username: str | None) -> RateLimited:
    """The refusal as a RateLimited for surfaces that answer with their own page or JSON. Clears the flag,
    so AxesMiddleware does not replace that answer."""
    retry_after = lockout_retry_after(request, username)
    request.axes_locked_out = False  # type: ignore[attr-defined]
    return RateLimited(lockout_message(request, retry_after), code="locked_out", retry_after=retry_after)


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the portal's lockout page (429, AXES_LOCKOUT_TEMPLATE) with the real wait, for
    the login forms. The portal's own page context (the province's name and hotline, as on every portal page)
    comes from the callable named by LOCKOUT_PAGE_CONTEXT: this module does not import the portal."""
    username = (credentials or {}).get("username") or request.POST.get("username")
    retry_after = lockout_retry_after(request, username)
    page_context = import_string(settings.LOCKOUT_PAGE_CONTEXT) if settings.LOCKOUT_PAGE_CONTEXT else dict
    response = render(
        request,
        settings.AXES_LOCKOUT_TEMPLATE,
        {
            **page_context(),
            "message": lockout_message(request, retry_after),
            "retry_after": retry_after,
        },
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def check_current_password(*, request: HttpRequest, user: Any, password: str) -> bool:
    """Whether `password` is `user`'s current password, checked like a login: a wrong one counts as a failed
    login of this user from this address, and while locked out (or backed off) RateLimited is raised
    without checking. Password-change forms and endpoints ask this instead of `user.check_password`."""
    found = authenticate(request, username=user.get_username(), password=password)
    if getattr(request, "axes_locked_out", False):
        raise locked_out_error(request, user.get_username())
    return found is not None and found.pk == user.pk


def token_login_succeeded(*, request: HttpRequest, user: Any) -> None:
    """What a session login does in django-axes, for the API's token login (which opens no session): record
    the address as one this user logs in from, and clear this username + address's failures."""
    if not settings.AXES_ENABLED:
        return
    AxesProxyHandler.update_request(request)
    username = user.get_username()
    ip_address = request.axes_ip_address  # type: ignore[attr-defined]
    if not getattr(settings, "AXES_DISABLE_ACCESS_LOG", False):
        AccessLog.objects.create(
            username=username,
            ip_address=ip_address,
            user_agent=request.axes_user_agent,  # type: ignore[attr-defined]
            http_accept=request.axes_http_accept,  # type: ignore[attr-defined]
            path_info=request.axes_path_info,  # type: ignore[attr-defined]
        )
    if settings.AXES_RESET_ON_SUCCESS:
        AccessAttempt.objects.filter(username=username, ip_address=ip_address).delete()
