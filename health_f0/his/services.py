"""HIS link writes: request a link, decide it (automatically or by the HIS linker), unlink; the printable
link form.

Guarantees:
* The HIS is asked before any database transaction opens (a slow HIS never holds a row lock), and the
  request is written with the answer in one transaction that locks the patient row, so a patient never
  has two open requests, nor an open request next to an active link, for one facility.
* An identifier the requester types is a claim, never a key: it is what the HIS is asked with and stays
  on the request (shown to the linker as the requester's claim); a link stores only the identifiers the HIS
  returned for the record that was chosen (the FHIR Patient, or the XML1 patient of that HIS code).
* Only an exact answer links automatically: exactly one HIS patient (FHIR lookup) whose identifier, name
  (accent- and case-insensitive, core.text.name_key) and date of birth all equal the patient's. Anything
  else (none, several, one that differs in any field, or a HIS that did not answer) goes to the linker's
  queue with the candidates and per-field match flags stored side by side.
* The linker links only a record the HIS returned: a candidate, or a HIS code that resolves through a FHIR
  lookup or to a patient of an XML file already imported (HisPatientRecord). Free text never links.
* One active link per (patient, facility) and per (facility, HIS patient): unique keys, checked under the
  patient lock for a clear message.
* Every status change goes through his.transitions.LINK_WORKFLOW.apply (roles at the facility or the
  patient's own account, the guards, the audit row with its from/to states; the system's decisions with
  actor None) and queues the patient's SMS, sent after commit by notifications.sms_enqueue. A new link
  queues the first FHIR pull of that patient's history after commit.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.actors import is_user
from health_f0.core.audit import audit_log
from health_f0.core.exceptions import Conflict, DomainError, NotFound, PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.core.text import name_key, unaccent
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.his.adapters import HisAdapter, HisPatient, HisUnavailable, adapter_for
from health_f0.his.identity import bhyt_key
from health_f0.his.models import (
    OPEN_LINK_STATUSES,
    HisLink,
    HisLinkRequest,
    HisPatientRecord,
    IdentifierType,
    LinkChannel,
    Source,
)
from health_f0.his.selectors import HIS_FACILITY_KINDS
from health_f0.his.transitions import LINK_WORKFLOW, chosen_candidate, unlink_subject
from health_f0.notifications.services import sms_enqueue
from health_f0.patients.identifiers import clean_bhyt, clean_cccd
from health_f0.patients.models import Patient

logger = logging.getLogger(__name__)

SMS_KIND = "his_link"
_HIS_CODE = re.compile(r"^[A-Za-z0-9._/-]{3,32}$")


# --- Identifiers -------------------------------------------------------------------------------------


def clean_identifier(identifier_type: str, raw: str) -> str:
    """The identifier in its canonical form, or DomainError(field="identifier") in the active language."""
    value = (raw or "").strip()
    if identifier_type == IdentifierType.BHYT:
        cleaned = _reraise_on_identifier(clean_bhyt, value)
    elif identifier_type == IdentifierType.CCCD:
        cleaned = _reraise_on_identifier(clean_cccd, value)
    elif identifier_type == IdentifierType.HIS_CODE:
        cleaned = re.sub(r"\s+", "", value).upper()
        if not _HIS_CODE.fullmatch(cleaned):
            raise DomainError(
                _("Mã người bệnh tại bệnh viện gồm 3–32 ký tự chữ, số hoặc . _ / -."),
                code="his_code_invalid",
                field="identifier",
            )
    else:
        raise DomainError(_("Loại mã không hợp lệ."), code="identifier_type_invalid", field="identifier_type")
    if not cleaned:
        raise DomainError(_("Vui lòng nhập mã."), code="required", field="identifier")
    return cleaned


def _reraise_on_identifier(fn: Any, value: str) -> str:
    try:
        return str(fn(value))
    except DomainError as exc:
        raise DomainError(exc.message, code=exc.code, field="identifier")


def _same_identifier(identifier_type: str, a: str, b: str) -> bool:
    if not a or not b:
        return False
    if identifier_type == IdentifierType.BHYT:
        return bhyt_key(a) != "" and bhyt_key(a) == bhyt_key(b)
    return a.strip().upper() == b.strip().upper()


# --- Facilities --------------------------------------------------------------------------------------


def his_facility_for(patient: Patient) -> Facility:
    """The hospital or health centre (TTYT) whose HIS holds the patient's visits: the nearest one up the
    tree from the patient's managing facility."""
    ids = [int(part) for part in patient.facility.path.strip("/").split("/") if part] or [patient.facility_id]
    by_id = {
        f.pk: f for f in Facility.objects.filter(id__in=ids, kind__in=HIS_FACILITY_KINDS, is_active=True)
    }
    for facility_id in reversed(ids):
        if facility_id in by_id:
            return by_id[facility_id]
    raise DomainError(_("Chưa xác định được bệnh viện/TTYT quản lý hồ sơ của bạn."), code="no_his_facility")


