"""The SMS short link (/h/<code>) and the walk-in's ticket page (/so-thu-tu/<id>).

/h/<code> only redirects: to the booking's page, which keeps its OTP gate, or to a walk-in's ticket. The
code carries no personal data and gives no access the target page would not; unknown codes are counted
per client address (appointments.selectors.appointment_for_link), so the code space cannot be walked.

The ticket page is what a walk-in patient reads in the waiting hall: the service, the room, the queue
number and how many are before them. It shows nothing about the person (no name, phone or check-in code)
and offers no action, so it needs no login or OTP.
"""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from health_f0.appointments import selectors as appt_selectors
from health_f0.appointments.models import Status
from health_f0.appointments.slots import local_date_of
from health_f0.core.exceptions import RateLimited
from health_f0.core.request_context import client_ip
from health_f0.www import selectors as www_selectors
from health_f0.www.views import _page


def _no_index(response: HttpResponse) -> HttpResponse:
    response["X-Robots-Tag"] = "noindex"
    return response


@require_http_methods(["GET", "HEAD"])
def short_link(request: HttpRequest, code: str) -> HttpResponse:
    """/h/<code>: the SMS link of a booking (to its page) or of a walk-in ticket (to the ticket)."""
    try:
        appointment = appt_selectors.appointment_for_link(code=code[:64], ip=client_ip(request))
    except RateLimited as exc:
        retry = int(exc.extra.get("retry_after") or 60)
        response = _page(request, "www/appt_short_link.html", {"limited": exc.message}, status=429)
        response["Retry-After"] = str(retry)
        return _no_index(response)
    if appointment is None:
        return _no_index(_page(request, "www/appt_short_link.html", {}, status=404))
    if appointment.is_walk_in:
        return _no_index(redirect("www:ticket", public_id=appointment.public_id))
    return _no_index(redirect("www:appointment", public_id=appointment.public_id))


@require_http_methods(["GET", "HEAD"])
def walk_in_ticket(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """/so-thu-tu/<id>: a walk-in's queue number and place in today's queue of its service."""
    ticket = appt_selectors.walk_in_ticket(public_id=public_id)
    if ticket is None:
        raise Http404(_("Không tìm thấy số thứ tự này."))
    today = local_date_of(timezone.now())
    is_today = ticket.queue_date == today
    place = appt_selectors.queue_place(appointment=ticket) if is_today else None
    place_ = appt_selectors.booking_place(facility=ticket.facility)
    context = {
        "ticket": ticket,
        "service": ticket.service,
        "place": place_,
        "hotline": www_selectors.display_hotline(place_.hotline),
        "hotline_tel": "".join(ch for ch in place_.hotline if ch.isdigit()),
        "queue_place": place,
        "is_today": is_today,
        "done": ticket.status == Status.COMPLETED,
        "checked_in_at": timezone.localtime(ticket.checked_in_at) if ticket.checked_in_at else None,
    }
    return _no_index(_page(request, "www/appt_ticket.html", context))
