"""A stopped or killed worker does not stop every SMS (issue 14, item 1).

Huey's `lock_task` left its key behind when a worker died mid-sweep, and every later sweep was skipped:
thousands of reminders stayed queued until someone ran `--flush-locks`. The jobs now hold expiring,
renewed leases (health_f0.core.locks) that a restarted worker on the same machine takes over at once and
that anyone can take once they expire; the desk shows the outbox's oldest waiting message and its age,
and the province's administrators are texted once when it gets too old.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from huey.exceptions import TaskLockedException

from health_f0.core import locks
from health_f0.core.locks import Holder, LeaseBackend, MemoryLeases, RedisLeases, SqliteLeases, TaskLease
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility, FacilityKind, Membership, Role
from health_f0.notifications import tasks
from health_f0.notifications.models import MessageKind, MessageStatus, OutboxAlert, OutboxMessage
from health_f0.notifications.services import outbox_age_check
from tests.standins.esms import EsmsStandIn

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+84912345678"


# --- Lease storages ----------------------------------------------------------------------------------


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set (scripts/test.sh sets it)")
    return url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def backend(request: Any, tmp_path: Path) -> Iterator[LeaseBackend]:
    if request.param == "memory":
        yield MemoryLeases()
    elif request.param == "sqlite":
        yield SqliteLeases(str(tmp_path / "huey.sqlite3"))
    else:
        import redis

        conn = redis.Redis.from_url(_redis_url())
        prefix = f"hf0-test-{uuid.uuid4().hex[:8]}"
        yield RedisLeases(conn, prefix)
        for key in conn.scan_iter(f"{prefix}.*"):
            conn.delete(key)


def _dead_holder() -> str:
    """The lease value a worker of this machine leaves when it is killed: its process no longer exists."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    me = Holder.me()
    return Holder(
        token=uuid.uuid4().hex, host=me.host, boot=me.boot, pid=child.pid, start="1", since=time.time() - 30
    ).encode()


def _holder_elsewhere() -> str:
    me = Holder.me()
    return Holder(
        token=uuid.uuid4().hex, host="worker-2.internal", boot="x", pid=me.pid, start="1", since=time.time()
    ).encode()


def test_lease_is_exclusive_and_only_its_holder_releases_it(backend: LeaseBackend) -> None:
    first = TaskLease("job", ttl=30, backend=backend)
    second = TaskLease("job", ttl=30, backend=backend)
    assert first.acquire()
    assert not second.acquire()  # a live holder of this very process: never taken over
    second.release()  # releasing what it does not hold frees nothing
    assert not TaskLease("job", ttl=30, backend=backend).acquire()
    first.release()
    assert second.acquire()
    second.release()
    assert backend.peek("job") is None


def test_lease_of_a_killed_worker_on_this_machine_is_taken_over_at_once(backend: LeaseBackend) -> None:
    assert backend.acquire("job", _dead_holder(), 600_000)  # killed ten minutes before its lease ends
    lease = TaskLease("job", ttl=30, backend=backend)
    assert lease.acquire()
    current = backend.peek("job")
    assert current is not None and current[0] == lease.value
    lease.release()


def test_lease_of_a_worker_elsewhere_waits_for_its_expiry(backend: LeaseBackend) -> None:
    assert backend.acquire("job", _holder_elsewhere(), 300)  # another host: cannot tell if it is alive
    assert not TaskLease("job", ttl=30, backend=backend).acquire()
    time.sleep(0.5)  # its lease runs out
    lease = TaskLease("job", ttl=30, backend=backend)
    assert lease.acquire()
    lease.release()


def test_a_running_job_keeps_its_lease_beyond_the_ttl(backend: LeaseBackend) -> None:
    lease = TaskLease("job", ttl=0.6, backend=backend)
    assert lease.acquire()
    time.sleep(1.5)  # over twice the ttl: renewed by the heartbeat every 0.2 s
    assert not TaskLease("job", ttl=0.6, backend=backend).acquire()
    lease.release()
    assert backend.peek("job") is None


