"""Imports from a HIS: the FHIR pulls (incremental per facility, and the first pull of a new link) and the
insurance XML files (uploaded or dropped in the watched folder). Each run is an ImportRun row with counts
and the rejected records with Vietnamese reasons.

Guarantees:
* Idempotent: every imported row has a unique (facility, source, external id). FHIR rows are refreshed in
  place when seen again (counted as duplicates); an XML visit (MA_LK) already imported is skipped whole
  (duplicate), within a file and across files, and by concurrent imports of the same facility (their
  chunk writes take turns on the facility's row).
* A lab result is one row whichever way it came: pulled as an Observation, sent along with its
  DiagnosticReport (`_include`, or asked by id), or contained in the report; the report groups them.
* Nothing lost when the HIS is down: a FHIR page is stored and the resource type's cursor advanced in one
  transaction, and the cursor never moves past a lastUpdated value whose other resources may be on the
  next page; a failed run is recorded and the periodic task (tasks.py) pulls again from the cursor. Links
  whose history could not be pulled keep backfilled_at empty and are retried.
* XML memory is flat: records are read one HOSO at a time (adapters/xml_4750.py) and written in chunks.
* An XML record is attached to a linked patient by the HIS code the link was verified with, or by a BHYT
  number or CCCD the HIS returned for the link only when the name and date of birth agree too. A record
  that meets a linked patient only through such a key without that agreement is held (HisHeldRecord),
  attached to nobody: no visit, lab result, re-exam booking or SMS exists for it until a HIS linker
  attaches it (held_record_attach, audited) or dismisses it.
* Every XML1 patient with a HIS code is remembered as the HIS described them (HisPatientRecord): what a
  HIS code typed by the linker must resolve to when the HIS has no online lookup.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from health_f0.core.actors import is_user
from health_f0.core.audit import audit_log
from health_f0.core.deadlocks import retry_on_deadlock
from health_f0.core.exceptions import Conflict, DomainError, NotFound
from health_f0.core.keyset import time_key
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.his.adapters import HisUnavailable
from health_f0.his.adapters import fhir as fhirlib
from health_f0.his.adapters import xml_4750 as xmllib
from health_f0.his.adapters.base import LabRecord, SlipRecord, VisitRecord
from health_f0.his.identity import bhyt_key
from health_f0.his.models import (
    HeldStatus,
    HisHeldRecord,
    HisLabReport,
    HisLabResult,
    HisLink,
    HisPatientRecord,
    HisReexamSlip,
    HisVisit,
    HisVisitSeen,
    ImportRun,
    PullCursor,
    RunKind,
    RunStatus,
    SlipStatus,
    Source,
)

logger = logging.getLogger(__name__)


def patient_key(*parts: str) -> str:
    """A one-way key for counting distinct patients without storing who they are."""
    raw = "|".join(p for p in parts if p)
    return hashlib.sha256(raw.encode()).hexdigest()[:16] if raw else ""


@retry_on_deadlock
def _seen(facility: Facility, source: str, rows: list[tuple[str, Any, str, str, bool]]) -> None:
    """Record (external id, when, department, patient key, linked) for the managers' share report:
    insert new ones, and mark linked the ones seen before the patient linked. Rows go in external-id order,
    so two imports sharing visits take their key locks in the same order; an INSERT IGNORE that still loses
    a deadlock (two runs of the same file at once) is run again, it only inserts what is missing."""
    if not rows:
        return
    rows = sorted(rows, key=lambda row: row[0])
    HisVisitSeen.objects.bulk_create(
        [
            HisVisitSeen(
                facility=facility,
                source=source,
                external_id=external_id[:100],
                day=timezone.localtime(when).date() if when else timezone.localdate(),
                department_code=department[:50],
                patient_key=key,
                linked=linked,
            )
            for external_id, when, department, key, linked in rows
        ],
        ignore_conflicts=True,
    )
    newly_linked = [r[0][:100] for r in rows if r[4]]
    if newly_linked:
        HisVisitSeen.objects.filter(
            facility=facility, source=source, external_id__in=newly_linked, linked=False
        ).update(linked=True)


MAX_STORED_ERRORS = 1000
XML_CHUNK = 500  # HOSO per transaction
UNKNOWN_PATIENT = "không tìm thấy người bệnh đã liên kết"


@dataclass
class Counts:
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    held: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, record: str, table: str, reason: str, field_name: str = "") -> None:
        self.rejected += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"record": record, "table": table, "field": field_name, "reason": reason})


def _run_start(*, facility: Facility, source: str, kind: str, actor: Any = None, **fields: Any) -> ImportRun:
    return ImportRun.objects.create(
        facility=facility,
        source=source,
        kind=kind,
        started_at=timezone.now(),
        started_by=actor if is_user(actor) else None,
        **fields,
    )


def _run_save(run: ImportRun, counts: Counts, **extra: Any) -> None:
    run.read_count = counts.read
    run.imported_count = counts.imported
    run.duplicate_count = counts.duplicates
    run.rejected_count = counts.rejected
    run.held_count = counts.held
    run.errors = counts.errors
    for key, value in extra.items():
        setattr(run, key, value)
    run.save()


def _run_finish(run: ImportRun, counts: Counts, *, failure: str = "") -> ImportRun:
    _run_save(
        run,
        counts,
        status=RunStatus.FAILED if failure else RunStatus.DONE,
        failure=failure,
        finished_at=timezone.now(),
    )
    return run


def _run_crashed(run: ImportRun, counts: Counts, exc: Exception) -> ImportRun:
    """An unexpected error (a bug, the database gone): the run is closed as failed, never left "running",
    with what was stored so far counted; the stack trace goes to the log, not to the page. Whatever was
    committed stays (each chunk or page is one transaction), and a retry skips it as duplicates."""
    logger.exception("HIS import run %s of %s crashed", run.pk, run.facility_id)
    failure = (
        f"Lỗi hệ thống khi nhập dữ liệu ({exc.__class__.__name__}). Đã báo cho quản trị; có thể nhập lại."
    )
    try:
        return _run_finish(run, counts, failure=failure)
    except Exception:  # noqa: BLE001 - the database itself is gone: the log line above is all we can do
        logger.exception("could not record the failure of HIS import run %s", run.pk)
        return run


# --- Upserts (shared by both sources) ----------------------------------------------------------------


def _visit_fields(record: VisitRecord) -> dict[str, Any]:
    return {
        "his_patient_id": record.his_patient_id[:64],
        "department_code": record.department_code,
        "department_name": record.department_name,
        "admitted_at": record.admitted_at,
        "discharged_at": record.discharged_at,
        "diagnosis_text": record.diagnosis_text,
        "icd10": record.icd10,
        "bill_total": record.bill_total,
        "bill_insurance": record.bill_insurance,
        "bill_patient": record.bill_patient,
    }


def _lab_fields(record: LabRecord) -> dict[str, Any]:
    return {
        "visit_ref": record.visit_ref,
        "code": record.code,
        "name": record.name,
        "value": record.value,
        "value_number": record.value_number,
        "unit": record.unit,
        "reference_low": record.reference_low,
        "reference_high": record.reference_high,
        "reference_text": record.reference_text,
        "flag": record.flag,
        "conclusion": record.conclusion,
        "observed_at": record.observed_at,
    }


def _attach_results(facility: Facility, source: str, visits: Iterable[HisVisit]) -> None:
    """Results (and lab reports) that arrived before their visit get it now."""
    by_ref = {v.external_id: v for v in visits}
    if not by_ref:
        return
    for ref, visit in by_ref.items():
        HisLabResult.objects.filter(
            facility=facility, source=source, visit__isnull=True, visit_ref=ref
        ).update(visit=visit)
        HisLabReport.objects.filter(
            facility=facility, source=source, visit__isnull=True, visit_ref=ref
        ).update(visit=visit)


def _slip_book(slip: HisReexamSlip, *, today: date) -> None:
    """Book the slip's re-exam through the appointments services (a place on that day or the next days of
    the service whose code is the slip's department code, under the HIS facility); otherwise leave it to
    the booking desk with the reason."""
    from health_f0.appointments import services as appointment_services
    from health_f0.appointments.models import Service
    from health_f0.core.exceptions import Conflict

    if slip.date < today:
        slip.status, slip.status_note = SlipStatus.PAST, "Ngày hẹn đã qua khi nhận giấy hẹn."
        return
    service = (
        Service.objects.filter(
            facility__path__startswith=slip.facility.path, is_active=True, code__iexact=slip.department_code
        )
        .order_by("pk")
        .first()
        if slip.department_code
        else None
    )
    if service is None:
        slip.status = SlipStatus.NEEDS_DESK
        slip.status_note = f"Chưa có dịch vụ khám nào mang mã khoa {slip.department_code or '(trống)'}."
        return
    try:
        # The refusal is stored as the slip's note for the desk: always in Vietnamese, whoever ran the import.
        with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
            # The system books (actor None): the HIS already decided the re-exam.
            appointment = appointment_services.reexam_schedule_from_his(
                patient=slip.patient,
                service=service,
                day=slip.date,
                now=timezone.now(),
                reason=f"Tái khám theo giấy hẹn {slip.external_id}"[:300],
            )
    except (Conflict, DomainError) as exc:
        slip.status, slip.status_note = SlipStatus.NEEDS_DESK, exc.message[:300]
        return
    slip.status, slip.appointment, slip.status_note = SlipStatus.BOOKED, appointment, ""


def _slip_create(
    *,
    facility: Facility,
    source: str,
    record: SlipRecord,
    patient_id: int,
    visit: HisVisit | None,
    run: ImportRun | None,
) -> bool:
    """Create the slip (and its appointment) unless it exists. True when created."""
    if HisReexamSlip.objects.filter(
        facility=facility, source=source, external_id=record.external_id
    ).exists():
        return False
    slip = HisReexamSlip(
        patient_id=patient_id,
        facility=facility,
        visit=visit,
        source=source,
        external_id=record.external_id,
        date=record.date,
        department_code=record.department_code,
        note=record.note,
        status=SlipStatus.NEEDS_DESK,
        import_run=run,
    )
    _slip_book(slip, today=timezone.localdate())
    slip.save()
    return True


# --- FHIR --------------------------------------------------------------------------------------------


def _fhir_adapter() -> fhirlib.FhirAdapter:
    if not settings.HIS_FHIR_BASE_URL:
        raise DomainError(
            _("Chưa cấu hình địa chỉ FHIR của HIS (HIS_FHIR_BASE_URL)."), code="his_not_configured"
        )
    return fhirlib.FhirAdapter(base_url=settings.HIS_FHIR_BASE_URL)


def _linked_patients(facility: Facility, his_ids: set[str]) -> dict[str, int]:
    if not his_ids:
        return {}
    return dict(
        HisLink.objects.filter(facility=facility, active=True, his_patient_id__in=his_ids).values_list(
            "his_patient_id", "patient_id"
        )
    )


def _store_fhir_page(
    facility: Facility,
    resource_type: str,
    resources: list[dict[str, Any]],
    run: ImportRun,
    counts: Counts,
    results: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Upsert one page's resources of linked patients (others are not ours: skipped). `results`: for a page
    of DiagnosticReports, their result Observations by FHIR id (see _report_results)."""
    owners = _linked_patients(facility, {fhirlib.patient_of(r) for r in resources} - {""})
    new_visits: list[HisVisit] = []
    if resource_type == "Encounter":
        seen_rows = []
        for resource in resources:
            record = fhirlib.visit_from_encounter(resource)
            seen_rows.append(
                (
                    record.external_id,
                    record.admitted_at,
                    record.department_code or record.department_name,
                    patient_key(record.his_patient_id),
                    record.his_patient_id in owners,
                )
            )
        _seen(facility, Source.FHIR, seen_rows)
    visit_of = (
        _visit_ids(facility, (fhirlib.reference_id(r.get("encounter"), "Encounter") for r in resources))
        if resource_type == "Observation"
        else {}
    )
    for resource in resources:
        counts.read += 1
        patient_id = owners.get(fhirlib.patient_of(resource))
        if patient_id is None:
            continue
        if resource_type == "Encounter":
            visit_record = fhirlib.visit_from_encounter(resource)
            visit, created = HisVisit.objects.update_or_create(
                facility=facility,
                source=Source.FHIR,
                external_id=visit_record.external_id,
                defaults={**_visit_fields(visit_record), "patient_id": patient_id},
                create_defaults={**_visit_fields(visit_record), "patient_id": patient_id, "import_run": run},
            )
            if created:
                new_visits.append(visit)
        elif resource_type == "Observation":
            lab_record = fhirlib.lab_from_observation(resource)
            fields = {
                **_lab_fields(lab_record),
                "patient_id": patient_id,
                "visit_id": visit_of.get(lab_record.visit_ref),
            }
            _, created = HisLabResult.objects.update_or_create(
                facility=facility,
                source=Source.FHIR,
                external_id=lab_record.external_id,
                defaults=fields,
                create_defaults={**fields, "import_run": run},
            )
        elif resource_type == "DiagnosticReport":
            created = _store_report(facility, resource, patient_id, results or {}, run, counts)
        elif resource_type == "Appointment":
            slip_record = fhirlib.slip_from_appointment(resource)
            if slip_record is None:
                counts.reject(
                    str(resource.get("id", "")), resource_type, "Lịch hẹn không có ngày giờ (start)."
                )
                continue
            created = _slip_create(
                facility=facility,
                source=Source.FHIR,
                record=slip_record,
                patient_id=patient_id,
                visit=None,
                run=run,
            )
        else:  # pragma: no cover - PULL_QUERIES lists the types
            continue
        if created:
            counts.imported += 1
        else:
            counts.duplicates += 1
    _attach_results(facility, Source.FHIR, new_visits)


