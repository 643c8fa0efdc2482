"""Load Vietnam's public holidays, one data file per year (fixtures/holidays/vn-<year>.json), into the
Holiday table: no appointment slots on those days unless a service opens one with a schedule override.

Idempotent: rows are upserted by date. A row of a loaded year whose name says it was an estimate
("dự kiến") and whose date the file no longer lists is removed, so the official schedule, once announced
and written into the year's file, replaces the estimate (rows an administrator added by hand stay).

Each file: {"year": 2028, "status": "official" | "approximate", "source": "<legal basis>",
"holidays": [{"date": "2028-01-01", "name": "Tết Dương lịch"}, ...]}. A file with a date outside its
year, a repeated date or an empty name is refused whole, and nothing of it is loaded.

The desk warns on the schedule pages when next year's data is missing or still estimated
(appointments.selectors.holiday_data_status)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from health_f0.appointments.models import Holiday

HOLIDAYS_DIR = Path(settings.BASE_DIR) / "fixtures" / "holidays"
ESTIMATE_MARK = "dự kiến"


def read_year_file(path: Path) -> tuple[int, str, list[tuple[date, str]]]:
    """(year, status, [(date, name)]) of one year's file, or CommandError saying what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        year = int(data["year"])
        status = str(data.get("status", "official"))
        rows = [(date.fromisoformat(row["date"]), str(row["name"]).strip()) for row in data["holidays"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CommandError(f"{path.name}: tệp không đọc được ({exc}).") from exc
    if status not in ("official", "approximate"):
        raise CommandError(f"{path.name}: status phải là official hoặc approximate.")
    seen: set[date] = set()
    for day, name in rows:
        if day.year != year:
            raise CommandError(f"{path.name}: ngày {day:%d/%m/%Y} không thuộc năm {year}.")
        if day in seen:
            raise CommandError(f"{path.name}: ngày {day:%d/%m/%Y} bị lặp.")
        if not name or len(name) > 120:
            raise CommandError(f"{path.name}: ngày {day:%d/%m/%Y} cần tên ngày lễ (tối đa 120 ký tự).")
        seen.add(day)
    return year, status, rows


class Command(BaseCommand):
    help = "Load public holidays from fixtures/holidays/vn-<year>.json (no appointment slots on them) — idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", default=str(HOLIDAYS_DIR), help="folder of vn-<year>.json files")
        parser.add_argument("--file", action="append", default=[], help="load only this file (repeatable)")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        paths = [Path(p) for p in options["file"]] or sorted(Path(options["dir"]).glob("vn-*.json"))
        if not paths:
            raise CommandError(f"Không có tệp ngày lễ nào trong {options['dir']}.")
        years = [read_year_file(path) for path in paths]  # every file checked before anything is written
        for year, status, rows in years:
            created = 0
            for day, name in rows:
                _, was_created = Holiday.objects.update_or_create(date=day, defaults={"name": name})
                created += was_created
            stale = Holiday.objects.filter(date__year=year, name__icontains=ESTIMATE_MARK).exclude(
                date__in=[day for day, _ in rows]
            )
            removed = [f"{h.date:%d/%m/%Y}" for h in stale]
            stale.delete()
            line = f"{year}: {len(rows)} ngày lễ ({created} mới"
            line += f", bỏ {len(removed)} ngày dự kiến cũ: {', '.join(removed)})" if removed else ")"
            if status == "approximate":
                self.stdout.write(
                    self.style.WARNING(f"{line} — còn ngày dự kiến: cập nhật khi có thông báo chính thức.")
                )
            else:
                self.stdout.write(self.style.SUCCESS(line))
