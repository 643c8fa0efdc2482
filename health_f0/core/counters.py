"""Atomic counters in the cache (Redis in production; per process with the local-memory cache)."""

from __future__ import annotations

from django.core.cache import cache
from django.utils import timezone


def cache_incr(key: str, *, timeout: int) -> int:
    """Add one to `key` (created at 0 with `timeout` seconds to live) and return the new count. Atomic in
    Redis: a burst of simultaneous callers each get a distinct count."""
    cache.add(key, 0, timeout=timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def window_count(name: str, *, window_seconds: int) -> int:
    """Count one more event under `name` in the current fixed clock window (e.g. this minute or hour) and
    return how many there have been in it, this one included."""
    window = int(timezone.now().timestamp()) // window_seconds
    return cache_incr(f"{name}:{window}", timeout=window_seconds + 60)
