"""A signed-in portal page reads the site's name (facilities.portal.site_info) from the cache in the consent
check's round trip (privacy.middleware), not in one of its own; the copy is the same one, so a change to the
Sở shows as it did before: once the cached copy expires or is dropped."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from health_f0.facilities import portal
from health_f0.facilities.models import Facility, FacilityKind

PORTAL_HP = "Cổng sức khoẻ thành phố Hải Phòng"
PORTAL_LS = "Cổng sức khoẻ tỉnh Lạng Sơn"


def _demo_account() -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="bn0000001")


def _brand(client: Client, path: str = "/ca-nhan") -> str:
    page = client.get(path, headers={"accept-language": "vi"})
    assert page.status_code == 200, page.status_code
    text = page.content.decode()
    start = text.index('<span class="brand-name">') + len('<span class="brand-name">')
    return text[start : text.index("</span>", start)]


@pytest.mark.django_db
def test_a_signed_in_page_reads_the_site_with_the_consent_check(
    demo: Any, client: Client, monkeypatch: Any
) -> None:
    client.force_login(_demo_account())
    assert _brand(client) == PORTAL_HP  # the first page stores the copy
    own_reads = []
    plain_cached = portal.cached
    monkeypatch.setattr(portal, "cached", lambda *a, **k: own_reads.append(a[0]) or plain_cached(*a, **k))
    for path in ("/ca-nhan", "/lich-hen", "/lich-su"):
        assert _brand(client, path) == PORTAL_HP
    assert own_reads == []  # no round trip of its own

    # The Sở renamed: the cached copy is shown until it expires or is dropped, as before.
    Facility.objects.filter(kind=FacilityKind.DEPARTMENT_OF_HEALTH).update(name="Sở Y tế tỉnh Lạng Sơn")
    assert _brand(client) == PORTAL_HP
    cache.delete(portal.SITE_INFO_KEY)
    assert _brand(client) == PORTAL_LS  # read from the database (its own read: the copy was gone)
    assert own_reads == [portal.SITE_INFO_KEY]
    assert _brand(client, "/lich-hen") == PORTAL_LS
    assert own_reads == [portal.SITE_INFO_KEY]


@pytest.mark.django_db
def test_a_page_without_the_consent_check_reads_the_site_itself(demo: Any, client: Client) -> None:
    """The public pages (no signed-in account) keep their own cache read."""
    cache.delete(portal.SITE_INFO_KEY)
    assert _brand(client, "/") == PORTAL_HP
    Facility.objects.filter(kind=FacilityKind.DEPARTMENT_OF_HEALTH).update(name="Sở Y tế tỉnh Lạng Sơn")
    assert _brand(client, "/") == PORTAL_HP
    cache.clear()
    assert _brand(client, "/") == PORTAL_LS


@pytest.mark.django_db
def test_with_the_cache_away_every_page_still_shows_the_site(
    demo: Any, client: Client, monkeypatch: Any
) -> None:
    from health_f0.core import safe_cache

    client.force_login(_demo_account())
    monkeypatch.setattr(safe_cache, "_usable", lambda alias: False)
    assert _brand(client) == PORTAL_HP
