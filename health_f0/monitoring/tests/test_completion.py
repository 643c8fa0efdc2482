"""Issue 9 item 2 and part of 11: an episode is not completed while alerts wait for the station (or each is
closed with an outcome in the same step, audited); an ended episode leaves nothing on the board or in the
alert lists; the patient is texted on completion."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from health_f0.core.exceptions import DomainError
from health_f0.core.models import AuditLog
from health_f0.monitoring import rules, selectors
from health_f0.monitoring.models import Alert, Episode
from health_f0.monitoring.services import (
    alert_acknowledge,
    alerts_acknowledge,
    declaration_submit,
    episode_close,
    episode_complete,
    reset_caches,
)
from health_f0.notifications.models import OutboxMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def episode(demo: Any) -> Episode:
    reset_caches()
    episode = Episode.objects.select_related("patient", "facility").get(
        patient__account__username="bn0000001"
    )
    eight_days_ago = timezone.localdate() - timedelta(days=8)
    Episode.objects.filter(pk=episode.pk).update(start_date=eight_days_ago, positive_date=eight_days_ago)
    episode.refresh_from_db()
    return episode


def urgent(episode: Episode, count: int) -> list[Alert]:
    """`count` urgent declarations this morning (SpO2 95%), each with its alert."""
    for i in range(count):
        declaration_submit(
            patient=episode.patient,
            actor=episode.patient.account,
            answers={"temperature": "36.9", "spo2": "95"},
            idempotency_key=f"morning-{i}",
        )
    return list(Alert.objects.filter(episode=episode).order_by("created_at", "id"))


def complete(episode: Episode, nurse: Any, **extra: Any) -> Episode:
    return episode_complete(
        episode=episode,
        actor=nurse,
        negative_test_date=timezone.localdate(),
        negative_test_type="rapid",
        **extra,
    )


def test_completion_is_refused_while_alerts_are_open(episode: Episode, persona: Any) -> None:
    nurse = persona("thanhdong.nv")
    alerts = urgent(episode, 4)
    with pytest.raises(DomainError) as exc:
        complete(episode, nurse)
    assert exc.value.code == "open_alerts" and "Còn 4 cảnh báo chưa xử lý" in exc.value.message
    episode.refresh_from_db()
    assert episode.status == "active" and not episode.certificate_code
    # Outcomes for three of the four are not enough either, and nothing is written.
    with pytest.raises(DomainError) as exc:
        complete(episode, nurse, alert_outcomes={a.pk: "stable" for a in alerts[:3]})
    assert "Còn 1 cảnh báo chưa xử lý" in exc.value.message
    assert Alert.objects.filter(episode=episode, acknowledged_at__isnull=True).count() == 4
    assert not AuditLog.objects.filter(verb="acknowledge_alert").exists()


def test_each_open_alert_is_closed_with_its_outcome_in_the_same_step(episode: Episode, persona: Any) -> None:
    nurse = persona("thanhdong.nv")
    alerts = urgent(episode, 4)
    outcomes = {
        alerts[0].pk: "stable",
        alerts[1].pk: "advised",
        alerts[2].pk: "stable",
        alerts[3].pk: "stable",
    }
    done = complete(episode, nurse, alert_outcomes=outcomes, alert_note="Đã gọi, SpO2 98%")
    assert done.status == "completed" and done.certificate_code
    for alert in alerts:
        alert.refresh_from_db()
        assert alert.outcome == outcomes[alert.pk] and alert.acknowledged_by == nurse
        assert alert.note == "Đã gọi, SpO2 98%"
        audit = AuditLog.objects.get(verb="acknowledge_alert", target_id=str(alert.pk))
        assert audit.actor == nurse and audit.data["via"] == "complete"
    completion = AuditLog.objects.get(verb="complete", target_id=str(episode.pk))
    assert sorted(completion.data["alerts_closed"]) == sorted(outcomes)
    # A completed episode leaves nothing on the board.
    station = episode.facility
    assert not selectors.open_alerts(user=nurse, facility=station).exists()
    assert selectors.open_alert_groups(user=nurse, facility=station, limit=20) == ([], 0)
    assert selectors.board_summary(user=nurse, facility=station, today=timezone.localdate()).open_alerts == {
        "emergency": 0,
        "urgent": 0,
        "watch": 0,
    }


def test_an_outcome_that_staff_may_not_choose_is_refused(episode: Episode, persona: Any) -> None:
    alerts = urgent(episode, 1)
    with pytest.raises(DomainError) as exc:
        complete(episode, persona("thanhdong.nv"), alert_outcomes={alerts[0].pk: "episode_ended"})
    assert exc.value.code == "outcome_invalid"
    with pytest.raises(DomainError):
        alert_acknowledge(alert=alerts[0], actor=persona("thanhdong.nv"), outcome="episode_ended")


def test_an_ended_episode_left_with_an_open_alert_is_on_no_list(episode: Episode, persona: Any) -> None:
    """An alert left open on an episode that ended (before this fix, or raced in while it ended) is not
    on the board, in its counts or in the API's alert list."""
    nurse = persona("thanhdong.nv")
    urgent(episode, 2)
    Episode.objects.filter(pk=episode.pk).update(status="completed")
    station = episode.facility
    assert not selectors.open_alerts(user=nurse, facility=station).exists()
    assert selectors.open_alert_groups(user=nurse, facility=station, limit=20) == ([], 0)
    summary = selectors.board_summary(user=nurse, facility=station, today=timezone.localdate())
    assert sum(summary.open_alerts.values()) == 0
    assert not selectors.alert_list(user=nurse).exists()


