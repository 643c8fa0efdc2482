"""Patients in the desk: scoped by access.patients_for; every opening of a record is audited. Edits and the
phone check go through patients.services and patients.bonds."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm
from unfold.widgets import UnfoldAdminSingleDateWidget, UnfoldAdminTextInputWidget

from health_f0.core.exceptions import DomainError
from health_f0.core.phone import display_phone, normalize_mobile
from health_f0.core.text import clean_person_name
from health_f0.desk.actions import run
from health_f0.desk.formatting import age_years, badge, fmt_date, fmt_datetime, fmt_user
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.patients import address, bonds
from health_f0.patients.identifiers import clean_bhyt, clean_cccd
from health_f0.patients.models import Patient
from health_f0.patients.services import PATIENT_EDITABLE_FIELDS, patient_update_details

ACTING_ROLES: frozenset[str] = access.STATION_ACTING_ROLES


class PhoneCodeForm(BaseDialogForm):
    """The code the patient reads out from the SMS sent to the phone being checked."""

    code = forms.CharField(
        label=_("Mã OTP người bệnh đọc"),
        max_length=12,
        widget=UnfoldAdminTextInputWidget(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
        error_messages={"required": _("Vui lòng nhập mã OTP gồm 6 chữ số.")},
    )


PHONE_SEND_DIALOG: ActionDialog = {
    "title": _("Gửi mã xác thực số điện thoại"),
    "description": _(
        "Hệ thống nhắn một mã OTP tới số điện thoại hiện tại của người bệnh. Người bệnh đọc mã cho bạn; nhập mã ở "
        "nút “Nhập mã xác thực”. Chỉ khi số đã được xác thực, các tài khoản cùng số mới thay mặt được người bệnh."
    ),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Gửi mã"),
}
PHONE_CONFIRM_DIALOG: ActionDialog = {
    "title": _("Nhập mã xác thực số điện thoại"),
    "description": _("Nhập mã 6 chữ số người bệnh nhận được qua SMS ở số điện thoại hiện tại."),
    "form_class": PhoneCodeForm,
    "form_submit_text": _("Xác thực"),
}


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

    def clean_full_name(self) -> str:
        name = self.cleaned_data.get("full_name", "")
        if "full_name" not in self.changed_data:
            return str(name)
        return str(_domain(clean_person_name, name))

    def clean_phone(self) -> str:
        return str(_domain(normalize_mobile, self.cleaned_data.get("phone", "")))

    def clean_cccd(self) -> str:
        return str(_domain(clean_cccd, self.cleaned_data.get("cccd", "")))

    def clean_bhyt(self) -> str:
        return str(_domain(clean_bhyt, self.cleaned_data.get("bhyt", "")))


@admin.register(Patient, site=desk_site)
class PatientAdmin(ScopedModelAdmin):
    view_roles = access.PATIENT_LIST_ROLES
    change_roles = ACTING_ROLES
    audit_detail_views = True
    form = PatientForm
    list_display = ("full_name", "dob_col", "age_col", "phone_col", "ward_name", "facility", "account_col")
    list_select_related = ("facility", "account")
    list_filter = (("facility", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("full_name", "cccd", "bhyt")
    phone_search_field = "phone"
    search_help_text = _("Tìm theo họ tên, số điện thoại, số CCCD hoặc thẻ BHYT")
    fieldsets = (
        (_("Thông tin cá nhân"), {"fields": PATIENT_EDITABLE_FIELDS}),
        (
            _("Xác thực số điện thoại (ai thay mặt được người bệnh)"),
            {"fields": ("bond_col", "bond_history_col")},
        ),
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
        "bond_col",
        "bond_history_col",
        "address_col",
        "facility",
        "account_col",
        "confirmed_col",
        "created_col",
        "registrations_col",
    )
    actions = None
    actions_detail = ["phone_code_send_action", "phone_code_confirm_action"]

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.patients_for(user)

    # --- the phone check: a corrected (or never proved) phone answers an OTP read out to the clerk --------

    def has_phone_verify_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None:
            return has_any_role(request.user, ACTING_ROLES)
        patient = self.scoped_object(request, object_id)
        return bool(
            patient is not None
            and not bonds.phone_is_verified(patient)
            and access.can_act_at(request.user, patient.facility, ACTING_ROLES)
        )

    @action(
        description=_("Gửi mã xác thực số điện thoại"),
        url_path="gui-ma-xac-thuc",
        permissions=["phone_verify"],
        icon="sms",
        dialog=PHONE_SEND_DIALOG,
    )
    def phone_code_send_action(
        self, request: HttpRequest, form: BaseDialogForm, object_id: Any
    ) -> HttpResponse:
        patient = self.scoped_object_or_404(request, object_id)
        run(
            request,
            # No per-network cap for a clerk (a station sends many, logged in and audited); the phone's caps hold.
            lambda: bonds.phone_verification_send(patient=patient, actor=request.user, ip=None),
            success=gettext(
                "Đã gửi mã OTP tới %(phone)s. Hãy nhờ người bệnh đọc mã rồi bấm “Nhập mã xác thực”."
            )
            % {"phone": patient.phone_display},
        )
        return redirect_back(request, self.change_url(object_id))

    @action(
        description=_("Nhập mã xác thực"),
        url_path="nhap-ma-xac-thuc",
        permissions=["phone_verify"],
        icon="verified_user",
        variant=ActionVariant.PRIMARY,
        dialog=PHONE_CONFIRM_DIALOG,
    )
    def phone_code_confirm_action(
        self, request: HttpRequest, form: PhoneCodeForm, object_id: Any
    ) -> HttpResponse:
        patient = self.scoped_object_or_404(request, object_id)
        try:
            bonds.phone_verification_confirm(
                patient=patient, actor=request.user, code=form.cleaned_data["code"]
            )
        except DomainError as exc:
            if exc.field in ("otp", "code"):
                form.add_error("code", exc.message)
                return render(
                    request, "unfold/helpers/dialog.html", {"dialog": PHONE_CONFIRM_DIALOG, "form": form}
                )
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("Đã xác thực số %(phone)s của %(name)s.")
                % {"phone": patient.phone_display, "name": patient.full_name},
            )
        return redirect_back(request, self.change_url(object_id))

    @display(description=_("số điện thoại đã xác thực"))
    def bond_col(self, obj: Patient) -> Any:
        bond = bonds.active_bond(obj)
        if bond is None:
            return format_html(
                "{} — {}",
                badge(gettext("Chưa xác thực"), "warning"),
                gettext("Chưa có tài khoản nào khác thay mặt được người bệnh này."),
            )
        verified = badge(gettext("Đã xác thực"), "success")
        who = fmt_user(bond.verified_by, gettext("người bệnh"))
        line = format_html(
            "{} {} · {} · {} ({})",
            verified,
            bond.phone_display,
            bond.get_method_display(),
            fmt_datetime(bond.verified_at),
            who,
        )
        if bond.phone != obj.phone:
            return format_html(
                "{}<br>{} {}", line, badge(gettext("Chưa xác thực"), "warning"), gettext("số hiện tại")
            )
        return line

    @display(description=_("lịch sử xác thực"))
    def bond_history_col(self, obj: Patient) -> Any:
        rows = [
            format_html(
                "<li>{} · {} · {} → {} ({})</li>",
                bond.phone_display,
                bond.get_method_display(),
                fmt_datetime(bond.verified_at),
                fmt_datetime(bond.ended_at),
                bond.get_end_reason_display(),
            )
            for bond in obj.phone_bonds.filter(ended_at__isnull=False).order_by("-verified_at")[:10]
        ]
        if not rows:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "{}", ((row,) for row in rows)))

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
