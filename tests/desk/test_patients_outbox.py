"""Patients (audited reads, audited edits) and the outbox (never an OTP or password on screen)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility, Membership
from health_f0.notifications import crypto
from health_f0.notifications.models import OutboxMessage
from health_f0.patients.models import Patient
from health_f0.patients.otp import otp_request

pytestmark = pytest.mark.django_db


def _patient() -> Patient:
    return Patient.objects.get(account__username="bn0000001")


def test_patient_detail_is_audited(desk: Any, persona: Any) -> None:
    patient = _patient()
    html = desk("thanhdong.nv").get(f"/desk/patients/patient/{patient.pk}/change/").content.decode()
    assert "Nguyễn Văn Hùng" in html and "0912 345 678" in html
    row = AuditLog.objects.filter(
        target_type="patients.patient", target_id=str(patient.pk), action="view"
    ).latest("id")
    assert row.actor == persona("thanhdong.nv")


def test_patient_of_another_station_is_not_visible(desk: Any) -> None:
    patient = _patient()
    client = desk("lethanhnghi.nv")
    assert "Nguyễn Văn Hùng" not in client.get("/desk/patients/patient/").content.decode()
    assert client.get(f"/desk/patients/patient/{patient.pk}/change/").status_code in (302, 404)
    # The list page itself is audited (verb view_list); no read of this patient's record is.
    assert not AuditLog.objects.filter(
        target_type="patients.patient", target_id=str(patient.pk), action="view"
    ).exists()


def test_station_staff_edit_personal_details_with_an_audit_row(desk: Any) -> None:
    patient = _patient()
    url = f"/desk/patients/patient/{patient.pk}/change/"
    data = {
        "full_name": "Nguyễn Văn Hùng",
        "date_of_birth": patient.date_of_birth.strftime("%d/%m/%Y"),
        "sex": "male",
        "phone": "0912 345 678",
        "cccd": "",
        "bhyt": "",
        "street": "Số 14 Trần Hưng Đạo",
    }
    response = desk("thanhdong.nv").post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    patient.refresh_from_db()
    assert patient.street == "Số 14 Trần Hưng Đạo" and patient.phone == "+84912345678"
    row = AuditLog.objects.filter(target_id=str(patient.pk), verb="update_details").latest("id")
    assert row.data == {"fields": ["street"]}


def test_bad_phone_is_a_form_error(desk: Any) -> None:
    patient = _patient()
    response = desk("thanhdong.nv").post(
        f"/desk/patients/patient/{patient.pk}/change/",
        {"full_name": "Nguyễn Văn Hùng", "date_of_birth": "12/04/1985", "sex": "male", "phone": "12345"},
    )
    assert response.status_code == 200
    assert "Số điện thoại di động không hợp lệ" in response.content.decode()


def test_managers_read_but_do_not_edit_patients(desk: Any) -> None:
    patient = _patient()
    client = desk("ttyt.lanhdao")
    response = client.post(
        f"/desk/patients/patient/{patient.pk}/change/",
        {"full_name": "X Y", "date_of_birth": "12/04/1985", "sex": "male", "phone": "0912345678"},
    )
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.full_name == "Nguyễn Văn Hùng"


def test_outbox_never_shows_an_otp(desk: Any, sms: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(phone="+84977000222", purpose="registration", ip="10.0.0.2")
    sent_code = sms.last_otp("+84977000222")
    # A second one stays queued (its on-commit send never runs here): the body is still encrypted.
    otp_request(phone="+84977000333", purpose="registration", ip="10.0.0.3")
    queued = OutboxMessage.objects.get(to="+84977000333")
    match = re.search(r"\b(\d{6})\b", crypto.decrypt(bytes(queued.body_encrypted)))
    assert match
    queued_code = match.group(1)
    client = desk("admin")
    pages = [client.get("/desk/notifications/outboxmessage/").content.decode()]
    for message in OutboxMessage.objects.filter(kind="otp"):
        pages.append(client.get(f"/desk/notifications/outboxmessage/{message.pk}/change/").content.decode())
    for html in pages:
        assert sent_code not in html and queued_code not in html
        assert "+84977000222" not in html and "0977 000 222" not in html  # masked
    assert "0977 *** 222" in pages[0]
    assert "nội dung bảo mật" in pages[1]


def test_failed_message_can_be_sent_again(
    desk: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    station = Facility.objects.get(code="TYT-10510")
    message = OutboxMessage.objects.create(
        kind="reminder",  # home care: the station's own work (access.OUTBOX_WORK)
        to="+84912345678",
        body="Thu nghiem",
        status="dead",
        attempts=8,
        last_error="timeout",
        facility=station,
    )
    client = desk("thanhdong.nv")
    url = reverse("admin:notifications_outboxmessage_requeue_action", args=[message.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"_form_submitted": "on"}, follow=True)
    assert "hàng chờ gửi lại" in response.content.decode()
    message.refresh_from_db()
    assert message.status == "sent"
    assert sms.last(to="+84912345678", kind="reminder")["body"] == "Thu nghiem"
    assert AuditLog.objects.filter(target_type="notifications.outboxmessage", verb="requeue").exists()


def test_sent_secret_cannot_be_requeued(desk: Any) -> None:
    station = Facility.objects.get(code="TYT-10510")
    message = OutboxMessage.objects.create(
        kind="account", to="+84912345678", is_secret=True, status="dead", facility=station
    )
    client = desk("thanhdong.nv")
    response = client.post(
        "/desk/notifications/outboxmessage/",
        {"action": "requeue_selected", "_selected_action": [message.pk], "index": 0},
        follow=True,
    )
    assert "không gửi lại được" in response.content.decode()
    message.refresh_from_db()
    assert message.status == "dead"


def test_membership_add_opens_the_desk_to_the_user(desk: Any, django_user_model: Any) -> None:
    newcomer = django_user_model.objects.create_user(username="moi.nv", password="x-long-password-1")
    assert not newcomer.is_staff
    station = Facility.objects.get(code="TYT-10537")
    response = desk("ttyt.lanhdao").post(
        "/desk/facilities/membership/add/",
        {"user": newcomer.pk, "facility": station.pk, "role": "station_staff", "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    newcomer.refresh_from_db()
    assert newcomer.is_staff
    assert Membership.objects.filter(user=newcomer, facility=station).exists()


def test_manager_cannot_grant_administrator(desk: Any, django_user_model: Any) -> None:
    newcomer = django_user_model.objects.create_user(username="moi2.nv", password="x-long-password-1")
    response = desk("ttyt.lanhdao").post(
        "/desk/facilities/membership/add/",
        {"user": newcomer.pk, "facility": Facility.objects.get(code="TTYT-HD").pk, "role": "administrator"},
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(user=newcomer).exists()


def test_facility_edit_goes_through_facility_save(desk: Any) -> None:
    station = Facility.objects.get(code="TYT-10537")
    other_parent = Facility.objects.get(code="SYT-31")
    client = desk("syt.lanhdao")
    response = client.post(
        f"/desk/facilities/facility/{station.pk}/change/",
        {
            "kind": "station",
            "code": station.code,
            "name": station.name,
            "short_name": station.short_name,
            "parent": other_parent.pk,
            "province_code": 31,
            "address": "",
            "hotline": station.hotline,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    station.refresh_from_db()
    assert station.path == f"{other_parent.path}{station.pk}/"
    assert desk("thanhdong.nv").post(f"/desk/facilities/facility/{station.pk}/change/", {}).status_code == 403
