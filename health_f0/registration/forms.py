"""Desk forms for registrations: the accept/reject/transfer dialogs and staff direct registration.

Forms only parse input; the services (registration.services) validate the domain rules and write.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.forms import BaseDialogForm
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminRadioSelectWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSingleDateWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
    UnfoldBooleanWidget,
)

from health_f0.desk.forms import RejectForm as DeskRejectForm
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.patients import address
from health_f0.registration import screening
from health_f0.registration.models import Eligibility
from health_f0.registration.selectors import needs_confirmation
from health_f0.registration.services import ACCEPTING_KINDS, RegistrationInput
from health_f0.registration.transitions import REGISTRATION_WORKFLOW

DATE_INPUT_FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"]


def confirm_risk_field() -> forms.BooleanField:
    """The explicit tick for accepting a review/hospital case (the service refuses without it)."""
    return forms.BooleanField(
        label=_("Tôi đã xem đánh giá sàng lọc và vẫn tiếp nhận chăm sóc tại nhà"),
        required=False,
        widget=UnfoldBooleanWidget,
        help_text=_(
            "Bắt buộc với hồ sơ “Cần bác sĩ đánh giá” hoặc “Nên chuyển cơ sở điều trị”: chỉ tiếp nhận khi bác sĩ "
            "đã đánh giá và người bệnh có thể được theo dõi an toàn tại nhà."
        ),
    )


class AcceptForm(BaseDialogForm):
    """Accepting creates the patient and texts the account. A review/hospital case shows its screening and
    asks for an explicit tick; the service (registration_accept) checks it."""

    form_before_template = "admin/registration/registration/_accept_warning.html"

    def __init__(self, request: Any, object_id: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, object_id, *args, **kwargs)
        self.registration = (
            access.registrations_for(request.user).filter(pk=object_id).first() if object_id else None
        )
        if self.registration is not None and needs_confirmation(self.registration):
            self.fields["confirm_risk"] = confirm_risk_field()

    def get_before_template_context(self, request: Any, object_id: Any = None) -> dict[str, Any]:
        registration = self.registration
        if registration is None or not needs_confirmation(registration):
            return {}
        return {"registration": registration, "danger": registration.eligibility == Eligibility.HOSPITAL}


class RejectForm(DeskRejectForm):
    reason_max_length = 300
    reason_help_text = _("Người đăng ký nhận lý do này qua SMS (không dấu), kèm số điện thoại của trạm.")


class TransferForm(BaseDialogForm):
    station = forms.ModelChoiceField(
        label=_("Chuyển đến"),
        queryset=Facility.objects.none(),
        widget=UnfoldAdminSelectWidget,
        empty_label=_("— Chọn trạm y tế / cơ sở thu dung —"),
        error_messages={"required": _("Vui lòng chọn nơi chuyển đến.")},
    )
    note = forms.CharField(
        label=_("Ghi chú"),
        required=False,
        max_length=200,
        widget=UnfoldAdminTextInputWidget,
    )

    def __init__(self, request: Any, object_id: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, object_id, *args, **kwargs)
        field: Any = self.fields["station"]
        field.queryset = transfer_targets(request.user, object_id)


def transfer_targets(user: Any, registration_id: Any) -> Any:
    """Active stations and treatment facilities of the registration's province, except where it is now."""
    registration = (
        access.registrations_for(user).select_related("facility").filter(pk=registration_id).first()
        if registration_id
        else None
    )
    if registration is None:
        return Facility.objects.none()
    return (
        Facility.objects.filter(
            kind__in=ACCEPTING_KINDS, is_active=True, province_code=registration.facility.province_code
        )
        .exclude(pk=registration.facility_id)
        .order_by("kind", "name")
    )


def acting_stations(user: Any) -> Any:
    """Stations and treatment facilities where the user may accept registrations."""
    return access.facilities_for(user, REGISTRATION_WORKFLOW.roles_for("accept")).filter(
        kind__in=ACCEPTING_KINDS, is_active=True
    )


