"""Locks for periodic jobs that cannot outlive the process holding them.

Huey's own `lock_task` writes a key with no expiry and deletes it in `finally`. A worker killed mid-run
(SIGKILL, the out-of-memory killer, a power cut, or systemd's SIGTERM to a thread worker, which ends the
process without running the task's `finally`) leaves the key behind, and every later run of the job is
skipped for good: a killed worker once kept 3,739 reminders queued until someone ran `--flush-locks`.

`task_lock(name, ttl=...)` replaces it. The lock is a lease:

- it is taken atomically with an expiry (`SET NX PX` in Redis; one UPSERT in the SQLite file of the
  embedded Huey; a dict in the in-memory test queue) and records its holder (host, boot, pid, process
  start time) and when it was taken;
- while the job runs, a heartbeat thread renews it every `ttl / 3`, so a long honest run (a large HIS
  pull) keeps it, while a dead holder's lease lapses within `ttl`;
- a lease held by a process of this same machine that no longer exists (same pid with another start
  time, or no such pid) is taken over at once: a worker restarted on the same host runs the job at its
  next tick instead of waiting for the expiry;
- it is released in `finally`, and by an exit handler for any lease still held when the process exits
  (a consumer stopped while a worker thread is mid-run).

A job that finds the lock held raises huey's `TaskLockedException`, which the consumer logs as a WARNING
and skips, exactly like `lock_task`.

Why not `--flush-locks` at start: with two consumers (two hosts, or a restart overlapping the old
process's shutdown) it deletes the lock of a run still in progress on the other one. Why not huey's
`lock_task(ttl=...)`: its Redis storage needs hash-field TTLs (Redis >= 7.4) and its SQLite storage
refuses a TTL.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from huey.exceptions import TaskLockedException

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


# --- Who holds a lease ---------------------------------------------------------------------------


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _process_start(pid: int) -> str:
    """The start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), "" if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass(frozen=True)
