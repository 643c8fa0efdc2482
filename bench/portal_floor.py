"""The floor of a signed-in portal page (issue 11): what the middleware and the layout cost around a portal
view, in process, straight through Django's WSGI handler (as gunicorn calls it, without the test client's own
work), each request with the next patient account's session cookie.

Two pages are added for this process only: `/_floor-empty` (a login_required view answering an empty body:
the middleware alone) and `/_floor-chrome` (the same, drawing the portal's layout with no content: the
middleware, the site's name and the head, header and footer). Any portal page can be measured as well.

    <bench env> ALLOWED_HOSTS=testserver VAR_DIR=... .venv/bin/python bench/portal_floor.py \\
        [--pages /_floor-empty,/_floor-chrome,/ca-nhan] [--accounts 60] [--requests 300] [--layers] [--profile]

--layers puts a marker between every two middleware of settings.MIDDLEWARE and prints each one's own CPU
(its work before and after the next one), and the view's (with the template), per request.
--profile prints cProfile's top functions by own time (PROFILE_SORT, PROFILE_TOP to change).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import load_average, setup, wsgi_get  # noqa: E402

# --- Markers between middleware (--layers) ------------------------------------------------------------------

_enter: list[float] = []
_leave: list[float] = []


def marker(index: int) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    def factory(get_response: Callable[[Any], Any]) -> Callable[[Any], Any]:
        clock = time.process_time

        def mark(request: Any) -> Any:
            _enter[index] += clock()
            response = get_response(request)
            _leave[index] += clock()
            return response

        return mark

    return factory


def add_markers(count: int) -> None:
    """Markers 0..count: marker i stands before the i-th middleware, the last one before the view."""
    from django.conf import settings

    module = sys.modules[__name__]
    names = []
    for i in range(count + 1):
        setattr(module, f"Marker{i}", marker(i))
        names.append(f"{module.__name__}.Marker{i}")
    chain: list[str] = []
    for i, middleware in enumerate(settings.MIDDLEWARE):
        chain += [names[i], middleware]
    chain.append(names[count])
    settings.MIDDLEWARE = chain
    _enter[:] = [0.0] * (count + 1)
    _leave[:] = [0.0] * (count + 1)


def add_views() -> None:
    from django.contrib.auth.decorators import login_required
    from django.http import HttpResponse
    from django.urls import path

    from health_f0.www import urls, views

    @login_required
    def empty(request: Any) -> HttpResponse:
        return HttpResponse(b"")

    @login_required
    def chrome(request: Any) -> HttpResponse:
        return views._page(request, "www/layout.html", {})

    urls.urlpatterns[len(urls.urlpatterns) // 2 : len(urls.urlpatterns) // 2] = [
        path("_floor-empty", empty, name="floor-empty"),
        path("_floor-chrome", chrome, name="floor-chrome"),
    ]


def session_cookies(limit: int) -> list[str]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from health_f0.patients.models import Patient

    ids = list(
        Patient.objects.filter(account__isnull=False)
        .order_by("id")
        .values_list("account_id", flat=True)[:limit]
    )
    cookies = []
    for user in get_user_model().objects.filter(pk__in=ids).order_by("pk"):
        client = Client()
        client.force_login(user)
        client.get("/_floor-chrome")  # a browser holds the CSRF cookie of its first page
        cookies.append(
            "; ".join(
                f"{name}={client.cookies[name].value}" for name in (settings.SESSION_COOKIE_NAME, "csrftoken")
            )
        )
    return cookies


def page_getter(handler: Any, cookies: list[str], lang: str) -> Any:
    """get(path, i): the page through `handler` (a WSGI application) as gunicorn calls it, with the i-th
    account's session cookie (of `cookies`, in turn) and Accept-Language `lang`: (status, body)."""

    def get(path: str, i: int) -> tuple[str, bytes]:
        headers = {
            "HTTP_ACCEPT": "text/html",
            "HTTP_ACCEPT_LANGUAGE": lang,
            "HTTP_COOKIE": cookies[i % len(cookies)],
        }
        return wsgi_get(handler, path, headers)

    return get


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", default="/_floor-empty,/_floor-chrome,/ca-nhan,/lich-hen,/lich-su")
    parser.add_argument("--accounts", type=int, default=60)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--lang", default="vi")
    parser.add_argument("--layers", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--render", action="store_true", help="print the CPU of the portal's render() calls")
    args = parser.parse_args()
    setup()
    from django.conf import settings

    count = len(settings.MIDDLEWARE)
    middleware = list(settings.MIDDLEWARE)
    if args.layers:
        add_markers(count)
    add_views()
    rendered = [0.0]
    if args.render:
        from health_f0.www import views

        plain_render = views.render

        def timed_render(*a: Any, **k: Any) -> Any:
            t0 = time.process_time()
            try:
                return plain_render(*a, **k)
            finally:
                rendered[0] += time.process_time() - t0

        views.render = timed_render
    from health_f0.wsgi import application  # the project's handler, as gunicorn serves it

    handler_class = type(application)

    handler = handler_class()
    cookies = session_cookies(args.accounts)

    get = page_getter(handler, cookies, args.lang)

    print(f"{len(cookies)} accounts, {args.requests} requests a page, load {load_average()}")
    for page in args.pages.split(","):
        for i in range(max(30, len(cookies))):
            status, body = get(page, i)
            assert status.startswith("200"), (page, status, body[:300])
        counter = cProfile.Profile()
        counter.enable()
        for i in range(30):
            get(page, i)
        counter.disable()
        calls = pstats.Stats(counter).total_calls / 30  # type: ignore[attr-defined]
        if args.layers:
            _enter[:] = [0.0] * (count + 1)
            _leave[:] = [0.0] * (count + 1)
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        if profiler:
            profiler.enable()
        rendered[0] = 0.0
        cpu0 = time.process_time()
        for i in range(args.requests):
            get(page, i)
        cpu = time.process_time() - cpu0
        if profiler:
            profiler.disable()
            if os.environ.get("PROFILE_OUT"):
                profiler.dump_stats(os.environ["PROFILE_OUT"])
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(
                int(os.environ.get("PROFILE_TOP", "40"))
            )
        print(f"{page}: {cpu * 1000 / args.requests:.3f} ms CPU, {calls:.0f} Python calls, {len(body)} bytes")
        if args.render:
            print(f"    {rendered[0] * 1000 / args.requests:7.3f} ms  render()")
        if args.layers:
            n = args.requests
            for i, name in enumerate(middleware):
                own = (_enter[i + 1] - _enter[i]) + (_leave[i] - _leave[i + 1])
                print(f"    {own * 1000 / n:7.3f} ms  {name}")
            print(f"    {(_leave[count] - _enter[count]) * 1000 / n:7.3f} ms  (the view)")


if __name__ == "__main__":
    main()
