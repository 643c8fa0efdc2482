"""The public queue display for a screen in the waiting hall: numbers only, no login. The page polls a small
JSON state (hall.hall_state) every few seconds and updates in place: a chime, a large flash and a spoken call
in Vietnamese when a number is called or recalled. Without JavaScript it reloads itself instead."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from health_f0.appointments import hall, selectors
from health_f0.core.counters import sliding_count
from health_f0.core.request_context import client_ip, limit_key
from health_f0.facilities.models import Facility

REFRESH_SECONDS = 15
SPEECH_KEY = re.compile(r"^[0-9a-f]{32}$")
# Requests per address (an IPv6 /64) in a sliding minute, page, state and speech together. A screen polls
# every hall.POLL_SECONDS (20 a minute): a hospital may run a dozen screens behind one address.
HALL_REQUESTS_PER_MINUTE = 300


def _limited(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """The hall's public endpoints need no login; a client polling far faster than any screen is answered 429
    before the facility is looked up."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = f"hall:{limit_key(client_ip(request))}"
        if sliding_count(key, window_seconds=60) > HALL_REQUESTS_PER_MINUTE:
            message = _("Quá nhiều yêu cầu. Vui lòng thử lại sau 1 phút.")
            response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
            response["Retry-After"] = "60"
            return _noindex(response)
        return view(request, *args, **kwargs)

    return wrapper


def _facility(code: str) -> Facility:
    facility = Facility.objects.filter(code=code, is_active=True).first()
    if facility is None:
        raise Http404
    return facility


def _noindex(response: HttpResponseBase) -> HttpResponseBase:
    response["X-Robots-Tag"] = "noindex"
    return response


@_limited
@require_GET
@never_cache
def queue_display(request: HttpRequest, code: str) -> HttpResponseBase:
    """Per service under the facility (never online consultations): the number being called, the few
    before it and the next few. No names, no personal data: only queue numbers, service and room names."""
    facility = _facility(code)
    now = timezone.localtime()
    rows = selectors.queue_display(facility=facility, day=now.date())
    response = render(
        request,
        "appointments/queue_display.html",
        {
            "facility": facility,
            "rows": rows,
            "clock": f"{now:%H:%M}",
            "today": f"{now:%d/%m/%Y}",
            "refresh": REFRESH_SECONDS,
            "poll_seconds": hall.POLL_SECONDS,
        },
    )
    return _noindex(response)


@_limited
@require_GET
@never_cache
def queue_display_state(request: HttpRequest, code: str) -> HttpResponseBase:
    """The hall screen's data (hall.hall_state), polled every few seconds: numbers only."""
    facility = _facility(code)
    now = timezone.localtime()
    state = hall.hall_state(facility=facility, day=now.date())
    state["clock"] = f"{now:%H:%M}"
    state["today"] = f"{now:%d/%m/%Y}"
    return _noindex(JsonResponse(state))


@_limited
@require_GET
def queue_display_speech(request: HttpRequest, code: str, key: str) -> HttpResponseBase:
    """The spoken call the facility's hall is announcing now (WAV, cached per text); 404 for any other."""
    if not SPEECH_KEY.match(key):
        raise Http404
    path = hall.current_speech(facility=_facility(code), key=key, day=timezone.localdate())
    if path is None:
        raise Http404
    response = FileResponse(path.open("rb"), content_type="audio/wav")
    response["Cache-Control"] = "public, max-age=3600"
    return _noindex(response)
