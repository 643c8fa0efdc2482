"""What the HIS desk pages show, built from records: the status badges, the queue card (the patient next to the
HIS candidates, with what matches), the held XML record card, an import run's progress bar. No decisions here:
which buttons a card offers comes from LINK_WORKFLOW.available (his.transitions)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from health_f0.core.phone import display_phone
from health_f0.desk.formatting import badge, duration_label, fmt_date, fmt_datetime
from health_f0.his.forms import ApproveForm, DismissHeldForm, FindRecordForm, RejectForm
from health_f0.his.models import (
    HisHeldRecord,
    HisLink,
    HisLinkRequest,
    HoldReason,
    IdentifierType,
    ImportRun,
    LabFlag,
    LinkStatus,
    RunStatus,
)
from health_f0.his.transitions import LINK_WORKFLOW

LINK_STATUS_BADGE: dict[str, str | None] = {
    LinkStatus.REQUESTED: "info",
    LinkStatus.NEEDS_REVIEW: "warning",
    LinkStatus.LINKED: "success",
    LinkStatus.REJECTED: "danger",
    LinkStatus.UNLINKED: None,
}
RUN_STATUS_BADGE: dict[str, str | None] = {
    RunStatus.RUNNING: "info",
    RunStatus.DONE: "success",
    RunStatus.FAILED: "danger",
}
FLAG_BADGE: dict[str, str | None] = {
    LabFlag.HIGH: "danger",
    LabFlag.LOW: "warning",
    LabFlag.NORMAL: "success",
}
SEX_LABELS = {"male": _("Nam"), "female": _("Nữ"), "other": _("Khác")}
SOURCE_LABELS = {"fhir": _("HIS trả về (FHIR)"), "xml": _("từ tệp XML của HIS")}


def link_status_badge(req: HisLinkRequest) -> SafeString:
    return badge(req.get_status_display(), LINK_STATUS_BADGE.get(req.status))


def run_status_badge(run: ImportRun) -> SafeString:
    return badge(run.get_status_display(), RUN_STATUS_BADGE.get(run.status))


def iso_date(value: Any) -> str:
    try:
        return fmt_date(date.fromisoformat(str(value)[:10])) if value else "—"
    except ValueError:
        return str(value)


def identifier_label(kind: str) -> str:
    return str(dict(IdentifierType.choices).get(kind, kind))


def match_cell(value: str, matches: bool | None) -> dict[str, Any]:
    return {"value": value or "—", "matches": matches}


def ids_text(ids: dict[str, str]) -> str:
    """Identifiers in a fixed order (HIS code, BHYT, CCCD), each named."""
    order = (IdentifierType.HIS_CODE, IdentifierType.BHYT, IdentifierType.CCCD)
    return "; ".join(f"{identifier_label(kind)}: {ids[kind]}" for kind in order if ids.get(kind))


# --- The queue card: the patient and the HIS candidates side by side ---------------------------------


def candidate_table(req: HisLinkRequest) -> dict[str, Any]:
    """Rows (one per field) x columns (the patient's account, then each HIS record the HIS returned). Each
    HIS cell says in words whether it matches ("Khớp" / "Không khớp"), not by colour only. The identifier
    the requester typed is a row of its own, labelled as an unverified claim, never as the account's data."""
    patient = req.patient
    fields = [
        ("name", _("Họ và tên")),
        ("date_of_birth", _("Ngày sinh")),
        ("claim", _("Mã người yêu cầu khai (chưa xác minh)")),
        ("ids", _("Mã định danh")),
        ("sex", _("Giới tính")),
        ("address", _("Địa chỉ")),
    ]
    patient_values = {
        "name": patient.full_name,
        "date_of_birth": fmt_date(patient.date_of_birth),
        "claim": f"{req.get_identifier_type_display()}: {req.identifier}",
        "ids": ids_text({IdentifierType.CCCD: patient.cccd, IdentifierType.BHYT: patient.bhyt}),
        "sex": str(SEX_LABELS.get(patient.sex, patient.sex)),
        "address": ", ".join(p for p in (patient.street, patient.ward_name) if p),
    }
    columns = []
    for candidate in req.candidates:
        match = candidate.get("match") or {}
        ids = {k: str(v) for k, v in (candidate.get("identifiers") or {}).items() if v}
        claimed = ids.get(req.identifier_type, "")
        cells = {
            "name": match_cell(candidate.get("full_name", ""), bool(match.get("name"))),
            "date_of_birth": match_cell(
                iso_date(candidate.get("date_of_birth")), bool(match.get("date_of_birth"))
            ),
            "claim": match_cell(
                f"{identifier_label(req.identifier_type)}: {claimed}" if claimed else "",
                bool(match.get("identifier")),
            ),
            "ids": match_cell(ids_text(ids), None),
            "sex": match_cell(str(SEX_LABELS.get(candidate.get("sex", ""), candidate.get("sex", ""))), None),
            "address": match_cell(candidate.get("address", ""), None),
        }
        mismatches = [str(label) for key, label in fields[:3] if cells[key]["matches"] is False]
        columns.append(
            {
                "his_patient_id": candidate.get("his_patient_id", ""),
                "source": str(SOURCE_LABELS.get(candidate.get("source") or "fhir", "")),
                "named_by_linker": candidate.get("found_by") == "linker",
                "cells": cells,
                "mismatches": mismatches,
                "exact": not mismatches,
            }
        )
    rows = [
        {
            "key": key,
            "label": label,
            "patient": patient_values[key] or "—",
            "candidates": [column["cells"][key] for column in columns],
        }
        for key, label in fields
    ]
    return {"rows": rows, "columns": columns}


def request_card(request: HttpRequest, req: HisLinkRequest) -> dict[str, Any]:
    """One request as the queue and the detail page show it; its buttons are the workflow's open actions."""
    actions = LINK_WORKFLOW.available(req, request.user)
    return {
        "req": req,
        "patient": req.patient,
        "phone": display_phone(req.patient.phone),
        "status": link_status_badge(req),
        "waiting": duration_label(timezone.now() - req.created_at),
        "created": fmt_datetime(req.created_at),
        "table": candidate_table(req),
        # The buttons: the actions LINK_WORKFLOW opens to this user on this request (his.transitions).
        "can": dict.fromkeys(actions, True),
        "approve_url": reverse("admin:his_link_approve", args=[req.pk]),
        "reject_url": reverse("admin:his_link_reject", args=[req.pk]),
        "lookup_url": reverse("admin:his_link_lookup", args=[req.pk]),
        "find_url": reverse("admin:his_link_find", args=[req.pk]),
        "find_form": FindRecordForm(auto_id=f"find{req.pk}_%s"),
        "pdf_url": reverse("admin:his_link_form_pdf", args=[req.pk]),
        "detail_url": reverse("admin:his_hislinkrequest_change", args=[req.pk]),
        "approve_form": ApproveForm(auto_id=f"approve{req.pk}_%s"),
        "reject_form": RejectForm(auto_id=f"reject{req.pk}_%s"),
    }


# --- Held XML records: the file's patient next to the linked patient a key pointed at -----------------


def held_reason(record: HisHeldRecord) -> str:
    """Why a record waits, in words."""
    keys: dict[str, str] = {
        IdentifierType.BHYT: gettext("số thẻ BHYT"),
        IdentifierType.CCCD: gettext("số CCCD"),
    }
    key = keys.get(record.matched_by, record.matched_by)
    if record.reason == HoldReason.SEVERAL_PATIENTS:
        return gettext("Khớp %(key)s với nhiều người bệnh đã liên kết khác nhau.") % {"key": key}
    labels = {"name": gettext("họ tên"), "date_of_birth": gettext("ngày sinh")}
    differs = ", ".join(labels.get(m, m) for m in record.mismatches)
    return gettext("Khớp %(key)s với người bệnh đã liên kết nhưng khác %(fields)s.") % {
        "key": key,
        "fields": differs,
    }


def held_card(record: HisHeldRecord, links: dict[int, HisLink]) -> dict[str, Any]:
    patient = record.candidate_patient
    link = links.get(record.candidate_link_id or 0)
    link_ids = dict(link.identifiers) if link else {}
    rows = [
        (
            _("Họ và tên"),
            patient.full_name if patient else "—",
            match_cell(record.full_name, None if patient is None else "name" not in record.mismatches),
        ),
        (
            _("Ngày sinh"),
            fmt_date(patient.date_of_birth) if patient else "—",
            match_cell(
                fmt_date(record.date_of_birth),
                None if patient is None else "date_of_birth" not in record.mismatches,
            ),
        ),
        (
            identifier_label(IdentifierType.HIS_CODE),
            link_ids.get(IdentifierType.HIS_CODE, "") or "—",
            match_cell(record.his_code, None),
        ),
        (
            identifier_label(IdentifierType.BHYT),
            link_ids.get(IdentifierType.BHYT, "") or "—",
            match_cell(record.bhyt, True if record.matched_by == IdentifierType.BHYT and patient else None),
        ),
        (
            identifier_label(IdentifierType.CCCD),
            link_ids.get(IdentifierType.CCCD, "") or "—",
            match_cell(record.cccd, True if record.matched_by == IdentifierType.CCCD and patient else None),
        ),
    ]
    return {
        "record": record,
        "patient": patient,
        "reason": held_reason(record),
        "admitted": fmt_datetime(record.admitted_at),
        "rows": [{"label": label, "patient": mine, "file": theirs} for label, mine, theirs in rows],
        "attach_url": reverse("admin:his_held_attach", args=[record.pk]),
        "dismiss_url": reverse("admin:his_held_dismiss", args=[record.pk]),
        "dismiss_form": DismissHeldForm(auto_id=f"dismiss{record.pk}_%s"),
    }


# --- Import runs ----------------------------------------------------------------------------------------


def progress_bar(run: ImportRun) -> SafeString:
    percent = run.progress_percent
    if run.status != RunStatus.RUNNING or percent is None:
        return SafeString("")
    return format_html(
        '<div class="flex flex-row items-center gap-2 min-w-32">'
        '<progress class="w-24" max="100" value="{}">{} %</progress><span>{} %</span></div>',
        percent,
        percent,
        percent,
    )
