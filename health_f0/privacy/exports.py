"""A patient's copy of their data (the right of access): everything the province holds about the account's
patients, as machine-readable JSON streamed row by row (a long history never has to fit in memory or in
one request's time budget) or as a readable PDF built in the background with its progress saved.

What is left out, and why: other people's data (staff user ids, the HIS candidates of a link request, which
name other patients), secrets (password and OTP hashes, encrypted SMS bodies, token hashes) and internal
keys. The audit trail of who read the record is the Department's own log, not part of the copy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.audit import audit_log
from health_f0.core.exceptions import NotFound
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.privacy import selectors
from health_f0.privacy.models import DataExport, ExportStatus

logger = logging.getLogger(__name__)

BATCH = 500
# Fields never exported, whatever the model: internal keys and secrets.
_ALWAYS_EXCLUDED = {
    "id",
    "open_key",
    "idempotency_key",
    "code_hash",
    "body_encrypted",
    "key_hash",
    "active_marker",
    "bhyt_key",
    # Registration's stored sort keys of the queue (generated from status, eligibility and decided_at).
    "queue_rank",
    "decided_sort",
}


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    rows: Callable[[list[int], list[str], Any], QuerySet[Any]]
    exclude: frozenset[str] = frozenset()


def _sections() -> list[Section]:
    from health_f0.appointments.models import Appointment, ReexamPlan
    from health_f0.his.models import (
        HisLabReport,
        HisLabResult,
        HisLink,
        HisLinkRequest,
        HisReexamSlip,
        HisVisit,
    )
    from health_f0.monitoring.models import Alert, Declaration, Episode
    from health_f0.notifications.models import OutboxMessage
    from health_f0.patients.models import Patient
    from health_f0.privacy.models import DataSubjectRequest
    from health_f0.registration.models import Registration

    def by_patient(model: Any) -> Callable[[list[int], list[str], Any], QuerySet[Any]]:
        return lambda ids, phones, user: model.objects.filter(patient_id__in=ids)

    return [
        Section(
            "patients", _("Thông tin cá nhân"), lambda ids, phones, user: Patient.objects.filter(pk__in=ids)
        ),
        Section(
            "registrations",
            _("Đăng ký chăm sóc tại nhà"),
            # Registrations not (yet) linked to a patient belong to the family by the same phone rule.
            lambda ids, phones, user: Registration.objects.filter(
                Q(patient_id__in=ids) | Q(patient__isnull=True, phone__in=phones)
            ),
        ),
        Section("episodes", _("Đợt theo dõi tại nhà và giấy xác nhận"), by_patient(Episode)),
        Section("declarations", _("Khai báo sức khoẻ hằng ngày"), by_patient(Declaration)),
        Section(
            "alerts",
            _("Cảnh báo dấu hiệu nguy hiểm"),
            lambda ids, phones, user: Alert.objects.filter(episode__patient_id__in=ids),
            # The alert's copy of its declaration's public id and answers (the list's, monitoring.Alert): the
            # declarations' section holds them; the alert names its declaration.
            frozenset({"declaration_public_id", "declaration_answers"}),
        ),
        Section("appointments", _("Lịch hẹn khám"), by_patient(Appointment)),
        Section("reexam_plans", _("Kế hoạch tái khám"), by_patient(ReexamPlan)),
        Section(
            "his_link_requests",
            _("Yêu cầu liên kết hồ sơ bệnh viện"),
            by_patient(HisLinkRequest),
            frozenset({"candidates", "lookup_error"}),
        ),
        Section("his_links", _("Liên kết hồ sơ bệnh viện"), by_patient(HisLink)),
        Section("his_visits", _("Lượt khám tại bệnh viện"), by_patient(HisVisit)),
        Section("his_lab_reports", _("Phiếu kết quả cận lâm sàng"), by_patient(HisLabReport)),
        Section(
            "his_lab_results",
            _("Kết quả xét nghiệm"),
            by_patient(HisLabResult),
            # The stored list position (HisLabResult.sort_at, sort_report): derived, not the patient's data.
            exclude=frozenset({"sort_at", "sort_report"}),
        ),
        Section("his_reexam_slips", _("Giấy hẹn khám lại"), by_patient(HisReexamSlip)),
        Section(
            "consents",
            _("Lịch sử đồng ý xử lý dữ liệu"),
            lambda ids, phones, user: access.consents_for(user),
            frozenset({"ip_address"}),
        ),
        Section(
            "data_requests",
            _("Yêu cầu xoá, rút lại sự đồng ý"),
            lambda ids, phones, user: DataSubjectRequest.objects.filter(
                Q(patient_id__in=ids) | Q(requested_by=user)
            ),
        ),
        Section(
            "messages",
            _("Tin nhắn đã gửi tới số điện thoại"),
            lambda ids, phones, user: OutboxMessage.objects.filter(to__in=phones),
            frozenset({"last_error", "gateway", "provider_message_id", "next_attempt_at", "attempts"}),
        ),
    ]


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return None
    return value


def _fields(model: Any, exclude: frozenset[str]) -> list[models.Field[Any, Any]]:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    chosen = []
    for f in model._meta.concrete_fields:
        if f.name in _ALWAYS_EXCLUDED or f.name in exclude:
            continue
        # Staff accounts (who confirmed, who decided) are other people's data; the record keeps the fact.
        if f.is_relation and f.related_model is user_model:
            continue
        chosen.append(f)
    return chosen


def _relation_labels(fields: list[models.Field[Any, Any]], batch: list[Any]) -> dict[str, dict[Any, Any]]:
    """For each foreign key of the batch: related id -> what the reader needs (a facility's name, another
    record's public id). One query per foreign key per batch."""
    from health_f0.facilities.models import Facility

    labels: dict[str, dict[Any, Any]] = {}
    for f in fields:
        if not f.is_relation:
            continue
        ids = {getattr(obj, f.attname) for obj in batch} - {None}
        related: Any = f.related_model
        if not ids:
            labels[f.name] = {}
        elif related is Facility:
            labels[f.name] = dict(Facility.objects.filter(pk__in=ids).values_list("pk", "name"))
        elif any(x.name == "public_id" for x in related._meta.concrete_fields):
            labels[f.name] = {
                pk: str(public_id)
                for pk, public_id in related.objects.filter(pk__in=ids).values_list("pk", "public_id")
            }
        else:
            labels[f.name] = {pk: str(pk) for pk in ids}
    return labels


def _rows(section: Section, queryset: QuerySet[Any]) -> Iterator[dict[str, Any]]:
    fields = _fields(queryset.model, section.exclude)
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk")[:BATCH])
        if not batch:
            return
        labels = _relation_labels(fields, batch)
        for obj in batch:
            row: dict[str, Any] = {}
            for f in fields:
                raw = getattr(obj, f.attname)
                row[f.name] = labels[f.name].get(raw) if f.is_relation else _value(raw)
            if section.key == "messages" and obj.is_secret:
                row["body"] = ""
            yield row
        last = batch[-1].pk


def _subjects(user: Any) -> tuple[list[int], list[str]]:
    """The account's patients (its own and its family's, by the verified phone bond: access.own_patients_for)
    and those patients' phones. The account's own `User.phone` is never used: it is an editable field that
    no OTP proved, so matching texts or unlinked registrations on it would hand over whatever was sent to,
    or filed under, any number typed into it."""
    patients = list(access.own_patients_for(user).values_list("pk", "phone"))
    ids = [pk for pk, _phone in patients]
    phones = sorted({phone for _pk, phone in patients if phone})
    return ids, phones


def _audit_export(user: Any, ids: list[int], fmt: str) -> None:
    from health_f0.patients.models import Patient

    for patient in Patient.objects.filter(pk__in=ids).select_related("facility"):
        audit_log(
            actor=user,
            action=AuditLog.Action.EXPORT,
            verb=f"export_{fmt}",
            target=patient,
            facility=patient.facility,
        )


def export_json_stream(*, user: Any) -> Iterator[str]:
    """The account's data as one JSON document, produced in pieces. The export is audited (one row per
    patient) before the first piece."""
    ids, phones = _subjects(user)
    with transaction.atomic():
        _audit_export(user, ids, "json")
    return _json_pieces(user, ids, phones)


def _json_pieces(user: Any, ids: list[int], phones: list[str]) -> Iterator[str]:
    head = {
        "format": "health_f0.personal-data-export/1",
        "exported_at": timezone.localtime().isoformat(),
        "policy_version": selectors.policy_current().version,
        "account": getattr(user, "username", ""),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "sections": {'
    for index, section in enumerate(_sections()):
        yield ("," if index else "") + json.dumps(section.key) + ": ["
        for number, row in enumerate(_rows(section, section.rows(ids, phones, user))):
            yield ("," if number else "") + json.dumps(row, ensure_ascii=False)
        yield "]"
    yield "}}"


# --- PDF, built in the background -------------------------------------------------------------------------


def export_dir() -> Path:
    folder = Path(settings.VAR_DIR) / "privacy-exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export_path(export: DataExport) -> Path:
    return export_dir() / export.file_name


@transaction.atomic
def export_pdf_request(*, user: Any) -> DataExport:
    """Queue a readable PDF of the account's data (one at a time: a request while one is being built returns
    that one)."""
    ids, _phones = _subjects(user)
    if not ids:
        raise NotFound(_("Tài khoản này chưa có hồ sơ người bệnh nào."))
    running = (
        access.data_exports_for(user)
        .filter(status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING], expires_at__gt=timezone.now())
        .first()
    )
    if running is not None:
        return running
    export = DataExport.objects.create(
        requested_by=user,
        patient_ids=ids,
        expires_at=timezone.now() + timedelta(hours=settings.PRIVACY_EXPORT_HOURS),
    )
    audit_log(actor=user, action=AuditLog.Action.CREATE, verb="request_export", target=export)

    def queue() -> None:
        from health_f0.privacy.tasks import build_export

        try:
            build_export(export.pk)
        except Exception:  # the worker being away must not lose the request: the page offers a retry
            logger.exception("could not queue export %s", export.pk)

    transaction.on_commit(queue)
    return export


def _label(model: Any, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except Exception:  # noqa: BLE001 - an extra key (none today) simply shows its name
        return name


def _choice(model: Any, name: str, value: Any) -> Any:
    """A coded value as its label ("male" -> "Nam")."""
    try:
        field = model._meta.get_field(name)
    except Exception:  # noqa: BLE001 - not a field: shown as it is
        return value
    if getattr(field, "choices", None) and isinstance(value, str | int):
        return str(dict(field.flatchoices).get(value, value))
    return value


def _display(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Có") if value else _("Không")
    if isinstance(value, list):
        return ", ".join(_display(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_display(v)}" for k, v in value.items()) or "—"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value).strftime("%d/%m/%Y %H:%M")
        except ValueError:
            return value
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return str(value)


def export_pdf_build(*, export_id: int) -> DataExport | None:
    """Build the PDF of an export (the background job). Saves its progress per section; a failure is recorded
    on the row (the portal offers to try again), never lost."""
    from weasyprint import HTML

    with transaction.atomic():
        export = DataExport.objects.select_for_update(skip_locked=True).filter(pk=export_id).first()
        if export is None or export.status != ExportStatus.QUEUED:
            return export
        export.status = ExportStatus.RUNNING
        export.save(update_fields=["status", "updated_at"])
    user = export.requested_by
    try:
        ids = [pk for pk in export.patient_ids if access.own_patients_for(user).filter(pk=pk).exists()]
        _ids, phones = _subjects(user)
        sections = _sections()
        rendered = []
        for index, section in enumerate(sections):
            queryset = section.rows(ids, phones, user)
            rows = list(_rows(section, queryset))
            if rows:
                columns = list(rows[0].keys())
                rendered.append(
                    {
                        "title": section.title,
                        "count": len(rows),
                        "records": [
                            [
                                (_label(queryset.model, c), _display(_choice(queryset.model, c, row[c])))
                                for c in columns
                            ]
                            for row in rows
                        ],
                    }
                )
            DataExport.objects.filter(pk=export.pk).update(progress=int(90 * (index + 1) / len(sections)))
        html = render_to_string(
            "privacy/export.html",
            {
                "sections": rendered,
                "account": user.get_username(),
                "generated_at": timezone.localtime(),
                "policy_version": selectors.policy_current().version,
            },
        )
        export.file_name = f"{export.public_id}.pdf"
        pdf = HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
        export_path(export).write_bytes(pdf)
        with transaction.atomic():
            _audit_export(user, ids, "pdf")
            DataExport.objects.filter(pk=export.pk).update(
                status=ExportStatus.READY,
                progress=100,
                file_name=export.file_name,
                size_bytes=len(pdf),
                finished_at=timezone.now(),
                updated_at=timezone.now(),
            )
    except Exception as exc:  # noqa: BLE001 - recorded on the row, shown to the patient, logged for IT
        logger.exception("export %s failed", export.pk)
        DataExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED,
            error=f"{exc.__class__.__name__}: {exc}"[:255],
            updated_at=timezone.now(),
        )
    export.refresh_from_db()
    return export


def export_retry(*, export: DataExport, user: Any) -> DataExport:
    """Queue again an export that failed."""
    if export.status != ExportStatus.FAILED:
        return export
    DataExport.objects.filter(pk=export.pk).update(status=ExportStatus.QUEUED, progress=0, error="")
    export.refresh_from_db()
    audit_log(actor=user, action=AuditLog.Action.UPDATE, verb="retry_export", target=export)

    from health_f0.privacy.tasks import build_export

    build_export(export.pk)
    export.refresh_from_db()
    return export