@pytest.mark.parametrize(("status", "outcome"), [("transferred", "hospital"), ("closed", "episode_ended")])
def test_ending_otherwise_closes_the_open_alerts(
    episode: Episode, persona: Any, status: str, outcome: str
) -> None:
    nurse = persona("thanhdong.nv")
    alerts = urgent(episode, 2)
    episode_close(episode=episode, actor=nurse, status=status, reason="Chuyển BV tỉnh, SpO2 92%")
    for alert in alerts:
        alert.refresh_from_db()
        assert alert.outcome == outcome and alert.acknowledged_by == nurse
        assert alert.note == "Chuyển BV tỉnh, SpO2 92%"
        assert AuditLog.objects.get(verb="acknowledge_alert", target_id=str(alert.pk)).data["via"] == (
            f"close_{status}"
        )
    assert not selectors.open_alerts(user=nurse, facility=episode.facility).exists()


def test_one_outcome_for_all_of_a_patients_alerts(episode: Episode, persona: Any) -> None:
    nurse = persona("thanhdong.nv")
    alerts = urgent(episode, 3)
    alert_acknowledge(
        alert=alerts[0], actor=persona("thanhdong.nv"), outcome="stable"
    )  # a colleague, earlier
    closed = alerts_acknowledge(alerts=alerts, actor=nurse, outcome="advised", note="Đã gọi")
    assert sorted(a.pk for a in closed) == sorted(a.pk for a in alerts[1:])
    assert AuditLog.objects.filter(verb="acknowledge_alert").count() == 3  # one per alert
    with pytest.raises(DomainError) as exc:
        alerts_acknowledge(alerts=alerts, actor=nurse, outcome="advised")
    assert exc.value.code == "already_acknowledged"
    # Another station's nurse handles none of them.
    fresh = urgent(episode, 1)[-1:]
    with pytest.raises(DomainError):
        alerts_acknowledge(alerts=fresh, actor=persona("lethanhnghi.nv"), outcome="stable")


def test_the_patient_is_texted_on_completion(episode: Episode, persona: Any) -> None:
    done = complete(episode, persona("thanhdong.nv"))
    message = OutboxMessage.objects.get(subject_ref=f"episode:{done.pk}:completed")
    assert message.to == done.patient.phone and message.kind == "generic"
    start = rules.isolation_start(done)
    assert "da hoan thanh cach ly" in message.body and done.certificate_code in message.body
    assert f"tu {start:%d/%m/%Y} den {timezone.localdate():%d/%m/%Y}" in message.body
    assert "/ca-nhan" in message.body and message.segments <= 2


def test_a_refused_completion_texts_no_one(episode: Episode, persona: Any) -> None:
    urgent(episode, 1)
    with pytest.raises(DomainError):
        complete(episode, persona("thanhdong.nv"))
    assert not OutboxMessage.objects.filter(subject_ref=f"episode:{episode.pk}:completed").exists()


def test_a_very_long_name_is_shortened_never_the_link_or_the_code(
    episode: Episode, persona: Any, settings: Any
) -> None:
    settings.PORTAL_URL = "https://chamsocf0.soytehaiphong.gov.vn/cong-dan"  # a long real-looking address
    episode.facility.__class__.objects.filter(pk=episode.facility_id).update(short_name="T" * 60)
    long_name = ("Nguyễn " + " ".join(["Thị Phương Hoàng Anh"] * 12))[:120].strip()  # the column's limit
    episode.patient.__class__.objects.filter(pk=episode.patient_id).update(full_name=long_name)
    episode.refresh_from_db()
    done = complete(episode, persona("thanhdong.nv"))
    body = OutboxMessage.objects.get(subject_ref=f"episode:{done.pk}:completed").body
    assert body.endswith(f"Ma giay: {done.certificate_code}") and f"{settings.PORTAL_URL}/ca-nhan." in body
    assert len(body) <= 306 and "..." in body
