"""/lien-ket-ho-so shows the personal-data policy version in force next to its button. The consent check of the
same request (privacy.middleware) has just read that policy from the cache; it keeps it on the request and the
page shows that copy (privacy.selectors.policy_of_request): one read of the policy a page, not two. A request
whose check did not run reads the policy itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from health_f0.patients.models import Patient
from health_f0.privacy import selectors
from health_f0.privacy.models import ConsentChannel, ConsentMethod, PrivacyPolicy
from health_f0.privacy.services import consent_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung(demo: Any) -> Patient:
    return Patient.objects.select_related("account").get(account__username="bn0000001")


def _count_policy_reads(monkeypatch: Any) -> list[str]:
    """Every read of the policy's cache key, alone or with other keys in one round trip."""
    reads: list[str] = []
    plain_many, plain_get = selectors._cache_get_many, selectors.cache_get

    def get_many(keys: list[str]) -> dict[str, Any]:
        reads.extend(key for key in keys if key == selectors.POLICY_CACHE_KEY)
        return plain_many(keys)

    def get(key: str, *args: Any, **kwargs: Any) -> Any:
        if key == selectors.POLICY_CACHE_KEY:
            reads.append(key)
        return plain_get(key, *args, **kwargs)

    monkeypatch.setattr(selectors, "_cache_get_many", get_many)
    monkeypatch.setattr(selectors, "cache_get", get)
    return reads


def test_the_link_page_reads_the_policy_once(hung: Patient, monkeypatch: Any) -> None:
    client = Client()
    client.force_login(hung.account)
    assert client.get("/lien-ket-ho-so").status_code == 200  # the policy and the consent answer now cached
    version = selectors.policy_current().version
    reads = _count_policy_reads(monkeypatch)
    page = client.get("/lien-ket-ho-so")
    body = page.content.decode()
    assert page.status_code == 200 and f'name="policy_version" value="{version}"' in body
    assert reads == [selectors.POLICY_CACHE_KEY]  # the consent check's round trip only


def test_the_page_shows_the_policy_the_check_compared_with(hung: Patient) -> None:
    """A new version in force: the check (which read it) sends the account to agree first; once agreed, the link
    page shows that version, the one the check compared with."""
    client = Client()
    client.force_login(hung.account)
    assert client.get("/lien-ket-ho-so").status_code == 200
    PrivacyPolicy.objects.create(
        version="9.1", effective_from=timezone.now() - timedelta(minutes=1), summary="s", body="b"
    )
    selectors.cache_delete(selectors.POLICY_CACHE_KEY)
    answer = client.get("/lien-ket-ho-so")
    assert answer.status_code == 302 and answer["Location"].startswith("/dong-y-chinh-sach")
    consent_record(
        channel=ConsentChannel.HIS_LINK_WEB,
        method=ConsentMethod.SUBMIT,
        user=hung.account,
        patient=hung,
        policy_version="9.1",
    )
    selectors.forget_consent(user_ids=[hung.account.pk])
    body = client.get("/lien-ket-ho-so").content.decode()
    assert 'name="policy_version" value="9.1"' in body


def test_a_request_without_the_check_reads_the_policy_itself(demo: Any) -> None:
    request = RequestFactory().get("/lien-ket-ho-so")
    assert selectors.policy_of_request(request) == selectors.policy_current()
    kept = selectors.PolicyInfo("7.7", None, "", "")
    selectors.keep_policy_for_request(request, kept)
    assert selectors.policy_of_request(request) is kept
    other = RequestFactory().get("/lien-ket-ho-so")
    assert selectors.policy_of_request(other) == selectors.policy_current()  # kept on that request only
