"""Desk forms for appointments: decline/cancel dialogs, the patient met on the phone or at the counter, the
slot and service choice, re-exams, re-exam calls, walk-ins, and the managers' reminder policy. Forms only
parse input; the services check the rules and write."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.forms import BaseDialogForm
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminRadioSelectWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSingleDateWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from health_f0.appointments.models import AppointmentPolicy, Service
from health_f0.patients.models import Sex

DATE_INPUT_FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"]


class ReasonDialogForm(BaseDialogForm):
    """A reason the patient will read in the SMS (the service requires at least 5 characters)."""

    reason = forms.CharField(
        label=_("Lý do"),
        required=False,
        max_length=300,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=_("Người bệnh nhận lý do này qua SMS."),
    )


class DeclineForm(ReasonDialogForm):
    pass


class CancelForm(ReasonDialogForm):
    pass


class NewPatientForm(forms.Form):
    """A person with no record yet: what the issue asks for (name, date of birth, phone, optionally
    CCCD/BHYT) plus sex, which every patient record has."""

    prefix = "bn"

    full_name = forms.CharField(label=_("Họ và tên"), max_length=120, widget=UnfoldAdminTextInputWidget)
    date_of_birth = forms.DateField(
        label=_("Ngày sinh"),
        input_formats=DATE_INPUT_FORMATS,
        widget=UnfoldAdminSingleDateWidget(format="%d/%m/%Y"),
        help_text=_("dd/mm/yyyy"),
    )
    sex = forms.ChoiceField(label=_("Giới tính"), choices=Sex.choices, widget=UnfoldAdminRadioSelectWidget)
    phone = forms.CharField(
        label=_("Số điện thoại di động"),
        max_length=20,
        widget=UnfoldAdminTextInputWidget(attrs={"inputmode": "tel", "placeholder": "0912 345 678"}),
        help_text=_("Tin nhắn xác nhận và mã tiếp đón được gửi tới số này."),
    )
    cccd = forms.CharField(
        label=_("Số CCCD"), required=False, max_length=20, widget=UnfoldAdminTextInputWidget
    )
    bhyt = forms.CharField(
        label=_("Số thẻ BHYT"), required=False, max_length=20, widget=UnfoldAdminTextInputWidget
    )

    def clean_date_of_birth(self) -> date:
        born: date = self.cleaned_data["date_of_birth"]
        if born > timezone.localdate() or born.year < 1900:
            raise forms.ValidationError(_("Ngày sinh không hợp lệ."))
        return born


class ServiceChoiceMixin:
    fields: dict[str, Any]
    cleaned_data: dict[str, Any]

    def set_services(self, services: list[Service]) -> None:
        field: Any = self.fields["service"]
        field.choices = [("", _("— Chọn dịch vụ —"))] + [
            (str(s.pk), f"{s.name} · {s.facility.name}") for s in services
        ]
        self.services = {str(s.pk): s for s in services}

    def chosen_service(self) -> Service:
        return self.services[self.cleaned_data["service"]]


class SlotForm(ServiceChoiceMixin, forms.Form):
    """A service and one of its slots (the ISO start time of a radio in the slot picker)."""

    service = forms.ChoiceField(label=_("Dịch vụ"), widget=UnfoldAdminSelectWidget)
    slot = forms.CharField(
        label=_("Khung giờ"),
        widget=forms.HiddenInput,
        error_messages={"required": _("Vui lòng chọn một khung giờ còn chỗ.")},
    )
    reason = forms.CharField(
        label=_("Lý do khám"), required=False, max_length=300, widget=UnfoldAdminTextInputWidget
    )

    def __init__(self, *args: Any, services: list[Service], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.set_services(services)

    def clean_slot(self) -> datetime:
        return parse_slot(self.cleaned_data["slot"])


def parse_slot(raw: str) -> datetime:
    """An aware datetime from the slot picker's value (ISO 8601 with offset)."""
    try:
        value = datetime.fromisoformat((raw or "").strip())
    except ValueError:
        raise forms.ValidationError(_("Khung giờ không hợp lệ."))
    if timezone.is_naive(value):
        raise forms.ValidationError(_("Khung giờ không hợp lệ."))
    return value


class MoveForm(forms.Form):
    slot = forms.CharField(
        widget=forms.HiddenInput, error_messages={"required": _("Vui lòng chọn một khung giờ còn chỗ.")}
    )

    def clean_slot(self) -> datetime:
        return parse_slot(self.cleaned_data["slot"])


