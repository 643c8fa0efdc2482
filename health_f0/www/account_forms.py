"""Portal forms for opening an account, adding a family member and resetting a forgotten password. They only
parse input: the identity rules are the guest booking form's (the same patients.persons checks), the
password rules Django's validators run by accounts.signup, the OTP only the service checks."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from health_f0.core.phone import normalize_mobile
from health_f0.www.appointment_forms import GuestBookingForm, _rule
from health_f0.www.forms import otp_field, phone_field


def _password_field(label: Any, help_text: Any = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        help_text=help_text,
        max_length=256,
        error_messages={"required": _("Vui lòng nhập mật khẩu.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


PASSWORD_HELP = _("Ít nhất 8 ký tự, không toàn chữ số, không quá dễ đoán và không giống họ tên.")


class _OtpRequired:
    """The OTP box's rule of GuestBookingForm.clean, for forms that are not a GuestBookingForm."""

    data: Any

    def otp_check(self, form: forms.Form, data: dict[str, Any]) -> None:
        if self.data.get("action", "submit") == "otp":
            return
        otp = (data.get("otp") or "").strip()
        if not otp:
            form.add_error(
                "otp",
                _("Vui lòng nhập mã OTP 6 chữ số đã gửi tới số điện thoại (chưa có mã: bấm “Nhận OTP”)."),
            )
        elif not (len(otp) == 6 and otp.isdigit()):
            form.add_error("otp", _("Mã OTP gồm 6 chữ số."))


class SignupForm(GuestBookingForm):
    """Open an account: who you are (the guest booking's identity fields and checks), the phone to prove by
    OTP, a password, and the policy consent."""

    reason = None  # type: ignore[assignment]
    phone = phone_field(_("Mã OTP được gửi tới số này. Số này dùng để lấy lại mật khẩu và nhận tin nhắn."))
    password = _password_field(_("Mật khẩu"), PASSWORD_HELP)
    password2 = _password_field(_("Nhập lại mật khẩu"))
    consent = forms.BooleanField(
        label=_(
            "Tôi đồng ý để Sở Y tế và các cơ sở khám bệnh xử lý thông tin cá nhân và sức khoẻ của tôi theo chính sách trên."
        ),
        error_messages={"required": _("Cần đồng ý với chính sách bảo vệ dữ liệu cá nhân để mở tài khoản.")},
    )
    field_order = [
        "full_name",
        "date_of_birth",
        "sex",
        "phone",
        "cccd",
        "bhyt",
        "password",
        "password2",
        "consent",
        "otp",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["full_name"].label = _("Họ và tên")
        self.fields["full_name"].error_messages["required"] = _("Vui lòng nhập họ và tên.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password") and data.get("password2") and data["password"] != data["password2"]:
            self.add_error("password2", _("Hai mật khẩu không giống nhau."))
        return data


class FamilyMemberForm(GuestBookingForm):
    """Add a child or an elderly parent on the account's own proved number (the number is not asked)."""

    reason = None  # type: ignore[assignment]
    phone = None  # type: ignore[assignment]
    consent = forms.BooleanField(
        label=_(
            "Tôi là người giám hộ hoặc được người này đồng ý, và đồng ý để xử lý thông tin cá nhân và sức khoẻ của người này theo chính sách trên."
        ),
        error_messages={"required": _("Cần đồng ý với chính sách bảo vệ dữ liệu cá nhân để thêm người nhà.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["full_name"].label = _("Họ và tên người nhà")
        self.fields["full_name"].error_messages["required"] = _("Vui lòng nhập họ và tên người nhà.")


class PasswordResetForm(forms.Form, _OtpRequired):
    """Forgot password: the number (a code goes there if it has an account), then the code and a new
    password; `username` only when the number serves several accounts of a family."""

    phone = phone_field(_("Số điện thoại đã dùng khi mở tài khoản hoặc đăng ký."))
    otp = otp_field()
    # Typed as text: the choices exist only once the service has named the accounts (after the OTP), and
    # the service checks the pick against them.
    username = forms.CharField(
        label=_("Tài khoản cần đặt lại mật khẩu"), required=False, max_length=150, widget=forms.RadioSelect
    )
    new_password1 = _password_field(_("Mật khẩu mới"), PASSWORD_HELP)
    new_password2 = _password_field(_("Nhập lại mật khẩu mới"))

    def __init__(self, *args: Any, accounts: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.choices = [  # type: ignore[attr-defined]
            (a.username, f"{a.full_name} ({a.username})") for a in accounts or []
        ]
        self.fields["phone"].label = _("Số điện thoại di động")

    def clean_phone(self) -> str:
        return str(_rule(normalize_mobile, self.cleaned_data["phone"]))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.otp_check(self, data)
        if (
            data.get("new_password1")
            and data.get("new_password2")
            and data["new_password1"] != data["new_password2"]
        ):
            self.add_error("new_password2", _("Hai mật khẩu mới không giống nhau."))
        return data

    def keep_errors(self, names: set[str]) -> None:
        for name in list(self.errors):
            if name not in names:
                del self.errors[name]
