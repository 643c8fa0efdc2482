"""The portal's booking forms after issue 9 (item 20): the guest form shows every error in ONE round (not the
form's errors first and the identity checks after they are fixed), and changing a booking's time takes a
confirmation step (a tap on a time no longer moves the booking at once)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from health_f0.appointments.models import Appointment, Service
from tests.www.test_appointments_portal import (
    at,
    book_url,
    get_otp,  # noqa: F401 (fixture)
    guest_book,
    guest_data,
    html,
    make_service,
    open_day,
    text,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(demo: Any) -> Service:
    return make_service()


def test_guest_form_shows_every_error_at_once(service: Service) -> None:
    client = Client()
    url = book_url(service, open_day(service), "08:00")
    response = client.post(
        url,
        guest_data(
            full_name="Lê Thị Hoa 2",
            date_of_birth="31/02/1990",
            phone="12345",
            cccd="123",
            bhyt="abc",
            consent="",
            otp="",
        ),
    )
    assert response.status_code == 400
    page = text(response)
    expected = [
        "Ngày sinh không hợp lệ",  # the form's own checks...
        "Cần đồng ý cho phép xử lý dữ liệu cá nhân",
        "Số điện thoại di động không hợp lệ",  # ...and the identity rules', in the same round
        "Số CCCD phải gồm đúng 12 chữ số",
        "Số thẻ BHYT gồm 10 chữ số",
        "Họ và tên không được chứa chữ số",
        "Vui lòng nhập mã OTP",
        "Có 7 mục cần sửa",
    ]
    missing = [message for message in expected if message not in page]
    assert not missing, page[:4000]
    # The error summary links to each field.
    for field in ("phone", "cccd", "bhyt", "full_name", "date_of_birth", "otp"):
        assert f'href="#id_{field}"' in html(response), field
    assert not Appointment.objects.filter(service=service).exists()


def test_guest_form_checks_the_cccd_against_the_birth_year_in_the_same_round(service: Service) -> None:
    client = Client()
    url = book_url(service, open_day(service), "08:00")
    # 1985 is the year of birth; the CCCD says 1990 (digits 5-6) and the phone is fine: one round, one error.
    response = client.post(url, guest_data(cccd="001190012345", otp="123456"))
    assert response.status_code == 400
    assert "CCCD" in text(response)


def test_rescheduling_asks_before_moving(service: Service, get_otp: Any) -> None:  # noqa: F811
    client = Client()
    day = open_day(service)
    appointment = guest_book(client, get_otp, service, day, "08:00")
    base = f"/lich-hen/{appointment.public_id}/doi-lich"
    grid = html(client.get(f"{base}?ngay={day.isoformat()}"))
    # The grid's times are links to a confirmation, not buttons that move the booking.
    assert 'name="gio"' not in grid
    assert f"?ngay={day.isoformat()}&amp;gio=10:30" in grid
    confirm = client.get(base, {"ngay": day.isoformat(), "gio": "10:30"})
    page = text(confirm)
    assert confirm.status_code == 200
    assert "08:00" in page and "10:30" in page and "Xác nhận đổi giờ" in page
    appointment.refresh_from_db()
    assert appointment.slot_start == at(day, 8)  # nothing moved yet
    form = html(confirm)
    assert 'method="post"' in form and 'name="gio" value="10:30"' in form
    response = client.post(base, {"ngay": day.isoformat(), "gio": "10:30"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.slot_start == at(day, 10, 30)
    # A time that is not free (or not a time) is refused on the confirmation step, not silently.
    bad = client.get(base, {"ngay": day.isoformat(), "gio": "25:00"})
    assert bad.status_code == 400
