"""Django's Redis cache backend, with its `redis.Redis` client kept for the life of the process.

`django.core.cache.backends.redis.RedisCacheClient.get_client` builds a new `redis.Redis(connection_pool=...)`
on every cache operation, and redis-py's constructor fills its table of about 170 response callbacks each
time: 0.17 ms of CPU per `cache.get` here against 0.07 ms with the client kept (redis-py 8, a busy machine).
Every API request reads the cache (the consent check; sessions, rate limits and axes elsewhere): with the
client kept a declaration makes about 540 Python calls fewer, 12 % of its total (docs/benchmarks.md,
"Issue 11: the declaration path").

The client is safe to share between threads: redis-py takes a connection from the pool for each command and
gives it back (and the pool notices a fork and starts afresh in the child). Same pool, serializer, options and
errors as Django's; with several servers (a primary and replicas) Django's per-call choice is left as it is.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis as django_redis
from django.utils.functional import cached_property


class RedisCacheClient(django_redis.RedisCacheClient):
    _shared: Any = None

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        if len(self._servers) != 1:  # type: ignore[attr-defined]
            return super().get_client(key, write=write)
        client = self._shared
        if client is None:  # one server: reads and writes go to the same pool
            client = self._shared = super().get_client(key, write=True)
        return client


class RedisCache(django_redis.RedisCache):
    """settings.CACHES BACKEND "health_f0.core.redis_cache.RedisCache" (same LOCATION and OPTIONS)."""

    @cached_property
    def _cache(self) -> RedisCacheClient:
        return RedisCacheClient(self._servers, **self._options)  # type: ignore[attr-defined]
