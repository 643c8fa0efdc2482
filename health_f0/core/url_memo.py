"""URL resolution kept by path (issue 11): Django's root resolver tries the URL patterns in order on every
request (29 patterns before an API list's, about 200 Python calls); the root resolver of settings.ROOT_URLCONF
here keeps what it resolved a path to and answers the next request for that path with a fresh copy.

Safe to keep because a successful resolution depends only on the path: the patterns of one urlconf are fixed
(a new ROOT_URLCONF, as override_settings sets, builds a new resolver with an empty memo: clear_url_caches),
the project's converters are Django's pure ones, and the memo is not used at all when a pattern's route
depends on the active language (i18n_patterns or a translated route). The key is the path alone: it carries
no account's data, and the value is what any request for that path resolves to. What is never kept: a 404
(Resolver404 is raised afresh each time, so a scan of made-up paths cannot fill the memo with misses) and
paths longer than _PATH_LIMIT. The memo is bounded (core.memo.Memo empties when full), so made-up paths that
do resolve (ids in a detail URL) cost a refill, never memory. Each hit is a new ResolverMatch with its own
kwargs, args list copies and `tried` lists: a view that changes its kwargs changes nothing for the next
request.

Installed by CoreConfig.ready (`install()`): django.urls keeps its root resolvers in a functools.cache,
`_get_cached_resolver`; this module's cache, of the same shape, stands in for it (and for
`clear_url_caches`, which clears it by that name)."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.urls import URLResolver, base, resolvers
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, ResolverMatch, RoutePattern

from health_f0.core.memo import Memo

_MEMO_SIZE = 1024
_PATH_LIMIT = 300  # characters: longer paths are resolved each time and not kept
_new = object.__new__


def _fresh(template: Any) -> ResolverMatch:
    """A ResolverMatch equal to `template` sharing none of its mutable parts (dicts and lists)."""
    state = {**template.__dict__}
    state["kwargs"] = {**template.kwargs}
    if template.captured_kwargs is not None:
        state["captured_kwargs"] = {**template.captured_kwargs}
    if template.extra_kwargs is not None:
        state["extra_kwargs"] = {**template.extra_kwargs}
    state["app_names"] = [*template.app_names]
    state["namespaces"] = [*template.namespaces]
    if template.tried is not None:
        state["tried"] = [[*chain] for chain in template.tried]
    match: ResolverMatch = _new(type(template))
    match.__dict__ = state
    return match


def _depends_on_language(patterns: Any) -> bool:
    """Whether any pattern under `patterns` matches differently in another language."""
    for entry in patterns:
        pattern: Any = entry.pattern
        if isinstance(pattern, LocalePrefixPattern):
            return True
        # The route or regex as written: a lazy translation (gettext_lazy) is not a str.
        if isinstance(pattern, RoutePattern) and not isinstance(vars(pattern)["_route"], str):
            return True
        if isinstance(pattern, RegexPattern) and not isinstance(vars(pattern)["_regex"], str):
            return True
        if isinstance(entry, URLResolver) and _depends_on_language(entry.url_patterns):
            return True
    return False


class MemoURLResolver(URLResolver):
    """The root resolver of settings.ROOT_URLCONF, keeping successful resolutions by path (module docstring)."""

    _memo: Memo[str, ResolverMatch] | None = None
    _memo_usable: bool | None = None

    def resolve(self, path: Any) -> ResolverMatch:
        if type(path) is not str or len(path) > _PATH_LIMIT:
            return super().resolve(path)  # type: ignore[no-any-return]
        memo = self._memo
        if memo is not None:
            template = memo.get(path)
            if template is not None:
                return _fresh(template)
        elif self._memo_usable is None:
            self._memo_usable = not _depends_on_language(self.url_patterns)
            if self._memo_usable:
                memo = self._memo = Memo(_MEMO_SIZE)
        match = super().resolve(path)  # a 404 raises here: never kept
        if memo is not None:
            memo.keep(path, _fresh(match))
        return match  # type: ignore[no-any-return]


@functools.cache
def _get_cached_resolver(urlconf: Any = None) -> URLResolver:
    """django.urls.resolvers._get_cached_resolver, with the memo for the default urlconf only."""
    if urlconf == settings.ROOT_URLCONF:
        return MemoURLResolver(RegexPattern(r"^/"), urlconf)
    return URLResolver(RegexPattern(r"^/"), urlconf)


def install() -> None:
    """Puts this module's root-resolver cache in place of Django's (idempotent)."""
    django_resolvers: Any = resolvers
    if django_resolvers._get_cached_resolver is not _get_cached_resolver:
        django_resolvers._get_cached_resolver.cache_clear()
        django_resolvers._get_cached_resolver = _get_cached_resolver
        django_base: Any = base
        django_base._get_cached_resolver = _get_cached_resolver
