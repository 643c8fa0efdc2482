"""Triage of one declaration against rules stored as data (fixtures/monitoring.json, each rule citing its
source document; read by monitoring.rule_data and seeded into TriageRule rows).

Pure functions: no database access here, so the rules are easy to test as rules (hypothesis) and cheap
to run on the hot path. `services` loads the active rules once per process and passes them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

LEVELS = ("none", "watch", "urgent", "emergency")
_RANK = {level: i for i, level in enumerate(LEVELS)}


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str  # threshold | symptom | trend_drop | trend_days
    question_code: str
    level: str
    reason_vi: str
    op: str = ""
    value: Decimal | None = None
    symptom: str = ""
    window_hours: int | None = None
    days: int | None = None
    age_min_months: int | None = None
    age_max_months: int | None = None
    source: str = ""  # the document the rule comes from (fixtures/monitoring.json; not stored in TriageRule)


@dataclass(frozen=True)
class PastReading:
    """A previous declaration's vitals, for trend rules."""

    submitted_at: datetime
    local_date: date
    values: dict[str, Decimal | None]


@dataclass
class TriageResult:
    level: str = "none"
    reasons: list[str] = field(default_factory=list)
    rule_codes: list[str] = field(default_factory=list)
    _fired: list[tuple[Rule, str]] = field(default_factory=list, repr=False)

    def add(self, rule: Rule, reason: str) -> None:
        self._fired.append((rule, reason))

    def finish(self) -> TriageResult:
        """Highest level wins; of several thresholds on one answer only the most severe is reported
        (SpO2 92% says "below 94%", not also "at most 96%")."""
        best: dict[str, tuple[Rule, str]] = {}
        kept: list[tuple[Rule, str]] = []
        for rule, reason in self._fired:
            if rule.kind != "threshold":
                kept.append((rule, reason))
                continue
            key = f"{rule.question_code}:{rule.op[:2]}"
            if key not in best or _RANK[rule.level] > _RANK[best[key][0].level]:
                best[key] = (rule, reason)
        kept.extend(best.values())
        kept.sort(key=lambda item: -_RANK[item[0].level])
        for rule, reason in kept:
            if _RANK[rule.level] > _RANK[self.level]:
                self.level = rule.level
            self.reasons.append(reason)
            self.rule_codes.append(rule.code)
        return self


def age_in_months(date_of_birth: date, on: date) -> int:
    months = (on.year - date_of_birth.year) * 12 + (on.month - date_of_birth.month)
    if on.day < date_of_birth.day:
        months -= 1
    return months


def applies_to_age(rule: Rule, months: int) -> bool:
    if rule.age_min_months is not None and months < rule.age_min_months:
        return False
    return not (rule.age_max_months is not None and months >= rule.age_max_months)


def compare(op: str, left: Decimal, right: Decimal) -> bool:
    if op == "lt":
        return left < right
    if op == "lte":
        return left <= right
    if op == "gt":
        return left > right
    if op == "gte":
        return left >= right
    raise ValueError(f"unknown comparison {op!r}")


def _fmt(value: Decimal) -> str:
    text = f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"
    return text.replace(".", ",")


def triage(
    *,
    rules: Iterable[Rule],
    values: Mapping[str, Decimal | None],
    symptoms: Sequence[str],
    date_of_birth: date,
    now: datetime,
    today: date,
    history: Sequence[PastReading] = (),
) -> TriageResult:
    """Apply every active rule; the result is the highest level fired, with every reason in Vietnamese.

    `values` maps numeric question codes (spo2, breathing_rate, ...) to the answers (None when skipped).
    `history` holds earlier declarations of the same episode, any order.
    """
    result = TriageResult()
    months = age_in_months(date_of_birth, today)
    chosen = set(symptoms)
    for rule in rules:
        if not applies_to_age(rule, months):
            continue
        if rule.kind == "threshold":
            value = values.get(rule.question_code)
            if value is not None and rule.value is not None and compare(rule.op, value, rule.value):
                result.add(rule, rule.reason_vi.format(value=_fmt(value)))
        elif rule.kind == "symptom":
            if rule.symptom in chosen:
                result.add(rule, rule.reason_vi)
        elif rule.kind == "trend_drop":
            current = values.get(rule.question_code)
            if current is None or rule.value is None or not rule.window_hours:
                continue
            since = now - timedelta(hours=rule.window_hours)
            earlier = [
                r.values.get(rule.question_code)
                for r in history
                if r.submitted_at >= since and r.values.get(rule.question_code) is not None
            ]
            peak = max((v for v in earlier if v is not None), default=None)
            if peak is not None and peak - current >= rule.value:
                result.add(rule, rule.reason_vi.format(value=_fmt(peak - current), previous=_fmt(peak)))
        elif rule.kind == "trend_days":
            if not rule.days or rule.value is None:
                continue
            by_day: dict[date, bool] = {}
            for r in history:
                v = r.values.get(rule.question_code)
                if v is not None and compare(rule.op, v, rule.value):
                    by_day[r.local_date] = True
            current = values.get(rule.question_code)
            if current is not None and compare(rule.op, current, rule.value):
                by_day[today] = True
            if all(by_day.get(today - timedelta(days=i)) for i in range(rule.days)):
                result.add(rule, rule.reason_vi.format(days=rule.days))
    return result.finish()
