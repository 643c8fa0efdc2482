"""The whole cost of one POST /api/v1/declarations in process: this process's CPU and MariaDB's CPU for it
(the server thread serving Django's connection), per statement and per request, and MariaDB's handler and
InnoDB row counters per statement (issue 11, the declaration path). Writes declarations: run it on a copy of
the bench database, never on hf0_bench100k (docs/benchmarks.md), and reset between runs (bench/loadtest.RESET_SQL,
`--reset`).

    DATABASE_URL=mysql://.../hf0_post_bench ALLOWED_HOSTS=testserver REDIS_URL=redis://127.0.0.1:6379/13 \\
        CACHE_PREFIX=hf0post .venv/bin/python bench/declare_cost.py --requests 400 [--statements] [--reset]

--statements prints, for one declaration, every round trip Django sends (statements, and the transaction's
autocommit switches and COMMIT, which are not statements to Django's execute wrappers) with the server CPU of
each (median of `--requests` declarations) and the SHOW SESSION STATUS deltas of one of them (Handler_*,
Innodb_rows_*; the SHOW's own share measured on an empty step and taken off).

MariaDB's CPU is read from /proc/<mariadbd>/task/<tid>/schedstat (the thread of information_schema.PROCESSLIST
.TID for Django's connection): run time only, so waiting for the client does not count. Needs the server on
this host.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, load_average, post_declaration, setup  # noqa: E402

COUNTERS = (
    "Handler_",
    "Innodb_rows_",
    "Innodb_buffer_pool_read_requests",
    "Innodb_buffer_pool_write_requests",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--tokens", default=str(OUT / "tokens.txt"))
    parser.add_argument("--statements", action="store_true")
    parser.add_argument("--reset", action="store_true", help="remove the bench's declarations first")
    parser.add_argument("--offset", type=int, default=0, help="first token (rotate through the others)")
    parser.add_argument("--calls", action="store_true", help="Python and C calls per declaration instead")
    args = parser.parse_args()
    setup()
    from django.db import connection
    from django.db.backends.mysql.base import DatabaseWrapper
    from django.test import Client

    if args.reset:
        from loadtest import RESET_DELETED, RESET_SQL

        with connection.cursor() as cursor:
            deleted = [cursor.execute(sql) for sql in RESET_SQL][RESET_DELETED]
        print(f"reset: {deleted} declarations removed")

    tokens = [t for t in Path(args.tokens).read_text().split() if t]
    client = Client()

    def post(i: int) -> int:
        return post_declaration(client, tokens[(args.offset + i) % len(tokens)], "wrk-cost")

    # The steady state of the morning: each token used within the hour (its last_used_at written) and its
    # account's consent answer cached; a GET of every token used below does both without declaring.
    for i in range(min(len(tokens), args.requests + 200)):
        token = tokens[(args.offset + i) % len(tokens)]
        status = client.get("/api/v1/questionnaire", HTTP_AUTHORIZATION=f"Bearer {token}").status_code
        assert status == 200, status
    for i in range(20):
        assert post(i) == 201
    connection.ensure_connection()
    pid = subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True, text=True).stdout.split()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT tid FROM information_schema.processlist WHERE id = CONNECTION_ID()")
        tid = cursor.fetchone()[0]
    stat = Path(f"/proc/{pid}/task/{tid}/schedstat")

    def server_ns() -> int:
        return int(stat.read_text().split()[0])

    # Every round trip of a request, with the server CPU it took.
    trips: list[tuple[str, int]] = []

    def timed(label: str, run: Any) -> Any:
        before = server_ns()
        try:
            return run()
        finally:
            trips.append((label, server_ns() - before))

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        return timed(sql, lambda: execute(sql, params, many, context))

    original_autocommit, original_commit = DatabaseWrapper._set_autocommit, DatabaseWrapper._commit

    def set_autocommit(self: Any, value: bool) -> None:
        timed(f"SET autocommit={int(value)}", lambda: original_autocommit(self, value))

    def commit(self: Any) -> None:
        timed("COMMIT", lambda: original_commit(self))

    if args.statements:
        DatabaseWrapper._set_autocommit = set_autocommit  # type: ignore[method-assign]
        DatabaseWrapper._commit = commit  # type: ignore[method-assign]
        per_trip: list[list[tuple[str, int]]] = []
        with connection.execute_wrapper(wrapper):
            for i in range(args.requests):
                trips.clear()
                assert post(100 + i) == 201
                per_trip.append(list(trips))
        DatabaseWrapper._set_autocommit, DatabaseWrapper._commit = original_autocommit, original_commit
        shapes = {tuple(label[:60] for label, _ in t) for t in per_trip}
        print(f"{len(per_trip[0])} round trips per declaration ({len(shapes)} shape(s))")
        first = [t for t in per_trip if len(t) == len(per_trip[0])]
        total = 0.0
        for index, (label, _ns) in enumerate(first[0]):
            median = statistics.median(t[index][1] for t in first) / 1000
            total += median
            print(f"  {median:7.1f} us  {label[:150]}")
        print(f"  {total:7.1f} us  sum of medians (MariaDB CPU per declaration, round trips only)")
        show_counters(connection, post)
        return

    if args.calls:
        from declare_inproc import count_calls

        count_calls(lambda i: post(100 + i), args.requests)
        return
    cpu0, server0, wall0 = time.process_time(), server_ns(), time.perf_counter()
    for i in range(args.requests):
        assert post(100 + i) == 201
    cpu, server, wall = time.process_time() - cpu0, server_ns() - server0, time.perf_counter() - wall0
    n = args.requests
    print(
        f"{n} declarations: worker {cpu * 1000 / n:.3f} ms CPU + MariaDB {server / 1e6 / n:.3f} ms CPU = "
        f"{(cpu * 1000 + server / 1e6) / n:.3f} ms; wall {wall * 1000 / n:.2f} ms; load {load_average()}"
    )


def show_counters(connection: Any, post: Any) -> None:
    """SHOW SESSION STATUS deltas of one declaration, per counter (the SHOW's own share taken off)."""

    def status() -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS")
            return {k: int(v) for k, v in cursor.fetchall() if k.startswith(COUNTERS) and str(v).isdigit()}

    a = status()
    b = status()
    empty = {k: b[k] - a[k] for k in b}
    c = status()
    assert post(99999) == 201
    d = status()
    print("  session status per declaration (SHOW's own share removed):")
    for name in sorted(d):
        delta = d[name] - c[name] - empty.get(name, 0)
        if delta:
            print(f"    {name} {delta}")


if __name__ == "__main__":
    main()
