"""The rules of home care, as named functions with no database access: the isolation period, the guards of
ending an episode, physiologically impossible vitals, and who is asked which question.

Services call them inside their transactions; the desk, the portal and the API reach them only through the
services and selectors. Each guard raises DomainError with a Vietnamese message and a stable code; the
episode workflow (monitoring/transitions.py: active -> completed | transferred | closed) lists them per
transition as named guards, the guard's name being that code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from health_f0.core.exceptions import DomainError

# --- The isolation period: day 1 is the positive test (QĐ 261/QĐ-BYT) --------------------------------


class HasIsolationDates(Protocol):
    start_date: date
    positive_date: date | None


def isolation_start(episode: HasIsolationDates) -> date:
    """Day 1 of the isolation: the positive-test date. An episode whose positive date is not known (older
    rows, a direct admission without one) counts from its start, the station's acceptance: the later of the
    two possible days, so an unknown date never shortens the isolation."""
    return episode.positive_date or episode.start_date


def isolation_day(episode: HasIsolationDates, today: date) -> int:
    """The day shown as "Ngày thứ N": 1 on the positive-test day."""
    return (today - isolation_start(episode)).days + 1


def isolation_days_done(episode: HasIsolationDates, today: date) -> int:
    """Whole days of isolation behind the patient today (0 on the positive-test day)."""
    return (today - isolation_start(episode)).days


def expected_end_date(*, isolation_start: date, min_isolation_days: int) -> date:
    """The first day the isolation may end: the start plus the province's minimum (7 days by QĐ 261)."""
    return isolation_start + timedelta(days=min_isolation_days)


# --- Guards of the episode workflow -------------------------------------------------------------------


NEGATIVE_TEST_TYPES = ("rapid", "rt_pcr")


def require_minimum_isolation_days(*, episode: HasIsolationDates, today: date, minimum: int) -> None:
    """Completion needs `minimum` whole days since the positive test."""
    days = isolation_days_done(episode, today)
    if days < minimum:
        raise DomainError(
            ngettext(
                "Mới cách ly %(days)s ngày; cần tối thiểu %(minimum)s ngày.",
                "Mới cách ly %(days)s ngày; cần tối thiểu %(minimum)s ngày.",
                minimum,
            )
            % {"days": days, "minimum": minimum},
            code="too_early",
        )


def require_negative_test_type(*, test_type: str) -> None:
    """The negative test is a rapid or an RT-PCR test."""
    if test_type not in NEGATIVE_TEST_TYPES:
        raise DomainError(
            _("Vui lòng chọn loại xét nghiệm âm tính."), code="test_type_invalid", field="negative_test_type"
        )


def require_negative_test_date(*, episode: HasIsolationDates, test_date: date, today: date) -> None:
    """The negative test was taken during the isolation: not before the positive test, not in the future."""
    if test_date > today or test_date < isolation_start(episode):
        raise DomainError(
            _("Ngày xét nghiệm âm tính phải trong thời gian cách ly và không ở tương lai."),
            code="negative_test_date_invalid",
            field="negative_test_date",
        )


def require_negative_test(
    *, episode: HasIsolationDates, test_date: date, test_type: str, today: date
) -> None:
    """A negative rapid or RT-PCR test, taken during the isolation (not before the positive test, not in
    the future)."""
    require_negative_test_type(test_type=test_type)
    require_negative_test_date(episode=episode, test_date=test_date, today=today)


def require_no_open_alerts(*, open_alerts: Sequence[Any]) -> None:
    """An episode is not completed while a danger-sign alert waits for the station (issue 9): each must be
    closed with an outcome first, or in the same step."""
    count = len(open_alerts)
    if count:
        raise DomainError(
            ngettext(
                "Còn %(count)s cảnh báo chưa xử lý. Hãy ghi kết quả xử lý cho từng cảnh báo trước khi hoàn "
                "thành cách ly.",
                "Còn %(count)s cảnh báo chưa xử lý. Hãy ghi kết quả xử lý cho từng cảnh báo trước khi hoàn "
                "thành cách ly.",
                count,
            )
            % {"count": count},
            code="open_alerts",
            field="alerts",
        )


