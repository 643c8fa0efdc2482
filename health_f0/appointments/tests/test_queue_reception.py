"""Issue 12 §3 at reception: the booked priority as a facility setting (a service may override it), the
statutory priority groups (marked by staff with a note, audited; under-6 / elderly only suggested from the
date of birth), recall and skip of a called patient who does not come (with the facility's limits)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from health_f0.appointments import queue_rules, selectors, services
from health_f0.appointments.models import Appointment, AppointmentPolicy, PriorityGroup
from health_f0.appointments.tests.conftest import MONDAY, NOW, local, make_patient
from health_f0.core.exceptions import DomainError, NotFound, PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility

pytestmark = pytest.mark.django_db


def booked(clinic, desk, name, hour, minute=0):
    return services.appointment_book(
        patient=make_patient(Facility.objects.get(code="TYT-10510"), name),
        service=clinic,
        slot_start=local(MONDAY, hour, minute),
        channel="phone",
        actor=desk,
        now=NOW,
    )


def check_in(appointment, reception, hour, minute):
    return services.appointment_check_in(
        code=appointment.check_in_code, actor=reception, now=local(MONDAY, hour, minute)
    )


def walk_in(clinic, reception, name, hour, minute, born=None):
    patient = make_patient(Facility.objects.get(code="TYT-10510"), name)
    if born:
        patient.date_of_birth = born
        patient.save(update_fields=["date_of_birth"])
    return services.walk_in_register(
        patient=patient, service=clinic, actor=reception, now=local(MONDAY, hour, minute)
    )


def waiting(clinic):
    return [t.pk for t in selectors.queue_for(service=clinic, day=MONDAY).waiting]


def call(clinic, reception, hour, minute):
    return services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, hour, minute))


def policy(**fields):
    """The policy of the clinic's health centre (the clinic room PK-NOI1 inherits it)."""
    row, _ = AppointmentPolicy.objects.update_or_create(
        facility=Facility.objects.get(code="TTYT-HD"), defaults=fields
    )
    return row


# --- The calling order, as plain rules ------------------------------------------------------------


def ticket(pk, number, *, walk_in=False, slot=None, group="", requeued=None, called=None):
    return SimpleNamespace(
        pk=pk,
        queue_number=number,
        is_walk_in=walk_in,
        slot_start=slot or local(MONDAY, 8),
        priority_group=group,
        requeued_at=requeued,
        called_at=called,
    )


def test_rules_priority_groups_first_emergency_before_the_others_then_the_setting():
    order = queue_rules.ServiceOrder("booked_first", 2, inherited=True)
    tickets = [
        ticket(1, 1, walk_in=True),
        ticket(2, 2, slot=local(MONDAY, 9)),
        ticket(3, 3, walk_in=True, group=PriorityGroup.ELDERLY),
        ticket(4, 4, slot=local(MONDAY, 8)),
        ticket(5, 5, walk_in=True, group=PriorityGroup.EMERGENCY),
        ticket(6, 6, group=PriorityGroup.CHILD),
    ]
    result = queue_rules.calling_order(tickets, [], order=order, skip_back=3)
    assert [t.pk for t in result] == [5, 3, 6, 4, 2, 1]


def test_rules_a_skipped_ticket_comes_back_behind_the_next_k_calls():
    order = queue_rules.ServiceOrder("arrival", 2, inherited=True)
    skipped_at = local(MONDAY, 8)
    others = [ticket(i, i) for i in range(2, 7)]
    skipped = ticket(1, 1, requeued=skipped_at)
    result = queue_rules.calling_order([skipped, *others], [], order=order, skip_back=3)
    assert [t.pk for t in result] == [2, 3, 4, 1, 5, 6]
    # Two calls since the skip: one more before it.
    result = queue_rules.calling_order(
        [skipped, *others[2:]], [], order=order, skip_back=3, calls_since={1: 2}
    )
    assert [t.pk for t in result] == [4, 1, 5, 6]
    # Past K calls it is next, ahead even of a priority ticket that arrived since.
    late = ticket(9, 9, group=PriorityGroup.EMERGENCY)
    result = queue_rules.calling_order([skipped, late], [], order=order, skip_back=3, calls_since={1: 3})
    assert [t.pk for t in result] == [1, 9]


def test_rules_interleave_ignores_priority_calls_in_the_streak():
    order = queue_rules.ServiceOrder("interleave", 2, inherited=False)
    recent = [
        SimpleNamespace(is_walk_in=False, priority_group=PriorityGroup.EMERGENCY),
        SimpleNamespace(is_walk_in=False, priority_group=""),
        SimpleNamespace(is_walk_in=False, priority_group=""),
        SimpleNamespace(is_walk_in=True, priority_group=""),
    ]
    tickets = [ticket(1, 1, walk_in=True), ticket(2, 2), ticket(3, 3)]
    assert [t.pk for t in queue_rules.calling_order(tickets, recent, order=order, skip_back=3)] == [1, 2, 3]