def _label(facility: Facility) -> str:
    return facility.short_name or unaccent(facility.name)


# --- Matching ----------------------------------------------------------------------------------------


def _candidate(
    found: HisPatient,
    patient: Patient,
    identifier_type: str,
    identifier: str,
    *,
    source: str = Source.FHIR,
    found_by: str = "request",
) -> dict[str, Any]:
    """One HIS answer next to the patient's own details, with what matches. `source`: fhir (the HIS's
    FHIR lookup) or xml (a patient of its imported XML1 rows); `found_by`: request (the lookup by the
    requester's claim) or linker (a HIS code the linker named)."""
    data = found.as_json()
    data["source"] = source
    data["found_by"] = found_by
    data["match"] = {
        "identifier": _same_identifier(
            identifier_type, found.identifiers.get(identifier_type, ""), identifier
        ),
        "name": bool(found.full_name) and name_key(found.full_name) == name_key(patient.full_name),
        "date_of_birth": found.date_of_birth == patient.date_of_birth,
    }
    return data


def _is_exact(candidates: list[dict[str, Any]]) -> bool:
    """One candidate, from the HIS's online lookup, matching in every field."""
    return (
        len(candidates) == 1
        and candidates[0].get("source", Source.FHIR) == Source.FHIR
        and all(candidates[0]["match"].values())
    )


def _record_patient(record: HisPatientRecord) -> HisPatient:
    """An imported XML1 patient as the HIS described it (its HIS code is the record's id)."""
    identifiers = {"his_code": record.his_code, "bhyt": record.bhyt, "cccd": record.cccd}
    return HisPatient(
        his_patient_id=record.his_code,
        full_name=record.full_name,
        date_of_birth=record.date_of_birth,
        sex=record.sex,
        identifiers={k: v for k, v in identifiers.items() if v},
    )


def _directory_lookup(facility: Facility, identifier_type: str, identifier: str) -> list[HisPatient]:
    """Patients of the facility's imported XML files with this identifier (at most 20)."""
    records = HisPatientRecord.objects.filter(facility=facility)
    if identifier_type == IdentifierType.HIS_CODE:
        records = records.filter(his_code=identifier.upper())
    elif identifier_type == IdentifierType.BHYT:
        key = bhyt_key(identifier)
        if not key:
            return []
        records = records.filter(bhyt_key=key)
    elif identifier_type == IdentifierType.CCCD:
        records = records.filter(cccd=identifier)
    else:
        return []
    return [_record_patient(r) for r in records.order_by("his_code")[:20]]


def _verified_identifiers(candidate: dict[str, Any]) -> dict[str, str]:
    """The identifiers the HIS returned for the chosen record, and nothing the requester typed. An XML1
    patient's id is its HIS code (MA_BN); a FHIR record's id is not, so its MA_BN is only what it listed."""
    ids = {
        kind: str(value).strip()
        for kind, value in (candidate.get("identifiers") or {}).items()
        if kind in IdentifierType.values and value and str(value).strip()
    }
    if candidate.get("source") == Source.XML:
        ids.setdefault(IdentifierType.HIS_CODE, candidate["his_patient_id"])
    return ids


