"""The HIS adapter interface: what the link workflow asks of a hospital information system."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol


class HisUnavailable(Exception):
    """The HIS did not answer (connection refused, timeout, 5xx after the retries)."""


@dataclass(frozen=True)
class HisPatient:
    """A patient record as the HIS returned it, reduced to what matching and the linker need."""

    his_patient_id: str
    full_name: str
    date_of_birth: date | None
    sex: str = ""
    identifiers: dict[str, str] = field(default_factory=dict)  # {"bhyt": ..., "cccd": ..., "his_code": ...}
    address: str = ""

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["date_of_birth"] = self.date_of_birth.isoformat() if self.date_of_birth else None
        return data


class HisAdapter(Protocol):
    def find_patients(self, *, identifier_type: str, identifier: str) -> list[HisPatient]:
        """Patients whose identifier of that type equals `identifier`. Raises HisUnavailable."""
        ...

    def find_patient_by_code(self, code: str) -> HisPatient | None:
        """The one patient record the HIS holds under this code (its record id, or its patient code MA_BN),
        None when it holds none or several. Raises HisUnavailable."""
        ...


class NoLookupAdapter:
    """A HIS reached only through its XML files: nothing to ask online; the linker decides (against the
    patients of the XML files already imported, services._find_record)."""

    def find_patients(self, *, identifier_type: str, identifier: str) -> list[HisPatient]:
        return []

    def find_patient_by_code(self, code: str) -> HisPatient | None:
        return None


# --- Source-neutral records: what both adapters produce and imports.py stores. --------------------


@dataclass
class VisitRecord:
    external_id: str
    his_patient_id: str
    department_code: str = ""
    department_name: str = ""
    admitted_at: datetime | None = None
    discharged_at: datetime | None = None
    diagnosis_text: str = ""
    icd10: str = ""
    # XML1 totals in whole dong (None: not sent): T_TONGCHI, T_BHTT, T_BNCCT + T_BNTT.
    bill_total: int | None = None
    bill_insurance: int | None = None
    bill_patient: int | None = None


@dataclass
class LabRecord:
    external_id: str
    his_patient_id: str
    name: str
    visit_ref: str = ""
    code: str = ""
    value: str = ""
    value_number: Decimal | None = None
    unit: str = ""
    reference_low: Decimal | None = None
    reference_high: Decimal | None = None
    reference_text: str = ""
    flag: str = ""
    conclusion: str = ""
    observed_at: datetime | None = None


@dataclass
class ReportRecord:
    """A laboratory report (FHIR DiagnosticReport): the panel its results belong to. `result_ids` are the
    FHIR ids of the Observations it references; `contained` are results that exist only inside it."""

    external_id: str
    his_patient_id: str
    name: str
    visit_ref: str = ""
    code: str = ""
    status: str = ""
    conclusion: str = ""
    effective_at: datetime | None = None
    issued_at: datetime | None = None
    result_ids: list[str] = field(default_factory=list)
    contained: list[LabRecord] = field(default_factory=list)


@dataclass
class SlipRecord:
    external_id: str
    his_patient_id: str
    date: date
    visit_ref: str = ""
    department_code: str = ""
    note: str = ""


def lab_flag(value: Decimal | None, low: Decimal | None, high: Decimal | None, given: str = "") -> str:
    """H/L/N from the HIS's own interpretation when it gave one, else from the reference range."""
    code = (given or "").strip().upper()
    if code in {"H", "HH", "HU", ">"}:
        return "H"
    if code in {"L", "LL", "LU", "<"}:
        return "L"
    if code == "N":
        return "N"
    if value is None or (low is None and high is None):
        return ""
    if high is not None and value > high:
        return "H"
    if low is not None and value < low:
        return "L"
    return "N"


def parse_decimal(raw: Any) -> Decimal | None:
    """'5,6' or '5.6' or 5.6 -> Decimal('5.6'); anything else (text results like 'Âm tính') -> None."""
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip().replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= Decimal(10) ** 10:
        return None
    return number.quantize(Decimal("0.0001"))
