"""Portal forms for appointments: they only parse input into types. Identity checks (phone, CCCD, BHYT,
date of birth), the OTP, capacity, overlap and the cut-off are the appointments services' rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from health_f0.core.exceptions import DomainError
from health_f0.core.phone import normalize_mobile
from health_f0.core.text import clean_person_name
from health_f0.patients.identifiers import clean_bhyt, clean_cccd
from health_f0.patients.models import Sex
from health_f0.patients.persons import date_of_birth_check
from health_f0.www.forms import DATE_FORMATS, DateText, bhyt_field, cccd_field, otp_field, phone_field

REASON_MAX = 300


def _rule(check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Apply one of the identity rules the booking service applies (the same functions, the same messages),
    so a form shows its own errors and the rules' errors in one round, not one after the other."""
    try:
        return check(*args, **kwargs)
    except DomainError as exc:
        raise forms.ValidationError(exc.message, code=exc.code) from None


def _reason_field(label: Any, help_text: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=REASON_MAX,
        help_text=help_text,
        error_messages={"max_length": _("Vui lòng viết ngắn hơn (tối đa 300 ký tự).")},
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": str(REASON_MAX)}),
    )


class AccountBookingForm(forms.Form):
    """A logged-in account books for itself or a family member on the same phone."""

    patient = forms.ChoiceField(
        label=_("Đặt lịch cho ai?"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Vui lòng chọn người đi khám."),
            "invalid_choice": _("Vui lòng chọn người đi khám."),
        },
    )
    reason = _reason_field(
        _("Lý do khám, triệu chứng"),
        _("Không bắt buộc. Ví dụ: đau đầu, chóng mặt 3 ngày nay; khám định kỳ huyết áp."),
    )

    def __init__(self, *args: Any, patients: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["patient"]
        field.choices = [  # type: ignore[attr-defined]
            (str(p.public_id), f"{p.full_name} ({p.date_of_birth:%d/%m/%Y})") for p in patients
        ]
        if len(patients) == 1 and not self.is_bound:
            self.initial["patient"] = str(patients[0].public_id)


class GuestBookingForm(forms.Form):
    """Someone without an account: who is coming, the phone to verify by OTP, and why."""

    full_name = forms.CharField(
        label=_("Họ và tên người đi khám"),
        max_length=120,
        error_messages={"required": _("Vui lòng nhập họ và tên người đi khám.")},
        widget=forms.TextInput(attrs={"autocomplete": "name", "autocapitalize": "words"}),
    )
    date_of_birth = forms.DateField(
        label=_("Ngày sinh"),
        input_formats=DATE_FORMATS,
        help_text=_("Ngày/tháng/năm, ví dụ 05/09/1990."),
        error_messages={
            "required": _("Vui lòng nhập ngày sinh."),
            "invalid": _("Ngày sinh không hợp lệ. Nhập theo dạng ngày/tháng/năm, ví dụ 05/09/1990."),
        },
        widget=DateText(attrs={"autocomplete": "bday"}),
    )
    sex = forms.ChoiceField(
        label=_("Giới tính"),
        choices=[(Sex.MALE, _("Nam")), (Sex.FEMALE, _("Nữ")), (Sex.OTHER, _("Khác"))],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Vui lòng chọn giới tính."),
            "invalid_choice": _("Vui lòng chọn giới tính."),
        },
    )
    phone = phone_field(_("Mã OTP, tin nhắn xác nhận và nhắc lịch được gửi tới số này."))
    cccd = cccd_field()
    bhyt = bhyt_field()
    reason = AccountBookingForm.base_fields["reason"]
    consent = forms.BooleanField(
        label=_(
            "Tôi đồng ý để cơ sở khám bệnh xử lý thông tin cá nhân và sức khoẻ trên đây để đặt lịch, nhắc lịch "
            "và khám bệnh."
        ),
        error_messages={"required": _("Cần đồng ý cho phép xử lý dữ liệu cá nhân để đặt lịch.")},
    )
    otp = otp_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from health_f0.privacy.selectors import policy_current

        super().__init__(*args, **kwargs)
        self.policy_version = policy_current().version  # the version shown next to the box, and recorded

    def clean_full_name(self) -> str:
        return str(_rule(clean_person_name, self.cleaned_data["full_name"]))

    def clean_phone(self) -> str:
        return str(_rule(normalize_mobile, self.cleaned_data["phone"]))

    def clean_bhyt(self) -> str:
        return str(_rule(clean_bhyt, self.cleaned_data.get("bhyt") or ""))

    def clean_date_of_birth(self) -> date:
        born: date = _rule(date_of_birth_check, self.cleaned_data["date_of_birth"])
        return born

    def clean(self) -> dict[str, Any]:
        """Every error at once: the CCCD against the date of birth and sex, and the OTP a booking needs (the
        booking service checks them all again; the OTP's value only it can check)."""
        data = super().clean() or {}
        if data.get("cccd"):
            sex = data.get("sex") if data.get("sex") in (Sex.MALE, Sex.FEMALE) else None
            try:
                data["cccd"] = _rule(
                    clean_cccd, data["cccd"], date_of_birth=data.get("date_of_birth"), sex=sex
                )
            except forms.ValidationError as exc:
                self.add_error("cccd", exc)
        if self.data.get("action", "submit") != "otp":
            otp = (data.get("otp") or "").strip()
            if not otp:
                self.add_error(
                    "otp",
                    _("Vui lòng nhập mã OTP 6 chữ số đã gửi tới số điện thoại (chưa có mã: bấm “Nhận OTP”)."),
                )
            elif not (len(otp) == 6 and otp.isdigit()):
                self.add_error("otp", _("Mã OTP gồm 6 chữ số."))
        return data

    def keep_errors(self, names: set[str]) -> None:
        """Show only some fields' errors (only `phone` when the person asked for an OTP)."""
        errors = self.errors
        for name in list(errors):
            if name not in names:
                del errors[name]

    def add_service_errors(self, errors: dict[str, list[tuple[str, str]]]) -> None:
        for name, items in errors.items():
            target = name if name in self.fields else None
            for _code, message in items:
                self.add_error(target, message)


class OtpForm(forms.Form):
    """The code texted to the booking's phone (to open the booking from the SMS link)."""

    otp = otp_field()


class CancelForm(forms.Form):
    reason = _reason_field(
        _("Lý do huỷ"),
        _("Không bắt buộc, nhưng giúp cơ sở sắp xếp tốt hơn. Ví dụ: đã khỏi bệnh, bận việc đột xuất."),
    )
