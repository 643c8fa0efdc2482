"""The project's APIView (api/views.py) answers DRF's headers, kept per view class: for every API view of the
URLconf the same Allow (and Vary) as DRF's own, in the same place among the answer's headers; an instance that
changes its methods gets DRF's work; and X-Frame-Options (core/security_headers.XFrameOptionsMiddleware) is
Django's."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.views.decorators.clickjacking import xframe_options_exempt, xframe_options_sameorigin
from rest_framework import views as drf_views
from rest_framework.response import Response

from health_f0.api import views
from health_f0.core import security_headers


def _api_views(patterns: Any = None) -> list[type[Any]]:
    found = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            found += _api_views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            cls = getattr(pattern.callback, "view_class", None)
            if (
                cls is not None
                and issubclass(cls, drf_views.APIView)
                and cls.__module__.startswith("health_f0.")
            ):
                found.append(cls)
    return found


def _drf_headers(view: Any) -> dict[str, str]:
    return drf_views.APIView.default_response_headers.fget(view)  # type: ignore[attr-defined,no-any-return]


def _set_up(cls: type[Any], **initkwargs: Any) -> Any:
    view = cls(**initkwargs)
    view.setup(RequestFactory().get("/api/v1/x"))
    return view


def test_every_api_view_is_the_projects() -> None:
    """A new view built on DRF's APIView directly would pay DRF's per-answer work again."""
    api_views = _api_views()
    assert len(api_views) > 40
    assert [cls for cls in api_views if not issubclass(cls, views.APIView)] == []


@pytest.mark.parametrize("cls", sorted(set(_api_views()), key=lambda cls: cls.__qualname__), ids=str)
def test_each_views_headers_are_drfs(cls: type[Any]) -> None:
    for _ in range(2):  # worked out, then kept
        view = _set_up(cls)
        assert view.default_response_headers == _drf_headers(view)
        assert list(view.default_response_headers) == list(_drf_headers(view))


def test_an_instance_with_methods_of_its_own_gets_drfs_answer() -> None:
    class Probe(views.APIView):
        def get(self, request: Any) -> Response:
            return Response({})

    assert _set_up(Probe).default_response_headers == {"Allow": "GET, HEAD, OPTIONS"}
    narrowed = _set_up(Probe, http_method_names=["get", "head"])
    assert narrowed.default_response_headers == {"Allow": "GET, HEAD"}
    with_post = _set_up(Probe)
    with_post.post = with_post.get
    assert with_post.default_response_headers == {"Allow": "GET, POST, HEAD, OPTIONS"}
    assert _set_up(Probe).default_response_headers == {"Allow": "GET, HEAD, OPTIONS"}


def test_the_answers_headers_in_drfs_order() -> None:
    """The headers a view set on its answer come first, then Allow, as DRF writes them; an answer with more than
    one renderer gets DRF's Vary merged into its own."""

    class Probe(views.APIView):
        permission_classes: list[Any] = []

        def get(self, request: Any) -> Response:
            return Response({"a": 1}, headers={"X-Own": "1"})

    class DrfProbe(drf_views.APIView):
        permission_classes: list[Any] = []

        def get(self, request: Any) -> Response:
            return Response({"a": 1}, headers={"X-Own": "1"})

    ours = Probe.as_view()(RequestFactory().get("/api/v1/x")).render()
    drfs = DrfProbe.as_view()(RequestFactory().get("/api/v1/x")).render()
    assert ours.status_code == drfs.status_code == 200
    assert list(ours.items()) == list(drfs.items())
    assert list(ours.items())[-2:] == [("X-Own", "1"), ("Allow", "GET, HEAD, OPTIONS")]
    assert ours.content == drfs.content

    from health_f0.api.apis.common import PdfDownloadMixin

    class Pdf(PdfDownloadMixin):
        permission_classes: list[Any] = []

        def get(self, request: Any) -> Response:
            return Response({"a": 1}, headers={"Vary": "Origin"})

    answer = Pdf.as_view()(RequestFactory().get("/api/v1/x"))
    assert answer["Vary"] == "Origin, Accept"
    assert answer["Allow"] == "GET, HEAD, OPTIONS"


def _framed(view: Any) -> HttpResponse:
    from django.middleware.clickjacking import XFrameOptionsMiddleware as Djangos

    request = RequestFactory().get("/")
    ours = security_headers.XFrameOptionsMiddleware(view)(request)
    theirs = Djangos(view)(request)
    assert list(ours.items()) == list(theirs.items())
    return ours


def test_x_frame_options_is_djangos() -> None:
    def plain(request: Any) -> HttpResponse:
        response = HttpResponse("x")
        response["X-Other"] = "1"
        return response

    assert _framed(plain)["X-Frame-Options"] == "DENY"
    assert _framed(xframe_options_sameorigin(plain))["X-Frame-Options"] == "SAMEORIGIN"
    assert "X-Frame-Options" not in _framed(xframe_options_exempt(plain))
    with override_settings(X_FRAME_OPTIONS="sameorigin"):
        assert _framed(plain)["X-Frame-Options"] == "SAMEORIGIN"


def test_the_xframe_deploy_check_sees_either_middleware() -> None:
    from django.conf import settings

    check = security_headers.check_xframe_options_middleware
    assert check() == []
    without = [name for name in settings.MIDDLEWARE if not name.endswith(".XFrameOptionsMiddleware")]
    with override_settings(MIDDLEWARE=without):
        assert [message.id for message in check()] == ["health_f0.W002"]
    with override_settings(MIDDLEWARE=[*without, security_headers.XFRAME_MIDDLEWARE]):
        assert check() == []
    with override_settings(X_FRAME_OPTIONS="SAMEORIGIN"):
        assert [message.id for message in check()] == ["health_f0.W019"]
