"""Home-care eligibility from the screening answers (MoH guidance; DESIGN.md section 5).

Outcomes: eligible for home care / needs a doctor's review / should go to hospital, each with reasons.

The rules are data: the "intake" section of fixtures/monitoring.json (monitoring.rule_data), each citing its
source document (QĐ 4689/QĐ-BYT, QĐ 261/QĐ-BYT, QĐ 4156/QĐ-BYT). The SpO2 and breathing-rate rules name the
triage rule whose threshold, comparison and age band they use, so intake and the daily triage share one
set of thresholds. This module only knows how to apply each kind of rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from health_f0.monitoring import rule_data, triage
from health_f0.registration.screening import DANGER_SYMPTOMS, SYMPTOMS, label

ELIGIBLE = "eligible"
REVIEW = "review"
HOSPITAL = "hospital"
_RANK = {ELIGIBLE: 0, REVIEW: 1, HOSPITAL: 2}
# Most severe first: the order of the station's queue (registration.selectors).
BY_SEVERITY: tuple[str, ...] = (HOSPITAL, REVIEW, ELIGIBLE)
# Outcomes a station accepts into home care only on purpose: the accept must be confirmed explicitly
# (registration.services.registration_accept), and the desk counts and highlights them while they wait.
NEEDS_CONFIRMATION: frozenset[str] = frozenset({REVIEW, HOSPITAL})
# What to do when a vital sign was not given (a note for the station, not a reason).
MISSING_NOTES: dict[str, str] = {
    "spo2": "Chưa có chỉ số SpO2: cần đo khi tiếp nhận",
    "breathing_rate": "Chưa có nhịp thở: cần đếm khi tiếp nhận",
}


@dataclass(frozen=True)
class Screening:
    date_of_birth: date
    symptoms: tuple[str, ...] = ()
    spo2: int | None = None
    breathing_rate: int | None = None
    conditions: tuple[str, ...] = ()
    conditions_stable: bool = True
    pregnant: bool = False
    vaccine_doses: int = 0
    care: str = "self_care"
    can_phone: bool = True


@dataclass
class Assessment:
    outcome: str = ELIGIBLE
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def raise_to(self, outcome: str, reason: str) -> None:
        if _RANK[outcome] > _RANK[self.outcome]:
            self.outcome = outcome
        self.reasons.append(reason)


def age_in_years(date_of_birth: date, on: date) -> int:
    years = on.year - date_of_birth.year
    if (on.month, on.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


@dataclass(frozen=True)
class _Case:
    """What a rule is applied to: the answers, the age, and the questions already decided."""

    screening: Screening
    age: int
    months: int
    decided: set[str]


def assess(s: Screening, *, today: date) -> Assessment:
    """Rules in order (most severe kinds first); every rule that fires adds its reason."""
    a = Assessment()
    case = _Case(
        screening=s,
        age=age_in_years(s.date_of_birth, today),
        months=triage.age_in_months(s.date_of_birth, today),
        decided=set(),
    )
    noted: set[str] = set()
    for rule in rule_data.intake_rules():
        if rule["kind"] == "vital":
            question = _uses(rule).question_code
            if getattr(s, question) is None and question not in noted:
                noted.add(question)
                a.notes.append(MISSING_NOTES[question])
        for reason in _KINDS[rule["kind"]](rule, case):
            a.raise_to(rule["outcome"], reason)
    return a


# --- Kinds of rule ------------------------------------------------------------------------------


def _uses(rule: dict[str, Any]) -> triage.Rule:
    return rule_data.triage_rules()[rule["uses"]]


def _number(value: Decimal | None) -> str:
    """A threshold as written in a reason: 94, 25 (no decimals when whole)."""
    if value is None:
        return ""
    return str(int(value)) if value == value.to_integral() else str(value)


def _vital(rule: dict[str, Any], case: _Case) -> list[str]:
    """A threshold of a triage rule (with its age band) on the same answer; the first rule to fire on an
    answer decides it (the rules are listed most severe first)."""
    used = _uses(rule)
    question = used.question_code
    value = getattr(case.screening, question)
    if value is None or question in case.decided or used.value is None:
        return []
    if not triage.applies_to_age(used, case.months):
        return []
    if not triage.compare(used.op, Decimal(value), used.value):
        return []
    case.decided.add(question)
    band = {
        key: _number(rule_data.triage_rules()[rule[key]].value)
        for key in ("band_from", "band_to")
        if key in rule
    }
    return [rule["reason_vi"].format(value=value, limit=_number(used.value), age=case.age, **band)]


def _danger_symptom(rule: dict[str, Any], case: _Case) -> list[str]:
    return [
        rule["reason_vi"].format(symptom=label(SYMPTOMS, code).lower())
        for code in case.screening.symptoms
        if code in DANGER_SYMPTOMS
    ]


def _age_below(rule: dict[str, Any], case: _Case) -> list[str]:
    return [rule["reason_vi"].format(years=rule["years"])] if case.age < rule["years"] else []


def _unstable_condition(rule: dict[str, Any], case: _Case) -> list[str]:
    s = case.screening
    return [rule["reason_vi"]] if s.conditions and not s.conditions_stable else []


def _pregnant(rule: dict[str, Any], case: _Case) -> list[str]:
    return [rule["reason_vi"]] if case.screening.pregnant else []


def _unvaccinated(rule: dict[str, Any], case: _Case) -> list[str]:
    """Fewer doses than `doses`, and either at least `age_min_years` old or (`with_condition`) with an
    underlying condition."""
    s = case.screening
    if s.vaccine_doses >= rule["doses"]:
        return []
    if "age_min_years" in rule and case.age < rule["age_min_years"]:
        return []
    if rule.get("with_condition") and not s.conditions:
        return []
    return [rule["reason_vi"].format(age=case.age, doses=rule["doses"])]


def _no_caregiver(rule: dict[str, Any], case: _Case) -> list[str]:
    return [rule["reason_vi"]] if case.screening.care == "none" else []


def _no_phone(rule: dict[str, Any], case: _Case) -> list[str]:
    return [rule["reason_vi"]] if not case.screening.can_phone else []


_KINDS: dict[str, Callable[[dict[str, Any], _Case], list[str]]] = {
    "vital": _vital,
    "danger_symptom": _danger_symptom,
    "age_below": _age_below,
    "unstable_condition": _unstable_condition,
    "pregnant": _pregnant,
    "unvaccinated": _unvaccinated,
    "no_caregiver": _no_caregiver,
    "no_phone": _no_phone,
}
