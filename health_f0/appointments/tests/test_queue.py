"""Check-in by code, queue numbers, calling order (booked first / interleave), no-show marking."""

from __future__ import annotations

from datetime import timedelta

import pytest

from health_f0.appointments import selectors, services
from health_f0.appointments.models import Appointment
from health_f0.appointments.tests.conftest import MONDAY, NOW, local, make_patient
from health_f0.core.exceptions import DomainError
from health_f0.facilities.models import Facility

pytestmark = pytest.mark.django_db


def booked(clinic, desk, name, hour, minute=0):
    station = Facility.objects.get(code="TYT-10510")
    return services.appointment_book(
        patient=make_patient(station, name),
        service=clinic,
        slot_start=local(MONDAY, hour, minute),
        channel="phone",
        actor=desk,
        now=NOW,
    )


def walk_in(clinic, reception, name, at):
    return services.walk_in_register(
        patient=make_patient(Facility.objects.get(code="TYT-10510"), name),
        service=clinic,
        actor=reception,
        now=at,
    )


def test_check_in_gives_numbers_and_sms(clinic, persona, sms, django_capture_on_commit_callbacks):
    desk, reception = persona("datlich"), persona("tiepdon")
    first, second = booked(clinic, desk, "An", 8), booked(clinic, desk, "Bình", 8, 15)
    with pytest.raises(DomainError) as exc:
        services.appointment_check_in(code=first.check_in_code, actor=reception, now=NOW)
    assert exc.value.code == "not_today"
    with django_capture_on_commit_callbacks(execute=True):
        a = services.appointment_check_in(
            code=second.check_in_code.lower(), actor=reception, now=local(MONDAY, 7, 30)
        )
        b = services.appointment_check_in(
            code=f"{first.check_in_code[:4]}-{first.check_in_code[4:]}",
            actor=reception,
            now=local(MONDAY, 7, 31),
        )
    assert (a.queue_number, b.queue_number, a.status) == (1, 2, "checked_in")
    assert "So thu tu cua ban: 1" in sms.last(to=a.patient.phone)["body"]
    assert selectors.reception_find(user=reception, code=first.check_in_code).pk == first.pk


def test_booked_first_then_walk_ins(clinic, persona):
    desk, reception = persona("datlich"), persona("tiepdon")
    w1 = walk_in(clinic, reception, "Vãng lai 1", local(MONDAY, 7))
    b1 = booked(clinic, desk, "Đặt 1", 8)
    w2 = walk_in(clinic, reception, "Vãng lai 2", local(MONDAY, 7, 2))
    b2 = booked(clinic, desk, "Đặt 2", 8, 15)
    for appointment in (b1, b2):
        services.appointment_check_in(
            code=appointment.check_in_code, actor=reception, now=local(MONDAY, 7, 5)
        )
    order = []
    for minute in range(10, 20):
        ticket = services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, 7, minute))
        if ticket is None:
            break
        order.append(ticket.pk)
    assert order == [b1.pk, b2.pk, w1.pk, w2.pk]
    display = selectors.queue_display(facility=Facility.objects.get(code="KKB-HD"), day=MONDAY)
    row = next(r for r in display if r.service_name == clinic.name)
    assert row.now_calling == Appointment.objects.get(pk=w2.pk).queue_number


def test_interleave_two_booked_one_walk_in(clinic, persona):
    clinic.booked_priority, clinic.interleave_ratio = "interleave", 2
    clinic.save()
    desk, reception = persona("datlich"), persona("tiepdon")
    walk_ins = [walk_in(clinic, reception, f"Vãng lai {i}", local(MONDAY, 7, i)) for i in range(2)]
    bookings = [booked(clinic, desk, f"Đặt {i}", 8, 15 * i) for i in range(4)]
    for appointment in bookings:
        services.appointment_check_in(
            code=appointment.check_in_code, actor=reception, now=local(MONDAY, 7, 20)
        )
    order = []
    for minute in range(6):
        ticket = services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, 7, 30 + minute))
        order.append(ticket.pk)
    b, w = [a.pk for a in bookings], [a.pk for a in walk_ins]
    assert order == [b[0], b[1], w[0], b[2], b[3], w[1]]


