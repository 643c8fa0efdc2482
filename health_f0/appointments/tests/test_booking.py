"""Booking life cycle: each status change, its SMS, its audit row; cut-off; access."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model

from health_f0.appointments import selectors, services
from health_f0.appointments.models import Appointment, SlotCounter
from health_f0.appointments.tests.conftest import MONDAY, NOW, local, make_patient
from health_f0.core.exceptions import Conflict, DomainError, InvalidTransition, NotFound, PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility, Membership
from health_f0.facilities.services import facility_save
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db

SLOT = local(MONDAY, 8)


def book_online(clinic, patient, user, start=SLOT, **kw):
    return services.appointment_book(
        patient=patient, service=clinic, slot_start=start, channel="app", actor=user, now=NOW, **kw
    )


def sms_for(sms, phone):
    return [m for m in sms.messages() if m["to"] == phone]


def test_online_booking_waits_for_the_desk_then_confirm(
    clinic, patient, patient_user, persona, sms, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book_online(clinic, patient, patient_user, reason="Đau đầu")
    assert appointment.status == "requested" and appointment.channel == "app"
    assert len(appointment.check_in_code) == 8
    body = sms.last(to=patient.phone)["body"]
    assert "cho xac nhan" in body and f"/h/{appointment.link_code}" in body and len(body) <= 160
    assert "08:00 23/11/2026" in body
    desk = persona("datlich")
    assert [a.pk for a in selectors.desk_worklist(user=desk)] == [appointment.pk]
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_confirm(appointment=appointment, actor=desk, now=NOW)
    appointment.refresh_from_db()
    assert appointment.status == "confirmed" and appointment.confirmed_by == desk
    body = sms.last(to=patient.phone)["body"]
    assert "da duoc xac nhan" in body and appointment.check_in_code in body and len(body) <= 160
    verbs = list(
        AuditLog.objects.filter(target_type="appointments.appointment").values_list("verb", flat=True)
    )
    assert set(verbs) >= {"book", "confirm"}
    assert not selectors.desk_worklist(user=desk).exists()


def test_desk_phone_booking_is_confirmed(clinic, patient, persona, sms, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = services.appointment_book(
            patient=patient,
            service=clinic,
            slot_start=SLOT,
            channel="phone",
            actor=persona("datlich"),
            now=NOW,
        )
    assert appointment.status == "confirmed"
    assert "da duoc xac nhan" in sms.last(to=patient.phone)["body"]


def test_decline_requires_reason_frees_seat_and_texts_reason(
    clinic, patient, patient_user, persona, sms, django_capture_on_commit_callbacks
):
    appointment = book_online(clinic, patient, patient_user)
    desk = persona("datlich")
    with pytest.raises(DomainError) as exc:
        services.appointment_decline(appointment=appointment, actor=desk, reason=" ")
    assert exc.value.code == "reason_required"
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_decline(appointment=appointment, actor=desk, reason="Bác sĩ nghỉ phép", now=NOW)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancel_source) == ("cancelled", "declined")
    assert SlotCounter.objects.get(service=clinic, slot_start=SLOT).booked == 0
    body = sms.last(to=patient.phone)["body"]
    assert "khong duoc xac nhan" in body and "Ly do: Bac si nghi phep" in body and len(body) <= 306


def test_patient_cancel_until_cutoff(clinic, patient, patient_user, sms, django_capture_on_commit_callbacks):
    appointment = book_online(clinic, patient, patient_user)
    too_late = SLOT - timedelta(hours=1)
    with pytest.raises(DomainError) as exc:
        services.appointment_cancel(appointment=appointment, actor=patient_user, now=too_late)
    assert exc.value.code == "cutoff_passed"
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=appointment, actor=patient_user, now=NOW)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancel_source) == ("cancelled", "patient")
    assert "da huy" in sms.last(to=patient.phone)["body"]
    with pytest.raises(InvalidTransition):
        services.appointment_cancel(appointment=appointment, actor=patient_user, now=NOW)


def test_reschedule_moves_the_seat(clinic, patient, patient_user, sms, django_capture_on_commit_callbacks):
    appointment = book_online(clinic, patient, patient_user)
    new = local(MONDAY, 9, 15)
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_reschedule(appointment=appointment, actor=patient_user, slot_start=new, now=NOW)
    appointment.refresh_from_db()
    assert appointment.slot_start == new and appointment.status == "requested"
    counters = dict(SlotCounter.objects.filter(service=clinic).values_list("slot_start", "booked"))
    assert counters == {SLOT: 0, new: 1}
    body = sms.last(to=patient.phone)["body"]
    assert "doi sang 09:15 23/11/2026" in body and len(body) <= 160


def test_capacity_and_overlap(clinic, patient, patient_user, persona, demo):
    desk = persona("datlich")
    station = Facility.objects.get(code="TYT-10510")
    for i in range(3):
        services.appointment_book(
            patient=make_patient(station, f"Người {i}"),
            service=clinic,
            slot_start=SLOT,
            channel="phone",
            actor=desk,
            now=NOW,
        )
    with pytest.raises(Conflict) as exc:
        book_online(clinic, patient, patient_user)
    assert exc.value.code == "slot_full"
    free = {s.start: s.free for s in selectors.slots_free(service=clinic, start=MONDAY, end=MONDAY, now=NOW)}
    assert free[SLOT] == 0 and free[local(MONDAY, 8, 15)] == 3
    book_online(clinic, patient, patient_user, start=local(MONDAY, 8, 15))
    with pytest.raises(Conflict) as exc:
        services.appointment_book(
            patient=patient,
            service=clinic,
            slot_start=local(MONDAY, 8, 15),
            channel="phone",
            actor=desk,
            now=NOW,
        )
    assert exc.value.code == "overlap"


def test_slot_rules_enforced(clinic, patient, patient_user):
    for bad in (
        local(MONDAY, 12),
        local(MONDAY, 8, 5),
        NOW + timedelta(hours=1),
        local(MONDAY + timedelta(days=40), 8),
    ):
        with pytest.raises(DomainError) as exc:
            book_online(clinic, patient, patient_user, start=bad)
        assert exc.value.code == "slot_unavailable"


def test_access(clinic, patient, patient_user, persona, demo):
    appointment = book_online(clinic, patient, patient_user)
    # Another TTYT's booking desk cannot confirm.
    other = Facility(
        kind="ttyt",
        code="TTYT-KHAC",
        name="TTYT khác",
        province_code=31,
        parent=Facility.objects.get(code="SYT-31"),
    )
    facility_save(facility=other)
    stranger = get_user_model().objects.create_user(username="datlich.khac", password=None)
    Membership.objects.create(user=stranger, facility=other, role="booking_desk")
    with pytest.raises(PermissionDenied):
        services.appointment_confirm(appointment=appointment, actor=stranger, now=NOW)
    assert not selectors.desk_worklist(user=stranger).exists()
    # Station staff have no booking role; another patient cannot cancel someone else's booking.
    with pytest.raises(PermissionDenied):
        services.appointment_confirm(appointment=appointment, actor=persona("thanhdong.nv"), now=NOW)
    intruder = make_patient(Facility.objects.get(code="TYT-10510"), "Người lạ", phone="+84988777666")
    intruder_user = get_user_model().objects.create_user(username="bn-la", password=None)
    intruder.account = intruder_user
    intruder.save()
    with pytest.raises(PermissionDenied):
        services.appointment_cancel(appointment=appointment, actor=intruder_user, now=NOW)
    with pytest.raises(PermissionDenied):
        book_online(clinic, patient, intruder_user, start=local(MONDAY, 10))
    # Reception may not confirm? It may: reception is a desk role. The patient may not confirm their own.
    with pytest.raises(PermissionDenied):
        services.appointment_confirm(appointment=appointment, actor=patient_user, now=NOW)
    # Check-in by code at another TTYT looks like "not found".
    with pytest.raises(NotFound):
        services.appointment_check_in(code=appointment.check_in_code, actor=stranger, now=SLOT)
    assert Appointment.objects.get(pk=appointment.pk).status == "requested"


# --- Issue 9, item 16: a phone booking for a new person is one transaction --------------------------


def _person(**overrides):
    data = {
        "full_name": "Lý Thị Hoa",
        "date_of_birth": date(1961, 3, 2),
        "sex": "female",
        "phone": "0987 111 222",
        "cccd": "",
        "bhyt": "0123456789",
    }
    data.update(overrides)
    return services.NewPatient(**data)


def test_a_refused_phone_booking_leaves_no_new_patient(clinic, persona, demo):
    desk = persona("datlich")
    SlotCounter.objects.create(service=clinic, slot_start=SLOT, booked=clinic.capacity_per_slot)
    patients, audits = (
        Patient.objects.count(),
        AuditLog.objects.filter(target_type="patients.patient").count(),
    )
    with pytest.raises(Conflict) as exc:
        services.appointment_book_new_patient(
            person=_person(), service=clinic, slot_start=SLOT, channel="phone", actor=desk, now=NOW
        )
    assert exc.value.code == "slot_full"
    assert Patient.objects.count() == patients
    assert AuditLog.objects.filter(target_type="patients.patient").count() == audits
    # With a free slot the person and the booking are made together, with the oral consent on record.
    appointment = services.appointment_book_new_patient(
        person=_person(),
        service=clinic,
        slot_start=local(MONDAY, 8, 15),
        channel="phone",
        actor=desk,
        consent_channel="phone_booking",
        now=NOW,
    )
    assert appointment.patient.full_name == "Lý Thị Hoa" and appointment.status == "confirmed"
    from health_f0.privacy.models import ConsentRecord

    assert ConsentRecord.objects.filter(patient=appointment.patient).count() == 1


def test_a_refused_walk_in_leaves_no_new_patient(clinic, persona, demo):
    reception = persona("tiepdon")
    clinic.is_active = False
    clinic.save(update_fields=["is_active"])
    patients = Patient.objects.count()
    with pytest.raises(DomainError) as exc:
        services.walk_in_register_new_patient(person=_person(), service=clinic, actor=reception, now=NOW)
    assert exc.value.code == "service_inactive"
    assert Patient.objects.count() == patients
