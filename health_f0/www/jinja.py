"""The portal's Jinja2 templates (issue 11): the pages whose rows made Django's template engine most of their
cost (the patient's lists), their layout and the partials they share.

Templates live in health_f0/www/jinja2/ and are found by name as Django's are (`render(request, "www/x.html")`
looks in the Django engine first, then here). A Django template shows a Jinja2 partial with
`{% load jinja %}{% jinja "www/_header.html" %}`, so each piece of markup has one copy whichever engine draws
the page.

Conventions, so that `makemessages` (Django's templatize) finds every string, as it does in Django templates:
- a translated string is `{{ _("…") }}`, written first in its `{{ }}`, with no `|` inside the string;
- a string with values is `{{ _("… %(name)s …")|fmt(name=value) }}`: like `{% blocktranslate %}`, the
  translated text is the template's own markup and the values are escaped;
- a plural is chosen in Python (ngettext), never in a template;
- a literal `%` is written `%%` and the string goes through `|fmt()` (as makemessages stores a `%` of a
  Django template's `{% translate %}`): otherwise the lookup misses and the English page shows Vietnamese.
Dates go through `|date("d/m/Y")` with Django's format letters, in the active time zone, as Django's `date`
filter does.
"""

from __future__ import annotations

import html
import re
import secrets
import uuid
from collections import ChainMap
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token
from django.template import engines
from django.templatetags.static import static
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import dateformat, timezone
from django.utils.translation import get_language, gettext, pgettext
from jinja2 import Environment, Template, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from markupsafe import Markup, escape

from health_f0.core.memo import Memo
from health_f0.facilities.portal import SiteInfo

# reverse(name) of a URL name without arguments, by (name, script prefix, the request's urlconf, ROOT_URLCONF):
# about 30 µs a call, and a portal page asks for 6–15 of them (the header's and footer's links among them).
# Bounded by the URL names the templates use; a URL with arguments (a row's link) is always reversed.
_reversed: dict[tuple[str, str, Any, Any], str] = {}


def url(name: str, *args: Any, **kwargs: Any) -> str:
    """`{{ url("www:me") }}`, `{{ url("www:appt_detail", public_id=a.public_id) }}`."""
    if args or kwargs:
        return reverse(name, args=args or None, kwargs=kwargs or None)
    key = (name, get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF)
    found = _reversed.get(key)
    if found is None:
        found = _reversed[key] = reverse(name)
    return found


# The formats date_filter writes itself for an aware datetime (the others go through dateformat).
_CLOCK_FORMATS = frozenset({"H:i", "d/m/Y", "H:i d/m/Y"})


def date_filter(value: Any, fmt: str = "d/m/Y") -> str:
    """Django's `date` filter (and its `time` filter for a time of day): a datetime is shown in the current
    time zone; None and "" show nothing."""
    if (
        type(value) is date
    ):  # a day (not a datetime): the portal's two formats written as dateformat writes them
        if fmt == "d/m/Y":
            return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
        if fmt == "Y":
            return f"{value.year:04d}"
    if type(value) is datetime and fmt in _CLOCK_FORMATS and value.utcoffset() is not None:
        # An aware datetime (every stored time) in the portal's formats: localtime's fields, written as dateformat
        # writes "d", "m", "Y" ("%02d", "%02d", "%04d"), "H" and "i" ("%02d"): 3 calls where localtime and
        # dateformat.format took about 40 (/ca-nhan draws three; tests/www/test_jinja.py compares both).
        at = value.astimezone(timezone.get_current_timezone())
        if fmt == "H:i":
            return f"{at.hour:02d}:{at.minute:02d}"
        if fmt == "d/m/Y":
            return f"{at.day:02d}/{at.month:02d}/{at.year:04d}"
        return f"{at.hour:02d}:{at.minute:02d} {at.day:02d}/{at.month:02d}/{at.year:04d}"
    if type(value) is time and fmt == "H:i":  # time_format's "H" and "i" ("%02d" each)
        return f"{value.hour:02d}:{value.minute:02d}"
    if value in (None, ""):
        return ""
    if isinstance(value, time):
        return dateformat.time_format(value, fmt)
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
    elif not isinstance(value, date):
        return ""
    return dateformat.format(value, fmt)


