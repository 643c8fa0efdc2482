"""How much of a request's worker CPU is the WSGI server's own: the same application behind gunicorn (gthread,
as bench/gunicorn_conf.py), gunicorn sync and granian (WSGI mode), loaded by wrk, the servers alternated.

    .venv/bin/python bench/servers.py --targets hello,hello-big --servers gthread,sync,granian --rounds 3
    .venv/bin/python bench/servers.py --tokens-dir bench/out --targets portal:/ca-nhan,api:registrations-ttyt \\
        --servers gthread,sync,granian:4 --rounds 8 --duration 12 --warmup 4 [--profile]

The health_f0 targets run on the bench database (BENCH_ENV below, unless already in the environment), with
VAR_DIR=var/bench-portal: collect the static files into it first (`DATABASE_URL=sqlite:///var/mk.sqlite3
VAR_DIR=$PWD/var/bench-portal .venv/bin/python manage.py collectstatic --noinput -v0`). The load reads, but
for what the application itself writes on a GET (an API token's last_used_at, at most once an hour); the portal
target's sessions are written once (a session row and last_login per account, as bench/portal_lists.py --wrk
does), then reused.

Targets:
    hello            bench/hello_wsgi.py, GET / (13 bytes): the server alone
    hello-big        the same, GET /big (30,000 bytes, about a portal page), a list of one chunk
    hello-iter       the same 30,000 bytes as an iterable with close(), like Django's HttpResponse
    portal:<page>    health_f0 on the bench database, a portal page as logged-in patients (bench/portal_lists.lua,
                     the sessions of bench/portal_lists.py's accounts; made once, kept in
                     bench/out/servers_sessions.tsv, --new-sessions to make them again)
    api:<list>       health_f0, the first v2 page of an API list of bench/api_lists.py (bench/api_lists.lua, its
                     tokens), e.g. api:registrations-ttyt, api:alerts-ttyt; api:<list>.v1 for the v1 page

Servers (each started for each run with 2 workers, --workers to change; stopped after it):
    gthread[:T]      gunicorn --config bench/gunicorn_conf.py, gthread, T threads a worker (default 4)
    sync             gunicorn --config bench/gunicorn_conf.py --worker-class sync (no keep-alive)
    granian[:B]      granian --interface wsgi, B blocking threads a worker (default 4), 1 runtime thread
    <server>:<n>:list  the same with bench/wsgi_list.py (Django's answers as a list of one chunk)

Each run: start the server, wrk for --warmup s, then --duration s timed. Worker CPU per request = the server's
processes' utime+stime from /proc (workers, and the master apart), after minus before, over the timed requests;
MariaDB's CPU beside it (the whole server). Each round runs every (target, server), the servers' order turned
by one each round, so a noisy minute does not fall on one server. The load average is printed with each run.
Output: a table on stdout, every run in bench/out/servers.json.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest import TICK, cpu_seconds, mariadb_pid  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"

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
    "VAR_DIR": str(ROOT / "var" / "bench-portal"),
    "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
}


# --- Targets ------------------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (a granian or gunicorn master's workers, and anything they start)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            kids = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            kids = []
        for kid in map(int, kids):
            found.append(kid)
            todo.append(kid)
    return found


class Target:
    """What a run loads: the WSGI application, the directory the server runs in, the wrk script and its
    environment, and a URL that answers once the server is up."""

    def __init__(self, spec: str, args: argparse.Namespace) -> None:
        self.spec = spec
        kind, _, arg = spec.partition(":")
        self.django = kind in ("portal", "api")
        if kind in ("hello", "hello-big", "hello-iter"):
            self.app, self.cwd = "hello_wsgi:application", BENCH
            tokens = OUT / "servers_hello_tokens.txt"
            tokens.write_text("x\n" * args.wrk_threads)
            path = {"hello": "/", "hello-big": "/big", "hello-iter": "/iter"}[kind]
            self.lua = BENCH / "api_lists.lua"
            self.wrk_env = {"TOKENS_FILE": str(tokens), "API_PATH": path}
            self.ready = path
            self.probe = (path, {})
        elif kind == "portal":
            self.app, self.cwd = "health_f0.wsgi:application", ROOT
            self.lua = BENCH / "portal_lists.lua"
            sessions = portal_sessions(arg or "/ca-nhan", args)
            self.wrk_env = {"SESSIONS_FILE": str(sessions)}
            self.ready = "/"
            cookie, page = sessions.read_text().splitlines()[0].split("\t")
            self.probe = (page, {"Cookie": cookie})
        elif kind == "api":
            self.app, self.cwd = "health_f0.wsgi:application", ROOT
            path, tokens = api_case(arg or "registrations-ttyt", args)
            self.lua = BENCH / "api_lists.lua"
            self.wrk_env = {"TOKENS_FILE": str(tokens), "API_PATH": path}
            self.ready = "/api/v1/questionnaire"
            token = tokens.read_text().split()[0]
            self.probe = (path, {"Authorization": f"Bearer {token}", "Accept": "application/json"})
        else:
            sys.exit(f"unknown target {spec!r}")


def django_setup() -> None:
    for key, value in BENCH_ENV.items():
        os.environ.setdefault(key, value)
    from _django import setup

    setup()


def portal_sessions(page: str, args: argparse.Namespace) -> Path:
    """A file of "<session cookie>\t<page>" lines, one a patient account (bench/portal_lists.py's accounts).
    The sessions are made once (force_login writes a session row each) and reused by later runs."""
    path = OUT / "servers_sessions.tsv"
    if path.exists() and not args.new_sessions:
        cookies = [line.split("\t")[0] for line in path.read_text().splitlines() if line]
    else:
        django_setup()
        import portal_lists

        users = portal_lists.accounts(Path(args.tokens_dir) / "patient_tokens_all.txt", args.accounts)
        sessions = portal_lists.Sessions(users)
        cookies = [sessions.cookie(i) for i in range(len(sessions))]
        path.write_text("".join(f"{c}\t/\n" for c in cookies))
        args.new_sessions = False
    page_file = OUT / f"servers_sessions_{page.strip('/').replace('/', '_') or 'root'}.tsv"
    page_file.write_text("".join(f"{c}\t{page}\n" for c in cookies))
    return page_file


def api_case(name: str, args: argparse.Namespace) -> tuple[str, Path]:
    """The first page of one of bench/api_lists.py's lists, and a file of the tokens that ask it."""
    django_setup()
    import api_lists

    base, _, version = name.partition(".")
    endpoint = next((e for e in api_lists.ENDPOINTS if e.name == base), None)
    if endpoint is None:
        sys.exit(f"no list {base!r} in bench/api_lists.py")
    values = api_lists.Tokens(Path(args.tokens_dir)).for_who(endpoint.who)
    if not values:
        sys.exit(f"no tokens for {endpoint.who} in {args.tokens_dir}")
    tokens = OUT / f"servers_tokens_{base}.txt"
    lines = values if len(values) >= args.wrk_threads else values * args.wrk_threads
    tokens.write_text("\n".join(lines) + "\n")
    return f"/api/{version or 'v2'}/{endpoint.path}", tokens


# --- Servers ------------------------------------------------------------------------------------------------


def server_command(spec: str, target: Target, args: argparse.Namespace) -> list[str]:
    kind, _, arg = spec.partition(":")
    arg, _, wrap = arg.partition(":")
    app = "bench.wsgi_list:application" if wrap == "list" and target.django else target.app
    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), app, "--config", str(BENCH / "gunicorn_conf.py")]
    gunicorn += ["--bind", f"127.0.0.1:{args.port}"] + [
        "--workers",
        str(args.workers),
        "--log-level",
        "warning",
        "--backlog",
        "256",
    ]
    if kind == "gthread":
        return gunicorn + ["--worker-class", "gthread", "--threads", arg or "4"]
    if kind == "sync":
        return gunicorn + ["--worker-class", "sync", "--threads", "1"]  # threads > 1 would turn it to gthread
    if kind == "granian":
        return [
            str(ROOT / ".venv/bin/granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--workers",
            str(args.workers),
            "--blocking-threads",
            arg or "4",
            "--runtime-threads",
            "1",
            "--http",
            "1",
            "--no-ws",
            "--backlog",
            "256",
            "--log-level",
            "warning",
            app,
        ]
    sys.exit(f"unknown server {spec!r}")


class Server:
    def __init__(self, spec: str, target: Target, args: argparse.Namespace) -> None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", args.port)) == 0:
                sys.exit(f"port {args.port} is taken by another process: pick another with --port")
        env = dict(os.environ)
        if target.django:
            env.update({k: os.environ.get(k, v) for k, v in BENCH_ENV.items()})
            env["DB_PROCESS"] = "web"
        self.log_path = OUT / f"servers-{spec.replace(':', '-')}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            server_command(spec, target, args), cwd=target.cwd, env=env, stdout=self.log, stderr=self.log
        )
        url = f"http://127.0.0.1:{args.port}{target.ready}"
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer means it is up
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.pids = descendants(self.process.pid)
        if self.process.poll() is not None or not self.pids:
            self.stop()
            sys.exit(f"{spec} did not start: see {self.log_path}")

    def cpu(self) -> tuple[float, float]:
        """CPU seconds of the workers (every process under the master) and of the master."""
        return sum(cpu_seconds(p) for p in self.pids), cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def wrk(target: Target, args: argparse.Namespace, seconds: int, result_file: Path | None) -> None:
    env = dict(os.environ, WRK_THREADS=str(args.wrk_threads), **target.wrk_env)
    if result_file:
        env["RESULT_FILE"] = str(result_file)
    subprocess.run(
        ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{seconds}s"]
        + ["-s", str(target.lua), "--timeout", "5s", f"http://127.0.0.1:{args.port}"],
        env=env,
        check=True,
        capture_output=True,
    )


