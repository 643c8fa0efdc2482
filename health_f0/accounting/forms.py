"""Forms of the accountant's desk pages. Forms only parse input; accounting.services decides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminFileFieldWidget, UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from health_f0.accounting.models import RESOLUTION_CHOICES
from health_f0.accounting.selectors import reconcilable_facilities
from health_f0.accounting.settlement import MAX_FILE_BYTES
from health_f0.desk.forms import reason_field
from health_f0.facilities.models import Facility
from health_f0.payments.models import GatewayName
from health_f0.reports.common.query import parse_day


class DayField(forms.CharField):
    """A day typed dd/mm/yyyy."""

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_day(text)
        except ValueError:
            raise forms.ValidationError(
                _("Ngày “%(value)s” không hợp lệ: nhập theo dạng dd/mm/yyyy, ví dụ 05/11/2026."),
                params={"value": text[:20]},
            ) from None


class SettlementUploadForm(forms.Form):
    facility: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Cơ sở (tài khoản cổng)"),
        queryset=Facility.objects.none(),
        widget=UnfoldAdminSelectWidget,
        error_messages={"required": _("Vui lòng chọn cơ sở."), "invalid_choice": _("Vui lòng chọn cơ sở.")},
    )
    gateway = forms.ChoiceField(
        label=_("Cổng thanh toán"),
        choices=GatewayName.choices,
        initial=GatewayName.VNPAY,
        widget=UnfoldAdminSelectWidget,
    )
    day = DayField(
        label=_("Ngày giao dịch"),
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "dd/mm/yyyy", "inputmode": "numeric"}),
        error_messages={"required": _("Vui lòng nhập ngày giao dịch (dd/mm/yyyy).")},
    )
    file = forms.FileField(
        label=_("Tệp đối soát của cổng (.csv hoặc .xlsx)"),
        # unfold's own file widget: its script writes the chosen file's name into the text box beside the
        # file input, which for a bare input would be the form's first text box (the day).
        widget=UnfoldAdminFileFieldWidget(attrs={"accept": ".csv,.xlsx,.txt"}),
        help_text=_("Tệp cổng gửi qua thư điện tử/SFTP hoặc tải từ trang quản trị của cổng, tối đa 5 MB."),
        error_messages={"required": _("Vui lòng chọn tệp đối soát."), "empty": _("Tệp đối soát trống.")},
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["facility"]
        field.queryset = reconcilable_facilities(user)
        if field.queryset.count() == 1:
            field.initial = field.queryset.first()
        # Yesterday: the gateways send day T's file on day T+1.
        self.fields["day"].initial = f"{timezone.localdate() - timedelta(days=1):%d/%m/%Y}"

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not name.endswith((".csv", ".xlsx", ".txt")):
            raise forms.ValidationError(_("Chỉ nhận tệp .csv hoặc .xlsx."))
        if (upload.size or 0) > MAX_FILE_BYTES:
            raise forms.ValidationError(_("Tệp lớn hơn 5 MB; hãy tách theo ngày."))
        return upload


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        label=_("Cách xử lý"),
        choices=[("", _("— chọn —")), *RESOLUTION_CHOICES],
        error_messages={"required": _("Vui lòng chọn cách xử lý.")},
    )
    reason = reason_field(
        label=_("Lý do"),
        rows=2,
        required_message=_("Vui lòng ghi lý do."),
        short_message=_("Vui lòng ghi lý do (ít nhất 5 ký tự)."),
    )


class ReopenForm(forms.Form):
    reason = reason_field(
        label=_("Lý do mở lại"),
        rows=2,
        required_message=_("Vui lòng ghi lý do mở lại ngày đã chốt."),
        short_message=_("Vui lòng ghi lý do (ít nhất 5 ký tự)."),
    )


class ManualRefundForm(forms.Form):
    reference = forms.CharField(
        label=_("Mã giao dịch chuyển tiền hoàn / số phiếu chi"),
        max_length=64,
        error_messages={"required": _("Vui lòng nhập mã giao dịch chuyển tiền hoàn (hoặc số phiếu chi).")},
    )
    reason = reason_field(
        label=_("Ghi chú"),
        rows=2,
        required_message=_("Vui lòng ghi chú cách đã hoàn tiền."),
        short_message=_("Vui lòng ghi chú cách đã hoàn tiền (ít nhất 5 ký tự)."),
    )
