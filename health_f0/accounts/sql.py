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
from functools import partial
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.auth.middleware import auser
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends import db
from django.core import signing
from django.core.exceptions import SuspiciousOperation
from django.db import connections, router
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from health_f0.core.db_health import checked_by_use
from health_f0.core.memo import Memo
from health_f0.core.rawsql import fetch_rows
from health_f0.core.rawsql import user_model as rawsql_user_model
from health_f0.facilities import access

# --- The session row ------------------------------------------------------------------------------------------


class SessionStore(db.SessionStore):
    """Django's database session store; the row is read by one constant statement instead of
    `Session.objects.get(session_key=..., expire_date__gt=now)`. Writes are Django's.

    Three more things the floor of a signed-in request no longer pays (issue 11):
    - no ping: the session read is the request's first query, so it is the connection's health check
      (core.db_health.checked_by_use: a dead connection is replaced and the read sent again);
    - no user statement of its own: when this process has seen the session before, the read also brings the
      row of the user it belonged to then (and the staff flag), in the same statement (`_USER_GUESS`);
      `get_user` takes it only for that very user, read in the same statement as the session itself;
    - the signature of a session's data is checked once per process and data (`decode`)."""

    _hf0_user_row: tuple[str | None, Any, tuple[Any, ...]] | None = None

    def _get_session_from_db(self) -> Any:
        row = self._read_row()
        if row is None:
            return None
        return self.model(session_key=self.session_key or "", session_data=row[0], expire_date=row[1])

    def load(self) -> dict[str, Any]:
        # Django's load() without building the Session instance only to read its data.
        row = self._read_row() if self.session_key else None
        return self.decode(row[0]) if row else {}

    def _read_row(self) -> tuple[str, Any] | None:
        """(session_data, expire_date) of the live row, or None (the key then set to None, as Django does);
        with the guessed user's row kept in `_hf0_user_row` when one was asked for."""
        model = self.model
        user_model = rawsql_user_model()
        alias = router.db_for_read(model)
        connection = connections[alias]
        key = self.session_key
        guess = _session_users.get(key) if key else None
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        table = model._meta.db_table
        self._hf0_user_row = None
        try:
            if guess is None:

                def read() -> Any:
                    with connection.cursor() as cursor:
                        cursor.execute(_SESSION_ROW.format(table=table), [key, now])
                        return cursor.fetchone()

                row = checked_by_use(connection, read)
            else:
                sql = _session_and_user_statement(user_model, table)
                rows = checked_by_use(
                    connection, lambda: fetch_rows(user_model, sql, [guess, guess, key, now], using=alias)
                )
                row = rows[0] if rows else None
                if row is not None:
                    user_values = row[2:]
                    if user_values[_user_columns(user_model).pk_index] is not None:  # NULL: no such user
                        self._hf0_user_row = (key, guess, user_values)
                    row = row[:2]
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
        return data, expires

    def decode(self, session_data: bytes | str) -> dict[str, Any]:
        """SessionBase.decode: the data, or {} (logged when the signature is wrong). A signature checked
        once (the same data, salt and secrets) is not checked again in this process: the verified payload is
        kept (`_verified`, bounded) and deserialized afresh on each call, so no two requests share a dict."""
        secrets = (settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS)
        if _verified_for[0] != secrets:
            _verified.clear()
            _verified_for[0] = secrets
        memo_key = (session_data, self.key_salt)
        payload = _verified.get(memo_key)
        if payload is None:
            try:
                # signing.loads as SessionBase.decode calls it, stopped before the serializer.
                payload = signing.loads(session_data, salt=self.key_salt, serializer=_Payload)  # type: ignore[arg-type]
            except signing.BadSignature:
                logging.getLogger("django.security.SuspiciousSession").warning("Session data corrupted")
                return {}
            except Exception:  # as Django: anything else wrong with the data reads as an empty session
                return {}
            if len(session_data) <= _VERIFIED_DATA_LIMIT:
                _verified.keep(memo_key, payload)
        try:
            return self.serializer().loads(payload)  # type: ignore[no-any-return]
        except Exception:
            return {}


class _Payload:
    """A signing serializer that hands back the verified, decompressed payload as it is."""

    def loads(self, data: bytes) -> bytes:
        return data


# Verified session payloads by (session_data, salt), for the secrets in _verified_for; cleared when full.
_VERIFIED_SIZE = 8192
_VERIFIED_DATA_LIMIT = 4096  # characters of session data: larger sessions are checked every time
_verified: Memo[tuple[bytes | str, str], bytes] = Memo(_VERIFIED_SIZE)
_verified_for: list[Any] = [None]

_SESSION_ROW = "SELECT session_data, expire_date FROM {table} WHERE session_key = %s AND expire_date > %s"

# Session key -> the id of the user `get_user` found for it last (this process). A guess, never trusted: the
# session's own data says whose it is, and the user's row read with the session is used only when it is that
# user's. Written only after a live session row was read, so unknown keys cannot fill it; cleared when full.
_SESSION_USERS_SIZE = 20000
_session_users: Memo[str, Any] = Memo(_SESSION_USERS_SIZE)


