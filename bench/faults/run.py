"""Fault injection under load: what the product does when its parts fail, measured (issue 14).

    .venv/bin/python bench/faults/run.py                    # every fault, about 15 minutes
    .venv/bin/python bench/faults/run.py --only mariadb-kill,worker-kill --threads 6

Starts everything it needs and touches nothing else: its own MariaDB (mariadb-install-db into
var/faults/mariadb, mariadbd on 127.0.0.1:3307), its own Redis (127.0.0.1:6380, no persistence: a kill
loses everything in it), gunicorn with bench/gunicorn_conf.py on 127.0.0.1:8097, `manage.py run_huey`, and
the eSMS stand-in (tests/standins/esms.py) in this process, set to take a repeated RequestId as a new
message — so "SMS doubled" counts every repeat our code makes, not only those the gateway would let
through. Like systemd with Restart=always, it restarts gunicorn or run_huey if one exits. It only ever
signals the processes it started, by their pid.

Load: --threads clients POST /api/v1/declarations (bench/generate.py's patients and tokens), each
declaration with its own Idempotency-Key; a failed try (connection error, timeout, 5xx) is retried with
the same key after 0.5 s until it is acknowledged (2xx). Each fault also queues an SMS fan-out (--sms
messages) that the worker sends to the stand-in while the fault happens.

Faults, one after the other, each in its own phase: Redis killed and restarted; MariaDB restarted, stopped
cleanly for 15 s, killed (SIGKILL), frozen 8 s (SIGSTOP); gunicorn's workers killed; the SMS gateway
down 60 s; the worker killed mid-sweep; clients sending every declaration twice at once with the same
Idempotency-Key. Then a backup with mariadb-dump, restored into a new database and compared table by
table.

Reported per fault (bench/out/faults-<time>.md and .json): requests (HTTP tries), errors during the fault
(failed tries from the injection until the phase ends), recovery time (from the end of the fault to the
last failed try; 0 when nothing failed after it), the longest successful request, acknowledged
declarations missing from the database, duplicate rows per Idempotency-Key, SMS lost (not at the stand-in
once the outbox has drained) and doubled (at the stand-in more than once), and, counted from the end of
the fault, when every SMS of the fan-out was sent except attempts in doubt (those wait
SMS_RECONCILE_AFTER_SECONDS and a sweep to be settled with the gateway) and when all were settled.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.standins.esms import EsmsStandIn  # noqa: E402

WORK = ROOT / "var" / "faults"
OUT = ROOT / "bench" / "out"
PY = str(ROOT / ".venv" / "bin" / "python")
DB_PORT, REDIS_PORT, WEB_PORT = 3307, 6380, 8097
DB_NAME, RESTORE_NAME = "hf0_faults_bench", "hf0_faults_restore"
SOCKET = WORK / "mysqld.sock"


def log(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)


# --- Our own services ----------------------------------------------------------------------------------


class Process:
    """A process we started, in its own process group; optionally restarted when it exits."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None, restart: bool = False):
        self.name, self.argv, self.env, self.restart = name, argv, env, restart
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        WORK.mkdir(parents=True, exist_ok=True)
        self._log = (WORK / f"{name}.log").open("ab")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: int, group: bool = False) -> None:
        if self.alive():
            if group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        if not self.alive():
            return
        self.send(sig, group=True)
        try:
            assert self.proc is not None
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL, group=True)
            self.proc.wait(30)


class MariaDB(Process):
    def __init__(self) -> None:
        self.datadir = WORK / "mariadb"
        super().__init__(
            "mariadb",
            [
                "/usr/sbin/mariadbd",
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--port={DB_PORT}",
                "--bind-address=127.0.0.1",
                f"--socket={SOCKET}",
                f"--pid-file={WORK / 'mysqld.pid'}",
                "--user=root",
                "--innodb-buffer-pool-size=256M",
                "--max-connections=300",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_uca1400_vietnamese_ai_ci",
            ],
        )

    def install(self) -> None:
        if self.datadir.exists():
            shutil.rmtree(self.datadir)
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def sql(self, statement: str, database: str = "") -> str:
        argv = ["mariadb", f"--socket={SOCKET}", "-uroot", "-N", "-e", statement] + (
            [database] if database else []
        )
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["mariadb-admin", f"--socket={SOCKET}", "-uroot", "ping"], capture_output=True, text=True
            )
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("MariaDB did not come up; see var/faults/mariadb.log")

    def start(self) -> None:
        super().start()
        self.wait_ready()

    def shutdown_cleanly(self) -> None:
        subprocess.run(["mariadb-admin", f"--socket={SOCKET}", "-uroot", "shutdown"], check=True)
        assert self.proc is not None
        self.proc.wait(120)


