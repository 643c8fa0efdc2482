"""Desk forms for personal-data rights: the handler's decision on a request, and publishing a policy version.
Forms only parse input; privacy.services checks the workflow, the role at the facility, writes and audits."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.forms import BaseDialogForm
from unfold.widgets import (
    UnfoldAdminSplitDateTimeWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from health_f0.desk.forms import RejectForm as DeskRejectForm


class ApproveForm(BaseDialogForm):
    note = forms.CharField(
        label=_("Ghi chú cho người yêu cầu"),
        required=False,
        max_length=500,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        help_text=_("Không bắt buộc. Người yêu cầu đọc ghi chú này trên cổng thông tin."),
    )


class RejectForm(DeskRejectForm):
    reason_name = "note"
    reason_help_text = _("Bắt buộc. Người yêu cầu nhận lý do này qua SMS và trên cổng thông tin.")


class PolicyPublishForm(forms.Form):
    version = forms.CharField(
        label=_("Phiên bản"),
        max_length=16,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "2026-01"}),
    )
    effective_from = forms.SplitDateTimeField(
        label=_("Hiệu lực từ"),
        input_date_formats=["%d/%m/%Y", "%Y-%m-%d"],
        input_time_formats=["%H:%M", "%H:%M:%S"],
        widget=UnfoldAdminSplitDateTimeWidget(),
        help_text=_("Từ thời điểm này, mọi tài khoản người bệnh được hỏi đồng ý lại khi dùng tiếp."),
    )
    summary = forms.CharField(
        label=_("Tóm tắt thay đổi"),
        max_length=2000,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
    )
    body = forms.CharField(
        label=_("Nội dung chính sách"),
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 14}),
        help_text=_("Để trống để dùng nội dung chuẩn của hệ thống. Mỗi đoạn cách nhau một dòng trống."),
    )
