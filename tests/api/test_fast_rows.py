"""The staff lists built from `.values()` rows (issue 11: no model instance per row) answer exactly what their
DRF serializers answer over model instances: the serializers stay what the OpenAPI schema documents, and these
tests keep the two from drifting apart, field by field, for v1 and v2 pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import IntegerField, Value
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from health_f0.api.apis import monitoring as monitoring_api
from health_f0.api.apis import registrations as registrations_api
from health_f0.monitoring import selectors as monitoring_selectors
from health_f0.monitoring.models import Alert
from health_f0.monitoring.services import reset_caches
from health_f0.registration import selectors as registration_selectors

V1 = "/api/v1"
V2 = "/api/v2"


def as_json(data: Any) -> Any:
    """What the API's renderer makes of a serializer's answer, read back."""
    import json

    return json.loads(JSONRenderer().render(data))


def every_row(client: Any, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of a v2 list, page after page through `next`."""
    rows: list[dict[str, Any]] = []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows.extend(body["results"])
        if body["next"] is None:
            return rows
        response = client.get(body["next"])


@pytest.fixture(autouse=True)
def _fresh_caches() -> Any:
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def alerted(as_user: Any) -> Any:
    """The demo patient's declarations with danger signs: open alerts at the station."""
    client = as_user("bn0000001")
    for i in range(4):
        answers: dict[str, Any] = {
            "temperature": 38.5 + i / 10,
            "spo2": 92,
            "symptoms": ["shortness_of_breath"],
        }
        if i == 2:
            answers = {"temperature": 37.9, "spo2": 95, "breathing_rate": 16}
        assert client.post(f"{V1}/declarations", {"answers": answers}, format="json").status_code == 201
    return client


# --- Alerts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["thanhdong.nv"])
def test_alert_list_answers_what_the_serializer_answers(
    alerted: Any, as_user: Any, persona: Any, username: str
) -> None:
    client = as_user(username)
    expected = as_json(
        monitoring_api.AlertSerializer(
            list(monitoring_selectors.alert_list(user=persona(username))), many=True
        ).data
    )
    assert expected, "no open alert: the test would prove nothing"
    assert client.get(f"{V1}/alerts", {"limit": 200}).json()["results"] == expected
    assert every_row(client, f"{V2}/alerts", {"limit": 2}) == expected


def test_alert_rows_of_acknowledged_alerts_equal_the_serializer(
    alerted: Any, as_user: Any, persona: Any
) -> None:
    """Acknowledged alerts (a user, a time, an outcome and a note) and every level, in English too."""
    staff = persona("thanhdong.nv")
    alerts = list(Alert.objects.order_by("id"))
    assert len(alerts) >= 2
    Alert.objects.filter(pk=alerts[0].pk).update(
        acknowledged_at=timezone.now(), acknowledged_by=staff, outcome="stable", note="Đã gọi, ổn định"
    )
    queryset = Alert.objects.annotate(severity=Value(0, output_field=IntegerField())).order_by("id")
    instances = list(
        queryset.select_related("episode__patient", "declaration", "acknowledged_by", "facility")
    )
    rows = list(queryset.values(*monitoring_api.ALERT_COLUMNS))
    for language in ("vi", "en"):
        from django.utils import translation

        with translation.override(language):
            expected = as_json(monitoring_api.AlertSerializer(instances, many=True).data)
            assert as_json(monitoring_api.alert_rows(rows)) == expected
    assert expected[0]["acknowledged_by"] == staff.username


# --- Registrations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "params"), [("thanhdong.nv", {}), ("thanhdong.nv", {"status": "submitted"})]
)
def test_registration_list_answers_what_the_serializer_answers(
    demo: Any, as_user: Any, persona: Any, username: str, params: dict[str, Any]
) -> None:
    client = as_user(username)
    queue = registration_selectors.registration_queue(user=persona(username), **params)
    expected = as_json(registrations_api.RegistrationSummarySerializer(list(queue), many=True).data)
    assert expected, "no registration: the test would prove nothing"
    assert client.get(f"{V1}/registrations", {"limit": 200, **params}).json()["results"] == expected
    assert every_row(client, f"{V2}/registrations", {"limit": 3, **params}) == expected