def test_rules_suggest_a_group_from_the_date_of_birth_only():
    day = date(2026, 11, 23)
    elderly75 = queue_rules.QueuePolicy(elderly_age=75)
    elderly80 = queue_rules.QueuePolicy(elderly_age=80)
    assert queue_rules.suggested_group(date(2021, 11, 24), day, elderly75) == PriorityGroup.CHILD  # 4 years
    assert queue_rules.suggested_group(date(2020, 11, 23), day, elderly75) == ""  # 6 today
    assert queue_rules.suggested_group(date(1951, 11, 23), day, elderly75) == PriorityGroup.ELDERLY
    assert queue_rules.suggested_group(date(1951, 11, 23), day, elderly80) == ""
    assert queue_rules.suggested_group(None, day, elderly75) == ""


# --- The facility setting --------------------------------------------------------------------------


def test_services_follow_the_facility_setting_unless_they_set_their_own(clinic, persona):
    desk, reception = persona("datlich"), persona("tiepdon")
    assert clinic.booked_priority == ""  # a new service follows its facility
    w = walk_in(clinic, reception, "Vãng lai", 7, 0)
    b = booked(clinic, desk, "Đặt lịch", 8)
    check_in(b, reception, 7, 5)
    assert waiting(clinic) == [b.pk, w.pk]  # the default: booked first
    policy(booked_priority="arrival")
    assert waiting(clinic) == [w.pk, b.pk]
    queue = selectors.queue_for(service=clinic, day=MONDAY)
    assert queue.order is not None and queue.order.inherited and queue.order.booked_priority == "arrival"
    clinic.booked_priority = "booked_first"
    clinic.save()
    assert waiting(clinic) == [b.pk, w.pk]
    clinic.booked_priority, clinic.interleave_ratio = "", None
    clinic.save()
    policy(booked_priority="interleave", interleave_ratio=1)
    b2 = booked(clinic, desk, "Đặt lịch 2", 8, 15)
    check_in(b2, reception, 7, 6)
    assert waiting(clinic) == [b.pk, w.pk, b2.pk]


def test_the_migration_keeps_every_services_order():
    from importlib import import_module

    migration = import_module("health_f0.appointments.migrations.0006_reception_priority")
    assert callable(migration.services_follow_the_facility)


# --- Priority groups --------------------------------------------------------------------------------


def test_reception_marks_a_priority_and_the_ticket_jumps_with_an_audit(clinic, persona):
    desk, reception = persona("datlich"), persona("tiepdon")
    first = booked(clinic, desk, "Hẹn 8 giờ", 8)
    check_in(first, reception, 7, 0)
    elderly = walk_in(clinic, reception, "Cụ ông", 7, 1, born=date(1940, 5, 1))
    emergency = walk_in(clinic, reception, "Cấp cứu", 7, 2)
    assert waiting(clinic) == [first.pk, elderly.pk, emergency.pk]
    # The date of birth only suggests: nothing moves until staff confirm.
    assert queue_rules.suggested_group(elderly.patient.date_of_birth, MONDAY, queue_rules.DEFAULT_POLICY) == (
        PriorityGroup.ELDERLY
    )
    services.queue_mark_priority(
        appointment=elderly, group="elderly", note="CCCD đã xem", actor=reception, now=local(MONDAY, 7, 3)
    )
    assert waiting(clinic) == [elderly.pk, first.pk, emergency.pk]
    services.queue_mark_priority(
        appointment=emergency, group="emergency", note="Khó thở", actor=reception, now=local(MONDAY, 7, 4)
    )
    assert waiting(clinic) == [emergency.pk, elderly.pk, first.pk]
    elderly.refresh_from_db()
    assert (elderly.priority_group, elderly.priority_note, elderly.priority_marked_by) == (
        "elderly",
        "CCCD đã xem",
        reception,
    )
    row = AuditLog.objects.filter(verb="mark_priority", target_id=str(elderly.pk)).get()
    assert row.actor == reception and row.data["group"] == "elderly" and row.data["group_from"] == ""
    assert row.data["note"] == "CCCD đã xem" and row.data["suggested"] == "elderly" and row.data["age"] == 86
    # The next call takes the emergency.
    assert call(clinic, reception, 7, 10).pk == emergency.pk