class Holder:
    """The process holding a lease, as written in the lease's value."""

    token: str
    host: str
    boot: str
    pid: int
    start: str
    since: float  # wall-clock time the lease was taken

    def encode(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | bytes | None) -> Holder | None:
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return cls(
                token=str(data["token"]),
                host=str(data["host"]),
                boot=str(data["boot"]),
                pid=int(data["pid"]),
                start=str(data["start"]),
                since=float(data["since"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    @classmethod
    def me(cls) -> Holder:
        pid = os.getpid()
        return cls(
            token=uuid.uuid4().hex,
            host=socket.gethostname(),
            boot=_boot_id(),
            pid=pid,
            start=_process_start(pid),
            since=time.time(),
        )

    def is_dead_here(self) -> bool:
        """True only when the holder is certainly gone: it ran on this machine since its last boot and its
        process no longer exists (or the pid now belongs to a process started at another time). A holder on
        another host, or one we cannot judge, is never declared dead: its lease simply expires."""
        if self.host != socket.gethostname() or not self.boot or self.boot != _boot_id() or not self.start:
            return False
        return _process_start(self.pid) != self.start


# --- Storage ---------------------------------------------------------------------------------------


class LeaseBackend(Protocol):
    def acquire(self, key: str, value: str, ttl_ms: int) -> bool: ...
    def take_over(self, key: str, stale: str, value: str, ttl_ms: int) -> bool: ...
    def renew(self, key: str, value: str, ttl_ms: int) -> bool: ...
    def release(self, key: str, value: str) -> bool: ...
    def peek(self, key: str) -> tuple[str, float] | None:
        """The raw value and the seconds left before it expires, or None when free."""
        ...


_CAS_TAKE_OVER = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0"
)
_CAS_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_CAS_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisLeases:
    """Leases as Redis keys with a PX expiry; every change of a held lease compares its holder first."""

    def __init__(self, conn: Any, prefix: str):
        self.conn = conn
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}.lease.{key}"

    def acquire(self, key: str, value: str, ttl_ms: int) -> bool:
        return bool(self.conn.set(self._key(key), value, nx=True, px=ttl_ms))

    def take_over(self, key: str, stale: str, value: str, ttl_ms: int) -> bool:
        return bool(self.conn.eval(_CAS_TAKE_OVER, 1, self._key(key), stale, value, ttl_ms))

    def renew(self, key: str, value: str, ttl_ms: int) -> bool:
        return bool(self.conn.eval(_CAS_RENEW, 1, self._key(key), value, ttl_ms))

    def release(self, key: str, value: str) -> bool:
        return bool(self.conn.eval(_CAS_RELEASE, 1, self._key(key), value))

    def peek(self, key: str) -> tuple[str, float] | None:
        pipe = self.conn.pipeline()
        pipe.get(self._key(key))
        pipe.pttl(self._key(key))
        raw, pttl = pipe.execute()
        if raw is None:
            return None
        return (raw.decode() if isinstance(raw, bytes) else str(raw)), max(int(pttl), 0) / 1000


class SqliteLeases:
    """Leases as rows of a `task_lease` table in the embedded Huey's SQLite file, shared by the web and
    worker processes of one machine. Each operation is one statement, so SQLite's write lock makes it
    atomic; times are wall-clock seconds (one machine, one clock)."""

    def __init__(self, filename: str):
        self.filename = filename
        self._ready = False

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.filename, timeout=10, isolation_level=None)
        try:
            if not self._ready:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS task_lease "
                    "(name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL)"
                )
                self._ready = True
            yield conn
        finally:
            conn.close()

    def acquire(self, key: str, value: str, ttl_ms: int) -> bool:
        now = time.time()
        with self._db() as conn:
            cur = conn.execute(
                "INSERT INTO task_lease (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE task_lease.expires_at <= ?",
                (key, value, now + ttl_ms / 1000, now),
            )
            return cur.rowcount == 1

    def take_over(self, key: str, stale: str, value: str, ttl_ms: int) -> bool:
        with self._db() as conn:
            cur = conn.execute(
                "UPDATE task_lease SET holder = ?, expires_at = ? WHERE name = ? AND holder = ?",
                (value, time.time() + ttl_ms / 1000, key, stale),
            )
            return cur.rowcount == 1

    def renew(self, key: str, value: str, ttl_ms: int) -> bool:
        with self._db() as conn:
            cur = conn.execute(
                "UPDATE task_lease SET expires_at = ? WHERE name = ? AND holder = ?",
                (time.time() + ttl_ms / 1000, key, value),
            )
            return cur.rowcount == 1

    def release(self, key: str, value: str) -> bool:
        with self._db() as conn:
            cur = conn.execute("DELETE FROM task_lease WHERE name = ? AND holder = ?", (key, value))
            return cur.rowcount == 1

    def peek(self, key: str) -> tuple[str, float] | None:
        with self._db() as conn:
            row = conn.execute("SELECT holder, expires_at FROM task_lease WHERE name = ?", (key,)).fetchone()
        if row is None or row[1] <= time.time():
            return None
        return str(row[0]), row[1] - time.time()


class MemoryLeases:
    """Leases in this process only: for Huey's in-memory queue (TASKS_EAGER, tests)."""

    def __init__(self) -> None:
        self._leases: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> tuple[str, float] | None:
        lease = self._leases.get(key)
        return lease if lease and lease[1] > time.monotonic() else None

    def acquire(self, key: str, value: str, ttl_ms: int) -> bool:
        with self._lock:
            if self._live(key):
                return False
            self._leases[key] = (value, time.monotonic() + ttl_ms / 1000)
            return True

    def take_over(self, key: str, stale: str, value: str, ttl_ms: int) -> bool:
        with self._lock:
            lease = self._live(key)
            if not lease or lease[0] != stale:
                return False
            self._leases[key] = (value, time.monotonic() + ttl_ms / 1000)
            return True

    def renew(self, key: str, value: str, ttl_ms: int) -> bool:
        with self._lock:
            lease = self._live(key)
            if not lease or lease[0] != value:
                return False
            self._leases[key] = (value, time.monotonic() + ttl_ms / 1000)
            return True

    def release(self, key: str, value: str) -> bool:
        with self._lock:
            lease = self._leases.get(key)
            if not lease or lease[0] != value:
                return False
            del self._leases[key]
            return True

    def peek(self, key: str) -> tuple[str, float] | None:
        with self._lock:
            lease = self._live(key)
        return (lease[0], lease[1] - time.monotonic()) if lease else None


_memory = MemoryLeases()
_backends: dict[int, LeaseBackend] = {}


