"""The desk's shared formatting speaks the page's language: the age after a date of birth was Vietnamese only."""

from __future__ import annotations

from datetime import date

from django.utils import translation

from health_f0.desk.formatting import fmt_born


def test_the_age_after_a_date_of_birth_follows_the_language() -> None:
    with translation.override("vi"):
        assert fmt_born(date(1990, 3, 5)).startswith("05/03/1990 (") and "tuổi)" in fmt_born(date(1990, 3, 5))
    with translation.override("en"):
        text = fmt_born(date(1990, 3, 5))
    assert text.endswith("years old)") and "tuổi" not in text