def test_no_show_after_the_local_day(
    clinic, persona, patient, patient_user, sms, django_capture_on_commit_callbacks
):
    desk = persona("datlich")
    confirmed = booked(clinic, desk, "Xác nhận", 16)
    requested = services.appointment_book(
        patient=patient,
        service=clinic,
        slot_start=local(MONDAY, 9),
        channel="app",
        actor=patient_user,
        now=NOW,
    )
    # Late on the same day nothing changes: the day is not over in Hà Nội.
    assert services.no_show_sweep(now=local(MONDAY, 23, 59)) == (0, 0)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.no_show_sweep(now=local(MONDAY + timedelta(days=1), 0, 1)) == (1, 1)
    assert services.no_show_sweep(now=local(MONDAY + timedelta(days=1), 8)) == (0, 0)
    confirmed.refresh_from_db()
    requested.refresh_from_db()
    assert confirmed.status == "no_show"
    assert (requested.status, requested.cancel_source) == ("cancelled", "system")
    assert "vang lich" in sms.last(to=confirmed.patient.phone)["body"]
    assert "chua duoc xac nhan" in sms.last(to=patient.phone)["body"]


def test_almost_your_turn_sms_once_per_ticket(clinic, persona, sms, django_capture_on_commit_callbacks):
    """With 2 as the service's notice, a ticket gets "sap den luot" when 2 or fewer wait before it, and
    "nguoi tiep theo" if it becomes next before that; never twice, and not for a ticket that was that
    close already at the counter."""
    clinic.turn_notice_ahead = 2
    clinic.save()
    desk, reception = persona("datlich"), persona("tiepdon")
    bookings = [booked(clinic, desk, name, 8, 15 * i) for i, name in enumerate(["An", "Bình", "Chi", "Dũng"])]
    with django_capture_on_commit_callbacks(execute=True):
        tickets = [
            services.appointment_check_in(code=b.check_in_code, actor=reception, now=local(MONDAY, 7, 30 + i))
            for i, b in enumerate(bookings)
        ]
        late = walk_in(clinic, reception, "Em", local(MONDAY, 7, 40))
    phones = [t.patient.phone for t in [*tickets, late]]

    def turn_sms(phone):
        return [m["body"] for m in sms.messages() if m["to"] == phone and "luot" in m["body"]]

    # At the counter: An (0 before), Bình (1), Chi (2) are already close: marked, no message.
    assert [turn_sms(p) for p in phones] == [[], [], [], [], []]
    assert Appointment.objects.filter(turn_notified_at__isnull=False).count() == 3
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, 8)).pk
            == tickets[0].pk
        )
    [dung] = turn_sms(phones[3])
    assert "sap den luot" in dung and "so 4 (con 2 nguoi truoc)" in dung and len(dung) <= 160
    assert f"/h/{tickets[3].link_code}" in dung
    place = selectors.queue_place(appointment=Appointment.objects.get(pk=tickets[3].pk))
    assert (place.called, place.ahead, place.now_calling) == (False, 2, tickets[0].queue_number)
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, 8, 10))
        services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, 8, 20))
    [em] = turn_sms(phones[4])  # the walk-in, after the booked patients: told when Bình was called
    assert "so 5 (con 2 nguoi truoc)" in em
    assert len(turn_sms(phones[3])) == 1  # Dũng is next now, but was told already
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, 8, 30))
        services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, 8, 40))
    assert len(turn_sms(phones[4])) == 1
    called = selectors.queue_place(appointment=Appointment.objects.get(pk=late.pk))
    assert called.called


def test_no_turn_sms_when_the_service_turns_it_off(clinic, persona, sms, django_capture_on_commit_callbacks):
    clinic.turn_notice_ahead = 0
    clinic.save()
    desk, reception = persona("datlich"), persona("tiepdon")
    with django_capture_on_commit_callbacks(execute=True):
        for i, name in enumerate(["An", "Bình", "Chi", "Dũng", "Giang"]):
            b = booked(clinic, desk, name, 8 + i // 4, 15 * (i % 4))
            services.appointment_check_in(code=b.check_in_code, actor=reception, now=local(MONDAY, 7, 30 + i))
        for minute in range(5):
            services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, 8, minute))
    assert not [m for m in sms.messages() if "luot" in m["body"]]
    assert not Appointment.objects.filter(turn_notified_at__isnull=False).exists()