def test_lease_released_on_exit_of_a_process_cut_off_mid_job(tmp_path: Path) -> None:
    """A consumer stopped while a worker thread is mid-job exits without the job's `finally`; the exit
    handler frees its lease so nobody waits for the expiry."""
    db = tmp_path / "huey.sqlite3"
    script = (
        "import threading, time, sys\n"
        "from health_f0.core.locks import SqliteLeases, TaskLease\n"
        f"lease = TaskLease('job', ttl=600, backend=SqliteLeases({str(db)!r}))\n"
        "assert lease.acquire()\n"
        "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
        "sys.exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
    assert SqliteLeases(str(db)).peek("job") is None


# --- The jobs ----------------------------------------------------------------------------------------


def _hold_in_killed_process(backend: str, where: str, name: str) -> None:
    """Take lease `name` in a separate Python process, then SIGKILL it, as a worker killed mid-sweep."""
    make = (
        f"SqliteLeases({where!r})"
        if backend == "sqlite"
        else f"RedisLeases(redis.Redis.from_url({_redis_url()!r}), {where!r})"
    )
    script = (
        "import sys, time, redis\n"
        "from health_f0.core.locks import RedisLeases, SqliteLeases, TaskLease\n"
        f"assert TaskLease({name!r}, ttl=600, backend={make}).acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "held"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_sweep_runs_at_once_after_a_worker_was_killed_holding_its_lock(
    kind: str, tmp_path: Path, monkeypatch: Any, sms: Any
) -> None:
    where = str(tmp_path / "huey.sqlite3") if kind == "sqlite" else f"hf0-test-{uuid.uuid4().hex[:8]}"
    leases: LeaseBackend = (
        SqliteLeases(where)
        if kind == "sqlite"
        else RedisLeases(__import__("redis").Redis.from_url(_redis_url()), where)
    )
    monkeypatch.setattr(locks, "get_backend", lambda: leases)
    _hold_in_killed_process(kind, where, "outbox-sweep")
    assert leases.peek("outbox-sweep") is not None  # what the killed worker left behind

    message = OutboxMessage.objects.create(
        kind="generic", to=PHONE, body="Nhac lich", next_attempt_at=timezone.now()
    )
    assert tasks.send_due_messages.call_local() == 1  # the next sweep runs: no --flush-locks needed
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and len(sms.messages()) == 1
    assert leases.peek("outbox-sweep") is None


@pytest.mark.django_db
def test_sweep_is_skipped_while_a_live_worker_holds_it(monkeypatch: Any) -> None:
    leases = MemoryLeases()
    monkeypatch.setattr(locks, "get_backend", lambda: leases)
    running = TaskLease("outbox-sweep", ttl=30, backend=leases)
    assert running.acquire()
    with pytest.raises(TaskLockedException):
        tasks.send_due_messages.call_local()
    running.release()
    assert tasks.send_due_messages.call_local() == 0


@pytest.mark.django_db
def test_sweep_goes_on_when_the_database_comes_back(monkeypatch: Any, sms: Any) -> None:
    """MariaDB restarting mid-sweep: the sweep reconnects and sends, instead of dying until the next minute."""
    from django.db import OperationalError

    from health_f0.notifications import services

    message = OutboxMessage.objects.create(
        kind="generic", to=PHONE, body="Nhac lich", next_attempt_at=timezone.now()
    )
    real, calls = services.outbox_due_ids, []

    def lost_then_back(**kwargs: Any) -> list[int]:
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError(2013, "Lost connection to server during query")
        return real(**kwargs)

    monkeypatch.setattr(services, "outbox_due_ids", lost_then_back)
    monkeypatch.setattr(tasks, "DB_RETRY_PAUSE", 0)
    monkeypatch.setattr(tasks.connections, "close_all", lambda: None)  # keep the test's own transaction
    assert tasks.send_due_messages.call_local() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and len(calls) == 3


def test_every_periodic_job_uses_an_expiring_lock() -> None:
    import health_f0.appointments.tasks
    import health_f0.his.tasks
    import health_f0.monitoring.tasks  # noqa: F401

    assert {
        "outbox-sweep",
        "early-delivery-reports",
        "outbox-age-check",
        "declaration-reminders",
        "appointment-reminders",
        "appointment-no-shows",
        "reexam-plans-rebook",
        "his-fhir-pull",
        "his-xml-watch",
    } <= set(locks.REGISTERED)
    for app in ("notifications", "monitoring", "appointments", "his"):
        source = (ROOT / "health_f0" / app / "tasks.py").read_text()
        assert "lock_task" not in source, app


# --- The real worker, killed ---------------------------------------------------------------------------


def _worker_env(esms: EsmsStandIn, huey_name: str) -> dict[str, str]:
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or "3306"
    return {
        **os.environ,
        "DATABASE_URL": f"mysql://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}",
        "REDIS_URL": _redis_url(),
        "HUEY_NAME": huey_name,
        "HUEY_WORKERS": "1",
        "HUEY_SHUTDOWN_TIMEOUT": "3",
        "TASKS_EAGER": "0",
        "SMS_BACKEND": "esms",
        "ESMS_API_URL": esms.url,
        "ESMS_API_KEY": esms.api_key,
        "ESMS_SECRET_KEY": esms.secret_key,
        "ESMS_BRANDNAME": next(iter(esms.brandnames)),
        "ESMS_TIMEOUT": "30",
        "ESMS_CALLBACK_TOKEN": "",
        "SECRET_KEY": django_settings.SECRET_KEY,
        "LOG_LEVEL": "WARNING",
    }


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "run_huey"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _queue_sweep(env: dict[str, str]) -> None:
    """What the minute's scheduler does: put the sweep on the worker's queue (here, without the wait)."""
    code = "from health_f0.notifications.services import queue_due_sending; queue_due_sending()"
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, timeout=120
    )


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _statuses(*messages: OutboxMessage) -> list[str]:
    return [OutboxMessage.objects.get(pk=m.pk).status for m in messages]


