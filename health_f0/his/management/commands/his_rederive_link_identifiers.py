"""Rebuild HIS links' identifiers from what the HIS returned (see his/identity.py). Migration his.0004 runs
it once; run it again after restoring an old backup. Idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from health_f0.core.models import AuditLog
from health_f0.his.identity import rederive_link_identifiers
from health_f0.his.models import HisLink


class Command(BaseCommand):
    help = (
        "Re-derive HIS links' identifiers from the HIS's own answer; typed identifiers stay on the requests."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            changed = rederive_link_identifiers(HisLink, AuditLog)
        self.stdout.write(f"{changed} HIS link(s) re-derived.")