def _session_and_user_statement(user_model: Any, table: str) -> str:
    """The session row and, in the same statement, the guessed user's row and staff flag (`_statement`'s
    columns; NULLs when there is no such user)."""
    statement = _joined_statements.get((user_model, table))
    if statement is None:
        meta = user_model._meta
        statement = _joined_statements[(user_model, table)] = (
            f"SELECT s.session_data AS hf0_session_data, s.expire_date AS hf0_session_expires, "  # noqa: S608 - names from _meta
            f"{_user_columns(user_model).select} "
            f"FROM {table} s LEFT JOIN {meta.db_table} u ON u.{meta.pk.column} = %s "
            "WHERE s.session_key = %s AND s.expire_date > %s"
        )
    return statement


_joined_statements: dict[tuple[Any, str], str] = {}


class _UserColumns(NamedTuple):
    """The user model's columns as both statements read them: the SELECT list (every concrete field as
    `u.<column>`, then the staff flag), the fields' attnames in that order, and the primary key's place."""

    select: str
    attnames: tuple[str, ...]
    pk_index: int


def _user_columns(user_model: Any) -> _UserColumns:
    found = _columns_of.get(user_model)
    if found is None:
        meta = user_model._meta
        fields = meta.concrete_fields
        # access.NOT_STAFF_SQL binds the user id once more: "holds a staff role" is its negation.
        select = ", ".join(f"u.{field.column}" for field in fields) + (
            f", NOT ({access.NOT_STAFF_SQL}) AS holds_staff_role"
        )
        attnames = tuple(field.attname for field in fields)
        found = _columns_of[user_model] = _UserColumns(select, attnames, attnames.index(meta.pk.attname))
    return found


_columns_of: dict[Any, _UserColumns] = {}


# --- The session's user -------------------------------------------------------------------------------------

MODEL_BACKEND = f"{ModelBackend.__module__}.{ModelBackend.__qualname__}"
_statements: dict[Any, str] = {}


def _statement(user_model: Any) -> str:
    statement = _statements.get(user_model)
    if statement is None:
        meta = user_model._meta
        statement = _statements[user_model] = (
            f"SELECT {_user_columns(user_model).select} "  # noqa: S608 - names from _meta
            f"FROM {meta.db_table} u WHERE u.{meta.pk.column} = %s"
        )
    return statement


def user_with_staff_flag(user_id: Any) -> Any:
    """ModelBackend.get_user(user_id) — the user, or None when there is none or it may not log in (inactive)
    — in one constant statement that also tells facilities.access whether the user holds a staff role."""
    user_model = rawsql_user_model()
    rows = fetch_rows(user_model, _statement(user_model), [user_id, user_id])
    if not rows:
        return None
    return _user_from_row(user_model, rows[0])


def _user_from_row(user_model: Any, row: tuple[Any, ...]) -> Any:
    """The user of a row of `_statement`'s columns (every concrete field, then the staff flag), as
    `user_with_staff_flag` answers it."""
    attnames = _user_columns(user_model).attnames
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
    user_model = rawsql_user_model()
    try:
        user_id = user_model._meta.pk.to_python(session["_auth_user_id"])
    except KeyError:
        return AnonymousUser()
    # Django's get_user loads the session's backend here (load_backend: import it, make one); this path is
    # MODEL_BACKEND, ModelBackend's own dotted path, imported by this module: nothing to check (12 Python calls).
    key = session.session_key
    prefetched = getattr(session, "_hf0_user_row", None)
    if prefetched is not None and prefetched[0] == key and prefetched[1] == user_id:
        # This user's row, read in the same statement as the session row (SessionStore._read_row).
        user = _user_from_row(user_model, prefetched[2])
    else:
        user = user_with_staff_flag(user_id)
    if user is not None and key:
        _session_users.keep(key, user_id)
    if hasattr(user, "get_session_auth_hash"):
        session_hash = session.get(HASH_SESSION_KEY)
        if not session_hash:
            session_hash_verified = False
        else:
            session_auth_hash = _session_auth_hash(user)
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


_AUTH_HASH_SIZE = 8192
_auth_hashes: Memo[tuple[str, str], str] = Memo(_AUTH_HASH_SIZE)


def _session_auth_hash(user: Any) -> str:
    """user.get_session_auth_hash(): an HMAC of the password hash under SECRET_KEY, kept per (password hash,
    secret) in this process (bounded) when it is Django's own method."""
    if type(user).get_session_auth_hash is not AbstractBaseUser.get_session_auth_hash:
        return str(user.get_session_auth_hash())
    memo_key = (user.password, settings.SECRET_KEY)
    found = _auth_hashes.get(memo_key)
    if found is None:
        found = user.get_session_auth_hash()
        _auth_hashes.keep(memo_key, found)
    return found


def _cached_user(request: HttpRequest) -> Any:
    # The attribute django.contrib.auth.middleware.get_user caches the user in.
    if not hasattr(request, "_cached_user"):
        request._cached_user = get_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """django.contrib.auth's middleware whose lazy `request.user` is `get_user` above (settings.MIDDLEWARE
    takes its web-only variant, health_f0.core.lean_stack.AuthenticationMiddleware)."""

    def process_request(self, request: HttpRequest) -> None:
        """Django's process_request (the session required, `request.auser`), with this lazy user in place of the
        one Django's would make first and this one replace (about 10 Python calls)."""
        if not hasattr(request, "session"):
            super().process_request(request)  # Django's ImproperlyConfigured
        loader: Callable[[], Any] = lambda: _cached_user(request)  # noqa: E731
        request.user = SimpleLazyObject(loader)  # type: ignore[assignment]
        request.auser = partial(auser, request)  # type: ignore[attr-defined]
