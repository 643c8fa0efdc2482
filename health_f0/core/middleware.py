from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from health_f0.core.request_context import client_ip, set_current_ip

# Paths a user who must change their password may still reach.
_ALLOWED_PREFIXES = ("/tai-khoan/doi-mat-khau", "/dang-xuat", "/static/", "/api/", "/i18n/", "/desk/logout")


class ForcePasswordChangeMiddleware:
    """Records the client IP for the request, and sends users with an SMS-issued password to change it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        set_current_ip(client_ip(request))
        # The path first: on the allowed paths (the API above all) the user is never looked up here, so
        # a bearer-token request does not load a session it does not use (the API checks
        # must_change_password itself: api.permissions.HasOwnPassword / IsStaffMember).
        if not request.path.startswith(_ALLOWED_PREFIXES):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated and getattr(user, "must_change_password", False):
                return redirect("www:password_change")
        return self.get_response(request)
