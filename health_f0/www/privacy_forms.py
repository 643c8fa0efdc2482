"""Portal forms for personal-data rights: agreeing to the policy in force, and a withdrawal or deletion
request. They only parse input; health_f0.privacy.services checks the rules and writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from health_f0.privacy.models import RequestKind

REASON_MAX = 500


class ConsentForm(forms.Form):
    policy_version = forms.CharField(widget=forms.HiddenInput, max_length=16)
    agree = forms.BooleanField(
        label=_("Tôi đã đọc và đồng ý với Chính sách bảo vệ dữ liệu cá nhân phiên bản này."),
        error_messages={"required": _("Vui lòng đánh dấu ô đồng ý để tiếp tục sử dụng tài khoản.")},
    )


class DataRequestForm(forms.Form):
    patient = forms.ChoiceField(
        label=_("Yêu cầu cho ai?"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Vui lòng chọn người bệnh."),
            "invalid_choice": _("Vui lòng chọn người bệnh."),
        },
    )
    kind = forms.ChoiceField(
        label=_("Bạn muốn"),
        choices=RequestKind.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Vui lòng chọn loại yêu cầu."),
            "invalid_choice": _("Vui lòng chọn loại yêu cầu."),
        },
    )
    reason = forms.CharField(
        label=_("Lý do (không bắt buộc)"),
        required=False,
        max_length=REASON_MAX,
        error_messages={"max_length": _("Vui lòng viết ngắn hơn (tối đa 500 ký tự).")},
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": str(REASON_MAX)}),
    )
    understood = forms.BooleanField(
        label=_(
            "Tôi hiểu: tài khoản sẽ phải đồng ý lại chính sách mới dùng tiếp được; nếu xoá, tài khoản bị xoá và "
            "hồ sơ y tế vẫn được lưu trữ hạn chế theo luật."
        ),
        error_messages={"required": _("Vui lòng xác nhận bạn đã hiểu hệ quả của yêu cầu.")},
    )

    def __init__(self, *args: Any, patients: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["patient"]
        field.choices = [(str(p.public_id), f"{p.full_name} ({p.date_of_birth:%d/%m/%Y})") for p in patients]
        if len(patients) == 1 and not self.is_bound:
            self.initial["patient"] = str(patients[0].public_id)
        self.patients = {str(p.public_id): p for p in patients}

    def chosen_patient(self) -> Any:
        return self.patients[self.cleaned_data["patient"]]
