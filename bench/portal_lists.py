"""The portal's list pages (issue 11) with a logged-in patient session: queries, this process's CPU and bytes
per page, in process (Django's test Client, no HTTP server), each request as the next patient account of the
bench data; optionally a wrk run of one page behind gunicorn with those accounts' session cookies.

Accounts: the users of the API tokens in --tokens (bench/out/patient_tokens_all.txt: patients with bookings
and HIS records; bench/out/heavy_tokens.txt: the few with a long history). Sessions are made with
Client.force_login, in the session store gunicorn reads too.

    DATABASE_URL=mysql://…/hf0_bench100k REDIS_URL=redis://127.0.0.1:6379/14 CACHE_PREFIX=hf0bench \\
        HUEY_NAME=hf0bench ALLOWED_HOSTS=testserver,127.0.0.1 .venv/bin/python bench/portal_lists.py \\
        [--pages /lich-su,/ho-so-kham] [--size 100] [--deep 3] [--requests 200] [--profile] [--show-queries] \\
        [--wrk /lich-su --duration 30]

--size N sets every list's page size (the portal's are 20-50 rows); --deep K measures the page reached after
following "Trang sau" K times (the last page when the list is shorter). Results also go to
bench/out/portal_lists.json (and portal_lists_wrk.json).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, ROOT, load_average, percentile, setup  # noqa: E402

PAGES = ["/lich-su", "/ho-so-kham", "/ket-qua-xet-nghiem", "/lich-hen", "/lien-ket-ho-so"]
ITEM = re.compile(r'class="card (?:history-item|visit-item|lab-item|appt-item|link-item)|class="lab-item')
NEXT = re.compile(r'<a href="([^"]+)" rel="next"')


def set_page_size(size: int) -> None:
    from health_f0.www import appointment_views, his_views, monitoring_views

    monitoring_views.HISTORY_PER_PAGE = size
    his_views.VISITS_PER_PAGE = size
    his_views.RESULTS_PER_PAGE = size
    appointment_views.PAST_PER_PAGE = size


def accounts(tokens_file: Path, limit: int, pick: str = "") -> list[Any]:
    """The accounts of the API tokens in `tokens_file`; or, with `pick`, patient accounts of the database:
    'rich' (with HIS visits and bookings), 'heavy' (the longest declaration histories), 'any' (by id)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from health_f0.api.models import ApiToken, hash_token
    from health_f0.appointments.models import Appointment
    from health_f0.his.models import HisVisit
    from health_f0.monitoring.models import Declaration
    from health_f0.patients.models import Patient

    patients = Patient.objects.filter(account__isnull=False)
    if pick == "rich":
        with_visits = HisVisit.objects.values("patient_id")
        with_bookings = Appointment.objects.values("patient_id")
        patients = patients.filter(pk__in=with_visits).filter(pk__in=with_bookings)
        ids = list(patients.order_by("id").values_list("account_id", flat=True)[:limit])
    elif pick == "heavy":
        longest = (
            Declaration.objects.values("patient_id")
            .annotate(n=Count("id"))
            .order_by("-n", "patient_id")  # ties by id: the same accounts run to run
            .values_list("patient_id", flat=True)[: limit * 3]
        )
        chosen = patients.filter(pk__in=list(longest)).order_by("id")
        ids = list(chosen.values_list("account_id", flat=True)[:limit])
    elif pick == "any":
        ids = list(patients.order_by("id").values_list("account_id", flat=True)[:limit])
    else:
        raw = [t for t in tokens_file.read_text().split() if t][:limit]
        tokens = ApiToken.objects.filter(key_hash__in=[hash_token(t) for t in raw])
        ids = list(tokens.values_list("user_id", flat=True))
    users = list(get_user_model().objects.filter(pk__in=ids).order_by("pk"))
    if not users:
        sys.exit("no patient account found for that choice in this database")
    return users


