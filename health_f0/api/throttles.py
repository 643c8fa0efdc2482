from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from health_f0.core.request_context import client_ip


class ClientIpScopedRateThrottle(ScopedRateThrottle):
    """Scoped per-IP throttle (cache-backed: Redis in production and tests) with defaults kept here, so the
    rates work without settings and REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] can still override them."""

    THROTTLE_RATES: dict[str, Any] = {"auth_token": "20/min", **api_settings.DEFAULT_THROTTLE_RATES}

    def get_ident(self, request: Any) -> str:
        return client_ip(request._request if hasattr(request, "_request") else request)
