"""Doctors: seats per doctor in a slot, "any doctor", the doctor kept on a move, the seat freed on a cancel;
limits per patient (per service, day and week) and the desk's override with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from health_f0.appointments import selectors, services, texts
from health_f0.appointments.models import Appointment, AppointmentPolicy, SlotCounter
from health_f0.appointments.tests.conftest import MONDAY, NOW, add_doctor, local, make_patient, make_service
from health_f0.core.exceptions import Conflict, DomainError, PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility

pytestmark = pytest.mark.django_db

SLOT = local(MONDAY, 8)


@pytest.fixture
def station(demo):
    return Facility.objects.get(code="TYT-10510")


@pytest.fixture
def room(demo):
    return Facility.objects.get(code="PK-NOI1")


def book(service, patient, desk, start=SLOT, **kw):
    return services.appointment_book(
        patient=patient, service=service, slot_start=start, channel="phone", actor=desk, now=NOW, **kw
    )


def test_doctor_rows_add_their_seats_and_slots_filter_by_doctor(room, station, persona):
    service = make_service(room, capacity_per_slot=1)
    an = add_doctor(service, "Nguyễn Văn An", weekdays=[0])
    morning = selectors.slots_free(service=service, start=MONDAY, end=MONDAY, now=NOW)
    first = morning[0]
    assert first.capacity == 2 and dict(first.doctor_free) == {0: 1, an.pk: 1}
    of_an = selectors.slots_free(service=service, start=MONDAY, end=MONDAY, now=NOW, doctor=an)
    assert {s.start.astimezone(first.start.tzinfo) for s in of_an} < {s.start for s in morning}
    assert all(s.capacity == 1 for s in of_an)  # afternoons: no row of An, not listed
    assert selectors.service_doctors(service=service) == [an]


def test_any_doctor_is_assigned_deterministically_and_named_in_the_sms(room, station, persona, sms):
    service = make_service(room, capacity_per_slot=1)
    an = add_doctor(service, "Nguyễn Văn An", title="ThS.BS")
    binh = add_doctor(service, "Lê Thị Bình")
    desk = persona("datlich")
    first = book(service, make_patient(station, "A"), desk)
    second = book(service, make_patient(station, "B"), desk)
    third = book(service, make_patient(station, "C"), desk)
    # Most free seats first; ties: the lowest doctor id; seats of no doctor last.
    assert [first.doctor, second.doctor, third.doctor] == [an, binh, None]
    with pytest.raises(Conflict) as full:
        book(service, make_patient(station, "D"), desk)
    assert full.value.code == "slot_full"
    assert "(ThS.BS Nguyen Van An)" in texts.render("confirmed", **texts.appointment_fields(first))


def test_a_chosen_doctor_full_or_not_working_is_refused(room, station, persona):
    service = make_service(room, capacity_per_slot=1)
    an = add_doctor(
        service, "Nguyễn Văn An", weekdays=[2]
    )  # Wednesdays only (Tuesday 24/11/2026 is a holiday)
    desk = persona("datlich")
    with pytest.raises(DomainError) as off:
        book(service, make_patient(station, "A"), desk, doctor=an)
    assert off.value.code == "doctor_unavailable"
    wednesday = SLOT + timedelta(days=2)
    assert book(service, make_patient(station, "B"), desk, start=wednesday, doctor=an).doctor == an
    with pytest.raises(Conflict) as full:
        book(service, make_patient(station, "C"), desk, start=wednesday, doctor=an)
    assert full.value.code == "slot_full" and "Nguyễn Văn An" in full.value.message
    # The seat of no doctor is still free for "any doctor".
    assert book(service, make_patient(station, "D"), desk, start=wednesday).doctor is None


def test_cancel_frees_the_doctors_seat_and_a_move_keeps_the_doctor(room, station, persona):
    service = make_service(room, capacity_per_slot=1)
    an = add_doctor(service, "Nguyễn Văn An")
    desk = persona("datlich")
    booking = book(service, make_patient(station, "A"), desk, doctor=an)
    moved = services.appointment_reschedule(
        appointment=booking, actor=desk, slot_start=local(MONDAY, 9), now=NOW
    )
    assert moved.doctor == an
    counters = dict(
        SlotCounter.objects.filter(service=service, doctor_key=an.pk).values_list("slot_start", "booked")
    )
    assert counters[SLOT] == 0 and counters[local(MONDAY, 9)] == 1
    # An afternoon has no seat of An: the move is refused, the booking stays.
    with pytest.raises(DomainError) as off:
        services.appointment_reschedule(appointment=moved, actor=desk, slot_start=local(MONDAY, 14), now=NOW)
    assert off.value.code == "doctor_unavailable"
    services.appointment_cancel(appointment=moved, actor=desk, reason="Bác sĩ nghỉ đột xuất", now=NOW)
    assert SlotCounter.objects.get(service=service, slot_start=local(MONDAY, 9), doctor_key=an.pk).booked == 0


def test_limits_per_service_day_and_week(room, station, persona, patient, patient_user):
    AppointmentPolicy.objects.update_or_create(
        facility=Facility.objects.get(code="TTYT-HD"),
        defaults={"max_live_per_service": 2, "max_per_day": 2, "max_per_week": 3},
    )
    one, two = make_service(room), make_service(Facility.objects.get(code="PK-NHI"))

    def online(service, start):
        return services.appointment_book(
            patient=patient, service=service, slot_start=start, channel="web", actor=patient_user, now=NOW
        )

    online(one, local(MONDAY, 8))
    online(two, local(MONDAY, 9))
    with pytest.raises(Conflict) as day:
        online(two, local(MONDAY, 10))  # back-to-back bookings of one day
    assert day.value.code == "limit_day" and "23/11/2026" in day.value.message
    online(one, local(MONDAY + timedelta(days=2), 8))  # Tuesday 24/11/2026 is a holiday
    with pytest.raises(Conflict) as per_service:
        online(one, local(MONDAY + timedelta(days=3), 8))
    assert per_service.value.code == "limit_service"
    with pytest.raises(Conflict) as week:
        online(two, local(MONDAY + timedelta(days=3), 8))
    assert week.value.code == "limit_week" and "29/11/2026" in week.value.message
    # Next week is another week; a limit of 0 is no limit.
    AppointmentPolicy.objects.filter(facility__code="TTYT-HD").update(max_live_per_service=0)
    assert online(one, local(MONDAY + timedelta(days=7), 8)).pk


def test_the_desk_may_go_past_a_limit_with_a_reason_which_is_audited(room, station, persona, patient_user):
    AppointmentPolicy.objects.update_or_create(
        facility=Facility.objects.get(code="TTYT-HD"), defaults={"max_per_day": 1}
    )
    service = make_service(room)
    patient = make_patient(station)
    desk = persona("datlich")
    book(service, patient, desk)
    with pytest.raises(Conflict):
        book(service, patient, desk, start=local(MONDAY, 9))
    with pytest.raises(DomainError) as short:
        book(service, patient, desk, start=local(MONDAY, 9), limits_override="ok")
    assert short.value.code == "reason_required"
    extra = book(
        service, patient, desk, start=local(MONDAY, 9), limits_override="Khám hai chuyên khoa theo chỉ định"
    )
    row = AuditLog.objects.filter(verb="book", target_id=str(extra.pk)).get()
    assert row.data["limits_override"] == "Khám hai chuyên khoa theo chỉ định"
    with pytest.raises(PermissionDenied):
        services.appointment_book(
            patient=patient_user.patient if hasattr(patient_user, "patient") else patient,
            service=service,
            slot_start=local(MONDAY, 10),
            channel="web",
            actor=patient_user,
            limits_override="Tôi muốn đặt thêm",
            now=NOW,
        )
    assert Appointment.objects.filter(patient=patient).count() == 2


def test_the_desk_calendar_reads_a_fixed_number_of_queries(room, station, persona, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    service = make_service(room, capacity_per_slot=5)
    an = add_doctor(service, "Nguyễn Văn An")
    desk = persona("datlich")
    client.force_login(desk)
    url = reverse("admin:appointments_calendar")
    params = {"dich_vu": service.pk, "ngay": f"{MONDAY:%d/%m/%Y}", "xem": "tuan"}

    def count() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        assert response.status_code == 200
        return len(queries), response.content.decode()

    book(service, make_patient(station, "Người Một"), desk, doctor=an)
    count()  # warm the per-process caches (the Sở's name in the header, payments' prepayment rule)
    few, _page = count()
    for i in range(6):
        book(
            service,
            make_patient(station, f"Người {i + 2}"),
            desk,
            start=local(MONDAY, 14 + i % 2, 15 * (i // 2)),  # afternoons: seats of no doctor only
        )
    many, page = count()
    assert many == few, (few, many)
    assert "Người Một" in page and "Người 7" in page and "BS.CKI Nguyễn Văn An" in page
    # A doctor's day: only that doctor's bookings.
    params = {"bac_si": an.pk, "ngay": f"{MONDAY:%d/%m/%Y}"}
    _n, day = count()
    assert "Người Một" in day and "Người 7" not in day