class Sessions:
    """One test Client (one WSGI handler, its middleware loaded once) whose cookies are swapped to act as
    each logged-in account in turn."""

    def __init__(self, users: list[Any]) -> None:
        from django.test import Client

        self.client = Client()
        self.jars = []
        for user in users:
            self.client.cookies = SimpleCookie()
            self.client.force_login(user)
            self.jars.append(self.client.cookies)

    def __len__(self) -> int:
        return len(self.jars)

    def get(self, i: int, url: str) -> Any:
        self.client.cookies = self.jars[i % len(self.jars)]
        return self.client.get(url)

    def cookie(self, i: int) -> str:
        from django.conf import settings

        name = settings.SESSION_COOKIE_NAME
        return f"{name}={self.jars[i][name].value}"


def deep_url(sessions: Sessions, i: int, path: str, steps: int) -> str:
    url = path
    for _ in range(steps):
        match = NEXT.search(sessions.get(i, url).content.decode())
        if match is None:
            break
        url = match.group(1).replace("&amp;", "&")
    return url


def measure(
    sessions: Sessions, urls: list[str], *, requests: int, profile: bool, show_queries: bool
) -> dict[str, Any]:
    """Warm up, count the queries of one request, then time `requests` requests (round robin over the
    accounts) on this process's CPU."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    n = len(sessions)

    def get(i: int) -> Any:
        response = sessions.get(i, urls[i % n])
        assert response.status_code == 200, (urls[i % n], response.status_code)
        return response

    for i in range(max(20, n)):
        get(i)
    with CaptureQueriesContext(connection) as ctx:
        sample = get(0).content.decode()
    # Read now: the next request's request_started signal empties the connection's query log.
    query_count = len(ctx.captured_queries)
    if show_queries:
        for q in ctx.captured_queries:
            print("  ", q["time"], q["sql"][:300])
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    sizes, rows, walls = [], [], []
    cpu0 = time.process_time()
    for i in range(requests):
        w0 = time.perf_counter()
        response = get(i)
        walls.append((time.perf_counter() - w0) * 1000)
        body = response.content
        sizes.append(len(body))
        rows.append(len(ITEM.findall(body.decode())))
    cpu = time.process_time() - cpu0
    if profiler:
        profiler.disable()
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return {
        "queries": query_count,
        "queries_sample_rows": len(ITEM.findall(sample)),
        "cpu_ms": round(cpu * 1000 / requests, 2),
        "wall_ms_p50": round(percentile(walls, 50), 2),
        "wall_ms_p99": round(percentile(walls, 99), 2),
        "bytes_mean": round(sum(sizes) / len(sizes)),
        "rows_mean": round(sum(rows) / len(rows), 1),
        "rows_max": max(rows),
        "accounts": n,
        "requests": requests,
    }


# --- wrk behind gunicorn -----------------------------------------------------------------------------


def run_wrk(sessions: Sessions, urls: list[str], args: argparse.Namespace) -> dict[str, Any]:
    from loadtest import children, cpu_seconds, mariadb_pid

    lines = [f"{sessions.cookie(i)}\t{url}" for i, url in enumerate(urls)]
    sessions_file = OUT / "portal_sessions.tsv"
    sessions_file.write_text("\n".join(lines) + "\n")
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "health_f0.wsgi:application",
        "--config",
        str(ROOT / "bench/gunicorn_conf.py"),
        "--bind",
        f"127.0.0.1:{args.port}",
        "--workers",
        str(args.workers),
        "--log-level",
        "warning",
    ]
    env = dict(os.environ, ALLOWED_HOSTS="testserver,127.0.0.1,localhost", DB_PROCESS="web")
    log = open(OUT / "gunicorn-portal-lists.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(cmd, cwd=ROOT, stderr=log, env=env)
    result_file = OUT / "portal_lists_wrk_raw.json"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.2)
        workers = children(server.pid)
        if server.poll() is not None or not workers:
            sys.exit("gunicorn did not start: see bench/out/gunicorn-portal-lists.log")
        wrk_env = dict(os.environ, SESSIONS_FILE=str(sessions_file), WRK_THREADS=str(args.wrk_threads))
        wrk = [
            "wrk",
            "-t",
            str(args.wrk_threads),
            "-c",
            str(args.connections),
            "-s",
            str(ROOT / "bench/portal_lists.lua"),
        ]
        wrk += ["--timeout", "5s", f"http://127.0.0.1:{args.port}"]
        subprocess.run(wrk[:1] + ["-d", "5s"] + wrk[1:], env=wrk_env, check=True, capture_output=True)
        mysqld = mariadb_pid()
        cpu_before = {pid: cpu_seconds(pid) for pid in workers}
        db_before = cpu_seconds(mysqld) if mysqld else 0.0
        load_before = load_average()
        run = subprocess.run(
            wrk[:1] + ["-d", f"{args.duration}s"] + wrk[1:],
            env=dict(wrk_env, RESULT_FILE=str(result_file)),
            check=True,
            capture_output=True,
            text=True,
        )
        worker_cpu = sum(cpu_seconds(p) - cpu_before[p] for p in workers)
        db_cpu = (cpu_seconds(mysqld) - db_before) if mysqld else 0.0
        load_after = load_average()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    result = json.loads(result_file.read_text())
    n = result["requests"] or 1
    return {
        "path": args.wrk,
        "gunicorn": f"bench/gunicorn_conf.py, {args.workers} workers",
        "wrk": f"-t{args.wrk_threads} -c{args.connections} -d{args.duration}s after a 5 s warm-up",
        **result,
        "cpu_ms_per_request": round(worker_cpu * 1000 / n, 3),
        "mariadb_cpu_ms_per_request": round(db_cpu * 1000 / n, 3),
        "load_before": load_before,
        "load_after": load_after,
        "wrk_tail": run.stdout.strip().splitlines()[-6:],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--tokens", default=str(OUT / "patient_tokens_all.txt"))
    parser.add_argument("--accounts", type=int, default=60)
    parser.add_argument(
        "--pick", default="", choices=["", "rich", "heavy", "any"], help="accounts from the DB"
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--size", type=int, default=0, help="every list's page size (default: the portal's)")
    parser.add_argument("--deep", type=int, default=0, help="measure the page after K 'Trang sau' steps")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--show-queries", action="store_true")
    parser.add_argument("--label", default="")
    parser.add_argument("--wrk", default="", help="a page to load-test behind gunicorn (e.g. /lich-su)")
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18471)
    args = parser.parse_args()
    setup()
    if args.size:
        set_page_size(args.size)
    users = accounts(Path(args.tokens), args.accounts, args.pick)
    sessions = Sessions(users)
    who = args.pick or Path(args.tokens).stem
    label = args.label or f"size{args.size or 'default'}-deep{args.deep}-{who}"
    if args.wrk:
        if args.size:
            sys.exit("--size applies in process only: gunicorn serves the portal's own page sizes")
        urls = [deep_url(sessions, i, args.wrk, args.deep) for i in range(len(sessions))]
        report = run_wrk(sessions, urls, args)
        lat = report["latency_ms"]
        print(
            f"wrk {args.wrk} (deep {args.deep}): {report['rps']:.0f} req/s, p50 {lat['p50']:.1f} ms, "
            f"p99 {lat['p99']:.1f} ms, errors {report['errors']}, worker CPU {report['cpu_ms_per_request']} "
            f"ms/request, MariaDB CPU {report['mariadb_cpu_ms_per_request']} ms/request, "
            f"load {report['load_before']} -> {report['load_after']}"
        )
        out = OUT / "portal_lists_wrk.json"
        previous = json.loads(out.read_text()) if out.exists() else {}
        previous[f"{label}:{args.wrk}"] = report
        out.write_text(json.dumps(previous, indent=1))
        return
    results = {}
    for path in [p for p in args.pages.split(",") if p]:
        urls = [deep_url(sessions, i, path, args.deep) for i in range(len(sessions))]
        row = measure(
            sessions, urls, requests=args.requests, profile=args.profile, show_queries=args.show_queries
        )
        results[path] = row
        print(
            f"{path:22} {row['queries']:2d} queries  {row['cpu_ms']:6.2f} ms CPU  p50 {row['wall_ms_p50']:6.2f} ms  "
            f"{row['bytes_mean']:7d} bytes  {row['rows_mean']:5.1f} rows (max {row['rows_max']})",
            flush=True,
        )
    print(f"{len(sessions)} accounts, {args.requests} requests a page, load {load_average()}")
    out = OUT / "portal_lists.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous[label] = {
        "load": load_average(),
        "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        **results,
    }
    out.write_text(json.dumps(previous, indent=1))


if __name__ == "__main__":
    main()