class Redis(Process):
    def __init__(self) -> None:
        (WORK / "redis").mkdir(parents=True, exist_ok=True)
        super().__init__(
            "redis",
            [
                "redis-server",
                "--port",
                str(REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(WORK / "redis"),
            ],
        )

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True, text=True
                ).stdout.strip()
                == "PONG"
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("Redis did not come up")


class Supervisor(threading.Thread):
    """Restart a supervised process that exited (systemd's Restart=always, RestartSec=2)."""

    def __init__(self, processes: list[Process]):
        super().__init__(daemon=True)
        self.processes = processes
        self.paused: set[str] = set()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1):
            for process in self.processes:
                if process.restart and process.name not in self.paused and not process.alive():
                    time.sleep(2)
                    if process.name in self.paused or self.stopped.is_set():
                        continue
                    log(f"{process.name} exited; restarting it")
                    process.restarts += 1
                    process.start()


# --- The load -------------------------------------------------------------------------------------------


@dataclass
class Try:
    started: float
    ended: float
    key: str
    status: int  # HTTP status, 0 for a connection error or timeout
    declaration: str = ""


@dataclass
class Load:
    tokens: list[str]
    threads: int
    tries: list[Try] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> declaration public id
    duplicate_sends: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    phase: str = "warm-up"
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> list[threading.Thread]:
        workers = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.threads)]
        for worker in workers:
            worker.start()
        return workers

    def _post(self, conn_box: list[Any], token: str, key: str, body: bytes) -> Try:
        started = time.time()
        status, declaration = 0, ""
        try:
            if conn_box[0] is None:
                conn_box[0] = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=15)
            conn = conn_box[0]
            conn.request(
                "POST",
                "/api/v1/declarations",
                body=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": key,
                },
            )
            response = conn.getresponse()
            raw = response.read()
            status = response.status
            if 200 <= status < 300:
                declaration = str(json.loads(raw).get("id", ""))
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn_box[0] = None
        except (OSError, http.client.HTTPException, ValueError):
            if conn_box[0] is not None:
                conn_box[0].close()
            conn_box[0] = None
        attempt = Try(started, time.time(), key, status, declaration)
        with self._lock:
            self.tries.append(attempt)
            if declaration:
                self.acknowledged.setdefault(key, declaration)
        return attempt

    def _client(self, tid: int) -> None:
        rng = random.Random(tid)
        conn_box: list[Any] = [None]
        twin_box: list[Any] = [None]
        per = max(len(self.tokens) // self.threads, 1)
        mine = self.tokens[tid * per : (tid + 1) * per] or self.tokens
        n = 0
        while not self.stop.is_set():
            token = mine[n % len(mine)]
            n += 1
            key = f"flt-{self.phase}-{tid}-{n}-{uuid.uuid4().hex[:8]}"
            answers = {
                "temperature": round(36.0 + rng.random() * 2.5, 1),
                "spo2": rng.randint(95, 99),
                "breathing_rate": rng.randint(14, 21),
                "pulse": rng.randint(60, 110),
                "symptoms": rng.sample(["cough", "fatigue", "headache", "sore_throat"], rng.randint(0, 2)),
            }
            body = json.dumps({"answers": answers}).encode()
            while not self.stop.is_set():
                if self.duplicate_sends:
                    # The app sends the same declaration twice at once (a double tap, a retry racing the
                    # first try): same key, same body, two connections.
                    twin = threading.Thread(target=self._post, args=(twin_box, token, key, body))
                    twin.start()
                    attempt = self._post(conn_box, token, key, body)
                    twin.join()
                else:
                    attempt = self._post(conn_box, token, key, body)
                if 200 <= attempt.status < 300 or (400 <= attempt.status < 500 and attempt.status != 429):
                    break
                time.sleep(0.5)  # a failed try: the client retries the same declaration, same key


# --- One fault --------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    title: str
    started: float = 0.0
    injected: float = 0.0
    restored: float = 0.0
    ended: float = 0.0
    sms: dict[str, Any] = field(default_factory=dict)
    drained_after: float | None = None
    due_sent_after: float | None = None
    notes: list[str] = field(default_factory=list)


class Run:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.env = {
            **os.environ,
            "DATABASE_URL": f"mysql://hf0:hf0@127.0.0.1:{DB_PORT}/{DB_NAME}",
            "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
            "CACHE_PREFIX": "hf0faults",
            "HUEY_NAME": "hf0faults",
            "SECRET_KEY": "faults-secret-key-not-for-production-0123456789abcdef",
            "DEBUG": "0",
            "TASKS_EAGER": "0",
            "VAR_DIR": str(WORK / "var"),
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DECLARATIONS_PER_DAY": "1000000",
            "SMS_BACKEND": "esms",
            "ESMS_API_KEY": "esms-test-api-key",
            "ESMS_SECRET_KEY": "esms-test-secret-key",
            "ESMS_BRANDNAME": "SYT HAIPHONG",
            "ESMS_TIMEOUT": "5",
            "ESMS_CALLBACK_TOKEN": "",
            "SMS_RECONCILE_AFTER_SECONDS": "20",
            "HUEY_SHUTDOWN_TIMEOUT": "10",
        }
        self.db = MariaDB()
        self.redis = Redis()
        self.esms = EsmsStandIn(hang_seconds=2.0)
        self.esms.accept_repeats = True
        self.web: Process | None = None
        self.worker: Process | None = None
        self.supervisor: Supervisor | None = None
        self.load: Load | None = None
        self.phases: list[Phase] = []
        self.backup: dict[str, Any] = {}

    # --- set-up ---------------------------------------------------------------------------------------
    def helper(self, *argv: str) -> Any:
        done = subprocess.run(
            [PY, str(ROOT / "bench" / "faults" / "helper.py"), *argv],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"helper {' '.join(argv)} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def setup(self) -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        OUT.mkdir(parents=True, exist_ok=True)
        log("installing and starting MariaDB on :3307 and Redis on :6380 (our own instances)")
        self.db.install()
        self.db.start()
        self.db.sql(
            f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_vietnamese_ai_ci; "
            "CREATE USER 'hf0'@'127.0.0.1' IDENTIFIED BY 'hf0'; CREATE USER 'hf0'@'localhost' IDENTIFIED BY 'hf0'; "
            "GRANT ALL ON *.* TO 'hf0'@'127.0.0.1'; GRANT ALL ON *.* TO 'hf0'@'localhost';"
        )
        self.redis.start()
        self.esms.start()
        self.env["ESMS_API_URL"] = self.esms.url
        log(f"generating {self.args.patients} patients ({self.args.accounts} with an API token)")
        tokens_file = self.helper(
            "generate",
            f"--patients={self.args.patients}",
            f"--accounts={self.args.accounts}",
            f"--out={WORK}",
        )["tokens"]
        tokens = [t for t in Path(tokens_file).read_text().split() if t]
        self.web = Process(
            "gunicorn",
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "health_f0.wsgi:application",
                "--config",
                str(ROOT / "bench" / "gunicorn_conf.py"),
                "--bind",
                f"127.0.0.1:{WEB_PORT}",
                "--timeout",
                "30",
            ],
            self.env,
            restart=True,
        )
        self.worker = Process("run_huey", [PY, "manage.py", "run_huey"], self.env, restart=True)
        self.web.start()
        self.worker.start()
        self.supervisor = Supervisor([self.web, self.worker])
        self.supervisor.start()
        self._wait_http()
        self.load = Load(tokens=tokens, threads=self.args.threads)
        self.load.start()
        log(f"load running: {self.args.threads} clients")
        time.sleep(10)

    def _wait_http(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=5)
                conn.request("GET", "/api/v1/questionnaire")
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("gunicorn did not come up; see var/faults/gunicorn.log")

    # --- faults ----------------------------------------------------------------------------------------
    def phase(
        self, name: str, title: str, inject: Callable[[], None], restore: Callable[[], None], hold: float
    ) -> None:
        assert self.load is not None
        phase = Phase(name, title, started=time.time())
        self.phases.append(phase)
        self.load.phase = name
        log(f"--- {title}")
        phase.sms = self.helper("fanout", f"--label={name}", f"--count={self.args.sms}")
        time.sleep(3)
        phase.injected = time.time()
        inject()
        time.sleep(hold)
        restore()
        phase.restored = time.time()
        # The outbox is watched from the end of the fault, while the load goes on for `settle` seconds.
        watcher = threading.Thread(target=lambda: setattr(phase, "drained_after", self._wait_drained(phase)))
        watcher.start()
        time.sleep(self.args.settle)
        phase.ended = time.time()
        watcher.join()
        log(f"    done; outbox drained {phase.drained_after} s after the fault ended")

    def _wait_drained(self, phase: Phase, timeout: float = 240) -> float | None:
        """Seconds from the end of the fault until every SMS of the phase is settled (sent, delivered, dead
        or expired); on the way, when everything but the attempts in doubt was (`due_sent_after`)."""
        deadline = time.monotonic() + timeout
        final = ("sent", "delivered", "dead", "expired")
        while time.monotonic() < deadline:
            rows = self.helper("outbox", f"--label={phase.name}")
            if (
                phase.due_sent_after is None
                and rows
                and all(r["status"] in (*final, "sending") for r in rows)
            ):
                phase.due_sent_after = round(time.time() - phase.restored, 1)
            if rows and all(row["status"] in final for row in rows):
                return round(time.time() - phase.restored, 1)
            time.sleep(1)
        return None

    def faults(self) -> list[tuple[str, str, Callable[[], None], Callable[[], None], float]]:
        db, redis, esms = self.db, self.redis, self.esms
        assert self.web is not None and self.worker is not None and self.load is not None
        web, worker, load = self.web, self.worker, self.load

        def nothing() -> None:
            pass

        def kill_web_workers() -> None:
            children = subprocess.run(
                ["pgrep", "-P", str(web.pid)], capture_output=True, text=True
            ).stdout.split()
            for pid in children:
                os.kill(int(pid), signal.SIGKILL)

        def kill_worker_mid_sweep() -> None:
            before = len(esms.messages)
            deadline = time.monotonic() + 60
            while len(esms.messages) < before + 20 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert self.supervisor is not None
            self.supervisor.paused.add("run_huey")
            worker.send(signal.SIGKILL, group=True)

        def restart_worker() -> None:
            assert self.supervisor is not None
            worker.proc.wait(30)  # type: ignore[union-attr]
            worker.start()
            self.supervisor.paused.discard("run_huey")

        def duplicates_on() -> None:
            load.duplicate_sends = True

        def duplicates_off() -> None:
            load.duplicate_sends = False

        return [
            (
                "redis-kill",
                "Redis killed (SIGKILL) and restarted after 5 s",
                lambda: redis.send(signal.SIGKILL),
                redis.start,
                5,
            ),
            (
                "mariadb-restart",
                "MariaDB restarted (clean shutdown, started at once)",
                db.shutdown_cleanly,
                db.start,
                0,
            ),
            ("mariadb-stop", "MariaDB stopped cleanly for 15 s", db.shutdown_cleanly, db.start, 15),
            (
                "mariadb-kill",
                "MariaDB killed (SIGKILL) and restarted",
                lambda: db.send(signal.SIGKILL),
                db.start,
                1,
            ),
            (
                "mariadb-freeze",
                "MariaDB frozen 8 s (SIGSTOP, then SIGCONT)",
                lambda: db.send(signal.SIGSTOP),
                lambda: db.send(signal.SIGCONT),
                8,
            ),
            (
                "web-kill",
                "gunicorn's workers killed (SIGKILL; the master starts new ones)",
                kill_web_workers,
                nothing,
                0,
            ),
            (
                "gateway-down",
                "SMS gateway down 60 s (connection refused)",
                lambda: esms.down("refused"),
                esms.up,
                60,
            ),
            (
                "worker-kill",
                "run_huey killed (SIGKILL) mid-sweep, restarted after 2 s",
                kill_worker_mid_sweep,
                restart_worker,
                2,
            ),
            (
                "same-key",
                "every declaration sent twice at once with the same Idempotency-Key (40 s)",
                duplicates_on,
                duplicates_off,
                40,
            ),
        ]

    # --- backup and restore ----------------------------------------------------------------------------------
    def backup_and_restore(self) -> None:
        log("--- backup: mariadb-dump --single-transaction, restored into a new database, compared")
        dump = WORK / f"{DB_NAME}.sql"
        started = time.monotonic()
        with dump.open("wb") as out:
            subprocess.run(
                [
                    "mariadb-dump",
                    f"--socket={SOCKET}",
                    "-uroot",
                    "--single-transaction",
                    "--routines",
                    "--triggers",
                    "--events",
                    "--hex-blob",
                    DB_NAME,
                ],
                stdout=out,
                check=True,
            )
        dumped = time.monotonic() - started
        self.db.sql(
            f"DROP DATABASE IF EXISTS {RESTORE_NAME}; "
            f"CREATE DATABASE {RESTORE_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_vietnamese_ai_ci"
        )
        started = time.monotonic()
        with dump.open("rb") as dump_in:
            subprocess.run(
                ["mariadb", f"--socket={SOCKET}", "-uroot", RESTORE_NAME], stdin=dump_in, check=True
            )
        restored = time.monotonic() - started
        tables = self.db.sql(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema='{DB_NAME}' "
            "AND table_type='BASE TABLE'"
        ).split()
        differing = []
        total = 0
        for table in tables:
            source = self.db.sql(f"SELECT COUNT(*) FROM `{table}`", DB_NAME).split()
            copy = self.db.sql(f"SELECT COUNT(*) FROM `{table}`", RESTORE_NAME).split()
            checksums = self.db.sql(
                f"CHECKSUM TABLE `{DB_NAME}`.`{table}`, `{RESTORE_NAME}`.`{table}`"
            ).split("\n")
            sums = [line.split("\t")[-1] for line in checksums if line.strip()]
            total += int(source[0])
            if source != copy or len(set(sums)) != 1:
                differing.append(table)
        self.backup = {
            "dump_bytes": dump.stat().st_size,
            "dump_seconds": round(dumped, 1),
            "restore_seconds": round(restored, 1),
            "tables": len(tables),
            "rows": total,
            "tables_differing": differing,
            "dump_command": f"mariadb-dump --single-transaction --routines --triggers --events --hex-blob {DB_NAME}",
            "restore_command": f"mariadb {RESTORE_NAME} < {dump.name}",
        }
        log(f"    {len(tables)} tables, {total} rows; differing after restore: {differing or 'none'}")

    # --- results --------------------------------------------------------------------------------------------
    def results(self) -> list[dict[str, Any]]:
        assert self.load is not None
        stored: dict[str, list[str]] = {}
        declarations = self.helper("declarations")
        ids = set()
        for public_id, key in declarations:
            ids.add(public_id)
            stored.setdefault(key, []).append(public_id)
        tries = list(self.load.tries)
        rows = []
        for phase in self.phases:
            window = [t for t in tries if phase.started <= t.started < phase.ended]
            failed = [t for t in window if not (200 <= t.status < 300) and t.started >= phase.injected]
            last_failure = max((t.ended for t in failed), default=None)
            ok = [t for t in window if 200 <= t.status < 300]
            keys = {t.key for t in window}
            acked = {key: self.load.acknowledged[key] for key in keys if key in self.load.acknowledged}
            missing = [key for key, public_id in acked.items() if public_id not in ids]
            duplicates = sum(len(stored.get(key, [])) - 1 for key in keys if len(stored.get(key, [])) > 1)
            lost, doubled = self._sms_outcome(phase)
            rows.append(
                {
                    "fault": phase.title,
                    "name": phase.name,
                    "requests": len(window),
                    "acknowledged": len(acked),
                    "errors_during_fault": len(failed),
                    "error_statuses": sorted({t.status for t in failed}),
                    "recovery_seconds": round(max(last_failure - phase.restored, 0.0), 1)
                    if last_failure
                    else 0.0,
                    "slowest_ok_seconds": round(max((t.ended - t.started for t in ok), default=0.0), 1),
                    "acknowledged_missing": len(missing),
                    "duplicate_rows_per_key": duplicates,
                    "sms": phase.sms.get("count", 0),
                    "sms_lost": lost,
                    "sms_doubled": doubled,
                    "due_sms_sent_after_seconds": phase.due_sent_after,
                    "outbox_drained_after_seconds": phase.drained_after,
                }
            )
        return rows

    def _sms_outcome(self, phase: Phase) -> tuple[int, int]:
        rows = self.helper("outbox", f"--label={phase.name}")
        received: dict[str, int] = {}
        for sms in self.esms.messages:
            received[sms.request_id] = received.get(sms.request_id, 0) + 1
        lost = doubled = 0
        for row in rows:
            ids = {row["public_id"], row["attempt_id"]} - {""}
            count = sum(received.get(i, 0) for i in ids)
            if count == 0:
                lost += 1
            elif count > 1:
                doubled += 1
        return lost, doubled

    def report(self, rows: list[dict[str, Any]]) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        restarts = {p.name: p.restarts for p in (self.web, self.worker) if p}
        data = {
            "when": stamp,
            "load_average": os.getloadavg(),
            "threads": self.args.threads,
            "patients": self.args.patients,
            "sms_per_fault": self.args.sms,
            "restarts_by_supervisor": restarts,
            "faults": rows,
            "backup": self.backup,
        }
        (OUT / f"faults-{stamp}.json").write_text(json.dumps(data, indent=1))
        lines = [
            "| fault | requests | errors during the fault | recovery (s) | slowest OK (s) | acknowledged missing "
            "| duplicate rows per key | SMS | SMS lost | SMS doubled | due SMS sent after (s) | all SMS settled after (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            errors = f"{r['errors_during_fault']}" + (
                f" ({', '.join(str(s) if s else 'conn' for s in r['error_statuses'])})"
                if r["error_statuses"]
                else ""
            )
            lines.append(
                f"| {r['fault']} | {r['requests']:,} | {errors} | {r['recovery_seconds']} | {r['slowest_ok_seconds']} "
                f"| {r['acknowledged_missing']} | {r['duplicate_rows_per_key']} | {r['sms']} | {r['sms_lost']} "
                f"| {r['sms_doubled']} | {r['due_sms_sent_after_seconds']} | {r['outbox_drained_after_seconds']} |"
            )
        if self.backup:
            b = self.backup
            lines += [
                "",
                f"Backup: `{b['dump_command']}` ({b['dump_bytes'] / 1e6:.1f} MB, {b['dump_seconds']} s), restored "
                f"with `{b['restore_command']}` ({b['restore_seconds']} s): {b['tables']} tables, {b['rows']:,} rows, "
                f"tables differing (row count and checksum): {', '.join(b['tables_differing']) or 'none'}.",
            ]
        lines.append(f"\nSupervisor restarts: {restarts}; load average at the end {os.getloadavg()}.")
        path = OUT / f"faults-{stamp}.md"
        path.write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return path

    def teardown(self) -> None:
        if self.load is not None:
            self.load.stop.set()
        if self.supervisor is not None:
            self.supervisor.stopped.set()
        for process in (self.worker, self.web):
            if process is not None:
                process.stop()
        self.esms.stop()
        self.db.send(signal.SIGCONT)
        if self.db.alive():
            try:
                self.db.shutdown_cleanly()
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self.db.stop(signal.SIGKILL)
        self.redis.stop()

    def main(self) -> None:
        try:
            self.setup()
            only = set(self.args.only.split(",")) if self.args.only else None
            for name, title, inject, restore, hold in self.faults():
                if only is None or name in only:
                    self.phase(name, title, inject, restore, hold)
            assert self.load is not None
            self.load.stop.set()
            time.sleep(3)
            rows = self.results()
            self.backup_and_restore()
            path = self.report(rows)
            log(f"results in {path}")
        finally:
            self.teardown()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--sms", type=int, default=600, help="SMS fanned out at each fault")
    parser.add_argument("--settle", type=float, default=20, help="seconds of load after each fault ends")
    parser.add_argument("--only", default="", help="comma-separated fault names (default: all)")
    Run(parser.parse_args()).main()


if __name__ == "__main__":
    main()
