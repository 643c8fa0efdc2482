"""A local SMTP server (aiosmtpd) that keeps what it receives: a real SMTP conversation for the report e-mail
tests (health_f0.reports.subscriptions), with Django's SMTP backend pointed at it.

    with SmtpStandIn() as smtp:          # or the `smtp_server` fixture below
        ...send...
        message = smtp.messages[0]       # an email.message.EmailMessage (policy default)
        smtp.envelopes[0].rcpt_tos

`fail_next(n)` makes the next n transactions answer 451 (a temporary failure) to test retries.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Envelope:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


class _Handler:
    def __init__(self, standin: SmtpStandIn) -> None:
        self.standin = standin

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        with self.standin.lock:
            if self.standin.failures_left > 0:
                self.standin.failures_left -= 1
                return "451 4.3.0 Try again later"
            self.standin.envelopes.append(
                Envelope(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 OK"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpStandIn:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.envelopes: list[Envelope] = []
        self.failures_left = 0
        self.lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    def start(self) -> SmtpStandIn:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpStandIn:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def fail_next(self, count: int = 1) -> None:
        with self.lock:
            self.failures_left = count

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        with self.lock:
            contents = [e.content for e in self.envelopes]
        return [email.message_from_bytes(c, policy=email.policy.default) for c in contents]  # type: ignore[misc]


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpStandIn]:
    """The stand-in up on a free port, and Django's SMTP backend pointed at it (no TLS, no login)."""
    standin = SmtpStandIn().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = standin.host
    settings.EMAIL_PORT = standin.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "health_f0 <bao-cao@health-f0.test>"
    try:
        yield standin
    finally:
        standin.stop()
