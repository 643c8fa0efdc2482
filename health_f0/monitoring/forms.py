"""Desk forms for home-care monitoring: board filters, alert handling, calls, ending an episode, and the
managers' configuration (policy, guidance). Forms only parse input; the services check the rules and write.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms
from django.core.validators import FileExtensionValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.forms import BaseDialogForm
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSingleDateWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from health_f0.facilities.models import Facility, StationWard
from health_f0.monitoring.models import Alert, AlertLevel, EpisodeStatus, GuidanceDocument, ProvincePolicy
from health_f0.monitoring.selectors import BoardFilters, episode_open_alerts
from health_f0.monitoring.services import STAFF_OUTCOMES

DATE_INPUT_FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"]
PDF_MAX_BYTES = 10 * 1024 * 1024
NEGATIVE_TEST_TYPES = [("rapid", _("Test nhanh kháng nguyên")), ("rt_pcr", _("RT-PCR"))]


class BoardForm(forms.Form):
    """The board's query string: which station, and the patient-table filters. Bad values are ignored."""

    facility = forms.ChoiceField(label=_("Trạm y tế"), required=False, widget=UnfoldAdminSelectWidget)
    ward = forms.TypedChoiceField(
        label=_("Phường/xã"), required=False, coerce=int, empty_value=None, widget=UnfoldAdminSelectWidget
    )
    level = forms.ChoiceField(
        label=_("Mức cảnh báo"),
        required=False,
        choices=[("", _("Tất cả"))] + list(AlertLevel.choices),
        widget=UnfoldAdminSelectWidget,
    )
    day = forms.IntegerField(
        label=_("Ngày thứ"), required=False, min_value=1, max_value=90, widget=UnfoldAdminIntegerFieldWidget
    )
    age_min = forms.IntegerField(
        label=_("Tuổi từ"), required=False, min_value=0, max_value=130, widget=UnfoldAdminIntegerFieldWidget
    )
    age_max = forms.IntegerField(
        label=_("đến"), required=False, min_value=0, max_value=130, widget=UnfoldAdminIntegerFieldWidget
    )

    def __init__(self, *args: Any, stations: list[Facility], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stations = {str(s.pk): s for s in stations}
        facility: Any = self.fields["facility"]
        facility.choices = [(key, s.name) for key, s in self.stations.items()]
        station = self.station(default=None)
        wards = (
            StationWard.objects.filter(station=station)
            .order_by("ward_name")
            .values_list("ward_code", "ward_name")
            if station is not None
            else []
        )
        ward: Any = self.fields["ward"]
        ward.choices = [("", _("Tất cả"))] + [(code, name) for code, name in wards]

    def station(self, default: Facility | None) -> Facility | None:
        """The station asked for (None if the parameter names a station the user cannot see)."""
        raw = self.data.get("facility")
        if not raw:
            return default
        return self.stations.get(str(raw).strip())

    def filters(self) -> BoardFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return BoardFilters(
            ward_code=data.get("ward"),
            alert_level=data.get("level") or None,
            day_of_episode=data.get("day"),
            age_min=data.get("age_min"),
            age_max=data.get("age_max"),
        )


# What staff may record about an alert ("Đóng theo hồ sơ kết thúc" is set only by ending an episode).
STAFF_OUTCOME_CHOICES = [(value, label) for value, label in Alert.Outcome.choices if value in STAFF_OUTCOMES]


class AlertAcknowledgeForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Kết quả xử lý"),
        choices=[("", _("— Chọn kết quả —"))] + STAFF_OUTCOME_CHOICES,
        widget=UnfoldAdminSelectWidget,
        error_messages={"required": _("Vui lòng chọn kết quả xử lý.")},
    )
    note = forms.CharField(
        label=_("Ghi chú"),
        required=False,
        max_length=300,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": _("Ghi chú (không bắt buộc)")}),
    )


