"""The portal's page drawing (issue 11): the same HTML in fewer steps.

- www.views.render finds a page's template in the engine that holds it (a memo of template names) and draws it as
  django.shortcuts.render does;
- the Jinja2 engine's code generator (www.jinja.RunCodeGenerator) yields a run of text and values once, as their
  concatenation: the same text as Jinja2's own generator;
- the hotline texts are kept by number (public bodies' numbers) and are display_hotline's.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.shortcuts import render as django_render
from django.template import engines
from django.test import RequestFactory
from jinja2 import DictLoader, Environment

from health_f0.www import jinja, selectors, views

SOURCES = {
    "base.html": (
        "<html>{% block title %}T {{ a }}{% endblock %}|{{ a }} and {{ b|e }} <{{ c }}>"
        "{% block body %}{% endblock %}</html>"
    ),
    "part.html": (
        "<i>{{ a }}-{{ b }}-{{ x }}</i>{% if a %} yes {{ a }}!{% endif %}"
        '<a href="{{ url("www:me") }}">{{ _("Xin chào <b>") }}</a>{{ gettext("a", "b") }}{{ _(a) }}'
    ),
    "page.html": (
        '{% extends "base.html" %}{% block body %}<p>{{ a }} {{ b }} {{ c }}</p>'
        "{% for x in items %}<li>{{ loop.index }}: {{ x }} / {{ a }}</li>{% include 'part.html' %}{% endfor %}"
        "{% macro m(v) %}<m>{{ v }} {{ a }} {{ v }}</m>{% endmacro %}{{ m(1) }} {{ m(b) }} {{ m(c) }}"
        "{% macro w() %}<w>{{ caller() }} {{ a }} {{ b }}</w>{% endmacro %}"
        "{% set kept %}<s>{{ a }}{{ b }}{{ c }}</s>{% endset %}{{ kept }}{{ kept }}{{ kept }}"
        "{% filter upper %}{{ a }} {{ b }} {{ c }}{% endfilter %}"
        "{% call w() %}inner {{ a }}{% endcall %}{{ super_missing is defined }} {{ a }} {{ a }}"
        "{% endblock %}"
    ),
}
CONTEXT = {
    "a": "A&",
    "b": "<b>",
    "c": 3,
    "items": ["x<", "y", "z", 'it\'s "q" & <b>', 4, None],
    "_": lambda text: f"[{text}]",
    "gettext": lambda *texts: "|".join(texts),
    "url": lambda name: f"/{name}/",
}


def _steps(env: Environment, name: str) -> tuple[str, int]:
    template = env.get_template(name)
    pieces = list(template.root_render_func(template.new_context(dict(CONTEXT))))
    return "".join(pieces), len(pieces)


def test_a_run_is_one_yield_of_the_same_text() -> None:
    plain = Environment(loader=DictLoader(SOURCES), autoescape=True)
    runs = jinja.PortalEnvironment(loader=DictLoader(SOURCES), autoescape=True)
    for name in SOURCES:
        expected, plain_steps = _steps(plain, name)
        text, steps = _steps(runs, name)
        assert text == expected, name
        assert text == runs.get_template(name).render(CONTEXT)
        assert steps < plain_steps, name


def test_the_portals_engine_writes_runs_and_direct_calls() -> None:
    env = engines["jinja2"].env
    assert isinstance(env, jinja.PortalEnvironment)
    source = env.loader.get_source(env, "www/history.html")[0]
    code = env.compile(source, raw=True)
    assert f"yield environment.concat({jinja._RUN})" in code
    assert "context.call(" not in code and "l_0__)('Lịch sử khai báo')" in code
    assert f"{jinja._TEXT}.translate(environment.escapes)" in code  # the page's values, escaped as text
    layout = env.compile(env.loader.get_source(env, "www/layout.html")[0], raw=True)
    assert "(context, 'www/_header.html') if " in layout and env.portal_chrome is jinja.chrome


def test_a_chrome_of_the_pages_own_is_called_as_jinja2_calls_it() -> None:
    """Only the portal's `chrome` is called with the context directly; a page's own value of that name is called
    through Context.call (and its text escaped) as Jinja2 does."""
    env = jinja.PortalEnvironment(
        loader=DictLoader({"p.html": '{{ chrome("x") }}|{{ chrome("<y>") }}'}), autoescape=True
    )
    assert env.get_template("p.html").render(chrome=lambda name: f"<{name}>") == "&lt;x&gt;|&lt;&lt;y&gt;&gt;"


def test_the_directly_called_functions_take_no_context() -> None:
    """`_`, `gettext` and `url` are called without Context.call: none of the portal's may want the context."""
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    env = engines["jinja2"].env
    for found in (env.globals, jinja.context(request)):
        for name in jinja.DIRECT_CALLS:
            assert callable(found[name]) and not hasattr(found[name], "jinja_pass_arg"), name


CSRF = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]+(")')


def _unmasked(content: bytes) -> bytes:
    """The page without its CSRF token (a new mask at each drawing)."""
    return CSRF.sub(rb"\1\2", content)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["www/layout.html", "www/home.html", "404.html"])