def _visit_ids(facility: Facility, visit_refs: Iterable[str]) -> dict[str, int]:
    """The stored FHIR visits among `visit_refs` (encounter ids), in one query."""
    refs = {ref for ref in visit_refs if ref}
    if not refs:
        return {}
    return dict(
        HisVisit.objects.filter(facility=facility, source=Source.FHIR, external_id__in=refs).values_list(
            "external_id", "pk"
        )
    )


def _report_results(
    adapter: fhirlib.FhirAdapter, facility: Facility, page: fhirlib.Page
) -> dict[str, dict[str, Any]]:
    """The result Observations of a page of DiagnosticReports of linked patients, by FHIR id: those the
    server sent along (`_include`), then those it did not that are not stored yet, asked by id (a HIS that
    ignores `_include`). Called before the page's transaction: no HIS request while rows are locked."""
    found = {str(r["id"]): r for r in page.included if r.get("resourceType") == "Observation" and r.get("id")}
    owners = _linked_patients(facility, {fhirlib.patient_of(r) for r in page.resources} - {""})
    wanted: set[str] = set()
    for resource in page.resources:
        if fhirlib.patient_of(resource) in owners:
            wanted.update(fhirlib.report_from_diagnostic_report(resource).result_ids)
    missing = wanted - found.keys()
    if missing:
        missing -= set(
            HisLabResult.objects.filter(
                facility=facility, source=Source.FHIR, external_id__in=missing
            ).values_list("external_id", flat=True)
        )
    if missing:
        found.update((str(r.get("id")), r) for r in adapter.read_many("Observation", sorted(missing)))
    return found


