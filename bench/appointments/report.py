"""Managers' appointment report benchmark: `reports.appointments_selectors.appointment_report` and the XLSX
export over a month, a quarter and a whole year, on the data of bench/appointments/generate.py (50 services,
500,000 bookings over the past year and the next 30 days), as the province's manager (the widest scope).

    DATABASE_URL=mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench_appt \
        .venv/bin/python bench/appointments/report.py --runs 5

Reported per period: median / max wall time of the selector and of the export, the number of queries and the
slowest query with MariaDB's EXPLAIN. Results go to bench/out/appointments-report.json.
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
from _django import OUT, load_average, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--user", default="syt.lanhdao")
    args = parser.parse_args()
    setup()

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from health_f0.appointments.models import Appointment
    from health_f0.reports.appointments.selectors import appointment_report
    from health_f0.reports.appointments.services import appointment_report_export

    user = get_user_model().objects.get(username=args.user)
    today = timezone.localdate()
    print(f"{Appointment.objects.count()} bookings; as {args.user}; load {load_average()}")
    results = {}
    for label, days in (("month", 30), ("quarter", 91), ("year", 365)):
        date_from, date_to = today - timedelta(days=days - 1), today
        timings, export_timings = [], []
        slowest: tuple[float, str] = (0.0, "")
        queries = 0
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                appointment_report(user=user, date_from=date_from, date_to=date_to)
                timings.append((time.perf_counter() - started) * 1000)
            queries = len(captured.captured_queries)
            for q in captured.captured_queries:
                if float(q["time"]) * 1000 > slowest[0]:
                    slowest = (float(q["time"]) * 1000, q["sql"])
            started = time.perf_counter()
            appointment_report_export(user=user, date_from=date_from, date_to=date_to, facility_id=None)
            export_timings.append((time.perf_counter() - started) * 1000)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + slowest[1])
            explain = [list(map(str, row)) for row in cursor.fetchall()]
        results[label] = {
            "days": days,
            "selector_ms_median": round(statistics.median(timings), 1),
            "selector_ms_max": round(max(timings), 1),
            "export_ms_median": round(statistics.median(export_timings), 1),
            "queries": queries,
            "slowest_query_ms": round(slowest[0], 1),
            "slowest_query": slowest[1][:400],
            "explain": explain,
        }
        print(
            f"{label:8} selector {results[label]['selector_ms_median']:8.1f} ms (max {results[label]['selector_ms_max']:.1f}),"
            f" export {results[label]['export_ms_median']:8.1f} ms, {queries} queries,"
            f" slowest query {results[label]['slowest_query_ms']:.1f} ms"
        )
    results["load_average_after"] = load_average()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "appointments-report.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
