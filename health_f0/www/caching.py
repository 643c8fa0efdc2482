"""`never_cache` for the portal's views: Django's decorator, with the headers it writes on a response that has
neither `Expires` nor `Cache-Control` (every portal view's own response) written straight into the header store.

Django's add_never_cache_headers parses and rewrites Cache-Control twice (patch_response_headers' max-age, then
the no-cache flags) and formats the date through email.utils: about 88 Python calls on each of the portal's list
pages (/lich-su, /ho-so-kham, /ket-qua-xet-nghiem, /lien-ket-ho-so; issue 11). On such a response it always ends
with the same two headers, in the same order: `Expires: <now>` and the Cache-Control text below. A response that
already has either header goes through Django's function as before (tests/www/test_portal_never_cache.py compares
both).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache as django_never_cache

from health_f0.core.http_dates import SecondDates
from health_f0.core.security_headers import header_store

# What add_never_cache_headers writes as Cache-Control on a response without one (max-age=0 from
# patch_response_headers, then no_cache, no_store, must_revalidate and private, in that order).
NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"

# http_date(now), formatted once a second (core/http_dates.SecondDates).
_dates = SecondDates()


def _http_date_now() -> str:
    """http_date(time.time())."""
    return _dates(time.time())


def add_headers(response: Any) -> None:
    """add_never_cache_headers(response)."""
    headers = header_store(response)
    if "expires" in headers or "cache-control" in headers:
        add_never_cache_headers(response)
        return
    headers["expires"] = ("Expires", _http_date_now())
    headers["cache-control"] = ("Cache-Control", NEVER_CACHE)


def never_cache(view_func: Callable[..., Any]) -> Callable[..., Any]:
    """django.views.decorators.cache.never_cache for a synchronous view (an async one gets Django's)."""
    checked = django_never_cache(view_func)
    if iscoroutinefunction(view_func):
        return checked

    @wraps(view_func)
    def _view_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
        if not hasattr(request, "META"):
            return checked(request, *args, **kwargs)  # Django's TypeError, before the view runs
        response = view_func(request, *args, **kwargs)
        add_headers(response)
        return response

    return _view_wrapper