def _store_report(
    facility: Facility,
    resource: dict[str, Any],
    patient_id: int,
    results: dict[str, dict[str, Any]],
    run: ImportRun,
    counts: Counts,
) -> bool:
    """Upsert a lab report and join its results to it. A result is keyed by its FHIR id whichever way it
    came (pulled as an Observation, sent along with the report, or contained in it as "<report>#<id>"),
    so one result is one row. Results stored before join the report; results an amended report no longer
    lists leave it (contained ones are deleted: they existed only there). A result row created here
    counts as read and imported; a refreshed one is not counted again (the Observation pull counts it).
    True when the report is new."""
    record = fhirlib.report_from_diagnostic_report(resource)
    labs = list(record.contained)
    for observation_id in record.result_ids:
        observation = results.get(observation_id)
        owner = fhirlib.patient_of(observation) if observation else ""
        if observation is None or (owner and owner != record.his_patient_id):
            continue  # not sent (joined below if stored), or another patient's: never stored under this one
        labs.append(fhirlib.lab_from_observation(observation))
    visit_of = _visit_ids(facility, [record.visit_ref, *(lab.visit_ref for lab in labs)])
    fields = {
        "patient_id": patient_id,
        "visit_id": visit_of.get(record.visit_ref),
        "visit_ref": record.visit_ref,
        "code": record.code,
        "name": record.name,
        "status": record.status,
        "conclusion": record.conclusion,
        "effective_at": record.effective_at,
        "issued_at": record.issued_at,
    }
    report, created = HisLabReport.objects.update_or_create(
        facility=facility,
        source=Source.FHIR,
        external_id=record.external_id,
        defaults=fields,
        create_defaults={**fields, "import_run": run},
    )
    for lab in labs:
        lab_fields = {
            **_lab_fields(lab),
            "patient_id": patient_id,
            "visit_id": visit_of.get(lab.visit_ref),
            "report": report,
        }
        _, lab_created = HisLabResult.objects.update_or_create(
            facility=facility,
            source=Source.FHIR,
            external_id=lab.external_id,
            defaults=lab_fields,
            create_defaults={**lab_fields, "import_run": run},
        )
        if lab_created:
            counts.read += 1
            counts.imported += 1
    listed = [*record.result_ids, *(lab.external_id for lab in record.contained)]
    listed_rows = HisLabResult.objects.filter(
        facility=facility, source=Source.FHIR, patient_id=patient_id, external_id__in=listed
    )
    listed_rows.exclude(report=report).update(report=report)
    dropped = HisLabResult.objects.filter(report=report).exclude(external_id__in=listed)
    # A contained result exists only inside its report: gone from the report, it is gone.
    dropped.filter(external_id__startswith=f"{record.external_id}#").delete()
    # Out of the report, a result sorts at its own time again (HisLabResult.sort_at).
    dropped.update(report=None, sort_report=0, sort_at=time_key("observed_at"))
    # The report's results sort at its (maybe amended) time, those stored before it arrived too.
    listed_rows.refresh_sort()
    return created