# markupsafe.escape's replacements (& < > ' " as &amp; &lt; &gt; &#39; &#34;) as one str.translate table, for the
# Python writers of rows and charts: `str(value).translate(ESCAPES)` is the text of escape(value) for any value
# without __html__ (what those writers escape: text and numbers from the rows), in one or two calls where escape
# costs five, and gives no Markup to wrap and unwrap (tests/www/test_portal_render.py compares both).
ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&#39;", '"': "&#34;"})


class Translated(Markup):
    """Text from the catalogue (`_()` in a template). Like a string written in a Django template, it is the
    template's own markup and is not escaped; it is the only text `|fmt` fills in."""

    __slots__ = ()


# (language, msgid) -> its translation: a page asks for the same few hundred strings on every request, and
# Django's gettext with the Markup wrapping costs about 6 µs a call (70 calls on /lich-su). Bounded by the
# templates' strings times the languages; the catalogues do not change while a process runs.
_translated: dict[tuple[str | None, str], Translated] = {}


def translate(message: str) -> Translated:
    key = (get_language(), message)
    found = _translated.get(key)
    if found is None:
        found = _translated[key] = Translated(gettext(message))
    return found


# gettext's answers by (language, msgid), as plain text, for the portal's Python writers (monitoring_views,
# charts): a page asks for the same dozen strings on every request, gettext costs about 30 Python calls each. Only
# for literal msgids (the call sites' `_("…")`, which makemessages finds): bounded by them times the languages.
_kept_texts: Memo[tuple[str | None, str], str] = Memo(4096)


def kept_gettext(message: str) -> str:
    """gettext(message), looked up once per language (a literal msgid only)."""
    key = (get_language(), message)
    text = _kept_texts.get(key)
    if text is None:
        text = _kept_texts.keep(key, gettext(message))
    return text


# A model's choices' labels in each language ({value: label}, plain text): what get_FOO_display() answers for a
# value among them (it answers the value itself for any other), without its make_hashable and lazy text per call.
_choice_labels: Memo[tuple[Any, str | None], dict[Any, str]] = Memo(256)


def choice_labels(choices: Any) -> dict[Any, str]:
    """{value: label} of a Django Choices class in the active language."""
    key = (choices, get_language())
    labels = _choice_labels.get(key)
    if labels is None:
        labels = _choice_labels.keep(key, {value: str(label) for value, label in choices.choices})
    return labels


# `_` of a page rendered for a request (`context` below): `translate` for the page's language, looked up once
# per page instead of at each of its 20–60 strings (get_language is about 3 µs).
_translators: dict[str | None, Callable[[str], Translated]] = {}


def translator(language: str | None) -> Callable[[str], Translated]:
    found = _translators.get(language)
    if found is None:

        def translate_in(message: str) -> Translated:
            text = _translated.get((language, message))
            return translate(message) if text is None else text  # a miss: in the active language, the page's

        found = _translators[language] = translate_in
    return found


def fmt(text: Translated, /, **values: Any) -> Markup:
    """`{{ _("Sinh năm %(year)s")|fmt(year=y) }}`: the translated text with each value escaped (what
    `{% blocktranslate %}` does). Only a catalogue string is accepted: a value from the page's data is never
    treated as markup."""
    if not isinstance(text, Translated):
        raise TypeError('|fmt takes a string translated in the template: _("…")|fmt(…)')
    plain = _plain_fills.get(text)
    if plain is None:
        plain = _plain_fills.keep(text, _only_named_strings(text))
    if not plain:
        return Markup.__mod__(text, {key: escape(value) for key, value in values.items()})
    # Markup.__mod__ wraps the mapping and each value in a helper that escapes it again when it is written (about
    # 36 calls a string, /ca-nhan has four): with only "%(name)s" fills, the text of each escaped value is what it
    # writes (escape() of markup is itself), so str's own `%` of those texts is the same text.
    filled = str.__mod__(
        text,
        {
            key: value.translate(ESCAPES) if type(value) is str else str(escape(value))
            for key, value in values.items()
        },
    )
    return type(text)(filled)


