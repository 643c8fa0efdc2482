"""Fixtures shared by these tests."""

from typing import Any

import pytest

from tests.standins.fixtures import esms, esms_gateway  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """The demo's dozen staff accounts and each issued patient account hash fast (Argon2 is for production)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