def safe_cursor(resources: list[dict[str, Any]], has_next: bool, current: str) -> str:
    """The greatest lastUpdated L such that every resource with lastUpdated <= L has been seen, given a
    page sorted by lastUpdated. With a next page, the page's last value may continue there, so the cursor
    stops just below it (the next query re-reads those: idempotent)."""
    stamps = [str((r.get("meta") or {}).get("lastUpdated", "")) for r in resources]
    stamps = [s for s in stamps if s]
    if not stamps:
        return current
    if not has_next:
        return max([current, *stamps])
    last = max(stamps)
    below = [s for s in stamps if s < last]
    return max([current, *below]) if below else current


def fhir_pull(*, facility: Facility, adapter: fhirlib.FhirAdapter | None = None) -> ImportRun:
    """The periodic incremental pull of one facility: for each resource type, everything updated after its
    cursor (`_lastUpdated=ge<cursor>`, sorted by _lastUpdated, paged). The run is "failed" when the HIS
    stops answering; the cursor then stands after the last stored page and the next run continues there."""
    adapter = adapter or _fhir_adapter()
    run = _run_start(facility=facility, source=Source.FHIR, kind=RunKind.FHIR_PULL)
    counts = Counts()
    try:
        for resource_type, extra in fhirlib.PULL_QUERIES.items():
            cursor_row, _ = PullCursor.objects.get_or_create(facility=facility, resource_type=resource_type)
            cursor = cursor_row.last_updated
            params = [*extra, ("_sort", "_lastUpdated")]
            if cursor:
                # `ge`, not `gt`: a resource the HIS writes later in the same millisecond as the cursor is
                # still read. The few at exactly the cursor are read again each time (idempotent).
                params.append(("_lastUpdated", f"ge{cursor}"))
            for page in adapter.search(resource_type, params):
                results = (
                    _report_results(adapter, facility, page) if resource_type == "DiagnosticReport" else None
                )
                with transaction.atomic():
                    _store_fhir_page(facility, resource_type, page.resources, run, counts, results)
                    cursor = safe_cursor(page.resources, page.has_next, cursor)
                    PullCursor.objects.filter(pk=cursor_row.pk).update(
                        last_updated=cursor, updated_at=timezone.now()
                    )
                    run.progress_done += 1
                    _run_save(run, counts)
    except HisUnavailable as exc:
        logger.warning("FHIR pull of %s failed: %s", facility.code, exc)
        return _run_finish(run, counts, failure=str(exc)[:2000])
    except Exception as exc:  # noqa: BLE001 - recorded on the run and logged with its trace
        return _run_crashed(run, counts, exc)
    return _run_finish(run, counts)


