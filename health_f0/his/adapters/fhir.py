"""HL7 FHIR R4 client for a HIS: patient lookup by identifier, and paged searches that imports.py turns into
visits, lab results, lab reports (DiagnosticReport, with their results) and re-exam slips. Plain `requests`
+ JSON dicts (no model library: we read a handful of elements and must tolerate what real HIS servers leave
out).

Identifier systems follow the VN Core FHIR IG draft (Cục CNTT - Bộ Y tế, NamingSystem resources
`insurance_number` and `patient-internal-id`); the IG has no published NamingSystem for the CCCD yet, so
that one is our assumption. All three are constructor arguments for HIS that use their own.

Retries: connection errors, timeouts and 5xx answers are retried with exponential backoff (bounded
attempts); after that HisUnavailable is raised and the caller records a failed run. 4xx is not retried.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from health_f0.his.adapters.base import (
    HisPatient,
    HisUnavailable,
    LabRecord,
    ReportRecord,
    SlipRecord,
    VisitRecord,
    lab_flag,
    parse_decimal,
)

SYSTEM_BHYT = "http://fhir.ehealth.gov.vn/core/sid/insurance_number"
SYSTEM_HIS_CODE = "http://fhir.ehealth.gov.vn/core/sid/patient-internal-id"
SYSTEM_CCCD = "http://fhir.ehealth.gov.vn/core/sid/cccd"  # assumption: no NamingSystem in the IG draft yet
SYSTEM_ICD10 = "http://hl7.org/fhir/sid/icd-10"
DEFAULT_SYSTEMS: dict[str, str] = {"bhyt": SYSTEM_BHYT, "cccd": SYSTEM_CCCD, "his_code": SYSTEM_HIS_CODE}

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")  # FHIR R4 id datatype
FHIR_JSON = "application/fhir+json"


@dataclass
class Page:
    """One searchset page: its resources, whether a next page exists, and the resources the server added
    for `_include` (search mode "include"; not matches, so they never move the incremental cursor)."""

    resources: list[dict[str, Any]]
    has_next: bool
    included: list[dict[str, Any]] = field(default_factory=list)


class FhirAdapter:
    def __init__(
        self,
        *,
        base_url: str,
        systems: dict[str, str] | None = None,
        timeout: float = 15.0,
        attempts: int = 4,
        backoff: float = 0.5,
        page_size: int = 100,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.systems = {**DEFAULT_SYSTEMS, **(systems or {})}
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.page_size = page_size
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": FHIR_JSON})

    # --- HTTP ---------------------------------------------------------------------------------------

    def _get(self, url: str, params: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """GET with bounded retries on connection errors and 5xx; HisUnavailable when they run out."""
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.session.get(url, params=params, timeout=self.timeout)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code >= 500:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise HisUnavailable(f"HIS trả lỗi HTTP {response.status_code} cho {url}")
            try:
                body: dict[str, Any] = response.json()
            except ValueError:
                raise HisUnavailable(f"HIS trả về dữ liệu không phải JSON ({url})")
            return body
        raise HisUnavailable(f"HIS không phản hồi sau {self.attempts} lần thử: {last}")

    def search(self, resource_type: str, params: list[tuple[str, str]]) -> Iterator[Page]:
        """The pages of a search, following Bundle.link[relation=next] (absolute URLs as the server wrote
        them). Each page is fetched only when the previous one was consumed, so the caller stores a page
        before the next request is made."""
        url: str | None = f"{self.base_url}/{resource_type}"
        query: list[tuple[str, str]] | None = [*params, ("_count", str(self.page_size))]
        while url:
            bundle = self._get(url, query)
            if bundle.get("resourceType") != "Bundle":
                raise HisUnavailable(f"HIS trả về {bundle.get('resourceType')!r} thay vì Bundle")
            resources: list[dict[str, Any]] = []
            included: list[dict[str, Any]] = []
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource")
                if not isinstance(resource, dict):
                    continue
                mode = (entry.get("search") or {}).get("mode", "match")
                if mode == "match" and resource.get("resourceType") == resource_type:
                    resources.append(resource)
                elif mode == "include":
                    included.append(resource)
            next_url = next(
                (link.get("url") for link in bundle.get("link") or [] if link.get("relation") == "next"), None
            )
            yield Page(resources=resources, has_next=bool(next_url), included=included)
            url, query = next_url, None

    def read_many(self, resource_type: str, ids: list[str]) -> list[dict[str, Any]]:
        """Resources by FHIR id (`_id=a,b,...`, in batches): what a server that ignores `_include` did
        not send along. Ids it does not know are simply absent from the answer."""
        found: list[dict[str, Any]] = []
        unique = list(dict.fromkeys(i for i in ids if i))
        for start in range(0, len(unique), self.page_size):
            batch = unique[start : start + self.page_size]
            for page in self.search(resource_type, [("_id", ",".join(batch))]):
                found.extend(page.resources)
        return found

    # --- Patients -----------------------------------------------------------------------------------

    def find_patients(self, *, identifier_type: str, identifier: str) -> list[HisPatient]:
        system = self.systems[identifier_type]
        found: list[HisPatient] = []
        for page in self.search("Patient", [("identifier", f"{system}|{identifier}")]):
            found.extend(self.patient_from_resource(resource) for resource in page.resources)
            if len(found) >= 20:  # an identifier matching more than a few records is for the linker anyway
                break
        return found

    def find_patient_by_code(self, code: str) -> HisPatient | None:
        """The Patient with this FHIR id, else the only one whose HIS patient code (patient-internal-id) is
        `code`; None when there is none or several."""
        code = (code or "").strip()
        if not code:
            return None
        if _FHIR_ID.fullmatch(code):
            for resource in self.read_many("Patient", [code]):
                if str(resource.get("id", "")) == code:
                    return self.patient_from_resource(resource)
        found = self.find_patients(identifier_type="his_code", identifier=code)
        return found[0] if len(found) == 1 else None

    def patient_from_resource(self, resource: dict[str, Any]) -> HisPatient:
        by_system = {v: k for k, v in self.systems.items()}
        identifiers: dict[str, str] = {}
        for ident in resource.get("identifier") or []:
            kind = by_system.get(ident.get("system", ""))
            if kind and ident.get("value"):
                identifiers.setdefault(kind, str(ident["value"]))
        address = next((a.get("text", "") for a in resource.get("address") or [] if a.get("text")), "")
        return HisPatient(
            his_patient_id=str(resource.get("id", "")),
            full_name=human_name(resource.get("name") or []),
            date_of_birth=parse_date(resource.get("birthDate")),
            sex=resource.get("gender", "") or "",
            identifiers=identifiers,
            address=address,
        )


# --- Resource -> record mapping (pure functions) ------------------------------------------------------


def human_name(names: list[dict[str, Any]]) -> str:
    """Vietnamese order: family name first ('Nguyễn' + 'Văn Hùng'); `text` wins when present."""
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    if official.get("text"):
        return str(official["text"]).strip()
    parts = [official.get("family", ""), *official.get("given", [])]
    return " ".join(p for p in parts if p).strip()


def parse_date(raw: Any) -> date | None:
    if not raw or not isinstance(raw, str):
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def parse_datetime(raw: Any) -> datetime | None:
    """A FHIR dateTime/instant; a date alone means local midnight; no offset means Vietnam time."""
    if not raw or not isinstance(raw, str):
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), datetime.min.time(), tzinfo=VN_TZ)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=VN_TZ)


def reference_id(reference: Any, resource_type: str) -> str:
    """'Patient/123' (or an absolute URL ending so) -> '123'; other types -> ''."""
    ref = (reference or {}).get("reference", "") if isinstance(reference, dict) else ""
    parts = ref.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == resource_type:
        return parts[-1]
    if len(parts) >= 4 and parts[-4] == resource_type and parts[-2] == "_history":
        return parts[-3]
    return ""


def _concept(concept: Any) -> tuple[str, str, str]:
    """(code, display, system) of a CodeableConcept's first coding, text preferred for display."""
    if not isinstance(concept, dict):
        return "", "", ""
    coding = (concept.get("coding") or [{}])[0]
    return (
        str(coding.get("code", "") or ""),
        str(concept.get("text") or coding.get("display") or ""),
        str(coding.get("system", "") or ""),
    )


