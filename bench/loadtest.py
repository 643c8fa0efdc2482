"""Helper of bench/declarations.sh: start gunicorn on the bench database, warm up, run wrk for a fixed time,
and report requests/s, latency percentiles, errors and server CPU per request.

CPU per request = the gunicorn worker processes' utime+stime (from /proc/<pid>/stat) after minus before,
divided by the requests of the timed run; MariaDB's own CPU over the same window is reported beside it.
Every request must create a declaration: the rows added during the timed run are counted too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15 of stat)


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def mariadb_pid() -> int | None:
    out = subprocess.run(["pidof", "mariadbd"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def count_declarations() -> int:
    out = subprocess.run(
        [
            str(ROOT / ".venv/bin/python"),
            "-c",
            "import sys; sys.path.insert(0, 'bench'); from _django import setup; setup(); "
            "from health_f0.monitoring.models import Declaration; print(Declaration.objects.count())",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    return int(out.strip())


RESET_SQL = (
    # Declarations made by earlier load tests (and bench/declare_inproc.py): their keys start with "wrk-".
    # Left in place they pile up (tens per patient token within 96 hours after a few runs), and every
    # declaration then reads and triages that inflated history. Removed before each run, the 2,000 token
    # patients start from the generated history (about one declaration a day), and their episodes' count of
    # the day's declarations (the daily cap) is recounted from what is left.
    "CREATE TEMPORARY TABLE wrk_episodes AS SELECT DISTINCT episode_id FROM monitoring_declaration "
    "WHERE idempotency_key LIKE 'wrk-%'",
    "DELETE a FROM monitoring_alert a INNER JOIN monitoring_declaration d ON d.id = a.declaration_id "
    "WHERE d.idempotency_key LIKE 'wrk-%'",
    "DELETE FROM monitoring_declaration WHERE idempotency_key LIKE 'wrk-%'",
    "UPDATE monitoring_episode e INNER JOIN wrk_episodes w ON w.episode_id = e.id "
    "SET e.declarations_on_last_day = (SELECT COUNT(*) FROM monitoring_declaration d "
    "WHERE d.episode_id = e.id AND d.local_date = e.last_declared_on)",
)
RESET_DELETED = 2  # the statement whose row count is reported


def reset_declarations() -> int:
    out = subprocess.run(
        [
            str(ROOT / ".venv/bin/python"),
            "-c",
            "import sys; sys.path.insert(0, 'bench'); from _django import setup; setup(); "
            "from django.db import connection; from loadtest import RESET_DELETED, RESET_SQL\n"
            "with connection.cursor() as c:\n"
            "    n = [c.execute(sql) for sql in RESET_SQL][RESET_DELETED]\n"
            "print(n)",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    return int(out.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--port", type=int, default=18431)
    parser.add_argument("--tokens", default=str(OUT / "tokens.txt"))
    parser.add_argument(
        "--one-token",
        action="store_true",
        help="every request with the first token (one patient looping); answers past the daily cap "
        "(429) are counted as refusals, not errors",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy record one worker during the run")
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--config",
        default=str(BENCH / "gunicorn_conf.py"),
        help="gunicorn config file (default: bench/gunicorn_conf.py, the recommended settings); '' for none",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep earlier load tests' declarations (default: delete them first)",
    )
    args = parser.parse_args()
    if not args.keep:
        print(f"deleted {reset_declarations()} declarations of earlier load tests", file=sys.stderr)
    OUT.mkdir(exist_ok=True)
    if args.one_token:
        first = Path(args.tokens).read_text().split()[0]
        args.tokens = str(OUT / "one-token.txt")
        Path(args.tokens).write_text((first + "\n") * args.wrk_threads)  # one slice of one token a thread
    label = args.label or f"{args.worker_class}-w{args.workers}" + (
        f"t{args.threads}" if args.worker_class == "gthread" else ""
    )

    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "health_f0.wsgi:application",
        "--bind",
        f"127.0.0.1:{args.port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--log-level",
        "warning",
        "--backlog",
        "256",
        "--pid",
        str(OUT / "gunicorn.pid"),
    ]
    if args.worker_class == "gthread":
        cmd += ["--threads", str(args.threads)]
    if args.config:
        cmd += ["--config", args.config]  # the options above override the file's
    import socket

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", args.port)) == 0:
            sys.exit(f"port {args.port} is taken by another process: pick another with --port")
    log = open(OUT / f"gunicorn-{label}.log", "w")  # noqa: SIM115 - closed when the server is stopped
    server = subprocess.Popen(cmd, cwd=ROOT, stderr=log)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/api/v1/questionnaire", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer means it is up (401 without a token)
            except OSError:
                time.sleep(0.2)
        workers = children(server.pid)
        if server.poll() is not None or not workers:
            sys.exit(f"gunicorn did not start: see {OUT / f'gunicorn-{label}.log'}")
        env = dict(os.environ, TOKENS_FILE=args.tokens, WRK_THREADS=str(args.wrk_threads))
        wrk = [
            "wrk",
            "-t",
            str(args.wrk_threads),
            "-c",
            str(args.connections),
            "-s",
            str(BENCH / "declarations.lua"),
            "--timeout",
            "5s",
            f"http://127.0.0.1:{args.port}",
        ]
        subprocess.run(
            wrk[:1] + ["-d", f"{args.warmup}s"] + wrk[1:], env=env, cwd=ROOT, check=True, capture_output=True
        )
        rows_before = count_declarations()
        mysqld = mariadb_pid()
        cpu_before = {pid: cpu_seconds(pid) for pid in workers}
        db_before = cpu_seconds(mysqld) if mysqld else 0.0
        load_before = os.getloadavg()
        profiler = None
        if args.profile:
            profiler = subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/py-spy"),
                    "record",
                    "--gil",  # samples holding the GIL: where the CPU goes, not the waits on MariaDB
                    "--pid",
                    str(workers[0]),
                    "--duration",
                    str(args.duration),
                    "--format",
                    "speedscope",
                    "--output",
                    str(OUT / f"profile-{label}.json"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        result_file = OUT / f"wrk-{label}.json"
        run = subprocess.run(
            wrk[:1] + ["-d", f"{args.duration}s"] + wrk[1:],
            env=dict(env, RESULT_FILE=str(result_file)),
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        cpu_after = {pid: cpu_seconds(pid) for pid in workers}
        db_after = cpu_seconds(mysqld) if mysqld else 0.0
        load_after = os.getloadavg()
        if profiler:
            profiler.wait()
        rows_after = count_declarations()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()

    wrk_result = json.loads(result_file.read_text())
    requests = wrk_result["requests"]
    worker_cpu = sum(cpu_after[p] - cpu_before[p] for p in workers)
    report = {
        "label": label,
        "gunicorn": " ".join(cmd[1:]),
        "wrk": f"-t{args.wrk_threads} -c{args.connections} -d{args.duration}s (after a {args.warmup}s warm-up)",
        **wrk_result,
        "declarations_created": rows_after - rows_before,
        "one_token": args.one_token,
        "worker_cpu_s": round(worker_cpu, 2),
        "cpu_ms_per_request": round(worker_cpu * 1000 / requests, 3) if requests else None,
        "mariadb_cpu_ms_per_request": round((db_after - db_before) * 1000 / requests, 3)
        if requests
        else None,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "wrk_stdout_tail": run.stdout.strip().splitlines()[-12:],
    }
    (OUT / f"declarations-{label}.json").write_text(json.dumps(report, indent=1))
    lat = report["latency_ms"]
    errors = sum(report["errors"].values())
    print(
        f"{label}: {report['rps']:.0f} req/s, p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, "
        f"p99 {lat['p99']:.1f} ms, errors {errors} ({report['errors']}), requests {requests}, "
        f"declarations created {report['declarations_created']}, worker CPU {report['cpu_ms_per_request']} "
        f"ms/request, MariaDB CPU {report['mariadb_cpu_ms_per_request']} ms/request, "
        f"load {report['load_before']} -> {report['load_after']}"
    )
    # Requests in flight when wrk stops (at most one per connection, at each end) are answered after it
    # stopped counting: the rows may exceed the requests by that much, never fall short.
    if args.one_token:
        # One patient: past the daily cap every answer is a 429 (wrk counts it under errors "status").
        other = errors - report["errors"]["status"]
        refused = requests - report["declarations_created"]
        print(f"one token: {report['declarations_created']} created, about {refused} refused (429)")
        if other:
            sys.exit(1)
        return
    if errors or not requests <= report["declarations_created"] <= requests + 2 * args.connections:
        sys.exit(1)


if __name__ == "__main__":
    main()
