"""Portal forms: they only parse input into types. The domain rules live in the services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.utils.functional import lazy
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from health_f0.accounts.lockout import check_current_password
from health_f0.accounts.passwords import is_staff_account
from health_f0.core.exceptions import RateLimited
from health_f0.patients import address
from health_f0.registration import screening
from health_f0.registration import selectors as registration_selectors
from health_f0.registration.services import RegistrationInput

DATE_FORMATS = ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y", "%Y-%m-%d"]
YES_NO = [("yes", _("Có")), ("no", _("Không"))]


def _options(options: list[screening.Option]) -> list[tuple[str, str]]:
    """Option labels are data (vi/en), not gettext strings: pick by the active language, but only once an
    English catalogue is installed, so a browser asking for English never gets a half-English form."""
    english = (get_language() or "vi").startswith("en") and gettext("Họ và tên người bệnh") != (
        "Họ và tên người bệnh"
    )
    return [(o.code, o.en if english else o.vi) for o in options]


def _required(message: Any) -> dict[str, Any]:
    return {"required": message}


def _fill(message: Any, what: Any, capitalize: bool = False) -> str:
    text = str(what)
    return str(message) % {"what": text.capitalize() if capitalize else text}


# Evaluated when the message is shown, in the language of that request (not once, at import).
_fill_lazy = lazy(_fill, str)


def _date_messages(what: Any) -> dict[str, Any]:
    return {
        "required": _fill_lazy(_("Vui lòng nhập %(what)s."), what),
        "invalid": _fill_lazy(
            _("%(what)s không hợp lệ. Nhập theo dạng ngày/tháng/năm, ví dụ 05/09/1990."), what, True
        ),
    }


class DateText(forms.TextInput):
    """A plain text box showing dd/mm/yyyy: works on every phone browser, with or without JS."""

    def __init__(self, attrs: dict[str, Any] | None = None):
        base = {
            "inputmode": "numeric",
            "placeholder": "dd/mm/yyyy",
            "maxlength": "10",
            "class": "input-date",
        }
        base.update(attrs or {})
        super().__init__(attrs=base)

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, date):
            return value.strftime("%d/%m/%Y")
        return super().format_value(value)


# --- Fields every portal form asks the same way (registration, the guest booking) -------------------


def phone_field(help_text: Any) -> forms.CharField:
    """The mobile number an OTP goes to (`help_text`: what else is sent there)."""
    return forms.CharField(
        label=_("Số điện thoại di động"),
        max_length=20,
        help_text=help_text,
        error_messages=_required(_("Vui lòng nhập số điện thoại di động.")),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )


def cccd_field() -> forms.CharField:
    return forms.CharField(
        label=_("Số căn cước công dân (CCCD)"),
        required=False,
        max_length=20,
        help_text=_("Không bắt buộc. 12 chữ số."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


def bhyt_field() -> forms.CharField:
    return forms.CharField(
        label=_("Số thẻ bảo hiểm y tế (BHYT)"),
        required=False,
        max_length=20,
        help_text=_("Không bắt buộc. Mã số BHXH 10 chữ số hoặc 15 ký tự in trên thẻ."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )


def otp_field() -> forms.CharField:
    return forms.CharField(
        label=_("Mã OTP (6 chữ số)"),
        required=False,
        max_length=6,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "maxlength": "6",
                "class": "input-otp",
            }
        ),
    )


def _measure_field(label: Any, help_text: Any, *, invalid: Any) -> forms.IntegerField:
    """An optional whole-number measurement typed on a phone (SpO2, breathing rate)."""
    return forms.IntegerField(
        label=label,
        required=False,
        help_text=help_text,
        error_messages={"invalid": invalid},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "maxlength": "3", "class": "input-short"}),
    )


class RegistrationForm(forms.Form):
    """Every field of RegistrationInput, plus the OTP. Ranges and cross-field rules: registration_validate."""

    relation = forms.ChoiceField(
        label=_("Ai đang đăng ký?"),
        widget=forms.RadioSelect,
        initial="self",
        error_messages=_required(_("Vui lòng chọn ai là người đăng ký.")),
    )
    registrant_name = forms.CharField(
        label=_("Họ và tên người đăng ký giúp"),
        required=False,
        max_length=120,
        help_text=_("Chỉ điền khi bạn đăng ký giúp người thân."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    full_name = forms.CharField(
        label=_("Họ và tên người bệnh"),
        max_length=120,
        error_messages=_required(_("Vui lòng nhập họ và tên người bệnh.")),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "words"}),
    )
    date_of_birth = forms.DateField(
        label=_("Ngày sinh"),
        input_formats=DATE_FORMATS,
        help_text=_("Ngày/tháng/năm, ví dụ 05/09/1990."),
        error_messages=_date_messages(_("ngày sinh")),
        widget=DateText(),
    )
    sex = forms.ChoiceField(
        label=_("Giới tính"),
        widget=forms.RadioSelect,
        error_messages=_required(_("Vui lòng chọn giới tính.")),
    )
    phone = phone_field(_("Mã OTP và tài khoản đăng nhập sẽ được gửi tới số này."))
    cccd = cccd_field()
    bhyt = bhyt_field()
    province_code = forms.IntegerField(
        label=_("Tỉnh/thành phố"),
        error_messages=_required(_("Vui lòng chọn tỉnh/thành phố.")),
        widget=forms.Select(attrs={"data-wards-url": ""}),
    )
    ward_code = forms.IntegerField(
        label=_("Phường/xã/đặc khu"),
        error_messages=_required(_("Vui lòng chọn phường/xã.")),
        widget=forms.Select,
    )
    street = forms.CharField(
        label=_("Số nhà, đường, thôn/xóm"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    test_type = forms.ChoiceField(
        label=_("Loại xét nghiệm dương tính"),
        widget=forms.RadioSelect,
        error_messages=_required(_("Vui lòng chọn loại xét nghiệm.")),
    )
    positive_date = forms.DateField(
        label=_("Ngày có kết quả dương tính"),
        input_formats=DATE_FORMATS,
        help_text=_("Ngày/tháng/năm."),
        error_messages=_date_messages(_("ngày có kết quả dương tính")),
        widget=DateText(),
    )
    symptoms = forms.MultipleChoiceField(
        label=_("Triệu chứng hiện có"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Chọn tất cả triệu chứng đang có. Mục có dấu ⚠ là dấu hiệu nguy hiểm."),
    )
    spo2 = _measure_field(
        _("Chỉ số SpO2 (%)"),
        _(
            "Không bắt buộc. Nếu có máy đo SpO2: ngồi nghỉ 5 phút, kẹp máy vào ngón tay trỏ, "
            "chờ số ổn định rồi ghi lại (ví dụ 98). Không có máy thì để trống."
        ),
        invalid=_("SpO2 phải là một số nguyên, ví dụ 98."),
    )
    breathing_rate = _measure_field(
        _("Nhịp thở (lần/phút)"),
        _(
            "Không bắt buộc. Khi người bệnh nằm yên, đếm số lần lồng ngực (hoặc bụng) nhô lên "
            "trong đúng 1 phút."
        ),
        invalid=_("Nhịp thở phải là một số nguyên, ví dụ 18."),
    )
    conditions = forms.MultipleChoiceField(
        label=_("Bệnh nền"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Không có bệnh nền thì bỏ qua mục này."),
    )
    conditions_stable = forms.ChoiceField(
        label=_("Nếu có bệnh nền: bệnh có đang được điều trị ổn định không?"),
        choices=YES_NO,
        initial="yes",
        widget=forms.RadioSelect,
    )
    pregnancy = forms.ChoiceField(
        label=_("Mang thai"),
        initial="no",
        widget=forms.RadioSelect,
    )
    vaccine_doses = forms.TypedChoiceField(
        label=_("Số mũi vắc xin COVID-19 đã tiêm"),
        coerce=int,
        choices=[(n, str(n)) for n in range(screening.VACCINE_DOSES_MAX + 1)],
        initial=0,
    )
    care = forms.ChoiceField(
        label=_("Khả năng tự chăm sóc"),
        widget=forms.RadioSelect,
        error_messages=_required(_("Vui lòng chọn khả năng tự chăm sóc.")),
    )
    can_phone = forms.ChoiceField(
        label=_("Người bệnh hoặc người nhà có liên lạc được với nhân viên y tế qua điện thoại không?"),
        choices=YES_NO,
        initial="yes",
        widget=forms.RadioSelect,
    )
    consent = forms.BooleanField(required=False)
    otp = otp_field()

    # The service reports `pregnant`; the form asks it as the `pregnancy` question.
    SERVICE_FIELD_ALIASES = {"pregnant": "pregnancy"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = self.fields
        for name, options in (
            ("relation", screening.RELATIONS),
            ("sex", screening.SEXES),
            ("test_type", screening.TEST_TYPES),
            ("symptoms", screening.SYMPTOMS),
            ("conditions", screening.CONDITIONS),
            ("pregnancy", screening.PREGNANCY),
            ("care", screening.CARE),
        ):
            fields[name].choices = _options(options)  # type: ignore[attr-defined]
        placeholder_province = [("", _("— Chọn tỉnh/thành phố —"))]
        fields["province_code"].widget.choices = placeholder_province + list(address.provinces())  # type: ignore[attr-defined]
        province = self.selected_province()
        if province:
            wards: list[tuple[Any, Any]] = [("", _("— Chọn phường/xã —"))]
            wards += list(address.wards_of(province))
        else:
            wards = [("", _("— Chọn tỉnh/thành phố trước —"))]
        fields["ward_code"].widget.choices = wards  # type: ignore[attr-defined]
        # Only provinces with stations take registrations: say so as soon as another one is chosen (the
        # template's note; register.js shows it live from data-served).
        served = registration_selectors.served_province_codes()
        province_attrs = fields["province_code"].widget.attrs
        province_attrs["data-served"] = " ".join(str(code) for code in sorted(served))
        self.province_not_served = province is not None and province not in served
        if self.province_not_served:
            province_attrs["aria-describedby"] = "province-note"
        self.served_province_names = ", ".join(registration_selectors.served_province_names())

    def selected_province(self) -> int | None:
        raw: Any = self.data.get("province_code") if self.is_bound else self.initial.get("province_code")
        try:
            code = int(raw)
        except (TypeError, ValueError):
            return None
        return code if code in dict(address.provinces()) else None

    def keep_errors(self, names: set[str]) -> None:
        """Show only some fields' errors (e.g. only `phone` when the person asked for an OTP)."""
        errors = self.errors
        for name in list(errors):
            if name not in names:
                del errors[name]

    def add_service_errors(self, errors: dict[str, list[tuple[str, str]]]) -> None:
        for name, items in errors.items():
            target = self.SERVICE_FIELD_ALIASES.get(name, name)
            if target not in self.fields:
                target = None  # type: ignore[assignment]
            for _code, message in items:
                self.add_error(target, message)

    def to_input(self) -> RegistrationInput:
        d = self.cleaned_data
        return RegistrationInput.from_form(
            d,
            conditions_stable=d.get("conditions_stable", "yes") != "no",
            pregnant=d.get("pregnancy") == "yes",
            can_phone=d.get("can_phone", "yes") != "no",
        )


