"""access.his_active_pairs and access.his_pairs_sql (the portal's HIS pages read a patient account's active links
once, for whether the page's patient has one and for the rule on their records: his.selectors.RecordScope) keep
exactly what access.his_records_sql and links_for keep: for every persona of the access matrix, the patients' own
accounts, a family member on patient A's phone with a link of its own, a patient with no link, and an anonymous
user; patient A under a processing restriction."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.his import selectors
from health_f0.his.models import HisLink
from health_f0.his.tests.conftest import make_patient
from health_f0.patients.bonds import phone_bond_record
from health_f0.patients.models import BondMethod, Patient
from tests.security.test_restricted import _fresh, matrix, restricted  # noqa: F401 - the fixtures
from tests.test_access_matrix import PERSONAS

pytestmark = pytest.mark.django_db

COLUMNS = ("t.patient_id", "t.facility_id")


@pytest.fixture
def family(restricted: dict[str, Any]) -> dict[str, Any]:  # noqa: F811 - the fixture
    """Patient A's child on A's phone (an account of its own, the phone proved by OTP) with an active link at
    another hospital, and a patient account with no link at all."""
    patient_a = restricted["patients"]["pat_a"]
    account = get_user_model().objects.create_user(username="bn-con-pairs", phone=patient_a.phone)
    child = make_patient(
        name="Nguyễn Minh Khang", born=date(2015, 6, 1), phone=patient_a.phone, account=account
    )
    phone_bond_record(patient=child, phone=patient_a.phone, method=BondMethod.PORTAL_OTP, actor=None)
    elsewhere = Facility.objects.filter(kind__in=selectors.HIS_FACILITY_KINDS).exclude(code="TTYT-HD").first()
    assert elsewhere is not None
    HisLink.objects.create(
        patient=child,
        facility=elsewhere,
        active=True,
        his_patient_id="HIS-PAIRS",
        his_code="BN-PAIRS",
        linked_at=timezone.now(),
    )
    lonely_account = get_user_model().objects.create_user(username="bn-no-link-pairs", phone="0909000111")
    lonely = make_patient(
        name="Trần Văn Lẻ", born=date(1980, 1, 1), phone="0909000111", account=lonely_account
    )
    return {**restricted, "child": child, "lonely": lonely}


def _users(family: dict[str, Any]) -> list[Any]:
    patients = [family["patients"]["pat_a"], family["patients"]["pat_b"], family["child"], family["lonely"]]
    return [
        *(_fresh(name) for name in PERSONAS),
        *(_fresh(p.account.username) for p in patients),
        AnonymousUser(),
    ]


def _everyone(family: dict[str, Any]) -> list[Patient]:
    return [family["patients"]["pat_a"], family["patients"]["pat_b"], family["child"], family["lonely"]]


def test_pairs_write_his_records_sqls_own_condition(family: dict[str, Any]) -> None:
    seen_pairs = False
    for user in _users(family):
        name = getattr(user, "username", "anonymous")
        pairs = access.his_active_pairs(user)
        expected = access.his_records_sql(user, *COLUMNS)
        if access.is_staff_member(user):
            assert pairs is None, name
            continue
        assert pairs is not None, name
        assert access.his_pairs_sql(pairs, *COLUMNS) == expected, name
        # The pairs are the account's active links (links_for: its own and its family's patients).
        links = selectors.links_for(user=user).values_list("patient_id", "facility_id")
        assert set(pairs) == set(links) and list(pairs) == sorted(pairs), name
        seen_pairs = seen_pairs or len(pairs) > 1
    assert seen_pairs  # patient A's account reads its own link and its child's


def test_the_scope_says_which_patient_has_a_link(family: dict[str, Any]) -> None:
    for user in _users(family):
        name = getattr(user, "username", "anonymous")
        scope = selectors.RecordScope.of(user)
        assert (scope.sql, list(scope.params)) == access.his_records_sql(user, "{patient}", "{facility}"), (
            name
        )
        if access.is_staff_member(user):
            assert scope.pairs is None
            with pytest.raises(ValueError):
                scope.linked(family["patients"]["pat_a"])
            continue
        for patient in _everyone(family):
            assert scope.linked(patient) == bool(selectors.links_for(user=user, patient=patient)), (
                name,
                patient,
            )
    mother = selectors.RecordScope.of(_fresh(family["patients"]["pat_a"].account.username))
    assert mother.linked(family["patients"]["pat_a"]) and mother.linked(family["child"])
    assert not mother.linked(family["patients"]["pat_b"]) and not mother.linked(family["lonely"])
    lonely = selectors.RecordScope.of(_fresh(family["lonely"].account.username))
    assert lonely.pairs == () and lonely.sql == "1 = 0"
    assert not any(lonely.linked(p) for p in _everyone(family))


def test_an_ended_link_is_no_pair(family: dict[str, Any]) -> None:
    mother = family["patients"]["pat_a"].account.username
    HisLink.objects.filter(patient=family["child"]).update(active=False)
    scope = selectors.RecordScope.of(_fresh(mother))
    assert not scope.linked(family["child"]) and scope.linked(family["patients"]["pat_a"])
    assert access.his_pairs_sql(scope.pairs or (), *COLUMNS) == access.his_records_sql(
        _fresh(mother), *COLUMNS
    )


def test_the_patient_choice_reads_the_same_pairs(family: dict[str, Any]) -> None:
    """The HIS pages read a patient account's active links with its patients (account_patients(his_links=True),
    the patient choice's statement) and keep them (access.remember_his_active_pairs): his_active_pairs then
    answers them without a statement, the same pairs it reads itself, for every kind of account; a link that
    ended is no pair. Staff and superusers have nothing kept (their rule is not the choice's)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from health_f0.monitoring.sql.patients import account_patients

    superuser = get_user_model().objects.create_superuser(username="root-pairs", password="x")
    kept = 0
    for user in [*_users(family), superuser]:
        name = getattr(user, "username", "anonymous")
        expected = access.his_active_pairs(_fresh_of(user))
        fresh = _fresh_of(user)
        chosen = account_patients(fresh, his_links=True)
        with CaptureQueriesContext(connection) as ctx:
            pairs = access.his_active_pairs(fresh)
        assert pairs == expected, name
        if chosen is not None and not fresh.is_superuser:
            assert not ctx.captured_queries, name  # kept by the patient choice
            kept += 1
            # The same patients as without the links.
            assert [p.pk for p in chosen] == [p.pk for p in account_patients(_fresh_of(user)) or []], name
        else:
            assert "his_active_pairs" not in getattr(fresh, "_hf0_access_cache", {}), name
    assert kept >= 4  # patients A, B, the child and the lonely patient
    mother = _fresh(family["patients"]["pat_a"].account.username)
    account_patients(mother, his_links=True)
    assert len(access.his_active_pairs(mother) or ()) == 2  # A's own link and its child's
    HisLink.objects.filter(patient=family["child"]).update(active=False)
    mother = _fresh(family["patients"]["pat_a"].account.username)
    account_patients(mother, his_links=True)
    assert access.his_active_pairs(mother) == ((family["patients"]["pat_a"].pk, _link_facility(family)),)


def _link_facility(family: dict[str, Any]) -> int:
    link = HisLink.objects.get(patient=family["patients"]["pat_a"], active=True)
    return int(link.facility_id)


def _fresh_of(user: Any) -> Any:
    return _fresh(user.username) if getattr(user, "is_authenticated", False) else AnonymousUser()
