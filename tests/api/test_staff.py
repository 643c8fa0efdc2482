"""Staff endpoints by persona: station A, station B, the TTYT manager, a patient, nobody."""

from __future__ import annotations

from typing import Any

import pytest

from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.registration.models import Registration

pytestmark = pytest.mark.django_db

URL = "/api/v1/registrations"


def _pending(code: str) -> Registration:
    return Registration.objects.filter(facility__code=code, status="submitted").order_by("id").first()


def _ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_each_persona_lists_exactly_its_scope(as_user):
    ids_a = _ids(as_user("thanhdong.nv").get(URL))
    ids_b = _ids(as_user("lethanhnghi.nv").get(URL))
    ids_manager = _ids(as_user("ttyt.lanhdao").get(URL))
    station_a = {str(r.public_id) for r in Registration.objects.filter(facility__code="TYT-10510")}
    station_b = {str(r.public_id) for r in Registration.objects.filter(facility__code="TYT-10532")}
    assert ids_a == station_a and len(ids_a) >= 2
    assert ids_b == station_b and len(ids_b) >= 1
    assert ids_manager >= station_a | station_b
    assert _ids(as_user("tanhung.nv").get(URL)) == set()


def test_list_filters_and_pagination(as_user):
    client = as_user("ttyt.lanhdao")
    station_b = Facility.objects.get(code="TYT-10532")
    rows = client.get(URL, {"facility": str(station_b.public_id), "status": "submitted"}).json()["results"]
    assert rows and all(row["facility"]["code"] == "TYT-10532" for row in rows)
    page = client.get(URL, {"limit": 1, "offset": 0}).json()
    assert page["count"] >= 3 and len(page["results"]) == 1 and page["next"]
    assert client.get(URL, {"status": "nonsense"}).status_code == 400
    assert client.get(URL, {"facility": "not-a-uuid"}).status_code == 400
    assert client.get(URL, {"limit": "abc", "offset": "-5"}).status_code == 200


def test_list_query_count_does_not_grow_per_row(as_user, django_assert_max_num_queries):
    client = as_user("ttyt.lanhdao")
    client.get(URL)  # warm any per-process caches
    with django_assert_max_num_queries(8):
        first = client.get(URL)
    registration = _pending("TYT-10510")
    for index in range(6):
        Registration.objects.create(
            **{
                f.name: getattr(registration, f.name)
                for f in Registration._meta.concrete_fields
                if f.name not in {"id", "public_id", "open_key", "created_at", "updated_at"}
            },
            open_key=f"copy-{index}",
        )
    with django_assert_max_num_queries(8):
        second = client.get(URL)
    assert second.json()["count"] == first.json()["count"] + 6


def test_detail_is_audited(as_user, persona):
    registration = _pending("TYT-10510")
    response = as_user("thanhdong.nv").get(f"{URL}/{registration.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["full_name"] == registration.full_name
    assert body["facility"]["code"] == "TYT-10510"
    assert AuditLog.objects.filter(
        verb="view", target_id=str(registration.pk), actor=persona("thanhdong.nv")
    ).exists()


def test_other_station_answers_404_for_detail_and_actions(as_user):
    registration = _pending("TYT-10532")
    client = as_user("thanhdong.nv")
    for method, path, data in [
        ("get", "", None),
        ("post", "/accept", None),
        ("post", "/reject", {"reason": "Không thuộc địa bàn"}),
        ("post", "/transfer", {"station": str(Facility.objects.get(code="TYT-10537").public_id)}),
    ]:
        response = getattr(client, method)(f"{URL}/{registration.public_id}{path}", data, format="json")
        assert response.status_code == 404, (path, response.json())
        assert response.json()["code"] == "not_found"
    registration.refresh_from_db()
    assert registration.status == "submitted" and registration.facility.code == "TYT-10532"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "1"])
def test_unknown_ids_are_404(as_user, bad_id):
    client = as_user("thanhdong.nv")
    assert client.get(f"{URL}/{bad_id}").status_code == 404
    assert client.post(f"{URL}/{bad_id}/accept").status_code == 404


