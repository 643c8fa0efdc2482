"""In-process view of one GET of a list endpoint (issue 11): queries per request, this process's CPU per request
and, with --profile, where it goes (cProfile, cumulative). Requests go through Django's WSGI handler (no HTTP
server), each with the next patient token of the bench data (bench/generate.py), so every request reads another
patient's rows. For finding where a worker's CPU goes; a wrk run gives the figures that count.

    DATABASE_URL=... ALLOWED_HOSTS=testserver .venv/bin/python bench/list_inproc.py \
        --path '/api/v1/declarations?limit=100' --requests 300 [--profile] [--show-queries]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, load_average, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", default="/api/v1/declarations?limit=100")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--tokens", default=str(OUT / "tokens.txt"))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--show-queries", action="store_true")
    args = parser.parse_args()
    setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    tokens = [t for t in Path(args.tokens).read_text().split() if t]
    client = Client()
    sizes: list[int] = []

    def get(i: int) -> int:
        response = client.get(args.path, HTTP_AUTHORIZATION=f"Bearer {tokens[i % len(tokens)]}")
        sizes.append(len(response.content))
        return response.status_code

    for i in range(20):  # warm-up: caches, connection, the plan caches of core.rawsql
        status = get(i)
        assert status == 200, status
    with CaptureQueriesContext(connection) as ctx:
        assert get(21) == 200
    print(f"{args.path}: {len(ctx.captured_queries)} queries per request, {sizes[-1]} bytes")
    if args.show_queries:
        for q in ctx.captured_queries:
            print("  ", q["sql"][:240])
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(args.requests):
        get(100 + i)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if profiler:
        profiler.disable()
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    print(
        f"{args.requests} requests: {cpu * 1000 / args.requests:.2f} ms CPU and {wall * 1000 / args.requests:.2f} ms "
        f"wall per request (this process, sequential); load {load_average()}"
    )


if __name__ == "__main__":
    main()
