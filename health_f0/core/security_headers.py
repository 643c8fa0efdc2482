"""Response headers that keep personal data out of caches and shut browser features the product never uses,
and the Content-Security-Policy (django-csp) with the staff desk's one allowance.

* `Cache-Control: no-store, private` on every page and API answer the server renders, unless a view marked
  it `public` on purpose (the ward list of the registration form). Portal pages, desk pages, reports and
  API answers carry names, phones and health data: no browser, proxy or shared-computer history may keep
  them. Static files (served by WhiteNoise before this middleware runs) keep their long cache.
* `Permissions-Policy` (settings.PERMISSIONS_POLICY): camera, microphone, geolocation, payment and sensors
  are off for every page of the product (the online consultation opens the video service in its own tab).
* CSP: settings.CONTENT_SECURITY_POLICY applies everywhere (scripts from the product's own origin or with
  the request's nonce only). The desk and the reports are django-unfold pages whose Alpine.js evaluates
  its `x-data` expressions with `Function()`, so under DESK_PREFIXES the script source also allows
  'unsafe-eval'; inline scripts still need the nonce there.
"""

from __future__ import annotations

from collections.abc import Callable

from csp.constants import UNSAFE_EVAL
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import patch_cache_control

# Pages built on django-unfold (Alpine.js needs 'unsafe-eval').
DESK_PREFIXES: tuple[str, ...] = ("/desk/", "/bao-cao/")


class PrivateDataHeadersMiddleware:
    """`Cache-Control: no-store` on every dynamic response not explicitly public; `Permissions-Policy`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        cache_control = response.get("Cache-Control", "")
        if "public" not in cache_control:
            patch_cache_control(response, no_store=True, private=True)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = policy
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware; desk pages add 'unsafe-eval' to the script source (see module docstring)."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(DESK_PREFIXES):
            update = dict(parts.update or {})
            update["script-src"] = [*update.get("script-src", []), UNSAFE_EVAL]
            parts.update = update
        return parts
