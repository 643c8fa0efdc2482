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
