"""Load the default questionnaire (v1) and the triage rules from fixtures/monitoring.json (idempotent).

An existing questionnaire version is never changed (declarations point at it); rules are upserted by code.
A question (or an option of a multiple-choice question) may carry "age_min_months"/"age_max_months": it is
then asked only in that age band (months, from min, below max), like the triage rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from health_f0.monitoring.models import Question, QuestionnaireVersion, TriageRule
from health_f0.monitoring.services import reset_caches

REFERENCE_FILE = Path(settings.BASE_DIR) / "fixtures" / "monitoring.json"


class Command(BaseCommand):
    help = "Load the default questionnaire and triage rules (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        data = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
        q = data["questionnaire"]
        version, created = QuestionnaireVersion.objects.get_or_create(
            version=q["version"], defaults={"title": q["title"], "is_active": True}
        )
        if created:
            for row in q["questions"]:
                Question.objects.create(
                    questionnaire=version,
                    code=row["code"],
                    order=row["order"],
                    type=row["type"],
                    text_vi=row["text_vi"],
                    text_en=row.get("text_en", ""),
                    help_vi=row.get("help_vi", ""),
                    unit=row.get("unit", ""),
                    required=row.get("required", False),
                    min_value=row.get("min"),
                    max_value=row.get("max"),
                    decimals=row.get("decimals", 0),
                    options=row.get("options", []),
                    age_min_months=row.get("age_min_months"),
                    age_max_months=row.get("age_max_months"),
                )
        if not QuestionnaireVersion.objects.filter(is_active=True).exists():
            version.is_active = True
            version.save(update_fields=["is_active"])
        fields = (
            "kind",
            "question_code",
            "op",
            "value",
            "symptom",
            "window_hours",
            "days",
            "age_min_months",
            "age_max_months",
            "level",
            "reason_vi",
            "reason_en",
        )
        for row in data["rules"]:
            TriageRule.objects.update_or_create(
                code=row["code"],
                defaults={f: row.get(f, "" if f in ("op", "symptom", "reason_en") else None) for f in fields},
            )
        reset_caches()
        self.stdout.write(
            self.style.SUCCESS(f"Questionnaire v{version.version} and {len(data['rules'])} rules ready.")
        )
