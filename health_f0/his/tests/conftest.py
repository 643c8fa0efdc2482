"""HIS test fixtures: a real FHIR R4 server (sekmet-fhir, started once per session by scripts/fhir_server.sh
unless HIS_FHIR_BASE_URL points at one), a client that loads it, patients with unique identifiers."""

from __future__ import annotations

import os
import random
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from health_f0.facilities.models import Facility, Membership, Role
from health_f0.his.adapters.fhir import SYSTEM_BHYT, SYSTEM_CCCD, SYSTEM_HIS_CODE, SYSTEM_ICD10, FhirAdapter
from health_f0.patients.models import Patient

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def fhir_base_url() -> str:
    url = os.environ.get("HIS_FHIR_BASE_URL", "").rstrip("/")
    if not url:
        result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [str(ROOT / "scripts" / "fhir_server.sh"), "start"], capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stderr[-2000:]
        url = result.stdout.strip().splitlines()[-1]
    requests.get(f"{url}/metadata", timeout=10).raise_for_status()
    return url


def unique_bhyt() -> str:
    return f"{random.randrange(10**9, 10**10)}"


def unique_cccd(year: int = 1980, female: bool = False) -> str:
    century_sex = (2 if year >= 2000 else 0) + (1 if female else 0)
    return f"001{century_sex}{year % 100:02d}{random.randrange(10**6):06d}"


class FhirServer:
    """Writes test data to the FHIR server over its REST API (as a HIS would hold it)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update(
            {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
        )

    def create(self, resource: dict[str, Any]) -> dict[str, Any]:
        response = self.session.post(f"{self.base_url}/{resource['resourceType']}", json=resource, timeout=10)
        assert response.status_code in (200, 201), response.text[:500]
        created: dict[str, Any] = response.json()
        return created

    def update(self, resource: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/{resource['resourceType']}/{resource['id']}"
        response = self.session.put(url, json=resource, timeout=10)
        assert response.status_code in (200, 201), response.text[:500]
        updated: dict[str, Any] = response.json()
        return updated

    def patient(
        self,
        *,
        name: str,
        birth: str,
        bhyt: str = "",
        cccd: str = "",
        his_code: str = "",
        gender: str = "male",
    ) -> dict[str, Any]:
        identifiers = [
            {"system": system, "value": value}
            for system, value in ((SYSTEM_BHYT, bhyt), (SYSTEM_CCCD, cccd), (SYSTEM_HIS_CODE, his_code))
            if value
        ]
        family, *given = name.split()
        return self.create(
            {
                "resourceType": "Patient",
                "identifier": identifiers,
                "name": [{"use": "official", "text": name, "family": family, "given": given}],
                "gender": gender,
                "birthDate": birth,
                "address": [{"text": "Phường Thành Đông, Hải Phòng"}],
            }
        )

    def encounter(
        self, patient_id: str, *, start: str, icd: str, text: str, dept: str = "K01"
    ) -> dict[str, Any]:
        return self.create(
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                "subject": {"reference": f"Patient/{patient_id}"},
                "serviceType": {
                    "coding": [{"code": dept, "display": "Khoa Khám bệnh"}],
                    "text": "Khoa Khám bệnh",
                },
                "period": {"start": start, "end": start[:11] + "11:30:00+07:00"},
                "reasonCode": [{"coding": [{"system": SYSTEM_ICD10, "code": icd}], "text": text}],
            }
        )

    def observation(
        self,
        patient_id: str,
        encounter_id: str,
        *,
        code: str,
        name: str,
        value: float,
        unit: str,
        low: float | None,
        high: float | None,
        when: str,
        laboratory: bool = True,
    ) -> dict[str, Any]:
        """A result; laboratory=False: filed without the laboratory category (only its report finds it)."""
        return self.create(
            {
                **lab_observation(
                    code=code, name=name, value=value, unit=unit, low=low, high=high, when=when
                ),
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "laboratory" if laboratory else "exam",
                            }
                        ]
                    }
                ],
                "subject": {"reference": f"Patient/{patient_id}"},
                "encounter": {"reference": f"Encounter/{encounter_id}"},
            }
        )

    def diagnostic_report(
        self,
        patient_id: str,
        encounter_id: str,
        *,
        code: str,
        name: str,
        results: list[str],
        contained: list[dict[str, Any]] | None = None,
        conclusion: str = "",
        issued: str,
        status: str = "final",
    ) -> dict[str, Any]:
        """A LAB DiagnosticReport referencing Observations by id (`results`) and holding `contained` ones
        (each with a local id, referenced as "#id")."""
        report: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "status": status,
            "category": [
                {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}
            ],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}], "text": name},
            "subject": {"reference": f"Patient/{patient_id}"},
            "encounter": {"reference": f"Encounter/{encounter_id}"},
            "effectiveDateTime": issued,
            "issued": issued,
            "result": [{"reference": f"Observation/{rid}"} for rid in results]
            + [{"reference": f"#{c['id']}"} for c in contained or []],
        }
        if contained:
            report["contained"] = contained
        if conclusion:
            report["conclusion"] = conclusion
        return self.create(report)

    def appointment(self, patient_id: str, *, start: str, dept: str) -> dict[str, Any]:
        return self.create(
            {
                "resourceType": "Appointment",
                "status": "booked",
                "serviceType": [{"coding": [{"code": dept}], "text": dept}],
                "description": "Tái khám sau điều trị đái tháo đường",
                "start": start,
                "end": start[:11] + "08:15:00+07:00",
                "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
            }
        )


def lab_observation(
    *,
    code: str,
    name: str,
    value: float,
    unit: str,
    low: float | None,
    high: float | None,
    when: str,
    local_id: str = "",
) -> dict[str, Any]:
    """A final Observation with a quantity and a reference range (contained in a report when local_id)."""
    ref: dict[str, Any] = {}
    if low is not None:
        ref["low"] = {"value": low, "unit": unit}
    if high is not None:
        ref["high"] = {"value": high, "unit": unit}
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}], "text": name},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit},
        "referenceRange": [ref],
    }
    if local_id:
        observation["id"] = local_id
    return observation


@pytest.fixture
def fhir(fhir_base_url: str, settings: Any) -> FhirServer:
    settings.HIS_FHIR_BASE_URL = fhir_base_url
    return FhirServer(fhir_base_url)


@pytest.fixture
def adapter(fhir: FhirServer) -> FhirAdapter:
    return FhirAdapter(base_url=fhir.base_url, backoff=0.01, attempts=2)


@pytest.fixture
def ttyt(demo: Any) -> Facility:
    return Facility.objects.get(code="TTYT-HD")


@pytest.fixture
def linker(persona: Any) -> Any:
    return persona("lienket.his")


def make_patient(
    *, name: str = "Trần Thị Bích Ngọc", born: date = date(1975, 3, 14), **fields: Any
) -> Patient:
    station = Facility.objects.get(code="TYT-10510")
    return Patient.objects.create(
        full_name=name,
        date_of_birth=born,
        sex=fields.pop("sex", "female"),
        phone=fields.pop("phone", f"+8491{random.randrange(10**7):07d}"),
        province_code=31,
        ward_code=10510,
        ward_name="Phường Thành Đông",
        facility=station,
        **fields,
    )


def xml_patient(facility: Facility, code: str, patient: Patient | None = None, **fields: Any) -> Any:
    """A patient the HIS's XML files named under this HIS code, as an import leaves it (by default with the
    given patient's name and date of birth): what a HIS code the linker types resolves to."""
    from health_f0.his.models import HisPatientRecord

    if patient is not None:
        fields.setdefault("full_name", patient.full_name)
        fields.setdefault("date_of_birth", patient.date_of_birth)
    record, _ = HisPatientRecord.objects.update_or_create(
        facility=facility, his_code=code.upper(), defaults=fields
    )
    return record


