"""Patients in the desk: scoped by access.patients_for; every opening of a record is audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display
from unfold.widgets import UnfoldAdminSingleDateWidget

from health_f0.core.admin_site import ScopedModelAdmin, age_years, desk_site, fmt_date, fmt_datetime
from health_f0.core.exceptions import DomainError
from health_f0.core.phone import display_phone, normalize_mobile
from health_f0.facilities import access
from health_f0.patients import address
from health_f0.patients.identifiers import clean_bhyt, clean_cccd
from health_f0.patients.models import Patient
from health_f0.patients.services import PATIENT_EDITABLE_FIELDS, patient_update_details
from health_f0.registration.admin import search_phone
from health_f0.registration.transitions import ACTING_ROLES


def _domain(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except DomainError as exc:
        raise forms.ValidationError(exc.message, code=exc.code)


class PatientForm(forms.ModelForm):
    """Parses the editable personal details; the service re-checks them and writes the audit row."""

    date_of_birth = forms.DateField(
        label=_("ngày sinh"),
        input_formats=["%d/%m/%Y", "%Y-%m-%d"],
        widget=UnfoldAdminSingleDateWidget(format="%d/%m/%Y"),
    )

    class Meta:
        model = Patient
        fields = list(PATIENT_EDITABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "phone" in self.fields:
            self.initial["phone"] = display_phone(self.instance.phone)
            self.fields["phone"].help_text = gettext("Ví dụ: 0912 345 678")

    def clean_phone(self) -> str:
        return str(_domain(normalize_mobile, self.cleaned_data.get("phone", "")))

    def clean_cccd(self) -> str:
        return str(_domain(clean_cccd, self.cleaned_data.get("cccd", "")))

    def clean_bhyt(self) -> str:
        return str(_domain(clean_bhyt, self.cleaned_data.get("bhyt", "")))


@admin.register(Patient, site=desk_site)
class PatientAdmin(ScopedModelAdmin):
    change_roles = ACTING_ROLES
    form = PatientForm
    list_display = ("full_name", "dob_col", "age_col", "phone_col", "ward_name", "facility", "account_col")
    list_select_related = ("facility", "account")
    list_filter = (("facility", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("full_name", "cccd", "bhyt")
    search_help_text = _("Tìm theo họ tên, số điện thoại, số CCCD hoặc thẻ BHYT")
    fieldsets = (
        (_("Thông tin cá nhân"), {"fields": PATIENT_EDITABLE_FIELDS}),
        (
            _("Quản lý"),
            {
                "fields": (
                    "address_col",
                    "facility",
                    "account_col",
                    "confirmed_col",
                    "created_col",
                    "registrations_col",
                )
            },
        ),
    )
    readonly_fields = (
        "address_col",
        "facility",
        "account_col",
        "confirmed_col",
        "created_col",
        "registrations_col",
    )
    actions = None

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.patients_for(user)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        phone = search_phone(search_term.strip())
        if phone:
            return queryset.filter(phone=phone), False
        return super().get_search_results(request, queryset, search_term)

    @display(description=_("ngày sinh"), ordering="date_of_birth")
    def dob_col(self, obj: Patient) -> str:
        return fmt_date(obj.date_of_birth)

    @display(description=_("tuổi"))
    def age_col(self, obj: Patient) -> int:
        return age_years(obj.date_of_birth)

    @display(description=_("số điện thoại"))
    def phone_col(self, obj: Patient) -> str:
        return obj.phone_display

    @display(description=_("tài khoản"))
    def account_col(self, obj: Patient) -> str:
        return obj.account.username if obj.account else "—"

    @display(description=_("địa chỉ"))
    def address_col(self, obj: Patient) -> str:
        parts = [obj.street, obj.ward_name, address.province_name(obj.province_code)]
        return ", ".join(part for part in parts if part)

    @display(description=_("xác nhận thông tin lúc"))
    def confirmed_col(self, obj: Patient) -> str:
        return fmt_datetime(obj.details_confirmed_at)

    @display(description=_("tạo lúc"))
    def created_col(self, obj: Patient) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("hồ sơ đăng ký"))
    def registrations_col(self, obj: Patient) -> Any:
        url = reverse("admin:registration_registration_changelist") + f"?patient__exact={obj.pk}"
        return format_html(
            '<a class="text-primary-600 underline" href="{}">{}</a>', url, gettext("Xem hồ sơ đăng ký")
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self.audit_view(request, self.scoped_object(request, object_id))
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in PATIENT_EDITABLE_FIELDS
        }
        try:
            patient_update_details(patient=obj, actor=request.user, changes=changes)
        except DomainError as exc:  # already checked by the form; a race or a rule the form does not know
            messages.error(request, exc.message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # the audit row written by the service is the record of the change
