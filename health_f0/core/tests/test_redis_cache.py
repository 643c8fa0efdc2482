"""core/redis_cache.py: Django's Redis backend, one client per process instead of one per operation."""

from __future__ import annotations

import os
import uuid

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
