"""Race benchmark: N clients (default 200) book one slot of capacity 5 at the same moment. Exactly 5 must
succeed, every other one must be refused as full (HTTP 409 / Conflict "slot_full"), nothing may fail
otherwise (no 5xx), and the slot counter and the bookings must agree afterwards.

Two modes, on the data of bench/appointments/generate.py (any bench database works: the script adds what
it needs — a fresh capacity-5 service at PK-NOI1 with the demo week, N patients with accounts and API
tokens, one per client):

  http     gunicorn with --workers (default 2) on the database; N threads, each with its own patient's
           bearer token, wait at a barrier and then POST the booking at once. The URL and the JSON body are
           arguments, so the harness does not depend on the API's exact shape:
             --path /api/v1/appointments --body '{"service": "{service}", "slot": "{slot}", "patient": "{patient}"}'
           placeholders: {slot} the slot's id as the slots endpoint gives it (--slot-format: "iso" start
           time, or "service:iso"), {service} the service's public id, {slot_start} ISO start (UTC),
           {patient} the patient's public id.
  service  no HTTP: N processes (fork after Django set-up; each opens its own database connection) wait at
           a multiprocessing barrier, then each calls appointments.services.appointment_book for its own
           patient (channel "app", actor = the patient's account) on the same slot. This exercises the same
           row-lock guarantee across processes that the API relies on.

    DATABASE_URL=mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench_appt \
        .venv/bin/python bench/appointments/race.py --mode service
    ... race.py --mode http --workers 2

Results: bench/out/appointments-race-<mode>.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from _django import OUT, load_average, setup  # noqa: E402

CAPACITY = 5


def prepare(clients: int, label: str) -> dict[str, Any]:
    """A fresh service with capacity 5, its first slot two days ahead, and `clients` patients with
    accounts and raw API tokens."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from health_f0.api.models import ApiToken, hash_token
    from health_f0.appointments.models import ScheduleTemplate, Service
    from health_f0.appointments.selectors import slots_free
    from health_f0.facilities.models import Facility
    from health_f0.patients.models import Patient

    call_command("migrate", verbosity=0)  # the bench database may predate the latest migrations
    room = Facility.objects.get(code="PK-NOI1")
    template = Service.objects.get(code="kham-noi")
    with transaction.atomic():
        service = Service.objects.create(
            facility=room,
            code=f"race-{label}"[:32],
            name="Khám Nội (race)",
            short_name="Kham Noi",
            duration_minutes=15,
            capacity_per_slot=CAPACITY,
            requires_confirmation=True,
        )
        ScheduleTemplate.objects.bulk_create(
            ScheduleTemplate(service=service, weekday=t.weekday, start_time=t.start_time, end_time=t.end_time)
            for t in ScheduleTemplate.objects.filter(service=template)
        )
    day = timezone.localdate() + timedelta(days=2)
    slot = next(s for s in slots_free(service=service, start=day, end=day + timedelta(days=7)) if s.free)
    user_model = get_user_model()
    stamp = label[-6:]
    users = user_model.objects.bulk_create(
        user_model(username=f"race{stamp}{i:04d}", password="!", phone=f"+8471{stamp[-3:]}{i:04d}")
        for i in range(clients)
    )
    users = list(user_model.objects.filter(username__startswith=f"race{stamp}").order_by("username"))
    station = Facility.objects.get(code="TYT-10510")
    Patient.objects.bulk_create(
        Patient(
            full_name=f"Người đặt lịch {i}",
            date_of_birth="1970-01-01",
            sex="male",
            phone=user.phone,
            province_code=31,
            ward_code=10510,
            facility=station,
            account=user,
        )
        for i, user in enumerate(users)
    )
    patients = {p.account_id: p for p in Patient.objects.filter(account__in=users)}
    raws = []
    tokens = []
    for user in users:
        raw = ApiToken.new_raw()
        raws.append(raw)
        tokens.append(
            ApiToken(
                user=user,
                key_hash=hash_token(raw),
                prefix=raw[:8],
                expires_at=timezone.now() + timedelta(days=1),
            )
        )
    ApiToken.objects.bulk_create(tokens)
    return {
        "service_id": service.pk,
        "service_public_id": str(service.public_id),
        "slot_start": slot.start.isoformat(),
        "clients": [
            {
                "user_id": u.pk,
                "patient_id": patients[u.pk].pk,
                "patient": str(patients[u.pk].public_id),
                "token": r,
            }
            for u, r in zip(users, raws, strict=True)
        ],
    }


