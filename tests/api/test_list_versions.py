"""API lists in v1 (limit/offset with a count, unchanged) and v2 (keyset cursor, issue 11), and the compiled
row output (api/fast.py) against the DRF serializers it stands for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from health_f0.api import fast
from health_f0.monitoring.services import reset_caches

V1 = "/api/v1"
V2 = "/api/v2"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Any:
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def declared(as_user: Any) -> Any:
    """The demo patient with 7 declarations (one with danger signs: an open alert at the station)."""
    client = as_user("bn0000001")
    for i in range(7):
        answers: dict[str, Any] = {"temperature": 36.5 + i / 10, "spo2": 97, "breathing_rate": 16}
        if i == 3:
            answers = {"temperature": 38.5, "spo2": 92, "symptoms": ["shortness_of_breath"]}
        assert client.post(f"{V1}/declarations", {"answers": answers}, format="json").status_code == 201
    return client


def follow(client: Any, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of a v2 list, page after page through `next`."""
    rows: list[dict[str, Any]] = []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        rows.extend(body["results"])
        if body["next"] is None:
            return rows
        response = client.get(body["next"])


def test_v1_keeps_its_envelope_and_v2_pages_the_same_rows(declared: Any) -> None:
    v1 = declared.get(f"{V1}/declarations", {"limit": 200}).json()
    assert set(v1) == {"count", "next", "previous", "results"} and v1["count"] == 7
    assert follow(declared, f"{V2}/declarations", {"limit": 2}) == v1["results"]


def test_v2_previous_goes_back_one_page(declared: Any) -> None:
    first = declared.get(f"{V2}/declarations", {"limit": 3}).json()
    assert first["previous"] is None
    second = declared.get(first["next"]).json()
    back = declared.get(second["previous"]).json()
    assert back["results"] == first["results"]


@pytest.mark.parametrize("cursor", ["garbage", "eyJrIjpbMV0sImIiOjB9"])
def test_v2_mangled_cursor_is_400_on_the_field(declared: Any, cursor: str) -> None:
    response = declared.get(f"{V2}/declarations", {"cursor": cursor})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_cursor" or "cursor" in body.get("errors", {})
    assert "cursor" in body.get("errors", {})


def test_a_deep_v2_page_costs_the_queries_of_the_first(declared: Any) -> None:
    with CaptureQueriesContext(connection) as first:
        body = declared.get(f"{V2}/declarations", {"limit": 1}).json()
    for _ in range(3):
        body = declared.get(body["next"]).json()
    with CaptureQueriesContext(connection) as deep:
        declared.get(body["next"])
    assert len(deep) == len(first) <= 3
    assert not any("COUNT(" in q["sql"].upper() for q in deep)


def test_v2_links_stay_in_v2(declared: Any, as_user: Any) -> None:
    body = declared.get(f"{V2}/declarations", {"limit": 2}).json()
    assert urlparse(body["next"]).path == f"{V2}/declarations"
    assert parse_qs(urlparse(body["next"]).query)["limit"] == ["2"]


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("bn0000001", "/episodes"),
        ("thanhdong.nv", "/alerts"),
        ("thanhdong.nv", "/registrations"),
        (None, "/guidance"),
    ],
)
def test_v2_lists_page_what_v1_lists(
    declared: Any, as_user: Any, client_api: Any, username: str, path: str
) -> None:
    client = as_user(username) if username else client_api
    v1 = client.get(f"{V1}{path}", {"limit": 200})
    assert v1.status_code == 200, v1.content
    rows = v1.json()["results"]
    assert rows, f"no rows in {path}: the test would prove nothing"
    assert follow(client, f"{V2}{path}", {"limit": 2}) == rows


# --- Compiled rows (api/fast.py) give the serializers' answer ------------------------------------------


def _slow(cls: type[serializers.Serializer], context: dict[str, Any] | None = None) -> Callable[[Any], Any]:
    return lambda page: cls(page, many=True, context=context or {}).data


# The alerts, registrations and booking-desk lists build their rows from `.values()` (no compiled serializer):
# tests/api/test_fast_rows.py compares them with their serializers.
@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("bn0000001", "/episodes"),
        (None, "/guidance"),
    ],
)
def test_compiled_rows_equal_the_serializer(
    declared: Any, as_user: Any, client_api: Any, monkeypatch: Any, username: str, path: str
) -> None:
    client = as_user(username) if username else client_api
    fast_rows = client.get(f"{V1}{path}", {"limit": 200}).json()
    import health_f0.api.apis.appointments as appointments_api
    import health_f0.api.apis.his as his_api
    import health_f0.api.apis.monitoring as monitoring_api
    import health_f0.api.apis.registrations as registrations_api

    for module in (appointments_api, his_api, monitoring_api, registrations_api):
        if hasattr(module, "compiled"):
            monkeypatch.setattr(module, "compiled", _slow)
    slow_rows = client.get(f"{V1}{path}", {"limit": 200}).json()
    assert fast_rows == slow_rows and fast_rows["results"]


class _Ref(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField(source="full_name")
    greeting = serializers.SerializerMethodField()

    def get_greeting(self, obj: Any) -> str:
        return f"{self.context.get('hello', '?')} {obj.full_name}"


class _Row(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    when = serializers.DateTimeField(source="submitted_at")
    day = serializers.DateField(source="local_date")
    late = serializers.BooleanField()
    level = serializers.ChoiceField(choices=[("none", "none"), ("watch", "watch")], source="alert_level")
    level_label = serializers.CharField(source="get_alert_level_display")
    temperature = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    spo2 = serializers.IntegerField(allow_null=True)
    patient = _Ref()
    by = serializers.CharField(source="submitted_by.username", allow_null=True, default=None)
    reasons = serializers.ListField(child=serializers.CharField())
    whole = serializers.SerializerMethodField()

    def get_whole(self, obj: Any) -> str:
        return f"{self.context.get('hello', '?')}:{obj.pk}"


def test_compiled_matches_drf_field_by_field(declared: Any) -> None:
    from health_f0.monitoring.models import Declaration

    rows = list(Declaration.objects.select_related("patient", "submitted_by").order_by("id"))
    rows[0].submitted_by = None  # a None on the way to `by`: DRF's default applies
    context = {"hello": "chào"}
    assert fast.compiled(_Row, context)(rows) == _Row(rows, many=True, context=context).data


def test_declaration_rows_answer_what_the_serializer_answers(declared: Any) -> None:
    """declaration_rows (a page's datetimes() and dates()) writes what DeclarationSerializer writes of the same
    declarations, v1 and v2, in Vietnam time and in UTC."""
    import json

    from django.utils import timezone
    from rest_framework.renderers import JSONRenderer

    from health_f0.api.apis.monitoring import DeclarationSerializer
    from health_f0.monitoring.models import Declaration

    instances = list(
        Declaration.objects.filter(patient__account__username="bn0000001").order_by("-submitted_at", "-id")
    )
    assert len(instances) == 7
    for zone in ("Asia/Ho_Chi_Minh", "UTC"):
        with timezone.override(zone):
            expected = json.loads(JSONRenderer().render(DeclarationSerializer(instances, many=True).data))
            v1 = declared.get(f"{V1}/declarations", {"limit": 200}).json()["results"]
            assert v1 == expected
            assert follow(declared, f"{V2}/declarations", {"limit": 3}) == expected
