"""core.redis_cache.RedisCache.make_and_validate_key: the keys and the warnings of Django's BaseCache (issue 11)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from django.core.cache.backends.base import BaseCache, CacheKeyWarning

from health_f0.core.redis_cache import RedisCache

KEYS: list[Any] = [
    "consent:1:2",
    "",
    "é-ünïcode",
    "a" * 230,  # under 250 with the prefix
    "a" * 250,  # over
    "with space",
    "tab\there",
    "del\x7f",
    "nul\x00",
    "~!@#$%^&*()",
    42,
    ("a", 1),
]


def cache(**params: Any) -> RedisCache:
    return RedisCache("redis://127.0.0.1:1/0", params)


def both(
    backend: RedisCache, key: Any, version: int | None
) -> tuple[tuple[str, list[str]], tuple[str, list[str]]]:
    answers = []
    for method in (
        backend.make_and_validate_key,
        lambda k, version: BaseCache.make_and_validate_key(backend, k, version),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            made = method(key, version=version)
        answers.append((made, [f"{w.category.__name__}: {w.message}" for w in caught]))
    return answers[0], answers[1]


@pytest.mark.parametrize("params", [{}, {"KEY_PREFIX": "hf0bench"}, {"KEY_PREFIX": "p x", "VERSION": 3}])
@pytest.mark.parametrize("version", [None, 2])
def test_the_same_keys_and_warnings_as_djangos(params: dict[str, Any], version: int | None) -> None:
    backend = cache(**params)
    for key in KEYS:
        ours, django = both(backend, key, version)
        assert ours == django, key


def test_a_key_function_of_its_own() -> None:
    backend = cache(KEY_FUNCTION=lambda key, prefix, version: f"{prefix}|{version}|{key} ")
    for key in KEYS:
        ours, django = both(backend, key, None)
        assert ours == django
        assert any(CacheKeyWarning.__name__ in w for w in ours[1])
