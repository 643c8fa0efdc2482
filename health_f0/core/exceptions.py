"""Domain errors raised by services; the API and the views map them to 4xx answers."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _


class DomainError(Exception):
    """A rule was broken. `code` is stable English for clients; `message` is for people, in the language
    active when it was raised (Vietnamese unless the request asked for English)."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field
        self.extra = extra


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"


class InvalidTransition(DomainError):
    status_code = 409
    code = "invalid_transition"


class ValidationErrors(DomainError):
    """Several field errors at once: `errors` maps field -> list of (code, message)."""

    code = "validation_error"

    def __init__(self, errors: dict[str, list[tuple[str, str]]]):
        super().__init__(_("Thông tin chưa hợp lệ, vui lòng kiểm tra các mục được đánh dấu."))
        self.errors = errors