class LoginForm(auth_forms.AuthenticationForm):
    error_messages = {
        "invalid_login": _(
            "Số điện thoại, tên tài khoản hoặc mật khẩu không đúng. Lưu ý mật khẩu phân biệt chữ hoa và chữ "
            "thường. Nhiều người trong gia đình dùng chung một số điện thoại: hãy nhập tên tài khoản."
        ),
        "inactive": _("Tài khoản này đã bị khoá. Vui lòng liên hệ trạm y tế."),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Số điện thoại hoặc tên tài khoản")
        self.fields["username"].help_text = _(
            "Số điện thoại đã xác thực của bạn, hoặc tên tài khoản trong tin nhắn SMS, ví dụ bn1234567."
        )
        self.fields["username"].widget.attrs.update({"autocapitalize": "none", "spellcheck": "false"})
        self.fields["password"].label = _("Mật khẩu")
        self.fields["username"].error_messages["required"] = _(
            "Vui lòng nhập số điện thoại hoặc tên tài khoản."
        )
        self.fields["password"].error_messages["required"] = _("Vui lòng nhập mật khẩu.")


class NewPasswordForm(auth_forms.SetPasswordForm):
    """Choose a new password (validated with AUTH_PASSWORD_VALIDATORS); saving is the service's job."""

    error_messages = {"password_mismatch": _("Hai mật khẩu mới không giống nhau.")}

    def __init__(self, *args: Any, request: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.fields["new_password1"].label = _("Mật khẩu mới")
        self.fields["new_password1"].help_text = (
            _("Ít nhất 12 ký tự, không toàn chữ số, không quá dễ đoán và không giống tên tài khoản.")
            if is_staff_account(self.user)
            else _("Ít nhất 8 ký tự, không toàn chữ số, không quá dễ đoán và không giống tên tài khoản.")
        )
        self.fields["new_password2"].label = _("Nhập lại mật khẩu mới")
        self.fields["new_password2"].help_text = ""
        for name in ("new_password1", "new_password2"):
            self.fields[name].error_messages["required"] = _("Vui lòng nhập mật khẩu mới.")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        new = cleaned.get("new_password1")
        if new and self.user.check_password(new):
            self.add_error("new_password1", _("Mật khẩu mới phải khác mật khẩu hiện tại."))
        return cleaned


class ChangePasswordForm(NewPasswordForm):
    """For a user who chose their own password before: the current one is asked first."""

    old_password = forms.CharField(
        label=_("Mật khẩu hiện tại"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
        error_messages={"required": _("Vui lòng nhập mật khẩu hiện tại.")},
    )
    field_order = ["old_password", "new_password1", "new_password2"]

    def clean_old_password(self) -> str:
        """Checked like a login (accounts.lockout): guessing here is locked out like guessing at login."""
        old: str = self.cleaned_data["old_password"]
        try:
            right = check_current_password(request=self.request, user=self.user, password=old)
        except RateLimited as exc:
            raise forms.ValidationError(exc.message, code="locked_out")
        if not right:
            raise forms.ValidationError(_("Mật khẩu hiện tại không đúng."), code="password_incorrect")
        return old


RESERVED_FIELDS = frozenset({"patient", "idempotency_key"})


def _number_text(value: Any, decimals: int) -> str:
    number = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals))
    return format(number, "f").replace(".", ",").removesuffix(",0") if decimals else str(int(number))


class DeclarationForm(forms.Form):
    """The daily questionnaire, built from the active version's questions (data, not code).

    It only collects raw answers: numbers stay text ("37,5" is fine) and the ranges, required answers and
    options are checked by monitoring.services.declaration_clean, whose messages are shown per field.
    """

    patient = forms.UUIDField(widget=forms.HiddenInput)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, questions: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = [q for q in questions if q.code not in RESERVED_FIELDS]
        english = (get_language() or "vi").startswith("en") and gettext("Họ và tên người bệnh") != (
            "Họ và tên người bệnh"
        )
        for q in self.questions:
            text = (q.text_en if english and q.text_en else q.text_vi) or q.code
            if q.type == "number":
                label = text  # the unit is shown next to the box (and read out with the label)
                hint = ""
                if q.min_value is not None and q.max_value is not None:
                    hint = gettext("Nhập số từ %(low)s đến %(high)s.") % {
                        "low": _number_text(q.min_value, q.decimals),
                        "high": _number_text(q.max_value, q.decimals),
                    }
                    if q.decimals:
                        hint += " " + gettext("Số lẻ viết bằng dấu phẩy hoặc dấu chấm.")
                advice = q.help_vi.strip()
                if advice and not advice.endswith("."):
                    advice += "."
                field: forms.Field = forms.CharField(
                    label=label,
                    required=False,
                    max_length=12,
                    help_text=" ".join(p for p in (advice, hint) if p),
                    widget=forms.TextInput(
                        attrs={"inputmode": "decimal", "autocomplete": "off", "class": "input-short"}
                    ),
                )
            elif q.type in ("multi", "choice"):
                choices = [(o["code"], (o.get("en") if english else None) or o["vi"]) for o in q.options]
                multi = q.type == "multi"
                field = (forms.MultipleChoiceField if multi else forms.ChoiceField)(
                    label=text,
                    required=False,
                    choices=choices,
                    help_text=q.help_vi,
                    widget=forms.CheckboxSelectMultiple if multi else forms.RadioSelect,
                )
            else:
                field = forms.CharField(
                    label=text,
                    required=False,
                    max_length=1000,
                    help_text=q.help_vi or gettext("Không bắt buộc. Tối đa 1000 ký tự."),
                    widget=forms.Textarea(attrs={"rows": 3}),
                )
            field.question = q  # type: ignore[attr-defined]
            self.fields[q.code] = field

    def question_fields(self) -> list[Any]:
        return [self[q.code] for q in self.questions]

    def answers(self) -> dict[str, Any]:
        """Raw answers by question code; unanswered questions are left out."""
        data = self.cleaned_data
        answers: dict[str, Any] = {}
        for q in self.questions:
            value = data.get(q.code)
            if value in (None, "", []):
                continue
            answers[q.code] = value.strip() if isinstance(value, str) else value
        return answers

    def add_service_errors(self, errors: dict[str, list[tuple[str, str]]]) -> None:
        for name, items in errors.items():
            target = name if name in self.fields and name not in RESERVED_FIELDS else None
            for _code, message in items:
                self.add_error(target, message)
