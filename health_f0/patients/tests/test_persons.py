"""The date-of-birth rule of patients.persons, alone and inside person_errors (the portal's guest form applies the
same function, so both say the same thing)."""

from __future__ import annotations

from datetime import date

import pytest

from health_f0.core.exceptions import DomainError
from health_f0.patients.persons import date_of_birth_check, person_errors

TODAY = date(2026, 12, 6)


def test_a_birth_date_today_or_within_120_years_is_kept() -> None:
    assert date_of_birth_check(TODAY, today=TODAY) == TODAY
    assert date_of_birth_check(date(1906, 1, 1), today=TODAY) == date(1906, 1, 1)


@pytest.mark.parametrize(
    ("born", "code"),
    [(date(2026, 12, 7), "date_of_birth_future"), (date(1905, 12, 31), "date_of_birth_invalid")],
)
def test_a_future_or_too_old_birth_date_is_refused_on_its_field(born: date, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        date_of_birth_check(born, today=TODAY)
    assert (refused.value.code, refused.value.field) == (code, "date_of_birth")
    _cleaned, errors = person_errors(
        full_name="Nguyễn Văn An", date_of_birth=born, sex="male", phone="0912345678", today=TODAY
    )
    assert [item[0] for item in errors["date_of_birth"]] == [code]
