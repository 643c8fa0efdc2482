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
  'unsafe-eval'; inline scripts still need the nonce there. The header lists its directives in a fixed order
  (`build_policy`), so the same policy is the same bytes from every worker process; it is built once per
  process and the request's nonce put into it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict
from itertools import chain
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE, UNSAFE_EVAL
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import default_config
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import patch_cache_control
from django.utils.encoding import force_str

# Pages built on django-unfold (Alpine.js needs 'unsafe-eval').
DESK_PREFIXES: tuple[str, ...] = ("/desk/", "/bao-cao/")
# What django-csp reads per response (its decorators): with none of these and no nonce handed out, the
# headers depend only on the settings and on whether the path is a desk page.
# patch_cache_control(response, no_store=True, private=True) on a response with no Cache-Control yet.
_NO_STORE = "no-store, private"
_PER_RESPONSE = frozenset(
    ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
)


def header_store(response: HttpResponseBase) -> dict[str, tuple[str, str]]:
    """The response's headers as Django's ResponseHeaders keeps them: lower-cased name -> (name, value).
    Read and written here directly for headers this module sets on every response (each `response[name]`
    and `name in response` goes through CaseInsensitiveMapping and two charset conversions: about 12 Python
    calls a header; tests/security/test_csp_order.py checks the layout)."""
    store: dict[str, tuple[str, str]] = response.headers._store  # type: ignore[attr-defined]
    return store


def put_header(response: HttpResponseBase, name: str, value: str) -> None:
    """`response[name] = value`: stored as ResponseHeaders stores a value it would leave unchanged (ASCII, no
    line break), else set the ordinary way (which converts it or refuses it)."""
    if value.isascii() and "\n" not in value and "\r" not in value:
        header_store(response)[name.lower()] = (name, value)
    else:
        response[name] = value


class PrivateDataHeadersMiddleware:
    """`Cache-Control: no-store` on every dynamic response not explicitly public; `Permissions-Policy`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        headers = header_store(response)
        cache_control = headers.get("cache-control")
        if cache_control is None or not cache_control[1]:
            # What patch_cache_control writes on a response without the header (most API answers), without
            # parsing one: about 20 Python calls a request (issue 11).
            put_header(response, "Cache-Control", _NO_STORE)
        elif "public" not in cache_control[1]:
            patch_cache_control(response, no_store=True, private=True)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy and "permissions-policy" not in headers:
            put_header(response, "Permissions-Policy", policy)
        return response


def build_policy(
    config: dict[str, Any] | None = None,
    update: dict[str, Any] | None = None,
    replace: dict[str, Any] | None = None,
    nonce: str | None = None,
    report_only: bool = False,
) -> str:
    """csp.utils.build_policy with its directives in a fixed order (the settings' directives in django-csp's
    DEFAULT_DIRECTIVES order, then those only `replace` names), not in the order of a set of strings, which
    depends on each worker process's hash seed: the same policy is the same header from every worker."""
    if config is None:
        setting = getattr(
            settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY" if report_only else "CONTENT_SECURITY_POLICY", {}
        )
        config = default_config(setting.get("DIRECTIVES", {})) if setting else None
    if config is None:
        return ""
    update = update if update is not None else {}
    replace = replace if replace is not None else {}
    csp: dict[str, Any] = {}
    for key in dict.fromkeys(chain(config, replace)):  # django-csp: set(chain(config, replace))
        value = replace[key] if key in replace else config[key]
        if value is not None:
            csp[key] = _values(value)
    for key, value in update.items():
        if value is not None:
            if csp.get(key) is None:
                csp[key] = _values(value)
            else:
                csp[key] += tuple(_values(value))  # a list grows in place, a tuple becomes a longer one
    report_uri = csp.pop("report-uri", None)
    parts: dict[str, str] = {}
    for key, values in csp.items():
        if len(values) == 1 and isinstance(values[0], bool):
            if values[0] is True:
                parts[key] = ""
            continue
        if NONCE in values:
            values = (
                [f"'nonce-{nonce}'" if item == NONCE else item for item in values]
                if nonce
                else [item for item in values if item != NONCE]
            )
        parts[key] = " ".join(dict.fromkeys(values))
    if report_uri:
        parts["report-uri"] = " ".join(map(force_str, report_uri))
    return "; ".join([f"{key} {value}".strip() for key, value in parts.items()])


