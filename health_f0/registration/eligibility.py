"""Home-care eligibility from the screening answers (MoH guidance; DESIGN.md section 5).

Outcomes: eligible for home care / needs a doctor's review / should go to hospital, each with reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

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


def child_breathing_limit(age_years: int) -> int | None:
    """Fast breathing threshold for children (per minute); None for adults (12 and over)."""
    if age_years < 1:
        return 50
    if age_years < 5:
        return 40
    if age_years < 12:
        return 30
    return None


def assess(s: Screening, *, today: date) -> Assessment:
    """Rules in order of severity; every rule that fires adds its reason."""
    a = Assessment()
    age = age_in_years(s.date_of_birth, today)

    dangers = [code for code in s.symptoms if code in DANGER_SYMPTOMS]
    for code in dangers:
        a.raise_to(HOSPITAL, f"Dấu hiệu nguy hiểm: {label(SYMPTOMS, code).lower()}")

    if s.spo2 is not None:
        if s.spo2 < 94:
            a.raise_to(HOSPITAL, f"SpO2 {s.spo2}% < 94% (mức độ nặng)")
        elif s.spo2 <= 96:
            a.raise_to(REVIEW, f"SpO2 {s.spo2}% trong khoảng 94–96% (mức độ trung bình)")
    else:
        a.notes.append("Chưa có chỉ số SpO2: cần đo khi tiếp nhận")

    if s.breathing_rate is not None:
        child_limit = child_breathing_limit(age)
        if child_limit is not None:
            if s.breathing_rate >= child_limit:
                a.raise_to(
                    REVIEW, f"Trẻ {age} tuổi thở {s.breathing_rate} lần/phút (≥ {child_limit}: thở nhanh)"
                )
        elif s.breathing_rate > 25:
            a.raise_to(HOSPITAL, f"Nhịp thở {s.breathing_rate} lần/phút > 25 (mức độ nặng)")
        elif s.breathing_rate >= 20:
            a.raise_to(REVIEW, f"Nhịp thở {s.breathing_rate} lần/phút trong khoảng 20–25 (mức độ trung bình)")
    else:
        a.notes.append("Chưa có nhịp thở: cần đếm khi tiếp nhận")

    if age < 1:
        a.raise_to(REVIEW, "Trẻ dưới 1 tuổi")
    if s.conditions and not s.conditions_stable:
        a.raise_to(REVIEW, "Có bệnh nền chưa ổn định")
    if s.pregnant:
        a.raise_to(REVIEW, "Đang mang thai")
    fully_vaccinated = s.vaccine_doses >= 2
    if not fully_vaccinated:
        if age >= 50:
            a.raise_to(REVIEW, f"{age} tuổi và chưa tiêm đủ 2 mũi vắc xin")
        if s.conditions:
            a.raise_to(REVIEW, "Có bệnh nền và chưa tiêm đủ 2 mũi vắc xin")
    if s.care == "none":
        a.raise_to(REVIEW, "Không tự chăm sóc được và không có người chăm sóc")
    if not s.can_phone:
        a.raise_to(REVIEW, "Không liên lạc được với nhân viên y tế qua điện thoại")
    return a
