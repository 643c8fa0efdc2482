"""In-process CPU per request of the staff lists (and the patient lists that share core.sqllist), for pairs: run it
from the checkout whose code answers (it imports the health_f0 of the current directory), so one copy measures the
base commit and the work alike, in the same minutes (issue 11).

    <bench env> ALLOWED_HOSTS=testserver .venv/bin/python bench/staff_inproc.py [--requests 100] [--rounds 3] \\
        [--only alerts-ttyt.v2] [--tokens-dir bench/out] [--profile CASE] [--limit 1]
    cd /work/wt/base && <bench env> ALLOWED_HOSTS=testserver .venv/bin/python /path/to/bench/staff_inproc.py ...

Each case is asked through Django's test client with the token of the staff of the largest station or TTYT
(bench/out/staff_tokens.tsv, largest.json) or the next patient token; the figure is this process's CPU per request,
the best and the median of --rounds rounds of --requests requests. --profile CASE: cProfile of one round of it.
--calls N: Python function calls and queries per request instead (counts, steady on a busy machine).
--wsgi: through Django's WSGIHandler as gunicorn calls it, without the test client's own work (the default
stays the test client, comparable with earlier rounds).
--limit 1: every case asks for one row, the request's floor (token, DRF's initial, middleware, the user's scope).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import _django  # this script's directory: the WSGI request only (the code measured is the cwd's)

CASES: dict[str, tuple[str, str]] = {
    # name: (path, who); who: "station", "ttyt:<role>", "doh", "patient", "patient_all"
    "alerts.v1": ("/api/v1/alerts?limit=100", "station"),
    "alerts.v2": ("/api/v2/alerts?limit=100", "station"),
    "alerts-ttyt.v1": ("/api/v1/alerts?limit=100", "ttyt:manager"),
    "alerts-ttyt.v2": ("/api/v2/alerts?limit=100", "ttyt:manager"),
    "alerts-ttyt.v2-next": ("/api/v2/alerts?limit=100", "ttyt:manager"),
    "registrations.v1": ("/api/v1/registrations?limit=100", "station"),
    "registrations.v2": ("/api/v2/registrations?limit=100", "station"),
    "registrations-ttyt.v1": ("/api/v1/registrations?limit=100", "ttyt:manager"),
    "registrations-ttyt.v2": ("/api/v2/registrations?limit=100", "ttyt:manager"),
    "registrations-ttyt.v2-next": ("/api/v2/registrations?limit=100", "ttyt:manager"),
    "staff-appointments.v1": ("/api/v1/staff/appointments?limit=100", "ttyt:booking_desk"),
    "staff-appointments.v2": ("/api/v2/staff/appointments?limit=100", "ttyt:booking_desk"),
    "staff-appointments.v2-next": ("/api/v2/staff/appointments?limit=100", "ttyt:booking_desk"),
    "staff-appointments-confirmed.v2": (
        "/api/v2/staff/appointments?limit=100&status=confirmed",
        "ttyt:booking_desk",
    ),
    "alerts-doh.v2": ("/api/v2/alerts?limit=100", "doh"),
    "episodes.v2": ("/api/v2/episodes?limit=100", "patient"),
    "his-links.v2": ("/api/v2/his-links?limit=100", "patient_all"),
    "declarations.v2": ("/api/v2/declarations?limit=100", "patient"),
}


def setup() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("mysql://"):
        sys.exit("Set DATABASE_URL (the bench database).")
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "health_f0.settings")
    os.environ.setdefault("SMS_BACKEND", "file")
    os.environ.setdefault("DB_PROCESS", "command")
    import django

    django.setup()


def tokens_for(who: str, directory: Path) -> list[str]:
    if who in ("patient", "patient_all"):
        name = "tokens.txt" if who == "patient" else "patient_tokens_all.txt"
        return [t for t in (directory / name).read_text().split() if t]
    largest = json.loads((directory / "largest.json").read_text())
    if who == "station":
        username = largest["station_staff"]
    elif who == "doh":
        username = largest["doh_manager"]
    else:
        username = largest["ttyt_staff"][who.split(":", 1)[1]]
    for line in (directory / "staff_tokens.tsv").read_text().splitlines()[1:]:
        fields = line.split("\t")
        if fields[1] == username:
            return [fields[0]]
    sys.exit(f"no token for {username}")


_handler: Any = None


def wsgi_get(path: str, HTTP_AUTHORIZATION: str) -> bytes:  # noqa: N803 - the test client's keyword
    """GET `path` through the project's WSGI handler as a WSGI server does (bench/_django.wsgi_get)."""
    from health_f0.wsgi import application  # the project's handler, as gunicorn serves it

    handler_class = type(application)

    global _handler
    if _handler is None:
        _handler = handler_class()
    return _django.wsgi_get(_handler, path, {"HTTP_AUTHORIZATION": HTTP_AUTHORIZATION})[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--tokens-dir", default=str(Path(__file__).resolve().parent / "out"))
    parser.add_argument("--profile", default="")
    parser.add_argument("--next-pages", type=int, default=3)
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        help="ask each case with ?limit=N instead of its own (1: the request floor, before any row)",
    )
    parser.add_argument(
        "--calls", type=int, default=0, help="count calls and queries over this many requests"
    )
    parser.add_argument(
        "--wsgi",
        action="store_true",
        help="measure through Django's WSGIHandler as gunicorn calls it (its request_started/finished "
        "signals, the response closed), not the test client (whose own per-request work is ~350 calls)",
    )
    args = parser.parse_args()
    setup()
    from django.test import Client

    client = Client()
    get: Any = wsgi_get if args.wsgi else client.get
    directory = Path(args.tokens_dir)
    names = [n for n in CASES if not args.only or n in args.only or n.split(".")[0] in args.only]
    if args.profile:
        names = [args.profile]
    paths: dict[str, tuple[str, list[str]]] = {}
    for name in names:
        path, who = CASES[name]
        if args.limit:
            path = path.replace("limit=100", f"limit={args.limit}")
        tokens = tokens_for(who, directory)
        if name.endswith("-next"):
            for _ in range(args.next_pages):
                body: Any = client.get(path, HTTP_AUTHORIZATION=f"Bearer {tokens[0]}").json()
                if not body.get("next"):
                    break
                parts = urlsplit(body["next"])
                path = f"{parts.path}?{parts.query}"
        paths[name] = (path, tokens)
        for i in range(10):  # warm: caches, the connection, plans
            response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {tokens[i % len(tokens)]}")
            assert response.status_code == 200, (name, response.status_code, response.content[:200])
        # And the measured way too: --wsgi's handler is built on its first request (its middleware, whitenoise's
        # scan of the static files: ~10,000 calls a request of the first case's 20 when it was not).
        get(path, HTTP_AUTHORIZATION=f"Bearer {tokens[0]}")
    if args.profile:
        import cProfile
        import pstats

        path, tokens = paths[args.profile]
        profiler = cProfile.Profile(time.process_time)  # CPU, not the wait on MariaDB
        profiler.enable()
        for i in range(args.requests):
            get(path, HTTP_AUTHORIZATION=f"Bearer {tokens[i % len(tokens)]}")
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            int(os.environ.get("PROFILE_TOP", "60"))
        )
        return
    if args.calls:
        # Python function calls and queries per request: counts, the same on a busy machine.
        import cProfile
        import pstats

        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        print(f"# {os.getcwd()}")
        for name in names:
            path, tokens = paths[name]
            profiler = cProfile.Profile()
            with CaptureQueriesContext(connection) as queries:
                profiler.enable()
                for i in range(args.calls):
                    get(path, HTTP_AUTHORIZATION=f"Bearer {tokens[i % len(tokens)]}")
                profiler.disable()
            total = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
            print(f"{name:34s} {total / args.calls:8.0f} calls  {len(queries) / args.calls:4.1f} queries")
        return
    figures: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            path, tokens = paths[name]
            cpu0 = time.process_time()
            for i in range(args.requests):
                get(path, HTTP_AUTHORIZATION=f"Bearer {tokens[i % len(tokens)]}")
            figures[name].append((time.process_time() - cpu0) * 1000 / args.requests)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# {os.getcwd()}  load {load}")
    for name in names:
        values = figures[name]
        print(f"{name:34s} best {min(values):5.2f}  median {statistics.median(values):5.2f} ms CPU")


if __name__ == "__main__":
    main()
