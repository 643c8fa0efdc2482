"""Load benchmark of every list endpoint of the API (issue 11): a 100-row page of each list, patient and staff, at
the load of the issue's table — gunicorn with bench/gunicorn_conf.py (gthread, 2 workers x 4 threads), wrk -t2
-c16, 30 s after a 5 s warm-up, medians of 3 — each request with the next token of a set (different patients
at once), on the 100k-patient data set of `bench/generate.py --full`.

    .venv/bin/python bench/api_lists.py                     # every case (46), medians of 3 (about 85 min)
    .venv/bin/python bench/api_lists.py --variants v1,v2    # first pages only (about 35 min)
    .venv/bin/python bench/api_lists.py --runs 1 --duration 10    # a quick pass
    .venv/bin/python bench/api_lists.py --only declarations --only 'alerts*.v2*'
    .venv/bin/python bench/api_lists.py --list --explain    # no load: rows MariaDB reads per page, EXPLAIN

The bench environment is set here unless already in the environment (BENCH_ENV: DATABASE_URL defaults to
hf0_bench100k, Redis db 14, DEBUG off, tasks queued). Each endpoint gives up to four cases:

    <list>.v1        /api/v1/<list>?limit=100, the first page (limit/offset, with a count)
    <list>.v1-deep   the same at offset 2000 (or the last full page of a shorter list), where the list is long
    <list>.v2        /api/v2/<list>?limit=100, the first page (keyset cursor)
    <list>.v2-next   the v2 page reached by following `next` --next-pages times from the first one

Patient lists rotate the patients' tokens (bench/out/tokens.txt: home care; patient_tokens_all.txt: accounts
with bookings and HIS records); their deep pages use the five heavy patients (heavy_tokens.txt: hundreds of
declarations and bookings, thousands of lab results). Staff lists use the staff of the largest station or TTYT
(bench/out/largest.json, staff_tokens.tsv); without those files a token is minted for a member holding the role
at the station with the most patients (or its TTYT) and kept in bench/out/api_lists_tokens.json.

Before the load, each case is probed in this process (Django's test client, the first token): status, rows in
the page, body bytes, queries per request, and this process's CPU per request over --inproc requests (an
in-process figure, steadier than wrk's on a busy machine). Under load: requests/s, p50/p95/p99, answers
outside 2xx (wrk's "status" errors) and socket errors, worker CPU per request (the gunicorn workers'
utime+stime from /proc, after minus before, over the timed requests) and MariaDB's CPU per request (the whole
server: other sessions' queries count too when the machine is shared), with the load averages.

Output: a markdown table on stdout and in bench/out/api_lists.md, every run in bench/out/api_lists.json.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest import children, cpu_seconds, mariadb_pid  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
LIMIT = 100
DEEP_OFFSET = 2000

# Who asks each list: a token set (see Endpoint.who).
PATIENT = "patient"  # bench/out/tokens.txt: patients in home care
PATIENT_ALL = "patient_all"  # bench/out/patient_tokens_all.txt: accounts with bookings and HIS data
HEAVY = "heavy"  # bench/out/heavy_tokens.txt: the five patients with extreme histories
STATION = "station"  # station staff at the largest station
# "ttyt:<role>": the member holding <role> at the largest TTYT


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str  # after /api/<version>/
    who: str  # who asks the first pages
    deep_who: str | None  # who asks the deep pages (None: the list is short by nature, no deep case)


ENDPOINTS = (
    # The patient's own lists (a family's when it shares the phone number).
    Endpoint("declarations", f"declarations?limit={LIMIT}", PATIENT, HEAVY),
    Endpoint("episodes", f"episodes?limit={LIMIT}", PATIENT, None),
    Endpoint("visits", f"visits?limit={LIMIT}", PATIENT_ALL, HEAVY),
    Endpoint("lab-results", f"lab-results?limit={LIMIT}", PATIENT_ALL, HEAVY),
    Endpoint("appointments", f"appointments?limit={LIMIT}", PATIENT_ALL, HEAVY),
    Endpoint("his-links", f"his-links?limit={LIMIT}", PATIENT_ALL, None),
    # Staff lists at the largest station / TTYT.
    Endpoint("registrations", f"registrations?limit={LIMIT}", STATION, STATION),
    Endpoint("registrations-ttyt", f"registrations?limit={LIMIT}", "ttyt:manager", "ttyt:manager"),
    Endpoint("alerts", f"alerts?limit={LIMIT}", STATION, STATION),
    Endpoint("alerts-ttyt", f"alerts?limit={LIMIT}", "ttyt:manager", "ttyt:manager"),
    Endpoint(
        "staff-appointments", f"staff/appointments?limit={LIMIT}", "ttyt:booking_desk", "ttyt:booking_desk"
    ),
    Endpoint(
        "staff-appointments-confirmed",
        f"staff/appointments?limit={LIMIT}&status=confirmed",
        "ttyt:booking_desk",
        "ttyt:booking_desk",
    ),
)
VARIANTS = ("v1", "v1-deep", "v2", "v2-next")


@dataclass
class Case:
    name: str  # "<endpoint>.<variant>"
    path: str  # what wrk asks
    who: str
    tokens_file: str
    note: str = ""
    probe: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)


# --- Environment and tokens -------------------------------------------------------------------------------

BENCH_ENV = {
    "DATABASE_URL": "mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench100k",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
    "CACHE_PREFIX": "hf0bench",
    "HUEY_NAME": "hf0bench",
    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
    "DEBUG": "0",
    "TASKS_EAGER": "0",
    "SMS_BACKEND": "file",
    "LOG_LEVEL": "WARNING",
    "VAR_DIR": str(ROOT / "var" / "bench"),
    "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
}


def read_tokens(directory: Path, name: str) -> list[str]:
    path = directory / name
    return [t for t in path.read_text().split() if t] if path.exists() else []


class Tokens:
    """The token sets of the cases: files of bench/generate.py, or staff tokens minted here."""

    def __init__(self, directory: Path) -> None:
        self.patient = read_tokens(directory, "tokens.txt")
        self.patient_all = read_tokens(directory, "patient_tokens_all.txt") or self.patient
        self.heavy = read_tokens(directory, "heavy_tokens.txt")
        self.largest: dict[str, Any] = {}
        if (directory / "largest.json").exists():
            self.largest = json.loads((directory / "largest.json").read_text())
        self.staff_rows: list[dict[str, str]] = []
        tsv = directory / "staff_tokens.tsv"
        if tsv.exists():
            lines = [line.split("\t") for line in tsv.read_text().splitlines() if line.strip()]
            header = ["token", "username", "role", "facility_code", "facility_kind", "rows_hint"]
            if lines and lines[0][0] == "token":
                header, lines = lines[0], lines[1:]
            self.staff_rows = [dict(zip(header, row, strict=False)) for row in lines]
        self.minted_file = OUT / "api_lists_tokens.json"
        self.minted: dict[str, dict[str, str]] = (
            json.loads(self.minted_file.read_text()) if self.minted_file.exists() else {}
        )
        self.notes: dict[str, str] = {}

    def for_who(self, who: str) -> list[str]:
        if who == PATIENT:
            return self.patient
        if who == PATIENT_ALL:
            return self.patient_all
        if who == HEAVY:
            return self.heavy
        return self.staff(who)

    def staff(self, who: str) -> list[str]:
        role = "station_staff" if who == STATION else who.split(":", 1)[1]
        username = (
            self.largest.get("station_staff")
            if who == STATION
            else (self.largest.get("ttyt_staff") or {}).get(role)
        )
        if username:
            tokens = [r["token"] for r in self.staff_rows if r.get("username") == username]
            if tokens:
                self.notes[who] = f"{username} ({role})"
                return tokens
        return self.mint(who, role)

    def mint(self, who: str, role: str) -> list[str]:
        """A token of a member holding `role` at the station with the most patients (or its TTYT), minted
        once per database (api_token_issue) and kept in bench/out/api_lists_tokens.json."""
        from django.conf import settings
        from django.db.models import Count

        from health_f0.api.services import api_token_issue
        from health_f0.facilities.models import Facility, FacilityKind, Membership

        db = settings.DATABASES["default"]["NAME"]
        station = (
            Facility.objects.filter(kind=FacilityKind.STATION)
            .annotate(n=Count("patients"))
            .order_by("-n", "id")
            .first()
        )
        if station is None:
            return []
        facility = station if who == STATION else station.parent
        member = (
            Membership.objects.filter(facility=facility, role=role, is_active=True, user__is_active=True)
            .select_related("user")
            .order_by("id")
            .first()
        )
        if member is None:
            return []
        username = member.user.get_username()
        self.notes[who] = f"{username} ({role} at {facility.code}, minted)"
        known = self.minted.get(db, {}).get(username)
        if known:
            return [known]
        raw, _ = api_token_issue(user=member.user)
        self.minted.setdefault(db, {})[username] = raw
        self.minted_file.write_text(json.dumps(self.minted, indent=1))
        return [raw]


# --- Probing a case in this process -----------------------------------------------------------------------


def probe(path: str, token: str, *, inproc: int, tokens: list[str]) -> dict[str, Any]:
    """One GET through Django's WSGI handler: status, rows, body bytes, queries, `next`; then this process's
    CPU per request over `inproc` requests rotating `tokens`."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    first = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")  # warms caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    result: dict[str, Any] = {
        "status": response.status_code,
        "body_bytes": len(response.content),
        "queries": len(ctx.captured_queries),
        "sql": [q["sql"] for q in ctx.captured_queries],
    }
    if first.status_code != 200 or response.status_code != 200:
        result["error"] = response.content[:300].decode(errors="replace")
        return result
    body = response.json()
    result["rows"] = len(body.get("results", []))
    result["count"] = body.get("count")
    result["next"] = body.get("next")
    if inproc:
        cpu0 = time.process_time()
        for i in range(inproc):
            client.get(path, HTTP_AUTHORIZATION=f"Bearer {tokens[i % len(tokens)]}")
        result["inproc_cpu_ms"] = round((time.process_time() - cpu0) * 1000 / inproc, 2)
    return result


