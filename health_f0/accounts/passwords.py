"""Password rules and the desk's own-password change.

Staff passwords guard every patient record a desk account can open: at least 12 characters. Patients keep
Django's 8 with the common-password (breached lists) and similarity checks (AUTH_PASSWORD_VALIDATORS).
Changing a password on the desk checks the current one like a login (accounts.lockout) and goes through the
same service as the portal and the API (every API token and every other session of the user stop working).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from unfold.forms import AdminOwnPasswordChangeForm

from health_f0.accounts.lockout import check_current_password
from health_f0.core.exceptions import RateLimited


def is_staff_account(user: Any) -> bool:
    """A desk account: flagged staff, a superuser, or holding a staff role. An account not saved yet is
    being made by hand in the desk (patients' accounts are issued by SMS), so it counts as staff too."""
    from health_f0.facilities import access

    if user is None or getattr(user, "pk", None) is None:
        return True
    return bool(user.is_staff or user.is_superuser or access.is_staff_member(user))


class StaffMinimumLengthValidator:
    """At least `min_length` characters (12) for staff accounts; other accounts are left to the
    MinimumLengthValidator (8)."""

    def __init__(self, min_length: int = 12) -> None:
        self.min_length = min_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) < self.min_length and is_staff_account(user):
            raise ValidationError(
                ngettext(
                    "Mật khẩu của nhân viên y tế phải có ít nhất %(min_length)d ký tự.",
                    "Mật khẩu của nhân viên y tế phải có ít nhất %(min_length)d ký tự.",
                    self.min_length,
                ),
                code="password_too_short",
                params={"min_length": self.min_length},
            )

    def get_help_text(self) -> str:
        return ngettext(
            "Nhân viên y tế: ít nhất %(min_length)d ký tự.",
            "Nhân viên y tế: ít nhất %(min_length)d ký tự.",
            self.min_length,
        ) % {"min_length": self.min_length}


class DeskPasswordChangeForm(AdminOwnPasswordChangeForm):
    """The desk's "change my password" form; the current password is checked like a login."""

    def __init__(self, user: Any, *args: Any, request: Any = None, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old: str = self.cleaned_data["old_password"]
        try:
            right = check_current_password(request=self.request, user=self.user, password=old)
        except RateLimited as exc:
            raise ValidationError(exc.message, code="locked_out")
        if not right:
            raise ValidationError(_("Mật khẩu hiện tại không đúng."), code="password_incorrect")
        return old


class DeskPasswordChangeView(PasswordChangeView):
    form_class = DeskPasswordChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["request"] = self.request
        return kwargs

    def form_valid(self, form: Form) -> HttpResponse:
        from health_f0.patients.services import password_change

        user: Any = self.request.user
        password_change(user=user, new_password=form.cleaned_data["new_password1"])
        update_session_auth_hash(self.request, user)  # this session stays; every other one ends
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form: Form) -> HttpResponse:
        response = super().form_invalid(form)
        if any(e.code == "locked_out" for e in form.errors.as_data().get("old_password", [])):
            response.status_code = 429
        return response
