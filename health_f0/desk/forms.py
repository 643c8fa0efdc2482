"""Forms shared by the desk pages of several domains. Forms only parse input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.forms import BaseDialogForm
from unfold.widgets import UnfoldAdminTextareaWidget

REASON_MIN = 5


def reason_field(
    *,
    label: Any = None,
    help_text: Any = "",
    max_length: int = 500,
    required: bool = True,
    rows: int = 3,
    required_message: Any = None,
    short_message: Any = None,
) -> forms.CharField:
    """A refusal's reason, which the person reads (SMS, portal): at least REASON_MIN characters. The messages
    default to a refusal's; a page asking for another kind of reason names its own."""
    return forms.CharField(
        label=label or _("Lý do từ chối"),
        max_length=max_length,
        min_length=REASON_MIN,
        required=required,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": rows}),
        help_text=help_text,
        error_messages={
            "required": required_message or _("Vui lòng nhập lý do từ chối."),
            "min_length": short_message or _("Vui lòng nhập lý do từ chối (ít nhất 5 ký tự)."),
        },
    )


class RejectForm(BaseDialogForm):
    """The dialog of a "Từ chối" button: one reason field. A domain's subclass sets the field's name (what its
    desk posts), how long the reason may be (an SMS holds less than the portal) and what the handler is told
    about who reads it."""

    reason_name = "reason"
    reason_max_length = 500
    reason_help_text: Any = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.reason_name] = reason_field(
            max_length=self.reason_max_length, help_text=self.reason_help_text
        )
