"""Check the patients' visit tally (appointments.models.PatientVisitTally: each patient's completed visits and
no-shows, kept by every status change, shown on the booking desk) against their bookings, and with --fix set each
patient who differs to the live count. For after bookings were written around the application (a restore of part
of a table, raw SQL): the application's own writes keep it.

    python manage.py visit_tally          # report; exit status 1 when a patient differs
    python manage.py visit_tally --fix    # recount those patients, each under its row lock
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from health_f0.appointments.models import recount_tally, tally_drift

logger = logging.getLogger(__name__)
SHOWN = 20  # patients listed in the report; the count covers all


class Command(BaseCommand):
    help = (
        "Check the patients' visit tally (completed visits, no-shows) against their bookings; "
        "--fix recounts each patient who differs."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--fix", action="store_true", help="recount the patients whose tally differs")

    def handle(self, *args: Any, fix: bool = False, **options: Any) -> None:
        drift = tally_drift()
        if not drift:
            self.stdout.write("Visit tally: every patient matches their bookings.")
            return
        for patient_id, (kept, live) in sorted(drift.items())[:SHOWN]:
            self.stdout.write(
                f"patient {patient_id}: tally {kept[0]} completed / {kept[1]} no-shows, "
                f"bookings {live[0]} / {live[1]}"
            )
        if len(drift) > SHOWN:
            self.stdout.write(f"... and {len(drift) - SHOWN} more")
        if not fix:
            raise CommandError(
                f"Visit tally differs from the bookings for {len(drift)} patient(s); run with --fix."
            )
        for patient_id in sorted(drift):
            recount_tally(patient_id)
        logger.warning("visit tally recounted for %d patient(s)", len(drift))
        self.stdout.write(f"Visit tally recounted for {len(drift)} patient(s).")