def test_manager_sees_both_stations_but_cannot_act(as_user):
    client = as_user("ttyt.lanhdao")
    for code in ("TYT-10510", "TYT-10532"):
        registration = _pending(code)
        detail = client.get(f"{URL}/{registration.public_id}")
        assert detail.status_code == 200
        assert detail.json()["actions"] == []  # the workflow offers a manager nothing to do
        response = client.post(f"{URL}/{registration.public_id}/accept")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


def test_accept_then_409(as_user, sms, django_capture_on_commit_callbacks):
    registration = _pending("TYT-10532")
    client = as_user("lethanhnghi.nv")
    assert client.get(f"{URL}/{registration.public_id}").json()["actions"] == ["accept", "reject", "transfer"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}/{registration.public_id}/accept")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "accepted" and response.json()["patient_id"]
    assert response.json()["actions"] == []
    assert sms.last(to=registration.phone, kind="account")
    again = client.post(f"{URL}/{registration.public_id}/accept")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert (
        client.post(
            f"{URL}/{registration.public_id}/reject", {"reason": "Đã nhận rồi"}, format="json"
        ).status_code
        == 409
    )


def test_reject_needs_a_reason(as_user):
    registration = _pending("TYT-10510")
    client = as_user("thanhdong.nv")
    short = client.post(f"{URL}/{registration.public_id}/reject", {"reason": "x"}, format="json")
    assert short.status_code == 400 and "reason" in short.json()["errors"]
    missing = client.post(f"{URL}/{registration.public_id}/reject", {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    ok = client.post(
        f"{URL}/{registration.public_id}/reject", {"reason": "Không cư trú tại địa bàn phường"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["status"] == "rejected"


def test_transfer(as_user):
    registration = _pending("TYT-10510")
    client = as_user("thanhdong.nv")
    target = Facility.objects.get(code="TYT-10537")
    url = f"{URL}/{registration.public_id}/transfer"
    assert client.post(url, {"station": "not-a-uuid"}, format="json").status_code == 400
    unknown = client.post(url, {"station": "00000000-0000-0000-0000-000000000000"}, format="json")
    assert unknown.status_code == 400 and "station" in unknown.json()["errors"]
    same = client.post(url, {"station": str(registration.facility.public_id)}, format="json")
    assert same.status_code == 400 and same.json()["code"] == "same_station"
    ttyt = Facility.objects.get(code="TTYT-HD")
    assert client.post(url, {"station": str(ttyt.public_id)}, format="json").status_code == 400
    response = client.post(url, {"station": str(target.public_id), "note": "Ở Tân Hưng"}, format="json")
    assert response.status_code == 200 and response.json()["facility"]["code"] == "TYT-10537"
    # Now it is out of station A's scope.
    assert client.get(f"{URL}/{registration.public_id}").status_code == 404


def test_patient_token_cannot_use_staff_endpoints(as_user):
    client = as_user("bn0000001")
    registration = _pending("TYT-10510")
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}/{registration.public_id}").status_code == 403
    assert client.post(f"{URL}/{registration.public_id}/accept").status_code == 403
    assert client.get(URL).json()["code"] == "permission_denied"


def test_unauthenticated_is_401_json(client_api, demo):
    registration = _pending("TYT-10510")
    for method, path in [
        ("get", URL),
        ("get", f"{URL}/{registration.public_id}"),
        ("post", f"{URL}/{registration.public_id}/accept"),
        ("get", "/api/v1/me"),
        ("post", "/api/v1/auth/logout"),
        ("post", "/api/v1/auth/password"),
    ]:
        response = getattr(client_api, method)(path)
        assert response.status_code == 401, (path, response.status_code)
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Bearer"
        assert not response.json()["detail"].isascii()


def test_bad_action_bodies_are_400(as_user):
    registration = _pending("TYT-10510")
    client = as_user("thanhdong.nv")
    for path, data in [
        ("/reject", {"reason": ["a"]}),
        ("/reject", {"reason": "x" * 5000}),
        ("/transfer", {"station": 12}),
        ("/transfer", {}),
    ]:
        response = client.post(f"{URL}/{registration.public_id}{path}", data, format="json")
        assert response.status_code == 400, (path, response.json())
    response = client.generic(
        "POST", f"{URL}/{registration.public_id}/reject", "{oops", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
