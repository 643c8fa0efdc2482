"""Follow-ups to docs/security.md, "Known gaps": the certificate-lookup limit counts an IPv6 client's whole
/64, forms and the session-authenticated API refuse a POST without its CSRF token, the app gets no check-in
code for an online consultation, and the data export follows the verified family bond, never the account's
editable phone."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from health_f0.api.services import api_token_issue
from health_f0.appointments import services as appt_services
from health_f0.appointments.models import Appointment, Channel, Service
from health_f0.appointments.tests.conftest import MONDAY, NOW, local
from health_f0.core import counters
from health_f0.facilities.models import Facility
from health_f0.monitoring.models import Declaration
from health_f0.monitoring.services import reset_caches
from health_f0.notifications.models import OutboxMessage
from health_f0.patients.models import Patient
from health_f0.privacy.exports import export_json_stream
from health_f0.registration.models import Registration
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    registration_accept,
    registration_validate,
)
from tests.access_records import portal_ready

pytestmark = pytest.mark.django_db

NORMAL = {"temperature": "36,8", "spo2": "98", "breathing_rate": "16", "pulse": "80", "symptoms": ["cough"]}


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def hung(demo: Any) -> Patient:
    reset_caches()
    return portal_ready(Patient.objects.select_related("account").get(account__username="bn0000001"))


# --- 1. The certificate-lookup limit: 30 a minute per address, an IPv6 client's whole /64 ---------------


def _lookup(address: str) -> Any:
    return Client(REMOTE_ADDR=address).get("/xac-minh/ABCDEFGH23")


def test_certificate_lookups_are_limited_per_ipv6_64_and_per_ipv4_address(
    demo: Any, monkeypatch: Any
) -> None:
    # Hold the counters' clock: the sliding minute then counts exactly these lookups.
    fixed = timezone.now()
    monkeypatch.setattr(counters, "timezone", SimpleNamespace(now=lambda: fixed))
    # Thirty lookups, each from another address of one subscriber's /64: all answered (unknown code).
    for n in range(30):
        assert _lookup(f"2001:db8:1:2::{n + 1:x}").status_code == 404
    refused = _lookup("2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    page = _text(refused)
    assert "Tra cứu quá nhiều lần" in page and "Vui lòng thử lại sau 1 phút" in page
    assert "Không tìm thấy giấy xác nhận" not in page
    # Another /64 and an IPv4 address are counted on their own.
    assert _lookup("2001:db8:1:3::1").status_code == 404
    assert _lookup("203.0.113.9").status_code == 404
    # An IPv4 address is counted as itself: its 31st lookup is refused, its neighbour's first is not.
    for _n in range(29):
        assert _lookup("203.0.113.9").status_code == 404
    assert _lookup("203.0.113.9").status_code == 429
    assert _lookup("203.0.113.10").status_code == 404


def test_certificate_lookups_straddling_a_clock_minute_are_counted_whole(demo: Any, monkeypatch: Any) -> None:
    # A burst that starts in the last second of a minute and goes on into the next: a fixed window would let
    # 30 through before the boundary and 30 more after it. The sliding minute refuses the 31st.
    start = timezone.now().replace(second=59, microsecond=0)
    clock = {"now": start}
    monkeypatch.setattr(counters, "timezone", SimpleNamespace(now=lambda: clock["now"]))
    for _n in range(20):
        assert _lookup("198.51.100.4").status_code == 404
    clock["now"] = start + timedelta(seconds=1)
    for _n in range(10):
        assert _lookup("198.51.100.4").status_code == 404
    assert _lookup("198.51.100.4").status_code == 429
    # A minute and more after the burst the address may look up again.
    clock["now"] = start + timedelta(seconds=122)
    assert _lookup("198.51.100.4").status_code == 404


# --- 2. CSRF: a POST without the token is refused --------------------------------------------------------


def _csrf_client(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _token(client: Client) -> str:
    cookie = client.cookies.get("csrftoken")
    assert cookie is not None and cookie.value, "the page set no CSRF cookie"
    return cookie.value


def test_a_desk_form_without_its_csrf_token_is_refused(hung: Patient, persona: Any) -> None:
    desk = _csrf_client(persona("thanhdong.nv"))
    url = reverse("admin:patients_patient_change", args=[hung.pk])
    assert desk.get(url).status_code == 200
    data = {
        "full_name": hung.full_name,
        "date_of_birth": hung.date_of_birth.strftime("%d/%m/%Y"),
        "sex": hung.sex,
        "phone": "0986 000 222",
        "cccd": hung.cccd,
        "bhyt": hung.bhyt,
        "street": "Số 1 đường giả mạo",
    }
    forged = desk.post(url, data)
    assert forged.status_code == 403
    hung.refresh_from_db()
    assert hung.street != "Số 1 đường giả mạo"
    # The same form with its token goes through: the 403 above was the missing token, not the role.
    genuine = desk.post(url, {**data, "csrfmiddlewaretoken": _token(desk)})
    assert genuine.status_code == 302, genuine.content.decode()[:2000]
    hung.refresh_from_db()
    assert hung.street == "Số 1 đường giả mạo"


def test_a_portal_declaration_without_its_csrf_token_is_refused(hung: Patient) -> None:
    portal = _csrf_client(hung.account)
    form = portal.get("/khai-bao")
    assert form.status_code == 200
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', form.content.decode())
    assert key
    data = {"patient": str(hung.public_id), "idempotency_key": key.group(1), **NORMAL}
    forged = portal.post("/khai-bao", data)
    assert forged.status_code == 403
    assert not Declaration.objects.filter(patient=hung).exists()
    genuine = portal.post("/khai-bao", {**data, "csrfmiddlewaretoken": _token(portal)})
    assert genuine.status_code == 302
    assert Declaration.objects.filter(patient=hung).count() == 1


def test_the_session_authenticated_api_refuses_a_post_without_the_csrf_token(hung: Patient) -> None:
    session = _csrf_client(hung.account)
    assert session.get("/khai-bao").status_code == 200  # sets the CSRF cookie, as any portal page does
    body = json.dumps({"answers": {"temperature": "36,8", "spo2": 98, "breathing_rate": 16}})
    # The session alone authenticates a read (the API knows who this is)...
    assert session.get("/api/v1/me").status_code == 200
    # ...but a write with the session cookie and no token is refused.
    forged = session.post("/api/v1/declarations", body, content_type="application/json")
    assert forged.status_code == 403
    assert "CSRF" in forged.json()["detail"]
    assert not Declaration.objects.filter(patient=hung).exists()
    genuine = session.post(
        "/api/v1/declarations", body, content_type="application/json", HTTP_X_CSRFTOKEN=_token(session)
    )
    assert genuine.status_code == 201, genuine.content.decode()[:2000]
    assert Declaration.objects.filter(patient=hung).count() == 1


# --- 3. No check-in code in the app for an online consultation -------------------------------------------


def _api(user: Any) -> APIClient:
    raw, _token = api_token_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _book(service: Service, patient: Patient, hour: int) -> Appointment:
    return appt_services.appointment_book(
        patient=patient,
        service=service,
        slot_start=local(MONDAY, hour),
        channel=Channel.WEB,
        actor=patient.account,
        now=NOW,
    )


def test_the_api_gives_no_check_in_code_for_an_online_consultation(appointments_demo: Any) -> None:
    patient = portal_ready(Patient.objects.select_related("account").get(account__username="bn0000001"))
    online = _book(Service.objects.get(code="tu-van-online"), patient, 19)
    visit = _book(Service.objects.get(code="kham-noi"), patient, 9)
    assert online.check_in_code and visit.check_in_code
    api = _api(patient.account)
    assert api.get(f"/api/v1/appointments/{online.public_id}").json()["check_in_code"] is None
    assert api.get(f"/api/v1/appointments/{visit.public_id}").json()["check_in_code"] == visit.check_in_code
    listed = {row["id"]: row["check_in_code"] for row in api.get("/api/v1/appointments").json()["results"]}
    assert listed[str(online.public_id)] is None and listed[str(visit.public_id)] == visit.check_in_code
    assert online.check_in_code not in json.dumps(api.get("/api/v1/appointments").json())


# --- 4. The data export follows the verified family bond, never the account's editable phone -------------


def _web_patient(persona: Any, name: str, phone: str, born: date) -> Patient:
    """A patient accepted from a portal registration: the OTP to `phone` made the family bond."""
    data = registration_validate(
        RegistrationInput(
            full_name=name,
            date_of_birth=born,
            sex="male",
            phone=phone,
            province_code=31,
            ward_code=10510,
            test_type="rapid",
            positive_date=timezone.localdate() - timedelta(days=1),
            care="self_care",
            consent=True,
        )
    )
    registration = _create(data, channel="web", facility=Facility.objects.get(code="TYT-10510"), actor=None)
    patient = registration_accept(registration=registration, actor=persona("thanhdong.nv")).patient
    assert patient is not None
    return portal_ready(patient)


def test_the_export_ignores_the_accounts_editable_phone_and_follows_the_bond(
    hung: Patient, persona: Any
) -> None:
    child = _web_patient(persona, "Nguyễn Minh Khang", hung.phone, date(2019, 4, 12))  # bonded: family
    stranger = _web_patient(persona, "Phạm Thị Thu", "+84986000333", date(1985, 3, 8))
    # The stranger's number receives a text, and an unlinked registration is pending on it.
    OutboxMessage.objects.create(kind="appointment", to=stranger.phone, body="Tin nhắn riêng của bà Thu")
    pending = _create(
        registration_validate(
            RegistrationInput(
                full_name="Phạm Văn Tài",
                date_of_birth=date(1983, 1, 9),
                sex="male",
                phone=stranger.phone,
                province_code=31,
                ward_code=10510,
                test_type="rapid",
                positive_date=timezone.localdate() - timedelta(days=1),
                care="self_care",
                consent=True,
            )
        ),
        channel="web",
        facility=Facility.objects.get(code="TYT-10510"),
        actor=None,
    )
    assert Registration.objects.get(pk=pending.pk).patient_id is None
    # Hùng's account phone is edited to the stranger's number (an administrator's form, no OTP).
    account = get_user_model().objects.get(pk=hung.account_id)
    account.phone = stranger.phone
    account.save(update_fields=["phone"])

    text = "".join(export_json_stream(user=account))
    sections = json.loads(text)["sections"]
    assert {row["public_id"] for row in sections["patients"]} == {str(hung.public_id), str(child.public_id)}
    assert "Tin nhắn riêng của bà Thu" not in text
    assert all(row["to"] != stranger.phone for row in sections["messages"])
    assert str(pending.public_id) not in text and "Phạm Văn Tài" not in text
    assert str(stranger.public_id) not in text and "Phạm Thị Thu" not in text
    # The stranger's own export still has them.
    own = "".join(export_json_stream(user=stranger.account))
    assert "Tin nhắn riêng của bà Thu" in own and str(pending.public_id) in own
