"""Django's Redis cache backend, with its `redis.Redis` client kept for the life of the process.

`django.core.cache.backends.redis.RedisCacheClient.get_client` builds a new `redis.Redis(connection_pool=...)`
on every cache operation, and redis-py's constructor fills its table of about 170 response callbacks each
time: 0.17 ms of CPU per `cache.get` here against 0.07 ms with the client kept (redis-py 8, a busy machine).
Every API request reads the cache (the consent check; sessions, rate limits and axes elsewhere): with the
client kept a declaration makes about 540 Python calls fewer, 12 % of its total (docs/benchmarks.md,
"Issue 11: the declaration path").

`get_many` (the consent check's MGET on every patient API call) goes further: a connection per thread, without
redis-py's pool round (RedisCacheClient.get_many).

The client is safe to share between threads: redis-py takes a connection from the pool for each command and
gives it back (and the pool notices a fork and starts afresh in the child). Same pool, serializer, options and
errors as Django's; with several servers (a primary and replicas) Django's per-call choice is left as it is.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from django.core.cache.backends import redis as django_redis
from django.core.cache.backends.base import MEMCACHE_MAX_KEY_LENGTH, default_key_func
from django.utils.functional import cached_property


class RedisCacheClient(django_redis.RedisCacheClient):
    _shared: Any = None
    _own: threading.local | None = None

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        if len(self._servers) != 1:  # type: ignore[attr-defined]
            return super().get_client(key, write=write)
        client = self._shared
        if client is None:  # one server: reads and writes go to the same pool
            client = self._shared = super().get_client(key, write=True)
        return client

    def get_many(self, keys: Any) -> dict[Any, Any]:
        """Django's get_many (MGET, the same keys and values), sent on a connection of this thread's own instead
        of one taken from the pool and given back: redis-py 8's pool check-out, retry wrapper and
        observability hooks cost about 200 Python calls per command, and the consent check of every patient
        API call is one MGET (issue 11). The connection is made like the pool's (its class and options: the
        same server, database, protocol, timeouts); on a connection error it is dropped and the command
        sent once more on a new one, then the error is raised (health_f0.core.safe_cache catches it)."""
        keys = list(keys)
        if len(self._servers) != 1 or not keys:  # type: ignore[attr-defined]
            return super().get_many(keys)  # type: ignore[no-any-return]
        errors = (self._lib.ConnectionError, self._lib.TimeoutError, OSError)  # type: ignore[attr-defined]
        try:
            values = self._mget(self._own_connection(), keys)
        except errors:
            self._drop_own_connection()
            values = self._mget(self._own_connection(), keys)
        loads = self._serializer.loads  # type: ignore[attr-defined]
        return {key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None}

    def _mget(self, connection: Any, keys: list[Any]) -> list[Any]:
        try:
            connection.send_command("MGET", *keys)
            return connection.read_response()  # type: ignore[no-any-return]
        except BaseException:
            # Half a command sent or an answer half read: never reuse the connection.
            connection.disconnect()
            raise

    def _own_connection(self) -> Any:
        own = self._own
        if own is None:
            own = self._own = threading.local()
        connection = getattr(own, "connection", None)
        if connection is None or own.pid != os.getpid():  # a forked worker makes its own
            pool = self.get_client().connection_pool
            connection = own.connection = pool.connection_class(**pool.connection_kwargs)
            own.pid = os.getpid()
        return connection

    def _drop_own_connection(self) -> None:
        own = self._own
        connection = getattr(own, "connection", None) if own is not None else None
        if connection is not None:
            connection.disconnect()
            own.connection = None  # type: ignore[union-attr]


# django.core.cache.backends.base.memcached_error_chars_re (a lazy object there: three Python calls a search).
_MEMCACHED_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


class RedisCache(django_redis.RedisCache):
    """settings.CACHES BACKEND "health_f0.core.redis_cache.RedisCache" (same LOCATION and OPTIONS)."""

    def make_and_validate_key(self, key: Any, version: int | None = None) -> str:
        """BaseCache's: the key made by the key function (default_key_func written out when it is that) and
        validate_key called when it has something to say (it warns about keys memcached could not take: longer
        than 250 characters or with a space or control character). About 8 Python calls a key, 3 here; a portal
        page reads 3-4 keys (issue 11)."""
        if version is None:
            version = self.version
        if self.key_func is default_key_func:
            key = "%s:%s:%s" % (self.key_prefix, version, key)  # noqa: UP031 - default_key_func's own format
        else:
            key = self.key_func(key, self.key_prefix, version)
        if len(key) > MEMCACHE_MAX_KEY_LENGTH or _MEMCACHED_UNSAFE.search(key):
            self.validate_key(key)
        return key  # type: ignore[no-any-return]

    @cached_property
    def _cache(self) -> RedisCacheClient:
        return RedisCacheClient(self._servers, **self._options)  # type: ignore[attr-defined]
