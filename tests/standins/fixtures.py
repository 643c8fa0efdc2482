"""Pytest fixtures for the stand-ins; a test directory's conftest.py imports the ones it uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.standins.esms import EsmsStandIn

CALLBACK_TOKEN = "cb-7f3a9c2e51d84b06a1e2"


@pytest.fixture
def esms() -> Iterator[EsmsStandIn]:
    """The eSMS stand-in on 127.0.0.1 with a free port, up."""
    standin = EsmsStandIn(hang_seconds=0.8).start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def esms_gateway(settings: Any, esms: EsmsStandIn) -> EsmsStandIn:
    """SMS_BACKEND=esms, pointed at the stand-in with valid credentials and a short timeout."""
    settings.SMS_BACKEND = "esms"
    settings.ESMS_API_URL = esms.url
    settings.ESMS_API_KEY = esms.api_key
    settings.ESMS_SECRET_KEY = esms.secret_key
    settings.ESMS_BRANDNAME = next(iter(esms.brandnames))
    settings.ESMS_TIMEOUT = 0.4
    settings.ESMS_CALLBACK_TOKEN = CALLBACK_TOKEN
    return esms