# --- Locks and transitions ---------------------------------------------------------------------------


def _lock_patient(patient_id: int) -> None:
    if not Patient.objects.select_for_update().filter(pk=patient_id).values_list("pk", flat=True):
        raise NotFound(_("Không tìm thấy người bệnh."))


def _locked_request(request: HisLinkRequest) -> HisLinkRequest:
    _lock_patient(request.patient_id)
    try:
        return HisLinkRequest.objects.select_for_update().get(pk=request.pk)
    except HisLinkRequest.DoesNotExist:
        raise NotFound(_("Không tìm thấy yêu cầu liên kết."))


def _notify(request_or_link: Any, text: str) -> None:
    patient = request_or_link.patient
    sms_enqueue(
        to=patient.phone,
        body=f"{_label(request_or_link.facility)}: {text}",
        kind=SMS_KIND,
        facility=request_or_link.facility,
        subject_ref=f"his_link_request:{request_or_link.pk}"
        if isinstance(request_or_link, HisLinkRequest)
        else f"his_link:{request_or_link.pk}",
    )


def _short(reason: str, limit: int = 110) -> str:
    reason = " ".join((reason or "").split())
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def _link(request: HisLinkRequest, *, candidate: dict[str, Any], actor: Any, now: Any) -> HisLink:
    """Inside the request's transaction (patient locked), right after LINK_WORKFLOW took the request to
    "linked" (its guards: no active link yet, the HIS record not taken): make the active link to the HIS record
    `candidate` (one the HIS returned), with the identifiers the HIS gave for it, or Conflict on a race."""
    his_patient_id = candidate["his_patient_id"]
    ids = _verified_identifiers(candidate)
    born = candidate.get("date_of_birth")
    link = HisLink(
        patient=request.patient,
        facility=request.facility,
        request=request,
        his_patient_id=his_patient_id,
        identifiers=ids,
        bhyt_key=bhyt_key(ids.get("bhyt", "")),
        cccd=ids.get("cccd", "")[:12],
        his_code=ids.get("his_code", "").upper()[:32],
        record_source=candidate.get("source", Source.FHIR),
        his_full_name=str(candidate.get("full_name") or "")[:200],
        his_date_of_birth=date.fromisoformat(born) if born else None,
        linked_at=now,
        linked_by=actor if is_user(actor) else None,
    )
    try:
        with transaction.atomic():
            link.save()
    except IntegrityError:
        raise Conflict(_("Liên kết này vừa được tạo bởi người khác."), code="already_linked")
    transaction.on_commit(lambda: _queue_backfill(link.pk))
    return link


def _queue_backfill(link_id: int) -> None:
    if not settings.HIS_FHIR_BASE_URL:
        return
    from health_f0.his.tasks import his_backfill_link

    try:
        his_backfill_link(link_id)
    except Exception:  # the periodic task retries links whose history was not pulled yet
        logger.exception("could not queue the FHIR history pull of HIS link %s", link_id)


# --- Services ----------------------------------------------------------------------------------------


def _lookup(
    adapter: HisAdapter, facility: Facility, patient: Patient, identifier_type: str, identifier: str
) -> tuple[list[dict[str, Any]], str]:
    """The candidates for the requester's claim: what the HIS's FHIR lookup returned, then patients of its
    imported XML files with that identifier (not already returned online), with their match flags."""
    try:
        online = adapter.find_patients(identifier_type=identifier_type, identifier=identifier)
        error = ""
    except HisUnavailable as exc:
        online, error = [], f"HIS chưa phản hồi: {_short(str(exc), 200)}"
    candidates = [_candidate(f, patient, identifier_type, identifier) for f in online]
    known = {c["his_patient_id"] for c in candidates} | {
        (c.get("identifiers") or {}).get("his_code", "").upper() for c in candidates
    }
    candidates += [
        _candidate(f, patient, identifier_type, identifier, source=Source.XML)
        for f in _directory_lookup(facility, identifier_type, identifier)
        if f.his_patient_id not in known
    ]
    return candidates, error


