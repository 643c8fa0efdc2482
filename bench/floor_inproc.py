"""The floor of a token API call (issue 11): what the stack costs around a view that does nothing, in process.
An empty patient view (PatientApi's authentication, permissions, consent gate, versioning, negotiation and
renderer; `{}` as its answer) is added under /api/v1/ for this process only; requests go straight to Django's
WSGI handler (as gunicorn calls it, without the test client's own work), each with the next token of the file.
Prints this process's CPU and Python calls per request; --profile adds cProfile's callers (cumulative).

    DATABASE_URL=... ALLOWED_HOSTS=testserver .venv/bin/python bench/floor_inproc.py \
        --tokens bench/out/tokens.txt [--path /api/v1/me] [--requests 1000] [--profile]

Without --path the empty view is called; with it, that path (through the same handler): `/api/v1/_floor-public`
is the same view without authentication or permissions, `/api/v1/_floor-plain` a plain Django view (no DRF).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, load_average, setup, wsgi_get  # noqa: E402

EMPTY_PATH = "/api/v1/_floor-empty"


def add_empty_view() -> None:
    from django.http import HttpResponse
    from django.urls import path
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response

    from health_f0.api import urls
    from health_f0.api.apis.monitoring import PatientApi

    class EmptyApi(PatientApi):
        def get(self, request: Any) -> Response:
            return Response({})

    class PublicEmptyApi(PatientApi):
        authentication_classes: list[Any] = []
        permission_classes = [AllowAny]

        def get(self, request: Any) -> Response:
            return Response({})

    def plain(request: Any) -> HttpResponse:
        return HttpResponse(b"{}", content_type="application/json")

    # In the middle of the API's list, as a typical endpoint is.
    middle = len(urls.urlpatterns) // 2
    urls.urlpatterns[middle:middle] = [
        path("_floor-empty", EmptyApi.as_view(), name="floor-empty"),
        path("_floor-public", PublicEmptyApi.as_view(), name="floor-public"),
        path("_floor-plain", plain, name="floor-plain"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", default=EMPTY_PATH)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--tokens", default=str(OUT / "tokens.txt"))
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    setup()
    add_empty_view()
    from health_f0.wsgi import application  # the project's handler, as gunicorn serves it

    handler_class = type(application)

    handler = handler_class()
    tokens = [t for t in Path(args.tokens).read_text().split() if t]
    path, _, query = args.path.partition("?")

    def get(i: int) -> tuple[str, bytes]:
        headers = {
            "HTTP_ACCEPT": "application/json",
            "HTTP_AUTHORIZATION": f"Bearer {tokens[i % len(tokens)]}",
        }
        return wsgi_get(handler, f"{path}?{query}" if query else path, headers)

    for i in range(30):  # warm-up: caches, connection, plan caches
        status, body = get(i)
        assert status.startswith("200"), (status, body[:300])
    # PROFILE_CPU=1: cProfile on this process's CPU clock (waits on sockets left out).
    timer = time.process_time if os.environ.get("PROFILE_CPU") else time.perf_counter
    profiler = cProfile.Profile(timer) if args.profile else None
    counter = cProfile.Profile()
    counter.enable()
    for i in range(50):
        get(1000 + i)
    counter.disable()
    calls = pstats.Stats(counter).total_calls / 50  # type: ignore[attr-defined]
    if profiler:
        profiler.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(args.requests):
        get(2000 + i)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if profiler:
        profiler.disable()
        if os.environ.get("PROFILE_OUT"):
            profiler.dump_stats(os.environ["PROFILE_OUT"])
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            int(os.environ.get("PROFILE_TOP", "60"))
        )
    print(
        f"{args.path}: {cpu * 1000 / args.requests:.3f} ms CPU and {wall * 1000 / args.requests:.3f} ms wall "
        f"per request, {calls:.0f} Python calls "
        f"(this process, sequential; load {load_average()}); {len(body)} bytes"
    )


if __name__ == "__main__":
    main()
