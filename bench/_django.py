"""Shared set-up for the bench scripts: Django on the database named by DATABASE_URL (never the default)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out"


def setup() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("mysql://"):
        sys.exit("Set DATABASE_URL to a MariaDB database of your own (see docs/benchmarks.md).")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "health_f0.settings")
    os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("SMS_BACKEND", "file")
    # Bench scripts are operator tools: no web statement time limit (settings.DB_PROCESS; gunicorn keeps it).
    os.environ.setdefault("DB_PROCESS", "command")
    import django

    django.setup()
    OUT.mkdir(exist_ok=True)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * p / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def measure_in_process(
    call: Any, *, ok: int, requests: int, profile: bool = False, show_queries: bool = False, label: str = ""
) -> None:
    """The in-process measurement of bench/declare_inproc.py and bench/list_inproc.py: warm up, count the
    queries of one call (`call(i)` returns the status, `ok` expected), then time `requests` calls on this
    process's CPU, optionally under cProfile (cumulative, top 45)."""
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(20):  # warm-up: caches, connection, the plan caches of core.rawsql
        status = call(i)
        assert status == ok, status
    with CaptureQueriesContext(connection) as ctx:
        assert call(21) == ok
    print(f"{label}{len(ctx.captured_queries)} queries per request")
    if show_queries:
        for q in ctx.captured_queries:
            print("  ", q["sql"][:240])
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(requests):
        call(100 + i)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if profiler:
        profiler.disable()
        import pstats

        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            int(os.environ.get("PROFILE_TOP", "45"))
        )
    print(
        f"{requests} requests: {cpu * 1000 / requests:.2f} ms CPU and {wall * 1000 / requests:.2f} ms "
        f"wall per request (this process, sequential); load {load_average()}"
    )


# One declaration's body, as the in-process benches POST it (bench/declare_inproc.py, bench/declare_cost.py).
DECLARATION_BODY = json.dumps(
    {"answers": {"temperature": "36.8", "spo2": 98, "breathing_rate": 17, "pulse": 80, "symptoms": ["cough"]}}
)


def post_declaration(client: Any, token: str, key_prefix: str) -> int:
    """POST DECLARATION_BODY to /api/v1/declarations through the test client `client` as `token`, with a fresh
    idempotency key `<key_prefix>-<hex>` (removed by loadtest.RESET_SQL); answers the status code."""
    import uuid

    response = client.generic(
        "POST",
        "/api/v1/declarations",
        DECLARATION_BODY,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IDEMPOTENCY_KEY=f"{key_prefix}-{uuid.uuid4().hex}",
    )
    return int(response.status_code)


def wsgi_environ(path: str, headers: dict[str, str]) -> dict[str, Any]:
    """The environ of a GET of `path` (with its query) as a WSGI server makes it, with `headers` (environ keys,
    e.g. HTTP_COOKIE)."""
    import io

    path_info, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        **headers,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def wsgi_get(handler: Any, path: str, headers: dict[str, str]) -> tuple[str, bytes]:
    """GET `path` (with its query) through the WSGI application `handler` as a WSGI server calls it: the environ
    with `headers` (environ keys, e.g. HTTP_COOKIE), the body read, the response closed (request_finished).
    Answers (status line, body)."""
    environ = wsgi_environ(path, headers)
    status: list[str] = []

    def start_response(line: str, response_headers: Any, exc_info: Any = None) -> None:
        status.append(line)

    result = handler(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()
    return status[0], body
