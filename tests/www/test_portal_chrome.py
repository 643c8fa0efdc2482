"""The layout's head, header and footer drawn once per language, site and signed-in state with slots for the
page's CSRF field and path (health_f0/www/jinja.py, `chrome`): the same HTML as `{% include %}` draws."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.template import engines
from django.test import RequestFactory
from django.utils import translation

from health_f0.facilities.portal import SiteInfo
from health_f0.www import jinja

PARTIALS = ("www/_head.html", "www/_header.html", "www/_footer.html")
SITES = [
    SiteInfo(authority="Sở Y tế thành phố Hải Phòng", hotline="0225 3842 123", province_code=31),
    SiteInfo(authority="Sở Y tế", hotline="", province_code=None),
    SiteInfo(authority='Sở <Y> tế & "A"', hotline="19009095", province_code=1),
]
PATHS = ["/ca-nhan", "/lich-su?trang=abc&x=<b>\"'", "/lich-hen?nguoi-benh=%3Cscript%3E", "/"]


def both(name: str, path: str, *, site: Any, user: Any, language: str) -> tuple[str, str]:
    """What `chrome(name)` and `{% include name %}` draw on one page (one CSRF field for both)."""
    request = RequestFactory().get(path)
    request.user = user
    source = f'{{{{ chrome("{name}") }}}}\x01{{% include "{name}" %}}\x01{{{{ request.get_full_path() }}}}'
    context = {"site": site, "site_hotline": site.hotline.replace(" ", "")}
    with translation.override(language):
        out = engines["jinja2"].from_string(source).render(context, request=request)
    memo, plain, full_path = out.split("\x01")
    if name == "www/_header.html":
        assert f'name="next" value="{full_path}"' in memo
    return memo, plain


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("signed_in", [False, True])
def test_the_chrome_is_what_include_draws(language: str, signed_in: bool) -> None:
    user = User(username="bn1") if signed_in else AnonymousUser()
    for site in SITES:
        for path in PATHS:  # the second page of a key fills the slots of the first one's drawing
            for name in PARTIALS:
                memo, plain = both(name, path, site=site, user=user, language=language)
                assert memo == plain, (name, path, site)
    memo, _ = both("www/_header.html", PATHS[1], site=SITES[0], user=user, language=language)
    assert "trang=abc&amp;x=" in memo  # the page's own path, escaped; the drawings keep none
    assert not any("trang=" in part for parts in jinja._chrome.values() for part in parts)
    assert memo.count("csrfmiddlewaretoken") == (2 if signed_in else 1)


def test_one_csrf_field_per_page_and_none_without_a_form() -> None:
    """The page's forms share one masked token (as Django's csrf context processor gives its templates); a page
    that draws no form asks for none, so its answer sets no CSRF cookie."""
    request = RequestFactory().get("/")
    request.user = User(username="bn1")
    page = engines["jinja2"].from_string("{{ csrf_input }}|{{ csrf_input }}")
    first, second = page.render({}, request=request).split("|")
    assert first == second and 'name="csrfmiddlewaretoken"' in first
    other = RequestFactory().get("/")
    other.user = AnonymousUser()
    engines["jinja2"].from_string("{{ chrome('www/_head.html') }}").render({"site": SITES[0]}, request=other)
    assert "CSRF_COOKIE" not in other.META


def test_without_the_sites_info_the_partial_is_drawn_in_full() -> None:
    class Site:
        authority, hotline, title = "Sở Y tế Hà Nội", "19001234", "Cổng"

    request = RequestFactory().get("/x")
    request.user = AnonymousUser()
    source = '{{ chrome("www/_footer.html") }}\x01{% include "www/_footer.html" %}'
    context = {"site": Site(), "site_hotline": "1900 1234"}
    memo, plain = engines["jinja2"].from_string(source).render(context, request=request).split("\x01")
    assert memo == plain and "Sở Y tế Hà Nội" in memo


def test_a_changed_setting_forgets_the_drawings(settings: Any) -> None:
    both("www/_header.html", "/", site=SITES[0], user=AnonymousUser(), language="vi")
    assert jinja._chrome
    settings.PORTAL_TITLE = "Sức khoẻ Hải Phòng"
    assert not jinja._chrome
    memo, plain = both("www/_header.html", "/", site=SITES[0], user=AnonymousUser(), language="vi")
    assert memo == plain and "Sức khoẻ Hải Phòng" in memo


def test_url_names_without_arguments_are_reversed_once_per_urlconf(settings: Any) -> None:
    assert jinja.url("www:me") == "/ca-nhan"
    assert jinja.url("www:appointment", "7d4f3c2e-1111-4222-8333-944455556666").startswith("/lich-hen/")
    settings.ROOT_URLCONF = "tests.www.urls_prefixed"
    assert jinja.url("www:me") == "/p/ca-nhan"


ID_LINKS = [
    "www:appointment",
    "www:certificate_download",
    "www:his_unlink",
    "www:his_link_form",
    "payments:pay_visit",
]


def test_a_rows_link_is_the_reversed_url() -> None:
    """url(name, a UUID) in a page is reverse(name, args=[it]) for every link of a row the portal draws."""
    import uuid

    from django.urls import reverse

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    page_url = jinja.context(request)["url"]
    for name in ID_LINKS:
        for _ in range(20):
            public_id = uuid.uuid4()
            assert page_url(name, public_id) == reverse(name, args=[public_id])
        assert page_url(name, str(public_id)) == reverse(name, args=[public_id])
    assert page_url("www:me") == reverse("www:me")


def test_the_chrome_reads_only_what_its_drawing_is_kept_by() -> None:
    """A drawing is shared by every page of one (language, site, signed-in state): a partial that read anything
    else of the page (the account's name, an unread count) would show one patient's data on another's page. So
    the partials may read only the drawing's key and its two slots, and of the user only whether they are signed
    in, of the request only its path (the slot)."""
    import re

    from jinja2 import meta

    env = engines["jinja2"].env
    kept = {"LANG", "site", "site_hotline", "user", "request", "csrf_input", "_", "gettext", "url", "static"}
    kept |= {"LANGUAGES"}
    for name in PARTIALS:
        source = env.loader.get_source(env, name)[0]
        assert meta.find_undeclared_variables(env.parse(source)) <= kept, name
        assert not list(meta.find_referenced_templates(env.parse(source))), name
        code = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
        assert set(re.findall(r"\buser\.(\w+)", code)) <= {"is_authenticated"}, name
        assert set(re.findall(r"\brequest\.(\w+)", code)) <= {"get_full_path"}, name
        assert "user[" not in code and "request[" not in code, name


def test_the_page_token_is_djangos_token_for_the_cookies_secret() -> None:
    """jinja.page_token masks the cookie's secret as get_token does: Django's own unmasking finds the secret, the
    cookie is marked for renewal, and the masks are fresh and cover the whole alphabet at every position."""
    from django.middleware.csrf import (
        CSRF_ALLOWED_CHARS,
        CSRF_SECRET_LENGTH,
        _get_new_csrf_string,
        _unmask_cipher_token,
    )

    secret = _get_new_csrf_string()
    request = RequestFactory().get("/")
    request.META["CSRF_COOKIE"] = secret
    tokens = [jinja.page_token(request) for _ in range(3000)]
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert all(len(t) == 2 * CSRF_SECRET_LENGTH and set(t) <= set(CSRF_ALLOWED_CHARS) for t in tokens)
    assert all(_unmask_cipher_token(t) == secret for t in tokens)
    assert len(set(tokens)) == len(tokens)
    for position in range(CSRF_SECRET_LENGTH):  # 62 characters each 1/62 likely: all seen in 3,000 masks
        assert {t[position] for t in tokens} == set(CSRF_ALLOWED_CHARS), position


def test_without_a_readable_cookie_the_page_token_is_get_tokens() -> None:
    from django.middleware.csrf import _unmask_cipher_token

    first_visit = RequestFactory().get("/")
    token = jinja.page_token(first_visit)
    assert _unmask_cipher_token(token) == first_visit.META["CSRF_COOKIE"]  # a new cookie, as get_token sets


@pytest.mark.django_db
def test_the_headers_form_posts_with_the_pages_token() -> None:
    """The token the header's forms carry passes the CSRF check of a real POST (the language switch)."""
    import re

    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.get("/").status_code == 200
    refused = strict.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert refused.status_code == 403
    again = strict.get("/")  # the cookie is set now: the page's token is page_token's
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', again.content.decode()).group(1)
    accepted = strict.post("/i18n/setlang/", {"language": "en", "next": "/", "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
