"""Reception's queue page (issue 12 §3): priority groups marked with a note (suggested from the date of birth,
confirmed by staff), recall and skip of a called patient, the calling order set by the facility; every step a
POST through the services, refused cleanly (never a 500), scoped to the staff member's facility."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from health_f0.appointments import services
from health_f0.appointments.models import Appointment, AppointmentPolicy, Service
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db

QUEUE = "/desk/appointments/appointment/hang-doi/"


@pytest.fixture(autouse=True)
def _appointments_demo(appointments_demo: Any) -> None:
    """These pages work on the demo's clinic services."""


def kham_noi() -> Service:
    return Service.objects.get(code="kham-noi")


def walk_in(name: str, phone: str, reception: Any, born: date = date(1980, 1, 1)) -> Appointment:
    patient = Patient.objects.create(
        full_name=name,
        date_of_birth=born,
        sex="female",
        phone=phone,
        province_code=31,
        ward_code=10510,
        facility=Facility.objects.get(code="TYT-10510"),
    )
    return services.walk_in_register(patient=patient, service=kham_noi(), actor=reception)


def waiting_names(html: str) -> str:
    return html[html.index('id="waiting"') : html.index('id="called"')]


def urls(ticket: Appointment) -> dict[str, str]:
    return {
        name: reverse(f"admin:appointments_queue_{name}", args=[ticket.pk])
        for name in ("priority", "recall", "skip")
    }


