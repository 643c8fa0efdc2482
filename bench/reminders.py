"""Reminder fan-out for a whole province: every silent patient gets a ReminderLog row and an SMS queued in
the outbox. Times monitoring.reminders.reminder_sms_fanout until all rows are committed.

    DATABASE_URL=mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench \
        .venv/bin/python bench/reminders.py --repeat 3 [--profile]

Between repetitions the rows it made (today's sms_1 logs, reminder SMS) are deleted, so every run queues
the same number. --profile prints the top functions (cProfile) of the last run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, load_average, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--province", type=int, default=31)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--all-silent",
        action="store_true",
        help="first mark every active episode as last declared yesterday (undo the load test's declarations)",
    )
    args = parser.parse_args()
    setup()

    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from health_f0.monitoring.models import ReminderLog
    from health_f0.monitoring.reminders import reminder_sms_fanout
    from health_f0.notifications.models import MessageKind, OutboxMessage

    db_name = settings.DATABASES["default"]["NAME"]

    def clean() -> None:
        today = timezone.localdate()
        ReminderLog.objects.filter(local_date=today, kind=ReminderLog.Kind.SMS_1).delete()
        with connection.cursor() as cur:
            cur.execute("DELETE FROM notifications_outboxmessage WHERE kind = %s", [MessageKind.REMINDER])

    if args.all_silent:
        from datetime import timedelta

        from health_f0.monitoring.models import Episode

        yesterday = timezone.localdate() - timedelta(days=1)
        Episode.objects.filter(last_declared_on__gte=yesterday).update(last_declared_on=yesterday)
    runs = []
    for rep in range(args.repeat):
        clean()
        profiler = None
        if args.profile and rep == args.repeat - 1:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        load_before = load_average()
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            result = reminder_sms_fanout(kind=ReminderLog.Kind.SMS_1, province_code=args.province)
            elapsed = time.perf_counter() - t0
        if profiler:
            profiler.disable()
        queued = OutboxMessage.objects.filter(kind=MessageKind.REMINDER).count()
        runs.append(
            {
                "seconds": round(elapsed, 2),
                "queued": result.queued,
                "outbox_rows": queued,
                "queries": len(ctx.captured_queries),
                "load_before": load_before,
            }
        )
        print(
            f"run {rep + 1}: {result.queued} queued ({queued} outbox rows) in {elapsed:.2f} s, "
            f"{len(ctx.captured_queries)} queries, load before {load_before}",
            flush=True,
        )
        if profiler:
            import pstats

            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    clean()
    median = statistics.median(r["seconds"] for r in runs)
    report = {
        "database": db_name,
        "runs": runs,
        "median_seconds": median,
        "rows_per_second": round(runs[0]["queued"] / median) if median else None,
    }
    (OUT / f"reminders-{db_name}.json").write_text(json.dumps(report, indent=1))
    print(f"median {median:.2f} s for {runs[0]['queued']} reminders ({report['rows_per_second']} rows/s)")


if __name__ == "__main__":
    main()