def fhir_backfill(*, link: HisLink, adapter: fhirlib.FhirAdapter | None = None) -> ImportRun:
    """The first pull of a newly linked patient: their whole history (idempotent, so a retry after a failure
    simply starts again). Marks the link backfilled when every type was read."""
    adapter = adapter or _fhir_adapter()
    run = _run_start(facility=link.facility, source=Source.FHIR, kind=RunKind.FHIR_BACKFILL, link=link)
    counts = Counts()
    try:
        for resource_type, extra in fhirlib.PULL_QUERIES.items():
            params = [*extra, ("patient", link.his_patient_id), ("_sort", "_lastUpdated")]
            for page in adapter.search(resource_type, params):
                results = (
                    _report_results(adapter, link.facility, page)
                    if resource_type == "DiagnosticReport"
                    else None
                )
                with transaction.atomic():
                    _store_fhir_page(link.facility, resource_type, page.resources, run, counts, results)
                    run.progress_done += 1
                    _run_save(run, counts)
    except HisUnavailable as exc:
        return _run_finish(run, counts, failure=str(exc)[:2000])
    except Exception as exc:  # noqa: BLE001 - recorded on the run and logged with its trace
        return _run_crashed(run, counts, exc)
    HisLink.objects.filter(pk=link.pk).update(backfilled_at=timezone.now())
    return _run_finish(run, counts)


# --- XML ---------------------------------------------------------------------------------------------