def _find_record(facility: Facility, code: str, adapter: HisAdapter) -> tuple[HisPatient, str]:
    """The HIS record a HIS code names: the FHIR lookup first, then the patients of the XML files already
    imported. DomainError when the code names nothing the HIS returned (free text never links)."""
    code = (code or "").strip()
    unavailable = ""
    finder = getattr(adapter, "find_patient_by_code", None)
    if finder is not None:
        try:
            found = finder(code)
        except HisUnavailable as exc:
            found, unavailable = None, str(exc)
        if found is not None:
            return found, Source.FHIR
    record = HisPatientRecord.objects.filter(facility=facility, his_code=code.upper()[:32]).first()
    if record is not None:
        return _record_patient(record), Source.XML
    if unavailable:
        raise DomainError(
            _("HIS chưa phản hồi nên chưa tra được mã %(code)s; vui lòng thử lại sau.") % {"code": code},
            code="his_unavailable",
            field="his_patient_id",
        )
    raise DomainError(
        _(
            "Không tìm thấy hồ sơ mã %(code)s trong HIS hay trong các tệp XML đã nhập. Chỉ liên kết được "
            "hồ sơ mà HIS trả về."
        )
        % {"code": code},
        code="his_record_not_found",
        field="his_patient_id",
    )


def link_request_create(
    *,
    patient: Patient,
    identifier_type: str,
    identifier: str,
    channel: str,
    actor: Any,
    facility: Facility | None = None,
    adapter: HisAdapter | None = None,
) -> HisLinkRequest:
    """A patient (portal/app, for themselves or their family) or reception (at the counter) asks to link the
    patient's account to the HIS record with this identifier. Returns the request, already linked when the
    HIS answered with one exact match, otherwise waiting in the linker's queue (needs_review)."""
    facility = facility or his_facility_for(patient)
    if channel == LinkChannel.RECEPTION:
        access.require_role_at(actor, facility, access.HIS_COUNTER_ROLES)
    elif channel in (LinkChannel.PORTAL, LinkChannel.APP):
        if not access.owns_patient(actor, patient):
            raise PermissionDenied(
                _("Bạn chỉ có thể gửi yêu cầu liên kết cho bản thân hoặc người thân trong tài khoản.")
            )
    else:
        raise DomainError(_("Kênh gửi yêu cầu không hợp lệ."), code="invalid_channel", field="channel")
    identifier = clean_identifier(identifier_type, identifier)
    _check_can_request(patient, facility)  # fail fast before asking the HIS (checked again under the lock)

    candidates, lookup_error = _lookup(
        adapter or adapter_for(facility), facility, patient, identifier_type, identifier
    )
    now = timezone.now()
    with transaction.atomic():
        _lock_patient(patient.pk)
        _check_can_request(patient, facility)
        request = HisLinkRequest.objects.create(
            patient=patient,
            facility=facility,
            identifier_type=identifier_type,
            identifier=identifier,
            channel=channel,
            candidates=candidates,
            lookup_error=lookup_error[:300],
            created_by=actor if is_user(actor) else None,
        )
        audit_log(
            actor=actor,
            action=AuditLog.Action.CREATE,
            verb="his_link_request",
            target=request,
            facility=facility,
            data={"channel": channel, "identifier_type": identifier_type, "candidates": len(candidates)},
        )
        if _is_exact(candidates) and not lookup_error:
            _decide_auto(request, candidates[0], now)
        else:
            LINK_WORKFLOW.apply(
                request,
                "to_review",
                None,
                now=now,
                verb="his_link_to_review",
                audit={"candidates": len(candidates), "lookup_error": bool(lookup_error)},
            )
    return request