def patient_of(resource: dict[str, Any]) -> str:
    """The HIS patient id a resource is about (subject, or an Appointment's patient participant)."""
    if resource.get("resourceType") == "Appointment":
        for participant in resource.get("participant") or []:
            pid = reference_id(participant.get("actor"), "Patient")
            if pid:
                return pid
        return ""
    return reference_id(resource.get("subject"), "Patient")


def visit_from_encounter(resource: dict[str, Any]) -> VisitRecord:
    period = resource.get("period") or {}
    dept_code, dept_name, _ = _concept(resource.get("serviceType") or None)
    if not dept_name:
        location = (resource.get("location") or [{}])[0].get("location") or {}
        dept_name = location.get("display", "")
    icd10, diagnosis, system = "", "", ""
    for reason in resource.get("reasonCode") or []:
        for coding in reason.get("coding") or []:
            if coding.get("system") == SYSTEM_ICD10 and not icd10:
                icd10 = coding.get("code", "")
        diagnosis = diagnosis or reason.get("text") or ""
        if not diagnosis:
            _, diagnosis, system = _concept(reason)
    if not diagnosis:
        for item in resource.get("diagnosis") or []:
            diagnosis = (item.get("condition") or {}).get("display", "") or diagnosis
    return VisitRecord(
        external_id=str(resource.get("id", "")),
        his_patient_id=patient_of(resource),
        department_code=dept_code[:50],
        department_name=dept_name[:200],
        admitted_at=parse_datetime(period.get("start")),
        discharged_at=parse_datetime(period.get("end")),
        diagnosis_text=diagnosis,
        icd10=icd10[:20],
    )


