"""core/security_headers.py: the Content-Security-Policy header is the same bytes from every worker process
(django-csp orders its directives by a set of strings, whose order follows the process's hash seed), and says
what django-csp's own header says, directive for directive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from csp.utils import build_policy as csp_build_policy
from django.http import BadHeaderError, HttpResponse
from django.test import RequestFactory, override_settings

from health_f0.core.security_headers import ContentSecurityPolicyMiddleware, build_policy, put_header

ROOT = Path(__file__).resolve().parents[2]

# Prints the CSP headers of a portal page with a nonce, one without, a desk page and a response with a csp
# decorator's update, the nonce written as NONCE.
_SCRIPT = """
import json
import django
django.setup()
from django.http import HttpResponse
from django.test import RequestFactory
from health_f0.core.security_headers import ContentSecurityPolicyMiddleware

middleware = ContentSecurityPolicyMiddleware(lambda request: HttpResponse())
headers = []
for path, nonce, update in (("/", True, None), ("/", False, None), ("/desk/", True, None), ("/", True, 1)):
    request = RequestFactory().get(path)
    middleware.process_request(request)
    if nonce:
        str(request.csp_nonce)
    response = HttpResponse()
    if update:
        response._csp_update = {"form-action": ["https://pay.example"], "frame-src": ["https://pay.example"]}
    middleware.process_response(request, response)
    header = response["Content-Security-Policy"]
    headers.append(header.replace(request._csp_nonce, "NONCE") if nonce else header)
print(json.dumps(headers))
"""


def _headers(seed: str) -> list[str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "DATABASE_URL", "REDIS_URL", "VAR_DIR")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update({"DJANGO_SETTINGS_MODULE": "health_f0.settings", "PYTHONHASHSEED": seed})
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    headers: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return headers


def test_the_header_is_the_same_bytes_in_every_worker() -> None:
    first = _headers("1")
    assert all("NONCE" in header for index, header in enumerate(first) if index != 1)
    for seed in ("2", "3", "4"):
        assert _headers(seed) == first


def _directives(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in header.split("; ")}


def test_the_header_says_what_django_csp_says() -> None:
    middleware = ContentSecurityPolicyMiddleware(lambda request: HttpResponse())
    cases: list[dict[str, Any]] = [
        {},
        {"update": {"form-action": ["https://pay.example"], "img-src": {"b:", "a:"}}},
        {"replace": {"script-src": ["'self'"], "worker-src": "'none'"}},
        {
            "config": {
                "default-src": ["'self'"],
                "upgrade-insecure-requests": True,
                "report-uri": ["/r", "/s"],
            }
        },
    ]
    for path in ("/", "/desk/"):
        for nonce in (None, "abc+/="):
            for case in cases:
                request = RequestFactory().get(path)
                response = HttpResponse()
                for name, value in case.items():
                    setattr(response, f"_csp_{name}", value)
                if nonce:
                    request._csp_nonce = nonce  # type: ignore[attr-defined]
                parts = asdict(middleware.get_policy_parts(request, response))
                ours, theirs = build_policy(**parts), csp_build_policy(**parts)
                assert _directives(ours) == _directives(theirs)
                assert len(ours) == len(theirs)
    with override_settings(CONTENT_SECURITY_POLICY_REPORT_ONLY=None):
        assert build_policy(report_only=True) == csp_build_policy(report_only=True) == ""


def test_a_nonce_page_gets_its_own_nonce_in_the_prebuilt_header() -> None:
    middleware = ContentSecurityPolicyMiddleware(lambda request: HttpResponse())
    for path in ("/", "/desk/", "/"):
        request = RequestFactory().get(path)
        middleware.process_request(request)
        nonce = str(request.csp_nonce)  # type: ignore[attr-defined]
        response = middleware.process_response(request, HttpResponse())
        parts = asdict(middleware.get_policy_parts(request, response))
        assert response["Content-Security-Policy"] == build_policy(**parts)
        assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]


def test_headers_put_directly_are_what_django_stores() -> None:
    ordinary, direct = HttpResponse(), HttpResponse()
    for name, value in (
        ("Cache-Control", "no-store, private"),
        ("Permissions-Policy", "camera=(), microphone=()"),
        ("Content-Security-Policy", "default-src 'self'; script-src 'self' 'nonce-ab+/='"),
        ("X-Latin", "é"),
        ("X-Other", "ư"),
    ):
        ordinary[name] = value
        put_header(direct, name, value)
    assert direct.headers._store == ordinary.headers._store  # type: ignore[attr-defined]
    assert list(direct.items()) == list(ordinary.items())
    with pytest.raises(BadHeaderError):
        put_header(HttpResponse(), "X-Broken", "a\nb")


def _through(path: str, **response_attrs: object) -> tuple[Any, HttpResponse]:
    """A request through the middleware's `__call__` (process_request, the view, process_response)."""
    request = RequestFactory().get(path)
    response = HttpResponse()
    for name, value in response_attrs.items():
        setattr(response, name, value)
    return request, ContentSecurityPolicyMiddleware(lambda r: response)(request)


def test_exemptions_exclusions_and_a_changed_policy_are_followed() -> None:
    from csp.exceptions import CSPNonceError

    assert _through("/")[1]["Content-Security-Policy"] == build_policy()
    assert "Content-Security-Policy" not in _through("/", _csp_exempt=True)[1]
    update = {"img-src": ["https://maps.example"]}
    assert _through("/", _csp_update=update)[1]["Content-Security-Policy"] == build_policy(update=update)
    for request, _ in (_through("/"), _through("/desk/")):
        # Once the header is written, asking for a nonce is an error (one shared lazy object answers it).
        assert not request.csp_nonce
        with pytest.raises(CSPNonceError):
            str(request.csp_nonce)
    policy = {"EXCLUDE_URL_PREFIXES": ["/khong-csp/"], "DIRECTIVES": {"default-src": ["'self'"]}}
    with override_settings(CONTENT_SECURITY_POLICY=policy):
        assert "Content-Security-Policy" not in _through("/khong-csp/")[1]
        assert _through("/")[1]["Content-Security-Policy"] == "default-src 'self'"
    assert _through("/")[1]["Content-Security-Policy"] == build_policy()  # the settings back, the header back