def _check_can_request(patient: Patient, facility: Facility) -> None:
    if HisLink.objects.filter(patient=patient, facility=facility, active=True).exists():
        raise Conflict(_("Tài khoản đã được liên kết với hồ sơ bệnh viện này."), code="already_linked")
    if HisLinkRequest.objects.filter(
        patient=patient, facility=facility, status__in=OPEN_LINK_STATUSES
    ).exists():
        raise Conflict(
            _("Đã có một yêu cầu liên kết đang chờ xử lý, vui lòng chờ cán bộ kiểm tra."),
            code="request_pending",
        )


def _decide_auto(request: HisLinkRequest, candidate: dict[str, Any], now: Any) -> None:
    LINK_WORKFLOW.apply(
        request,
        "auto_link",
        None,
        now=now,
        fields={"his_patient_id": candidate["his_patient_id"], "auto_linked": True, "decided_at": now},
        verb="his_auto_link",
        audit={"his_patient_id": candidate["his_patient_id"], "match": candidate["match"]},
        params={"his_patient_id": candidate["his_patient_id"]},
    )
    _link(request, candidate=candidate, actor=None, now=now)
    _notify(
        request,
        "tai khoan cua ban da duoc lien ket voi ho so benh vien. "
        f"Xem lich su kham va ket qua xet nghiem tai {settings.PORTAL_URL}",
    )


def link_request_approve(
    *, request: HisLinkRequest, actor: Any, his_patient_id: str, adapter: HisAdapter | None = None
) -> HisLink:
    """A HIS linker links the request to one HIS record: one of its candidates, or a HIS code that resolves
    to a record the HIS returned (FHIR lookup) or to a patient of its imported XML files; that record is
    then kept among the candidates. The link carries only the identifiers the HIS gave for the record;
    the requester's typed identifier stays on the request as a claim. DomainError for anything else."""
    his_patient_id = (his_patient_id or "").strip()
    if not 1 <= len(his_patient_id) <= 64:
        raise DomainError(
            _("Vui lòng nhập mã người bệnh trong HIS."), code="required", field="his_patient_id"
        )
    LINK_WORKFLOW.check(request, "approve", actor)  # fail fast, before asking the HIS (again under the lock)
    found: tuple[HisPatient, str] | None = None
    if chosen_candidate(request, his_patient_id) is None:
        found = _find_record(request.facility, his_patient_id, adapter or adapter_for(request.facility))
    with transaction.atomic():
        request = _locked_request(request)
        LINK_WORKFLOW.check(request, "approve", actor)
        candidate = chosen_candidate(request, his_patient_id)
        if candidate is None and found is not None:
            candidate = chosen_candidate(request, found[0].his_patient_id)
            if candidate is None:
                candidate = _candidate(
                    found[0],
                    request.patient,
                    request.identifier_type,
                    request.identifier,
                    source=found[1],
                    found_by="linker",
                )
                request.candidates = [*request.candidates, candidate]
        if candidate is None:  # the candidates changed under us (a look-up again replaced them)
            raise Conflict(_("Hồ sơ HIS đã chọn không còn trong yêu cầu; vui lòng tải lại trang."))
        now = timezone.now()
        LINK_WORKFLOW.apply(
            request,
            "approve",
            actor,
            now=now,
            fields={
                "candidates": request.candidates,
                "his_patient_id": candidate["his_patient_id"],
                "decided_by": actor,
                "decided_at": now,
            },
            verb="his_link_approve",
            audit={
                "his_patient_id": candidate["his_patient_id"],
                "record_source": candidate.get("source", Source.FHIR),
                "found_by": candidate.get("found_by", "request"),
                "identifiers": sorted(_verified_identifiers(candidate)),
            },
            params={"his_patient_id": candidate["his_patient_id"]},
        )
        link = _link(request, candidate=candidate, actor=actor, now=now)
        _notify(
            request,
            "tai khoan cua ban da duoc lien ket voi ho so benh vien. "
            f"Xem lich su kham va ket qua xet nghiem tai {settings.PORTAL_URL}",
        )
    return link