def test_priority_bad_input_clearing_and_after_the_call(clinic, persona):
    reception, desk = persona("tiepdon"), persona("datlich")
    t = walk_in(clinic, reception, "Mẹ bầu", 7, 0)
    with pytest.raises(DomainError) as exc:
        services.queue_mark_priority(appointment=t, group="vip", note="", actor=reception)
    assert exc.value.code == "priority_group_invalid"
    with pytest.raises(DomainError) as exc:
        services.queue_mark_priority(appointment=t, group="pregnant", note="x" * 201, actor=reception)
    assert exc.value.code == "priority_note_too_long"
    services.queue_mark_priority(
        appointment=t, group="pregnant", note="", actor=reception, now=local(MONDAY, 7, 1)
    )
    with pytest.raises(DomainError) as exc:  # clearing needs the reason
        services.queue_mark_priority(
            appointment=t, group="", note="", actor=reception, now=local(MONDAY, 7, 2)
        )
    assert exc.value.code == "priority_clear_needs_note"
    services.queue_mark_priority(
        appointment=t, group="", note="Nhầm người", actor=reception, now=local(MONDAY, 7, 2)
    )
    t.refresh_from_db()
    assert t.priority_group == "" and t.priority_note == "Nhầm người"
    # The booking desk does not work the queue; a ticket elsewhere is not found.
    with pytest.raises((PermissionDenied, NotFound)):
        services.queue_mark_priority(appointment=t, group="merit", note="", actor=desk)
    call(clinic, reception, 7, 5)
    t.refresh_from_db()
    with pytest.raises(DomainError) as exc:
        services.queue_mark_priority(appointment=t, group="merit", note="", actor=reception)
    assert exc.value.code == "already_called"


# --- Recall and skip ---------------------------------------------------------------------------------


def test_recall_announces_again_up_to_the_limit(clinic, persona):
    reception = persona("tiepdon")
    policy(recall_limit=2)
    t = walk_in(clinic, reception, "Người gọi lại", 7, 0)
    with pytest.raises(DomainError) as exc:
        services.queue_recall(appointment=t, actor=reception, now=local(MONDAY, 7, 1))
    assert exc.value.code == "not_called"
    call(clinic, reception, 7, 2)
    first = services.queue_recall(appointment=t, actor=reception, now=local(MONDAY, 7, 3))
    assert (first.recall_count, first.announced_at, first.status) == (1, local(MONDAY, 7, 3), "checked_in")
    services.queue_recall(appointment=t, actor=reception, now=local(MONDAY, 7, 4))
    with pytest.raises(DomainError) as exc:
        services.queue_recall(appointment=t, actor=reception, now=local(MONDAY, 7, 5))
    assert exc.value.code == "recall_limit"
    counts = [r.data["recall_count"] for r in AuditLog.objects.filter(verb="recall").order_by("id")]
    assert counts == [1, 2]


def test_skip_puts_the_ticket_back_behind_k_and_the_last_skip_marks_it_absent(clinic, persona):
    reception = persona("tiepdon")
    policy(skip_back=2, skip_limit=2)
    absent = walk_in(clinic, reception, "Vắng", 7, 0)
    others = [walk_in(clinic, reception, f"Người {i}", 7, i) for i in range(1, 5)]
    assert call(clinic, reception, 7, 10).pk == absent.pk
    skipped = services.queue_skip(appointment=absent, actor=reception, now=local(MONDAY, 7, 11))
    assert (skipped.status, skipped.called_at, skipped.skip_count) == ("checked_in", None, 1)
    assert waiting(clinic) == [others[0].pk, others[1].pk, absent.pk, others[2].pk, others[3].pk]
    assert call(clinic, reception, 7, 12).pk == others[0].pk
    assert waiting(clinic)[:2] == [others[1].pk, absent.pk]
    assert call(clinic, reception, 7, 13).pk == others[1].pk
    again = call(clinic, reception, 7, 14)
    assert again.pk == absent.pk and again.requeued_at is None
    # Skipping the ticket that is not being called is refused; the last skip marks the patient absent.
    with pytest.raises(DomainError) as exc:
        services.queue_skip(appointment=others[3], actor=reception, now=local(MONDAY, 7, 15))
    assert exc.value.code == "not_called"
    gone = services.queue_skip(appointment=absent, actor=reception, now=local(MONDAY, 7, 15))
    assert (gone.status, gone.skip_count) == ("no_show", 2)
    assert absent.pk not in waiting(clinic)
    verbs = list(
        AuditLog.objects.filter(target_id=str(absent.pk), verb__in=["call", "skip", "leave"])
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs == ["call", "skip", "call", "leave"]
    assert "bỏ qua 2 lần" in services.APPOINTMENT_WORKFLOW._refusal(gone, "complete", local(MONDAY, 8))
    assert Appointment.objects.get(pk=absent.pk).status == "no_show"


def test_the_workflow_offers_recall_and_skip_only_to_the_queue_roles(clinic, persona):
    from health_f0.appointments.transitions import APPOINTMENT_WORKFLOW

    reception, desk = persona("tiepdon"), persona("datlich")
    t = walk_in(clinic, reception, "Ai đó", 7, 0)
    call(clinic, reception, 7, 1)
    t.refresh_from_db()
    now = local(MONDAY, 7, 2)
    assert {"recall", "skip"} <= set(APPOINTMENT_WORKFLOW.available(t, reception, now=now))
    assert "leave" not in APPOINTMENT_WORKFLOW.available(t, reception, now=now)
    assert not {"recall", "skip", "mark_priority"} & set(APPOINTMENT_WORKFLOW.available(t, desk, now=now))
