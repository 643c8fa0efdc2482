"""Small pieces of the request floor (issue 11) that must keep Django's behaviour."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import auser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string

from health_f0.accounts import sql


def test_the_model_backend_path_is_model_backend() -> None:
    """get_user does not load the session's backend when it is MODEL_BACKEND: that path is ModelBackend's own."""
    assert import_string(sql.MODEL_BACKEND) is ModelBackend


@pytest.mark.django_db
def test_the_authentication_middleware_sets_what_djangos_sets(rf: RequestFactory) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    middleware = sql.AuthenticationMiddleware(lambda request: HttpResponse())
    request: Any = rf.get("/")
    request.session = SessionStore()
    middleware.process_request(request)
    assert isinstance(request.user, SimpleLazyObject)
    assert isinstance(request.auser, partial) and request.auser.func is auser
    assert request.auser.args == (request,)
    assert request.user.is_authenticated is False
    assert isinstance(request._cached_user, AnonymousUser)
    # In a thread of its own: a browser test may leave an event loop running in this one (asyncio.run and
    # async_to_sync both refuse to run there).
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, request.auser()).result().is_authenticated is False

    without: Any = rf.get("/")
    with pytest.raises(ImproperlyConfigured):
        middleware.process_request(without)


@pytest.mark.django_db
def test_rawsqls_lean_converters_give_djangos_values() -> None:
    """core.rawsql's DATETIME and UUID converters give what Django's MariaDB converters give, with the same
    type and time zone; a value the driver does not give (aware, not 32 hex digits) goes to Django's own."""
    import uuid
    from datetime import datetime, timedelta, timezone

    from django.db import connection

    from health_f0.core import rawsql

    if connection.vendor != "mysql":
        pytest.skip("MariaDB's converters")
    ops = connection.ops
    aware = rawsql._lean(ops.convert_datetimefield_value)
    assert aware is not ops.convert_datetimefield_value
    for value in (
        None,
        datetime(2026, 12, 7, 19, 0, 1, 5),
        datetime(1, 1, 1),
        datetime(9999, 12, 31, 23, 59),
    ):
        ours, djangos = (
            aware(value, None, connection),
            ops.convert_datetimefield_value(value, None, connection),
        )
        assert ours == djangos and type(ours) is type(djangos)
        assert getattr(ours, "tzinfo", None) is getattr(djangos, "tzinfo", None)
    with pytest.raises(ValueError, match="naive"):
        aware(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=7))), None, connection)
    made = rawsql._lean(ops.convert_uuidfield_value)
    assert made is not ops.convert_uuidfield_value
    sample = uuid.uuid4()
    for value in (
        None,
        sample.hex,
        sample.hex.upper(),
        str(sample),
        str(sample).upper(),
        "-" + sample.hex + "--",
        "{" + sample.hex + "}",
        "urn:uuid:" + str(sample),
        "0x" + sample.hex[2:],
    ):
        ours, djangos = made(value, None, connection), ops.convert_uuidfield_value(value, None, connection)
        assert ours == djangos and type(ours) is type(djangos)
        if ours is not None:
            assert (ours.int, ours.is_safe, str(ours), hash(ours)) == (
                djangos.int,
                djangos.is_safe,
                str(djangos),
                hash(djangos),
            )
    for bad in ("z" * 32, sample.hex[:31] + "-", "é" * 32, str(sample)[:-1], sample.hex + "0", "_" * 32):
        with pytest.raises(ValueError):
            made(bad, None, connection)
        with pytest.raises(ValueError):
            ops.convert_uuidfield_value(bad, None, connection)
    assert rawsql._lean(ops.convert_booleanfield_value) == ops.convert_booleanfield_value
