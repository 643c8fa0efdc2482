"""Asks a patient account to agree to the personal-data policy in force before any other portal page, after
a new version takes effect or after it withdrew its consent (the API answers 403 `consent_required` instead:
api.permissions.HasOwnPassword). The answer is cached per account and version, so a page costs no query. The
portal's name (facilities.portal.site_info) is read from the cache in the same round trip, and it and the
policy in force are kept for the page's view."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from health_f0.facilities import portal
from health_f0.privacy.selectors import consent_check, keep_policy_for_request

# Reachable without agreeing: the policy and the consent page themselves, the data-subject rights pages
# (access, export, withdrawal and deletion never depend on consent), logging in and out, the password, the
# API (its own check), the desk, static files, public verification and queue screens, hooks.
CONSENT_FREE_PREFIXES = (
    "/dong-y-chinh-sach",
    "/chinh-sach-du-lieu",
    "/du-lieu-cua-toi",
    "/dang-nhap",
    "/dang-xuat",
    "/tai-khoan/doi-mat-khau",
    "/api/",
    "/desk/",
    "/static/",
    "/media/",
    "/i18n/",
    "/hooks/",
    "/xac-minh/",
    "/hang-doi/",
    "/bao-cao/",
)


class ConsentRequiredMiddleware:
    # A token API request (core.lean_stack.is_token_api_request: under /api/, no session cookie) has no
    # `request.user` here (the authentication middleware is web-only) and its path is consent-free: it passes
    # through untouched both ways, so the layer before may hand it straight on (core.lean_stack.token_next).
    token_api_passthrough = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(CONSENT_FREE_PREFIXES):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                answer = consent_check(user, also=(portal.SITE_INFO_KEY,))
                portal.keep_for_request(request, answer.found.get(portal.SITE_INFO_KEY))
                keep_policy_for_request(request, answer.policy)
                if answer.required is not None:
                    target = reverse("www:privacy_consent")
                    return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