# Whether a catalogue text's only conversions are "%(name)s" (and "%%"), by text: fmt's short way (the catalogue's
# strings times the languages; bounded).
_plain_fills: Memo[str, bool] = Memo(4096)
_CONVERSION = re.compile(r"%(?:%|\([^)]*\)s|.)", re.DOTALL)


def _only_named_strings(text: str) -> bool:
    return all(
        match == "%%" or (match.startswith("%(") and match.endswith("s"))
        for match in _CONVERSION.findall(text)
    )


def django_escaped(value: Any) -> Markup:
    """`{{ value|dj }}`: the value as a Django template writes it (conditional_escape: html.escape's `&#x27;` and
    `&quot;` for quotes, where Jinja2 writes `&#39;` and `&#34;`), for a page moved from Django's engine whose
    bytes must not change (www/his_print.html)."""
    if hasattr(value, "__html__"):
        return Markup(value.__html__())  # noqa: S704 - already markup, as conditional_escape keeps it
    return Markup(html.escape(str(value)))  # noqa: S704 - escaped


def django_partial(name: str, **values: Any) -> Markup:
    """`{{ django_partial("www/_field.html", field=form.x) }}`: a Django partial drawn inside a Jinja2 page
    (the form partials stay Django templates, one copy shared with the Django form pages; the reverse of
    `{% jinja %}`)."""
    return Markup(engines["django"].get_template(name).render(values))  # noqa: S704 - Django autoescapes


# `url` of a page rendered for a request (`context` below): `url` with the request's script prefix and urlconf
# looked up once per page, not at each link (two context-local reads, about 8 µs a link).
_urls: dict[tuple[str, Any, Any], Callable[..., str]] = {}


# A row's link (`url("www:appointment", a.public_id)`): the URL of a name whose one argument is a UUID, as
# the text around a reversed sample id. A <uuid:...> path converter writes str(value), which quoting leaves
# as it is, so any id gives the same text around it (tests/www/test_portal_chrome.py checks each such link
# of the portal's pages against reverse()).
_SAMPLE_ID = uuid.UUID("5ec7e1d0-0000-4000-8000-00000000c0de")


def _around_id(name: str) -> tuple[str, str] | None:
    """The reversed URL of `name` for _SAMPLE_ID, split around it; None when it does not show the id once."""
    try:
        text = reverse(name, args=[_SAMPLE_ID])
    except NoReverseMatch:
        return None
    if text.count(str(_SAMPLE_ID)) != 1:
        return None
    head, _, tail = text.partition(str(_SAMPLE_ID))
    return head, tail


def urls_for(prefix: str, urlconf: Any, root: Any) -> Callable[..., str]:
    key = (prefix, urlconf, root)
    found = _urls.get(key)
    if found is None:
        table: dict[str, str] = {}
        around: dict[str, tuple[str, str] | None] = {}

        def url_in(name: str, *args: Any, **kwargs: Any) -> str:
            if args or kwargs:
                if len(args) == 1 and not kwargs and type(args[0]) is uuid.UUID:
                    if name not in around:
                        around[name] = _around_id(name)
                    parts = around[name]
                    if parts is not None:
                        return f"{parts[0]}{args[0]}{parts[1]}"
                return reverse(name, args=args or None, kwargs=kwargs or None)
            text = table.get(name)
            if text is None:
                text = table[name] = url(name)  # under the page's prefix and urlconf, the key's
            return text

        found = _urls[key] = url_in
    return found


