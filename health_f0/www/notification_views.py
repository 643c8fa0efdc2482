"""The patient's choice of channel for notices (SMS or Zalo ZNS), on the "ca-nhan" page: thin — the rule
(Zalo only where configured) is notifications.services.contact_channel_set's."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from health_f0.core.exceptions import DomainError
from health_f0.notifications.selectors import contact_channel, zns_available
from health_f0.notifications.services import contact_channel_set

SESSION_SAVED = "www_channel_saved"
SESSION_ERROR = "www_channel_error"


def channel_update(request: HttpRequest, patient: Any) -> HttpResponse:
    """POST from the ca-nhan page: the channel for notices to the patient's phone. Back to the page."""
    try:
        contact_channel_set(phone=patient.phone, channel=request.POST.get("channel", ""), actor=request.user)
    except DomainError as exc:
        request.session[SESSION_ERROR] = exc.message
    else:
        request.session[SESSION_SAVED] = True
    return redirect(reverse("www:me") + "#kenh-nhan-tin")


def channel_context(request: HttpRequest, patient: Any) -> dict[str, Any]:
    """What the ca-nhan page shows about the channel: whether Zalo can be chosen, the current choice, and
    the outcome of the last change."""
    return {
        "zns_available": zns_available(),
        "notice_channel": contact_channel(phone=patient.phone),
        "channel_saved": bool(request.session.pop(SESSION_SAVED, False)),
        "channel_error": request.session.pop(SESSION_ERROR, ""),
    }
