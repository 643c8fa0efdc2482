"""Load the home-care guidance documents of fixtures/guidance.json (idempotent).

A document is matched by its public id: missing ones are created, existing ones are left as managers edited
them in the desk, unless --update is given (then title, summary, body, source and order are refreshed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from health_f0.monitoring.models import GuidanceDocument

GUIDANCE_FILE = Path(settings.BASE_DIR) / "fixtures" / "guidance.json"
FIELDS = ("title", "summary", "body", "source", "order")


class Command(BaseCommand):
    help = "Load the Ministry of Health home-care guidance documents (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--update",
            action="store_true",
            help="Overwrite documents that already exist with the file's text.",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        rows = json.loads(GUIDANCE_FILE.read_text(encoding="utf-8"))["documents"]
        created = updated = 0
        for row in rows:
            values = {f: row[f] for f in FIELDS if f in row}
            document = GuidanceDocument.objects.filter(public_id=row["public_id"]).first()
            if document is None:
                GuidanceDocument.objects.create(public_id=row["public_id"], is_published=True, **values)
                created += 1
            elif options["update"]:
                for name, value in values.items():
                    setattr(document, name, value)
                document.save(update_fields=[*values, "updated_at"])
                updated += 1
        self.stdout.write(
            self.style.SUCCESS(f"Guidance: {created} created, {updated} updated, {len(rows)} in the file.")
        )
