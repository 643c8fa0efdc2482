"""The booking link's OTP gate after an unproved phone correction, in a real browser.

The SMS link of a booking asks for an OTP sent to the number that answers for the booking (the patient's
verified phone, or the one the booking was made with). After the desk corrects the number without proof, no
code is sent anywhere: the page says why and whom to call. Checked on a 390 px phone and at 200 % zoom (no
sideways scrolling), with axe."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from health_f0.appointments.models import Appointment
from health_f0.patients.models import Patient
from health_f0.patients.services import patient_update_details

pytestmark = pytest.mark.browser

NEW_PHONE = "+84986000111"


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert width <= 1, width


def test_the_gate_sends_no_code_to_an_unproved_corrected_number(
    page: Any, live_server: Any, axe: Any, shoot: Any, sms: Any
) -> None:
    hung = Patient.objects.get(account__username="bn0000001")
    booking = Appointment.objects.filter(patient=hung, status__in=["requested", "confirmed"]).first()
    assert booking is not None
    url = f"{live_server.url}/lich-hen/{booking.public_id}"

    page.goto(url)
    body = page.locator("main").inner_text()
    assert "0912\u00a0***\u00a0678" in body and page.get_by_role("button", name="Nhận OTP").is_visible()
    shoot(page, "booking-gate-01-otp")

    nurse = get_user_model().objects.get(username="thanhdong.nv")
    patient_update_details(patient=Patient.objects.get(pk=hung.pk), actor=nurse, changes={"phone": NEW_PHONE})
    page.goto(url)
    body = page.locator("main").inner_text()
    assert "chưa được xác thực" in body and "0986" not in body
    assert page.get_by_role("button", name="Nhận OTP").count() == 0
    assert page.get_by_role("link", name="Gọi 0220 385 2115").is_visible()
    assert "Trung tâm Y tế khu vực Hải Dương" in body
    assert hung.full_name not in body
    assert axe(page) == []
    _no_sideways_scroll(page)
    shoot(page, "booking-gate-02-unproved-number")
    page.set_viewport_size({"width": 195, "height": 844})  # a 390 px phone at 200 % zoom
    _no_sideways_scroll(page)
    shoot(page, "booking-gate-03-unproved-number-200")
    assert not [m for m in sms.messages() if m["to"] == NEW_PHONE and m["kind"] == "otp"]