def get_backend() -> LeaseBackend:
    """The lease storage that goes with the Huey queue in use: Redis, the SQLite file, or memory."""
    from huey.contrib.djhuey import HUEY
    from huey.storage import RedisStorage, SqliteStorage

    storage = HUEY.storage
    backend = _backends.get(id(storage))
    if backend is None:
        if isinstance(storage, RedisStorage):
            backend = RedisLeases(storage.conn, HUEY.name)
        elif isinstance(storage, SqliteStorage):
            backend = SqliteLeases(storage.filename)
        else:
            backend = _memory
        _backends[id(storage)] = backend
    return backend


# --- The lock ----------------------------------------------------------------------------------------

# Every job lock declared with `task_lock` and its ttl (seconds), for monitoring (`manage.py worker_health`).
REGISTERED: dict[str, float] = {}

# Every lease this process holds, released by the exit handler if a job is cut off mid-run.
_held: dict[tuple[int, str], tuple[LeaseBackend, str]] = {}
_held_lock = threading.Lock()


class TaskLease:
    """One named lease. `acquire()` → bool; `release()`; use `task_lock` for a job."""

    def __init__(self, name: str, *, ttl: float, backend: LeaseBackend | None = None):
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.name = name
        self.ttl_ms = int(ttl * 1000)
        self.backend = backend or get_backend()
        self.holder = Holder.me()
        self.value = self.holder.encode()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self.backend.acquire(self.name, self.value, self.ttl_ms):
            current = self.backend.peek(self.name)
            stale = Holder.decode(current[0]) if current else None
            if current is None:  # freed or expired between the two calls
                if not self.backend.acquire(self.name, self.value, self.ttl_ms):
                    return False
            elif stale is not None and stale.is_dead_here():
                if not self.backend.take_over(self.name, current[0], self.value, self.ttl_ms):
                    return False
                logger.warning(
                    "lock %s was held by process %s, which is gone (killed?): taken over",
                    self.name,
                    stale.pid,
                )
            else:
                return False
        with _held_lock:
            _held[(id(self.backend), self.name)] = (self.backend, self.value)
        self._start_heartbeat()
        return True

    def _start_heartbeat(self) -> None:
        interval = self.ttl_ms / 3000

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    if not self.backend.renew(self.name, self.value, self.ttl_ms):
                        logger.error(
                            "lock %s was lost while its job still runs (expired or taken)", self.name
                        )
                        return
                except Exception:  # noqa: BLE001 - storage briefly down: try again at the next beat
                    logger.warning("could not renew lock %s", self.name, exc_info=True)

        self._heartbeat = threading.Thread(target=beat, name=f"lease-{self.name}", daemon=True)
        self._heartbeat.start()

    def release(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(5)
        with _held_lock:
            _held.pop((id(self.backend), self.name), None)
        try:
            self.backend.release(self.name, self.value)
        except Exception:  # noqa: BLE001 - the lease expires on its own
            logger.warning("could not release lock %s; it expires by itself", self.name, exc_info=True)


def task_lock(name: str, *, ttl: float) -> Callable[[F], F]:
    """Run the decorated job only if the lease `name` is free; hold it (renewed) while the job runs.

    `ttl` (seconds) bounds how long a dead holder blocks the job; a live holder renews the lease every
    ttl/3 however long its run. Put it under `@db_periodic_task(...)` where `@lock_task(...)` was.
    """

    REGISTERED[name] = ttl

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            lease = TaskLease(name, ttl=ttl)
            if not lease.acquire():
                raise TaskLockedException(f"unable to acquire lock {name}")
            try:
                return fn(*args, **kwargs)
            finally:
                lease.release()

        return inner  # type: ignore[return-value]

    return decorate


def lease_status(name: str, backend: LeaseBackend | None = None) -> dict[str, Any] | None:
    """Who holds `name`, since when and for how much longer, for monitoring; None when free."""
    current = (backend or get_backend()).peek(name)
    if current is None:
        return None
    holder = Holder.decode(current[0])
    return {
        "name": name,
        "host": holder.host if holder else "?",
        "pid": holder.pid if holder else None,
        "age_seconds": round(time.time() - holder.since, 1) if holder else None,
        "expires_in_seconds": round(current[1], 1),
        "holder_dead": bool(holder and holder.is_dead_here()),
    }


@atexit.register
def _release_on_exit() -> None:
    """A consumer that stops while a worker thread is mid-job exits without the job's `finally`: free its
    leases so the next worker need not wait for them to expire."""
    with _held_lock:
        held = list(_held.items())
        _held.clear()
    for (_, name), (backend, value) in held:
        with contextlib.suppress(Exception):
            backend.release(name, value)
