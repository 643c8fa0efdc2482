"""Issue 9, item 17: a refused step says in Vietnamese what state the booking is in (with the time and the
queue number), never a status code; the audit history names actions, fields and values in Vietnamese."""

from __future__ import annotations

from datetime import timedelta

import pytest

from health_f0.appointments import services
from health_f0.appointments.models import Appointment
from health_f0.appointments.tests.conftest import MONDAY, NOW, local, make_patient
from health_f0.core.audit import audit_describe
from health_f0.core.exceptions import InvalidTransition
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility

pytestmark = pytest.mark.django_db

CODES = ("requested", "confirmed", "checked_in", "completed", "cancelled", "no_show")


def _booked(clinic, desk, hour=8, minute=0):
    return services.appointment_book(
        patient=make_patient(Facility.objects.get(code="TYT-10510"), "Đỗ Văn Khoa"),
        service=clinic,
        slot_start=local(MONDAY, hour, minute),
        channel="phone",
        actor=desk,
        now=NOW,
    )


def _refusal(fn, **kwargs) -> str:
    with pytest.raises(InvalidTransition) as exc:
        fn(**kwargs)
    message = exc.value.message
    assert not any(f"({code})" in message or f" {code}" in message for code in CODES), message
    return message


def test_refusals_say_the_state_with_its_time_and_number(clinic, persona, demo):
    desk, reception = persona("datlich"), persona("tiepdon")
    appointment = _booked(clinic, desk)
    services.appointment_check_in(code=appointment.check_in_code, actor=reception, now=local(MONDAY, 7, 31))
    message = _refusal(
        services.appointment_check_in,
        code=appointment.check_in_code,
        actor=reception,
        now=local(MONDAY, 7, 40),
    )
    assert "Người bệnh đã được tiếp đón lúc 07:31, số thứ tự 1" in message, message
    message = _refusal(
        services.appointment_cancel, appointment=appointment, actor=desk, reason="Bận việc nhà"
    )
    assert message.startswith("Không huỷ được lịch hẹn:") and "tiếp đón lúc 07:31" in message, message
    services.appointment_complete(appointment=appointment, actor=reception, now=local(MONDAY, 8, 5))
    message = _refusal(services.appointment_complete, appointment=appointment, actor=reception)
    assert "đã khám xong lúc 08:05" in message, message

    other = _booked(clinic, desk, 9)
    services.appointment_cancel(appointment=other, actor=desk, reason="Người bệnh gọi huỷ", now=NOW)
    message = _refusal(services.appointment_confirm, appointment=other, actor=desk)
    assert "Lịch hẹn đã được huỷ lúc 09:00 20/11/2026" in message, message

    missed = _booked(clinic, desk, 10)
    services.appointment_mark_no_show(
        appointment=missed, actor=None, now=local(MONDAY + timedelta(days=1), 1)
    )
    message = _refusal(
        services.appointment_check_in, code=missed.check_in_code, actor=reception, now=local(MONDAY, 10, 30)
    )
    assert "không đến theo lịch hẹn 10:00 23/11/2026" in message, message


def test_audit_rows_are_described_in_vietnamese(clinic, persona, demo):
    desk = persona("datlich")
    appointment = _booked(clinic, desk)
    services.appointment_reschedule(appointment=appointment, actor=desk, slot_start=local(MONDAY, 9), now=NOW)
    services.appointment_cancel(appointment=appointment, actor=desk, reason="Người bệnh gọi huỷ", now=NOW)
    rows = AuditLog.objects.filter(
        target_type=Appointment._meta.label_lower, target_id=str(appointment.pk)
    ).order_by("pk")
    described = [audit_describe(row) for row in rows]
    book, move, cancel = described
    assert book.verb == "Đặt lịch" and book.details == [
        ("Kênh đặt", "Điện thoại"),
        ("Trạng thái", "Đã xác nhận"),
    ]
    assert move.verb == "Đổi lịch" and move.details == [
        ("Giờ cũ", "08:00 23/11/2026"),
        ("Giờ mới", "09:00 23/11/2026"),
    ]
    assert cancel.verb == "Huỷ lịch" and ("Huỷ bởi", "Cơ sở huỷ") in cancel.details
    assert ("Lý do", "Người bệnh gọi huỷ") in cancel.details
