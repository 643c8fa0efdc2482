"""Where to report a vulnerability (docs/security.md): /.well-known/security.txt, RFC 9116."""

from __future__ import annotations

from typing import Any

from django.test import Client


def test_security_txt_names_the_contact_and_expires(db: Any, settings: Any) -> None:
    settings.SECURITY_CONTACT = [
        "mailto:atttt@soyte.haiphong.gov.vn",
        "https://soyte.haiphong.gov.vn/bao-loi",
    ]
    response = Client().get("/.well-known/security.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "Contact: mailto:atttt@soyte.haiphong.gov.vn" in lines
    assert "Contact: https://soyte.haiphong.gov.vn/bao-loi" in lines
    assert any(line.startswith("Expires: 20") for line in lines)
