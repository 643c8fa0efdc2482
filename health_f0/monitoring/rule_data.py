"""The clinical rule data of home care, read from fixtures/monitoring.json (the one file of rule data): the
triage rules of the daily declaration and the intake (eligibility) rules of registration, each citing its
source document in a `source` entry (the MoH decision: QĐ 4689/QĐ-BYT severity, QĐ 261/QĐ-BYT home
management, QĐ 4156/QĐ-BYT the 2021 criteria; DESIGN.md section 5).

Pure: no database. The triage rules are also seeded into TriageRule rows by `load_monitoring_reference`
(staff may tune those rows; the declaration path reads the rows). Intake eligibility (registration.
eligibility) reads this file: its vital-sign rules take their thresholds and age bands from the triage rules
they name, so one threshold is written once.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

from health_f0.monitoring.triage import Rule

RULE_FIELDS: tuple[str, ...] = tuple(Rule.__dataclass_fields__)


def reference_file() -> Path:
    return Path(settings.BASE_DIR) / "fixtures" / "monitoring.json"


@cache
def reference() -> dict[str, Any]:
    """The whole reference file (questionnaire, triage rules, intake rules), read once per process."""
    data: dict[str, Any] = json.loads(reference_file().read_text(encoding="utf-8"))
    return data


def rule_from_row(row: dict[str, Any]) -> Rule:
    """One rule of the file as the pure triage engine's Rule (the value as a Decimal)."""
    values = {key: value for key, value in row.items() if key in RULE_FIELDS and key != "value"}
    raw = row.get("value")
    return Rule(**values, value=Decimal(str(raw)) if raw is not None else None)


@cache
def triage_rules() -> dict[str, Rule]:
    """The seeded triage rules by code, in the file's order."""
    return {row["code"]: rule_from_row(row) for row in reference()["rules"]}


def intake_rules() -> list[dict[str, Any]]:
    """The intake eligibility rules, in the order they are applied."""
    rules: list[dict[str, Any]] = reference()["intake"]["rules"]
    return rules
