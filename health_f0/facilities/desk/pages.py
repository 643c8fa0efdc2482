"""Facilities, ward assignments and staff memberships in the desk (registered by facilities/admin.py).

Everyone on staff sees the part of the tree they work in; administrators and managers edit it. A facility
is saved through facilities.services.facility_save (keeps `path` right for the whole subtree); a membership
through membership_save (also opens the desk to the member: is_staff).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from health_f0.core.audit import audit_log
from health_f0.core.exceptions import DomainError
from health_f0.core.models import AuditLog
from health_f0.desk.site import ScopedModelAdmin, desk_site
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind, Membership, Role, StationWard
from health_f0.facilities.services import facility_save, membership_check, membership_save
from health_f0.patients import address

EDITOR_ROLES: frozenset[str] = access.OVERSIGHT_ROLES


def _editable_facilities(user: Any) -> QuerySet[Facility]:
    return access.facilities_for(user, EDITOR_ROLES).order_by("path")


class FacilityForm(forms.ModelForm):
    class Meta:
        model = Facility
        fields = (
            "kind",
            "code",
            "name",
            "short_name",
            "parent",
            "province_code",
            "address",
            "hotline",
            "is_active",
        )

    def clean_parent(self) -> Facility | None:
        parent: Facility | None = self.cleaned_data.get("parent")
        instance = self.instance
        if parent is not None and instance.pk and parent.path.startswith(instance.path or "\0"):
            raise forms.ValidationError(
                gettext("Cơ sở không thể trực thuộc chính nó hoặc cơ sở cấp dưới của nó.")
            )
        return parent


@admin.register(Facility, site=desk_site)
class FacilityAdmin(ScopedModelAdmin):
    add_roles = EDITOR_ROLES
    change_roles = EDITOR_ROLES
    facility_field = ""
    form = FacilityForm
    list_display = ("tree_name", "code", "kind", "parent", "hotline", "is_active")
    list_select_related = ("parent",)
    list_filter = ("kind", "is_active")
    search_fields = ("name", "code", "short_name")
    ordering = ("path",)
    actions = None

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.facilities_for(user)

    @display(description=_("tên"), ordering="path")
    def tree_name(self, obj: Facility) -> str:
        depth = max(obj.path.count("/") - 2, 0)
        return ("— " * depth) + obj.name

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "parent":
            kwargs["queryset"] = _editable_facilities(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if "parent" in form.base_fields and not request.user.is_superuser:
            # Below the facilities one manages; only a superuser creates a new root (a Department of Health).
            form.base_fields["parent"].required = True
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        facility_save(facility=obj)
        audit_log(
            actor=request.user,
            action=AuditLog.Action.UPDATE if change else AuditLog.Action.CREATE,
            verb="facility_save",
            target=obj,
            facility=obj,
            data={"fields": sorted(form.changed_data)},
        )


class StationWardForm(forms.ModelForm):
    class Meta:
        model = StationWard
        fields = ("station", "province_code", "ward_code")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        province, ward = data.get("province_code"), data.get("ward_code")
        if province is not None and ward is not None:
            try:
                self.instance.ward_name = address.validate_ward(province, ward)
            except DomainError as exc:
                self.add_error("ward_code", exc.message)
        return data


@admin.register(StationWard, site=desk_site)
class StationWardAdmin(ScopedModelAdmin):
    view_roles = access.STATION_ROLES
    add_roles = EDITOR_ROLES
    change_roles = EDITOR_ROLES
    delete_roles = EDITOR_ROLES
    facility_field = "station"
    form = StationWardForm
    list_display = ("ward_name", "ward_code", "station", "province_code")
    list_select_related = ("station",)
    list_filter = (("station", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("ward_name", "ward_code")
    readonly_fields = ("ward_name",)

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.station_wards_for(user)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "station":
            kwargs["queryset"] = _editable_facilities(request.user).filter(
                kind__in=[FacilityKind.STATION, FacilityKind.TREATMENT]
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_log(
            actor=request.user,
            action=AuditLog.Action.UPDATE if change else AuditLog.Action.CREATE,
            verb="ward_assign",
            target=obj,
            facility=obj.station,
            data={"ward_code": obj.ward_code},
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_log(
            actor=request.user,
            action=AuditLog.Action.DELETE,
            verb="ward_unassign",
            target=obj,
            facility=obj.station,
            data={"ward_code": obj.ward_code},
        )
        super().delete_model(request, obj)


class MembershipForm(forms.ModelForm):
    """Parses the membership; the rights (no role of one's own, only where one grants roles) are the
    service's `membership_check`, shown as form errors; membership_save checks them again."""

    actor: Any = None

    class Meta:
        model = Membership
        fields = ("user", "facility", "role", "is_active")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors or self.actor is None:
            return data
        before = self.instance if self.instance.pk else None
        wanted = Membership(
            user=data.get("user"),
            facility=data.get("facility"),
            role=data.get("role") or "",
            is_active=bool(data.get("is_active")),
        )
        try:
            membership_check(membership=wanted, actor=self.actor, before=before)
        except DomainError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, exc.message)
        return data


@admin.register(Membership, site=desk_site)
class MembershipAdmin(ScopedModelAdmin):
    view_roles = EDITOR_ROLES
    add_roles = EDITOR_ROLES
    change_roles = EDITOR_ROLES
    form = MembershipForm
    list_display = ("user", "user_name", "facility", "role", "is_active")
    list_select_related = ("user", "facility")
    list_filter = ("role", "is_active", ("facility", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "user__first_name", "user__last_name")
    actions = None

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.memberships_for(user)

    @display(description=_("họ và tên"))
    def user_name(self, obj: Membership) -> str:
        return obj.user.get_full_name()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "facility":
            kwargs["queryset"] = _editable_facilities(request.user)
        elif db_field.name == "user":
            # Staff accounts (made by an administrator), never a patient's portal account.
            kwargs["queryset"] = (
                get_user_model().objects.filter(is_active=True, patient__isnull=True).order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "role" and not (
            request.user.is_superuser or Role.ADMINISTRATOR in access.roles_of(request.user)
        ):
            # Managers assign work; only administrators grant the administrator role.
            kwargs["choices"] = [
                (value, label) for value, label in Role.choices if value != Role.ADMINISTRATOR
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        membership_save(membership=obj, actor=request.user)