def rows_read(sql: str) -> tuple[int, int, list[str]]:
    """Rows MariaDB reads running `sql` once (the session's Handler_read* counters, after minus before: a count,
    the same on a busy machine), rows it sorts, and its EXPLAIN, one line a table."""
    from django.db import connection

    status = "SHOW SESSION STATUS WHERE Variable_name LIKE 'Handler_read%%' OR Variable_name = 'Sort_rows'"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.fetchall()  # warm
        cursor.execute(status)
        before = {k: int(v) for k, v in cursor.fetchall()}
        cursor.execute(sql)
        cursor.fetchall()
        cursor.execute(status)
        after = {k: int(v) for k, v in cursor.fetchall()}
        cursor.execute(f"EXPLAIN {sql}")
        names = [c[0] for c in cursor.description]
        plan = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    reads = sum(after[k] - before[k] for k in after if k.startswith("Handler_read"))
    lines = [
        f"{p['table']} {p['type']} key={p['key']} rows={p['rows']} {p['Extra'] or ''}".strip() for p in plan
    ]
    return reads, after["Sort_rows"] - before["Sort_rows"], lines


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def build_cases(args: argparse.Namespace, tokens: Tokens) -> list[Case]:
    """The cases the options select, each probed; a deep case is made only where the list is long."""
    tokens_dir = OUT / "api_lists_tokens"
    tokens_dir.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def wanted(name: str) -> bool:
        if not args.only:
            return True
        return any(
            fnmatch.fnmatch(name, pattern) or name.split(".")[0] == pattern or name == pattern
            for pattern in args.only
        )

    def token_file(who: str, values: list[str]) -> str:
        path = tokens_dir / f"{who.replace(':', '-')}.txt"
        # wrk gives each thread a slice: one token is repeated so every thread has it.
        lines = values if len(values) >= args.wrk_threads else values * args.wrk_threads
        path.write_text("\n".join(lines) + "\n")
        return str(path)

    for endpoint in ENDPOINTS:
        names = [f"{endpoint.name}.{v}" for v in VARIANTS if v in args.variants]
        if not any(wanted(n) for n in names):
            continue
        for version in ("v1", "v2"):
            if version not in {v.split("-")[0] for v in args.variants}:
                continue
            first_page = f"/api/{version}/{endpoint.path}"
            for deep in (False, True):
                variant = (
                    f"{version}-deep" if deep and version == "v1" else f"{version}-next" if deep else version
                )
                name = f"{endpoint.name}.{variant}"
                if variant not in args.variants or not wanted(name):
                    continue
                who = endpoint.deep_who if deep else endpoint.who
                if who is None:
                    continue
                values = tokens.for_who(who)
                if not values:
                    print(f"  {name}: skipped, no tokens for {who}", file=sys.stderr)
                    continue
                path, note = first_page, ""
                if deep:
                    start = probe(first_page, values[0], inproc=0, tokens=values)
                    if start.get("status") != 200:
                        print(
                            f"  {name}: skipped, first page answered {start.get('status')}", file=sys.stderr
                        )
                        continue
                    if version == "v1":
                        count = start.get("count") or 0
                        if count <= LIMIT:
                            print(f"  {name}: skipped, the list holds {count} rows", file=sys.stderr)
                            continue
                        offset = min(DEEP_OFFSET, count - LIMIT)
                        path, note = f"{first_page}&offset={offset}", f"offset {offset} of {count}"
                    else:
                        pages = 0
                        nxt = start.get("next")
                        while nxt and pages < args.next_pages:
                            page = probe(local_path(nxt), values[0], inproc=0, tokens=values)
                            if page.get("rows") != LIMIT:
                                break  # a short last page is not the 100-row page measured
                            path, pages, nxt = local_path(nxt), pages + 1, page.get("next")
                        if not pages:
                            print(f"  {name}: skipped, one page only", file=sys.stderr)
                            continue
                        note = f"page {pages + 1} by `next`"
                case = Case(name, path, who, token_file(who, values), note)
                case.probe = probe(path, values[0], inproc=args.inproc, tokens=values)
                case.probe["who"] = tokens.notes.get(who, who)
                cases.append(case)
                status = case.probe["status"]
                print(
                    f"  {name}: {status}, {case.probe.get('rows')} rows, {case.probe['body_bytes']} bytes, "
                    f"{case.probe['queries']} queries"
                    + (
                        f", in-process {case.probe['inproc_cpu_ms']} ms CPU"
                        if "inproc_cpu_ms" in case.probe
                        else ""
                    )
                    + (f" [{note}]" if note else "")
                    + (f" ERROR {case.probe.get('error')}" if status != 200 else ""),
                    file=sys.stderr,
                )
    return cases


