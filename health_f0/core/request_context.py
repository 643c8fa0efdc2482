"""The client address of the request being served: one answer for audit rows, rate limits and lockouts.

`client_ip(request)` is the only place that reads an address from a request. It believes the
`X-Forwarded-For` / `X-Real-IP` headers only when the connection comes from an address listed in the
`TRUSTED_PROXIES` setting (a reverse proxy the province runs); from anyone else those headers are the
client's own words and are ignored. Everything else calls it: the audit trail (through the middleware's
`current_ip`), OTP caps, the API throttles, the certificate-lookup limit and django-axes
(`AXES_CLIENT_IP_CALLABLE = "health_f0.core.request_context.axes_client_ip"`).
"""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)

UNKNOWN = "0.0.0.0"  # noqa: S104 - a placeholder address, never bound
# An IPv6 subscriber gets a whole /64 and can rotate through it at will: per-address limits count the /64.
IPV6_LIMIT_PREFIX = 64


def parse_ip(raw: str | None) -> IPAddress | None:
    """An address from a header or REMOTE_ADDR, or None. Accepts `1.2.3.4:5678` and `[2001:db8::1]:443`
    (some proxies append the port); an IPv4-mapped IPv6 address is read as the IPv4 address it carries."""
    text = (raw or "").strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def trusted_proxies() -> tuple[IPNetwork, ...]:
    """The TRUSTED_PROXIES setting (addresses or CIDR ranges) as networks."""
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))


def is_trusted_proxy(address: IPAddress) -> bool:
    return any(address in network for network in trusted_proxies())


def client_ip(request: HttpRequest) -> str:
    """The address of the client.

    The socket's peer (REMOTE_ADDR) unless that peer is a trusted proxy. Behind trusted proxies,
    X-Forwarded-For is read from the right: each trusted proxy appended the address it saw, so the
    right-most address that is not a trusted proxy is the client (anything further left was written by
    the client and proves nothing). Without X-Forwarded-For, a trusted proxy's X-Real-IP is used.
    """
    peer = parse_ip(request.META.get("REMOTE_ADDR"))
    if peer is None:
        return UNKNOWN
    if not is_trusted_proxy(peer):
        return str(peer)
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    nearest = peer
    for raw in reversed(hops):
        hop = parse_ip(raw)
        if hop is None:
            # A garbled entry where the client's address should be: the proxy that handed it on is the
            # last address we can vouch for.
            return str(nearest)
        if not is_trusted_proxy(hop):
            return str(hop)
        nearest = hop
    if hops:
        return str(nearest)  # every hop is one of ours: the request started inside the proxy tier
    real = parse_ip(request.META.get("HTTP_X_REAL_IP"))
    return str(real) if real is not None else str(peer)


def limit_key(ip: str | None) -> str:
    """The address as rate limits and lockouts count it: an IPv4 address as is, an IPv6 address as its
    /64 network address (one subscriber's whole prefix)."""
    address = parse_ip(ip)
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{IPV6_LIMIT_PREFIX}", strict=False).network_address)
    return str(address)


def axes_client_ip(request: HttpRequest) -> str:
    """AXES_CLIENT_IP_CALLABLE: django-axes locks out per username and `limit_key(client_ip(request))`."""
    return limit_key(client_ip(request))


def set_current_ip(ip: str | None) -> None:
    _ip.set(ip)


def current_ip() -> str | None:
    return _ip.get()
