"""The public queue display for a screen in the waiting hall: numbers only, no login, refreshes itself."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from health_f0.appointments import selectors
from health_f0.facilities.models import Facility

REFRESH_SECONDS = 15


@require_GET
@never_cache
def queue_display(request: HttpRequest, code: str) -> HttpResponse:
    """Per service under the facility: the number being called and the few before it. No names, no
    personal data: only queue numbers, service and room names."""
    facility = Facility.objects.filter(code=code, is_active=True).first()
    if facility is None:
        raise Http404
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
        },
    )
    response["X-Robots-Tag"] = "noindex"
    return response