# --- Load -------------------------------------------------------------------------------------------------


class Server:
    def __init__(self, args: argparse.Namespace, env: dict[str, str]) -> None:
        self.args = args
        self.cmd = [
            str(ROOT / ".venv/bin/gunicorn"),
            "health_f0.wsgi:application",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
            "--backlog",
            "256",
            "--pid",
            str(OUT / "gunicorn-api-lists.pid"),
            "--config",
            str(BENCH / "gunicorn_conf.py"),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
        ]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", args.port)) == 0:
                sys.exit(f"port {args.port} is taken by another process: pick another with --port")
        self.log = open(OUT / "gunicorn-api-lists.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stderr=self.log)
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/api/v1/questionnaire", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer means it is up
            except OSError:
                time.sleep(0.2)
        self.workers = children(self.process.pid)
        if self.process.poll() is not None or not self.workers:
            self.stop()
            sys.exit(f"gunicorn did not start: see {OUT / 'gunicorn-api-lists.log'}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.log.close()


def wrk(args: argparse.Namespace, case: Case, seconds: int, result_file: Path | None) -> None:
    env = dict(
        os.environ,
        TOKENS_FILE=case.tokens_file,
        API_PATH=case.path,
        WRK_THREADS=str(args.wrk_threads),
        **({"RESULT_FILE": str(result_file)} if result_file else {}),
    )
    subprocess.run(
        [
            "wrk",
            "-t",
            str(args.wrk_threads),
            "-c",
            str(args.connections),
            "-d",
            f"{seconds}s",
            "-s",
            str(BENCH / "api_lists.lua"),
            "--timeout",
            "5s",
            f"http://127.0.0.1:{args.port}",
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def measure(args: argparse.Namespace, server: Server, case: Case, run: int) -> dict[str, Any]:
    wrk(args, case, args.warmup, None)
    mysqld = mariadb_pid()
    cpu_before = {pid: cpu_seconds(pid) for pid in server.workers}
    db_before = cpu_seconds(mysqld) if mysqld else 0.0
    load_before = os.getloadavg()
    result_file = OUT / "api_lists_wrk.json"
    wrk(args, case, args.duration, result_file)
    cpu_after = {pid: cpu_seconds(pid) for pid in server.workers}
    db_after = cpu_seconds(mysqld) if mysqld else 0.0
    load_after = os.getloadavg()
    result: dict[str, Any] = json.loads(result_file.read_text())
    requests = result["requests"] or 1
    worker_cpu = sum(cpu_after[p] - cpu_before[p] for p in server.workers)
    result.update(
        run=run,
        cpu_ms=round(worker_cpu * 1000 / requests, 3),
        db_cpu_ms=round((db_after - db_before) * 1000 / requests, 3),
        bytes_per_response=round(result["bytes"] / requests),
        load_before=[round(x, 2) for x in load_before],
        load_after=[round(x, 2) for x in load_after],
    )
    lat = result["latency_ms"]
    print(
        f"  run {run} {case.name}: {result['rps']:.0f} req/s, p50 {lat['p50']:.1f} p95 {lat['p95']:.1f} "
        f"p99 {lat['p99']:.1f} ms, worker CPU {result['cpu_ms']} ms, MariaDB {result['db_cpu_ms']} ms, "
        f"errors {result['errors']}, load {result['load_before'][0]} -> {result['load_after'][0]}",
        file=sys.stderr,
    )
    return result


# --- Report -----------------------------------------------------------------------------------------------


def median(case: Case, key: str, sub: str | None = None) -> float:
    values = [r[key][sub] if sub else r[key] for r in case.runs]
    return statistics.median(values) if values else float("nan")


def table(cases: list[Case], args: argparse.Namespace) -> str:
    goal = "goal: >= 600 req/s, p99 < 100 ms, <= 3 ms worker CPU a request"
    lines = [
        f"Medians of {args.runs} run(s); wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s after a "
        f"{args.warmup}s warm-up; gunicorn gthread {args.workers}x{args.threads} (bench/gunicorn_conf.py); {goal}.",
        "",
        "| case | who | page | rows | req/s | p50 ms | p95 ms | p99 ms | worker CPU ms | MariaDB CPU ms "
        "| in-proc CPU ms | queries | rows read | non-2xx | bytes/resp | load 1-min |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        p = case.probe
        read = "+".join(str(n) for n in p.get("rows_read", [])) or "–"
        if not case.runs:
            lines.append(
                f"| {case.name} | {p.get('who', case.who)} | {case.note or 'first'} | {p.get('rows', '')} "
                f"| – | – | – | – | – | – | {p.get('inproc_cpu_ms', '')} | {p.get('queries')} | {read} | "
                f"probe {p.get('status')} | {p.get('body_bytes')} | – |"
            )
            continue
        non2xx = sum(r["errors"]["status"] for r in case.runs)
        socket_errors = sum(
            r["errors"][k] for r in case.runs for k in ("connect", "read", "write", "timeout")
        )
        loads = [r["load_before"][0] for r in case.runs]
        lines.append(
            f"| {case.name} | {p.get('who', case.who)} | {case.note or 'first'} | {p.get('rows', '')} "
            f"| {median(case, 'rps'):.0f} | {median(case, 'latency_ms', 'p50'):.1f} "
            f"| {median(case, 'latency_ms', 'p95'):.1f} | {median(case, 'latency_ms', 'p99'):.1f} "
            f"| {median(case, 'cpu_ms'):.2f} | {median(case, 'db_cpu_ms'):.2f} | {p.get('inproc_cpu_ms', '')} "
            f"| {p.get('queries')} | {read} | {non2xx}{f' (+{socket_errors} socket)' if socket_errors else ''} "
            f"| {median(case, 'bytes_per_response'):.0f} | {min(loads):.1f}–{max(loads):.1f} |"
        )
    lines += [
        "",
        "rows: rows in the page; bytes/resp: wrk's bytes (headers included) per response; in-proc CPU: this "
        "process's CPU per request through Django's test client; queries: one request's, in process; rows read: "
        "rows MariaDB reads for the page's query (with --explain).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="a list ('declarations'), a case ('alerts.v2-next') or a glob ('*.v2*'); repeatable",
    )
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {VARIANTS}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=18432)
    parser.add_argument("--next-pages", type=int, default=4, help="`next` links followed for v2-next")
    parser.add_argument("--inproc", type=int, default=50, help="in-process requests timed per case (0: none)")
    parser.add_argument(
        "--tokens-dir",
        default=str(OUT),
        help="where tokens.txt, patient_tokens_all.txt, heavy_tokens.txt, staff_tokens.tsv and largest.json are",
    )
    parser.add_argument("--list", action="store_true", help="probe and list the cases, run no load")
    parser.add_argument("--show-sql", action="store_true", help="print each case's queries (probe)")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="for each case's page queries (those with a LIMIT): rows MariaDB reads and sorts, and EXPLAIN",
    )
    args = parser.parse_args()
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]

    for key, value in BENCH_ENV.items():
        os.environ.setdefault(key, value)
    server_env = dict(os.environ)  # before Django's set-up adds the bench scripts' own settings
    from _django import setup

    setup()
    from django.conf import settings

    OUT.mkdir(exist_ok=True)
    print(
        f"machine: {os.cpu_count()} cores, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"database {settings.DATABASES['default']['NAME']}",
        file=sys.stderr,
    )
    print("probing the cases in process:", file=sys.stderr)
    cases = build_cases(args, Tokens(Path(args.tokens_dir)))
    if args.show_sql or args.explain:
        for case in cases:
            print(f"\n## {case.name} {case.path}", file=sys.stderr)
            for sql in case.probe.get("sql", []):
                if args.show_sql:
                    print(f"  {sql}", file=sys.stderr)
                if args.explain and sql.startswith("SELECT") and " LIMIT " in sql:
                    reads, sorted_rows, plan = rows_read(sql)
                    case.probe.setdefault("rows_read", []).append(reads)
                    print(f"  {reads} rows read, {sorted_rows} sorted: {sql[:100]}...", file=sys.stderr)
                    for line in plan:
                        print(f"      {line}", file=sys.stderr)
    for case in cases:
        case.probe.pop("sql", None)
    runnable = [c for c in cases if c.probe.get("status") == 200]
    if not args.list and runnable:
        if not subprocess.run(["which", "wrk"], capture_output=True).stdout:
            sys.exit("wrk is missing: apt-get install wrk")
        minutes = len(runnable) * args.runs * (args.duration + args.warmup + 1) / 60
        print(f"load: {len(runnable)} cases x {args.runs} runs, about {minutes:.0f} min", file=sys.stderr)
        server = Server(args, server_env)
        try:
            for run in range(1, args.runs + 1):  # rounds, so a noisy minute does not hit one case's 3 runs
                for case in runnable:
                    case.runs.append(measure(args, server, case, run))
        finally:
            server.stop()
    report = table(cases, args)
    print(report)
    (OUT / "api_lists.md").write_text(report + "\n")
    (OUT / "api_lists.json").write_text(
        json.dumps(
            {
                "database": settings.DATABASES["default"]["NAME"],
                "cpu_count": os.cpu_count(),
                "args": vars(args),
                "cases": [asdict(c) for c in cases],
            },
            indent=1,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