REEXAM_MODES = [("single", _("Một lần hẹn")), ("plan", _("Định kỳ (bệnh mạn tính)"))]


class ReexamForm(ServiceChoiceMixin, forms.Form):
    service = forms.ChoiceField(label=_("Dịch vụ tái khám"), widget=UnfoldAdminSelectWidget)
    mode = forms.ChoiceField(
        label=_("Hình thức"), choices=REEXAM_MODES, initial="single", widget=UnfoldAdminRadioSelectWidget
    )
    day = forms.DateField(
        label=_("Ngày tái khám"),
        input_formats=DATE_INPUT_FORMATS,
        widget=UnfoldAdminSingleDateWidget(format="%d/%m/%Y"),
        help_text=_("Hệ thống giữ chỗ ở khung giờ trống đầu tiên của ngày này (hoặc các ngày sau)."),
    )
    interval_weeks = forms.IntegerField(
        label=_("Nhắc lại mỗi (tuần)"),
        required=False,
        min_value=1,
        max_value=52,
        initial=4,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text=_("Chỉ dùng cho tái khám định kỳ."),
    )
    end_date = forms.DateField(
        label=_("Kết thúc chương trình"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        widget=UnfoldAdminSingleDateWidget(format="%d/%m/%Y"),
    )
    programme = forms.CharField(
        label=_("Chương trình"),
        required=False,
        max_length=120,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": _("ví dụ: Tăng huyết áp")}),
    )
    reason = forms.CharField(
        label=_("Ghi chú cho lần hẹn"), required=False, max_length=300, widget=UnfoldAdminTextInputWidget
    )

    def __init__(self, *args: Any, services: list[Service], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.set_services(services)
        self.initial.setdefault("day", timezone.localdate() + timedelta(weeks=4))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        day = data.get("day")
        if day is not None and day < timezone.localdate():
            self.add_error("day", _("Ngày tái khám phải từ hôm nay trở đi."))
        if data.get("mode") == "plan" and not data.get("interval_weeks"):
            self.add_error("interval_weeks", _("Vui lòng nhập khoảng cách giữa các lần tái khám."))
        end = data.get("end_date")
        if end is not None and day is not None and end < day:
            self.add_error("end_date", _("Ngày kết thúc phải sau ngày tái khám đầu tiên."))
        return data


class CallForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[("will_come", _("Đã gọi, sẽ đến")), ("no_answer", _("Không nghe máy")), ("other", _("Khác"))]
    )
    note = forms.CharField(required=False, max_length=300)


class WalkInForm(ServiceChoiceMixin, forms.Form):
    service = forms.ChoiceField(label=_("Dịch vụ"), widget=UnfoldAdminSelectWidget)
    reason = forms.CharField(
        label=_("Lý do khám"), required=False, max_length=300, widget=UnfoldAdminTextInputWidget
    )

    def __init__(self, *args: Any, services: list[Service], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.set_services(services)


class AppointmentPolicyForm(forms.ModelForm):
    """Reminder days typed as "3, 1"."""

    reminder_days_text = forms.CharField(
        label=_("Nhắc trước (ngày)"),
        max_length=40,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "3, 1"}),
        help_text=_("Các số ngày trước hẹn, cách nhau bằng dấu phẩy; ví dụ 3, 1 (từ 0 đến 30)."),
    )

    class Meta:
        model = AppointmentPolicy
        fields = ("facility", "reminder_time")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = self.instance.reminder_days_before if self.instance.pk else [3, 1]
        self.initial.setdefault("reminder_days_text", ", ".join(str(d) for d in days or []))

    def clean_reminder_days_text(self) -> list[int]:
        raw = self.cleaned_data["reminder_days_text"]
        parts = [p for p in re.split(r"[,;\s]+", raw.strip()) if p]
        try:
            days = sorted({int(p) for p in parts}, reverse=True)
        except ValueError:
            raise forms.ValidationError(_("Chỉ nhập các số nguyên, ví dụ 3, 1."))
        if not days or any(d < 0 or d > 30 for d in days):
            raise forms.ValidationError(_("Mỗi số ngày phải từ 0 đến 30."))
        return days

    def save(self, commit: bool = True) -> AppointmentPolicy:
        self.instance.reminder_days_before = self.cleaned_data["reminder_days_text"]
        return super().save(commit=commit)
