"""Ending an episode: minimum days and a negative test, certificate PDF with QR, public verification."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from health_f0.core.exceptions import DomainError
from health_f0.monitoring.certificates import certificate_lookup, certificate_pdf
from health_f0.monitoring.models import Episode
from health_f0.monitoring.services import declaration_submit, episode_close, episode_complete, reset_caches


@pytest.fixture
def episode(demo):
    reset_caches()
    episode = Episode.objects.get(patient__account__username="bn0000001")
    eight_days_ago = timezone.localdate() - timedelta(days=8)
    Episode.objects.filter(pk=episode.pk).update(start_date=eight_days_ago, positive_date=eight_days_ago)
    episode.refresh_from_db()
    return episode


def test_complete_needs_minimum_days_and_negative_test(episode, persona, tmp_path):
    nurse = persona("thanhdong.nv")
    today = timezone.localdate()
    Episode.objects.filter(pk=episode.pk).update(positive_date=today - timedelta(days=5))
    episode.refresh_from_db()
    with pytest.raises(DomainError) as exc:
        episode_complete(episode=episode, actor=nurse, negative_test_date=today, negative_test_type="rapid")
    assert exc.value.code == "too_early"
    Episode.objects.filter(pk=episode.pk).update(positive_date=today - timedelta(days=7))
    with pytest.raises(DomainError):
        episode_complete(
            episode=episode,
            actor=persona("lethanhnghi.nv"),
            negative_test_date=today,
            negative_test_type="rapid",
        )
    done = episode_complete(
        episode=episode, actor=nurse, negative_test_date=today, negative_test_type="rapid"
    )
    assert done.status == "completed" and len(done.certificate_code) == 10
    pdf = certificate_pdf(episode=done)
    assert pdf.startswith(b"%PDF")
    (tmp_path / "certificate.pdf").write_bytes(pdf)
    public = certificate_lookup(code=done.certificate_code.lower())
    assert public is not None and public.name_masked == "N***** V** Hùng" and public.birth_year == 1985
    assert certificate_lookup(code="NOTACODE12") is None
    with pytest.raises(DomainError) as exc:
        declaration_submit(patient=done.patient, actor=None, answers={"temperature": "36.5"})
    assert exc.value.code == "no_active_episode"


def test_close_transferred_requires_reason_and_is_final(episode, persona):
    nurse = persona("thanhdong.nv")
    with pytest.raises(DomainError):
        episode_close(episode=episode, actor=nurse, status="transferred", reason="")
    closed = episode_close(
        episode=episode, actor=nurse, status="transferred", reason="SpO2 90%, chuyển BV tỉnh"
    )
    assert closed.status == "transferred"
    with pytest.raises(DomainError):
        episode_complete(
            episode=closed, actor=nurse, negative_test_date=date.today(), negative_test_type="rapid"
        )
    assert certificate_lookup(code=closed.certificate_code or "XXXXXXXXXX") is None
