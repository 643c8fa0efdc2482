"""Constant SQL on django_session and core_user: the first two reads of every signed-in browser request.

What: the session row (settings.SESSION_ENGINE = "health_f0.accounts.sql": Django's database store, its one
read written out), and the session's user with whether that user holds a staff role, in one SELECT (the
lean_stack's AuthenticationMiddleware: `get_user`, Django's own `auth.get_user` with this read in place of
ModelBackend.get_user's). The staff flag is the test of facilities.access.is_staff_member (access.NOT_STAFF_SQL,
negated): a patient account's request then asks nothing more about memberships. It is read on every request,
as the memberships were, so a role granted or revoked while a session is open counts from the next request.
tests/security/test_session_reads.py checks both reads answer what Django's answer, for every kind of session
(live, expired, another secret's hash, a changed password, an inactive account, a staff account).

Why not the ORM: the session's ORM read cost 0.31 ms of CPU, the user's with the memberships' own statement
0.43; these two statements cost 0.08 and 0.11 (each read alone, in process: bench/portal_floor_reads.py, 100k
data set; issue 11).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, get_user_model, load_backend
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends import db
from django.core.exceptions import SuspiciousOperation
from django.db import connections, router
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from health_f0.core.rawsql import fetch_rows
from health_f0.facilities import access

# --- The session row ------------------------------------------------------------------------------------------


class SessionStore(db.SessionStore):
    """Django's database session store; the row is read by one constant statement instead of
    `Session.objects.get(session_key=..., expire_date__gt=now)`. Writes are Django's."""

    def _get_session_from_db(self) -> Any:
        model = self.model
        connection = connections[router.db_for_read(model)]
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    _SESSION_ROW.format(table=model._meta.db_table),
                    [self.session_key, connection.ops.adapt_datetimefield_value(timezone.now())],
                )
                row = cursor.fetchone()
        except SuspiciousOperation as exc:  # as Django's store: logged, read as no session
            logging.getLogger(f"django.security.{exc.__class__.__name__}").warning(str(exc))
            row = None
        if row is None:
            self._session_key = None
            return None
        data, expires = row
        convert = getattr(connection.ops, "convert_datetimefield_value", None)
        if convert is not None:
            expires = convert(expires, None, connection)
        return model(session_key=self.session_key or "", session_data=data, expire_date=expires)


_SESSION_ROW = "SELECT session_data, expire_date FROM {table} WHERE session_key = %s AND expire_date > %s"


# --- The session's user -------------------------------------------------------------------------------------

MODEL_BACKEND = f"{ModelBackend.__module__}.{ModelBackend.__qualname__}"
_statements: dict[Any, tuple[str, tuple[str, ...]]] = {}


def _statement(user_model: Any) -> tuple[str, tuple[str, ...]]:
    statement = _statements.get(user_model)
    if statement is None:
        meta = user_model._meta
        columns = ", ".join(f"u.{field.column}" for field in meta.concrete_fields)
        # access.NOT_STAFF_SQL binds the user id once more: "holds a staff role" is its negation.
        sql = (
            f"SELECT {columns}, NOT ({access.NOT_STAFF_SQL}) AS holds_staff_role "  # noqa: S608 - names from _meta
            f"FROM {meta.db_table} u WHERE u.{meta.pk.column} = %s"
        )
        statement = _statements[user_model] = (sql, tuple(field.attname for field in meta.concrete_fields))
    return statement


def user_with_staff_flag(user_id: Any) -> Any:
    """ModelBackend.get_user(user_id) — the user, or None when there is none or it may not log in (inactive)
    — in one constant statement that also tells facilities.access whether the user holds a staff role."""
    user_model = get_user_model()
    sql, attnames = _statement(user_model)
    rows = fetch_rows(user_model, sql, [user_id, user_id])
    if not rows:
        return None
    row = rows[0]
    user = user_model.from_db(router.db_for_read(user_model), attnames, row[: len(attnames)])
    if not row[-1]:
        access.remember_no_memberships(user)
    return user if ModelBackend().user_can_authenticate(user) else None


def get_user(request: HttpRequest) -> Any:
    """django.contrib.auth.get_user(request), reading the user with `user_with_staff_flag` when the session was
    made by ModelBackend (every login of the product: LoginGuardBackend authenticates no one). The session
    checks that follow — the session hash, the fallback secrets, the flush — are Django's, line for line."""
    session = request.session
    backend_path = session.get(BACKEND_SESSION_KEY)
    if backend_path != MODEL_BACKEND or backend_path not in settings.AUTHENTICATION_BACKENDS:
        from django.contrib.auth import get_user as django_get_user

        return django_get_user(request)
    user_model = get_user_model()
    try:
        user_id = user_model._meta.pk.to_python(session["_auth_user_id"])
    except KeyError:
        return AnonymousUser()
    load_backend(backend_path)  # as Django: the path must still import
    user = user_with_staff_flag(user_id)
    if hasattr(user, "get_session_auth_hash"):
        session_hash = session.get(HASH_SESSION_KEY)
        if not session_hash:
            session_hash_verified = False
        else:
            session_auth_hash = user.get_session_auth_hash()
            session_hash_verified = constant_time_compare(session_hash, session_auth_hash)
        if not session_hash_verified:
            if session_hash and any(
                constant_time_compare(session_hash, fallback_auth_hash)
                for fallback_auth_hash in user.get_session_auth_fallback_hash()
            ):
                session.cycle_key()
                session[HASH_SESSION_KEY] = session_auth_hash
            else:
                session.flush()
                user = None
    return user or AnonymousUser()


def _cached_user(request: HttpRequest) -> Any:
    # The attribute django.contrib.auth.middleware.get_user caches the user in.
    if not hasattr(request, "_cached_user"):
        request._cached_user = get_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """django.contrib.auth's middleware whose lazy `request.user` is `get_user` above (settings.MIDDLEWARE
    takes its web-only variant, health_f0.core.lean_stack.AuthenticationMiddleware)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        loader: Callable[[], Any] = lambda: _cached_user(request)  # noqa: E731
        request.user = SimpleLazyObject(loader)  # type: ignore[assignment]
