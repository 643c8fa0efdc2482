"""The statements of signed-in portal pages (issue 11), seen from both sides: how many a request sends, their
shapes, and MariaDB's own time for them (the session's SHOW PROFILES: parse, plan and execution on the server,
without the client's or the network's), plus the session's Handler_* deltas a request. Each request goes
straight through the project's WSGI handler (bench/portal_floor.py's page_getter), with the next patient account's cookie.

    <bench env> ALLOWED_HOSTS=testserver VAR_DIR=... .venv/bin/python bench/portal_sql.py \\
        [--pages /ho-so-kham,/lich-su] [--accounts 60] [--requests 60] [--show]

--show prints each statement shape once (its first 300 characters) with its median server time.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import load_average, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", default="/ho-so-kham,/lien-ket-ho-so,/lich-su,/ket-qua-xet-nghiem")
    parser.add_argument("--accounts", type=int, default=60)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--lang", default="vi")
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    setup()
    from django.db import connection
    from portal_floor import add_views, page_getter, session_cookies

    from health_f0.wsgi import application  # the project's handler, as gunicorn serves it

    add_views()
    handler = type(application)()
    cookies = session_cookies(args.accounts)

    get = page_getter(handler, cookies, args.lang)

    def handlers(cursor: Any) -> dict[str, int]:
        cursor.execute("SHOW SESSION STATUS LIKE 'Handler%%'")
        return {name: int(value) for name, value in cursor.fetchall()}

    print(f"{len(cookies)} accounts, {args.requests} requests a page, load {load_average()}")
    seen = 0  # SHOW PROFILES' last query id already counted (its history outlives `SET profiling = 0`)
    for page in args.pages.split(","):
        for i in range(max(30, len(cookies))):
            status, _body = get(page, i)
            assert status.startswith("200"), (page, status)
        # The same connection across requests (CONN_MAX_AGE), so the session's profiling stays on.
        raw = connection.connection
        assert raw is not None
        statements = 0
        server = 0.0
        totals: list[float] = []  # MariaDB's time of each request (the median resists this host's noise)
        per_shape: dict[str, list[float]] = defaultdict(list)
        handler_delta: dict[str, int] = defaultdict(int)
        with raw.cursor() as cursor:
            # The SHOW STATUS pair's own share, measured with no request between.
            a = handlers(cursor)
            b = handlers(cursor)
            own = {k: b[k] - a[k] for k in a}
        for i in range(args.requests):
            with raw.cursor() as cursor:
                cursor.execute("SET profiling_history_size = 100")
                cursor.execute("SET profiling = 1")
                before = handlers(cursor)
            get(page, i)
            assert connection.connection is raw, "the request closed the connection (CONN_MAX_AGE)"
            with raw.cursor() as cursor:
                after = handlers(cursor)
                cursor.execute("SET profiling = 0")
                cursor.execute("SHOW PROFILES")
                rows = cursor.fetchall()
            total = 0.0
            for name in after:
                handler_delta[name] += after[name] - before[name] - own[name]
            for query_id, duration, text in rows:
                if query_id <= seen:
                    continue
                seen = query_id
                if text.startswith(("SHOW SESSION STATUS", "SET profiling")):
                    continue
                statements += 1
                server += float(duration)
                total += float(duration)
                per_shape[re.sub(r"\b\d+\b|'[^']*'", "?", text)[:300]].append(float(duration))
            totals.append(total)
        n = args.requests
        print(
            f"{page}: {statements / n:.2f} statements, MariaDB (SHOW PROFILES) a request: median "
            f"{statistics.median(totals) * 1000:.3f} ms, mean {server * 1000 / n:.3f} ms"
        )
        touched = {k: v / n for k, v in sorted(handler_delta.items()) if v}
        print("    " + ", ".join(f"{k[8:]} {v:.1f}" for k, v in touched.items()))
        if args.show:
            for text, durations in sorted(per_shape.items(), key=lambda kv: -sum(kv[1])):
                median = statistics.median(durations) * 1000
                print(f"    {len(durations) / n:5.2f}x {median:7.3f} ms  {' '.join(text.split())[:300]}")


if __name__ == "__main__":
    main()