def test_reception_marks_a_suggested_priority_and_the_ticket_jumps(desk: Any, persona: Any) -> None:
    reception = persona("tiepdon")
    first = walk_in("Lê Văn Đầu", "+84915000001", reception)
    elder = walk_in("Cụ Bà Tám", "+84915000002", reception, born=date(1945, 3, 1))
    client = desk("tiepdon")
    page = f"{QUEUE}?service={kham_noi().pk}"
    html = client.get(page).content.decode()
    assert "(theo cấu hình của cơ sở)" in html and "Người đặt lịch được gọi trước" in html
    waiting = waiting_names(html)
    assert waiting.index("Lê Văn Đầu") < waiting.index("Cụ Bà Tám")
    # Suggested from the date of birth, pre-selected, but nothing changes until staff confirm.
    assert 'data-suggested="elderly"' in waiting and "Gợi ý: Người từ đủ 75 tuổi" in waiting
    assert Appointment.objects.get(pk=elder.pk).priority_group == ""
    response = client.post(
        urls(elder)["priority"], {"group": "elderly", "note": "Đã xem CCCD", "next": page}, follow=True
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == page
    assert f"Số {elder.queue_number} được ưu tiên: Người từ đủ 75 tuổi." in html
    waiting = waiting_names(html)
    assert waiting.index("Cụ Bà Tám") < waiting.index("Lê Văn Đầu")
    assert "appt-priority-badge" in waiting and "Đã xem CCCD" in waiting
    log = AuditLog.objects.get(verb="mark_priority", target_id=str(elder.pk))
    assert log.actor == reception and log.data["group"] == "elderly" and log.data["note"] == "Đã xem CCCD"
    assert first.pk  # still waiting, behind


def test_priority_from_the_check_in_ticket_and_bad_input(desk: Any, persona: Any) -> None:
    reception = persona("tiepdon")
    child = walk_in("Bé Na", "+84915000003", reception, born=timezone.localdate().replace(year=2024))
    client = desk("tiepdon")
    checkin = reverse("admin:appointments_checkin") + f"?ve={child.pk}"
    html = client.get(checkin).content.decode()
    assert 'id="ticket-priority"' in html and "Gợi ý: Trẻ em dưới 6 tuổi" in html
    assert 'value="child" selected' in html
    response = client.post(
        urls(child)["priority"], {"group": "vip", "note": "", "next": checkin}, follow=True
    )
    assert response.status_code == 200
    assert "Không đánh dấu ưu tiên được: Đối tượng ưu tiên không hợp lệ." in response.content.decode()
    response = client.post(urls(child)["priority"], {"group": "child", "note": "x" * 300}, follow=True)
    assert "Ghi chú tối đa 200 ký tự" in response.content.decode()
    assert Appointment.objects.get(pk=child.pk).priority_group == ""
    # Only POST; a ticket number that is not there is 404.
    assert client.get(urls(child)["priority"]).status_code == 405
    assert client.post(reverse("admin:appointments_queue_priority", args=[999999]), {}).status_code == 404


def test_recall_then_skip_then_absent(desk: Any, persona: Any) -> None:
    reception = persona("tiepdon")
    AppointmentPolicy.objects.filter(facility__code="TTYT-HD").update(
        recall_limit=1, skip_back=1, skip_limit=2
    )
    absent = walk_in("Người Vắng", "+84915000004", reception)
    other = walk_in("Người Kế", "+84915000005", reception)
    client = desk("tiepdon")
    page = f"{QUEUE}?service={kham_noi().pk}"
    client.post(reverse("admin:appointments_call_next", args=[kham_noi().pk]))
    html = client.get(page).content.decode()
    assert "Gọi lại số 1" in html and "Bỏ qua số 1" in html
    html = client.post(urls(absent)["recall"], {"next": page}, follow=True).content.decode()
    assert "Đã gọi lại số 1 (lần 1)." in html and "gọi lại 1 lần" in html
    html = client.post(urls(absent)["recall"], {"next": page}, follow=True).content.decode()
    assert "Không gọi lại được: Đã gọi lại số 1 1 lần (tối đa 1): hãy bỏ qua số này." in html
    html = client.post(urls(absent)["skip"], {"next": page}, follow=True).content.decode()
    assert "Đã bỏ qua số 1: số này được gọi lại sau 1 người." in html
    waiting = waiting_names(html)
    assert waiting.index("Người Kế") < waiting.index("Người Vắng")
    client.post(reverse("admin:appointments_call_next", args=[kham_noi().pk]))  # Người Kế
    client.post(reverse("admin:appointments_call_next", args=[kham_noi().pk]))  # Người Vắng, again
    html = client.get(page).content.decode()
    assert "Bỏ qua (ghi nhận vắng mặt)" in html
    html = client.post(urls(absent)["skip"], {"next": page}, follow=True).content.decode()
    assert "Số 1 đã bị bỏ qua 2 lần: ghi nhận người bệnh vắng mặt." in html
    absent.refresh_from_db()
    assert (absent.status, absent.skip_count, absent.recall_count) == ("no_show", 2, 1)
    verbs = list(
        AuditLog.objects.filter(target_id=str(absent.pk)).order_by("id").values_list("verb", flat=True)
    )
    assert verbs[-5:] == ["call", "recall", "skip", "call", "leave"]
    # The hall no longer invites the absent patient's number.
    hall = client.get("/hang-doi/PK-NOI1/trang-thai/").json()
    assert [r["now_calling"] for r in hall["rows"] if r["service"] == "Khám Nội"] == [2]
    assert other.pk


def test_who_may_work_the_queue(desk: Any, persona: Any) -> None:
    ticket = walk_in("Người Thử Quyền", "+84915000006", persona("tiepdon"))
    for username in ("datlich", "ttyt.lanhdao", "thanhdong.nv", "lienket.his"):
        client = desk(username)
        for url in urls(ticket).values():
            assert client.post(url, {"group": "merit", "note": ""}).status_code in (403, 404), (username, url)
    assert Appointment.objects.get(pk=ticket.pk).priority_group == ""


def test_managers_set_the_facility_queue_rules(desk: Any) -> None:
    client = desk("ttyt.lanhdao")
    policy = AppointmentPolicy.objects.get(facility__code="TTYT-HD")
    url = reverse("admin:appointments_appointmentpolicy_change", args=[policy.pk])
    html = client.get(url).content.decode()
    assert (
        "ưu tiên người đặt lịch khi gọi số" in html.lower() and "người cao tuổi được ưu tiên" in html.lower()
    )
    response = client.post(
        url,
        {
            "reminder_days_text": "3, 1",
            "reminder_time": "08:00",
            "booked_priority": "interleave",
            "interleave_ratio": "3",
            "elderly_age": "80",
            "recall_limit": "2",
            "skip_back": "4",
            "skip_limit": "3",
        },
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.booked_priority, policy.interleave_ratio, policy.elderly_age, policy.skip_back) == (
        "interleave",
        3,
        80,
        4,
    )
    response = client.post(url, {"reminder_days_text": "3", "reminder_time": "08:00", "elderly_age": "70"})
    assert response.status_code == 200  # 70 is not a statutory age: the form says so
    policy.refresh_from_db()
    assert policy.elderly_age == 80


def test_the_check_in_ticket_names_the_doctor(desk: Any, persona: Any) -> None:
    """A booking made for a doctor shows the doctor's title and name on the ticket reception prints."""
    from health_f0.appointments.models import Doctor

    reception = persona("tiepdon")
    ticket = walk_in("Ông Tư", "+84915000009", reception)
    doctor = Doctor.objects.create(facility=ticket.facility, title="BS.CKI", full_name="Nguyễn Văn An")
    Appointment.objects.filter(pk=ticket.pk).update(doctor=doctor)
    html = desk("tiepdon").get(reverse("admin:appointments_checkin") + f"?ve={ticket.pk}").content.decode()
    assert "Bác sĩ: BS.CKI Nguyễn Văn An" in html
