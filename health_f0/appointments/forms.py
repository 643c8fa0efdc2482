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
    UnfoldAdminDateWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminRadioSelectWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from health_f0.appointments.models import AppointmentPolicy, ScheduleOverride, Service
from health_f0.patients.models import Sex

DATE_INPUT_FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"]


def desk_date_widget(**attrs: Any) -> UnfoldAdminDateWidget:
    """A dd/mm/yyyy text box with the desk's calendar picker. Unlike the single-date widget it brings the
    admin's core.js too, so the picker also works on the desk's own pages (not only on model forms)."""
    return UnfoldAdminDateWidget(
        attrs={"placeholder": "dd/mm/yyyy", "autocomplete": "off", **attrs}, format="%d/%m/%Y"
    )


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
        widget=desk_date_widget(),
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
    consent_oral = forms.BooleanField(
        label=_("Người bệnh (hoặc người gọi) đã đồng ý bằng lời cho xử lý dữ liệu cá nhân"),
        help_text=_(
            "Đọc cho người bệnh: “Cơ sở ghi thông tin của anh/chị để đặt lịch, nhắn tin nhắc lịch và khám bệnh, "
            "theo chính sách bảo vệ dữ liệu cá nhân trên cổng thông tin. Anh/chị có đồng ý không?”"
        ),
        error_messages={"required": _("Cần người bệnh đồng ý (bằng lời) trước khi ghi thông tin.")},
        widget=UnfoldBooleanSwitchWidget,
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
    limits_override = forms.CharField(
        label=_("Lý do đặt vượt giới hạn (nếu cần)"),
        required=False,
        max_length=300,
        widget=UnfoldAdminTextInputWidget,
        help_text=_(
            "Chỉ điền khi người bệnh đã đủ số lịch hẹn cho phép (mỗi dịch vụ, mỗi ngày, mỗi tuần) mà vẫn cần "
            "đặt thêm, ví dụ theo chỉ định của bác sĩ. Lý do được ghi vào nhật ký."
        ),
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


class SlotDayForm(forms.Form):
    """The slot pickers' first day ("Xem từ ngày", ?tu=dd/mm/yyyy): the clerk jumps to the day the patient
    asks for instead of paging 7 days at a time from today. The field belongs to the GET form `slot-day-form`
    (placed outside the booking's POST form, see _slot_day.html)."""

    tu = forms.DateField(
        label=_("Xem từ ngày"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        widget=desk_date_widget(form="slot-day-form"),
        error_messages={"invalid": _("Ngày không hợp lệ: nhập theo dạng ngày/tháng/năm, ví dụ 20/12/2026.")},
    )


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
        widget=desk_date_widget(),
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
        widget=desk_date_widget(),
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


class ScheduleOverrideForm(forms.ModelForm):
    """A date that differs from the week (the override page and the rows on the service page): either closed
    all day, with no hours, or open with its own hours, the end after the start; never a day already past.
    The date picker and dd/mm/yyyy come from the desk's date widget and health_f0.formats."""

    class Meta:
        model = ScheduleOverride
        fields = ("service", "doctor", "date", "is_closed", "start_time", "end_time", "reason")
        labels = {"service": _("Dịch vụ")}
        help_texts = {
            "date": _("Ngày/tháng/năm, ví dụ 20/12/2026; hoặc bấm biểu tượng lịch để chọn."),
            "start_time": _("Giờ:phút, ví dụ 07:30. Để trống nếu nghỉ cả ngày."),
        }

    def clean_date(self) -> date:
        day: date = self.cleaned_data["date"]
        unchanged = self.instance.pk is not None and self.instance.date == day
        if day < timezone.localdate() and not unchanged:
            raise forms.ValidationError(
                _("Ngày đã qua: chỉ đặt lịch thay đổi cho hôm nay hoặc các ngày tới.")
            )
        return day

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start_time"), data.get("end_time")
        if self.has_error("start_time") or self.has_error("end_time"):
            return data  # a time that could not be read already says so
        if data.get("is_closed"):
            if start is not None or end is not None:
                self.add_error(
                    "start_time",
                    _(
                        "Ngày nghỉ cả ngày thì không nhập giờ. Bỏ chọn “nghỉ cả ngày” nếu ngày này làm theo giờ riêng."
                    ),
                )
            return data
        if start is None:
            self.add_error(
                "start_time",
                _("Vui lòng nhập giờ bắt đầu và giờ kết thúc, hoặc chọn “nghỉ cả ngày”."),
            )
        if end is None:
            self.add_error("end_time", _("Vui lòng nhập giờ kết thúc."))
        if start is not None and end is not None and end <= start:
            self.add_error("end_time", _("Giờ kết thúc phải sau giờ bắt đầu."))
        return data


# The reception queue's settings: a form that leaves one out keeps its current (or default) value.
POLICY_QUEUE_FIELDS = (
    "booked_priority",
    "interleave_ratio",
    "elderly_age",
    "recall_limit",
    "skip_back",
    "skip_limit",
)


class AppointmentPolicyForm(forms.ModelForm):
    """Reminder days typed as "3, 1"; the queue settings (POLICY_QUEUE_FIELDS) keep their value when left out."""

    reminder_days_text = forms.CharField(
        label=_("Nhắc trước (ngày)"),
        max_length=40,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "3, 1"}),
        help_text=_("Các số ngày trước hẹn, cách nhau bằng dấu phẩy; ví dụ 3, 1 (từ 0 đến 30)."),
    )

    class Meta:
        model = AppointmentPolicy
        fields = (
            "facility",
            "reminder_time",
            "booked_priority",
            "interleave_ratio",
            "elderly_age",
            "recall_limit",
            "skip_back",
            "skip_limit",
            "max_live_per_service",
            "max_per_day",
            "max_per_week",
        )

    LIMITS = ("max_live_per_service", "max_per_day", "max_per_week")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = self.instance.reminder_days_before if self.instance.pk else [3, 1]
        self.initial.setdefault("reminder_days_text", ", ".join(str(d) for d in days or []))
        # Left empty: kept as it is (a new policy: the defaults).
        for name in (*POLICY_QUEUE_FIELDS, *self.LIMITS):
            if name in self.fields:
                self.fields[name].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in (*POLICY_QUEUE_FIELDS, *self.LIMITS):
            if data.get(name) in (None, ""):
                data[name] = getattr(self.instance, name)
        return data

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
