"""core/redis_cache.py: Django's Redis backend, one client per process instead of one per operation."""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import pytest

from health_f0.core.redis_cache import RedisCache

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
def test_one_client_for_every_operation_and_the_same_answers() -> None:
    cache = RedisCache(REDIS_URL, {"KEY_PREFIX": f"test-redis-cache-{uuid.uuid4().hex}"})
    client = cache._cache.get_client()
    assert cache._cache.get_client("k", write=True) is client
    cache.set("a", {"x": 1}, 30)
    cache.set_many({"b": 2, "c": [3]}, 30)
    assert cache.get("a") == {"x": 1}
    assert cache.get_many(["a", "b", "c", "missing"]) == {"a": {"x": 1}, "b": 2, "c": [3]}
    assert cache.incr("b") == 3
    cache.delete_many(["a", "b", "c"])
    assert cache.get_many(["a", "b", "c"]) == {}
    assert cache._cache.get_client() is client


def test_several_servers_keep_djangos_choice_per_call() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0,redis://127.0.0.1:2/0", {})
    assert cache._cache.get_client() is not cache._cache.get_client()  # built per call, as Django does


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
def test_get_many_on_the_threads_own_connection_answers_as_django() -> None:
    from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

    prefix = f"test-redis-cache-{uuid.uuid4().hex}"
    cache = RedisCache(REDIS_URL, {"KEY_PREFIX": prefix})
    django_cache = DjangoRedisCache(REDIS_URL, {"KEY_PREFIX": prefix})
    cache.set_many({"a": {"x": 1}, "b": 2, "c": "ba", "d": 2**70}, 30)
    keys = ["a", "b", "missing", "c", "d"]
    assert (
        cache.get_many(keys) == django_cache.get_many(keys) == {"a": {"x": 1}, "b": 2, "c": "ba", "d": 2**70}
    )
    assert cache.get_many([]) == {}
    # Each thread its own connection, the same answers.
    own = cache._cache._own
    assert own is not None
    mine = own.connection
    seen: list[Any] = []

    def other_thread() -> None:
        seen.append((cache.get_many(keys), cache._cache._own.connection))  # type: ignore[union-attr]

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen[0][0] == cache.get_many(keys)
    assert seen[0][1] is not mine
    assert own.connection is mine
    cache.delete_many(["a", "b", "c", "d"])


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
def test_get_many_survives_a_dropped_connection() -> None:
    """A Redis restart (or a timeout) under the thread's connection: the MGET is sent again on a new one."""
    cache = RedisCache(REDIS_URL, {"KEY_PREFIX": f"test-redis-cache-{uuid.uuid4().hex}"})
    cache.set("a", 1, 30)
    assert cache.get_many(["a"]) == {"a": 1}
    connection = cache._cache._own.connection  # type: ignore[union-attr]
    connection.send_command("CLIENT", "ID")
    client_id = connection.read_response()
    assert cache._cache.get_client().client_kill_filter(_id=client_id) == 1  # the server drops it
    assert cache.get_many(["a"]) == {"a": 1}
    # A socket closed on this side too.
    cache._cache._own.connection._sock.close()  # type: ignore[union-attr]
    assert cache.get_many(["a"]) == {"a": 1}
    cache.delete("a")


def test_get_many_raises_when_redis_is_away() -> None:
    """What health_f0.core.safe_cache catches (it then reads from the database)."""
    import redis

    cache = RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})
    with pytest.raises(redis.ConnectionError):
        cache.get_many(["a"])