def _values(value: Any) -> Any:
    """A directive's sources as django-csp's build_policy takes them: a copy, a set sorted, one value a 1-tuple."""
    value = copy.copy(value)
    if isinstance(value, set):
        value = sorted(value)
    return value if isinstance(value, (list, tuple)) else (value,)


# Stands in for the request's nonce in a policy built once (a nonce is base64: never this text).
_NONCE_SLOT = "\x00nonce\x00"
_DEBUG_PAGES = (404, 500)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware; desk pages add 'unsafe-eval' to the script source (see module docstring); the
    header is built by this module's `build_policy` (directives in a fixed order) and, unless a csp decorator
    changes it for one response, once per process."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(DESK_PREFIXES):
            update = dict(parts.update or {})
            update["script-src"] = [*update.get("script-src", []), UNSAFE_EVAL]
            parts.update = update
        return parts

    # (settings policy, settings report-only policy, header, report-only header) by (is a desk page, has a
    # nonce); with a nonce, the headers hold _NONCE_SLOT where the request's nonce goes.
    _built: dict[tuple[bool, bool], tuple[Any, Any, str, str]] = {}

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """django-csp's, with the headers built once per process for what varies only with the settings, the
        path (desk or not) and the nonce: django-csp rebuilds the same string on every answer (dataclasses.asdict
        and build_policy, about 300 Python calls, 8 % of a declaration POST; the nonce is put into a prebuilt
        string). A csp decorator's response builds its own."""
        if settings.DEBUG and response.status_code in _DEBUG_PAGES:
            return response  # as django-csp: Django's debug pages keep their inline scripts
        nonce = getattr(request, "_csp_nonce", None)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        policy_ro = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        if not _PER_RESPONSE.isdisjoint(response.__dict__):
            csp = build_policy(**asdict(self.get_policy_parts(request, response)))
            parts_ro = self.get_policy_parts(request, response, report_only=True)
            csp_ro = build_policy(**asdict(parts_ro), report_only=True)
        else:
            key = (request.path_info.startswith(DESK_PREFIXES), nonce is not None)
            built = self._built.get(key)
            if built is None or built[0] is not policy or built[1] is not policy_ro:  # override_settings
                parts = self.get_policy_parts(request, response)
                parts_ro = self.get_policy_parts(request, response, report_only=True)
                if nonce is not None:
                    parts.nonce = parts_ro.nonce = _NONCE_SLOT
                built = self._built[key] = (
                    policy,
                    policy_ro,
                    build_policy(**asdict(parts)),
                    build_policy(**asdict(parts_ro), report_only=True),
                )
            csp, csp_ro = built[2], built[3]
            if nonce is not None:
                csp, csp_ro = csp.replace(_NONCE_SLOT, nonce), csp_ro.replace(_NONCE_SLOT, nonce)
        for header, value, exempt, config in (
            (HEADER, csp, "_csp_exempt", policy),
            (HEADER_REPORT_ONLY, csp_ro, "_csp_exempt_ro", policy_ro),
        ):
            if not value or header.lower() in header_store(response) or getattr(response, exempt, False):
                continue
            if not request.path_info.startswith(
                tuple((config or {}).get("EXCLUDE_URL_PREFIXES", None) or ())
            ):
                put_header(response, header, value)
        if nonce is None:
            # As django-csp: a nonce asked for after the header is written is an error, not a silent no-op.
            setattr(request, "csp_nonce", CheckableLazyObject(self._csp_nonce_post_response))  # noqa: B010
        return response
