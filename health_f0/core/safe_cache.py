"""Cache access that never fails a request: with Redis down or hung, values come from the database instead.

The cache only ever holds copies (who runs the portal, the policy in force, a consent already checked), so a
cache that cannot be reached is an outage of a speed-up, not of the product. Every read of the cache goes
through here:

- `cached(key, compute, timeout=...)`: the cached value, or `compute()` stored for next time;
- `cache_get(key)`: the cached value or None; `cache_set(...)`, `cache_delete(...)`: best effort.

On a cache error the call logs (at most once a minute per process), answers as if the key were missing, and
skips the cache for the next `settings.CACHE_OUTAGE_SKIP_SECONDS`, so a hung Redis costs one socket timeout
per process every few seconds instead of one per request. Rate-limit counters are not copies and
are not handled here: `core.counters` has its own fallback (and OTP sending refuses rather than guess).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import caches

logger = logging.getLogger(__name__)

T = TypeVar("T")

LOG_EVERY_SECONDS = 60.0
_MISSING = object()
_skip_until: dict[str, float] = {}  # cache location -> time.monotonic() until which the cache is skipped
_logged_at: dict[str, float] = {}


def _errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - redis is a dependency
        return (OSError,)
    return (RedisError, OSError)


CACHE_ERRORS = _errors()


def _location(alias: str) -> str:
    config = settings.CACHES.get(alias, {})
    return f"{alias}:{config.get('BACKEND', '')}:{config.get('LOCATION', '')}"


def _usable(alias: str) -> bool:
    return _skip_until.get(_location(alias), 0.0) <= time.monotonic()


def _failed(alias: str, operation: str, exc: BaseException) -> None:
    location = _location(alias)
    now = time.monotonic()
    _skip_until[location] = now + float(settings.CACHE_OUTAGE_SKIP_SECONDS)
    if now - _logged_at.get(location, -LOG_EVERY_SECONDS) >= LOG_EVERY_SECONDS:
        _logged_at[location] = now
        logger.warning("cache unavailable (%s): reading from the database instead: %s", operation, exc)


def cache_get(key: str, *, alias: str = "default") -> Any:
    """The cached value, or None when absent or when the cache cannot be reached."""
    if not _usable(alias):
        return None
    try:
        return caches[alias].get(key)
    except CACHE_ERRORS as exc:
        _failed(alias, "get", exc)
        return None


def cache_set(key: str, value: Any, timeout: float | None, *, alias: str = "default") -> None:
    """Store a copy; nothing happens (but a log line) when the cache cannot be reached."""
    if not _usable(alias):
        return
    try:
        caches[alias].set(key, value, timeout)
    except CACHE_ERRORS as exc:
        _failed(alias, "set", exc)


def cache_delete(keys: str | Iterable[str], *, alias: str = "default") -> None:
    """Drop copies that just went stale. Tried even while reads skip the cache: a copy that outlives a short
    outage must not be served once the cache is back."""
    names = [keys] if isinstance(keys, str) else list(keys)
    if not names:
        return
    try:
        caches[alias].delete_many(names)
    except CACHE_ERRORS as exc:
        _failed(alias, "delete", exc)


def cached(key: str, compute: Callable[[], T], *, timeout: float | None, alias: str = "default") -> T:
    """`compute()`'s value through the cache: the stored copy when there is one, else computed and stored.
    With the cache away, computed every time (from the database) and the request goes on."""
    if _usable(alias):
        try:
            hit = caches[alias].get(key, _MISSING)
        except CACHE_ERRORS as exc:
            _failed(alias, "get", exc)
        else:
            if hit is not _MISSING:
                return hit  # type: ignore[no-any-return]
    value = compute()
    cache_set(key, value, timeout, alias=alias)
    return value


def reset() -> None:
    """Forget earlier failures (tests; after fixing the cache by hand)."""
    _skip_until.clear()
    _logged_at.clear()