@pytest.fixture
def other_hospital(demo: Any) -> tuple[Facility, Any]:
    """A second hospital with its own linker (for the queue's access tests)."""
    from django.contrib.auth import get_user_model

    root = Facility.objects.get(code="SYT-31")
    hospital = Facility.objects.create(
        kind="hospital", code="BV-TEST", name="Bệnh viện Đa khoa Thử", parent=root, province_code=31
    )
    hospital.path = f"{root.path}{hospital.pk}/"
    hospital.save(update_fields=["path"])
    user = get_user_model().objects.create_user(username="lienket.bvtest")
    Membership.objects.create(user=user, facility=hospital, role=Role.HIS_LINKER)
    return hospital, user


def stale_lab_sort_keys() -> list[int]:
    """Lab results whose stored sort key (HisLabResult.sort_at / sort_report) differs from what their report
    and observation time say now (models.lab_sort_at), by id."""
    from health_f0.his.models import HisLabResult, lab_sort_at

    rows = HisLabResult.objects.values_list(
        "pk",
        "sort_at",
        "sort_report",
        "observed_at",
        "report_id",
        "report__effective_at",
        "report__issued_at",
    )
    return [
        pk
        for pk, sort_at, sort_report, observed_at, report_id, effective_at, issued_at in rows
        if sort_at != lab_sort_at(observed_at=observed_at, effective_at=effective_at, issued_at=issued_at)
        or sort_report != (report_id or 0)
    ]


@pytest.fixture(autouse=True)
def _lab_sort_keys_stay_exact(request: pytest.FixtureRequest) -> Any:
    """After every HIS test that wrote to the database (FHIR pulls and backfills, amended reports, XML imports,
    held records attached): every lab result's stored sort key is exact."""
    yield
    if not {"db", "transactional_db"} & set(request.fixturenames):
        return
    assert stale_lab_sort_keys() == []