def lab_from_observation(resource: dict[str, Any]) -> LabRecord:
    code, name, _ = _concept(resource.get("code"))
    quantity = resource.get("valueQuantity") or {}
    value_number = parse_decimal(quantity.get("value"))
    if value_number is not None:
        value = str(quantity.get("value"))
    elif "valueString" in resource:
        value = str(resource["valueString"])
    else:
        value = _concept(resource.get("valueCodeableConcept"))[1]
    ref = (resource.get("referenceRange") or [{}])[0]
    low = parse_decimal((ref.get("low") or {}).get("value"))
    high = parse_decimal((ref.get("high") or {}).get("value"))
    interpretation = _concept((resource.get("interpretation") or [None])[0])[0]
    return LabRecord(
        external_id=str(resource.get("id", "")),
        his_patient_id=patient_of(resource),
        visit_ref=reference_id(resource.get("encounter"), "Encounter"),
        code=code[:64],
        name=(name or code or "Xét nghiệm")[:255],
        value=value[:255],
        value_number=value_number,
        unit=str(quantity.get("unit") or quantity.get("code") or "")[:40],
        reference_low=low,
        reference_high=high,
        reference_text=str(ref.get("text", "") or "")[:255],
        flag=lab_flag(value_number, low, high, interpretation),
        conclusion=str(resource.get("note", [{}])[0].get("text", "") if resource.get("note") else ""),
        observed_at=parse_datetime(resource.get("effectiveDateTime") or resource.get("issued")),
    )


def report_from_diagnostic_report(resource: dict[str, Any]) -> ReportRecord:
    """A DiagnosticReport and its results: referenced Observations by FHIR id, contained ones as records
    keyed "<report id>#<local id>" (a contained resource has no id of its own outside the report) that
    inherit the report's patient, encounter and time when they do not name their own."""
    report_id = str(resource.get("id", ""))
    code, name, _ = _concept(resource.get("code"))
    conclusion = str(resource.get("conclusion") or "").strip()
    if not conclusion:
        texts = [_concept(c)[1] for c in resource.get("conclusionCode") or []]
        conclusion = "; ".join(t for t in texts if t)
    period = resource.get("effectivePeriod") or {}
    effective_at = parse_datetime(resource.get("effectiveDateTime") or period.get("start"))
    issued_at = parse_datetime(resource.get("issued"))
    record = ReportRecord(
        external_id=report_id,
        his_patient_id=patient_of(resource),
        visit_ref=reference_id(resource.get("encounter"), "Encounter"),
        code=code[:64],
        name=(name or code or "Xét nghiệm")[:255],
        status=str(resource.get("status") or "")[:20],
        conclusion=conclusion,
        effective_at=effective_at,
        issued_at=issued_at,
    )
    contained = {
        str(c.get("id")): c
        for c in resource.get("contained") or []
        if isinstance(c, dict) and c.get("resourceType") == "Observation" and c.get("id")
    }
    for ref in resource.get("result") or []:
        target = (ref or {}).get("reference", "") if isinstance(ref, dict) else ""
        if target.startswith("#"):
            observation = contained.get(target[1:])
            if observation is None:
                continue
            lab = lab_from_observation(observation)
            lab.external_id = f"{report_id}#{target[1:]}"[:150]
            lab.his_patient_id = lab.his_patient_id or record.his_patient_id
            lab.visit_ref = lab.visit_ref or record.visit_ref
            lab.observed_at = lab.observed_at or effective_at or issued_at
            record.contained.append(lab)
        else:
            observation_id = reference_id(ref, "Observation")
            if observation_id:
                record.result_ids.append(observation_id)
    return record


def slip_from_appointment(resource: dict[str, Any]) -> SlipRecord | None:
    start = parse_datetime(resource.get("start"))
    if start is None:
        return None
    dept_code, dept_name, _ = _concept((resource.get("serviceType") or [None])[0])
    return SlipRecord(
        external_id=str(resource.get("id", "")),
        his_patient_id=patient_of(resource),
        date=start.astimezone(VN_TZ).date(),
        department_code=(dept_code or dept_name)[:50],
        note=str(resource.get("description") or resource.get("comment") or ""),
    )


# What the periodic pull asks for, in this order (visits before the results that point at them, results
# before the reports that group them). A report brings its result Observations along (`_include`): those a
# HIS files without the laboratory category are stored through their report.
PULL_QUERIES: dict[str, list[tuple[str, str]]] = {
    "Encounter": [],
    "Observation": [("category", "laboratory")],
    "DiagnosticReport": [("category", "LAB"), ("_include", "DiagnosticReport:result")],
    "Appointment": [("status", "booked")],
}
