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
from dataclasses import asdict
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY, UNSAFE_EVAL
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import patch_cache_control

# Pages built on django-unfold (Alpine.js needs 'unsafe-eval').
DESK_PREFIXES: tuple[str, ...] = ("/desk/", "/bao-cao/")
# What django-csp reads per response (its decorators): with none of these and no nonce handed out, the
# headers depend only on the settings and on whether the path is a desk page.
# patch_cache_control(response, no_store=True, private=True) on a response with no Cache-Control yet.
_NO_STORE = "no-store, private"
_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


class PrivateDataHeadersMiddleware:
    """`Cache-Control: no-store` on every dynamic response not explicitly public; `Permissions-Policy`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        cache_control = response.get("Cache-Control", "")
        if not cache_control:
            # What patch_cache_control writes on a response without the header (most API answers), without
            # parsing one: about 20 Python calls a request (issue 11).
            response["Cache-Control"] = _NO_STORE
        elif "public" not in cache_control:
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

    # (settings policy, settings report-only policy, header, report-only header) by "is a desk page"
    _built: dict[bool, tuple[Any, Any, str, str]] = {}

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """django-csp's, with the headers built once per process when nothing varies per response:
        django-csp rebuilds the same string on every answer (dataclasses.asdict and build_policy, about 300
        Python calls, 8 % of a declaration POST). A nonce, a csp decorator or a DEBUG error page take the
        library's own path."""
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_RESPONSE)
            or (settings.DEBUG and response.status_code in (404, 500))
        ):
            return super().process_response(request, response)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        policy_ro = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        desk = request.path_info.startswith(DESK_PREFIXES)
        built = self._built.get(desk)
        if built is None or built[0] is not policy or built[1] is not policy_ro:  # override_settings
            csp = build_policy(**asdict(self.get_policy_parts(request, response)))
            parts_ro = self.get_policy_parts(request, response, report_only=True)
            built = self._built[desk] = (
                policy,
                policy_ro,
                csp,
                build_policy(**asdict(parts_ro), report_only=True),
            )
        for header, value, exempt, config in (
            (HEADER, built[2], "_csp_exempt", policy),
            (HEADER_REPORT_ONLY, built[3], "_csp_exempt_ro", policy_ro),
        ):
            if not value or header in response or getattr(response, exempt, False):
                continue
            if not request.path_info.startswith(
                tuple((config or {}).get("EXCLUDE_URL_PREFIXES", None) or ())
            ):
                response[header] = value
        # As django-csp: a nonce asked for after the header is written is an error, not a silent no-op.
        setattr(request, "csp_nonce", CheckableLazyObject(self._csp_nonce_post_response))  # noqa: B010
        return response
