"""api/apis/common.py cursor_link: the v2 lists' next/previous links are the same text as DRF's
`replace_query_param(request.build_absolute_uri(), "cursor", cursor)`, for any URL a client can send."""

from __future__ import annotations

from typing import Any
from unittest import mock

from django.core.exceptions import DisallowedHost
from django.test import RequestFactory, override_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from health_f0.api.apis import common
from health_f0.api.apis.common import cursor_link

HOSTS = (
    "testserver",
    "Example.COM:8443",
    "127.0.0.1:8000",
    "[::1]:8000",
    "h-1.example.org.",
    "xn--bcher-kva.example",
    "a_b.example",  # not a valid host: DisallowedHost either way
)
PATHS = (
    "/api/v2/alerts",
    "/api/v2/staff/appointments",
    "/api/v2/a b/c",
    "/api/v2/%C3%A1/x",
    "/api/ư/x",
    "//api/x",
    "/api/./x/",
    "/api/../x/",
    "/a;b=c/d",
    "/a:b/~c/(d)/",
    "/a%2Fb/%25",
)
# Query text: ASCII specials and a few non-ASCII letters, as a client may send them (WSGI: UTF-8 read as latin-1).
QUERY_ALPHABET = st.sampled_from(list("ab_c.-~=&+%;#/?:2F3D0 \t") + ["ư", "é", "cursor", "limit=1", "%C3%A1"])
CURSORS = st.one_of(
    st.sampled_from(["eyJrIjpbMSwyXX0", "AAEC-_x", "a=b&c", "ư"]),
    st.text(max_size=12),
)


def _outcome(function: Any) -> tuple[str, Any]:
    try:
        return "ok", function()
    except (DisallowedHost, ValueError, UnicodeError) as error:
        return "error", type(error)


def _request(*, secure: bool, host: str, path: str, query: str) -> Request:
    def wsgi(text: str) -> str:  # as a WSGI server hands text over: UTF-8 bytes read as latin-1
        return text.encode("utf-8").decode("latin-1")

    factory = RequestFactory()
    http_request = factory.get(
        path, secure=secure, HTTP_HOST=host, QUERY_STRING=wsgi(query), PATH_INFO=wsgi(path)
    )
    return Request(http_request)


@override_settings(ALLOWED_HOSTS=["*"])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secure=st.booleans(),
    host=st.sampled_from(HOSTS),
    path=st.sampled_from(PATHS),
    query=st.lists(QUERY_ALPHABET, max_size=12).map("".join),
    cursor=CURSORS,
)
@example(secure=False, host="testserver", path="/api/v2/alerts", query="limit=1", cursor="eyJrIjpbMSwyXX0")
@example(secure=True, host="testserver", path="/api/v2/alerts", query="", cursor="AAEC")
@example(
    secure=False, host="testserver", path="/api/v2/alerts", query="z=1&cursor=old&a=2&z=0&a=", cursor="n"
)
@example(
    secure=False, host="testserver", path="/api/v2/alerts", query="b=1&a=2&b=3&cursor=x&cursor=y", cursor="c"
)
@example(secure=False, host="testserver", path="/api/v2/alerts", query="a+b=c+d&e=%41&&f", cursor="c")
def test_the_link_is_drf_s_link(secure: bool, host: str, path: str, query: str, cursor: str) -> None:
    request = _request(secure=secure, host=host, path=path, query=query)
    expected = _outcome(lambda: replace_query_param(request._request.build_absolute_uri(), "cursor", cursor))
    fresh = _request(secure=secure, host=host, path=path, query=query)
    assert _outcome(lambda: cursor_link(fresh)(cursor)) == expected


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_a_plain_url_is_put_together_without_drf_s_parsing() -> None:
    request = _request(secure=False, host="testserver", path="/api/v2/alerts", query="z=9&limit=1&a=&limit=2")
    with mock.patch.object(common, "replace_query_param", side_effect=AssertionError("parsed")):
        link = cursor_link(request)
        assert link(None) is None
        assert link("eyJr-_") == "http://testserver/api/v2/alerts?a=&cursor=eyJr-_&limit=1&limit=2&z=9"


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_a_disallowed_host_still_fails() -> None:
    request = _request(secure=False, host="evil.example", path="/api/v2/alerts", query="limit=1")
    assert _outcome(lambda: cursor_link(request)("c")) == ("error", DisallowedHost)