def test_render_draws_what_djangos_render_draws(name: str, demo: Any) -> None:
    """A Jinja2 page, a Django page, and the memo's second look-up of each."""
    from django.contrib.auth.models import AnonymousUser

    views._page_engines.clear()
    request = RequestFactory().get("/x?y=1")
    request.user = AnonymousUser()
    context = selectors.portal_page_context()
    expected = django_render(request, name, dict(context), status=203)
    for _ in range(2):
        page = views.render(request, name, dict(context), status=203)
        assert page.status_code == 203 and page["Content-Type"] == expected["Content-Type"]
        assert _unmasked(page.content) == _unmasked(expected.content)
    assert set(views._page_engines) == {name}
    held_by = views._page_engines[name]
    assert held_by is (engines["jinja2"] if name == "www/layout.html" else engines["django"])


@pytest.mark.django_db
def test_a_template_gone_from_its_engine_is_looked_up_again(demo: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    views._page_engines.clear()
    views._page_engines.keep("www/layout.html", engines["django"])  # as if it had moved
    page = views.render(request, "www/layout.html", selectors.portal_page_context())
    assert page.status_code == 200 and views._page_engines["www/layout.html"] is engines["jinja2"]


@pytest.mark.parametrize(
    "number",
    ["0225 3842 123", "+84912345678", "84912345678", "0912345678", "19009095", "", "02203891001", "abc"],
)
def test_the_kept_hotline_is_display_hotlines(number: str) -> None:
    selectors._hotlines.clear()
    expected = selectors._display_hotline(number)
    assert selectors.display_hotline(number) == expected
    assert selectors.display_hotline(number) == expected  # kept


def test_the_hotline_context_is_a_fresh_copy() -> None:
    class Facility:
        hotline = "0220 389 1001"

    first = views.hotline_context(Facility())
    first["facility_hotline"] = "changed"
    again = views.hotline_context(Facility())
    assert again == {
        "facility_hotline": "0220 389 1001",
        "facility_hotline_tel": "02203891001",
        "facility_hotline_nowrap": "0220\u00a0389\u00a01001",
    }


def test_loaded_user_is_the_object_the_proxies_hand_out() -> None:
    from django.contrib.auth.models import User
    from django.utils.functional import SimpleLazyObject

    user = User(username="bn1")
    request = RequestFactory().get("/")
    request.user = SimpleLazyObject(lambda: SimpleLazyObject(lambda: user))  # auth's, then django_otp's
    assert views.loaded_user(request) is user and request.user is user
    assert views.loaded_user(request) is user  # already loaded


@pytest.mark.django_db
def test_a_signed_in_page_acts_with_the_loaded_user(demo: Any, client: Any, monkeypatch: Any) -> None:
    from django.contrib.auth import get_user_model

    account = get_user_model().objects.get(username="bn0000001")
    seen: list[Any] = []
    plain = selectors.patient_choice
    monkeypatch.setattr(selectors, "patient_choice", lambda **kw: seen.append(kw["user"]) or plain(**kw))
    client.force_login(account)
    assert client.get("/ca-nhan").status_code == 200
    assert type(seen[0]) is get_user_model() and seen[0].pk == account.pk


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_kept_labels_are_the_models_displays(language: str) -> None:
    """/ca-nhan's last level and /lien-ket-ho-so's identifier type, by choice_labels: what get_FOO_display() said."""
    from django.utils import translation

    from health_f0.his.models import HisLinkRequest, IdentifierType
    from health_f0.monitoring.models import AlertLevel, Declaration

    with translation.override(language):
        for level in [*AlertLevel.values, "other"]:
            shown = jinja.choice_labels(AlertLevel).get(level, level)
            assert shown == Declaration(alert_level=level).get_alert_level_display()
        for kind in [*IdentifierType.values, "other"]:
            shown = jinja.choice_labels(IdentifierType).get(kind, kind)
            assert shown == HisLinkRequest(identifier_type=kind).get_identifier_type_display()


@pytest.mark.parametrize("value", ["a&b<c>d'e\"f&amp;", "", "24/11 07:05: 36,8 °C", 97, None, 3.5, ["x<'"]])
def test_the_escapes_table_is_markupsafes_escape(value: Any) -> None:
    from markupsafe import escape

    assert str(value).translate(jinja.ESCAPES) == str(escape(value))


def test_a_pages_context_holds_what_jinja2s_holds() -> None:
    """PortalTemplate.new_context: the environment's globals, the template's over them, the values over both."""
    from jinja2 import Template

    env = jinja.PortalEnvironment(loader=DictLoader(SOURCES), autoescape=True)
    env.globals.update(g1="env", g2="env", g3="env")
    template = env.get_template("page.html")
    template.globals.update(g2="template", g4="template")
    assert isinstance(template, jinja.PortalTemplate)
    for values in ({}, {"g3": "value", "a": 1}, None):
        ours = template.new_context(None if values is None else dict(values))
        theirs = Template.new_context(template, None if values is None else dict(values))
        assert ours.parent == theirs.parent and list(ours.parent) == list(theirs.parent)
        assert ours.get_all() == theirs.get_all() and ours.globals_keys == theirs.globals_keys
    shared = template.new_context({"x": 1}, shared=True, locals={"y": 2})
    assert shared.parent == {"x": 1, "y": 2}
