"""Shared fixtures: demo data, named personas, the SMS file, cache isolation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command


def _clear_cache() -> None:
    """Delete this worker's keys only (parallel workers share one Redis database)."""
    backend: Any = cache
    prefix = backend.key_prefix
    client_factory = getattr(backend, "_cache", None)
    if client_factory is not None and hasattr(client_factory, "get_client"):
        client = client_factory.get_client(write=True)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    settings.HUEY["immediate"] = True
    # Argon2 is for production; the demo's dozen accounts would cost seconds per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests log staff in with force_login or the password form alone; tests/security/test_two_factor.py
    # and tests/browser/test_two_factor.py turn the requirement back on.
    settings.STAFF_2FA_REQUIRED = False
    _clear_cache()
    # Per-process caches of the questionnaire, rules and policies hold rows of earlier tests' databases.
    from health_f0.monitoring.services import reset_caches
    from health_f0.payments.selectors import reset_local_cache

    reset_caches()
    reset_local_cache()
    yield
    _clear_cache()
    # A request in English leaves English active in the thread (Django does not reset it): the next test
    # that calls services directly must start in the default language (Vietnamese).
    from django.utils import translation

    translation.deactivate()


class SmsFile:
    """The `file` SMS gateway's output: one JSON object per message per line."""

    def __init__(self, path: str):
        self.path = Path(path)

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [
            json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]

    def last(self, to: str | None = None, kind: str | None = None) -> dict[str, Any]:
        for message in reversed(self.messages()):
            if (to is None or message["to"] == to) and (kind is None or message["kind"] == kind):
                return message
        raise AssertionError(f"no SMS to={to} kind={kind}; have {self.messages()}")

    def last_otp(self, to: str) -> str:
        import re

        body = self.last(to=to, kind="otp")["body"]
        match = re.search(r"\b(\d{6})\b", body)
        assert match, body
        return match.group(1)


@pytest.fixture
def sms(settings: Any) -> SmsFile:
    return SmsFile(settings.SMS_FILE_PATH)


@pytest.fixture
def demo(db: Any) -> None:
    """The demo province: Sở Y tế Hải Phòng, TTYT Hải Dương, 3 stations, one staff member per role."""
    # Without the demo bookings: appointment tests start from an empty diary and load what they need.
    call_command("seed_demo", "--skip-appointments", stdout=open("/dev/null", "w"))  # noqa: SIM115
    from health_f0.monitoring.services import reset_caches

    reset_caches()


@pytest.fixture
def appointments_demo(demo: Any) -> None:
    """The demo's clinic services, schedules, a doctor (bacsi.noi), a booking request and a re-exam plan."""
    call_command("load_appointments_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture
def persona(demo: Any) -> Any:
    """persona("thanhdong.nv") -> that demo user (see fixtures/demo.json for who is who)."""

    def get(username: str) -> Any:
        return get_user_model().objects.get(username=username)

    return get