class CallRecordForm(forms.Form):
    note = forms.CharField(
        label=_("Ghi chú cuộc gọi"),
        required=False,
        max_length=300,
        widget=UnfoldAdminTextInputWidget(
            attrs={"placeholder": _("Ví dụ: đã nhắc, sẽ khai báo trước 11:00")}
        ),
    )


class CompleteForm(BaseDialogForm):
    """Completion: the negative test, and an outcome for each alert still open (the service refuses to
    complete while one is left without; the outcomes are recorded in the same step, each audited)."""

    form_before_template = "admin/monitoring/episode/_complete_alerts.html"
    ALERT_PREFIX = "alert_"

    negative_test_date = forms.DateField(
        label=_("Ngày xét nghiệm âm tính"),
        input_formats=DATE_INPUT_FORMATS,
        widget=UnfoldAdminSingleDateWidget(format="%d/%m/%Y"),
        help_text=_("Định dạng ngày/tháng/năm, ví dụ 30/11/2026."),
        error_messages={
            "required": _("Vui lòng nhập ngày xét nghiệm âm tính."),
            "invalid": _("Ngày không hợp lệ (định dạng ngày/tháng/năm)."),
        },
    )
    negative_test_type = forms.ChoiceField(
        label=_("Loại xét nghiệm"),
        choices=NEGATIVE_TEST_TYPES,
        widget=UnfoldAdminSelectWidget,
        error_messages={"required": _("Vui lòng chọn loại xét nghiệm âm tính.")},
    )

    def __init__(self, request: Any, object_id: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, object_id, *args, **kwargs)
        self.fields["negative_test_date"].initial = timezone.localdate().strftime("%d/%m/%Y")
        self.open_alerts = (
            episode_open_alerts(user=request.user, episode_id=object_id) if object_id is not None else []
        )
        for alert in self.open_alerts:
            self.fields[f"{self.ALERT_PREFIX}{alert.pk}"] = forms.ChoiceField(
                label=_alert_label(alert),
                required=False,
                choices=[("", _("— Chưa xử lý —"))] + STAFF_OUTCOME_CHOICES,
                widget=UnfoldAdminSelectWidget,
            )
        if self.open_alerts:
            self.fields["alert_note"] = forms.CharField(
                label=_("Ghi chú xử lý cảnh báo"),
                required=False,
                max_length=300,
                widget=UnfoldAdminTextInputWidget(
                    attrs={"placeholder": _("Ví dụ: đã gọi, SpO2 98%, ổn định")}
                ),
            )

    def clean_negative_test_date(self) -> date:
        value: date = self.cleaned_data["negative_test_date"]
        return value

    def alert_outcomes(self) -> dict[int, str]:
        """{alert id: outcome} for the open alerts given one in this form."""
        return {
            alert.pk: self.cleaned_data.get(f"{self.ALERT_PREFIX}{alert.pk}") or ""
            for alert in self.open_alerts
            if self.cleaned_data.get(f"{self.ALERT_PREFIX}{alert.pk}")
        }

    def mark_unhandled(self, message: str) -> bool:
        """Put the service's "open alerts" refusal on each alert left without an outcome; False if the
        form lists none of them (an alert came in after the dialog opened: the caller reloads it)."""
        marked = False
        for alert in self.open_alerts:
            name = f"{self.ALERT_PREFIX}{alert.pk}"
            if not self.cleaned_data.get(name):
                self.add_error(name, message)
                marked = True
        return marked

    def get_before_template_context(self, request: Any, object_id: Any = None) -> dict[str, Any]:
        return {"open_alerts": len(self.open_alerts)}


def _alert_label(alert: Alert) -> str:
    when = timezone.localtime(alert.created_at).strftime("%H:%M %d/%m/%Y")
    reasons = "; ".join(alert.reasons or [])
    return f"{when} · {alert.get_level_display()}" + (f": {reasons}" if reasons else "")


