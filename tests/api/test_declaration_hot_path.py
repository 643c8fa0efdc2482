"""selectors.declaring_patient is access.own_patients_for's rule written as one SQL statement (the morning
peak's hot path). These tests check the two agree for every kind of account and every kind of patient id."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from health_f0.core.exceptions import NotFound, PermissionDenied
from health_f0.facilities import access
from health_f0.facilities.models import Facility, Membership, Role
from health_f0.monitoring import selectors
from health_f0.patients.bonds import phone_bond_record
from health_f0.patients.models import BondMethod, Patient
from health_f0.patients.services import account_issue, patient_create

pytestmark = pytest.mark.django_db


def _reference(user: Any, public_id: Any) -> Any:
    """What declaring_patient returned when it was written with the ORM (before the raw query)."""
    queryset = access.own_patients_for(user)
    try:
        if public_id is None:
            return access.get_scoped_or_404(queryset, account=user)
        return access.get_scoped_or_404(queryset, public_id=public_id)
    except NotFound:
        if access.is_staff_member(user):
            return PermissionDenied
        return NotFound


def _actual(user: Any, public_id: Any) -> Any:
    try:
        return selectors.declaring_patient(user=user, public_id=public_id)
    except PermissionDenied:
        return PermissionDenied
    except NotFound:
        return NotFound


def _patient(*, name: str, phone: str, account: bool = True, bonded: bool = True) -> Patient:
    """A patient on `phone`; `bonded`: the phone answered an OTP (the family bond of patients.bonds)."""
    member = patient_create(
        full_name=name,
        date_of_birth=date(1990, 1, 1),
        sex="female",
        phone=phone,
        facility=Facility.objects.get(code="TYT-10510"),
        province_code=31,
        ward_code=10510,
    )
    if account:
        account_issue(patient=member)
    if bonded:
        phone_bond_record(patient=member, phone=phone, method=BondMethod.PORTAL_OTP, actor=None)
    return Patient.objects.select_related("account").get(pk=member.pk)


def test_declaring_patient_agrees_with_own_patients_for(demo: Any, persona: Any) -> None:
    own = Patient.objects.select_related("account").get(account__username="bn0000001")
    family = _patient(name="Nguyễn Bảo An", phone=own.phone)  # same proved phone, own account
    no_account = _patient(name="Nguyễn Văn Bình", phone=own.phone, account=False)  # same phone, no account
    unproved = _patient(name="Nguyễn Thị Chi", phone=own.phone, bonded=False)  # same phone, never proved
    corrected = _patient(name="Lý Văn Đạt", phone="+84966777888")  # phone corrected at the desk to own's
    Patient.objects.filter(pk=corrected.pk).update(phone=own.phone)
    stranger = _patient(name="Trần Thị Cúc", phone="+84987654321")  # another family
    no_phone_user = _patient(name="Lê Văn Dũng", phone="+84911222333")
    no_phone_user.account.phone = ""  # an account without a phone: only its own record
    no_phone_user.account.save(update_fields=["phone"])
    nurse_patient = _patient(name="Phạm Thị Em", phone="+84933444555")  # a patient who is also staff
    Membership.objects.create(
        user=nurse_patient.account, facility=Facility.objects.get(code="TYT-10510"), role=Role.STATION_STAFF
    )
    lapsed = _patient(name="Hoàng Văn Giang", phone="+84944555666")  # staff role no longer active
    Membership.objects.create(
        user=lapsed.account,
        facility=Facility.objects.get(code="TYT-10532"),
        role=Role.STATION_STAFF,
        is_active=False,
    )

    users = [
        own.account,
        family.account,
        unproved.account,
        corrected.account,
        stranger.account,
        no_phone_user.account,
        nurse_patient.account,
        lapsed.account,
        persona("thanhdong.nv"),
        persona("admin"),
        AnonymousUser(),
    ]
    ids: list[Any] = [
        None,
        *(p.public_id for p in (own, family, no_account, unproved, corrected, stranger)),
        *(p.public_id for p in (no_phone_user, nurse_patient, lapsed)),
        str(family.public_id),
        uuid.uuid4(),
        "not-a-uuid",
    ]
    checked = 0
    for user in users:
        for public_id in ids:
            for candidate in (user, type(user).objects.get(pk=user.pk) if user.pk else user):
                candidate.__dict__.pop("_hf0_access_cache", None)
                expected = _reference(candidate, public_id)
                candidate.__dict__.pop("_hf0_access_cache", None)
                assert _actual(candidate, public_id) == expected, (candidate, public_id, expected)
                # With the memberships already read in the request (the token's or the session's statement),
                # the staff test is their answer, not a subquery (access.not_staff_sql): the same outcome.
                candidate.__dict__.pop("_hf0_access_cache", None)
                if getattr(candidate, "is_authenticated", False):
                    access._active_memberships(candidate)
                assert _actual(candidate, public_id) == expected, (candidate, public_id, expected, "told")
                checked += 1
    assert checked == len(users) * len(ids) * 2

    # The outcomes the rule is about, spelled out.
    assert _actual(own.account, None) == own
    assert _actual(own.account, family.public_id) == family
    assert _actual(family.account, own.public_id) == own
    assert _actual(own.account, no_account.public_id) is NotFound  # family needs an account of its own
    # The family is the proved phone, not the phone field: an unproved or corrected phone is no family.
    assert _actual(own.account, unproved.public_id) is NotFound
    assert _actual(unproved.account, own.public_id) is NotFound
    assert _actual(unproved.account, None) == unproved
    assert _actual(own.account, corrected.public_id) is NotFound
    assert _actual(corrected.account, own.public_id) is NotFound
    assert _actual(own.account, stranger.public_id) is NotFound
    assert _actual(no_phone_user.account, None) == no_phone_user
    assert _actual(nurse_patient.account, None) is PermissionDenied
    assert _actual(lapsed.account, None) == lapsed
    assert _actual(persona("admin"), None) is PermissionDenied
    assert _actual(AnonymousUser(), None) is NotFound


# --- core/rawsql.py: the hot path's reads and insert agree with the ORM ---------------------------


def _fields(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_fetch_models_and_rows_match_raw_and_insert_matches_save(demo: Any, persona: Any) -> None:
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from health_f0.core.rawsql import fetch_models, fetch_rows, insert_one
    from health_f0.monitoring.models import Declaration, Episode
    from health_f0.monitoring.services import declaration_submit

    own = Patient.objects.get(account__username="bn0000001")
    declaration_submit(
        patient=own,
        actor=own.account,
        answers={"temperature": "38.6", "spo2": 93, "symptoms": ["cough"]},
        idempotency_key="hot-path-1",
    )
    for model in (Patient, Episode, Declaration, get_user_model()):
        sql = f"SELECT * FROM {model._meta.db_table} ORDER BY id"  # noqa: S608
        expected = list(model.objects.raw(sql))
        actual = fetch_models(model, sql, [])
        assert expected and len(actual) == len(expected)
        for one, other in zip(expected, actual, strict=True):
            assert _fields(one) == _fields(other)
            assert {k: type(v) for k, v in _fields(one).items()} == {
                k: type(v) for k, v in _fields(other).items()
            }
            assert not other._state.adding and other._state.db == "default"

    columns = "submitted_at, local_date, spo2, temperature, breathing_rate, pulse, late, public_id"
    rows = fetch_rows(Declaration, f"SELECT {columns} FROM monitoring_declaration ORDER BY id", [])  # noqa: S608
    assert rows == list(Declaration.objects.order_by("id").values_list(*columns.split(", ")))
    assert isinstance(rows[-1][3], Decimal) and rows[-1][3] == Decimal("38.6")
    assert fetch_rows(Declaration, "SELECT id FROM monitoring_declaration WHERE id < 0", []) == []

    # insert_one writes the row save() writes (defaults, auto_now, JSON, decimals) and sets the key.
    first = Declaration.objects.get(idempotency_key="hot-path-1")
    copies = []
    for key, write in (("by-save", lambda d: d.save()), ("by-insert", insert_one)):
        copy = Declaration(
            **{f.attname: getattr(first, f.attname) for f in Declaration._meta.concrete_fields}
        )
        copy.pk = None
        copy.public_id = uuid.uuid4()
        copy.idempotency_key = key
        write(copy)
        assert copy.pk is not None and not copy._state.adding
        copies.append(Declaration.objects.get(pk=copy.pk))
    saved, inserted = (_fields(c) for c in copies)
    for name in ("id", "public_id", "idempotency_key"):
        saved.pop(name), inserted.pop(name)
    assert (
        saved
        == inserted
        == {k: v for k, v in _fields(first).items() if k not in ("id", "public_id", "idempotency_key")}
    )


def test_a_declaration_asks_no_staff_question_the_token_answered(demo: Any, persona: Any) -> None:
    """The token's statement reads the account's memberships; the patient look-up of a declaration uses its
    answer instead of asking the server again (access.not_staff_sql), and a staff role still refuses."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from health_f0.api.services import api_token_issue

    client = APIClient()
    raw, _ = api_token_issue(user=persona("bn0000001"))
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/declarations")
        selectors.declaring_patient(user=response.wsgi_request.user)
    patient_reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT * FROM patients_patient")]
    assert patient_reads and all("facilities_membership" not in sql for sql in patient_reads), patient_reads

    staff = persona("thanhdong.nv")
    access._active_memberships(staff)
    with CaptureQueriesContext(connection) as queries, pytest.raises(PermissionDenied):
        selectors.declaring_patient(user=staff)
    assert all("facilities_membership" not in q["sql"] for q in queries)
