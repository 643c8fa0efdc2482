"""Portal forms for HIS linking: they only parse input. Identifier formats (BHYT, CCCD, HIS code), one open
request per hospital and who may unlink are the rules of health_f0.his.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from health_f0.his.models import IdentifierType

REASON_MAX = 300


class LinkRequestForm(forms.Form):
    patient = forms.UUIDField(widget=forms.HiddenInput)
    facility = forms.ChoiceField(
        label=_("Bệnh viện/TTYT nơi bạn khám"),
        required=False,
        error_messages={"invalid_choice": _("Vui lòng chọn bệnh viện/TTYT trong danh sách.")},
    )
    identifier_type = forms.ChoiceField(
        label=_("Bạn tra cứu hồ sơ bằng mã nào?"),
        choices=IdentifierType.choices,
        widget=forms.RadioSelect,
        initial=IdentifierType.BHYT,
        error_messages={
            "required": _("Vui lòng chọn loại mã."),
            "invalid_choice": _("Vui lòng chọn loại mã."),
        },
    )
    identifier = forms.CharField(
        label=_("Mã của bạn"),
        max_length=40,
        help_text=_(
            "Số thẻ BHYT: 10 số cuối trên thẻ hoặc cả mã thẻ 15 ký tự. Số CCCD: 12 chữ số. "
            "Mã người bệnh: in trên phiếu khám, đơn thuốc hoặc hoá đơn của bệnh viện."
        ),
        error_messages={
            "required": _("Vui lòng nhập mã."),
            "max_length": _("Mã quá dài (tối đa 40 ký tự)."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "maxlength": "40"}),
    )

    # The personal-data policy version the page showed next to the button (consent is recorded with it).
    policy_version = forms.CharField(widget=forms.HiddenInput, required=False, max_length=16)

    def __init__(self, *args: Any, facilities: list[Any], **kwargs: Any) -> None:
        from health_f0.privacy.selectors import policy_current

        super().__init__(*args, **kwargs)
        current = policy_current().version
        self.initial.setdefault("policy_version", current)
        if self.is_bound:
            # Keep what was posted for the check; show the version in force if the page is drawn again.
            self.posted_policy_version = str(self.data.get("policy_version") or "")
            data: Any = self.data
            data = data.copy()  # a QueryDict or a dict
            data["policy_version"] = current
            self.data = data
        self.facilities = facilities
        field: Any = self.fields["facility"]
        field.choices = [("", _("— Chọn bệnh viện/TTYT —"))] + [
            (str(f.public_id), f.name) for f in facilities
        ]
        if len(facilities) > 1:
            field.required = True
            field.error_messages["required"] = _("Vui lòng chọn bệnh viện/TTYT.")
        else:
            field.widget = forms.HiddenInput()

    def clean_policy_version(self) -> str:
        return getattr(self, "posted_policy_version", "")

    def chosen_facility(self) -> Any:
        """The facility picked in the list, the only one offered, or None (none offered: the service's
        default, which then says why no request can be made)."""
        if len(self.facilities) == 1:
            return self.facilities[0]
        wanted = self.cleaned_data.get("facility") or ""
        return next((f for f in self.facilities if str(f.public_id) == wanted), None)


class UnlinkForm(forms.Form):
    reason = forms.CharField(
        label=_("Lý do huỷ liên kết"),
        max_length=REASON_MAX,
        help_text=_("Ví dụ: không phải hồ sơ của tôi; tôi không muốn xem hồ sơ trên ứng dụng nữa."),
        error_messages={
            "required": _("Vui lòng nhập lý do huỷ liên kết."),
            "max_length": _("Vui lòng viết ngắn hơn (tối đa 300 ký tự)."),
        },
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": str(REASON_MAX)}),
    )
