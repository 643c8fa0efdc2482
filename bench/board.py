"""Server time and query count of the monitoring board and the silent list for ONE station.

    DATABASE_URL=mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench \
        .venv/bin/python bench/board.py --repeat 30 [--station TYT-xxxxx] [--desk-url /desk/...]

Calls the selectors (health_f0/monitoring/selectors.py) as the station's staff user, the way a page does:
board_summary; the first page of 50 of board_episodes and of silent_episodes (rows fetched, patient
joined) plus their counts for the paginator. Each repetition uses a freshly loaded user (no warm access
cache), so the membership lookup is included. Reports median/p95 ms and the query count; writes the
EXPLAIN of every query to bench/out/explain-<db>-<station>.txt. Optionally times a desk page through the
Django test client (logged in as the same user).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, load_average, percentile, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--station", help="station code (default: the station with most active episodes)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--desk-url",
        action="append",
        default=[],
        help="desk page(s) to time, e.g. "
        "/desk/monitoring/board/ ({station_id} is replaced by the station's id)",
    )
    args = parser.parse_args()
    setup()

    from django.conf import settings
    from django.core.paginator import Paginator
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from health_f0.core.models import User
    from health_f0.facilities.models import Facility, Membership, Role
    from health_f0.monitoring import selectors
    from health_f0.monitoring.models import Declaration, Episode, EpisodeStatus

    db_name = settings.DATABASES["default"]["NAME"]
    if args.station:
        station = Facility.objects.get(code=args.station)
    else:
        top = (
            Episode.objects.filter(status=EpisodeStatus.ACTIVE)
            .values("facility_id")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
        assert top, "no active episodes: run bench/generate.py first"
        station = Facility.objects.get(pk=top["facility_id"])
    staff_id = (
        Membership.objects.filter(facility=station, role=Role.STATION_STAFF, is_active=True)
        .values_list("user_id", flat=True)
        .first()
    )
    today = timezone.localdate()
    province = {
        "active_episodes": Episode.objects.filter(status=EpisodeStatus.ACTIVE).count(),
        "declarations": Declaration.objects.count(),
    }
    station_active = Episode.objects.filter(facility=station, status=EpisodeStatus.ACTIVE).count()

    def summary(user: Any) -> Any:
        return selectors.board_summary(user=user, facility=station, today=today)

    def board_page(user: Any) -> Any:
        qs = selectors.board_episodes(user=user, facility=station, today=today)
        return qs.count(), [(e.pk, e.patient.full_name) for e in qs[:50]]

    def silent_page(user: Any) -> Any:
        qs = selectors.silent_episodes(user=user, facility=station, today=today)
        return qs.count(), [(e.pk, e.patient.full_name) for e in qs[:50]]

    def board_filtered(user: Any) -> Any:
        f = selectors.BoardFilters(alert_level="urgent", age_min=18)
        qs = selectors.board_episodes(user=user, facility=station, today=today, filters=f)
        return qs.count(), [(e.pk, e.patient.full_name) for e in qs[:50]]

    def board_pages(user: Any) -> Any:
        pages = Paginator(selectors.board_pages(user=user, facility=station, today=today), 50)
        return pages.count, [(e.pk, e.patient.full_name) for e in pages.page(1).object_list]

    def silent_pages(user: Any) -> Any:
        pages = Paginator(selectors.silent_pages(user=user, facility=station, today=today), 50)
        return pages.count, [(e.pk, e.patient.full_name) for e in pages.page(1).object_list]

    cases = {
        "board_summary": summary,
        "board_episodes (count + first 50)": board_page,
        "board_pages (the desk's paginator, page 1)": board_pages,
        "silent_pages (the desk's paginator, page 1)": silent_pages,
        "board_episodes filtered urgent, adults (count + first 50)": board_filtered,
        "silent_episodes (count + first 50)": silent_page,
    }
    results: dict[str, dict[str, Any]] = {}
    explain_lines = []
    for name, func in cases.items():
        times, queries = [], 0
        for rep in range(args.warmup + args.repeat):
            user = User.objects.get(pk=staff_id)
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                func(user)
                elapsed = (time.perf_counter() - t0) * 1000
            if rep >= args.warmup:
                times.append(elapsed)
                queries = len(ctx.captured_queries)
        results[name] = _stats(times, queries)
        explain_lines.append(f"## {name}")
        for q in ctx.captured_queries:
            explain_lines.append(q["sql"])
            with connection.cursor() as cur:
                cur.execute("EXPLAIN " + q["sql"])
                cols = [c[0] for c in cur.description]
                for row in cur.fetchall():
                    d = dict(zip(cols, row, strict=True))
                    explain_lines.append(
                        f"   table={d['table']} type={d['type']} key={d['key']} rows={d['rows']} "
                        f"extra={d['Extra']}"
                    )
            explain_lines.append("")

    if args.desk_url:
        from django.test import Client

        client = Client()
        client.force_login(User.objects.get(pk=staff_id))
        for raw_url in args.desk_url:
            url = raw_url.replace("{station_id}", str(station.pk))
            times, cpu, queries, status, size = [], [], 0, 0, 0
            for rep in range(args.warmup + args.repeat):
                with CaptureQueriesContext(connection) as ctx:
                    t0, c0 = time.perf_counter(), time.process_time()
                    response = client.get(url)
                    elapsed = (time.perf_counter() - t0) * 1000
                    spent = (time.process_time() - c0) * 1000
                status, size = response.status_code, len(response.content)
                if rep >= args.warmup:
                    times.append(elapsed)
                    cpu.append(spent)
                    queries = len(ctx.captured_queries)
            # The page's own CPU (this process: view, template, test client) holds better than wall time
            # on a shared machine; the page size shows what the template produced.
            results[f"desk GET {url} (HTTP {status})"] = {
                **_stats(times, queries),
                "cpu_median_ms": round(statistics.median(cpu), 2),
                "bytes": size,
            }
            explain_lines.append(f"## desk GET {url}: queries of the last request, slowest first")
            for q in sorted(ctx.captured_queries, key=lambda q: -float(q["time"])):
                explain_lines.append(f"   {float(q['time']) * 1000:7.1f} ms  {q['sql'][:300]}")
            explain_lines.append("")

    report = {
        "database": db_name,
        "station": station.code,
        "station_active_episodes": station_active,
        **province,
        "repeat": args.repeat,
        "load_average_after": load_average(),
        "results": results,
    }
    (OUT / f"board-{db_name}-{station.code}.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False)
    )
    (OUT / f"explain-{db_name}-{station.code}.txt").write_text("\n".join(explain_lines))
    print(
        f"{db_name}: province {province['active_episodes']} active episodes, {province['declarations']} "
        f"declarations; station {station.code} with {station_active} active; load {load_average()}"
    )
    print(f"| {'what':58} | median ms | p95 ms | queries | CPU ms | bytes |")
    print(f"|{'-' * 60}|-----------|--------|---------|--------|-------|")
    for name, r in results.items():
        extra = f" {r['cpu_median_ms']:6.1f} | {r['bytes']:5d} |" if "bytes" in r else "        |       |"
        print(f"| {name:58} | {r['median_ms']:9.1f} | {r['p95_ms']:6.1f} | {r['queries']:7d} |{extra}")


def _stats(times: list[float], queries: int) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 95), 2),
        "min_ms": round(min(times), 2),
        "queries": queries,
    }


if __name__ == "__main__":
    main()
