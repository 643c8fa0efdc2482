"""Issue 9 item 1: home isolation is counted from the positive test (QĐ 261/QĐ-BYT), not from the day the
station accepted the patient: "Ngày thứ", the expected end, the 7-day minimum and the certificate."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from health_f0.core.exceptions import DomainError
from health_f0.monitoring import rules
from health_f0.monitoring.certificates import certificate_html, certificate_lookup
from health_f0.monitoring.models import Episode
from health_f0.monitoring.services import episode_complete, reset_caches
from health_f0.patients.models import Patient
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    registration_accept,
    registration_validate,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_caches() -> Any:
    reset_caches()
    yield
    reset_caches()


def accepted(persona: Any, *, positive: date, accepted_on: date, name: str = "Trần Thị Lan") -> Episode:
    """A registration with this positive-test date, accepted by the station on `accepted_on`."""
    hung = Patient.objects.get(account__username="bn0000001")
    data = registration_validate(
        RegistrationInput(
            full_name=name,
            date_of_birth=date(1990, 3, 1),
            sex="female",
            phone="0977555111",
            province_code=31,
            ward_code=10510,
            test_type="rapid",
            positive_date=positive,
            care="self_care",
            consent=True,
            spo2=98,
            breathing_rate=16,
            vaccine_doses=3,
        )
    )
    registration = _create(data, channel="web", facility=hung.facility, actor=None)
    registration_accept(registration=registration, actor=persona("thanhdong.nv"))
    episode = Episode.objects.select_related("patient", "facility").get(registration=registration)
    if accepted_on != timezone.localdate():  # the station accepted it that day
        Episode.objects.filter(pk=episode.pk).update(start_date=accepted_on)
        episode.refresh_from_db()
    return episode


def test_positive_04_12_accepted_06_12_is_day_3_and_ends_11_12(persona: Any) -> None:
    today = timezone.localdate()
    episode = accepted(persona, positive=today - timedelta(days=2), accepted_on=today)
    assert episode.positive_date == today - timedelta(days=2)
    assert episode.start_date == today  # the acceptance stays on record
    assert rules.isolation_day(episode, today) == 3  # was "Ngày thứ 1"
    assert episode.expected_end_date == today - timedelta(days=2) + timedelta(days=7)


def test_the_minimum_counts_from_the_positive_test(persona: Any) -> None:
    today = timezone.localdate()
    nurse = persona("thanhdong.nv")
    episode = accepted(persona, positive=today - timedelta(days=7), accepted_on=today - timedelta(days=5))
    done = episode_complete(
        episode=episode, actor=nurse, negative_test_date=today, negative_test_type="rapid"
    )
    assert done.status == "completed"  # 7 days since the positive test, 5 since the acceptance


def test_too_early_says_the_days_since_the_positive_test(persona: Any) -> None:
    today = timezone.localdate()
    episode = accepted(persona, positive=today - timedelta(days=6), accepted_on=today - timedelta(days=1))
    with pytest.raises(DomainError) as exc:
        episode_complete(
            episode=episode,
            actor=persona("thanhdong.nv"),
            negative_test_date=today,
            negative_test_type="rapid",
        )
    assert exc.value.code == "too_early"
    assert "Mới cách ly 6 ngày" in exc.value.message  # was "Mới cách ly 1 ngày"


def test_the_negative_test_may_not_precede_the_positive_one(persona: Any) -> None:
    today = timezone.localdate()
    episode = accepted(persona, positive=today - timedelta(days=8), accepted_on=today - timedelta(days=6))
    with pytest.raises(DomainError) as exc:
        episode_complete(
            episode=episode,
            actor=persona("thanhdong.nv"),
            negative_test_date=today - timedelta(days=9),
            negative_test_type="rapid",
        )
    assert exc.value.code == "negative_test_date_invalid"
    # Between the positive test and the acceptance is within the isolation: accepted.
    done = episode_complete(
        episode=episode,
        actor=persona("thanhdong.nv"),
        negative_test_date=today - timedelta(days=7),
        negative_test_type="rapid",
    )
    assert done.negative_test_date == today - timedelta(days=7)


def test_the_certificate_shows_both_dates_and_starts_at_the_positive_test(persona: Any) -> None:
    today = timezone.localdate()
    positive, accepted_on = today - timedelta(days=8), today - timedelta(days=6)
    episode = accepted(persona, positive=positive, accepted_on=accepted_on)
    done = episode_complete(
        episode=episode, actor=persona("thanhdong.nv"), negative_test_date=today, negative_test_type="rapid"
    )
    html = certificate_html(episode=done)
    assert f"từ ngày {positive:%d/%m/%Y} đến ngày {today:%d/%m/%Y}" in html
    assert f"{positive:%d/%m/%Y}" in html.split("dương tính")[1][:200]
    assert f"{accepted_on:%d/%m/%Y}" in html.split("tiếp nhận")[1][:200]
    public = certificate_lookup(code=done.certificate_code)
    assert public is not None and public.start_date == positive and public.positive_date == positive


def test_an_episode_without_a_known_positive_date_counts_from_its_start(demo: Any) -> None:
    """Rows from before the positive date was kept (or admitted without one): the station's acceptance is
    day 1, the later of the two possible starts, so the isolation is never shortened by a guess."""
    today = timezone.localdate()
    episode = Episode(start_date=today - timedelta(days=3), expected_end_date=today + timedelta(days=4))
    assert episode.positive_date is None
    assert rules.isolation_start(episode) == today - timedelta(days=3)
    assert rules.isolation_day(episode, today) == 4
