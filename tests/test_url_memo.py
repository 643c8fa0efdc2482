"""core/url_memo.py: the root resolver keeps resolutions by path and answers exactly what Django's resolver
answers, for every URL pattern of the project; 404s are unchanged and never kept; no request's changes to its
ResolverMatch reach the next one."""

from __future__ import annotations

import itertools
import uuid
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, ResolverMatch
from django.utils.regex_helper import normalize
from django.utils.translation import gettext_lazy

from health_f0.core import url_memo
from health_f0.core.url_memo import MemoURLResolver

# Values tried for each captured parameter until Django's own resolver resolves the path.
_SAMPLES = ("7", str(uuid.UUID(int=5)), "abc", "tai-lieu.pdf", "a/b", "2026-01-02", "vi", "x1")


def _plain_resolver() -> URLResolver:
    """Django's own root resolver of the project's urlconf (no memo)."""
    return URLResolver(RegexPattern(r"^/"), settings.ROOT_URLCONF)


def _leaf_regexes(patterns: Any, prefix: str = "") -> list[str]:
    regexes: list[str] = []
    for entry in patterns:
        regex = prefix + entry.pattern.regex.pattern
        if isinstance(entry, URLResolver):
            regexes += _leaf_regexes(entry.url_patterns, regex)
        else:
            assert isinstance(entry, URLPattern)
            regexes.append(regex)
    return regexes


def _sample_path(regex: str, plain: URLResolver) -> str | None:
    """A path that one of the pattern's forms gives with sample values and that Django resolves."""
    for form, params in normalize(regex):
        for values in itertools.product(_SAMPLES, repeat=len(params)):
            candidate = "/" + form % dict(zip(params, values, strict=True))
            try:
                plain.resolve(candidate)
            except Resolver404:
                continue
            return candidate
    return None


def _state(match: ResolverMatch) -> dict[str, Any]:
    return {
        name: getattr(match, name)
        for name in (
            "func",
            "args",
            "kwargs",
            "url_name",
            "route",
            "app_names",
            "app_name",
            "namespaces",
            "namespace",
            "view_name",
            "captured_kwargs",
            "extra_kwargs",
            "tried",
            "_func_path",
        )
    }


def test_the_root_resolver_is_the_memo() -> None:
    assert type(get_resolver()) is MemoURLResolver
    with override_settings(ROOT_URLCONF="health_f0.api.urls"):
        assert type(get_resolver()) is MemoURLResolver  # the default urlconf, whichever it is
        assert type(get_resolver("health_f0.urls")) is URLResolver  # another urlconf: Django's
    assert type(get_resolver()) is MemoURLResolver


def test_every_url_pattern_resolves_as_django_resolves_it() -> None:
    plain = _plain_resolver()
    memo = MemoURLResolver(RegexPattern(r"^/"), settings.ROOT_URLCONF)
    regexes = _leaf_regexes(plain.url_patterns)
    paths = {regex: _sample_path(regex, plain) for regex in regexes}
    resolved = [p for p in paths.values() if p is not None]
    # Every pattern but a handful (regexes with alternations normalize() cannot expand) gets a path.
    assert len(resolved) >= len(regexes) - 5, [r for r, p in paths.items() if p is None]
    for candidate in resolved:
        expected = _state(plain.resolve(candidate))
        assert _state(memo.resolve(candidate)) == expected, candidate  # worked out, then kept
        assert _state(memo.resolve(candidate)) == expected, candidate  # from the memo
    assert memo._memo is not None and set(memo._memo) == set(resolved)


def test_a_hit_does_not_try_the_patterns_again() -> None:
    memo = MemoURLResolver(RegexPattern(r"^/"), settings.ROOT_URLCONF)
    first = memo.resolve("/api/v2/alerts")
    with mock.patch.object(URLResolver, "resolve", side_effect=AssertionError("patterns tried")):
        again = memo.resolve("/api/v2/alerts")
    assert _state(again) == _state(first) and again is not first


def test_404s_are_unchanged_and_never_kept() -> None:
    plain = _plain_resolver()
    memo = MemoURLResolver(RegexPattern(r"^/"), settings.ROOT_URLCONF)
    for missing in ("/khong-co/", "/api/v2/khong-co/", "/hang-doi/x/y/z", "/api/v2/alerts/extra"):
        with pytest.raises(Resolver404) as django_error:
            plain.resolve(missing)
        for _ in range(2):
            with pytest.raises(Resolver404) as memo_error:
                memo.resolve(missing)
            assert memo_error.value.args == django_error.value.args
    assert not memo._memo


def test_a_changed_match_does_not_reach_the_next_request() -> None:
    memo = MemoURLResolver(RegexPattern(r"^/"), settings.ROOT_URLCONF)
    plain = _plain_resolver()
    detail = "/api/v2/privacy/exports/" + str(uuid.UUID(int=9))
    candidates = [detail, "/api/v2/alerts", "/.well-known/security.txt"]
    for candidate in candidates:
        try:
            expected = _state(plain.resolve(candidate))
        except Resolver404:
            continue
        first = memo.resolve(candidate)
        first.kwargs["injected"] = "x"
        first.args = ("y",)
        (first.captured_kwargs or {}).update(injected="x")
        (first.extra_kwargs or {}).update(injected="x")
        first.app_names.append("x")
        first.namespaces.append("x")
        first.tried.append(["x"])
        first.tried[0].append("x")
        second = memo.resolve(candidate)
        assert _state(second) == expected
        second.kwargs["other"] = "z"
        assert _state(memo.resolve(candidate)) == expected


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(url_memo, "_MEMO_SIZE", 8)
    memo = MemoURLResolver(RegexPattern(r"^/"), settings.ROOT_URLCONF)
    for number in range(40):
        memo.resolve(f"/api/v2/privacy/exports/{uuid.UUID(int=number)}")
    assert memo._memo is not None and len(memo._memo) <= 8
    long_path = "/api/v2/privacy/exports/" + "a" * 400
    assert memo.resolve(long_path).kwargs == {"id": "a" * 400}
    assert long_path not in memo._memo


def _view(request: Any) -> HttpResponse:
    return HttpResponse()


def test_no_memo_when_a_route_depends_on_the_language() -> None:
    memo = MemoURLResolver(RegexPattern(r"^/"), [path(gettext_lazy("trang/"), _view, name="page")])  # type: ignore[arg-type]
    assert memo.resolve("/trang/").url_name == "page"
    assert memo._memo is None and memo._memo_usable is False
