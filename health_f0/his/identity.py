"""Re-deriving the identifiers of links made before identities were verified.

Links used to store the identifier the requester typed (a CCCD or BHYT number, or a HIS code) next to what
the HIS returned, and the XML import attached records by it. This module rebuilds each link's identifiers
from what the HIS itself answered for the record that was linked (the request's `candidates`), and where
the HIS gave nothing, keeps only the HIS code the linker chose (`his_patient_id`). The typed value stays on
the request (`identifier`), where it is shown as the requester's claim.

Run once by migration his.0004 and again, safely, by `manage.py his_rederive_link_identifiers` (idempotent:
a second run changes nothing). The functions take the model classes so the migration can pass its
historical models.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

KINDS = ("bhyt", "cccd", "his_code")


def bhyt_key(value: str) -> str:
    """The 10-digit social-insurance number inside a BHYT card number: a 15-character card (HS4010123456789)
    ends with it; the XML files carry the card, the patient often types the 10 digits. (Here rather than in
    services so the migration can use it without importing the services module.)"""
    value = re.sub(r"\s+", "", value or "").upper()
    if len(value) == 15 and value[-10:].isdigit():
        return value[-10:]
    return value if re.fullmatch(r"\d{10}", value) else ""


def verified_fields(link: Any) -> dict[str, Any]:
    """The link's identity fields as the HIS returned them for its record."""
    request = link.request if link.request_id else None
    candidate = next(
        (
            c
            for c in (request.candidates if request is not None else []) or []
            if isinstance(c, dict) and c.get("his_patient_id") == link.his_patient_id
        ),
        None,
    )
    if candidate is None:
        code = link.his_patient_id.strip().upper()[:32]
        ids = {"his_code": code} if code else {}
        return {
            "identifiers": ids,
            "bhyt_key": "",
            "cccd": "",
            "his_code": code,
            "record_source": link.record_source,
        }
    ids = {
        kind: str(value).strip()
        for kind, value in (candidate.get("identifiers") or {}).items()
        if kind in KINDS and value and str(value).strip()
    }
    source = candidate.get("source") or "fhir"
    if source == "xml":
        ids.setdefault("his_code", link.his_patient_id)
    born = candidate.get("date_of_birth")
    try:
        birth = date.fromisoformat(str(born)[:10]) if born else None
    except ValueError:
        birth = None
    return {
        "identifiers": ids,
        "bhyt_key": bhyt_key(ids.get("bhyt", "")),
        "cccd": ids.get("cccd", "")[:12],
        "his_code": ids.get("his_code", "").upper()[:32],
        "record_source": source,
        "his_full_name": str(candidate.get("full_name") or "")[:200],
        "his_date_of_birth": birth,
    }


def rederive_link_identifiers(link_model: Any, audit_model: Any = None) -> int:
    """Rebuild every link's identifiers from the HIS's answer; returns how many links changed. With
    `audit_model`, one audit row per changed link names which identifier kinds were dropped (no values)."""
    changed = 0
    audits = []
    for link in link_model.objects.select_related("request").order_by("pk").iterator(chunk_size=500):
        fields = verified_fields(link)
        before = {kind for kind, value in (link.identifiers or {}).items() if value}
        differs = [name for name, value in fields.items() if getattr(link, name) != value]
        if not differs:
            continue
        for name, value in fields.items():
            setattr(link, name, value)
        link.save(update_fields=[*fields, "updated_at"])
        changed += 1
        if audit_model is not None:
            audits.append(
                audit_model(
                    actor=None,
                    actor_label="hệ thống/công chúng",
                    action="update",
                    verb="his_link_identifiers_rederived",
                    target_type="his.hislink",
                    target_id=str(link.pk),
                    target_repr=f"{link.his_patient_id} @ {link.facility_id}"[:255],
                    facility_id=link.facility_id,
                    data={
                        "dropped": sorted(before - set(fields["identifiers"])),
                        "kept": sorted(fields["identifiers"]),
                    },
                )
            )
    if audits:
        audit_model.objects.bulk_create(audits, batch_size=500)
    return changed
