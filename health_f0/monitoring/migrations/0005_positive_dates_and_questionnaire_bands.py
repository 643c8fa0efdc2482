"""Issue 9: count home isolation from the positive test, and let the questionnaire say who is asked what.

1. Every episode opened from a registration gets that registration's positive-test date; the active ones get
   their expected end recounted from it (positive date + the province's minimum days). Episodes with no
   registration keep `positive_date` empty and are counted from their start (the acceptance), as before.
2. The seeded questionnaire asked every patient for a temperature although the form says to leave blank what
   cannot be measured, and showed the child-only danger signs to adults: `temperature` becomes optional and
   the options `child_breathing_signs` / `child_feeding` are asked below 12 years, the band in which the
   triage rules read them (rules `sym-child-*`: age_max_months 144), in every version. These are corrections
   of who is asked, not of what an answer means, so versions already answered are corrected in place: their
   stored answers read exactly as before.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import migrations

CHILD_OPTIONS = ("child_breathing_signs", "child_feeding")
CHILD_MAX_MONTHS = 144  # below 12 years, as the triage rules that read these signs
DEFAULT_MIN_DAYS = 7
BATCH = 1000


def positive_dates(apps: Any, schema_editor: Any) -> None:
    Episode = apps.get_model("monitoring", "Episode")
    ProvincePolicy = apps.get_model("monitoring", "ProvincePolicy")
    min_days = dict(ProvincePolicy.objects.values_list("province_code", "min_isolation_days"))
    rows = (
        Episode.objects.filter(positive_date__isnull=True, registration__isnull=False)
        .select_related("registration", "facility")
        .order_by("pk")
    )
    batch: list[Any] = []
    for episode in rows.iterator(chunk_size=BATCH):
        # The registration was validated "not in the future", so it is never after the acceptance.
        episode.positive_date = min(episode.registration.positive_date, episode.start_date)
        if episode.status == "active":
            days = min_days.get(episode.facility.province_code, DEFAULT_MIN_DAYS)
            episode.expected_end_date = episode.positive_date + timedelta(days=days)
        batch.append(episode)
        if len(batch) >= BATCH:
            Episode.objects.bulk_update(batch, ["positive_date", "expected_end_date"])
            batch = []
    if batch:
        Episode.objects.bulk_update(batch, ["positive_date", "expected_end_date"])


def questionnaire_bands(apps: Any, schema_editor: Any) -> None:
    Question = apps.get_model("monitoring", "Question")
    Question.objects.filter(code="temperature", required=True).update(required=False)
    for question in Question.objects.filter(type="multi"):
        changed = False
        for option in question.options or []:
            if (
                isinstance(option, dict)
                and option.get("code") in CHILD_OPTIONS
                and option.get("age_min_months") is None
                and option.get("age_max_months") is None
            ):
                option["age_max_months"] = CHILD_MAX_MONTHS
                changed = True
        if changed:
            question.save(update_fields=["options"])


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0004_episode_positive_date_question_age_band"),
        ("registration", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(positive_dates, migrations.RunPython.noop),
        migrations.RunPython(questionnaire_bands, migrations.RunPython.noop),
    ]
