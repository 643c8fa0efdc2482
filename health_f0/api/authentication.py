"""`Authorization: Bearer <token>` for the mobile app; tokens are stored hashed and expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import HTTP_HEADER_ENCODING, authentication, exceptions

from health_f0.api.models import ApiToken, hash_token
from health_f0.api.sql.tokens import token_with_user


def _authorization_header(request: Any) -> bytes:
    """authentication.get_authorization_header, read from META: DRF's goes through `request.headers`, whose
    first use builds a mapping of every header of the request (about 70 Python calls a request, issue 11)."""
    auth = request.META.get("HTTP_AUTHORIZATION", b"")
    if isinstance(auth, str):
        auth = auth.encode(HTTP_HEADER_ENCODING)
    return auth  # type: ignore[no-any-return]


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        header = _authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Mã truy cập không hợp lệ."))
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Mã truy cập không hợp lệ."))
        token = token_with_user(hash_token(raw))
        now = timezone.now()
        if token is None or token.expires_at <= now:
            raise exceptions.AuthenticationFailed(_("Mã truy cập không hợp lệ hoặc đã hết hạn."))
        user = token.user  # (read once: each read goes through the relation's descriptor)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("Mã truy cập không hợp lệ hoặc đã hết hạn."))
        # Kept to the hour: one write an hour per device, not one per request.
        if token.last_used_at is None or now - token.last_used_at > timedelta(hours=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
