"""Desk forms for HIS linking: the linker's decisions, reception's request at the counter, unlinking, the
insurance XML upload and the FHIR "pull now". Forms only parse input; his.services and his.imports check the
workflow, the actor's role at the facility, write and audit."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from unfold.forms import BaseDialogForm
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from health_f0.desk.forms import reason_field
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.his.models import IdentifierType
from health_f0.his.selectors import HIS_FACILITY_KINDS

# The upload limit (settings.HIS_XML_MAX_UPLOAD_BYTES overrides it): a month of a district hospital's XML is
# well under this; larger batches go through the watched folder.
XML_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# Files up to this size import during the request; larger ones are queued as a background job.
XML_INLINE_BYTES = 5 * 1024 * 1024


def xml_max_upload_bytes() -> int:
    return int(getattr(settings, "HIS_XML_MAX_UPLOAD_BYTES", XML_MAX_UPLOAD_BYTES))


def _reason_field(label: Any, help_text: Any, required_message: Any) -> forms.CharField:
    return reason_field(
        label=label,
        help_text=help_text,
        max_length=300,
        rows=2,
        required_message=required_message,
        short_message=_("Lý do cần ít nhất 5 ký tự."),
    )


class ApproveForm(forms.Form):
    his_patient_id = forms.CharField(
        label=_("Mã người bệnh trong HIS"),
        max_length=64,
        widget=UnfoldAdminTextInputWidget(attrs={"autocomplete": "off"}),
        error_messages={"required": _("Vui lòng chọn hồ sơ HIS hoặc nhập mã người bệnh trong HIS.")},
    )


class FindRecordForm(forms.Form):
    """The linker names a HIS patient code; the record the HIS holds under it is shown before linking."""

    his_code = forms.CharField(
        label=_("Mã người bệnh trong HIS (MA_BN)"),
        max_length=64,
        widget=UnfoldAdminTextInputWidget(attrs={"autocomplete": "off"}),
        error_messages={"required": _("Vui lòng nhập mã người bệnh trong HIS.")},
    )


class DismissHeldForm(forms.Form):
    reason = _reason_field(
        _("Lý do bỏ qua"),
        _("Ghi vào nhật ký. Hồ sơ không được gắn vào người bệnh nào."),
        _("Vui lòng nhập lý do."),
    )


class RejectForm(forms.Form):
    reason = _reason_field(
        _("Lý do từ chối"),
        _("Người bệnh nhận lý do này qua SMS (không dấu)."),
        _("Vui lòng nhập lý do từ chối."),
    )


class UnlinkForm(BaseDialogForm):
    reason = _reason_field(
        _("Lý do huỷ liên kết"),
        _("Ghi vào nhật ký và gửi cho người bệnh qua SMS."),
        _("Vui lòng nhập lý do huỷ liên kết."),
    )


class ReceptionRequestForm(forms.Form):
    """Reception starts a link request for a patient standing at the counter."""

    patient_query = forms.CharField(
        label=_("Người bệnh"),
        max_length=40,
        widget=UnfoldAdminTextInputWidget(attrs={"autocomplete": "off"}),
        help_text=_("Số điện thoại, số CCCD hoặc số thẻ BHYT của người bệnh đã có tài khoản."),
        error_messages={"required": _("Vui lòng nhập số điện thoại, CCCD hoặc thẻ BHYT của người bệnh.")},
    )
    identifier_type = forms.ChoiceField(
        label=_("Loại mã trên giấy tờ"),
        choices=IdentifierType.choices,
        initial=IdentifierType.BHYT,
        widget=UnfoldAdminSelectWidget,
    )
    identifier = forms.CharField(
        label=_("Mã"),
        max_length=32,
        widget=UnfoldAdminTextInputWidget(attrs={"autocomplete": "off"}),
        help_text=_("Như in trên thẻ BHYT, CCCD hoặc phiếu khám của bệnh viện."),
        error_messages={"required": _("Vui lòng nhập mã.")},
    )


def linker_facilities(user: Any) -> QuerySet[Facility]:
    """Hospitals/TTYT whose HIS data the user may import (HIS linkers and administrators)."""
    return (
        access.facilities_for(user, access.HIS_LINKER_ROLES)
        .filter(kind__in=HIS_FACILITY_KINDS, is_active=True)
        .order_by("path")
    )


class _FacilityForm(forms.Form):
    facility = forms.ModelChoiceField(
        label=_("Bệnh viện/TTYT"),
        queryset=Facility.objects.none(),
        widget=UnfoldAdminSelectWidget,
        empty_label=None,
        error_messages={
            "required": _("Vui lòng chọn bệnh viện/TTYT."),
            "invalid_choice": _("Không tìm thấy cơ sở trong phạm vi bạn được thao tác."),
        },
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["facility"]
        field.queryset = linker_facilities(user)


class XmlUploadForm(_FacilityForm):
    file = forms.FileField(
        label=_("Tệp XML giám định BHYT (QĐ 4750/3176)"),
        help_text=_("Tệp .xml có các bảng XML1 (lượt khám), XML4 (kết quả cận lâm sàng), XML14 (giấy hẹn)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,application/xml,text/xml"}),
        error_messages={
            "required": _("Vui lòng chọn tệp XML."),
            "empty": _("Tệp rỗng."),
            "invalid": _("Không đọc được tệp đã gửi."),
        },
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not name.endswith(".xml"):
            raise forms.ValidationError(_("Chỉ nhận tệp .xml (tệp XML giám định BHYT)."), code="not_xml")
        limit = xml_max_upload_bytes()
        if upload.size is not None and upload.size > limit:
            raise forms.ValidationError(
                _("Tệp lớn hơn %(mb)s MB; hãy chép tệp vào thư mục nhập tự động của bệnh viện.")
                % {"mb": limit // (1024 * 1024)},
                code="too_large",
            )
        head = upload.read(512)
        upload.seek(0)
        if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            raise forms.ValidationError(_("Nội dung tệp không phải XML."), code="not_xml")
        return upload


class FhirPullForm(_FacilityForm):
    pass