MIN_END_REASON_LENGTH = 5


def require_end_reason(*, reason: str) -> None:
    """An episode transferred to hospital or closed says why (at least 5 characters)."""
    if len((reason or "").strip()) < MIN_END_REASON_LENGTH:
        raise DomainError(_("Vui lòng nhập lý do (ít nhất 5 ký tự)."), code="reason_required", field="reason")


# --- Physiologically impossible vitals ----------------------------------------------------------------

# Below this gap between the upper and the lower blood pressure a cuff reading is a measuring error, not a
# patient (even a very narrow pulse pressure, as in cardiac tamponade, stays above it).
MIN_PULSE_PRESSURE = Decimal(10)
SPO2_MAX = Decimal(100)

Errors = dict[str, list[tuple[str, str]]]


def impossible_vitals(values: Mapping[str, Decimal]) -> Errors:
    """Combinations of answers no living patient can have: the reading is wrong and must be taken again.
    Only the impossible, never the merely abnormal (that is triage's job). `values` maps question codes
    to numbers; missing codes are skipped. Returns {question code: [(error code, message)]}."""
    errors: Errors = {}
    systolic, diastolic = values.get("bp_systolic"), values.get("bp_diastolic")
    if systolic is not None and diastolic is not None:
        reading = {"systolic": _whole(systolic), "diastolic": _whole(diastolic)}
        if systolic <= diastolic:
            errors["bp_systolic"] = [
                (
                    "bp_systolic_not_above_diastolic",
                    _(
                        "Huyết áp %(systolic)s/%(diastolic)s mmHg không thể đúng: số trên (tâm thu) luôn lớn "
                        "hơn số dưới (tâm trương). Vui lòng đo lại và nhập đúng thứ tự; nếu không đo lại được, "
                        "hãy để trống huyết áp."
                    )
                    % reading,
                )
            ]
        elif systolic - diastolic < MIN_PULSE_PRESSURE:
            errors["bp_systolic"] = [
                (
                    "bp_pulse_pressure_too_small",
                    _(
                        "Huyết áp %(systolic)s/%(diastolic)s mmHg không thể đúng: số trên và số dưới gần như "
                        "bằng nhau. Vui lòng ngồi nghỉ 5 phút rồi đo lại; nếu không đo lại được, hãy để trống "
                        "huyết áp."
                    )
                    % reading,
                )
            ]
    spo2 = values.get("spo2")
    if spo2 is not None and spo2 > SPO2_MAX:
        errors["spo2"] = [
            (
                "spo2_above_100",
                _(
                    "SpO2 không thể lớn hơn 100%. Vui lòng đo lại khi ngồi yên, tay ấm; nếu không có máy đo, "
                    "hãy để trống."
                ),
            )
        ]
    return errors


def _whole(value: Decimal) -> str:
    return f"{value.normalize():f}"


# --- Who is asked what: age bands of questions and of their options -----------------------------------


def band_months(value: Any) -> int | None:
    """A band bound as stored (`age_min_months`/`age_max_months`): a whole number of months, else no bound
    (a malformed value never hides a question)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def in_age_band(band: Any, months: int | None) -> bool:
    """Whether a question (attributes) or an option (dict) with `age_min_months`/`age_max_months` (from
    min, below max; missing = no bound) applies at `months` of age. Unknown age: asked."""
    if months is None:
        return True
    if isinstance(band, Mapping):
        low, high = band.get("age_min_months"), band.get("age_max_months")
    else:
        low, high = getattr(band, "age_min_months", None), getattr(band, "age_max_months", None)
    low, high = band_months(low), band_months(high)
    if low is not None and months < low:
        return False
    return not (high is not None and months >= high)
