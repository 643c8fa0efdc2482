"""Issue 9 items 10 and 11 on the registration form: provinces and wards in Vietnamese alphabetical order, a
note as soon as a province without home-care stations is chosen, and the OTP wait said once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from health_f0.facilities.models import Facility, FacilityKind, StationWard
from health_f0.facilities.services import facility_save
from health_f0.patients import address
from health_f0.registration import selectors
from tests.www.test_portal import E164, form_data

pytestmark = pytest.mark.django_db

NOT_SERVED = "chưa triển khai đăng ký chăm sóc tại nhà"


@pytest.fixture
def otp(client: Client, sms: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """otp() asks the form for a code (the OTP button) and returns the one texted."""

    def get() -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/dang-ky", form_data(action="otp"))
        assert response.status_code == 200
        return sms.last_otp(E164)

    return get


# --- Vietnamese collation ---------------------------------------------------------------------------------


def test_the_sort_key_follows_the_vietnamese_alphabet_with_tones_after_the_letter() -> None:
    names = [
        "Đà Nẵng",
        "Cao Bằng",
        "Ea Súp",
        "Cà Mau",
        "Dương Kinh",
        "Bắc Ninh",
        "Bà Rịa",
        "An Giang",
        "Ân Thi",
    ]
    assert sorted(names, key=address.sort_key) == [
        "An Giang",
        "Ân Thi",
        "Bà Rịa",
        "Bắc Ninh",
        "Cà Mau",
        "Cao Bằng",
        "Dương Kinh",
        "Đà Nẵng",
        "Ea Súp",
    ]
    # The base letter decides first; the tone only between otherwise equal words (a, à, ả, ã, á, ạ).
    assert sorted(["Lạng", "Lang", "Láng", "Làng"], key=address.sort_key) == ["Lang", "Làng", "Láng", "Lạng"]


def test_provinces_are_in_vietnamese_order() -> None:
    names = [name for _code, name in address.provinces()]
    assert len(names) == 34
    assert names.index("Cà Mau") < names.index("Cao Bằng") < names.index("Đắk Lắk") < names.index("Gia Lai")
    assert names == sorted(names, key=address.sort_key)


def test_wards_are_in_vietnamese_order() -> None:
    names = [name for _code, name in address.wards_of(31)]
    assert names == sorted(names, key=address.sort_key)
    # Code-point order would put every "Phường Đ…" after "Phường Y…"; Vietnamese order puts it after D.
    d_wards = [i for i, n in enumerate(names) if n.startswith("Phường D")]
    dd_wards = [i for i, n in enumerate(names) if n.startswith("Phường Đ")]
    e_wards = [i for i, n in enumerate(names) if n.startswith("Phường E") or n.startswith("Phường G")]
    assert d_wards and dd_wards and e_wards
    assert max(d_wards) < min(dd_wards) < min(e_wards)


def test_the_api_lists_provinces_in_the_same_order_and_says_which_are_served(
    demo: Any, client: Client
) -> None:
    rows = client.get("/api/v1/provinces").json()
    assert [row["name"] for row in rows] == [name for _code, name in address.provinces()]
    served = {row["code"] for row in rows if row["served"]}
    assert served == {31}


# --- which provinces have stations -------------------------------------------------------------------------


def test_served_provinces_are_those_with_a_department_or_a_station(demo: Any) -> None:
    def served() -> frozenset[int]:
        # Cached 5 minutes (a province is set up once, not during a day): read past the cache here.
        cache.delete(selectors.SERVED_PROVINCES_CACHE_KEY)
        return selectors.served_province_codes()

    assert served() == frozenset({31})
    hanoi = facility_save(
        facility=Facility(
            kind=FacilityKind.DEPARTMENT_OF_HEALTH, code="SYT-01", name="Sở Y tế Hà Nội", province_code=1
        )
    )
    assert served() == frozenset({1, 31})
    Facility.objects.filter(pk=hanoi.pk).update(is_active=False)
    assert served() == frozenset({31})
    # A station serving a ward of a province with no department of its own counts as well.
    station = facility_save(
        facility=Facility(
            kind=FacilityKind.STATION, code="TYT-HN-1", name="Trạm Y tế phường Ba Đình", province_code=1
        )
    )
    StationWard.objects.create(
        station=station, ward_code=address.wards_of(1)[0][0], ward_name="Ba Đình", province_code=1
    )
    assert served() == frozenset({1, 31})


def test_the_form_says_at_once_when_the_province_has_no_stations(demo: Any, client: Client) -> None:
    # Without JavaScript: the person picks Hà Nội and presses "update the wards".
    response = client.post("/dang-ky", form_data(action="wards", province_code="1", ward_code=""))
    page = response.content.decode()
    assert response.status_code == 200
    note = re.search(r'<p id="province-note"[^>]*>(.*?)</p>', page, re.S)
    assert note is not None and NOT_SERVED in note.group(1) and "Thành phố Hải Phòng" in note.group(1)
    assert "hidden" not in note.group(0)
    # Inside a live region that is always there, so a screen reader hears it when the script shows it.
    assert re.search(r'<div class="province-note-live" aria-live="polite">\s*<p id="province-note"', page)
    # The province select names the served ones for the script, and points at the note.
    select = re.search(r'<select name="province_code"[^>]*>', page)
    assert select is not None and 'data-served="31"' in select.group(0)
    assert "province-note" in select.group(0)


def test_no_note_for_the_served_province(demo: Any, client: Client) -> None:
    page = client.get("/dang-ky").content.decode()
    note = re.search(r'<p id="province-note"[^>]*>', page)
    assert note is not None and "hidden" in note.group(0)
    page = client.post(
        "/dang-ky", form_data(action="wards", province_code="31", ward_code="")
    ).content.decode()
    assert re.search(r'<p id="province-note"[^>]*hidden', page)


def test_submitting_for_an_unserved_province_still_says_why(demo: Any, client: Client, otp: Any) -> None:
    ward = address.wards_of(1)[0][0]
    response = client.post("/dang-ky", form_data(province_code="1", ward_code=str(ward), otp=otp()))
    assert response.status_code == 400
    assert NOT_SERVED in response.content.decode()


# --- the OTP wait notice -----------------------------------------------------------------------------------


def test_the_otp_wait_is_said_once(demo: Any, client: Client, otp: Any) -> None:
    otp()
    response = client.post("/dang-ky", form_data(action="otp"))
    assert response.status_code == 429
    notice = re.search(
        r'<div class="notice notice-warn" role="alert">(.*?)</div>', response.content.decode(), re.S
    )
    assert notice is not None
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", notice.group(1))).strip()
    assert re.fullmatch(r"Vui lòng chờ \d+ giây trước khi lấy mã mới\.", text), text