@pytest.fixture
def worker_lab(esms: EsmsStandIn, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A Redis queue of its own and the processes started on it, killed (only those) at the end."""
    import redis

    huey_name = f"hf0-faults-{uuid.uuid4().hex[:8]}"
    lab: dict[str, Any] = {
        "env": _worker_env(esms, huey_name),
        "log": tmp_path / "run_huey.log",
        "leases": RedisLeases(redis.Redis.from_url(_redis_url()), huey_name),
        "procs": [],
    }
    yield lab
    for proc in lab["procs"]:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    conn = redis.Redis.from_url(_redis_url())
    for pattern in (f"*{huey_name}*", f"*{huey_name.replace('-', '')}*"):  # huey drops the dashes
        for key in conn.scan_iter(pattern):
            conn.delete(key)


@pytest.mark.django_db(transaction=True)
def test_run_huey_killed_mid_sweep_then_restarted_sends_what_is_due(
    esms: EsmsStandIn, worker_lab: dict[str, Any]
) -> None:
    env, log = worker_lab["env"], worker_lab["log"]
    esms.accept_repeats = True  # exactly-once must hold without the gateway's help
    esms.hang_seconds = 120
    esms.down("slow")  # the first send is taken but answered late: the sweep is caught mid-call
    first, second, third = (
        OutboxMessage.objects.create(
            kind="generic", to=f"+8491234567{i}", body=f"Nhac lich {i}", next_attempt_at=timezone.now()
        )
        for i in range(3)
    )
    killed = _start_worker(env, log)  # a starting worker sweeps at once
    worker_lab["procs"].append(killed)
    _wait_for(lambda: len(esms.requests) == 1, "the first worker's sweep to reach the gateway")
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(30)
    assert worker_lab["leases"].peek("outbox-sweep") is not None  # left behind by the killed sweep
    assert _statuses(first, second, third) == ["sending", "queued", "queued"]

    esms.up()
    restarted = _start_worker(env, log)  # no --flush-locks, no wait for the next minute
    worker_lab["procs"].append(restarted)
    _wait_for(
        lambda: _statuses(second, third) == ["sent", "sent"],
        f"the restarted worker to send what is due\n{log.read_text(errors='replace')[-3000:]}",
    )
    assert _statuses(first) == ["sending"]  # in doubt: not resent before eSMS is asked

    OutboxMessage.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    _queue_sweep(env)
    _wait_for(lambda: _statuses(first) == ["sent"], "the attempt in doubt to be settled")
    assert sorted(m.phone for m in esms.messages) == ["0912345670", "0912345671", "0912345672"]

    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(60) is not None


@pytest.mark.django_db(transaction=True)
def test_run_huey_stopped_by_sigterm_mid_sweep_releases_its_lock(
    esms: EsmsStandIn, worker_lab: dict[str, Any]
) -> None:
    """systemd's stop: the sweep may finish within HUEY_SHUTDOWN_TIMEOUT; here it cannot (the gateway
    hangs), the consumer exits anyway, and its lock goes with it."""
    env, log = worker_lab["env"], worker_lab["log"]
    esms.hang_seconds = 120
    esms.down("slow")
    OutboxMessage.objects.create(kind="generic", to=PHONE, body="Nhac lich", next_attempt_at=timezone.now())
    worker = _start_worker(env, log)
    worker_lab["procs"].append(worker)
    _wait_for(lambda: len(esms.requests) == 1, "the sweep to reach the gateway")
    assert worker_lab["leases"].peek("outbox-sweep") is not None
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.wait(60) is not None
    assert worker_lab["leases"].peek("outbox-sweep") is None, log.read_text(errors="replace")[-3000:]


# --- The outbox's age: desk and administrators ---------------------------------------------------------


def _age(message: OutboxMessage, minutes: int) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))


@pytest.fixture
def administrators(demo: Any, persona: Any) -> dict[str, Any]:
    """The province's administrator (the demo superuser, given a phone), a TTYT administrator with a phone,
    and a station head without one."""
    admin = persona("admin")
    admin.phone = "+84901000001"
    admin.save(update_fields=["phone"])
    ttyt = Facility.objects.exclude(kind=FacilityKind.DEPARTMENT_OF_HEALTH).order_by("path").first()
    local = type(admin).objects.create(username="qt.ttyt", phone="+84901000002", is_staff=True)
    Membership.objects.create(user=local, facility=ttyt, role=Role.ADMINISTRATOR)
    return {"province": admin, "local": local}


def _alert_texts() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(kind=MessageKind.STAFF_ALERT).order_by("pk"))


@pytest.mark.django_db
def test_old_backlog_texts_the_province_administrators_once_then_clears(
    administrators: dict[str, Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.OUTBOX_ALERT_MINUTES = 10
    assert outbox_age_check() == "ok"
    stuck = OutboxMessage.objects.create(
        kind="reminder", to=PHONE, body="Nhac khai bao", next_attempt_at=timezone.now()
    )
    _age(stuck, 9)
    assert outbox_age_check() == "ok"

    _age(stuck, 11)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_age_check() == "raised"
    texts = _alert_texts()
    assert sorted(t.to for t in texts) == sorted(u.phone for u in administrators.values())
    assert all("tin cho lau nhat 11 phut" in t.body for t in texts)
    assert all(t.status == MessageStatus.SENT for t in texts)  # their own jobs, not behind the stuck backlog
    alert = OutboxAlert.objects.get()
    assert alert.cleared_at is None and alert.administrators_notified == 2 and alert.waiting_count == 1
    [raised] = AuditLog.objects.filter(verb="outbox_alert_raise", target_id=str(alert.pk))
    assert raised.action == AuditLog.Action.ALERT
    assert raised.facility is not None and raised.facility.kind == FacilityKind.DEPARTMENT_OF_HEALTH

    _age(stuck, 14)
    for _ in range(3):  # every minute's check while it lasts: nobody is texted again
        assert outbox_age_check() == "open"
    assert len(_alert_texts()) == 2
    alert.refresh_from_db()
    assert alert.peak_age_minutes == 14

    OutboxMessage.objects.filter(pk=stuck.pk).update(status=MessageStatus.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_age_check() == "cleared"
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    assert AuditLog.objects.filter(verb="outbox_alert_clear", target_id=str(alert.pk)).count() == 1
    assert "tro lai binh thuong" in _alert_texts()[-1].body and len(_alert_texts()) == 4
    assert outbox_age_check() == "ok"


def _backlog_box(page: str) -> str:
    match = re.search(r'<div[^>]*data-testid="outbox-backlog"[^>]*>(.*?)</div>', page, re.S)
    assert match, "no backlog box on the outbox list"
    return " ".join(match.group(1).split())


@pytest.mark.django_db
def test_desk_shows_the_oldest_waiting_message_and_its_age(
    administrators: dict[str, Any],
    settings: Any,
    client: Any,
    persona: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.OUTBOX_ALERT_MINUTES = 10
    station = Facility.objects.filter(kind=FacilityKind.STATION).order_by("path").first()
    stuck = OutboxMessage.objects.create(
        kind="reminder", to=PHONE, body="Nhac khai bao", facility=station, next_attempt_at=timezone.now()
    )
    _age(stuck, 25)
    OutboxMessage.objects.create(
        kind="generic", to=PHONE, body="x", facility=station, next_attempt_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_age_check() == "raised"  # the administrator's text is sent at once

    client.force_login(administrators["province"])
    page = client.get("/desk/notifications/outboxmessage/").content.decode()
    box = _backlog_box(page)
    assert "Tin chờ gửi lâu nhất đã chờ 25 phút · 2 tin đang chờ gửi" in box
    assert f"/desk/notifications/outboxmessage/{stuck.pk}/change/" in box
    assert "Nhắc khai báo — tạo lúc" in box
    assert "Quá ngưỡng cảnh báo 10 phút" in box and "Đã báo 2 quản trị viên lúc" in box
    # Every desk page of an administrator carries the alert while it is open.
    assert "SMS chậm: tin chờ lâu nhất 25 phút" in page

    client.force_login(persona("thanhdong.nv"))
    page = client.get("/desk/notifications/outboxmessage/").content.decode()
    assert "SMS chậm" not in page  # station staff are not the ones to act on it


def test_holder_of_this_machine_alive_is_never_declared_dead() -> None:
    me = Holder.me()
    assert not me.is_dead_here()
    assert me.host == socket.gethostname()
    assert not Holder.decode(_holder_elsewhere()).is_dead_here()  # type: ignore[union-attr]
    assert Holder.decode(_dead_holder()).is_dead_here()  # type: ignore[union-attr]


@pytest.mark.django_db
def test_worker_health_reports_outbox_age_queue_and_locks(monkeypatch: Any, settings: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    settings.OUTBOX_ALERT_MINUTES = 10
    leases = MemoryLeases()
    monkeypatch.setattr(locks, "get_backend", lambda: leases)

    out = StringIO()
    call_command("worker_health", stdout=out)  # all well: exit status 0
    assert "outbox: nothing waiting" in out.getvalue() and "lock outbox-sweep: free" in out.getvalue()

    leases.acquire("outbox-sweep", _dead_holder(), 600_000)
    out = StringIO()
    with pytest.raises(SystemExit) as stale:
        call_command("worker_health", stdout=out)
    assert (
        stale.value.code == 1
        and "lock outbox-sweep: held" in out.getvalue()
        and "HOLDER GONE" in out.getvalue()
    )

    stuck = OutboxMessage.objects.create(kind="reminder", to=PHONE, body="x", next_attempt_at=timezone.now())
    _age(stuck, 12)
    out = StringIO()
    with pytest.raises(SystemExit) as too_old:
        call_command("worker_health", "--json", stdout=out)
    assert too_old.value.code == 2
    report = __import__("json").loads(out.getvalue())
    assert report["outbox"] == {
        "waiting": 1,
        "in_doubt": 0,
        "oldest_age_minutes": 12,
        "oldest_id": stuck.pk,
        "limit_minutes": 10,
    }
    assert report["locks"]["outbox-sweep"]["holder_dead"] is True
    assert set(report["queue"]) == {"pending", "scheduled"}
