from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import permissions

from health_f0.facilities import access


class IsStaffMember(permissions.BasePermission):
    """Logged-in users holding a staff role somewhere; what they see is then scoped by facilities.access."""

    message: Any = gettext_lazy("Chức năng này chỉ dành cho nhân viên y tế.")

    def has_permission(self, request: Any, view: Any) -> bool:
        if getattr(request.user, "must_change_password", False):
            self.message = _("Vui lòng đổi mật khẩu được cấp trước khi sử dụng.")
            return False
        return access.is_staff_member(request.user)


class HasOwnPassword(permissions.BasePermission):
    """For patient endpoints: an account still on its SMS-issued password may only change it (and log out);
    one that has not agreed to the personal-data policy in force gets 403 `consent_required` with the
    `policy_version` to agree to (POST /privacy/consent). Cached: no query once agreed."""

    message = gettext_lazy("Vui lòng đổi mật khẩu được cấp qua tin nhắn trước khi sử dụng.")
    check_consent = True

    def has_permission(self, request: Any, view: Any) -> bool:
        if getattr(request.user, "must_change_password", False):
            return False
        if self.check_consent:
            from health_f0.privacy.selectors import consent_gate

            consent_gate(user=request.user)
        return True


class IsPatientAccount(permissions.BasePermission):
    """Patient-side reads: staff accounts act on patients through the desk (audited there), not here."""

    message = gettext_lazy("Chức năng này dành cho người bệnh; nhân viên y tế dùng bàn làm việc.")

    def has_permission(self, request: Any, view: Any) -> bool:
        return not access.is_staff_member(request.user)