class DeskRegistrationForm(forms.Form):
    """Staff register a person they have verified in person or by phone: the public form minus the OTP."""

    station = forms.ModelChoiceField(
        label=_("Trạm y tế / cơ sở tiếp nhận"),
        queryset=Facility.objects.none(),
        widget=UnfoldAdminSelectWidget,
        empty_label=None,
    )
    relation = forms.ChoiceField(
        label=_("Người đăng ký"),
        choices=screening.choices(screening.RELATIONS),
        initial="self",
        widget=UnfoldAdminRadioSelectWidget,
    )
    registrant_name = forms.CharField(
        label=_("Họ tên người đăng ký giúp"),
        required=False,
        max_length=120,
        widget=UnfoldAdminTextInputWidget,
    )
    full_name = forms.CharField(
        label=_("Họ và tên người bệnh"), max_length=120, widget=UnfoldAdminTextInputWidget
    )
    date_of_birth = forms.DateField(
        label=_("Ngày sinh"),
        input_formats=DATE_INPUT_FORMATS,
        widget=UnfoldAdminSingleDateWidget(format="%d/%m/%Y"),
        help_text=_("dd/mm/yyyy"),
    )
    sex = forms.ChoiceField(
        label=_("Giới tính"), choices=screening.choices(screening.SEXES), widget=UnfoldAdminRadioSelectWidget
    )
    phone = forms.CharField(
        label=_("Số điện thoại di động"),
        max_length=20,
        widget=UnfoldAdminTextInputWidget(attrs={"inputmode": "tel", "placeholder": "0912 345 678"}),
        help_text=_("Tài khoản và mật khẩu được gửi qua SMS tới số này."),
    )
    cccd = forms.CharField(
        label=_("Số CCCD"), required=False, max_length=20, widget=UnfoldAdminTextInputWidget
    )
    bhyt = forms.CharField(
        label=_("Số thẻ BHYT"), required=False, max_length=20, widget=UnfoldAdminTextInputWidget
    )
    province_code = forms.TypedChoiceField(
        label=_("Tỉnh/thành phố"), coerce=int, choices=(), widget=UnfoldAdminSelectWidget
    )
    ward_code = forms.TypedChoiceField(
        label=_("Phường/xã"), coerce=int, choices=(), widget=UnfoldAdminSelectWidget
    )
    street = forms.CharField(
        label=_("Số nhà, đường, thôn/xóm"), required=False, max_length=200, widget=UnfoldAdminTextInputWidget
    )
    test_type = forms.ChoiceField(
        label=_("Loại xét nghiệm"),
        choices=screening.choices(screening.TEST_TYPES),
        widget=UnfoldAdminRadioSelectWidget,
    )
    positive_date = forms.DateField(
        label=_("Ngày có kết quả dương tính"),
        input_formats=DATE_INPUT_FORMATS,
        widget=UnfoldAdminSingleDateWidget(format="%d/%m/%Y"),
    )
    symptoms = forms.MultipleChoiceField(
        label=_("Triệu chứng"),
        required=False,
        choices=screening.choices(screening.SYMPTOMS),
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
    )
    spo2 = forms.IntegerField(
        label=_("SpO2 (%)"),
        required=False,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text=_("Để trống nếu chưa đo."),
    )
    breathing_rate = forms.IntegerField(
        label=_("Nhịp thở (lần/phút)"),
        required=False,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text=_("Để trống nếu chưa đếm."),
    )
    conditions = forms.MultipleChoiceField(
        label=_("Bệnh nền"),
        required=False,
        choices=screening.choices(screening.CONDITIONS),
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
    )
    conditions_stable = forms.BooleanField(
        label=_("Bệnh nền đang ổn định"), required=False, initial=True, widget=UnfoldBooleanSwitchWidget
    )
    pregnant = forms.BooleanField(label=_("Đang mang thai"), required=False, widget=UnfoldBooleanSwitchWidget)
    vaccine_doses = forms.IntegerField(
        label=_("Số mũi vắc xin đã tiêm"), min_value=0, initial=0, widget=UnfoldAdminIntegerFieldWidget
    )
    care = forms.ChoiceField(
        label=_("Khả năng tự chăm sóc"),
        choices=screening.choices(screening.CARE),
        widget=UnfoldAdminRadioSelectWidget,
    )
    can_phone = forms.BooleanField(
        label=_("Liên lạc được với nhân viên y tế qua điện thoại"),
        required=False,
        initial=True,
        widget=UnfoldBooleanSwitchWidget,
    )
    consent = forms.BooleanField(
        label=_("Người bệnh (hoặc người đăng ký giúp) đồng ý cho phép xử lý dữ liệu sức khoẻ"),
        required=False,
        widget=UnfoldBooleanSwitchWidget,
    )
    confirm_risk = confirm_risk_field()

    sections = (
        (_("Nơi tiếp nhận"), ("station",)),
        (
            _("Người bệnh"),
            ("relation", "registrant_name", "full_name", "date_of_birth", "sex", "phone", "cccd", "bhyt"),
        ),
        (_("Địa chỉ"), ("province_code", "ward_code", "street")),
        (
            _("Sàng lọc"),
            (
                "test_type",
                "positive_date",
                "spo2",
                "breathing_rate",
                "symptoms",
                "conditions",
                "conditions_stable",
                "pregnant",
                "vaccine_doses",
                "care",
                "can_phone",
            ),
        ),
        (_("Đồng ý xử lý dữ liệu cá nhân"), ("consent",)),
        (_("Xác nhận tiếp nhận"), ("confirm_risk",)),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stations = acting_stations(user).order_by("name")
        station_field: Any = self.fields["station"]
        station_field.queryset = stations
        names = dict(address.provinces())
        provinces = sorted(
            set(stations.values_list("province_code", flat=True)),
            key=lambda code: address.sort_key(names.get(code, "")),
        )
        province_field: Any = self.fields["province_code"]
        province_field.choices = [(code, names.get(code, str(code))) for code in provinces]
        ward_field: Any = self.fields["ward_code"]
        ward_field.choices = [("", _("— Chọn phường/xã —"))] + [
            (code, name) for province in provinces for code, name in address.wards_of(province)
        ]
        self.initial.setdefault("positive_date", timezone.localdate())
        self.sections_bound = [(title, [self[name] for name in names_]) for title, names_ in self.sections]

    def to_input(self) -> RegistrationInput:
        return RegistrationInput.from_form(self.cleaned_data)

    def add_service_errors(self, errors: dict[str, list[tuple[str, str]]]) -> None:
        """Show the service's field errors next to the fields (unknown fields go to the top)."""
        for field, messages in errors.items():
            for _code, message in messages:
                self.add_error(field if field in self.fields else None, message)
