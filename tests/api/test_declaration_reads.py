"""The API's declaration reads the declaring patient and its active episode in one statement
(monitoring/sql/patients.declarable_with_episode): each pair equals what `declarable` and
`episodes.active_of_patient` read apart, for every kind of account, patient id and episode history."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health_f0.facilities import access
from health_f0.facilities.models import Facility, Membership, Role
from health_f0.monitoring.models import Episode, EpisodeStatus
from health_f0.monitoring.sql import episodes as sql_episodes
from health_f0.monitoring.sql import patients as sql_patients
from health_f0.patients.models import Patient
from tests.api.test_declaration_hot_path import _patient
from tests.api.test_monitoring import DANGER, DECLARATIONS, NORMAL

pytestmark = pytest.mark.django_db


def _fields(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def _copy_episode(episode: Episode, **changes: Any) -> Episode:
    copy = Episode(
        **{**_fields(episode), "id": None, "public_id": uuid.uuid4(), "registration_id": None, **changes}
    )
    copy.save()
    return copy


def test_declarable_with_episode_equals_the_two_reads(demo: Any, persona: Any) -> None:
    own = Patient.objects.select_related("account").get(account__username="bn0000001")
    active = Episode.objects.filter(patient=own, status=EpisodeStatus.ACTIVE).order_by("-start_date").first()
    assert active is not None
    # Older episodes of the same patient, closed and active: the newest active one is the one chosen.
    _copy_episode(active, status=EpisodeStatus.COMPLETED, start_date=active.start_date + timedelta(days=3))
    _copy_episode(active, start_date=active.start_date - timedelta(days=5))
    family = _patient(name="Nguyễn Bảo An", phone=own.phone)  # family, no episode
    stranger = _patient(name="Trần Thị Cúc", phone="+84987654321")
    closed_only = _patient(name="Lê Văn Dũng", phone="+84911222333")
    _copy_episode(active, patient_id=closed_only.pk, status=EpisodeStatus.COMPLETED)
    nurse_patient = _patient(name="Phạm Thị Em", phone="+84933444555")
    Membership.objects.create(
        user=nurse_patient.account, facility=Facility.objects.get(code="TYT-10510"), role=Role.STATION_STAFF
    )
    family_active = _copy_episode(active, patient_id=family.pk)

    users = [own.account, family.account, stranger.account, closed_only.account, nurse_patient.account]
    users += [persona("thanhdong.nv"), persona("admin"), AnonymousUser()]
    ids: list[Any] = [
        None,
        own.public_id,
        family.public_id,
        str(stranger.public_id),
        uuid.uuid4(),
        "not-a-uuid",
    ]
    ids += [closed_only.public_id, nurse_patient.public_id]
    seen_episodes = set()
    for user in users:
        for public_id in ids:
            for told in (False, True):
                user.__dict__.pop("_hf0_access_cache", None)
                if told and getattr(user, "is_authenticated", False):
                    access._active_memberships(user)  # the token's statement read them (not_staff_sql)
                expected = [
                    (patient, sql_episodes.active_of_patient(patient.pk))
                    for patient in sql_patients.declarable(user, public_id)
                ]
                actual = sql_patients.declarable_with_episode(user, public_id)
                assert len(actual) == len(expected), (user, public_id)
                for (patient, episode), (want_patient, want_episode) in zip(actual, expected, strict=True):
                    assert _fields(patient) == _fields(want_patient)
                    assert not patient._state.adding and patient._state.db == "default"
                    if want_episode is None:
                        assert episode is None
                    else:
                        assert _fields(episode) == _fields(want_episode)
                        assert {k: type(v) for k, v in _fields(episode).items()} == {
                            k: type(v) for k, v in _fields(want_episode).items()
                        }
                        seen_episodes.add(episode.pk)
    assert seen_episodes == {active.pk, family_active.pk}
    # One statement.
    own.account.__dict__.pop("_hf0_access_cache", None)
    with CaptureQueriesContext(connection) as ctx:
        sql_patients.declarable_with_episode(own.account, family.public_id)
    assert len(ctx.captured_queries) == 1


def test_recent_readings_names_the_episode_time_index(demo: Any) -> None:
    """On MariaDB the history read names its index (FORCE INDEX): that index exists, on (episode, submitted_at),
    and the statement is the portable one with the hint only."""
    from health_f0.monitoring.models import Declaration
    from health_f0.monitoring.sql import declarations as sql_declarations

    name = sql_declarations.EPISODE_TIME_INDEX
    hinted = sql_declarations.RECENT_READINGS.replace(
        "monitoring_declaration ", f"monitoring_declaration FORCE INDEX ({name}) ", 1
    )
    assert hinted == sql_declarations.RECENT_READINGS_MYSQL
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Declaration._meta.db_table)
    assert constraints[name]["columns"] == ["episode_id", "submitted_at"]
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql_declarations.RECENT_READINGS_MYSQL}", [1, "2020-01-01", 5])
            columns = [c[0] for c in cursor.description]
            assert dict(zip(columns, cursor.fetchone(), strict=True))["key"] == name


def test_the_api_declaration_reads_patient_and_episode_together(
    demo: Any, as_user: Any, django_assert_max_num_queries: Any
) -> None:
    """One query less than tests/api/test_monitoring.py's budget: the patient and its episode are one statement.
    token + user (1), patient with episode (1), recent readings (1), episode update (1), insert (1), and the
    test transaction's SAVEPOINT/RELEASE around the write."""
    as_patient = as_user("bn0000001")
    as_patient.post(DECLARATIONS, {"answers": NORMAL}, format="json")  # warms caches, stamps token use
    with django_assert_max_num_queries(7):
        response = as_patient.post(DECLARATIONS, {"answers": {**NORMAL, "spo2": 97}}, format="json")
    assert response.status_code == 201
    with django_assert_max_num_queries(8):  # plus the alert row
        response = as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json")
    assert response.status_code == 201
    # Another family's patient id, or none of one's own: the answers of selectors.declaring_patient.
    response = as_patient.post(DECLARATIONS, {"patient": str(uuid.uuid4()), "answers": NORMAL}, format="json")
    assert response.status_code == 404
