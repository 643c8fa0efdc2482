"""Load Vietnamese public holidays from fixtures/holidays_vn.json (idempotent: upsert by date)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from health_f0.appointments.models import Holiday

HOLIDAYS_FILE = Path(settings.BASE_DIR) / "fixtures" / "holidays_vn.json"


class Command(BaseCommand):
    help = "Load public holidays (no appointment slots on these days) — idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", default=str(HOLIDAYS_FILE))

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        rows = json.loads(Path(options["file"]).read_text(encoding="utf-8"))["holidays"]
        created = 0
        for row in rows:
            _, was_created = Holiday.objects.update_or_create(
                date=date.fromisoformat(row["date"]), defaults={"name": row["name"]}
            )
            created += was_created
        self.stdout.write(self.style.SUCCESS(f"{len(rows)} holidays ready ({created} new)."))
