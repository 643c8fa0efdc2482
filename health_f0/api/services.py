"""Writes behind the mobile API's account endpoints: bearer tokens and the password change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.accounts.lockout import check_current_password, locked_out_error, token_login_succeeded
from health_f0.api.models import ApiToken, hash_token
from health_f0.core.audit import audit_log
from health_f0.core.exceptions import DomainError
from health_f0.core.models import AuditLog
from health_f0.patients.services import password_change
from health_f0.registration.services import ValidationErrors

TOKEN_LIFETIME = timedelta(days=30)


def api_login(*, request: HttpRequest, username: str, password: str) -> Any:
    """Check credentials through django-axes like every login form: per username + address lockout and the
    per-username back-off (health_f0.accounts.lockout).

    Raises RateLimited while locked out, DomainError on wrong credentials; returns the active user.
    """
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        # Answer with the API's own JSON error instead of letting AxesMiddleware replace the response.
        raise locked_out_error(request, username)
    if user is None or not user.is_active:
        raise DomainError(
            _("Tên đăng nhập hoặc mật khẩu không đúng."), code="invalid_credentials", field="password"
        )
    token_login_succeeded(request=request, user=user)
    return user


@transaction.atomic
def api_token_issue(*, user: Any) -> tuple[str, ApiToken]:
    """A new 30-day bearer token. Returns the raw token (shown once) and the row (which stores only a hash)."""
    raw = ApiToken.new_raw()
    token = ApiToken.objects.create(
        user=user,
        key_hash=hash_token(raw),
        prefix=raw[:8],
        expires_at=timezone.now() + TOKEN_LIFETIME,
    )
    audit_log(actor=user, action=AuditLog.Action.LOGIN, verb="api_token_issue", target=user)
    return raw, token


def api_token_revoke(*, token: ApiToken) -> None:
    """Log out: the token stops working at once."""
    ApiToken.objects.filter(pk=token.pk).delete()


def api_password_change(
    *, request: HttpRequest, user: Any, old_password: str, new_password: str, keep: ApiToken | None
) -> None:
    """Change the user's own password: the old one must be right (checked like a login, so guessing it is
    locked out like guessing at login: RateLimited) and the new one must pass Django's validators. Every
    other API token and every session of the user is revoked (other devices must log in again)."""
    errors: dict[str, list[tuple[str, str]]] = {}
    if not check_current_password(request=request, user=user, password=old_password):
        errors["old_password"] = [("old_password_wrong", _("Mật khẩu hiện tại không đúng."))]
    else:
        try:
            password_validation.validate_password(new_password, user)
        except DjangoValidationError as exc:
            errors["new_password"] = [
                (e.code or "password_invalid", " ".join(e.messages)) for e in exc.error_list
            ]
        if new_password == old_password:
            errors.setdefault("new_password", []).append(
                ("password_unchanged", _("Mật khẩu mới phải khác mật khẩu hiện tại."))
            )
    if errors:
        raise ValidationErrors(errors)
    password_change(user=user, new_password=new_password, keep_token=keep)