class CloseForm(BaseDialogForm):
    status = forms.ChoiceField(
        label=_("Kết thúc vì"),
        choices=[
            (EpisodeStatus.TRANSFERRED.value, _("Chuyển viện")),
            (EpisodeStatus.CLOSED.value, _("Đóng hồ sơ (lý do khác)")),
        ],
        widget=UnfoldAdminSelectWidget,
    )
    reason = forms.CharField(
        label=_("Lý do"),
        max_length=300,
        min_length=5,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=_("Ví dụ: chuyển Bệnh viện đa khoa tỉnh vì SpO2 giảm; chuyển nơi ở; tử vong."),
        error_messages={
            "required": _("Vui lòng nhập lý do (ít nhất 5 ký tự)."),
            "min_length": _("Vui lòng nhập lý do (ít nhất 5 ký tự)."),
        },
    )


# --- Managers' configuration --------------------------------------------------------------------

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class ProvincePolicyForm(forms.ModelForm):
    """Reminder times are typed as '08:00, 09:30' and stored as a sorted list of HH:MM strings."""

    reminder_times = forms.CharField(
        label=_("Giờ nhắc khai báo"),
        required=False,
        widget=UnfoldAdminTextInputWidget,
        help_text=_(
            "Tối đa 2 giờ, dạng HH:MM, cách nhau bằng dấu phẩy, trước hạn khai báo. Ví dụ: 08:00, 09:30"
        ),
    )

    class Meta:
        model = ProvincePolicy
        fields = [
            "province_code",
            "declaration_deadline",
            "reminder_times",
            "min_isolation_days",
            "escalate_after_silent_days",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["reminder_times"] = ", ".join(self.instance.reminder_times or [])
        # A reader who may not change the policy gets the form without its fields (the desk shows them
        # read-only): only tune the fields that are there.
        deadline: Any = self.fields.get("declaration_deadline")
        if deadline is not None:
            deadline.input_formats = ["%H:%M", "%H:%M:%S"]
            deadline.help_text = _("Dạng HH:MM, ví dụ 10:00.")

    def clean_reminder_times(self) -> list[str]:
        raw = self.cleaned_data.get("reminder_times") or ""
        parts = [part.strip() for part in re.split(r"[,;\s]+", raw) if part.strip()]
        bad = [part for part in parts if not HHMM.match(part)]
        if bad:
            raise forms.ValidationError(
                _("Giờ không hợp lệ: %(values)s. Dùng dạng HH:MM, ví dụ 08:00."),
                params={"values": ", ".join(bad)},
            )
        if len(parts) > 2:
            raise forms.ValidationError(_("Tối đa 2 giờ nhắc mỗi ngày."))
        if len(set(parts)) != len(parts):
            raise forms.ValidationError(_("Các giờ nhắc phải khác nhau."))
        return sorted(parts)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        deadline, times = data.get("declaration_deadline"), data.get("reminder_times") or []
        if deadline is not None and any(t >= deadline.strftime("%H:%M") for t in times):
            self.add_error("reminder_times", _("Giờ nhắc phải trước hạn khai báo."))
        return data


class GuidanceDocumentForm(forms.ModelForm):
    class Meta:
        model = GuidanceDocument
        fields = ["title", "summary", "body", "pdf", "source", "order", "is_published"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pdf = self.fields.get("pdf")  # absent from a read-only form
        if pdf is not None:
            pdf.help_text = _("Chỉ nhận tệp PDF, tối đa 10 MB.")
            pdf.validators.append(FileExtensionValidator(["pdf"], message=_("Chỉ nhận tệp PDF.")))

    def clean_pdf(self) -> Any:
        upload = self.cleaned_data.get("pdf")
        if not upload or upload == self.initial.get("pdf"):
            return upload  # unchanged or cleared
        if upload.size > PDF_MAX_BYTES:
            raise forms.ValidationError(_("Tệp quá lớn: tối đa 10 MB."))
        content_type = getattr(upload, "content_type", "application/pdf")
        head = upload.read(5)
        upload.seek(0)
        if content_type != "application/pdf" or head != b"%PDF-":
            raise forms.ValidationError(_("Chỉ nhận tệp PDF."))
        return upload
