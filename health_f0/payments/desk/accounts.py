"""Each facility's gateway accounts (administrators) and each service's price and prepayment rule (managers and
administrators). Keys are write-only: typed once, stored encrypted (payments.crypto), never shown again, never
audited or logged; a blank key field keeps the stored key."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display
from unfold.widgets import UnfoldAdminPasswordWidget

from health_f0.appointments.models import Service
from health_f0.core.audit import audit_log
from health_f0.core.exceptions import DomainError
from health_f0.core.models import AuditLog
from health_f0.core.text import vnd
from health_f0.desk.site import ScopedModelAdmin, desk_site
from health_f0.facilities import access
from health_f0.payments import services
from health_f0.payments.models import GatewayAccount, ServicePaymentPolicy


class GatewayAccountForm(forms.ModelForm):
    secret = forms.CharField(
        label=_("Khoá bí mật"),
        required=False,
        strip=True,
        widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "VNPay: vnp_HashSecret; MoMo: secretKey; payOS: Checksum Key. Để trống để giữ khoá đã lưu."
        ),
    )
    access_key = forms.CharField(
        label=_("Khoá truy cập"),
        required=False,
        strip=True,
        widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("MoMo: accessKey; payOS: API Key. VNPay không dùng. Để trống để giữ khoá đã lưu."),
    )

    class Meta:
        model = GatewayAccount
        fields = (
            "facility",
            "gateway",
            "is_active",
            "merchant_code",
            "api_url",
            "api_url_2",
            "bank_bin",
            "account_number",
            "account_name",
        )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        stored = bool(self.instance.pk and self.instance.secret_encrypted)
        if not stored and not data.get("secret") and data.get("gateway") != "vietqr":
            self.add_error("secret", _("Vui lòng nhập khoá bí mật do cổng thanh toán cấp."))
        return data


@admin.register(GatewayAccount, site=desk_site)
class GatewayAccountAdmin(ScopedModelAdmin):
    form = GatewayAccountForm
    view_roles = access.GATEWAY_ACCOUNT_ROLES
    add_roles = access.GATEWAY_ACCOUNT_ROLES
    change_roles = access.GATEWAY_ACCOUNT_ROLES
    actions = None
    list_display = ("facility", "gateway", "merchant_code", "is_active", "keys_col")
    list_select_related = ("facility",)
    fields = (
        "facility",
        "gateway",
        "is_active",
        "merchant_code",
        "secret",
        "access_key",
        "keys_col",
        "api_url",
        "api_url_2",
        "bank_bin",
        "account_number",
        "account_name",
    )
    readonly_fields = ("keys_col",)

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.gateway_accounts_for(user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "facility":
            kwargs["queryset"] = access.facilities_for(request.user, access.GATEWAY_ACCOUNT_ROLES).order_by(
                "path"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @display(description=_("khoá đã lưu"))
    def keys_col(self, obj: GatewayAccount) -> str:
        stored = [str(_("khoá bí mật"))] if obj.secret_encrypted else []
        if obj.access_key_encrypted:
            stored.append(str(_("khoá truy cập")))
        return ", ".join(stored) or "—"

    def save_model(self, request: HttpRequest, obj: GatewayAccount, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            services.gateway_account_save(
                actor=request.user,
                facility=obj.facility,
                gateway=obj.gateway,
                merchant_code=obj.merchant_code,
                secret=data.get("secret", ""),
                access_key=data.get("access_key", ""),
                account=obj,
            )
        except DomainError as exc:
            raise PermissionDenied(exc.message) from exc


@admin.register(ServicePaymentPolicy, site=desk_site)
class ServicePaymentPolicyAdmin(ScopedModelAdmin):
    view_roles = access.OVERSIGHT_ROLES
    add_roles = access.OVERSIGHT_ROLES
    change_roles = access.OVERSIGHT_ROLES
    facility_field = "service.facility"
    actions = None
    list_display = ("service", "price_col", "prepayment", "pay_deadline_minutes")
    list_select_related = ("service__facility",)
    fields = ("service", "price", "prepayment", "pay_deadline_minutes")

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.scope_by_facility(
            ServicePaymentPolicy.objects.all(), user, field="service__facility", roles=access.OVERSIGHT_ROLES
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @display(description=_("giá khám"), ordering="price")
    def price_col(self, obj: ServicePaymentPolicy) -> str:
        return vnd(obj.price)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "service":
            kwargs["queryset"] = access.scope_by_facility(
                Service.objects.select_related("facility"), request.user, roles=access.OVERSIGHT_ROLES
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ServicePaymentPolicy, form: Any, change: bool) -> None:
        if not access.can_act_at(request.user, obj.service.facility, access.OVERSIGHT_ROLES):
            raise PermissionDenied
        super().save_model(request, obj, form, change)
        audit_log(
            actor=request.user,
            action=AuditLog.Action.UPDATE if change else AuditLog.Action.CREATE,
            verb="configure",
            target=obj,
            facility=obj.service.facility,
            data={"changed": sorted(form.changed_data)},
        )