def link_request_find_record(
    *, request: HisLinkRequest, actor: Any, his_code: str, adapter: HisAdapter | None = None
) -> HisLinkRequest:
    """The linker names a HIS code (read from the HIS, the patient's visit slip or the link form): it is
    resolved against the HIS (FHIR lookup) or the patients of its imported XML files and added to the
    request's candidates, so the screen shows that record's name, date of birth and identifiers beside the
    account before anyone links. DomainError when the code names no record the HIS returned."""
    his_code = re.sub(r"\s+", "", his_code or "")
    if not 1 <= len(his_code) <= 64:
        raise DomainError(_("Vui lòng nhập mã người bệnh trong HIS."), code="required", field="his_code")
    LINK_WORKFLOW.check(request, "lookup", actor)
    found, source = _find_record(request.facility, his_code, adapter or adapter_for(request.facility))
    with transaction.atomic():
        request = _locked_request(request)
        LINK_WORKFLOW.check(request, "lookup", actor)
        if chosen_candidate(request, found.his_patient_id) is None:
            request.candidates = [
                *request.candidates,
                _candidate(
                    found,
                    request.patient,
                    request.identifier_type,
                    request.identifier,
                    source=source,
                    found_by="linker",
                ),
            ]
            request.save(update_fields=["candidates", "updated_at"])
        audit_log(
            actor=actor,
            action=AuditLog.Action.UPDATE,
            verb="his_link_find_record",
            target=request,
            facility=request.facility,
            data={"his_patient_id": found.his_patient_id, "source": source},
        )
    return request


