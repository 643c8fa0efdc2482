"""The floor of a signed-in request (issue 11, health_f0/accounts/sql.py): a session this process has seen
reads its user's row in the session's own statement, and a session's signature is checked once per process
and data. Neither may give a request another account's user or data, a stale user, or a session Django would
refuse: the user read with the session is used only when it is the session's own user (a guess that turned
out wrong is read again), and only data whose signature was checked with the secrets in force is decoded.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib import auth
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory

from health_f0.accounts import sql
from health_f0.facilities import access
from health_f0.facilities.models import Facility, Membership
from health_f0.patients.models import Patient
from tests import access_records

pytestmark = pytest.mark.django_db

PATIENT, OTHER, STAFF = "bn0000001", "ketoan", "thanhdong.nv"


def _logged_in_key(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return str(client.session.session_key)


def _request(key: str) -> Any:
    request = RequestFactory().get("/ca-nhan")
    request.session = sql.SessionStore(key)
    return request


def _fields(user: Any) -> dict[str, Any]:
    return {f.attname: getattr(user, f.attname) for f in user._meta.concrete_fields}


@pytest.fixture(autouse=True)
def _fresh_memos() -> Any:
    sql._session_users.clear()
    sql._verified.clear()
    yield
    sql._session_users.clear()
    sql._verified.clear()


@pytest.mark.parametrize("username", [PATIENT, STAFF, "admin"])
def test_a_seen_session_reads_its_user_in_the_session_statement(
    demo: Any, persona: Any, username: str, django_assert_num_queries: Any
) -> None:
    user = persona(username)
    key = _logged_in_key(user)
    first = sql.get_user(_request(key))  # the session, then its user: two statements
    assert sql._session_users[key] == user.pk
    request = _request(key)
    with django_assert_num_queries(1):
        again = sql.get_user(request)
    expected = auth.get_user(_request(key))
    assert again.pk == first.pk == expected.pk == user.pk
    assert _fields(again) == _fields(expected) == _fields(first)
    assert again._state.db == expected._state.db and not again._state.adding
    # The staff flag came with it: a patient's staff checks ask nothing more, a staff member's memberships are
    # read as before (a superuser needs none).
    with django_assert_num_queries(1 if username == STAFF else 0):
        assert access.is_staff_member(again) is (username != PATIENT)


def test_a_wrong_guess_reads_the_session_s_own_user(demo: Any, persona: Any) -> None:
    """The guess says another account (a key reused for another login cannot happen with Django's keys; the
    guess must still never decide whose session it is)."""
    patient, other = persona(PATIENT), persona(OTHER)
    key = _logged_in_key(patient)
    sql._session_users[key] = other.pk
    request = _request(key)
    user = sql.get_user(request)
    assert user.pk == patient.pk == auth.get_user(_request(key)).pk
    assert sql._session_users[key] == patient.pk


def test_the_user_read_with_the_session_is_as_fresh_as_the_session(demo: Any, persona: Any) -> None:
    """A change to the account between two requests is seen by the second, as with a statement of its own:
    the password (the session ends), the active flag (anonymous), a staff role granted (staff from then on)."""
    patient = access_records.portal_ready(Patient.objects.get(account__username=PATIENT)).account
    key = _logged_in_key(patient)
    assert sql.get_user(_request(key)).pk == patient.pk
    Membership.objects.create(
        user=patient, facility=Facility.objects.get(code="TYT-10510"), role="station_staff"
    )
    user = sql.get_user(_request(key))
    assert access.is_staff_member(user) is True
    patient.is_active = False
    patient.save(update_fields=["is_active"])
    assert not sql.get_user(_request(key)).is_authenticated
    patient.is_active = True
    patient.set_password("another-password-1")
    patient.save(update_fields=["is_active", "password"])
    assert not sql.get_user(_request(key)).is_authenticated
    assert not Session.objects.filter(session_key=key).exists()  # flushed, as Django does


def test_a_deleted_user_reads_as_anonymous(demo: Any, persona: Any) -> None:
    user = access_records.portal_ready(Patient.objects.get(account__username=PATIENT)).account
    key = _logged_in_key(user)
    sql.get_user(_request(key))
    store = sql.SessionStore(key)
    store["_auth_user_id"] = "987654321"
    store.save()
    sql._session_users[key] = 987654321  # the guess is right: the row it brings is NULL
    request = _request(key)
    assert not sql.get_user(request).is_authenticated
    assert not auth.get_user(_request(key)).is_authenticated


def test_logout_ends_the_session_for_the_next_request(demo: Any, persona: Any) -> None:
    client = Client()
    client.force_login(persona(PATIENT))
    key = client.session.session_key
    assert client.get("/ca-nhan").status_code == 200
    assert client.get("/ca-nhan").status_code == 200  # the second: the user read with the session
    assert key in sql._session_users
    client.post("/dang-xuat")
    stale = Client()
    stale.cookies["sessionid"] = key
    response = stale.get("/ca-nhan")
    assert response.status_code == 302 and "/dang-nhap" in response["Location"]
    assert not sql.get_user(_request(key)).is_authenticated


def test_the_verified_data_gives_a_fresh_dict_each_time(demo: Any, persona: Any) -> None:
    key = _logged_in_key(persona(PATIENT))
    first = sql.SessionStore(key).load()
    first["www_patient"] = "changed by one request"
    second = sql.SessionStore(key).load()
    assert "www_patient" not in second or second["www_patient"] != "changed by one request"
    assert second == DjangoSessionStore(key).load()


def test_tampered_data_is_refused_and_logged(demo: Any, persona: Any, caplog: Any) -> None:
    key = _logged_in_key(persona(PATIENT))
    data = Session.objects.get(session_key=key).session_data
    assert sql.SessionStore(key).load()  # its signature is now known to this process
    payload, _, signature = data.rpartition(":")
    forged = f"{payload}:{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    store = sql.SessionStore(key)
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert store.decode(forged) == {} == DjangoSessionStore(key).decode(forged)
    assert "Session data corrupted" in caplog.text
    assert store.decode("not even signed") == {}


def test_a_new_secret_checks_the_signature_again(demo: Any, persona: Any, settings: Any) -> None:
    key = _logged_in_key(persona(PATIENT))
    data = Session.objects.get(session_key=key).session_data
    assert sql.SessionStore(key).decode(data)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-" + "x" * 50, []
    assert sql.SessionStore(key).decode(data) == {} == DjangoSessionStore(key).decode(data)
