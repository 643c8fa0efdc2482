"""Issue 9 on the monitoring desk: "Ngày thứ" from the positive test, never-declared patients are not
"normal", one alert card per patient (newest first, with a count, one outcome for all), and the completion
dialog that lists the open alerts and closes each with an outcome in the same step."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from health_f0.core.models import AuditLog
from health_f0.monitoring.models import Alert, Episode
from health_f0.monitoring.services import declaration_submit, reset_caches

pytestmark = pytest.mark.django_db

BOARD = "/desk/monitoring/episode/board/"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Any:
    reset_caches()
    yield
    reset_caches()


def hung_episode() -> Episode:
    return Episode.objects.select_related("patient").get(patient__account__username="bn0000001")


def declare(episode: Episode, key: str, **answers: Any) -> Alert | None:
    declaration, _ = declaration_submit(
        patient=episode.patient, actor=episode.patient.account, answers=answers, idempotency_key=key
    )
    return Alert.objects.filter(declaration=declaration).first()


def board_row(client: Any, episode: Episode) -> dict[str, Any]:
    rows = client.get(BOARD).context["rows"]
    (row,) = [r for r in rows if r["episode"].pk == episode.pk]
    return row


def test_the_day_is_counted_from_the_positive_test(desk: Any) -> None:
    episode = hung_episode()
    today = timezone.localdate()
    Episode.objects.filter(pk=episode.pk).update(positive_date=today - timedelta(days=2), start_date=today)
    client = desk("thanhdong.nv")
    assert board_row(client, episode)["day"] == 3
    # The board's "Ngày thứ" filter counts the same way.
    rows = client.get(BOARD, {"day": 3}).context["rows"]
    assert [r["episode"].pk for r in rows] == [episode.pk]
    assert client.get(BOARD, {"day": 1}).context["rows"] == []
    # The episode page shows both dates.
    html = client.get(reverse("admin:monitoring_episode_change", args=[episode.pk])).content.decode()
    assert "ngày có kết quả dương tính" in html.lower() and f"{today - timedelta(days=2):%d/%m/%Y}" in html
    assert "ngày tiếp nhận" in html.lower()


def test_a_patient_who_never_declared_is_not_shown_as_normal(desk: Any) -> None:
    episode = hung_episode()
    client = desk("thanhdong.nv")
    level = str(board_row(client, episode)["level"])
    assert "Chưa khai báo" in level and "Bình thường" not in level
    # Filtering on "normal" does not list them either.
    assert client.get(BOARD, {"level": "none"}).context["rows"] == []
    declare(episode, "a", temperature="36.8", spo2="98")
    assert "Bình thường" in str(board_row(client, episode)["level"])
    assert [r["episode"].pk for r in client.get(BOARD, {"level": "none"}).context["rows"]] == [episode.pk]


def test_alerts_are_one_card_per_patient_newest_first_with_a_count(desk: Any) -> None:
    episode = hung_episode()
    first = declare(episode, "a", temperature="36.9", spo2="95")
    second = declare(episode, "b", temperature="36.9", spo2="95", symptoms=["chest_pain"])
    third = declare(episode, "c", temperature="38.6", spo2="95")
    assert first and second and third
    now = timezone.now()
    for minutes, alert in ((90, first), (60, second), (30, third)):
        Alert.objects.filter(pk=alert.pk).update(created_at=now - timedelta(minutes=minutes))
    response = desk("thanhdong.nv").get(BOARD)
    html = response.content.decode()
    (card,) = response.context["alerts"]
    assert card["count"] == 3 and card["patient"].full_name == "Nguyễn Văn Hùng"
    assert [item["alert"].pk for item in card["items"]] == [third.pk, second.pk, first.pk]
    assert sorted(card["alert_ids"]) == sorted([first.pk, second.pk, third.pk])
    assert html.count("<article") == 1 and "3 cảnh báo chưa xử lý" in html
    assert "Cảnh báo chưa xử lý (3)" in html and "1 người bệnh" in html
    assert "đã chờ 1 giờ 30 phút" in html  # the longest-waiting one


def test_one_outcome_on_the_card_handles_all_of_the_patients_alerts(desk: Any, persona: Any) -> None:
    episode = hung_episode()
    alerts = [declare(episode, k, temperature="36.9", spo2="95") for k in ("a", "b", "c")]
    client = desk("thanhdong.nv")
    (card,) = client.get(BOARD).context["alerts"]
    response = client.post(
        card["ack_url"],
        {"outcome": "advised", "note": "Đã gọi", "alerts": card["alert_ids"], "next": BOARD},
        follow=True,
    )
    assert "Đã ghi nhận xử lý 3 cảnh báo của Nguyễn Văn Hùng." in response.content.decode()
    assert response.context["alerts"] == []
    for alert in alerts:
        assert alert is not None
        alert.refresh_from_db()
        assert alert.outcome == "advised" and alert.acknowledged_by == persona("thanhdong.nv")
    assert AuditLog.objects.filter(verb="acknowledge_alert").count() == 3


def test_the_card_never_reaches_another_patients_alert(desk: Any, persona: Any) -> None:
    episode = hung_episode()
    mine = declare(episode, "a", temperature="36.9", spo2="95")
    assert mine is not None
    # An id of another episode posted with the card is ignored; only this episode's alerts are handled.
    from health_f0.monitoring.services import episode_start
    from health_f0.patients.models import Patient
    from health_f0.patients.services import account_issue, patient_create

    stranger = patient_create(
        full_name="Lê Văn Tư",
        date_of_birth=timezone.localdate().replace(year=1970),
        sex="male",
        phone="0977666222",
        facility=episode.facility,
        province_code=31,
        ward_code=10510,
    )
    account_issue(patient=stranger)
    episode_start(patient=stranger, facility=episode.facility, actor=persona("thanhdong.nv"))
    stranger = Patient.objects.select_related("account").get(pk=stranger.pk)
    theirs, _ = declaration_submit(
        patient=stranger, actor=stranger.account, answers={"spo2": "95"}, idempotency_key="t"
    )
    their_alert = Alert.objects.get(declaration=theirs)
    desk("thanhdong.nv").post(
        reverse("admin:monitoring_alert_acknowledge", args=[mine.pk]),
        {"outcome": "stable", "alerts": [mine.pk, their_alert.pk]},
    )
    mine.refresh_from_db()
    their_alert.refresh_from_db()
    assert mine.outcome == "stable" and their_alert.acknowledged_at is None


def complete_url(episode: Episode) -> str:
    return reverse("admin:monitoring_episode_complete_action", args=[episode.pk])


def test_the_completion_dialog_lists_open_alerts_and_closes_each_with_an_outcome(desk: Any) -> None:
    episode = hung_episode()
    eight_days_ago = timezone.localdate() - timedelta(days=8)
    Episode.objects.filter(pk=episode.pk).update(start_date=eight_days_ago, positive_date=eight_days_ago)
    alerts = [declare(episode, k, temperature="36.9", spo2="95") for k in ("a", "b")]
    assert all(alerts)
    client = desk("thanhdong.nv")
    dialog = client.get(complete_url(episode)).content.decode()
    assert "Người bệnh còn 2 cảnh báo chưa xử lý." in dialog
    assert all(f'name="alert_{a.pk}"' in dialog for a in alerts if a)
    assert "SpO2 95% ≤ 96%" in dialog
    base = {
        "_form_submitted": "on",
        "negative_test_date": timezone.localdate().strftime("%d/%m/%Y"),
        "negative_test_type": "rapid",
    }
    # Without outcomes: refused, the dialog stays open with the alerts marked.
    response = client.post(complete_url(episode), base)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Chọn kết quả xử lý cho cảnh báo này." in page
    episode.refresh_from_db()
    assert episode.status == "active"
    # With an outcome for each: completed, alerts closed, nothing left on the board.
    outcomes = {f"alert_{a.pk}": "stable" for a in alerts if a}
    response = client.post(complete_url(episode), {**base, **outcomes, "alert_note": "Đã gọi, ổn định"})
    assert response.status_code == 302
    episode.refresh_from_db()
    assert episode.status == "completed" and episode.certificate_code
    assert not Alert.objects.filter(episode=episode, acknowledged_at__isnull=True).exists()
    assert client.get(BOARD).context["alerts"] == []


def test_the_completion_dialog_without_alerts_is_as_before(desk: Any) -> None:
    episode = hung_episode()
    dialog = desk("thanhdong.nv").get(complete_url(episode)).content.decode()
    assert "Người bệnh còn" not in dialog and "negative_test_date" in dialog