class _CountingReader:
    """Wraps a binary file to report how many bytes the parser has read (the run's progress)."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.done += len(data)
        return data


@dataclass(frozen=True)
class Owner:
    """Whom an XML1 record belongs to: `patient_id` when it may be attached; `held` when it met a linked
    patient only through a secondary key without the name and date of birth agreeing (or through keys of
    several patients): it then waits for a linker, attached to nobody."""

    patient_id: int | None
    link_id: int | None = None
    matched_by: str = ""
    held: bool = False
    reason: str = ""
    mismatches: tuple[str, ...] = ()

    @property
    def attached(self) -> bool:
        return self.patient_id is not None and not self.held


@dataclass(frozen=True)
class _LinkRow:
    link_id: int
    patient_id: int
    full_name: str
    date_of_birth: date | None


def _mismatches(identity: xmllib.Identity, row: _LinkRow) -> tuple[str, ...]:
    from health_f0.core.text import name_key

    differs = []
    if not identity.full_name or name_key(identity.full_name) != name_key(row.full_name):
        differs.append("name")
    if identity.date_of_birth is None or identity.date_of_birth != row.date_of_birth:
        differs.append("date_of_birth")
    return tuple(differs)


def _match_links(facility: Facility, identities: list[xmllib.Identity]) -> list[Owner | None]:
    """Whom each identity belongs to, among the facility's active links (one query for the whole chunk):
    * by HIS code (MA_BN), the key the link was verified with: attached;
    * else by BHYT number (its 10-digit social-insurance part) or CCCD, as the HIS returned them for the
      link: attached only when the XML1 name and date of birth agree with the linked patient's; otherwise
      held with the reason (so is a record whose keys point at several patients);
    * else None: no linked patient (rejected, counted for the managers' share)."""
    from health_f0.his.models import HoldReason, IdentifierType

    codes = {i.his_code for i in identities if i.his_code}
    cards = {bhyt_key(i.bhyt) for i in identities if bhyt_key(i.bhyt)}
    cccds = {i.cccd for i in identities if i.cccd}
    if not (codes or cards or cccds):
        return [None] * len(identities)
    condition = Q(his_code__in=codes) | Q(bhyt_key__in=cards) | Q(cccd__in=cccds)
    by_code: dict[str, list[_LinkRow]] = {}
    by_card: dict[str, list[_LinkRow]] = {}
    by_cccd: dict[str, list[_LinkRow]] = {}
    for link_id, his_code, card, cccd, patient_id, name, born in (
        HisLink.objects.filter(facility=facility, active=True)
        .filter(condition)
        .values_list(
            "pk", "his_code", "bhyt_key", "cccd", "patient_id", "patient__full_name", "patient__date_of_birth"
        )
    ):
        row = _LinkRow(link_id, patient_id, name, born)
        for key, index in ((his_code, by_code), (card, by_card), (cccd, by_cccd)):
            if key:
                index.setdefault(key, []).append(row)
    result: list[Owner | None] = []
    for identity in identities:
        code_rows = by_code.get(identity.his_code, []) if identity.his_code else []
        if len({r.patient_id for r in code_rows}) == 1:
            row = code_rows[0]
            result.append(Owner(row.patient_id, row.link_id, IdentifierType.HIS_CODE))
            continue
        secondary = [
            (IdentifierType.BHYT, r)
            for r in by_card.get(bhyt_key(identity.bhyt), [])
            if bhyt_key(identity.bhyt)
        ] + [(IdentifierType.CCCD, r) for r in by_cccd.get(identity.cccd, []) if identity.cccd]
        patients = {r.patient_id for _, r in secondary}
        if not patients:
            result.append(None)
            continue
        matched_by, row = secondary[0]
        if len(patients) > 1:
            result.append(Owner(None, None, matched_by, held=True, reason=HoldReason.SEVERAL_PATIENTS))
            continue
        differs = _mismatches(identity, row)
        if differs:
            result.append(
                Owner(
                    row.patient_id,
                    row.link_id,
                    matched_by,
                    held=True,
                    reason=HoldReason.IDENTITY_DIFFERS,
                    mismatches=differs,
                )
            )
        else:
            result.append(Owner(row.patient_id, row.link_id, matched_by))
    return result


def _lock_facility(facility: Facility) -> None:
    """Hold the facility's row until the transaction ends (taken first, before any patient or service row
    the re-exam bookings lock, so it cannot deadlock with them)."""
    list(Facility.objects.select_for_update().filter(pk=facility.pk).values_list("pk", flat=True))


def _remember_patients(
    facility: Facility, parsed: list[tuple[xmllib.Hoso, VisitRecord, xmllib.Identity]], run: ImportRun
) -> None:
    """Keep the XML1 patients (by HIS code) as the HIS described them at their latest visit: what a HIS
    code the linker types must resolve to (services._find_record). Under the facility lock."""

    latest: dict[str, tuple[VisitRecord, xmllib.Identity]] = {}
    for _hoso, visit, identity in parsed:
        if not identity.his_code:
            continue
        seen = latest.get(identity.his_code)
        if seen is None or _later(visit.admitted_at, seen[0].admitted_at):
            latest[identity.his_code] = (visit, identity)
    if not latest:
        return
    existing = {
        r.his_code: r for r in HisPatientRecord.objects.filter(facility=facility, his_code__in=list(latest))
    }
    fresh: list[HisPatientRecord] = []
    changed: list[HisPatientRecord] = []
    for code, (visit, identity) in latest.items():
        values = {
            "full_name": identity.full_name[:200],
            "date_of_birth": identity.date_of_birth,
            "sex": identity.sex,
            "bhyt": identity.bhyt[:20],
            "bhyt_key": bhyt_key(identity.bhyt),
            "cccd": identity.cccd[:12],
            "last_visit_ref": visit.external_id[:100],
            "last_seen_at": visit.admitted_at,
        }
        record = existing.get(code)
        if record is None:
            fresh.append(HisPatientRecord(facility=facility, his_code=code, import_run=run, **values))
        elif not _later(record.last_seen_at, visit.admitted_at):  # an older file never overwrites
            for key, value in values.items():
                setattr(record, key, value)
            record.import_run = run
            changed.append(record)
    HisPatientRecord.objects.bulk_create(fresh, ignore_conflicts=True)
    if changed:
        HisPatientRecord.objects.bulk_update(
            changed,
            [
                "full_name",
                "date_of_birth",
                "sex",
                "bhyt",
                "bhyt_key",
                "cccd",
                "last_visit_ref",
                "last_seen_at",
                "import_run",
                "updated_at",
            ],
        )


def _later(a: Any, b: Any) -> bool:
    """Whether instant `a` is strictly after `b` (an unknown instant is never later)."""
    return a is not None and (b is None or a > b)


def _write_visits(
    facility: Facility,
    run: ImportRun | None,
    items: list[tuple[VisitRecord, int, list[LabRecord], list[SlipRecord]]],
) -> list[HisVisit]:
    """Store visits of linked patients with their lab results and re-exam slips (booking them), in the
    caller's transaction under the facility lock."""
    visits = HisVisit.objects.bulk_create(
        [
            HisVisit(
                facility=facility,
                source=Source.XML,
                external_id=visit.external_id,
                patient_id=patient_id,
                import_run=run,
                **_visit_fields(visit),
            )
            for visit, patient_id, _labs, _slips in items
        ]
    )
    results: list[HisLabResult] = []
    for saved, (_visit, patient_id, labs, _slips) in zip(visits, items, strict=True):
        unique = {lab.external_id: lab for lab in labs}  # a repeated STT in one record counts once
        results.extend(
            HisLabResult(
                facility=facility,
                source=Source.XML,
                external_id=lab.external_id,
                patient_id=patient_id,
                visit=saved,
                import_run=run,
                **_lab_fields(lab),
            )
            for lab in unique.values()
        )
    HisLabResult.objects.bulk_create(results, batch_size=1000)
    for saved, (_visit, patient_id, _labs, slips) in zip(visits, items, strict=True):
        for slip in slips:
            _slip_create(
                facility=facility,
                source=Source.XML,
                record=slip,
                patient_id=patient_id,
                visit=saved,
                run=run,
            )
    return visits


def _hold(
    facility: Facility,
    run: ImportRun,
    items: list[tuple[xmllib.Hoso, VisitRecord, xmllib.Identity, Owner]],
) -> None:
    """Keep records that may belong to someone else, attached to nobody, for the linker's queue."""
    HisHeldRecord.objects.bulk_create(
        [
            HisHeldRecord(
                facility=facility,
                source=Source.XML,
                external_id=visit.external_id,
                candidate_patient_id=owner.patient_id,
                candidate_link_id=owner.link_id,
                matched_by=owner.matched_by,
                reason=owner.reason,
                mismatches=list(owner.mismatches),
                his_code=identity.his_code,
                full_name=identity.full_name[:200],
                date_of_birth=identity.date_of_birth,
                bhyt=identity.bhyt[:20],
                cccd=identity.cccd[:12],
                admitted_at=visit.admitted_at,
                department_code=visit.department_code,
                payload={"xml1": hoso.xml1[:1], "xml4": hoso.xml4, "xml14": hoso.xml14},
                import_run=run,
            )
            for hoso, visit, identity, owner in items
        ],
        ignore_conflicts=True,
    )


def _import_chunk(facility: Facility, chunk: list[xmllib.Hoso], run: ImportRun, counts: Counts) -> None:
    """Validate, match and write one chunk of HOSO in one transaction (bulk inserts)."""
    parsed: list[tuple[xmllib.Hoso, VisitRecord, xmllib.Identity]] = []
    seen: set[str] = set()
    for hoso in chunk:
        counts.read += 1
        label = hoso.ma_lk or f"hồ sơ thứ {hoso.index}"
        if hoso.errors:
            first = hoso.errors[0]
            counts.reject(label, first["table"], first["reason"])
            continue
        if not hoso.xml1:
            counts.reject(label, "XML1", "Hồ sơ không có bảng XML1 (thông tin tổng hợp lượt khám).")
            continue
        try:
            visit, identity = xmllib.visit_from_xml1(hoso.xml1[0])
        except xmllib.RecordError as exc:
            counts.reject(label, "XML1", exc.reason, exc.field)
            continue
        if visit.external_id in seen:
            counts.duplicates += 1
            continue
        seen.add(visit.external_id)
        parsed.append((hoso, visit, identity))
    if not parsed:
        return
    refs = [v.external_id for _, v, _ in parsed]
    existing = _already_imported(facility, refs)
    fresh = [(h, v, i) for h, v, i in parsed if v.external_id not in existing]
    counts.duplicates += len(parsed) - len(fresh)
    all_owners = _match_links(facility, [i for _, _, i in parsed])
    _seen(
        facility,
        Source.XML,
        [
            (
                v.external_id,
                v.admitted_at,
                v.department_code,
                patient_key(i.his_code or i.bhyt or i.cccd),
                o is not None and o.attached,
            )
            for (_, v, i), o in zip(parsed, all_owners, strict=True)
        ],
    )
    owner_of = {v.external_id: o for (_, v, _), o in zip(parsed, all_owners, strict=True)}
    to_create: list[tuple[VisitRecord, int, list[LabRecord], list[SlipRecord]]] = []
    to_hold: list[tuple[xmllib.Hoso, VisitRecord, xmllib.Identity, Owner]] = []
    for hoso, visit, identity in fresh:
        owner = owner_of[visit.external_id]
        if owner is None:
            counts.reject(visit.external_id, "XML1", UNKNOWN_PATIENT)
            continue
        try:
            labs = [xmllib.lab_from_xml4(row, visit.external_id, n) for n, row in enumerate(hoso.xml4, 1)]
            slips = [xmllib.slip_from_xml14(row, visit.external_id) for row in hoso.xml14]
        except xmllib.RecordError as exc:
            table = "XML14" if exc.field in {"SO_GIAYHEN_KL", "NGAY_HEN_KL"} else "XML4"
            counts.reject(visit.external_id, table, exc.reason, exc.field)
            continue
        if owner.held:
            to_hold.append((hoso, visit, identity, owner))
        elif owner.patient_id is not None:
            to_create.append((visit, owner.patient_id, labs, slips))
    with transaction.atomic():
        # One XML writer per facility at a time: another import (an upload and the watched folder, two
        # uploads) may have written some of these MA_LK since the check above. Under the lock, with its
        # rows committed (read committed), they are seen and counted as duplicates, never a failed insert.
        _lock_facility(facility)
        _remember_patients(facility, parsed, run)
        if not (to_create or to_hold):
            return
        written = _already_imported(
            facility, [item[0].external_id for item in to_create] + [item[1].external_id for item in to_hold]
        )
        if written:
            counts.duplicates += len(written)
            to_create = [item for item in to_create if item[0].external_id not in written]
            to_hold = [item for item in to_hold if item[1].external_id not in written]
        _write_visits(facility, run, to_create)
        _hold(facility, run, to_hold)
    counts.imported += len(to_create)
    counts.held += len(to_hold)


def _already_imported(facility: Facility, refs: list[str]) -> set[str]:
    """The visits (MA_LK) among `refs` already stored or already held for the linker."""
    if not refs:
        return set()
    stored = HisVisit.objects.filter(facility=facility, source=Source.XML, external_id__in=refs)
    held = HisHeldRecord.objects.filter(facility=facility, source=Source.XML, external_id__in=refs)
    return set(stored.values_list("external_id", flat=True)) | set(held.values_list("external_id", flat=True))


def xml_import(
    *,
    facility: Facility,
    stream: IO[bytes],
    file_name: str,
    actor: Any = None,
    size: int = 0,
    check_access: bool = True,
) -> ImportRun:
    """Import one QĐ 4750/3176 file (an upload in the desk, or a file from the watched folder). Records are
    read one HOSO at a time and written in chunks; a broken envelope stops the run as failed with the line
    and column (records before it stay imported: importing the fixed file again skips them)."""
    if check_access and actor is not None:
        access.require_role_at(actor, facility, access.HIS_LINKER_ROLES)
    run = _run_start(
        facility=facility,
        source=Source.XML,
        kind=RunKind.XML_FILE,
        actor=actor,
        file_name=Path(file_name).name[:255],
        progress_total=size,
    )
    if actor is not None:
        audit_log(
            actor=actor, action=AuditLog.Action.CREATE, verb="his_xml_import", target=run, facility=facility
        )
    counts = Counts()
    reader = _CountingReader(stream)
    chunk: list[xmllib.Hoso] = []
    try:
        for hoso in xmllib.iter_hoso(reader):  # type: ignore[arg-type]
            chunk.append(hoso)
            if len(chunk) >= XML_CHUNK:
                _import_chunk(facility, chunk, run, counts)
                chunk = []
                _run_save(run, counts, progress_done=reader.done)
        _import_chunk(facility, chunk, run, counts)
    except xmllib.XmlStructureError as exc:
        if chunk:
            _import_chunk(facility, chunk, run, counts)
        counts.errors.append({"record": "", "table": "", "field": "", "reason": str(exc)})
        return _run_finish(run, counts, failure=str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded on the run and logged with its trace
        return _run_crashed(run, counts, exc)
    run.progress_done = reader.done
    return _run_finish(run, counts)


def xml_watch_scan(*, facility: Facility, folder: str | Path | None = None) -> list[ImportRun]:
    """Import every *.xml file in the watched folder (oldest first), moving each to done/ or failed/ (a run
    that read the whole file is done even with rejected records; a broken file is failed)."""
    base = Path(folder or settings.HIS_XML_WATCH_DIR)
    if not str(base) or not base.is_dir():
        return []
    (base / "done").mkdir(exist_ok=True)
    (base / "failed").mkdir(exist_ok=True)
    runs = []
    for path in sorted(
        (p for p in base.iterdir() if p.is_file() and p.suffix.lower() == ".xml"),
        key=lambda p: p.stat().st_mtime,
    ):
        with path.open("rb") as stream:
            run = xml_import(
                facility=facility,
                stream=stream,
                file_name=path.name,
                size=path.stat().st_size,
                check_access=False,
            )
        target = base / ("done" if run.status == RunStatus.DONE else "failed") / path.name
        if target.exists():
            target = target.with_name(f"{path.stem}-{run.public_id.hex[:8]}{path.suffix}")
        shutil.move(str(path), target)
        runs.append(run)
    return runs


# --- Records held for the linker ------------------------------------------------------------------


def _locked_held(record: HisHeldRecord, actor: Any) -> HisHeldRecord:
    """Inside a transaction: the facility, then the record, locked; a linker there, a record still waiting."""
    access.require_role_at(actor, record.facility, access.HIS_LINKER_ROLES)
    _lock_facility(record.facility)
    locked = HisHeldRecord.objects.select_for_update().filter(pk=record.pk).first()
    if locked is None:
        raise NotFound(_("Không tìm thấy hồ sơ chờ đối chiếu."))
    if locked.status != HeldStatus.WAITING:
        raise Conflict(_("Hồ sơ này đã được xử lý trước đó."), code="already_decided")
    return locked


def held_record_attach(*, record: HisHeldRecord, actor: Any) -> HisVisit:
    """A HIS linker, having checked with the HIS that a held record is the linked patient's, attaches it:
    its visit, lab results and re-exam slips are stored for that patient (slips booked, with their SMS,
    only now) and the decision is audited. Conflict when the patient is no longer linked there."""
    with transaction.atomic():
        record = _locked_held(record, actor)
        patient_id = record.candidate_patient_id
        if patient_id is None:
            raise DomainError(
                _("Mã của hồ sơ trùng với nhiều người bệnh; không gắn được tự động, hãy bỏ qua hồ sơ này."),
                code="no_candidate",
            )
        if not HisLink.objects.filter(facility=record.facility, patient_id=patient_id, active=True).exists():
            raise Conflict(
                _("Người bệnh không còn liên kết HIS tại cơ sở này; không gắn được hồ sơ."), code="not_linked"
            )
        if HisVisit.objects.filter(
            facility=record.facility, source=record.source, external_id=record.external_id
        ).exists():
            raise Conflict(_("Lượt khám này đã có trong hệ thống."), code="already_imported")
        payload = record.payload or {}
        try:
            visit_record, _identity = xmllib.visit_from_xml1((payload.get("xml1") or [{}])[0])
            labs = [
                xmllib.lab_from_xml4(row, visit_record.external_id, n)
                for n, row in enumerate(payload.get("xml4") or [], 1)
            ]
            slips = [
                xmllib.slip_from_xml14(row, visit_record.external_id) for row in payload.get("xml14") or []
            ]
        except xmllib.RecordError as exc:
            raise DomainError(exc.reason, code="invalid_record")
        [visit] = _write_visits(record.facility, record.import_run, [(visit_record, patient_id, labs, slips)])
        HisVisitSeen.objects.filter(
            facility=record.facility, source=record.source, external_id=record.external_id
        ).update(linked=True)
        record.status = HeldStatus.ATTACHED
        record.visit = visit
        record.decided_by = actor
        record.decided_at = timezone.now()
        record.save(update_fields=["status", "visit", "decided_by", "decided_at", "updated_at"])
        audit_log(
            actor=actor,
            action=AuditLog.Action.TRANSITION,
            verb="his_held_attach",
            target=record,
            facility=record.facility,
            data={
                "patient_id": patient_id,
                "external_id": record.external_id,
                "matched_by": record.matched_by,
                "mismatches": record.mismatches,
                "results": len(labs),
                "slips": len(slips),
            },
        )
    return visit


def held_record_dismiss(*, record: HisHeldRecord, actor: Any, reason: str) -> HisHeldRecord:
    """A HIS linker decides a held record is not the linked patient's: it stays attached to nobody, its
    clinical content is dropped (only who and why remain), and the decision is audited."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_("Vui lòng nhập lý do."), code="reason_required", field="reason")
    with transaction.atomic():
        record = _locked_held(record, actor)
        record.status = HeldStatus.DISMISSED
        record.payload = {}
        record.decision_note = reason[:300]
        record.decided_by = actor
        record.decided_at = timezone.now()
        record.save(
            update_fields=["status", "payload", "decision_note", "decided_by", "decided_at", "updated_at"]
        )
        audit_log(
            actor=actor,
            action=AuditLog.Action.TRANSITION,
            verb="his_held_dismiss",
            target=record,
            facility=record.facility,
            data={"external_id": record.external_id, "reason": record.decision_note},
        )
    return record
