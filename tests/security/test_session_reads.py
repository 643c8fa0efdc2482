"""The session row and the session's user read by constant SQL (health_f0/accounts/sql.py, issue 11) answer what
Django's database session store and django.contrib.auth.get_user answer, for every kind of session: a live one,
an expired one, an unknown key, a session hash made with a fallback secret (kept, key cycled) or before a
password change (flushed), an inactive or deleted account, a backend no longer configured; and a staff role
granted or revoked while the session is open counts from the next request, as it did when the memberships were
read on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import auth
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from health_f0.accounts import sql
from health_f0.facilities import access
from health_f0.facilities.models import Facility, Membership
from health_f0.patients.models import Patient
from tests import access_records

pytestmark = pytest.mark.django_db

PATIENT, STAFF = "bn0000001", "thanhdong.nv"


def test_the_session_engine_is_the_constant_sql_store(settings: Any) -> None:
    assert settings.SESSION_ENGINE == "health_f0.accounts.sql"
    assert issubclass(sql.SessionStore, DjangoSessionStore)


def _stored(data: dict[str, Any], *, expires_in: timedelta) -> str:
    store = DjangoSessionStore()
    store.update(data)
    store.create()
    Session.objects.filter(session_key=store.session_key).update(expire_date=timezone.now() + expires_in)
    return str(store.session_key)


@pytest.mark.parametrize("expires_in", [timedelta(days=1), timedelta(seconds=-1)])
def test_the_session_row_is_django_s(expires_in: timedelta) -> None:
    key = _stored({"a": 1, "www_patient": "x"}, expires_in=expires_in)
    ours, theirs = sql.SessionStore(key), DjangoSessionStore(key)
    assert ours.load() == theirs.load()
    assert ours.session_key == theirs.session_key  # None for the expired row
    assert (ours.load() != {}) == (expires_in > timedelta(0))
    for store in (sql.SessionStore("unknown-key-0000"), DjangoSessionStore("unknown-key-0000")):
        assert store.load() == {} and store.session_key is None


def _request(key: str) -> Any:
    request = RequestFactory().get("/ca-nhan")
    request.session = sql.SessionStore(key)
    return request


def _outcome(get_user: Callable[[Any], Any], key: str) -> tuple[Any, bool, bool]:
    """(the user's id or None, whether the session key changed, whether the session row still exists)."""
    request = _request(key)
    user = get_user(request)
    return (
        user.pk if user.is_authenticated else None,
        request.session.session_key != key,
        Session.objects.filter(session_key=key).exists(),
    )


def _logged_in_key(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return str(client.session.session_key)


def _both(make_key: Callable[[], str]) -> tuple[Any, Any]:
    """Django's answer and ours, each on a session made the same way."""
    theirs = _outcome(auth.get_user, make_key())
    ours = _outcome(sql.get_user, make_key())
    return theirs, ours


@pytest.mark.parametrize("username", [PATIENT, STAFF, "admin"])
def test_a_live_session_gives_the_same_user(demo: Any, persona: Any, username: str) -> None:
    user = persona(username)
    theirs, ours = _both(lambda: _logged_in_key(user))
    assert ours == theirs == (user.pk, False, True)
    key = _logged_in_key(user)
    got, expected = sql.get_user(_request(key)), auth.get_user(_request(key))
    assert {f.attname: getattr(got, f.attname) for f in got._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in expected._meta.concrete_fields
    }


def test_a_patient_account_s_staff_checks_cost_no_query(
    demo: Any, persona: Any, django_assert_num_queries: Any
) -> None:
    patient = sql.get_user(_request(_logged_in_key(persona(PATIENT))))
    staff = sql.get_user(_request(_logged_in_key(persona(STAFF))))
    with django_assert_num_queries(0):
        assert access.is_staff_member(patient) is False
    with django_assert_num_queries(1):  # a staff member's memberships are read as before
        assert access.is_staff_member(staff) is True


def test_a_password_changed_elsewhere_ends_the_session(demo: Any, persona: Any) -> None:
    user = persona(PATIENT)

    def make() -> str:
        key = _logged_in_key(user)
        user.set_password("another-password-1")
        user.save(update_fields=["password"])
        return key

    theirs, ours = _both(make)
    assert ours == theirs and ours[0] is None and not ours[2]  # flushed: the row is gone


def test_a_hash_made_with_a_fallback_secret_is_kept_and_the_key_cycled(
    demo: Any, persona: Any, settings: Any
) -> None:
    user = persona(PATIENT)
    old = settings.SECRET_KEY

    def make() -> str:
        settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = old, []
        key = _logged_in_key(user)
        settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-" + "x" * 50, [old]
        return key

    theirs, ours = _both(make)
    assert ours == theirs == (user.pk, True, False)  # a new key; the old row is gone


@pytest.mark.parametrize("change", ["inactive", "deleted", "backend"])
def test_an_account_that_may_no_longer_log_in_reads_as_anonymous(
    demo: Any, persona: Any, settings: Any, change: str
) -> None:
    backends = list(settings.AUTHENTICATION_BACKENDS)

    def make() -> str:
        settings.AUTHENTICATION_BACKENDS = backends
        user = access_records.portal_ready(Patient.objects.get(account__username=PATIENT)).account
        key = _logged_in_key(user)
        if change == "inactive":
            user.is_active = False
            user.save(update_fields=["is_active"])
        elif change == "deleted":
            store = sql.SessionStore(key)
            store["_auth_user_id"] = "987654321"
            store.save()
        else:
            settings.AUTHENTICATION_BACKENDS = ["health_f0.accounts.lockout.LoginGuardBackend"]
        return key

    theirs, ours = _both(make)
    assert ours == theirs
    assert ours[0] is None


def test_a_role_granted_or_revoked_mid_session_counts_from_the_next_request(demo: Any, persona: Any) -> None:
    """A patient's /ca-nhan; a station role granted while the session is open: the next request is a staff
    member's (sent to the desk), as when the memberships were read on their own; revoked: a patient again."""
    patient = access_records.portal_ready(Patient.objects.get(account__username=PATIENT))
    client = Client()
    client.force_login(patient.account)
    assert client.get(reverse("www:me")).status_code == 200
    membership = Membership.objects.create(
        user=patient.account, facility=Facility.objects.get(code="TYT-10510"), role="station_staff"
    )
    response = client.get(reverse("www:me"))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    assert client.get(reverse("www:me")).status_code == 200