_CSRF_BASE = len(CSRF_ALLOWED_CHARS)
_CSRF_INDEX = {char: i for i, char in enumerate(CSRF_ALLOWED_CHARS)}
_CSRF_MASKS = _CSRF_BASE**CSRF_SECRET_LENGTH  # every mask of CSRF_SECRET_LENGTH characters
# The place values of the mask's base-62 digits: digit i of a number is number // 62**i % 62 (operators, where a
# loop of divmod and appends made three calls a character, a hundred a page).
_CSRF_PLACES = tuple(_CSRF_BASE**i for i in range(CSRF_SECRET_LENGTH))


def page_token(request: HttpRequest) -> str:
    """django.middleware.csrf.get_token(request) for a request whose CSRF cookie the middleware accepted: the
    cookie's secret under a new random mask, the cookie marked for renewal. Django draws the mask's 32
    characters one `secrets.choice` at a time (about 0.1 ms, a tenth of a signed-in page's floor); this draws
    one number below 62**32 from the same `secrets` source and writes it in base 62: the same uniform mask, the
    same cipher (tests/www/test_portal_chrome.py unmasks it with Django's own function). Without such a cookie
    (a first visit), or with a secret it cannot read, get_token itself answers."""
    meta = request.META
    secret = meta.get("CSRF_COOKIE")
    if not isinstance(secret, str) or len(secret) != CSRF_SECRET_LENGTH:
        return get_token(request)
    chars, index, base = CSRF_ALLOWED_CHARS, _CSRF_INDEX, _CSRF_BASE
    draw = secrets.randbelow(_CSRF_MASKS)
    shifts = [draw // place % base for place in _CSRF_PLACES]  # its base-62 digits, the lowest first
    try:
        cipher = [chars[(index[char] + shift) % base] for char, shift in zip(secret, shifts, strict=True)]
    except KeyError:
        return get_token(request)
    meta["CSRF_COOKIE_NEEDS_UPDATE"] = True  # what get_token does with the cookie it uses
    return "".join([chars[shift] for shift in shifts]) + "".join(cipher)


class CsrfInput:
    """`{{ csrf_input }}`: the form's hidden CSRF field, as Django's Jinja2 backend writes it, with one token
    for the whole page, as Django's `csrf` context processor gives its templates (the backend's own
    `csrf_input` masks a new token at each form). Asked for on first use only: a page without a form does not
    set the CSRF cookie."""

    __slots__ = ("_html", "_request")

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._html: str | None = None

    def __html__(self) -> str:
        if self._html is None:
            # format_html's markup (the token escaped), written out: it cost a dozen calls a page.
            token = escape(page_token(self._request))
            self._html = f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        return self._html

    __str__ = __html__


def context(request: HttpRequest) -> dict[str, Any]:
    """What every portal template may use besides its view's context (Django's `auth` and `i18n` context
    processors, for the Jinja2 engine); `_` in the page's language and the page's CSRF field."""
    user = getattr(request, "user", None)
    if user is None:
        from django.contrib.auth.models import AnonymousUser

        user = AnonymousUser()
    language = get_language()
    found = translator(language)
    return {
        "user": user,
        "LANG": language,
        "_": found,
        "gettext": found,
        "url": urls_for(get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF),
        "csrf_input": CsrfInput(request),
    }


# --- The layout's chrome: the head, header and footer (layout.html) -------------------------------------------
#
# They depend on the page's language, the site (facilities.portal.site_info), whether someone is signed in, and
# in the header on the request's CSRF field and full path. Each is drawn once per (language, site, signed in)
# with a slot for those two, and the slots are filled per page: the same HTML as `{% include %}` drew, for
# about a tenth of its cost (tests/www/test_portal_chrome.py compares both). The partials read nothing else
# (see the comment at the top of _header.html); a page without the site in its context draws them in full.
CSRF_SLOT = "\x00csrf\x00"
PATH_SLOT = "\x00path\x00"
_SLOTS = (CSRF_SLOT, PATH_SLOT)
_CHROME_LIMIT = 64  # keys: languages x signed in x partials x the site's versions seen by this process


class _SlotRequest:
    """The request as the chrome reads it: its full path, as a slot."""

    __slots__ = ()

    def get_full_path(self) -> str:
        return PATH_SLOT


class _SignedIn:
    __slots__ = ("is_authenticated",)

    def __init__(self, is_authenticated: bool) -> None:
        self.is_authenticated = is_authenticated


_chrome: Memo[tuple[Any, ...], tuple[str, ...]] = Memo(_CHROME_LIMIT)


@receiver(setting_changed, dispatch_uid="health_f0.www.jinja.chrome")
def _forget_chrome(**kwargs: Any) -> None:
    """The portal's title, languages, static files or URLs may have changed (tests)."""
    _chrome.clear()
    _urls.clear()


def _chrome_parts(context: Context, name: str, key: tuple[Any, ...]) -> tuple[str, ...]:
    parts = _chrome.get(key)
    if parts is None:
        language = context.get("LANG")
        found = translator(language)
        values = {
            "LANG": language,
            "_": found,
            "gettext": found,
            "site": context.get("site"),
            "site_hotline": context.get("site_hotline"),
            "user": _SignedIn(key[-1]),
            "csrf_input": Markup(CSRF_SLOT),  # noqa: S704 - a slot, filled with the page's CSRF field
            "request": _SlotRequest(),
        }
        html = context.environment.get_template(name).render(values)
        pieces: list[str] = [html]
        for slot in _SLOTS:
            pieces = [p for piece in pieces for p in _split_keep(piece, slot)]
        parts = tuple(pieces)
        _chrome.keep(key, parts)
    return parts


def _split_keep(text: str, slot: str) -> list[str]:
    if text in _SLOTS:
        return [text]
    pieces = text.split(slot)
    out = [pieces[0]]
    for piece in pieces[1:]:
        out += [slot, piece]
    return out


# What the three partials of one page share (the key's parts but the partial's name, and the page's two slots),
# worked out at the first of them and kept on the page's Jinja2 context (that page's only): empty when the page
# draws them in full.
_PAGE_CHROME = "_hf0_chrome"


def _page_chrome(context: Context) -> tuple[Any, ...]:
    site = context.get("site")
    user = context.get("user")
    if not isinstance(site, SiteInfo) or user is None:
        return ()
    return (
        context.get("LANG"),
        # The site by its fields (what SiteInfo's equality compares), without its Python __eq__ and __hash__.
        (site.authority, site.hotline, site.province_code),
        context.get("site_hotline"),
        context.get("url"),  # urls_for's: one per script prefix and urlconf
        bool(user.is_authenticated),
    )


@pass_context
def chrome(context: Context, name: str) -> Markup:
    """`{{ chrome("www/_header.html") }}`: what `{% include "www/_header.html" %}` draws on this page."""
    page = context.__dict__.get(_PAGE_CHROME)
    if page is None:
        page = context.__dict__[_PAGE_CHROME] = _page_chrome(context)
    if not page:
        return Markup(context.environment.get_template(name).render(context.get_all()))  # noqa: S704
    env = context.environment
    # A template changed on disk (auto_reload: DEBUG) is another template; otherwise the name is the template.
    key = (name, env.get_template(name) if env.auto_reload else None, *page)
    parts = _chrome.get(key)
    if parts is None:
        parts = _chrome_parts(context, name, key)
    out = []
    for part in parts:
        if part == CSRF_SLOT:
            out.append(context["csrf_input"].__html__())
        elif part == PATH_SLOT:
            out.append(escape(context["request"].get_full_path()))
        else:
            out.append(part)
    return Markup("".join(out))  # noqa: S704 - drawn by the template, the path escaped


# --- One `yield` per run of output ----------------------------------------------------------------------------
#
# Jinja2 compiles a template into generators that yield each piece of text and each `{{ value }}` on its own, and
# every piece then passes up through each generator above it (the page's, the layout's, an include's): a page's
# content sits three or four generators deep, so each piece cost three or four generator steps. This generator
# writes a run of text and values between two tags (an Output node of three or more pieces) as the buffered form
# Jinja2 itself writes inside a macro or a `{% filter %}` (the pieces evaluated in order into a list), then yields
# their concatenation once: the same text, in fewer steps.
_RUN = "_hf0_run"


# The portal's `_("…")`, `gettext("…")` and `url("www:…")` (a literal text each: a catalogue string, a URL name)
# are plain functions (translate, translator's, url, urls_for's: none takes the context), so they are called
# directly, not through Jinja2's Context.call, which looks for a context argument to pass on every call (ten calls
# for each of a page's 20-60 strings). tests/www/test_portal_render.py checks they stay plain functions.
DIRECT_CALLS = frozenset({"_", "gettext", "url"})
# What a translated string (`_`, `gettext`) or `|fmt` writes is markup already (Translated, Markup): escape() of it
# is itself, at the cost of six calls (its __html__ and Markup's constructor, twice). Such a value is written as it
# is when its type is exactly one of PortalEnvironment.marked; anything else goes through escape() as before (the
# test is type(), not __class__, which a lazy proxy may report for what it wraps).
MARKED_CALLS = frozenset({"_", "gettext"})
_VALUE = "_hf0_value"
_TEXT = "_hf0_text"


def _direct_call(node: nodes.Node) -> bool:
    return (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name in DIRECT_CALLS
        and bool(node.args)
        and all(isinstance(arg, nodes.Const) and isinstance(arg.value, str) for arg in node.args)
        and not (node.kwargs or node.dyn_args or node.dyn_kwargs)
    )


def _chrome_call(node: nodes.Node) -> bool:
    """`chrome("www/_header.html")`: the layout's three calls of `chrome`, a literal name each."""
    return (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "chrome"
        and len(node.args) == 1
        and isinstance(node.args[0], nodes.Const)
        and isinstance(node.args[0].value, str)
        and not (node.kwargs or node.dyn_args or node.dyn_kwargs)
    )


class RunCodeGenerator(CodeGenerator):
    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        plain = not forward_caller and not (self.environment.is_async or self.environment.sandboxed)
        if plain and _chrome_call(node):
            # The portal's `chrome` (a pass_context function) called with the context as Context.call would pass
            # it, without Context.call's look-up of what the function takes (about ten calls, three times a page);
            # any other `chrome` (a page's own value of that name) goes through Context.call as before.
            self.write("(")
            self.visit(node.node, frame)
            self.write("(context, ")
            self.visit(node.args[0], frame)
            self.write(") if ")
            self.visit(node.node, frame)
            self.write(" is environment.portal_chrome else context.call(")
            self.visit(node.node, frame)
            self.write(", ")
            self.visit(node.args[0], frame)
            self.write("))")
            return
        if plain and _direct_call(node):
            self.visit(node.node, frame)
            self.write("(")
            for index, arg in enumerate(node.args):
                if index:
                    self.write(", ")
                self.visit(arg, frame)
            self.write(")")
            return
        super().visit_Call(node, frame, forward_caller=forward_caller)

    def _marked(self, node: nodes.Expr, frame: Frame, finalize: CodeGenerator._FinalizeInfo) -> bool:
        """Whether this output's value is a translation or `|fmt`'s: markup, written without escape()."""
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape or finalize.src is not None:
            return False
        if self.environment.is_async or self.environment.sandboxed:
            return False
        if isinstance(node, nodes.Filter):
            return node.name == "fmt"
        if _chrome_call(node):
            return True  # chrome() answers Markup (any other `chrome` is still checked by type)
        return _direct_call(node) and node.node.name in MARKED_CALLS  # type: ignore[attr-defined]

    def _escaped(self, frame: Frame, finalize: CodeGenerator._FinalizeInfo) -> bool:
        """Whether this output's value is escaped (autoescape on, no finalize): written by _output_child_pre's
        text escape."""
        return (
            not frame.eval_ctx.volatile
            and frame.eval_ctx.autoescape
            and finalize.src is None
            and not (self.environment.is_async or self.environment.sandboxed)
        )

    def _output_child_pre(
        self, node: nodes.Expr, frame: Frame, finalize: CodeGenerator._FinalizeInfo
    ) -> None:
        if self._marked(node, frame, finalize):
            self.write(f"({_VALUE} if type({_VALUE} := ")
            return
        if self._escaped(frame, finalize):
            # A value that is exactly a str (a name, an id, a number's text: most of a page's values) is escaped
            # by one str.translate (ESCAPES: escape()'s text of it), written as text where escape() made a Markup
            # (five calls: escape, its hasattr and str, _escape_inner, Markup's constructor); anything else
            # (markup, numbers, lazy text, objects with __html__) goes through escape() as before. The output is
            # joined into the page's text either way (environment.concat), so the same text.
            self.write(f"({_TEXT}.translate(environment.escapes) if type({_TEXT} := ")
            return
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(
        self, node: nodes.Expr, frame: Frame, finalize: CodeGenerator._FinalizeInfo
    ) -> None:
        if self._marked(node, frame, finalize):
            self.write(f") in environment.marked else escape({_VALUE}))")
            return
        if self._escaped(frame, finalize):
            self.write(f") is str else escape({_TEXT}))")
            return
        super()._output_child_post(node, frame, finalize)

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        if frame.buffer is not None or frame.require_output_check or len(node.nodes) < 3:
            super().visit_Output(node, frame)
            return
        self.writeline(f"{_RUN} = []")
        frame.buffer = _RUN
        try:
            super().visit_Output(node, frame)
        finally:
            frame.buffer = None
        self.writeline(f"yield environment.concat({_RUN})")


class PortalTemplate(Template):
    def new_context(
        self,
        vars: dict[str, Any] | None = None,  # noqa: A002 - Template.new_context's names
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,  # noqa: A002
    ) -> Context:
        """Template.new_context: a page's context is its globals (a ChainMap of the template's over the
        environment's) with its values over them. Jinja2 copies the ChainMap with dict(), a Python call for each
        global and two more (about 30 calls a page); here each of its maps is copied in, the environment's
        first, so the same keys with the same values (the first map holding a key wins, as in the ChainMap)."""
        found = self.globals
        if shared or locals or type(found) is not ChainMap:
            return super().new_context(vars, shared, locals)
        parent: dict[str, Any] = {}
        for mapping in reversed(found.maps):
            parent.update(mapping)
        if vars:
            parent.update(vars)
        return self.environment.context_class(self.environment, parent, self.name, self.blocks, globals=found)


class PortalEnvironment(Environment):
    code_generator_class = RunCodeGenerator
    template_class = PortalTemplate
    # The types whose escape() is themselves (RunCodeGenerator._marked): exactly these, no subclass.
    marked = (Markup, Translated)
    # escape()'s replacements, for a value that is exactly a str (RunCodeGenerator._output_child_pre).
    escapes = ESCAPES

    @property
    def portal_chrome(self) -> Callable[..., Markup]:
        """The `chrome` the layout calls directly (RunCodeGenerator.visit_Call): this module's."""
        return chrome


def environment(**options: Any) -> Environment:
    # Django's backend turns autoescaping on already; it is not an option here.
    options.pop("autoescape", None)
    env = PortalEnvironment(autoescape=True, **options)
    env.globals.update(
        _=translate,
        gettext=translate,
        pgettext=pgettext,
        url=url,
        django_partial=django_partial,
        chrome=chrome,
        static=static,
        LANGUAGES=settings.LANGUAGES,
    )
    env.filters.update(date=date_filter, fmt=fmt, dj=django_escaped)
    return env
