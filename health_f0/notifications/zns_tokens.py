"""The Zalo OA access token: read it, and renew it with the refresh token when it is about to expire.

Both tokens are stored encrypted (notifications.crypto) in the one ZnsToken row and never logged. Zalo spends
a refresh token when it is used and returns a new one, so two workers must never refresh at once: the
refresh holds the row's lock, and the second worker then finds the fresh token instead of spending the
already spent refresh token.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import requests
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from health_f0.notifications import crypto
from health_f0.notifications.gateways import ZNS_TOKEN_MARGIN, ZnsError
from health_f0.notifications.models import ZnsToken

logger = logging.getLogger(__name__)

TOKEN_ROW = "oa"  # noqa: S105 - the row's name, not a secret


def _decrypt(value: bytes | memoryview | None) -> str:
    if not value:
        return ""
    try:
        return crypto.decrypt(bytes(value))
    except InvalidToken:  # SECRET_KEY changed: the stored tokens are lost, the seed is used again
        return ""


def _usable(row: ZnsToken | None) -> str:
    if row is None or row.expires_at is None or row.expires_at - ZNS_TOKEN_MARGIN <= timezone.now():
        return ""
    return _decrypt(row.access_token_encrypted)


def zns_access_token(*, refused: str = "") -> str:
    """A valid access token, renewed first if it expires within ZNS_TOKEN_MARGIN or if it is `refused`
    (Zalo said that token is invalid). Raises ZnsError (not sent, not retryable) when no token can be had."""
    if not refused:
        token = _usable(ZnsToken.objects.filter(name=TOKEN_ROW).first())
        if token:
            return token
    with transaction.atomic():
        row, _created = ZnsToken.objects.select_for_update().get_or_create(name=TOKEN_ROW)
        token = _usable(row)
        if token and token != refused:
            return token  # another worker renewed it while this one waited for the lock
        refresh_token = _decrypt(row.refresh_token_encrypted) or settings.ZNS_REFRESH_TOKEN
        if not refresh_token or not settings.ZNS_APP_ID or not settings.ZNS_APP_SECRET:
            raise ZnsError("ZNS not configured: app id, app secret or refresh token missing", retryable=False)
        access, new_refresh, expires_in = _refresh(refresh_token)
        now = timezone.now()
        row.access_token_encrypted = crypto.encrypt(access)
        row.refresh_token_encrypted = crypto.encrypt(new_refresh or refresh_token)
        row.expires_at = now + timedelta(seconds=expires_in)
        row.refreshed_at = now
        row.save()
    logger.info("Zalo OA access token renewed; valid until %s", row.expires_at)
    return access


def _refresh(refresh_token: str) -> tuple[str, str, int]:
    """Zalo's "access token from refresh token" call: POST form app_id, refresh_token,
    grant_type=refresh_token with header secret_key; answers access_token, refresh_token, expires_in."""
    try:
        response = requests.post(
            settings.ZNS_OAUTH_URL,
            data={
                "app_id": settings.ZNS_APP_ID,
                "refresh_token": refresh_token,
                "grant_type": "refresh_token",
            },
            headers={"secret_key": settings.ZNS_APP_SECRET},
            timeout=settings.ZNS_TIMEOUT,
        )
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        # Not sent, and may work in a moment: the message is tried again until its fallback time.
        raise ZnsError(f"Zalo OAuth unreachable: {exc.__class__.__name__}")
    if not isinstance(answer, dict) or not answer.get("access_token"):
        code = answer.get("error") if isinstance(answer, dict) else response.status_code
        # Zalo's error name only: the answer may echo what was sent.
        name = str(answer.get("error_name") or "")[:60] if isinstance(answer, dict) else ""
        logger.error("Zalo OA token refresh refused: %s %s", code, name)
        raise ZnsError(f"Zalo OAuth refused the refresh token: {code} {name}".strip(), retryable=False)
    try:
        expires_in = int(answer.get("expires_in") or 3600)
    except (TypeError, ValueError):
        expires_in = 3600
    return str(answer["access_token"]), str(answer.get("refresh_token") or ""), expires_in
