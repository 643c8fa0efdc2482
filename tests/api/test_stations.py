"""Issue 9 item 8: `GET /api/v1/stations` lists where a registration may be transferred, scoped through
facilities.access, and the transfer takes a station's code as well as its UUID."""

from __future__ import annotations

from typing import Any

import pytest

from health_f0.facilities.models import Facility, FacilityKind
from health_f0.facilities.services import facility_save
from health_f0.registration.models import Registration
from tests.test_access_matrix import PERSONAS

pytestmark = pytest.mark.django_db

URL = "/api/v1/stations"
PROVINCE_31 = {"TYT-10510", "TYT-10532", "TYT-10537", "CSTD-HD"}
# Who works (or oversees) the home-care registration queue in province 31 sees its stations; the
# hospital-side roles at the TTYT (booking desk, reception, HIS linker) have no registration queue: none.
SEES_STATIONS = {
    "admin": PROVINCE_31 | {"TYT-HN-1"},
    "syt.lanhdao": PROVINCE_31,
    "ttyt.lanhdao": PROVINCE_31,
    "thanhdong.nv": PROVINCE_31,
    "thanhdong.truong": PROVINCE_31,
    "lethanhnghi.nv": PROVINCE_31,
    "tanhung.nv": PROVINCE_31,
    "bacsi.dieutri": PROVINCE_31,
    "datlich": set(),
    "tiepdon": set(),
    "lienket.his": set(),
    "ketoan": set(),  # the accountant settles payments: no registration queue
}


@pytest.fixture
def other_province(demo: Any) -> Facility:
    """A station in Hà Nội: nobody of Hải Phòng may transfer there, so nobody of Hải Phòng sees it."""
    return facility_save(
        facility=Facility(
            kind=FacilityKind.STATION, code="TYT-HN-1", name="Trạm Y tế phường Ba Đình", province_code=1
        )
    )


def _codes(response: Any) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["code"] for row in response.json()}


def test_the_matrix_rows_match_the_access_matrix_personas() -> None:
    assert sorted(SEES_STATIONS) == PERSONAS


@pytest.mark.parametrize("username", PERSONAS)
def test_each_persona_lists_exactly_the_stations_it_may_transfer_to(
    username: str, other_province: Facility, as_user: Any
) -> None:
    assert _codes(as_user(username).get(URL)) == SEES_STATIONS[username]


def test_inactive_facilities_and_other_kinds_are_not_listed(other_province: Facility, as_user: Any) -> None:
    Facility.objects.filter(code="TYT-10537").update(is_active=False)
    codes = _codes(as_user("thanhdong.nv").get(URL))
    assert "TYT-10537" not in codes and "TTYT-HD" not in codes and "SYT-31" not in codes


def test_patients_and_strangers_are_refused(demo: Any, as_user: Any, client_api: Any) -> None:
    assert client_api.get(URL).status_code == 401
    response = as_user("bn0000001").get(URL)
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_each_row_says_what_the_app_needs_to_choose(demo: Any, as_user: Any) -> None:
    rows = {row["code"]: row for row in as_user("thanhdong.nv").get(URL).json()}
    tan_hung = Facility.objects.get(code="TYT-10537")
    row = rows["TYT-10537"]
    assert row["id"] == str(tan_hung.public_id) and row["name"] == tan_hung.name
    assert row["kind"] == "station" and row["kind_label"] and row["hotline"] == tan_hung.hotline
    assert {w["code"] for w in row["wards"]} == {10537, 10543}
    assert all(w["name"] for w in row["wards"])
    assert rows["CSTD-HD"]["kind"] == "treatment" and rows["CSTD-HD"]["wards"] == []
    # In Vietnamese alphabetical order of the name.
    names = [r["name"] for r in as_user("thanhdong.nv").get(URL).json()]
    from health_f0.patients.address import sort_key

    assert names == sorted(names, key=sort_key)


def test_the_list_costs_the_same_queries_for_more_stations(
    demo: Any, as_user: Any, django_assert_max_num_queries: Any
) -> None:
    client = as_user("thanhdong.nv")
    client.get(URL)
    with django_assert_max_num_queries(7):
        client.get(URL)
    for index in range(5):
        facility_save(
            facility=Facility(
                kind=FacilityKind.STATION,
                code=f"TYT-X{index}",
                name=f"Trạm Y tế xã Thử {index}",
                province_code=31,
            )
        )
    with django_assert_max_num_queries(7):
        assert len(client.get(URL).json()) == 9


@pytest.mark.parametrize("by", ["code", "public_id"])
def test_transfer_takes_a_code_or_a_uuid(demo: Any, as_user: Any, by: str) -> None:
    registration = Registration.objects.filter(facility__code="TYT-10510", status="submitted").first()
    assert registration is not None
    tan_hung = Facility.objects.get(code="TYT-10537")
    station = tan_hung.code if by == "code" else str(tan_hung.public_id)
    response = as_user("thanhdong.nv").post(
        f"/api/v1/registrations/{registration.public_id}/transfer", {"station": station}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["facility"]["code"] == "TYT-10537"


@pytest.mark.parametrize("station", ["TYT-NOPE", "", "x" * 300, "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_station_is_a_clear_400(demo: Any, as_user: Any, station: str) -> None:
    registration = Registration.objects.filter(facility__code="TYT-10510", status="submitted").first()
    assert registration is not None
    response = as_user("thanhdong.nv").post(
        f"/api/v1/registrations/{registration.public_id}/transfer", {"station": station}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] in {"station_not_found", "validation_error"}


def test_the_schema_documents_the_endpoint(demo: Any, client_api: Any) -> None:
    schema = client_api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/stations"]["get"]
    assert operation["operationId"] == "station_list"
    accept = schema["paths"]["/api/v1/registrations/{id}/accept"]["post"]
    assert "requestBody" in accept
