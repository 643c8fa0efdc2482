"""Free-slot search benchmark: `appointments.selectors.slots_free` for one service over the next 30 days, on
the data of bench/appointments/generate.py (50 services, 500,000 past and future bookings).

    DATABASE_URL=mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench_appt \
        .venv/bin/python bench/appointments/slot_search.py --runs 300

Server time = wall time of what the API endpoint does for the search, in process: read the service by its
public id, then slots_free(service, today, today + 29) as a patient (minimum notice and horizon applied).
Reported: median / p95 / max over --runs runs on the busiest service (after --warmup runs), the same over
one run of every service, the number of queries, the slots and free places returned, and MariaDB's EXPLAIN
of each query. Results go to bench/out/appointments-slot-search.json. Target: < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _django import OUT, load_average, percentile, setup  # noqa: E402

TARGET_MS = 100.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    setup()

    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from health_f0.appointments.models import Appointment, Service, SlotCounter
    from health_f0.appointments.selectors import slots_free

    today = timezone.localdate()
    end = today + timedelta(days=args.days - 1)
    bookings = Appointment.objects.count()
    counters = SlotCounter.objects.count()
    services = Service.objects.count()
    busiest_id = (
        Appointment.objects.values("service_id").annotate(n=Count("id")).order_by("-n")[0]["service_id"]
    )
    busiest = Service.objects.get(pk=busiest_id)
    print(f"{services} services, {bookings} bookings, {counters} slot counters; service {busiest.code}")

    def search(public_id: object) -> list:
        service = Service.objects.select_related("facility").get(public_id=public_id)
        return slots_free(service=service, start=today, end=end)

    for _ in range(args.warmup):
        search(busiest.public_id)
    with CaptureQueriesContext(connection) as captured:
        result = search(busiest.public_id)
    queries = [q["sql"] for q in captured.captured_queries]
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        search(busiest.public_id)
        timings.append((time.perf_counter() - started) * 1000)
    every = []
    for service in Service.objects.all():
        started = time.perf_counter()
        search(service.public_id)
        every.append((time.perf_counter() - started) * 1000)

    explains = []
    with connection.cursor() as cursor:
        for sql in queries:
            cursor.execute("EXPLAIN " + sql)
            columns = [c[0] for c in cursor.description]
            explains.append(
                {"sql": sql, "plan": [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]}
            )

    figures = {
        "database": connection.settings_dict["NAME"],
        "services": services,
        "bookings": bookings,
        "slot_counters": counters,
        "service": busiest.code,
        "service_bookings": Appointment.objects.filter(service=busiest).count(),
        "range": [today.isoformat(), end.isoformat()],
        "slots_returned": len(result),
        "free_places": sum(s.free for s in result),
        "queries": len(queries),
        "runs": args.runs,
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 95), 2),
        "max_ms": round(max(timings), 2),
        "all_services_median_ms": round(statistics.median(every), 2),
        "all_services_p95_ms": round(percentile(every, 95), 2),
        "all_services_max_ms": round(max(every), 2),
        "target_ms": TARGET_MS,
        "load_average": load_average(),
    }
    figures["meets_target"] = figures["p95_ms"] < TARGET_MS and figures["all_services_max_ms"] < TARGET_MS
    (OUT / "appointments-slot-search.json").write_text(
        json.dumps({**figures, "explain": explains}, indent=2, default=str, ensure_ascii=False)
    )
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    for item in explains:
        print(item["sql"][:160])
        for row in item["plan"]:
            print("   ", {k: row[k] for k in ("table", "type", "key", "rows", "Extra") if k in row})


if __name__ == "__main__":
    main()
