"""Desk pages for the audit trail, the login logs and user accounts (core and django-axes models).

Imported by health_f0/desk/admin.py once the desk is the default admin site."""

from __future__ import annotations

import json
from typing import Any

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from health_f0.core.audit import audit_log
from health_f0.core.models import AuditLog, User
from health_f0.desk.formatting import fmt_datetime
from health_f0.desk.site import ScopedModelAdmin, desk_site
from health_f0.facilities import access
from health_f0.patients.services import password_reset_done

# Groups and model permissions are not how this product grants rights (roles at facilities are).
if desk_site.is_registered(Group):
    desk_site.unregister(Group)

ADMIN_ONLY: frozenset[str] = access.ADMINISTRATOR_ROLES


class LoginLogDeskAdmin(ScopedModelAdmin):
    """django-axes' login logs in the desk: read-only, for superusers and administrators only.

    No date hierarchy: its year/month links group by date in the database with CONVERT_TZ, which gives NULL
    (and the page a 500) on a MariaDB without time-zone tables. The date list filter (a range query) stays.
    No bulk action either (django-axes' "clean up expired attempts" would change the lockout state).
    """

    view_roles = ADMIN_ONLY
    facility_field = None
    read_only = True
    date_hierarchy = None
    actions = None

    def scope(self, user: Any) -> QuerySet[Any]:
        return self.model._default_manager.all()


class DeskAccessAttemptAdmin(LoginLogDeskAdmin, AccessAttemptAdmin):
    pass


class DeskAccessLogAdmin(LoginLogDeskAdmin, AccessLogAdmin):
    pass


class DeskAccessFailureLogAdmin(LoginLogDeskAdmin, AccessFailureLogAdmin):
    pass


for _model, _model_admin in (
    (AccessAttempt, DeskAccessAttemptAdmin),
    (AccessLog, DeskAccessLogAdmin),
    (AccessFailureLog, DeskAccessFailureLogAdmin),
):
    if desk_site.is_registered(_model):
        desk_site.unregister(_model)
    desk_site.register(_model, _model_admin)


@admin.register(AuditLog, site=desk_site)
class AuditLogAdmin(ScopedModelAdmin):
    """Read-only for managers and administrators, over the facilities they oversee; no one edits it."""

    view_roles = access.AUDIT_READER_ROLES
    read_only = True
    list_display = ("when", "actor_label", "action", "verb", "target_type", "target_repr", "facility")
    list_filter = ("action", "verb", "target_type", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("facility",)
    search_fields = ("actor_label", "target_repr", "target_id")
    fields = (
        "when",
        "actor_label",
        "action",
        "verb",
        "target_type",
        "target_id",
        "target_repr",
        "facility",
        "ip_address",
        "details",
    )
    readonly_fields = fields
    actions = None

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.audit_logs_for(user)

    @display(description=_("thời điểm"), ordering="created_at")
    def when(self, obj: AuditLog) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("chi tiết"))
    def details(self, obj: AuditLog) -> str:
        if not obj.data:
            return "—"
        return format_html(
            '<pre class="text-xs whitespace-pre-wrap">{}</pre>',
            json.dumps(obj.data, ensure_ascii=False, indent=2),
        )


@admin.register(User, site=desk_site)
class UserAdmin(BaseUserAdmin, ScopedModelAdmin):
    """Accounts, for administrators only. The password hash is never shown; a link leads to a reset form."""

    view_roles = ADMIN_ONLY
    add_roles = ADMIN_ONLY
    change_roles = ADMIN_ONLY
    facility_field = None
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = ("username", "full_name", "phone", "is_active", "is_staff", "last_login_display")
    list_filter = ("is_active", "is_staff", "must_change_password")
    search_fields = ("username", "first_name", "last_name", "phone")
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password_reset_link")}),
        (_("Thông tin cá nhân"), {"fields": ("last_name", "first_name", "email", "phone")}),
        (_("Trạng thái"), {"fields": ("is_active", "is_staff", "must_change_password")}),
        (_("Thời điểm"), {"fields": ("last_login_display", "joined_display")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "password1", "password2")}),)
    readonly_fields = ("password_reset_link", "last_login_display", "joined_display")
    actions = None

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.users_for(user)

    @display(description=_("họ và tên"))
    def full_name(self, obj: User) -> str:
        return obj.get_full_name() or "—"

    @display(description=_("đăng nhập gần nhất"), ordering="last_login")
    def last_login_display(self, obj: User) -> str:
        return fmt_datetime(obj.last_login)

    @display(description=_("tạo lúc"))
    def joined_display(self, obj: User) -> str:
        return fmt_datetime(obj.date_joined)

    @display(description=_("mật khẩu"))
    def password_reset_link(self, obj: User) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:auth_user_password_change", args=[obj.pk])
        return format_html(
            '<a class="text-primary-600 underline" href="{}">{}</a>', url, _("Đặt lại mật khẩu")
        )

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        """Django's reset form; once it saved (a redirect to the account's page), the account's API tokens
        are revoked and the reset is audited."""
        response = super().user_change_password(request, id, form_url)
        user = self.get_object(request, unquote(id))
        done = reverse("admin:core_user_change", args=[user.pk]) if user is not None else None
        if request.method == "POST" and response.status_code == 302 and response["Location"] == done:
            password_reset_done(user=user, actor=request.user)
        return response

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_log(
            actor=request.user,
            action=AuditLog.Action.UPDATE if change else AuditLog.Action.CREATE,
            verb="update_user" if change else "create_user",
            target=obj,
            data={"fields": sorted(set(form.changed_data) - {"password1", "password2"})},
        )