def run(target: Target, spec: str, args: argparse.Namespace, round_no: int) -> dict[str, Any]:
    server = Server(spec, target, args)
    try:
        path, headers = target.probe
        request = urllib.request.Request(f"http://127.0.0.1:{args.port}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as answer:  # a redirect is followed: see the URL
            probe = {"status": answer.status, "url": answer.url, "bytes": len(answer.read())}
        if answer.url != request.full_url:
            sys.exit(
                f"{target.spec}: {path} was redirected to {answer.url} (sessions expired? --new-sessions)"
            )
        wrk(target, args, args.warmup, None)
        server.pids = descendants(server.process.pid)  # a worker restarted during the warm-up
        mysqld = mariadb_pid() if target.django else None
        workers0, master0 = server.cpu()
        db0 = cpu_seconds(mysqld) if mysqld else 0.0
        load0 = os.getloadavg()[0]
        threads0 = thread_cpu(server.pids)
        spies = []
        if args.profile:
            for pid in server.pids:
                raw = (
                    OUT
                    / f"servers-profile-{spec.replace(':', '-')}-{target.spec.replace('/', '_').replace(':', '-')}-{pid}.txt"
                )
                spy = [
                    str(ROOT / ".venv/bin/py-spy"),
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(args.duration),
                ]
                spy += ["--rate", "200", "--gil", "--format", "raw", "--nonblocking", "--output", str(raw)]
                spies.append(
                    (raw, subprocess.Popen(spy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                )
        result_file = OUT / "servers_wrk.json"
        wrk(target, args, args.duration, result_file)
        workers1, master1 = server.cpu()
        threads1 = thread_cpu(server.pids)
        samples = {"app": 0, "server": 0, "other": 0}
        for raw, spy in spies:
            spy.wait(timeout=60)
            for key, value in classify(raw).items():
                samples[key] += value
        db1 = cpu_seconds(mysqld) if mysqld else 0.0
        load1 = os.getloadavg()[0]
        gone = [p for p in server.pids if not Path(f"/proc/{p}").exists()]
    finally:
        server.stop()
    result: dict[str, Any] = json.loads(result_file.read_text())
    n = result["requests"] or 1
    result.update(
        target=target.spec,
        server=spec,
        round=round_no,
        workers_ms=round((workers1 - workers0) * 1000 / n, 3),
        master_ms=round((master1 - master0) * 1000 / n, 3),
        mariadb_ms=round((db1 - db0) * 1000 / n, 3),
        load=[round(load0, 2), round(load1, 2)],
        workers_lost=len(gone),
        probe=probe,
        threads_ms={k: round((v - threads0.get(k, 0.0)) * 1000 / n, 3) for k, v in threads1.items()},
        samples=samples,
        bytes_per_response=round(result["bytes"] / n),
        at=time.strftime("%H:%M:%S", time.gmtime()),
    )
    lat, err = result["latency_ms"], result["errors"]
    print(
        f"  r{round_no} {target.spec:28} {spec:11} {result['rps']:7.0f} req/s  p50 {lat['p50']:6.1f}  "
        f"p99 {lat['p99']:6.1f} ms  workers {result['workers_ms']:6.3f} ms  master {result['master_ms']:5.3f}  "
        f"MariaDB {result['mariadb_ms']:5.3f}  {result['bytes_per_response']} B/resp  non-2xx {err['status']}  socket "
        f"{err['connect'] + err['read'] + err['write'] + err['timeout']}  load {load0:.2f}->{load1:.2f}"
        + (f"  LOST {len(gone)} worker(s)" if gone else "")
        + f"\n      threads ms/req {result['threads_ms']}"
        + (f"  py-spy samples {samples}" if args.profile else ""),
        file=sys.stderr,
        flush=True,
    )
    return result


def thread_cpu(pids: list[int]) -> dict[str, float]:
    """CPU seconds of the workers' threads by thread name (granian: "tokio-rt-worker" is its Rust runtime,
    "granian" the Python threads; gunicorn's threads are all "gunicorn")."""
    by_name: dict[str, float] = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                name = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a thread that ended
            by_name[name] = by_name.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
    return by_name


# Where a sampled Python stack is: the application's (Django and below) or the server's own code.
APP_FRAMES = ("(django/", "(health_f0/", "(whitenoise/", "(rest_framework/", "(hello_wsgi.py")


def classify(raw: Path) -> dict[str, int]:
    """Samples of a py-spy raw (collapsed) profile: in the application, in the server's own Python code, or
    elsewhere (interpreter start-up, threading's bootstrap)."""
    counts = {"app": 0, "server": 0, "other": 0}
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        if any(marker in stack for marker in APP_FRAMES):
            counts["app"] += int(n)
        elif "(gunicorn/" in stack or "(granian/" in stack:
            counts["server"] += int(n)
        else:
            counts["other"] += int(n)
    return counts


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"wrk -t{args.wrk_threads} -c{args.connections}, {args.duration} s after {args.warmup} s, {args.workers} "
        f"workers; medians of {args.rounds} round(s) (min–max of worker CPU)",
        "",
        "| target | server | req/s | p50 ms | p99 ms | worker CPU ms/req | master ms/req | MariaDB ms/req | "
        "bytes/resp | non-2xx | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for target in dict.fromkeys(r["target"] for r in results):
        for spec in dict.fromkeys(r["server"] for r in results):
            runs = [r for r in results if r["target"] == target and r["server"] == spec]
            if not runs:
                continue

            def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
                return statistics.median(r[key] for r in runs)

            def lat(key: str, runs: list[dict[str, Any]] = runs) -> float:
                return statistics.median(r["latency_ms"][key] for r in runs)

            cpus = [r["workers_ms"] for r in runs]
            loads = [r["load"][0] for r in runs]
            lines.append(
                f"| {target} | {spec} | {med('rps'):.0f} | {lat('p50'):.1f} | {lat('p99'):.1f} "
                f"| **{med('workers_ms'):.2f}** ({min(cpus):.2f}–{max(cpus):.2f}) | {med('master_ms'):.3f} "
                f"| {med('mariadb_ms'):.2f} | {med('bytes_per_response'):.0f} | {sum(r['errors']['status'] for r in runs)} "
                f"| {min(loads):.1f}–{max(loads):.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", default="hello", help="comma-separated (see above)")
    parser.add_argument("--servers", default="gthread,sync,granian", help="comma-separated (see above)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18490)
    parser.add_argument("--accounts", type=int, default=60, help="portal: patient accounts (sessions)")
    parser.add_argument("--new-sessions", action="store_true", help="portal: log the accounts in again")
    parser.add_argument("--tokens-dir", default=str(OUT), help="bench/generate.py's token files")
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy (raw, 200 Hz, non-blocking, only a thread holding the GIL) every worker during the timed run: "
        "samples in the application vs the server's own Python code",
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if not subprocess.run(["which", "wrk"], capture_output=True).stdout:
        sys.exit("wrk is missing: apt-get install wrk")
    targets = [Target(t, args) for t in args.targets.split(",") if t]
    specs = [s for s in args.servers.split(",") if s]
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    results = []
    for round_no in range(1, args.rounds + 1):
        turn = (round_no - 1) % len(specs)
        order = specs[turn:] + specs[:turn]
        for target in targets:
            for spec in order:
                results.append(run(target, spec, args, round_no))
    report = table(results, args)
    print(report)
    out = OUT / "servers.json"
    previous = json.loads(out.read_text()) if out.exists() else []
    previous.append({"label": args.label, "args": vars(args), "runs": results})
    out.write_text(json.dumps(previous, indent=1, default=str))


if __name__ == "__main__":
    main()
