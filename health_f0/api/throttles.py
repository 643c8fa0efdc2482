from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from health_f0.core.counters import sliding_count, window_remaining
from health_f0.core.request_context import client_ip, limit_key


class ClientIpScopedRateThrottle(ScopedRateThrottle):
    """Scoped per-address throttle with defaults kept here, so the rates work without settings and
    REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] can still override them.

    Counted with core.counters over a sliding window (an atomic increment and a read a request, shared by
    every worker process: Redis, or the database without it). When Redis is down the count moves to the database: the
    limit keeps holding and the request never fails because of the throttle."""

    THROTTLE_RATES: dict[str, Any] = {"auth_token": "20/min", **api_settings.DEFAULT_THROTTLE_RATES}
    _wait = 0

    def get_ident(self, request: Any) -> str:
        return limit_key(client_ip(request._request if hasattr(request, "_request") else request))

    def allow_request(self, request: Any, view: Any) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if key is None or self.num_requests is None or self.duration is None:
            return True
        self._wait = 0
        if sliding_count(key, window_seconds=self.duration) > self.num_requests:
            self._wait = window_remaining(self.duration)
            return False
        return True

    def wait(self) -> float | None:
        return float(self._wait) if self._wait else None
