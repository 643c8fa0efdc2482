"""Per-request reference cycles broken when the response is closed (issue 11).

Django REST framework ties every API request into a reference cycle: the view keeps the request and the
response (`view.request`, `view.response`, and `view.head`, a method bound to the view itself), the request's
`parser_context` keeps the view and the request, and the response's `renderer_context` keeps the view, the
request and the response (encode/django-rest-framework#5826 and #7250, acknowledged upstream, not fixed). So the
whole graph of a request, the page's rows included, is freed not by reference counting when the answer has been
sent but by the cyclic garbage collector, later: on a staff list of 100 rows that was about 440 objects a request
promoted to the collector's middle generation, 0.5 ms of CPU a request in its collections, and, every few
thousand requests, a full collection of the whole process (170-340 ms) that lands on one request's latency
(docs/benchmarks.md, "eighth round").

`ReleaseCyclesMiddleware` (outermost in settings.MIDDLEWARE) registers, on every response, a closer that cuts
those edges when the WSGI server closes the response (after the body has been sent; the test client closes it
too, before handing it to the test): the view's attributes, and the two contexts' references to the view, the
request and the response. `response.data` and the rendered content are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase


def release(response: HttpResponseBase) -> None:
    """Cut the reference cycles of a DRF response's request (nothing for any other response)."""
    context = response.__dict__.get("renderer_context")
    if not isinstance(context, dict):
        return
    view = context.pop("view", None)
    context.pop("response", None)
    api_request = context.get("request")
    parser_context = getattr(api_request, "parser_context", None) if api_request is not None else None
    if isinstance(parser_context, dict):
        parser_context.pop("view", None)
        parser_context.pop("request", None)
    if view is not None:
        # The view instance is per request (as_view builds one each time); nothing reads it once the answer is
        # sent. Its attributes hold the request, the response and `head` (bound to the view).
        view.__dict__.clear()


class ReleaseCyclesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        response = self.get_response(request)
        if isinstance(response, HttpResponseBase) and "renderer_context" in response.__dict__:
            # The closer refers to the response until close() runs it and empties the list.
            response._resource_closers.append(lambda: release(response))  # type: ignore[attr-defined]
        return response