@transaction.atomic
def link_request_reject(*, request: HisLinkRequest, actor: Any, reason: str) -> HisLinkRequest:
    """A HIS linker rejects the request with a reason the patient reads in the SMS."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_("Vui lòng nhập lý do từ chối."), code="reason_required", field="reason")
    request = _locked_request(request)
    now = timezone.now()
    LINK_WORKFLOW.apply(
        request,
        "reject",
        actor,
        now=now,
        fields={"reason": reason[:300], "decided_by": actor, "decided_at": now},
        verb="his_link_reject",
        audit={"reason": reason[:300]},
    )
    hotline = f" Lien he {request.facility.hotline}." if request.facility.hotline else ""
    _notify(request, f"yeu cau lien ket ho so benh vien chua duoc chap nhan: {_short(reason)}.{hotline}")
    return request


def link_request_lookup(
    *, request: HisLinkRequest, actor: Any, adapter: HisAdapter | None = None
) -> HisLinkRequest:
    """The linker asks the HIS again with the requester's claim (it was down, or the patient's record was
    just created there). The request stays in the queue with the fresh candidates (records the linker named
    by HIS code are kept): a person decides from here on."""
    LINK_WORKFLOW.check(request, "lookup", actor)  # fail fast, before asking the HIS (again under the lock)
    found, lookup_error = _lookup(
        adapter or adapter_for(request.facility),
        request.facility,
        request.patient,
        request.identifier_type,
        request.identifier,
    )
    with transaction.atomic():
        request = _locked_request(request)
        LINK_WORKFLOW.check(request, "lookup", actor)
        fresh = {c["his_patient_id"] for c in found}
        named = [
            c
            for c in request.candidates
            if c.get("found_by") == "linker" and c.get("his_patient_id") not in fresh
        ]
        request.candidates = [*found, *named]  # records the linker named stay
        request.lookup_error = lookup_error[:300]
        request.save(update_fields=["candidates", "lookup_error", "updated_at"])
        audit_log(
            actor=actor,
            action=AuditLog.Action.UPDATE,
            verb="his_link_lookup",
            target=request,
            facility=request.facility,
            data={"candidates": len(found)},
        )
    return request


@transaction.atomic
def link_unlink(*, link: HisLink, actor: Any, reason: str) -> HisLink:
    """End a link (a wrong person, or the patient's wish). Imported data stays, but the patient's portal
    shows only data of active links."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_("Vui lòng nhập lý do huỷ liên kết."), code="reason_required", field="reason")
    _lock_patient(link.patient_id)
    try:
        link = HisLink.objects.select_for_update().get(pk=link.pk)
    except HisLink.DoesNotExist:
        raise NotFound(_("Không tìm thấy liên kết."))
    request = (
        HisLinkRequest.objects.select_for_update().filter(pk=link.request_id).first()
        if link.request_id and link.active
        else None
    )
    now = timezone.now()
    if request is not None:
        # The request's status: linked -> unlinked, through the workflow (roles, the live-link guard, audit).
        LINK_WORKFLOW.apply(
            request,
            "unlink",
            actor,
            now=now,
            verb="his_link_unlinked",
            audit={"link": link.pk},
            params={"link": link},
        )
    else:  # no request to move (an older link, or one already ended): the same roles and guard decide
        LINK_WORKFLOW.check(unlink_subject(link), "unlink", actor, now=now, link=link)
    link.active = False
    link.active_marker = None
    link.unlinked_at = now
    link.unlinked_by = actor if is_user(actor) else None
    link.unlink_reason = reason[:300]
    link.save(
        update_fields=["active", "active_marker", "unlinked_at", "unlinked_by", "unlink_reason", "updated_at"]
    )
    audit_log(
        actor=actor,
        action=AuditLog.Action.TRANSITION,
        verb="his_unlink",
        target=link,
        facility=link.facility,
        data={"reason": link.unlink_reason, "his_patient_id": link.his_patient_id},
    )
    _notify(link, f"da huy lien ket tai khoan voi ho so benh vien: {_short(reason)}.")
    return link


# --- The printable link form -------------------------------------------------------------------------


def link_form_pdf(*, request: HisLinkRequest) -> bytes:
    """The link form (A4, Vietnamese): the patient's details, the identifier given, and a QR code carrying the
    request's public id for the linker to scan. Callers check access (the patient, reception, the linker)."""
    import segno
    from django.template.loader import render_to_string
    from weasyprint import HTML

    qr_payload = f"HF0-HIS:{request.public_id}"
    qr_svg = segno.make(qr_payload, error="m").svg_inline(scale=3, dark="#0b3d2e")
    html = render_to_string(
        "his/link_form.html",
        {
            "request": request,
            "patient": request.patient,
            "facility": request.facility,
            "qr_svg": qr_svg,
            "qr_payload": qr_payload,
            "printed_on": timezone.localdate(),
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()  # type: ignore[no-any-return]


# --- Staff reads of HIS records (audited) --------------------------------------------------------------


def his_records_view(*, actor: Any, records: list[Any], verb: str = "view_his_records") -> int:
    """Audit a staff read of patients' HIS data (link requests with their candidates, links, visits, lab
    results, slips): one VIEW row per patient shown, target the patient, naming the records read. `records`
    must carry `patient` (select_related) and `facility_id`. Returns the number of rows written."""
    from health_f0.core.request_context import current_ip

    if not records or not is_user(actor):
        return 0
    by_patient: dict[int, tuple[Any, int, list[int]]] = {}
    for record in records:
        patient_obj = record.patient
        entry = by_patient.setdefault(patient_obj.pk, (patient_obj, record.facility_id, []))
        entry[2].append(record.pk)
    label = records[0]._meta.label_lower
    AuditLog.objects.bulk_create(
        [
            AuditLog(
                actor=actor,
                actor_label=actor.get_username()[:150],
                action=AuditLog.Action.VIEW,
                verb=verb,
                target_type=Patient._meta.label_lower,
                target_id=str(patient_obj.pk),
                target_repr=str(patient_obj)[:255],
                facility_id=facility_id,
                data={"model": label, "ids": ids[:200]},
                ip_address=current_ip(),
            )
            for patient_obj, facility_id, ids in by_patient.values()
        ]
    )
    return len(by_patient)


__all__ = [
    "bhyt_key",
    "clean_identifier",
    "his_facility_for",
    "his_records_view",
    "link_form_pdf",
    "link_request_approve",
    "link_request_create",
    "link_request_find_record",
    "link_request_lookup",
    "link_request_reject",
    "link_unlink",
]
