"""Portal forms for HIS linking: they only parse input. Identifier formats (BHYT, CCCD, HIS code), one open
request per hospital and who may unlink are the rules of health_f0.his.services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import engines
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from markupsafe import Markup, escape

from health_f0.core.memo import Memo
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


# --- The empty link form, drawn once (issue 11) -------------------------------------------------------------
#
# Django's form renderer drew about 45 % of /lien-ket-ho-so: the empty form (what every visit of the page shows)
# depends only on the page's language, the policy version in force and the hospitals offered (their public id
# and name), plus the patient's id in a hidden field. It is drawn by the same partial as a posted-back form
# (www/_his_link_fields.html), once per those, for a stand-in patient id that is then a slot for the page's
# patient (tests/www/test_his_link_form.py compares it with the partial's own drawing). A drawing holds nothing
# but what its key names (names of hospitals, public data), so it is shared by every account.
LINK_FIELDS_TEMPLATE = "www/_his_link_fields.html"
_PATIENT_SLOT = uuid.UUID("5ec7e1d0-0000-4000-8000-0000000011c7")
# Keys: languages x policy versions x the sets of hospitals offered that this process has seen.
_DRAWINGS_LIMIT = 256
_drawings: Memo[tuple[Any, ...], tuple[str, str]] = Memo(_DRAWINGS_LIMIT)


@receiver(setting_changed, dispatch_uid="health_f0.www.his_forms.drawings")
def _forget_drawings(**kwargs: Any) -> None:
    """The languages or the form's templates may have changed (tests)."""
    _drawings.clear()


@dataclass(frozen=True)
class LinkFormDrawing:
    """What /lien-ket-ho-so shows of the empty link form: its fields' markup (`html`, the page's patient in
    it). Not bound: the page draws a bound form (its errors) from the form itself."""

    html: Markup
    is_bound: bool = False


def draw_link_fields(form: LinkRequestForm) -> Markup:
    """The link form's fields as the page draws them (www/_his_link_fields.html, in the active language)."""
    template = engines["jinja2"].env.get_template(LINK_FIELDS_TEMPLATE)  # type: ignore[attr-defined]
    return Markup(template.render({"form": form}))  # noqa: S704 - drawn by an autoescaping template


def link_form_drawing(*, patient: Any, facilities: list[Any], policy_version: str) -> LinkFormDrawing:
    """The empty link form for `patient` with these hospitals offered (LinkRequestForm's initial values:
    the patient, a BHYT number asked for, the policy version in force), the same markup as
    draw_link_fields(LinkRequestForm(initial=…)) draws."""
    key = (
        get_language(),
        policy_version,
        tuple((f.public_id, f.name) for f in facilities),
    )
    parts = _drawings.get(key)
    if parts is None:
        stand_in = draw_link_fields(_empty_form(_PATIENT_SLOT, facilities, policy_version))
        pieces = stand_in.split(str(_PATIENT_SLOT))
        if len(pieces) != 2:  # not where it was expected: draw this page's form itself
            return LinkFormDrawing(
                draw_link_fields(_empty_form(patient.public_id, facilities, policy_version))
            )
        parts = (pieces[0], pieces[1])
        _drawings.keep(key, parts)
    return LinkFormDrawing(Markup(f"{parts[0]}{escape(str(patient.public_id))}{parts[1]}"))  # noqa: S704


def _empty_form(patient_id: Any, facilities: list[Any], policy_version: str) -> LinkRequestForm:
    initial = {"patient": patient_id, "identifier_type": "bhyt", "policy_version": policy_version}
    return LinkRequestForm(initial=initial, facilities=facilities)
