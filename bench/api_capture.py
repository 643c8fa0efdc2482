"""Capture the staff lists' API answers for bench staff, and compare two captures (issue 11: making a list cheaper
must not change one byte of its JSON). Run it from the checkout whose code answers (it imports the health_f0 of
the current directory), so one copy of this script captures the base commit and the work alike:

    <bench env> ALLOWED_HOSTS=testserver .venv/bin/python bench/api_capture.py capture DIR [--tokens-dir bench/out]
    cd /work/wt/base && <bench env> ALLOWED_HOSTS=testserver .venv/bin/python /path/to/bench/api_capture.py capture DIR2
    .venv/bin/python bench/api_capture.py compare DIR DIR2

Who asks: the staff of the largest station, every role of the largest TTYT, the province department (SYT) and a
few other stations' staff (bench/out/staff_tokens.tsv, largest.json of bench/generate.py --full). What: the
registrations, alerts and booking desk lists, with each filter (status, level, facility, day), in v1 (first page,
offset pages, a small page) and v2 (first page, `next` followed --pages times, then `previous` once, a small
page and its next), in Vietnamese and English, plus a mangled cursor and malformed filters. Each answer is written as
"<status>\\n<body>"; nothing is masked (the answers hold no per-request token).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def setup() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("mysql://"):
        sys.exit("Set DATABASE_URL (the bench database).")
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "health_f0.settings")
    os.environ.setdefault("SMS_BACKEND", "file")
    os.environ.setdefault("DB_PROCESS", "command")
    import django

    django.setup()


def personas(tokens_dir: Path, others: int) -> list[tuple[str, str, str]]:
    """(label, token, facility code) of the staff who ask."""
    rows = [line.split("\t") for line in (tokens_dir / "staff_tokens.tsv").read_text().splitlines() if line]
    header, rows = rows[0], rows[1:]
    staff = [dict(zip(header, row, strict=False)) for row in rows]
    largest = json.loads((tokens_dir / "largest.json").read_text())
    chosen: list[tuple[str, str, str]] = []
    seen: set[str] = set()

    def add(row: dict[str, str], label: str) -> None:
        if row["username"] in seen:
            return
        seen.add(row["username"])
        chosen.append((label, row["token"], row["facility_code"]))

    wanted = {largest.get("station_staff"), *(largest.get("ttyt_staff") or {}).values()}
    for row in staff:
        if row["username"] in wanted:
            add(row, f"{row['role']}@{row['facility_code']}")
    kinds: dict[str, int] = {}
    for row in staff:
        kind = row["facility_kind"]
        if kinds.get(kind, 0) < (others if kind == "station" else 2):
            before = len(chosen)
            add(row, f"{row['role']}@{row['facility_code']}")
            if len(chosen) > before:
                kinds[kind] = kinds.get(kind, 0) + 1
    return chosen


def local(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def capture(args: argparse.Namespace) -> None:
    setup()
    from django.test import Client

    from health_f0.appointments.models import Appointment, Status
    from health_f0.facilities.models import Facility
    from health_f0.monitoring.models import AlertLevel
    from health_f0.registration.models import RegistrationStatus

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    client = Client()
    n = 0
    who = personas(Path(args.tokens_dir), args.others)
    facility = {f.code: f for f in Facility.objects.filter(code__in={code for _, _, code in who})}
    day = (
        Appointment.objects.filter(status=Status.CONFIRMED)
        .order_by("slot_start")
        .values_list("slot_start", flat=True)
    ).first()
    days = [] if day is None else [day.date().isoformat()]

    def get(name: str, path: str, token: str, lang: str) -> dict[str, Any] | None:
        nonlocal n
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT_LANGUAGE=lang)
        (out / (SAFE.sub("_", name) + ".txt")).write_bytes(
            f"{response.status_code}\n{path}\n".encode() + response.content + b"\n"
        )
        n += 1
        try:
            return response.json() if response.status_code == 200 else None
        except ValueError:
            return None

    for label, token, code in who:
        own = facility.get(code)
        own_id = str(own.public_id) if own is not None else None
        child = Facility.objects.filter(parent=own).order_by("id").first() if own is not None else None
        places = [f for f in (own_id, str(child.public_id) if child else None) if f]
        lists: list[tuple[str, list[str]]] = [
            (
                "registrations",
                ["", *[f"status={s}" for s in RegistrationStatus.values], *[f"facility={f}" for f in places]],
            ),
            (
                "alerts",
                [
                    "",
                    *[f"level={v}" for v in AlertLevel.values if v != "none"],
                    *[f"facility={f}" for f in places],
                ],
            ),
            (
                "staff/appointments",
                [
                    "",
                    *[f"status={s}" for s in Status.values],
                    *[f"facility={f}" for f in places],
                    *[f"status=confirmed&date={d}" for d in days],
                ],
            ),
        ]
        for lang in ("vi", "en"):
            for endpoint, filters in lists:
                for query in filters:
                    base = f"{label}-{lang}-{endpoint}-{query or 'all'}"
                    extra = f"&{query}" if query else ""
                    first = get(f"{base}-v1", f"/api/v1/{endpoint}?limit=100{extra}", token, lang)
                    if first is None:
                        continue
                    count = first.get("count") or 0
                    for offset in sorted({100, min(2000, max(count - 100, 0))}):
                        if offset < count:
                            get(
                                f"{base}-v1-o{offset}",
                                f"/api/v1/{endpoint}?limit=100&offset={offset}{extra}",
                                token,
                                lang,
                            )
                    get(f"{base}-v1-small", f"/api/v1/{endpoint}?limit=7&offset=13{extra}", token, lang)
                    page = get(f"{base}-v2", f"/api/v2/{endpoint}?limit=100{extra}", token, lang)
                    step = 0
                    while page is not None and page.get("next") and step < args.pages:
                        step += 1
                        page = get(f"{base}-v2-n{step}", local(page["next"]) or "", token, lang)
                    if page is not None and page.get("previous"):
                        get(f"{base}-v2-prev", local(page["previous"]) or "", token, lang)
                    small = get(f"{base}-v2-small", f"/api/v2/{endpoint}?limit=7{extra}", token, lang)
                    if small is not None and small.get("next"):
                        get(f"{base}-v2-small-n1", local(small["next"]) or "", token, lang)
                for bad in ("status=nope", "level=nope", "facility=not-a-uuid", "date=31-12-2026", "status="):
                    get(
                        f"{label}-{lang}-{endpoint}-bad-{bad}",
                        f"/api/v1/{endpoint}?limit=100&{bad}",
                        token,
                        lang,
                    )
                get(
                    f"{label}-{lang}-{endpoint}-badcursor",
                    f"/api/v2/{endpoint}?limit=100&cursor=eyJrIjpbMV0sImIiOjB9",
                    token,
                    lang,
                )
    # The patient lists that share core.sqllist and api.fast: a few accounts and the heavy ones.
    directory = Path(args.tokens_dir)
    patients = [t for t in (directory / "patient_tokens_all.txt").read_text().split() if t][: args.patients]
    patients += [t for t in (directory / "heavy_tokens.txt").read_text().split() if t][: args.patients]
    patients += [t for t in (directory / "tokens.txt").read_text().split() if t][: args.patients]
    lists = ("declarations", "episodes", "visits", "lab-results", "appointments", "his-links")
    for index, token in enumerate(patients if args.patients else []):
        for endpoint in lists:
            base = f"patient{index:03d}-{endpoint}"
            get(f"{base}-v1", f"/api/v1/{endpoint}?limit=100", token, "vi")
            get(f"{base}-v1-o100", f"/api/v1/{endpoint}?limit=100&offset=100", token, "vi")
            page = get(f"{base}-v2", f"/api/v2/{endpoint}?limit=100", token, "vi")
            step = 0
            while page is not None and page.get("next") and step < args.pages:
                step += 1
                page = get(f"{base}-v2-n{step}", local(page["next"]) or "", token, "vi")
            small = get(f"{base}-v2-small", f"/api/v2/{endpoint}?limit=3", token, "en")
            if small is not None and small.get("next"):
                get(f"{base}-v2-small-n1", local(small["next"]) or "", token, "en")
    print(f"{n} answers of {len(who)} staff and {len(patients)} patients written to {out}")


def compare(args: argparse.Namespace) -> None:
    a, b = Path(args.a), Path(args.b)
    names_a = {p.name for p in a.glob("*.txt")}
    names_b = {p.name for p in b.glob("*.txt")}
    only = sorted(names_a ^ names_b)
    different = sorted(
        name for name in names_a & names_b if (a / name).read_bytes() != (b / name).read_bytes()
    )
    statuses: dict[str, int] = {}
    for name in names_a & names_b:
        status = (a / name).read_bytes().split(b"\n", 1)[0].decode()
        statuses[status] = statuses.get(status, 0) + 1
    print(
        f"{len(names_a & names_b)} answers in both (statuses {dict(sorted(statuses.items()))}), "
        f"{len(different)} different, {len(only)} in one only"
    )
    for name in only[:20]:
        print("  only in one:", name)
    for name in different[:20]:
        print("  different:", name)
    sys.exit(1 if different or only else 0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("dir")
    cap.add_argument("--tokens-dir", default=str(Path(__file__).resolve().parent / "out"))
    cap.add_argument("--pages", type=int, default=3, help="`next` links followed from a v2 first page")
    cap.add_argument("--others", type=int, default=3, help="other stations' staff")
    cap.add_argument("--patients", type=int, default=10, help="patient accounts of each token file")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("a")
    cmp_.add_argument("b")
    args = parser.parse_args()
    capture(args) if args.command == "capture" else compare(args)


if __name__ == "__main__":
    main()
