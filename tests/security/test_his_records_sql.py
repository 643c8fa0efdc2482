"""access.his_records_sql and access.own_patients_sql (the patient's HIS lists written as constant SQL, his/sql)
keep exactly the rows access.his_records_for and access.own_patients_for keep: for every persona of the access
matrix, the patients' own accounts and an anonymous user, with patient A under a processing restriction (the
linker no longer reads A's records; A still does)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from health_f0.facilities import access
from health_f0.his.models import HisLabResult, HisVisit
from health_f0.patients.models import Patient
from tests.security.test_restricted import _fresh, matrix, restricted  # noqa: F401 - the fixtures
from tests.test_access_matrix import PERSONAS

pytestmark = pytest.mark.django_db


def _users(restricted: dict[str, Any]) -> list[Any]:  # noqa: F811 - the fixture
    patients = [restricted["patients"][name] for name in ("pat_a", "pat_b")]
    return [
        *(_fresh(name) for name in PERSONAS),
        *(_fresh(p.account.username) for p in patients),
        AnonymousUser(),
    ]


def _ids(sql: str, params: list[Any]) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize("model", [HisVisit, HisLabResult])
def test_his_records_sql_agrees_with_his_records_for(model: Any, restricted: dict[str, Any]) -> None:  # noqa: F811
    table = model._meta.db_table
    seen_any = False
    for user in _users(restricted):
        where, params = access.his_records_sql(user, "t.patient_id", "t.facility_id")
        sql_ids = _ids(f"SELECT t.id FROM {table} t WHERE {where}", params)  # noqa: S608
        orm_ids = set(access.his_records_for(user, model).values_list("id", flat=True))
        assert sql_ids == orm_ids, (getattr(user, "username", "anonymous"), model.__name__)
        seen_any = seen_any or bool(sql_ids)
    assert seen_any
    # The restricted patient reads their own records; the linker no longer does.
    patient_a = restricted["patients"]["pat_a"]
    own = access.his_records_sql(_fresh(patient_a.account.username), "t.patient_id", "t.facility_id")
    assert _ids(f"SELECT t.patient_id FROM {table} t WHERE {own[0]}", own[1]) == {patient_a.pk}  # noqa: S608
    linker = access.his_records_sql(_fresh("lienket.his"), "t.patient_id", "t.facility_id")
    assert patient_a.pk not in _ids(f"SELECT t.patient_id FROM {table} t WHERE {linker[0]}", linker[1])  # noqa: S608


def test_own_patients_sql_agrees_with_own_patients_for(restricted: dict[str, Any]) -> None:  # noqa: F811
    for user in _users(restricted):
        user.__dict__.pop("_hf0_access_cache", None)
        where, params = access.own_patients_sql(user, "p.id")
        sql_ids = _ids(f"SELECT p.id FROM {Patient._meta.db_table} p WHERE {where}", params)  # noqa: S608
        assert sql_ids == set(access.own_patients_for(user).values_list("id", flat=True)), user
        # With the memberships read already in the request (access.not_staff_sql writes their answer, not the
        # subquery): the same patients.
        if getattr(user, "is_authenticated", False):
            access._active_memberships(user)
            told, told_params = access.own_patients_sql(user, "p.id")
            assert "facilities_membership" not in told or user.is_superuser
            statement = f"SELECT p.id FROM {Patient._meta.db_table} p WHERE {told}"  # noqa: S608
            assert _ids(statement, told_params) == sql_ids, user


def test_the_patient_choice_s_ids_are_bound_and_keep_the_same_patients(
    restricted: dict[str, Any],  # noqa: F811 - the fixture
) -> None:
    """A portal page reads the account's patients first (monitoring.sql.patients.account_patients, the patient
    choice) and access.remember_own_patients keeps their ids: own_patients_sql then binds them (no subquery for
    MariaDB to plan on the HIS pages: issue 11) and keeps the same patients; his_active_pairs the same pairs.
    Staff and superusers have nothing kept: their rule is not the choice's."""
    from django.contrib.auth import get_user_model

    from health_f0.monitoring.sql.patients import account_patients

    superuser = get_user_model().objects.create_superuser(username="root-choice", password="x")
    users = [*_users(restricted), superuser]
    bound = 0
    for user in users:
        name = getattr(user, "username", "anonymous")
        expected = set(access.own_patients_for(user).values_list("id", flat=True))
        pairs = access.his_active_pairs(user)
        fresh = _fresh(name) if getattr(user, "is_authenticated", False) else AnonymousUser()
        chosen = account_patients(fresh)
        where, params = access.own_patients_sql(fresh, "p.id")
        if chosen is not None and not fresh.is_superuser:
            assert {p.pk for p in chosen} == expected, name
            assert "patients_patient" not in where and "facilities_membership" not in where, (name, where)
            bound += 1
        else:
            assert "own_patient_ids" not in getattr(fresh, "_hf0_access_cache", {}), name
        statement = f"SELECT p.id FROM {Patient._meta.db_table} p WHERE {where}"  # noqa: S608
        assert _ids(statement, params) == expected, name
        assert access.his_active_pairs(fresh) == pairs, name
        # owns_patient answers from the same ids.
        for patient in restricted["patients"].values():
            assert access.owns_patient(fresh, patient) == access.owns_patient(_fresh_of(user), patient), name
    assert bound >= 2  # patients A and B's accounts


def _fresh_of(user: Any) -> Any:
    return _fresh(user.username) if getattr(user, "is_authenticated", False) else AnonymousUser()
