"""The client IP of the request being served, for audit rows and rate limits."""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar

from django.http import HttpRequest

_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)


def client_ip(request: HttpRequest) -> str:
    """The client address. Behind a proxy, set the proxy to overwrite X-Real-IP."""
    for candidate in (request.META.get("HTTP_X_REAL_IP"), request.META.get("REMOTE_ADDR")):
        try:
            # A forged or garbled header must not reach the GenericIPAddressField columns (a 500 on MariaDB).
            return str(ipaddress.ip_address((candidate or "").strip()))
        except ValueError:
            continue
    return "0.0.0.0"  # noqa: S104


def set_current_ip(ip: str | None) -> None:
    _ip.set(ip)


def current_ip() -> str | None:
    return _ip.get()
