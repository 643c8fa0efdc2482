"""Periodic HIS jobs (thin: they call imports.py). Huey runs its crontab in UTC."""

from __future__ import annotations

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from health_f0.core.locks import task_lock
from health_f0.facilities.models import Facility
from health_f0.his import imports
from health_f0.his.models import HisLink


@db_task()
def his_backfill_link(link_id: int) -> None:
    """The first FHIR pull of a new link (queued after the link commits)."""
    link = HisLink.objects.select_related("facility").filter(pk=link_id, active=True).first()
    if link is not None and link.backfilled_at is None:
        imports.fhir_backfill(link=link)


@db_periodic_task(crontab(minute="*/15"))
@task_lock("his-fhir-pull", ttl=300)
def his_fhir_pull() -> int:
    """Every 15 minutes: retry histories not pulled yet, then the incremental pull of every facility with
    active links. A failed run is simply retried here: the cursors did not move past unstored pages."""
    if not settings.HIS_FHIR_BASE_URL:
        return 0
    runs = 0
    for link in HisLink.objects.select_related("facility").filter(active=True, backfilled_at__isnull=True)[
        :200
    ]:
        imports.fhir_backfill(link=link)
        runs += 1
    facility_ids = HisLink.objects.filter(active=True).values_list("facility_id", flat=True).distinct()
    for facility in Facility.objects.filter(pk__in=list(facility_ids), is_active=True):
        imports.fhir_pull(facility=facility)
        runs += 1
    return runs


@db_periodic_task(crontab(minute="*/10"))
@task_lock("his-xml-watch", ttl=300)
def his_xml_watch() -> int:
    """Every 10 minutes: import the XML files dropped in HIS_XML_WATCH_DIR/<facility code>/."""
    return len(scan_watch_dir())


def scan_watch_dir() -> list[object]:
    from pathlib import Path

    base = Path(settings.HIS_XML_WATCH_DIR) if settings.HIS_XML_WATCH_DIR else None
    if base is None or not base.is_dir():
        return []
    runs: list[object] = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        facility = Facility.objects.filter(code=folder.name, is_active=True).first()
        if facility is not None:
            runs.extend(imports.xml_watch_scan(facility=facility, folder=folder))
    return runs


# --- Desk-started jobs (appended for the desk's upload and "pull now" buttons) ---------------------------


@db_task()
def his_xml_import_file(facility_id: int, path: str, file_name: str, actor_id: int | None = None) -> None:
    """Import an uploaded XML file too large to import during the request, from the copy the desk spooled
    to disk; the copy is deleted afterwards whatever the outcome (the run keeps the counts and errors)."""
    from pathlib import Path

    from django.contrib.auth import get_user_model

    spooled = Path(path)
    try:
        facility = Facility.objects.get(pk=facility_id)
        actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
        with spooled.open("rb") as stream:
            imports.xml_import(
                facility=facility,
                stream=stream,
                file_name=file_name,
                actor=actor,
                size=spooled.stat().st_size,
            )
    finally:
        spooled.unlink(missing_ok=True)


@db_task()
def his_fhir_pull_facility(facility_id: int) -> None:
    """The desk's "pull now" for one facility (the same incremental pull the periodic task runs)."""
    facility = Facility.objects.filter(pk=facility_id, is_active=True).first()
    if facility is not None and settings.HIS_FHIR_BASE_URL:
        imports.fhir_pull(facility=facility)
