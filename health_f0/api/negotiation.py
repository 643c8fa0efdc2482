"""DRF's content negotiation, worked out once per kind of request instead of on every request (issue 11).

DefaultContentNegotiation parses the Accept header into media types and matches them against the view's
renderers on every request: about 60 Python calls, 7 % of the stack's CPU for a token API request (without
the view's own work). Its answer depends only on the Accept header, the `?format=` (or suffix) asked for and
the view's renderer classes, so it is kept per (format, Accept, renderer classes): the same renderer (by
position) and the same accepted media type as DRF gives, because DRF gives it the first time. Errors (406,
the 404 of an unknown format) are never kept: they take DRF's path every time.

Bounded: only Accept headers up to _MAX_ACCEPT characters are kept (the apps and browsers send short ones),
and the table is cleared when it holds _MAX_ENTRIES answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer

from health_f0.core.memo import Memo

_MAX_ACCEPT = 200
_MAX_ENTRIES = 512
# (format, Accept, renderer classes) -> (position of the renderer in the view's list, accepted media type)
_answers: Memo[tuple[Any, ...], tuple[int, str]] = Memo(_MAX_ENTRIES)


class CachedContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Any, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        accept = request.META.get("HTTP_ACCEPT")
        if accept is not None and len(accept) > _MAX_ACCEPT:
            return super().select_renderer(request, renderers, format_suffix)  # type: ignore[no-any-return]
        wanted = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        key = (wanted, accept, *(type(renderer) for renderer in renderers))
        answer = _answers.get(key)
        if answer is not None:
            return renderers[answer[0]], answer[1]
        renderer, media_type = super().select_renderer(request, renderers, format_suffix)
        for position, candidate in enumerate(renderers):
            if candidate is renderer:
                _answers.keep(key, (position, media_type))
                break
        return renderer, media_type
