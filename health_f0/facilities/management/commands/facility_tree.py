"""Check the facility tree's closure (facilities.models.FacilityClosure: which facilities are in each one's
subtree, read by the token look-up) against the facilities' paths, and with --fix write the difference. For after
facilities were written around the application (raw SQL, a restore of one table): the application's own writes
keep it (facilities.tree).

    python manage.py facility_tree          # report; exit status 1 when the closure and the paths differ
    python manage.py facility_tree --fix    # write the difference, under the tree's lock
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, transaction

from health_f0.facilities import tree
from health_f0.facilities.models import Facility, FacilityClosure

logger = logging.getLogger(__name__)
SHOWN = 20  # pairs listed in the report; the counts cover all


class Command(BaseCommand):
    help = "Check the facility tree's closure against the facilities' paths; --fix writes the difference."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--fix", action="store_true", help="write the pairs that differ")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, fix: bool = False, database: str = DEFAULT_DB_ALIAS, **options: Any) -> None:
        missing, surplus = tree.drift(Facility, FacilityClosure, database)
        if not missing and not surplus:
            self.stdout.write("Facility tree: the closure matches the paths.")
            return
        shown = [(pair, "missing") for pair in sorted(missing)] + [
            (pair, "surplus") for pair in sorted(surplus)
        ]
        for (ancestor, descendant), what in shown[:SHOWN]:
            self.stdout.write(f"facility {descendant} under {ancestor}: {what}")
        if len(shown) > SHOWN:
            self.stdout.write(f"... and {len(shown) - SHOWN} more")
        if not fix:
            raise CommandError(
                f"Facility tree: {len(missing)} pair(s) missing, {len(surplus)} surplus; run with --fix."
            )
        with transaction.atomic(using=database):
            tree.lock(Facility, database)
            added, removed = tree.sync(Facility, FacilityClosure, database)
        logger.warning("facility tree closure mended: %d pair(s) added, %d removed", added, removed)
        self.stdout.write(f"Facility tree: {added} pair(s) added, {removed} removed.")
