"""The constant statements under every signed-in portal page (issue 11) answer what the ORM queries they replace
answer: the patients an account acts for (monitoring/sql/patients.account_patients, for
www.selectors.patient_choice) and a patient's current episode with its station and latest declaration
(monitoring/sql/episodes.current_of_patient, for monitoring.selectors.current_episode and declaration_status).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from health_f0.facilities import access
from health_f0.monitoring import selectors as monitoring_selectors
from health_f0.monitoring.models import Episode, EpisodeStatus
from health_f0.monitoring.sql import episodes as episodes_sql
from health_f0.monitoring.sql import patients as patients_sql
from health_f0.patients.models import Patient
from tests.api import test_sql_lists

pytestmark = pytest.mark.django_db

# The access matrix's patients A and B with home care, and A's child on the same phone (test_sql_lists).
records = test_sql_lists.records
families = test_sql_lists.families
_fresh = test_sql_lists._fresh


def _fields(instance: Any) -> dict[str, Any]:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def _patient_view(patient: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return _fields(patient), _fields(patient.facility)


def _account(families: dict[str, Any], name: str) -> str:
    return families[name].account.username if name in families else name


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("bn0000001", 2),
        ("child", 2),
        ("pat_b", 1),
        ("thanhdong.nv", None),
        ("admin", None),
        ("datlich", None),
    ],
)
def test_account_patients_are_patients_for(
    name: str, count: int | None, families: dict[str, Any], django_assert_num_queries: Any
) -> None:
    """A patient account's own record and its family's (under a processing restriction too), by name then id,
    each with its facility attached; staff and the superuser: None (the caller reads patients_for)."""
    username = _account(families, name)
    built = patients_sql.account_patients(_fresh(username))
    if count is None:
        assert built is None
        return
    assert built is not None and len(built) == count
    orm = list(access.patients_for(_fresh(username)).select_related("facility").order_by("full_name", "id"))
    with django_assert_num_queries(0):  # the facility came with the row
        assert [_patient_view(p) for p in built] == [_patient_view(p) for p in orm]


def test_account_patients_of_an_anonymous_user_or_a_staff_member_later_granted_a_role(
    families: dict[str, Any], persona: Any
) -> None:
    from health_f0.facilities.models import Membership

    assert patients_sql.account_patients(AnonymousUser()) is None
    user = _fresh(families["pat_b"].account.username)
    assert patients_sql.account_patients(user) is not None
    Membership.objects.create(user=user, facility=families["pat_b"].facility, role="station_staff")
    # A new request (a new user object) sees the role at once: the staff path, not the account's patients.
    assert patients_sql.account_patients(_fresh(user.username)) is None


def _orm_current(patient: Patient) -> tuple[Episode | None, Any]:
    """The ORM queries current_episode and declaration_status made before the constant statement."""
    episodes = Episode.objects.select_related("facility").filter(patient=patient)
    active = episodes.filter(status=EpisodeStatus.ACTIVE).order_by("-start_date", "-id").first()
    episode = active or episodes.order_by("-start_date", "-id").first()
    last = episode.declarations.order_by("-submitted_at", "-id").first() if episode else None
    return episode, last


def _current_view(episode: Episode | None, last: Any) -> Any:
    if episode is None:
        return None
    return _fields(episode), _fields(episode.facility), _fields(last) if last is not None else None


def _check_current(patient: Patient, django_assert_num_queries: Any) -> Any:
    expected = _current_view(*_orm_current(patient))
    found = episodes_sql.current_of_patient(patient.pk)
    with django_assert_num_queries(0):
        got = _current_view(*found) if found is not None else None
        if found is not None and found[1] is not None:
            assert found[1].episode is found[0]
    assert got == expected
    status = monitoring_selectors.declaration_status(patient=patient)
    assert _current_view(status.episode, status.last) == expected
    current = monitoring_selectors.current_episode(patient=patient)  # the statement without the declaration
    with django_assert_num_queries(0):  # its station attached
        got_current = (_fields(current), _fields(current.facility)) if current else None
    assert got_current == (expected[:2] if expected else None)
    assert "monitoring_declaration" not in episodes_sql.CURRENT_EPISODE_OF_PATIENT
    return expected


def test_current_episode_is_the_orm_choice(families: dict[str, Any], django_assert_num_queries: Any) -> None:
    """An active episode with declarations (the child), completed ones (A, B), none at all, and a patient with
    an older active and a newer completed episode (the active one wins), or two completed (the newest wins;
    the later id on the same start date)."""
    seen = [_check_current(families[name], django_assert_num_queries) for name in ("child", "pat_a", "pat_b")]
    assert {view[0]["status"] for view in seen} == {"active", "completed"}
    assert any(view[2] is not None for view in seen)  # a latest declaration compared
    nobody = Patient(pk=10**9)  # no episode
    assert _check_current(nobody, django_assert_num_queries) is None

    patient = families["pat_b"]
    completed = Episode.objects.filter(patient=patient).latest("id")
    today = timezone.localdate()

    def clone(status: str, start: Any) -> Episode:
        return Episode.objects.create(
            patient=patient,
            facility=completed.facility,
            status=status,
            start_date=start,
            expected_end_date=start + timedelta(days=7),
        )

    active = clone(EpisodeStatus.ACTIVE, today - timedelta(days=40))
    clone(EpisodeStatus.COMPLETED, today + timedelta(days=1))
    assert _check_current(patient, django_assert_num_queries)[0]["id"] == active.pk
    active.status = EpisodeStatus.COMPLETED
    active.save(update_fields=["status"])
    same_day = clone(EpisodeStatus.COMPLETED, today + timedelta(days=1))
    assert _check_current(patient, django_assert_num_queries)[0]["id"] == same_day.pk


@pytest.mark.parametrize(
    ("name", "several"),
    [
        ("bn0000001", True),
        ("child", True),
        ("pat_b", False),
        ("thanhdong.nv", None),
        ("admin", None),
        ("datlich", None),
    ],
)
def test_acts_for_several_is_more_than_one_of_account_patients(
    name: str, several: bool | None, families: dict[str, Any]
) -> None:
    """/lich-hen's family question (monitoring.sql.patients.acts_for_several) answers len(account_patients) > 1
    and len(patients_for) > 1 for a patient account; None for staff and the superuser."""
    username = _account(families, name)
    assert patients_sql.acts_for_several(_fresh(username)) is several
    if several is not None:
        assert several is (len(patients_sql.account_patients(_fresh(username)) or []) > 1)
        assert several is (access.patients_for(_fresh(username)).count() > 1)
    assert patients_sql.acts_for_several(AnonymousUser()) is None


def test_the_booking_list_names_patients_only_for_a_family(families: dict[str, Any]) -> None:
    """/lich-hen writes each booking's patient when the account acts for several patients (access's family rule
    through acts_for_several), even when only one of them has bookings; a single patient's account does not, and
    another family's booking neither shows on a page nor makes it a family's."""
    from django.test import Client

    from health_f0.appointments import services as appt_services
    from tests.www.test_appointments_portal import at, make_service, open_day

    service = make_service()
    day = open_day(service)
    child, single = families["child"], families["pat_b"]
    for patient, hour in ((child, 9), (single, 10)):
        appt_services.appointment_book(
            patient=patient, service=service, slot_start=at(day, hour), channel="web", actor=patient.account
        )

    def page(account: Any) -> str:
        client = Client()
        client.force_login(account)
        return client.get("/lich-hen").content.decode()

    family_page = page(families["pat_a"].account)  # A has no booking of its own: only the child's shows
    assert f"· {child.full_name}</p>" in family_page and single.full_name not in family_page
    single_page = page(single.account)
    assert f"{service.name}</a>" in single_page and f"· {single.full_name}</p>" not in single_page
    assert child.full_name not in single_page
