"""How long a login lasts: an idle timeout and an absolute lifetime, shorter for staff than for patients.

A staff session (a superuser, an `is_staff` account or anyone holding a staff membership when they log in)
ends after STAFF_SESSION_IDLE_MINUTES without a request and STAFF_SESSION_MAX_HOURS after the login,
whatever the activity; a patient's after PATIENT_SESSION_IDLE_DAYS and PATIENT_SESSION_MAX_DAYS. The
session records its kind, its login time and its last request (rewritten at most once a minute, so an
active user does not write the session row on every request). A session that outlived either limit is
logged out before the view runs; a staff member is sent to the desk login, which tells them why in
Vietnamese. A patient-kind session that reaches the desk or the reports as a staff account (a role granted
after the login) becomes a staff session from then on, counted from the original login.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import ngettext

from health_f0.facilities import access

KIND_KEY = "hf0_session_kind"
STARTED_KEY = "hf0_session_started"
SEEN_KEY = "hf0_session_seen"
STAFF = "staff"
PATIENT = "patient"
# The last-request time is rewritten when it is at least this old: one session write a minute at most.
SEEN_GRANULARITY_SECONDS = 60
# Paths where a staff account's session is treated as a staff session even if it began as a patient's.
STAFF_PREFIXES = ("/desk/", "/bao-cao/")


@dataclass(frozen=True)
class Limits:
    idle_seconds: int
    absolute_seconds: int


def limits_for(kind: str) -> Limits:
    if kind == STAFF:
        return Limits(
            idle_seconds=settings.STAFF_SESSION_IDLE_MINUTES * 60,
            absolute_seconds=settings.STAFF_SESSION_MAX_HOURS * 3600,
        )
    return Limits(
        idle_seconds=settings.PATIENT_SESSION_IDLE_DAYS * 86400,
        absolute_seconds=settings.PATIENT_SESSION_MAX_DAYS * 86400,
    )


def kind_of(user: Any) -> str:
    """Staff: a superuser, an `is_staff` account, or a holder of an active staff membership."""
    if user.is_superuser or user.is_staff or access.is_staff_member(user):
        return STAFF
    return PATIENT


def _expiry_seconds(kind: str) -> int:
    """The session cookie and row outlive the idle limit a little, so that the policy, not the cookie,
    ends an idle session (and says why); the absolute limit is checked on each request."""
    limits = limits_for(kind)
    return min(limits.idle_seconds + 5 * 60, limits.absolute_seconds)


def session_begin(request: HttpRequest, user: Any, *, now: float | None = None) -> None:
    """Stamp a new login: its kind, its start and its last request."""
    now = time.time() if now is None else now
    kind = kind_of(user)
    request.session[KIND_KEY] = kind
    request.session[STARTED_KEY] = now
    request.session[SEEN_KEY] = now
    request.session.set_expiry(_expiry_seconds(kind))


@receiver(user_logged_in, dispatch_uid="health_f0.accounts.session_policy.begin")
def _on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        session_begin(request, user)


def expiry_reason(session: Any, *, now: float) -> str | None:
    """'idle', 'absolute' or None for a session stamped by `session_begin`."""
    limits = limits_for(session.get(KIND_KEY, PATIENT))
    started = float(session.get(STARTED_KEY, now))
    seen = float(session.get(SEEN_KEY, now))
    if now - started >= limits.absolute_seconds:
        return "absolute"
    if now - seen >= limits.idle_seconds:
        return "idle"
    return None


def expiry_message(reason: str) -> str:
    """What the desk login says to a staff member whose session ended."""
    if reason == "absolute":
        hours = settings.STAFF_SESSION_MAX_HOURS
        return ngettext(
            "Phiên làm việc đã kết thúc vì đã quá %(hours)s giờ kể từ khi đăng nhập. Vui lòng đăng nhập lại.",
            "Phiên làm việc đã kết thúc vì đã quá %(hours)s giờ kể từ khi đăng nhập. Vui lòng đăng nhập lại.",
            hours,
        ) % {"hours": hours}
    minutes = settings.STAFF_SESSION_IDLE_MINUTES
    return ngettext(
        "Phiên làm việc đã kết thúc vì không có thao tác nào trong %(minutes)s phút. Vui lòng đăng nhập lại.",
        "Phiên làm việc đã kết thúc vì không có thao tác nào trong %(minutes)s phút. Vui lòng đăng nhập lại.",
        minutes,
    ) % {"minutes": minutes}


class SessionPolicyMiddleware:
    """Ends sessions past their idle or absolute limit; records the last request. After the authentication
    and message middlewares."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        # No login in this session (the public, a bearer-token API call): nothing to time.
        if SESSION_KEY not in session or BACKEND_SESSION_KEY not in session:
            return self.get_response(request)
        now = time.time()
        if KIND_KEY not in session:  # a session from before this policy: counted from now
            session_begin(request, request.user, now=now)
        elif (
            session[KIND_KEY] == PATIENT
            and request.path.startswith(STAFF_PREFIXES)
            and request.user.is_authenticated
            and kind_of(request.user) == STAFF
        ):
            session[KIND_KEY] = STAFF
            session.set_expiry(_expiry_seconds(STAFF))
        reason = expiry_reason(session, now=now)
        if reason is not None:
            return self._expired(request, reason)
        if now - float(session.get(SEEN_KEY, 0)) >= SEEN_GRANULARITY_SECONDS:
            session[SEEN_KEY] = now
        return self.get_response(request)

    def _expired(self, request: HttpRequest, reason: str) -> HttpResponse:
        staff = request.session.get(KIND_KEY) == STAFF
        logout(request)
        if not staff or request.path.startswith("/api/"):
            # Patients land on the portal's own login when the page needs one; the API answers 401.
            return self.get_response(request)
        messages.warning(request, expiry_message(reason))
        target = reverse("admin:login")
        if request.method == "GET" and not request.headers.get("HX-Request"):
            target += "?" + urlencode({"next": request.get_full_path()})
        if request.headers.get("HX-Request"):  # a desk dialog: reload the whole page on the login
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)
