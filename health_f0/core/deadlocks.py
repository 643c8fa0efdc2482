"""Run a database step again when MariaDB chose it as a deadlock victim (or its lock wait timed out)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection

P = ParamSpec("P")
T = TypeVar("T")

DEADLOCK_CODES = frozenset({1213, 1205})  # MariaDB: deadlock found, lock wait timeout


def retry_on_deadlock(fn: Callable[P, T]) -> Callable[P, T]:
    """Run again (up to 3 times) when the database chose this transaction as a deadlock victim. Inside
    an outer transaction there is nothing to retry: the error goes up to whoever owns it."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        attempts = 1 if connection.in_atomic_block else 3
        for attempt in range(attempts):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                if attempt == attempts - 1 or not exc.args or exc.args[0] not in DEADLOCK_CODES:
                    raise
        raise AssertionError("unreachable")

    return wrapper
