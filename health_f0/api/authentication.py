"""`Authorization: Bearer <token>` for the mobile app; tokens are stored hashed and expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from health_f0.api.models import ApiToken, hash_token
from health_f0.core.rawsql import fetch_models


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Mã truy cập không hợp lệ."))
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Mã truy cập không hợp lệ."))
        token = _token_with_user(hash_token(raw))
        if token is None or token.expires_at <= timezone.now() or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Mã truy cập không hợp lệ hoặc đã hết hạn."))
        now = timezone.now()
        # Kept to the hour: one write an hour per device, not one per request.
        if token.last_used_at is None or now - token.last_used_at > timedelta(hours=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


_TOKEN_FIELDS = ("id", "prefix", "created_at", "last_used_at", "expires_at")


def _token_with_user(key_hash: str) -> ApiToken | None:
    """The token and its user in one constant query. Every API request starts here: building the same query
    through the ORM (select_related + first) took about a fifth of a declaration's CPU at the morning peak
    (bench/declarations.sh). fetch_models (raw() with its plan cached) converts the user's columns the ORM way; the token's three datetimes
    are converted by the backend's own converter, so this works on MariaDB and SQLite alike."""
    connection = connections[router.db_for_read(ApiToken)]
    user_model = get_user_model()
    columns = ", ".join(f"t.{name} AS token_{name}" for name in _TOKEN_FIELDS)
    rows = fetch_models(
        user_model,
        f"SELECT u.*, {columns} FROM {user_model._meta.db_table} u "  # noqa: S608 - names from _meta
        f"INNER JOIN {ApiToken._meta.db_table} t ON t.user_id = u.id WHERE t.key_hash = %s",
        [key_hash],
        using=connection.alias,
    )
    if not rows:
        return None
    user = rows[0]
    values = {name: getattr(user, f"token_{name}") for name in _TOKEN_FIELDS}
    for name in _TOKEN_FIELDS:
        delattr(user, f"token_{name}")
    # MariaDB/MySQL and SQLite hand back naive or text datetimes; backends without the converter return
    # aware datetimes already.
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    if convert is not None:
        for name in ("created_at", "last_used_at", "expires_at"):
            values[name] = convert(values[name], None, connection)
    token = ApiToken(user=user, key_hash=key_hash, **values)
    token._state.adding = False
    token._state.db = connection.alias
    return token
