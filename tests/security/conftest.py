"""Security regression tests (issue 8), one file per theme. Shared fixtures come from the API tests."""

from __future__ import annotations

from tests.api.conftest import as_user, client_api  # noqa: F401
