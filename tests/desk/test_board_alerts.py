"""The board's open alerts: most severe then oldest first (selectors.open_alerts), at most OPEN_ALERTS_SHOWN
on the page with a link to the station's full list, each with its own handling form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from health_f0.monitoring import selectors
from health_f0.monitoring.desk import board as monitoring_board
from health_f0.monitoring.models import Alert
from tests.desk.test_monitoring import BOARD, _fresh_caches, add_episodes, declare, station  # noqa: F401


def _alerts(count: int) -> list[Alert]:
    """`count` open alerts at TYT-10510, levels cycling watch, urgent, emergency, the later ones younger."""
    levels = ["watch", "urgent", "emergency"]
    now = timezone.now()
    alerts = []
    for i, episode in enumerate(add_episodes(count)):
        declaration = declare(episode.patient, f"k{i}", temperature="38.4")
        alert = Alert.objects.get(declaration=declaration)
        Alert.objects.filter(pk=alert.pk).update(
            level=levels[i % 3], created_at=now - timedelta(minutes=200 - i)
        )
        alerts.append(alert)
    return alerts


def test_open_alerts_are_most_severe_then_oldest_first(desk: Any, persona: Any) -> None:
    created = _alerts(9)
    rows = list(selectors.open_alerts(user=persona("thanhdong.nv"), facility=station()))
    assert {a.pk for a in rows} == {a.pk for a in created}
    levels = [a.level for a in rows]
    assert levels == ["emergency"] * 3 + ["urgent"] * 3 + ["watch"] * 3
    for level in ("emergency", "urgent", "watch"):
        times = [a.created_at for a in rows if a.level == level]
        assert times == sorted(times)


def test_board_shows_the_most_severe_alerts_and_links_to_all(desk: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(monitoring_board, "OPEN_ALERTS_SHOWN", 4)
    created = _alerts(7)  # 2 emergency, 2 urgent, 3 watch
    response = desk("thanhdong.nv").get(BOARD)
    assert response.status_code == 200
    shown = response.context["alerts"]
    # One card per patient (issue 9.9); each of these patients has one open alert.
    assert all(row["count"] == 1 for row in shown)
    levels = dict(Alert.objects.values_list("pk", "level"))
    assert [levels[row["alert_ids"][0]] for row in shown] == ["emergency", "emergency", "urgent", "urgent"]
    html = response.content.decode()
    section = html.split('id="alerts"')[1].split('id="patients"')[0]
    assert "Cảnh báo chưa xử lý (7)" in section
    assert "Xem tất cả 7 cảnh báo" in section
    assert f"/desk/monitoring/alert/?xu_ly=chua&amp;facility__id__exact={station().pk}" in section
    # One handling form per alert shown, each with its own ids and action.
    for row in shown:
        pk = row["alert_ids"][0]
        assert f'action="{reverse("admin:monitoring_alert_acknowledge", args=[pk])}"' in section
        assert f'id="ack{pk}_outcome"' in section and f'for="ack{pk}_outcome"' in section
        assert f'id="ack{pk}_note"' in section and f'for="ack{pk}_note"' in section
    assert section.count('name="outcome"') == 4 and section.count("Đã gọi – ổn định") == 4
    hidden = {a.pk for a in created} - {row["alert_ids"][0] for row in shown}
    assert all(f"ack{pk}_outcome" not in section for pk in hidden)


def test_board_without_more_alerts_has_no_link(desk: Any) -> None:
    _alerts(2)
    section = (
        desk("thanhdong.nv").get(BOARD).content.decode().split('id="alerts"')[1].split('id="patients"')[0]
    )
    assert "Cảnh báo chưa xử lý (2)" in section and "Xem tất cả" not in section
