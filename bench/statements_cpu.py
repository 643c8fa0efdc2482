"""MariaDB's own CPU per statement of a staff list request, server side, for pairs (issue 11, twelfth round).

    capture: <bench env> ALLOWED_HOSTS=testserver .venv/bin/python bench/statements_cpu.py capture FILE.json \\
                 [--only alerts-ttyt.v2] [--tokens-dir bench/out]
    replay:  <bench env> .venv/bin/python bench/statements_cpu.py replay A.json B.json [--runs 500] [--rounds 4]
    explain: <bench env> .venv/bin/python bench/statements_cpu.py explain A.json [--only alerts-ttyt.v2]

capture asks each case of bench/staff_inproc.py (the same tokens and paths, --only to choose) once through
Django's WSGI handler, after warming, and writes every statement it sent to MariaDB (text and parameters) to FILE.
Run it from the checkout whose code answers (it imports the health_f0 of the current directory).

replay runs each file's statements over one MySQLdb connection, --runs times each, and reads the CPU time of the
MariaDB thread that serves the connection (/proc/<mariadbd>/task/<tid>/schedstat, the thread's id from
information_schema.PROCESSLIST.TID): the server's CPU a statement, parse, plan, execution and sending, without
the client's. The files alternate in each of --rounds rounds (A B A B ...), so a pair is measured in the same
minutes; the figure is the median of the rounds, per case and statement, and per request (the case's statements
summed). The machine is shared: read the spread (min-max of the rounds) too.

explain prints ANALYZE FORMAT=JSON of each case's statements (SELECT only, with or without a leading
`SET STATEMENT ... FOR`, which ANALYZE then runs under: the booking desk's) and the Handler_read_* deltas of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))


def capture(args: argparse.Namespace) -> None:
    import staff_inproc

    staff_inproc.setup()
    from django.db import connection
    from django.test import Client

    client = Client()
    directory = Path(args.tokens_dir)
    names = [n for n in staff_inproc.CASES if not args.only or n in args.only]
    out: dict[str, list[tuple[str, Any]]] = {}
    for name in names:
        path, who = staff_inproc.CASES[name]
        token = staff_inproc.tokens_for(who, directory)[0]
        if name.endswith("-next"):
            for _ in range(3):
                body: Any = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}").json()
                if not body.get("next"):
                    break
                parts = urlsplit(body["next"])
                path = f"{parts.path}?{parts.query}"
        for _ in range(3):
            staff_inproc.wsgi_get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        seen: list[tuple[str, Any]] = []

        def wrapper(
            execute: Any, sql: str, params: Any, many: bool, context: Any, seen: list[Any] = seen
        ) -> Any:
            seen.append((sql, list(params) if params is not None else None))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(wrapper):
            staff_inproc.wsgi_get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        out[name] = seen
        print(name, len(seen), "statements", file=sys.stderr)
    Path(args.file).write_text(json.dumps(out, default=str, indent=1))


def _connect() -> Any:
    from urllib.parse import urlparse

    import MySQLdb

    url = urlparse(os.environ["DATABASE_URL"])
    return MySQLdb.connect(
        host=url.hostname or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "",
        password=url.password or "",
        database=url.path.lstrip("/"),
        charset="utf8mb4",
    )


def _thread_cpu(conn: Any) -> Any:
    pid = subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True, text=True).stdout.split()[0]
    cursor = conn.cursor()
    cursor.execute("SELECT tid FROM information_schema.processlist WHERE id = CONNECTION_ID()")
    tid = cursor.fetchone()[0]
    stat = Path(f"/proc/{pid}/task/{tid}/schedstat")

    def read() -> int:
        return int(stat.read_text().split()[0])

    return read


def replay(args: argparse.Namespace) -> None:
    files = [json.loads(Path(f).read_text()) for f in args.files]
    conn = _connect()
    cpu = _thread_cpu(conn)
    cursor = conn.cursor()
    # results[file][case][statement index] = [ns per run, one per round]
    results: list[dict[str, list[list[float]]]] = [{} for _ in files]
    walls: list[dict[str, list[float]]] = [{} for _ in files]
    cases = [c for c in files[0] if not args.only or c in args.only]
    for _ in range(args.rounds):
        for index, data in enumerate(files):
            for case in cases:
                statements = data.get(case, [])
                per = results[index].setdefault(case, [[] for _ in statements])
                wall_total = 0.0
                for number, (sql, params) in enumerate(statements):
                    for _ in range(20):
                        cursor.execute(sql, params)
                        cursor.fetchall()
                    start_wall = time.perf_counter()
                    start = cpu()
                    for _ in range(args.runs):
                        cursor.execute(sql, params)
                        cursor.fetchall()
                    per[number].append((cpu() - start) / args.runs)
                    wall_total += (time.perf_counter() - start_wall) / args.runs
                walls[index].setdefault(case, []).append(wall_total)
    for case in cases:
        print(f"== {case}")
        for index, name in enumerate(args.files):
            per = results[index].get(case, [])
            totals = [sum(stmt[r] for stmt in per) for r in range(args.rounds)]
            print(
                f"  {name}: request {statistics.median(totals) / 1e6:.3f} ms of MariaDB CPU "
                f"({min(totals) / 1e6:.3f}-{max(totals) / 1e6:.3f}); client wall "
                f"{statistics.median(walls[index][case]) * 1e3:.3f} ms"
            )
            for number, stmt in enumerate(per):
                sql = files[index][case][number][0]
                print(
                    f"    #{number} {statistics.median(stmt) / 1e6:.3f} ms "
                    f"({min(stmt) / 1e6:.3f}-{max(stmt) / 1e6:.3f})  {sql[:90]!r}"
                )


# `SET STATEMENT var=value[, ...] FOR <statement>`: the prefix, and the statement it runs (MariaDB's syntax).
_SET_STATEMENT = re.compile(r"^\s*(SET\s+STATEMENT\s.*?\sFOR\s+)(.*)$", re.IGNORECASE | re.DOTALL)


def analyzable(sql: str) -> str | None:
    """The statement ANALYZE FORMAT=JSON explains for `sql`, under its `SET STATEMENT ... FOR` prefix if any
    (`SET STATEMENT v=x FOR ANALYZE FORMAT=JSON SELECT ...`), or None for anything but a SELECT."""
    prefix, body = "", sql.lstrip()
    match = _SET_STATEMENT.match(body)
    if match:
        prefix, body = match.group(1), match.group(2)
    if not body.upper().startswith("SELECT"):
        return None
    return f"{prefix}ANALYZE FORMAT=JSON {body}"


def explain(args: argparse.Namespace) -> None:
    data = json.loads(Path(args.files[0]).read_text())
    conn = _connect()
    cursor = conn.cursor()
    for case, statements in data.items():
        if args.only and case not in args.only:
            continue
        for number, (sql, params) in enumerate(statements):
            analyze = analyzable(sql)
            if analyze is None:
                continue
            cursor.execute("FLUSH STATUS")
            cursor.execute(sql, params)
            rows = len(cursor.fetchall())
            cursor.execute("SHOW SESSION STATUS LIKE 'Handler_read%'")
            handler = {k: int(v) for k, v in cursor.fetchall() if int(v)}
            print(f"== {case} #{number} ({rows} rows) {handler}")
            if args.sql:
                print(cursor.mogrify(sql, params) if hasattr(cursor, "mogrify") else sql)
            cursor.execute(analyze, params)
            print(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("file")
    cap.add_argument("--only", action="append", default=[])
    cap.add_argument("--tokens-dir", default=str(Path(__file__).resolve().parent / "out"))
    rep = sub.add_parser("replay")
    rep.add_argument("files", nargs="+")
    rep.add_argument("--runs", type=int, default=500)
    rep.add_argument("--rounds", type=int, default=4)
    rep.add_argument("--only", action="append", default=[])
    exp = sub.add_parser("explain")
    exp.add_argument("files", nargs=1)
    exp.add_argument("--only", action="append", default=[])
    exp.add_argument("--sql", action="store_true")
    args = parser.parse_args()
    {"capture": capture, "replay": replay, "explain": explain}[args.command](args)


if __name__ == "__main__":
    main()
