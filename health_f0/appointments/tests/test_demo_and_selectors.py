"""Demo loader and holiday loader are idempotent; the free-slot search is a fixed, small number of queries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.management import call_command

from health_f0.appointments import selectors
from health_f0.appointments.models import Appointment, Holiday, ReexamPlan, ScheduleTemplate, Service
from health_f0.appointments.slots import LOCAL_TZ
from health_f0.appointments.tests.conftest import MONDAY, NOW
from health_f0.notifications.models import OutboxMessage

pytestmark = pytest.mark.django_db


def quiet(*args):
    call_command(*args, stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_holidays_load_idempotently():
    quiet("load_holidays")
    quiet("load_holidays")
    assert Holiday.objects.filter(date=date(2026, 2, 17)).get().name.startswith("Tết Nguyên đán")
    assert (
        Holiday.objects.filter(date=date(2026, 4, 26)).exists()
        and Holiday.objects.filter(date=date(2027, 4, 16)).exists()
    )
    assert Holiday.objects.filter(date__year=2026).count() == 18
    assert Holiday.objects.filter(date__year=2028).exists()  # one data file per year: 2026, 2027, 2028


def test_demo_loads_twice_without_duplicates(demo):
    quiet("load_appointments_demo")
    quiet("load_appointments_demo")
    assert set(Service.objects.values_list("facility__code", "code")) == {
        ("PK-NOI1", "kham-noi"),
        ("PK-NHI", "kham-nhi"),
        ("KKB-HD", "tim-mach"),
        ("KKB-HD", "tu-van-online"),
    }
    noi = Service.objects.get(code="kham-noi")
    assert (noi.duration_minutes, noi.capacity_per_slot) == (15, 3)
    assert ScheduleTemplate.objects.filter(service=noi).count() == 11  # Mon–Fri twice, Saturday morning
    assert Appointment.objects.filter(is_reexam=False, status="requested").count() == 1
    assert ReexamPlan.objects.count() == 1 and Appointment.objects.filter(is_reexam=True).count() == 1
    assert not OutboxMessage.objects.filter(subject_ref__startswith="appointment:").exists()


def test_slots_free_query_count(clinic, django_assert_max_num_queries):
    quiet("load_holidays")
    with django_assert_max_num_queries(4):  # templates, overrides, holidays, counters
        slots = selectors.slots_free(service=clinic, start=MONDAY, end=MONDAY + timedelta(days=29), now=NOW)
    days = {s.start.astimezone(LOCAL_TZ).date() for s in slots}
    assert MONDAY in days and all(d.weekday() < 5 for d in days)
    assert sum(s.free for s in slots if s.start.astimezone(LOCAL_TZ).date() == MONDAY) == 30 * 3
