"""The episode workflow as data: its table, what it offers each actor, and its guards named by their codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from health_f0.core.exceptions import DomainError, InvalidTransition
from health_f0.core.models import AuditLog
from health_f0.monitoring.certificates import certificate_download, may_download_certificate
from health_f0.monitoring.models import Episode
from health_f0.monitoring.services import episode_close, episode_complete, reset_caches
from health_f0.monitoring.transitions import EPISODE_WORKFLOW


@pytest.fixture
def episode(demo):
    reset_caches()
    episode = Episode.objects.get(patient__account__username="bn0000001")
    eight_days_ago = timezone.localdate() - timedelta(days=8)
    Episode.objects.filter(pk=episode.pk).update(start_date=eight_days_ago, positive_date=eight_days_ago)
    episode.refresh_from_db()
    return episode


def test_the_table() -> None:
    table = {(t.source, t.action): t.target for t in EPISODE_WORKFLOW.transitions}
    assert table == {
        ("active", "complete"): "completed",
        ("active", "transfer"): "transferred",
        ("active", "close"): "closed",
        ("completed", "certificate"): "completed",
    }
    complete = EPISODE_WORKFLOW.get("active", "complete")
    assert [g.name for g in complete.guards] == [
        "too_early",
        "test_type_invalid",
        "negative_test_date_invalid",
        "open_alerts",
    ]


def test_available_per_actor(episode, persona) -> None:
    nurse, other_station = persona("thanhdong.nv"), persona("lethanhnghi.nv")
    patient = episode.patient.account
    assert EPISODE_WORKFLOW.available(episode, nurse) == ["complete", "transfer", "close"]
    assert EPISODE_WORKFLOW.available(episode, other_station) == []
    assert EPISODE_WORKFLOW.available(episode, patient) == []
    assert not may_download_certificate(episode=episode, actor=patient)

    today = timezone.localdate()
    episode_complete(episode=episode, actor=nurse, negative_test_date=today, negative_test_type="rapid")
    episode.refresh_from_db()
    assert EPISODE_WORKFLOW.available(episode, nurse) == ["certificate"]
    assert EPISODE_WORKFLOW.available(episode, patient) == ["certificate"]
    assert EPISODE_WORKFLOW.available(episode, other_station) == []
    audit = AuditLog.objects.filter(verb="complete", target_id=str(episode.pk)).latest("id")
    assert audit.data["from"] == "active" and audit.data["to"] == "completed"

    # The patient's own download is not audited; the station's is.
    assert certificate_download(episode=episode, actor=patient).startswith(b"%PDF")
    assert not AuditLog.objects.filter(verb="certificate_pdf", target_id=str(episode.pk)).exists()
    certificate_download(episode=episode, actor=nurse)
    assert AuditLog.objects.filter(verb="certificate_pdf", target_id=str(episode.pk), actor=nurse).exists()


def test_guards_carry_the_rule_codes_and_fields(episode, persona) -> None:
    nurse = persona("thanhdong.nv")
    today = timezone.localdate()
    with pytest.raises(DomainError) as exc:
        episode_complete(episode=episode, actor=nurse, negative_test_date=today, negative_test_type="other")
    assert exc.value.code == "test_type_invalid" and exc.value.field == "negative_test_type"
    with pytest.raises(DomainError) as exc:
        episode_complete(
            episode=episode,
            actor=nurse,
            negative_test_date=today + timedelta(days=1),
            negative_test_type="rapid",
        )
    assert exc.value.code == "negative_test_date_invalid" and exc.value.field == "negative_test_date"
    with pytest.raises(DomainError) as exc:
        episode_close(episode=episode, actor=nurse, status="closed", reason="ab")
    assert exc.value.code == "reason_required" and exc.value.field == "reason"
    episode_close(episode=episode, actor=nurse, status="closed", reason="Chuyển nơi ở khác")
    audit = AuditLog.objects.filter(verb="close_closed", target_id=str(episode.pk)).latest("id")
    assert audit.data["from"] == "active" and audit.data["to"] == "closed"
    with pytest.raises(InvalidTransition):
        episode_close(episode=episode, actor=nurse, status="transferred", reason="Chuyển BV tỉnh")
