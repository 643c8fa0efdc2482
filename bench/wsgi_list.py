"""health_f0's WSGI application with each non-streaming answer handed to the server as a list of one chunk
(bench/servers.py, server "granian:B:list"): granian sends a list at once and iterates anything else, holding
the GIL while it does. The response is closed (Django's request_finished) before the bytes are sent."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpResponse

from health_f0.wsgi import application as django_application


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    response = django_application(environ, start_response)
    if not isinstance(response, HttpResponse):
        return response  # streaming (whitenoise's files): iterated by the server, closed by it
    try:
        return [response.content]
    finally:
        response.close()
