"""The desk's worklists at the largest station and TTYT (issue 11): server time, CPU, queries and bytes per page.

    DATABASE_URL=mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench100k \
    REDIS_URL=redis://127.0.0.1:6379/14 CACHE_PREFIX=hf0bench HUEY_NAME=hf0bench ALLOWED_HOSTS=testserver \
        .venv/bin/python bench/desk_worklists.py [--repeat 30] [--only board] [--profile board] [--explain]

In process, through Django's test client (the whole stack: middleware, the desk's view, unfold's templates), as
the staff member who works each page at the largest station and its TTYT (bench/out/largest.json, written by
bench/generate.py; without it, the station and TTYT with most rows, found by a query). Each page is asked
`--warmup` times, then `--repeat` times: median and p95 wall ms, median CPU ms of this process
(time.process_time: view, templates, the client; not MariaDB's), queries and bytes of the response. The pages
write their audit rows (list views, HIS reads) like in production. --profile NAME runs that page under cProfile
(cumulative, top 40); --explain prints the slowest queries of the last request with MariaDB's EXPLAIN.
Writes bench/out/desk_worklists-<db>.json.

The pages link the hashed static names, as in production: the first time, collect them into this script's
VAR_DIR (var/bench-desk unless set):  VAR_DIR=var/bench-desk DATABASE_URL=... .venv/bin/python manage.py \
collectstatic --noinput
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, load_average, percentile, setup  # noqa: E402

APPOINTMENTS = "/desk/appointments/appointment/"
# name -> (who: a key of largest.json's people, path; {station} is the station's id)
PAGES: dict[str, tuple[str, str]] = {
    "registrations (station)": ("station_staff", "/desk/registration/registration/?status__exact=submitted"),
    "registrations (TTYT)": ("manager", "/desk/registration/registration/?status__exact=submitted"),
    "registrations all (station)": ("station_staff", "/desk/registration/registration/"),
    "board": ("station_staff", "/desk/monitoring/episode/board/?facility={station}"),
    "board silent list": ("station_staff", "/desk/monitoring/episode/chua-khai-bao/?facility={station}"),
    "booking worklist": ("booking_desk", APPOINTMENTS + "dat-lich/"),
    "reception search": ("reception", APPOINTMENTS + "tiep-don/?q=" + quote("Nguyễn")),
    "reception queue": ("reception", APPOINTMENTS + "hang-doi/"),
    "HIS link queue": ("his_linker", "/desk/his/hislinkrequest/hang-cho/"),
}


def people(largest: Path) -> tuple[Any, dict[str, Any]]:
    """The station and the users who work its pages: from largest.json, else found by a query."""
    from django.db.models import Count

    from health_f0.core.models import User
    from health_f0.facilities.models import Facility, Membership, Role
    from health_f0.monitoring.models import Episode, EpisodeStatus

    if largest.exists():
        data = json.loads(largest.read_text())
        station = Facility.objects.get(code=data["station"])
        staff = data.get("ttyt_staff", {})
        names = {
            "station_staff": data["station_staff"],
            "booking_desk": staff.get("booking_desk"),
            "reception": staff.get("reception"),
            "his_linker": staff.get("his_linker"),
            "manager": staff.get("manager"),
        }
        return station, {k: User.objects.filter(username=v).first() for k, v in names.items() if v}
    top = (
        Episode.objects.filter(status=EpisodeStatus.ACTIVE)
        .values("facility_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    assert top, "no active episodes: run bench/generate.py first"
    station = Facility.objects.get(pk=top["facility_id"])
    ttyt = station.parent
    roles = {
        "station_staff": (station, Role.STATION_STAFF),
        "booking_desk": (ttyt, Role.BOOKING_DESK),
        "reception": (ttyt, Role.RECEPTION),
        "his_linker": (ttyt, Role.HIS_LINKER),
        "manager": (ttyt, Role.MANAGER),
    }
    users = {}
    for key, (facility, role) in roles.items():
        member = Membership.objects.filter(facility=facility, role=role, is_active=True).first()
        if member is not None:
            users[key] = member.user
    return station, users


def rows_shown(response: Any) -> int | None:
    context = response.context
    if context is None:
        return None
    for key in ("rows", "cards", "results", "waiting", "cl"):
        try:
            value = context[key]
        except KeyError:
            continue
        return len(value.result_list) if key == "cl" else len(value)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", action="append", default=[], help="pages whose name contains this")
    parser.add_argument("--profile", default="", help="profile the page whose name contains this")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--largest", default=str(OUT / "largest.json"))
    args = parser.parse_args()
    os.environ.setdefault("VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench-desk"))
    if not (Path(os.environ["VAR_DIR"]) / "static" / "staticfiles.json").exists():
        sys.exit(
            f"No collected static files in {os.environ['VAR_DIR']}: run collectstatic (see the docstring)."
        )
    setup()

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment, teardown_test_environment

    settings.STAFF_2FA_REQUIRED = False  # force_login skips the second factor; the pages are what is timed
    db_name = settings.DATABASES["default"]["NAME"]
    station, users = people(Path(args.largest))
    clients: dict[str, Client] = {}
    results: dict[str, dict[str, Any]] = {}
    explain: list[str] = []
    for name, (who, raw_path) in PAGES.items():
        if args.only and not any(part in name for part in args.only):
            continue
        user = users.get(who)
        if user is None:
            print(f"skip {name}: no {who} user")
            continue
        if who not in clients:
            clients[who] = Client()
            clients[who].force_login(user)
        client = clients[who]
        path = raw_path.replace("{station}", str(station.pk))
        wall: list[float] = []
        cpu: list[float] = []
        for rep in range(args.warmup + args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(path)
            elapsed, spent = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
            assert response.status_code == 200, (name, path, response.status_code)
            if rep >= args.warmup:
                wall.append(elapsed)
                cpu.append(spent)
        # Once more, outside the timing: the queries, and the rows shown (the test client keeps the template
        # context only in Django's test environment, which instruments every template rendering).
        setup_test_environment()
        try:
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path)
        finally:
            teardown_test_environment()
        shown = rows_shown(response)
        db_ms = sum(float(q["time"]) for q in ctx.captured_queries) * 1000
        results[name] = {
            "user": user.username,
            "path": path,
            "median_ms": round(statistics.median(wall), 1),
            "p95_ms": round(percentile(wall, 95), 1),
            "cpu_median_ms": round(statistics.median(cpu), 1),
            "db_ms_last": round(db_ms, 1),
            "queries": len(ctx.captured_queries),
            "bytes": len(response.content),
            "rows_shown": shown,
        }
        if args.explain:
            explain.append(f"## {name}: {path} as {user.username}")
            for q in sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:6]:
                explain.append(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][:400]}")
                if q["sql"].lstrip().upper().startswith("SELECT"):
                    with connection.cursor() as cur:
                        cur.execute("EXPLAIN " + q["sql"])
                        cols = [c[0] for c in cur.description]
                        for row in cur.fetchall():
                            d = dict(zip(cols, row, strict=True))
                            explain.append(
                                f"      table={d['table']} type={d['type']} key={d['key']} rows={d['rows']} "
                                f"extra={d['Extra']}"
                            )
        if args.profile and args.profile in name:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.repeat):
                client.get(path)
            profiler.disable()
            print(f"== cProfile of {name}, {args.repeat} requests")
            stats = pstats.Stats(profiler).sort_stats("cumulative")
            stats.print_stats(40)
            stats.print_stats("health_f0|unfold|forms", 40)  # the project's and the theme's own frames
            dump = OUT / f"desk_profile-{db_name}-{name.replace(' ', '_')}.pstats"
            stats.dump_stats(dump)
            print(f"(pstats written to {dump}: callers and callees with python -m pstats)")

    report = {
        "database": db_name,
        "station": station.code,
        "ttyt": station.parent.code if station.parent else None,
        "repeat": args.repeat,
        "load_average_after": load_average(),
        "results": results,
    }
    (OUT / f"desk_worklists-{db_name}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    if explain:
        print("\n".join(explain))
    print(f"{db_name}: station {station.code}, TTYT {report['ttyt']}; load {load_average()}")
    print("| page | user | median ms | p95 ms | CPU ms | DB ms | queries | bytes | rows |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['user']} | {r['median_ms']} | {r['p95_ms']} | {r['cpu_median_ms']} | "
            f"{r['db_ms_last']} | {r['queries']} | {r['bytes']} | {r['rows_shown']} |"
        )


if __name__ == "__main__":
    main()