def check(data: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime

    from health_f0.appointments.models import Appointment, SlotCounter

    start = datetime.fromisoformat(data["slot_start"])
    booked = Appointment.objects.filter(service_id=data["service_id"], slot_start=start).count()
    counter = SlotCounter.objects.filter(service_id=data["service_id"], slot_start=start).first()
    return {"bookings_in_slot": booked, "slot_counter_booked": counter.booked if counter else 0}


# --- service mode ------------------------------------------------------------------------------------


def _book_in_process(barrier: Any, queue: Any, data: dict[str, Any], client: dict[str, Any]) -> None:
    from datetime import datetime

    from django.contrib.auth import get_user_model
    from django.db import connection

    from health_f0.appointments import services
    from health_f0.appointments.models import Service
    from health_f0.core.exceptions import DomainError
    from health_f0.patients.models import Patient

    connection.close()  # never share the parent's socket: open our own
    try:
        service = Service.objects.select_related("facility").get(pk=data["service_id"])
        patient = Patient.objects.get(pk=client["patient_id"])
        user = get_user_model().objects.get(pk=client["user_id"])
        start = datetime.fromisoformat(data["slot_start"])
        barrier.wait(timeout=120)
        began = time.perf_counter()
        try:
            services.appointment_book(
                patient=patient, service=service, slot_start=start, channel="app", actor=user
            )
            outcome = "201"
        except DomainError as exc:
            outcome = f"{exc.code}"
        except Exception as exc:  # noqa: BLE001 - reported as a server error
            outcome = f"error:{type(exc).__name__}:{exc}"
        queue.put((outcome, (time.perf_counter() - began) * 1000))
    finally:
        connection.close()


def run_service_mode(data: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    connection.close()
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(data["clients"]))
    queue = ctx.Queue()
    processes = [
        ctx.Process(target=_book_in_process, args=(barrier, queue, data, client))
        for client in data["clients"]
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    results = [queue.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(60)
    wall = (time.perf_counter() - started) * 1000
    outcomes = Counter(outcome for outcome, _ in results)
    latencies = sorted(ms for _, ms in results)
    return {
        "outcomes": dict(outcomes),
        "succeeded": outcomes.get("201", 0),
        "refused_full": outcomes.get("slot_full", 0),
        "errors": sum(n for k, n in outcomes.items() if k.startswith("error")),
        "latency_ms_median": round(latencies[len(latencies) // 2], 1),
        "latency_ms_max": round(latencies[-1], 1),
        "wall_ms_including_process_start": round(wall),
    }


# --- http mode ---------------------------------------------------------------------------------------


def run_http_mode(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    env = dict(
        os.environ,
        DEBUG="0",
        TASKS_EAGER="0",
        SMS_BACKEND="file",
        LOG_LEVEL="WARNING",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret-key-not-for-production-0123456789abcdef"),
    )
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "health_f0.wsgi:application",
        "--bind",
        f"127.0.0.1:{args.port}",
        "--workers",
        str(args.workers),
        "--backlog",
        "512",
        "--timeout",
        "120",
        "--log-level",
        "warning",
    ]
    log = open(OUT / "gunicorn-appointments-race.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(cmd, cwd=ROOT, stderr=log, env=env)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/api/v1/provinces", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.2)
        slot_id = (
            data["slot_start"]
            if args.slot_format == "iso"
            else f"{data['service_public_id']}:{data['slot_start']}"
        )
        barrier = threading.Barrier(len(data["clients"]))
        results: list[tuple[int, str, float]] = [(0, "", 0.0)] * len(data["clients"])

        def client(index: int, spec: dict[str, Any]) -> None:
            body = args.body
            for key, value in (
                ("{slot}", slot_id),
                ("{service}", data["service_public_id"]),
                ("{slot_start}", data["slot_start"]),
                ("{patient}", spec["patient"]),
            ):
                body = body.replace(key, value)
            request = urllib.request.Request(
                base + args.path,
                data=body.encode(),
                method="POST",
                headers={"Authorization": f"Bearer {spec['token']}", "Content-Type": "application/json"},
            )
            barrier.wait(timeout=60)
            began = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    results[index] = (response.status, response.read()[:300].decode(), 0.0)
            except urllib.error.HTTPError as exc:
                results[index] = (exc.code, exc.read()[:300].decode(errors="replace"), 0.0)
            except OSError as exc:
                results[index] = (-1, repr(exc), 0.0)
            results[index] = (results[index][0], results[index][1], (time.perf_counter() - began) * 1000)

        threads = [threading.Thread(target=client, args=(i, c)) for i, c in enumerate(data["clients"])]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        wall = (time.perf_counter() - started) * 1000
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    codes = Counter(code for code, _, _ in results)
    latencies = sorted(ms for _, _, ms in results)
    samples = {str(code): body for code, body, _ in results}
    return {
        "path": args.path,
        "workers": args.workers,
        "status_codes": {str(k): v for k, v in sorted(codes.items())},
        "succeeded": codes.get(201, 0),
        "refused_full": codes.get(409, 0),
        "server_errors": sum(n for code, n in codes.items() if code >= 500 or code < 0),
        "sample_bodies": samples,
        "latency_ms_median": round(latencies[len(latencies) // 2], 1),
        "latency_ms_max": round(latencies[-1], 1),
        "wall_ms": round(wall),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["http", "service"], default="http")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--path", default="/api/v1/appointments")
    parser.add_argument(
        "--body", default='{"service": "{service}", "slot": "{slot}", "patient": "{patient}"}'
    )
    parser.add_argument("--slot-format", choices=["iso", "service:iso"], default="iso")
    args = parser.parse_args()
    setup()
    label = time.strftime("%H%M%S")
    data = prepare(args.clients, label)
    result = run_service_mode(data) if args.mode == "service" else run_http_mode(data, args)
    from django.db import connection

    connection.close()
    result.update(check(data))
    ok = (
        result["succeeded"] == CAPACITY
        and result["refused_full"] == args.clients - CAPACITY
        and result["bookings_in_slot"] == CAPACITY
        and result["slot_counter_booked"] == CAPACITY
    )
    summary = {
        "mode": args.mode,
        "clients": args.clients,
        "capacity": CAPACITY,
        "slot_start": data["slot_start"],
        **result,
        "passed": ok,
        "machine": f"{os.cpu_count()} cores, load {load_average()}",
    }
    (OUT / f"appointments-race-{args.mode}.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False)
    )
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
