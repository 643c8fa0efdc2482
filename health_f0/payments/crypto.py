"""Gateway keys at rest: Fernet with a key derived from SECRET_KEY (as notifications.crypto does for secret
message bodies), under its own label so a key of one purpose never opens the other's ciphertext."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings


def _fernet() -> Fernet:
    key = hashlib.sha256(("payments-gateway:" + settings.SECRET_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(text: str) -> bytes:
    return _fernet().encrypt(text.encode()) if text else b""


def decrypt(token: bytes | memoryview | None) -> str:
    if not token:
        return ""
    return _fernet().decrypt(bytes(token)).decode()
