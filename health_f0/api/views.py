"""The project's base of every API view: DRF's APIView, with the headers it adds to every answer worked out once a
view class instead of once an answer (issue 11, thirteenth round).

DRF builds `Allow` on each request (`default_response_headers`: `allowed_methods`, Django's `_allowed_methods`,
a `hasattr` and an `upper` per HTTP method name) and writes each header through `response[name] = value`
(CaseInsensitiveMapping and two charset conversions): about 27 Python calls an answer. The same value comes
from a view's class (its handler methods and `http_method_names`), so it is kept per class and written straight
into the header store (security_headers.put_header, the same stored pair for an ASCII value). A view instance
that has a method name of its own (as_view(**initkwargs), or anything set on the instance but the `head` that
View.setup copies from `get`) gets DRF's own work. tests/api/test_api_views.py compares every view of the
URLconf with DRF's answer.
"""

from __future__ import annotations

from typing import Any

from rest_framework import views
from rest_framework.request import Request

from health_f0.core.security_headers import put_header

# The names View.setup may set on an instance from the class alone: `head` (a copy of `get`).
_SET_BY_SETUP = frozenset({"head"})


# (No docstring: drf-spectacular would take an inherited one as every operation's description.)
class APIView(views.APIView):
    @property
    def default_response_headers(self) -> dict[str, str]:
        cls = type(self)
        kept = _headers_by_class.get(cls)
        if kept is not None and self.__dict__.keys().isdisjoint(kept[1]):
            return dict(kept[0])
        headers: dict[str, str] = super().default_response_headers
        names = _own_names(cls)
        if self.__dict__.keys().isdisjoint(names):
            _headers_by_class[cls] = (tuple(headers.items()), names)
        return headers

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        headers = self.headers
        if "Vary" in headers:  # more than one renderer: DRF merges it into the answer's own Vary
            return super().finalize_response(request, response, *args, **kwargs)
        # DRF's finalize_response with nothing of its own to write, then the headers it would have written, in
        # its order and after the answer's own, stored as `response[name] = value` stores them.
        self.headers = {}
        response = super().finalize_response(request, response, *args, **kwargs)
        self.headers = headers
        for name, value in headers.items():
            put_header(response, name, value)
        return response


def _own_names(cls: type[Any]) -> frozenset[str]:
    """The attribute names that, set on an instance of `cls`, could change its Allow header: the HTTP method
    names and `http_method_names` itself, but what View.setup sets from the class."""
    return (frozenset(cls.http_method_names) | {"http_method_names"}) - _SET_BY_SETUP


# A view class's DRF headers, and the instance attributes that would change them (_own_names).
_headers_by_class: dict[type[Any], tuple[tuple[tuple[str, str], ...], frozenset[str]]] = {}
