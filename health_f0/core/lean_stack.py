"""The browser-session middleware, skipped by bearer-token API requests (issue 11).

A request under /api/ that carries `Authorization: Bearer ...` and no session cookie is the mobile app (or a
station's system) calling with a token: it has no session to load, time or save, no CSRF cookie to check (DRF
checks CSRF only for SessionAuthentication, which such a request never reaches), no flash messages and no
two-factor session step. Django's AuthenticationMiddleware would give it an AnonymousUser that DRF replaces by
the token's user. Each middleware of settings.MIDDLEWARE that serves only browser sessions is taken in its
"web only" variant below: the same class, whose `__call__` (and `process_view`) hands a token API request
straight to the next one. settings.MIDDLEWARE stays one list, in the same order, and the test client
exercises the same stack as gunicorn.

What still applies to every request, token or not (left as they are in settings.MIDDLEWARE): the security
headers (SecurityMiddleware, `Cache-Control: no-store`, Permissions-Policy, CSP, X-Frame-Options), the
locale from Accept-Language, CommonMiddleware, the client address for the audit trail
(ForcePasswordChangeMiddleware; the API enforces `must_change_password` itself in api.permissions), the
portal's consent gate (which lets /api/ through: the API answers 403 `consent_required` itself), axes'
lockout response and the database-unavailable 503. The one header SessionMiddleware would have added to
every API answer, `Vary: Cookie`, is added for token requests too (vary_on_cookie), so an answer's headers do
not depend on the stack that gave it (tests/api/test_lean_stack.py compares both stacks).

A request with the session cookie (the portal's own scripts calling /api/ with SessionAuthentication) keeps
the whole stack, whatever else it carries.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from types import MethodType
from typing import Any

from django.conf import settings
from django.core import checks, signals
from django.core.cache import caches, close_caches
from django.core.cache.backends.base import BaseCache
from django.core.handlers import wsgi as django_wsgi
from django.core.handlers.base import reset_urlconf
from django.db import close_old_connections, connections, reset_queries
from django.dispatch import Signal
from django.dispatch.dispatcher import NONE_ID
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix, set_urlconf
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string

from health_f0.core.memo import Memo
from health_f0.core.security_headers import header_store, put_header

API_PREFIX = "/api/"
_FLAG = "_hf0_token_api"


def is_token_api_request(request: HttpRequest) -> bool:
    """An /api/ request with a bearer token and no session cookie (worked out once per request)."""
    flag = request.__dict__.get(_FLAG)
    if flag is None:
        meta = request.META
        flag = (
            request.path_info.startswith(API_PREFIX)
            and meta.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
            # A substring test on the raw header: any mention of the cookie's name keeps the whole stack.
            and settings.SESSION_COOKIE_NAME not in meta.get("HTTP_COOKIE", "")
        )
        request.__dict__[_FLAG] = flag
    return flag


# The Vary header patch_vary_headers(response, ("Cookie",)) writes, by the Vary header the response had (header
# names only, set by the code: nothing of a request's). Bounded, and long values are worked out each time.
_VARY_MEMO_SIZE = 64
_VARY_LIMIT = 200
_vary_with_cookie: Memo[str, str] = Memo(_VARY_MEMO_SIZE)


def vary_on_cookie(response: HttpResponseBase) -> HttpResponseBase:
    """What SessionMiddleware adds to every API answer (the session is always looked at by the session policy
    and the two-factor check): `Vary: ..., Cookie`. Kept for token requests too, so their headers stay the
    ones the whole stack gives (patch_vary_headers' answer kept per Vary header it was given)."""
    current = header_store(response).get("vary")
    if current is None:
        # patch_vary_headers on a response without Vary: the one name.
        header_store(response)["vary"] = ("Vary", "Cookie")
        return response
    if len(current[1]) > _VARY_LIMIT:
        patch_vary_headers(response, ("Cookie",))
        return response
    vary = _vary_with_cookie.get(current[1])
    if vary is None:
        patch_vary_headers(response, ("Cookie",))
        vary = _vary_with_cookie.keep(current[1], header_store(response)["vary"][1])
    else:
        put_header(response, "Vary", vary)
    return response


# A middleware class attribute: True when a token API request (is_token_api_request) passes through it untouched
# both ways, so the layer before it may hand such a request straight to the first layer after it (token_next).
TOKEN_API_PASSTHROUGH = "token_api_passthrough"  # noqa: S105 - an attribute name


def token_next(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """`get_response` (the next layer, as Django wraps it: convert_exception_to_response's `inner`, whose
    `__wrapped__` is the middleware), or past it and the layers after it that a token API request passes through
    untouched: the first layer that does something for such a request (or the view's handler). A skipped layer's
    own exception wrapper is not run either: the layer it would have caught exceptions from is the next one kept,
    whose wrapper converts them the same way (response_for_exception). Worked out once per middleware instance:
    a web-only run of five layers (CSRF to the session policy) is one call for a token request, not fifteen."""
    while getattr(getattr(get_response, "__wrapped__", None), TOKEN_API_PASSTHROUGH, False) is True:
        get_response = get_response.__wrapped__.get_response  # type: ignore[attr-defined]
    return get_response


def web_only(
    middleware: type[Any], on_skip: Callable[[HttpResponseBase], HttpResponseBase] | None = None
) -> type[Any]:
    """`middleware`, skipped by token API requests (is_token_api_request): its `__call__` and, if it has
    one, its `process_view` pass such a request on untouched (then `on_skip` gets the response, if given), past
    the layers after it that pass it through too (token_next).
    A subclass, so Django's system checks that look for a middleware (admin: sessions, auth, messages)
    still find it. For the WSGI stack (gunicorn): under ASGI a token request's response is not passed to
    `on_skip`."""

    def __call__(self: Any, request: HttpRequest) -> Any:
        if is_token_api_request(request):
            following = self.__dict__.get("_token_next")
            if following is None:
                following = self._token_next = token_next(self.get_response)
            response = following(request)
            if on_skip is not None and isinstance(response, HttpResponseBase):
                return on_skip(response)
            return response
        return middleware.__call__(self, request)

    namespace: dict[str, Any] = {
        "__call__": __call__,
        "__doc__": f"{middleware.__module__}.{middleware.__qualname__}, for browser requests only "
        "(health_f0.core.lean_stack).",
        "__module__": __name__,
        "web_only": True,
        # Skipped outright (token_next) when it has nothing to do on the way back either.
        TOKEN_API_PASSTHROUGH: on_skip is None,
    }
    if hasattr(middleware, "process_view"):

        def process_view(self: Any, request: HttpRequest, *args: Any) -> Any:
            if is_token_api_request(request):
                return None
            return middleware.process_view(self, request, *args)

        namespace["process_view"] = process_view
    return type(middleware.__name__, (middleware,), namespace)


# The web-only variants settings.MIDDLEWARE names (`health_f0.core.lean_stack.<name>`), built from these
# middleware on first use. By dotted path: core does not import the apps' code.
WEB_ONLY: dict[str, str] = {
    # Django's, its answer to a request that left the session as it was in fewer calls (core/middleware.py).
    "SessionMiddleware": "health_f0.core.middleware.SessionMiddleware",
    # Django's, its renewed cookie written in fewer calls (core/middleware.py).
    "CsrfViewMiddleware": "health_f0.core.middleware.CsrfViewMiddleware",
    # Django's, with the session's user and its staff flag read in one statement (accounts/sql.py).
    "AuthenticationMiddleware": "health_f0.accounts.sql.AuthenticationMiddleware",
    # django_otp's, verifying the loaded user rather than its lazy proxy (core/middleware.py).
    "OTPMiddleware": "health_f0.core.middleware.OTPMiddleware",
    "MessageMiddleware": "health_f0.core.middleware.MessageMiddleware",
    "SessionPolicyMiddleware": "health_f0.accounts.session_policy.SessionPolicyMiddleware",
    "TwoFactorMiddleware": "health_f0.accounts.two_factor.TwoFactorMiddleware",
}
_ON_SKIP: dict[str, Callable[[HttpResponseBase], HttpResponseBase]] = {"SessionMiddleware": vary_on_cookie}
_built: dict[str, type[Any]] = {}


def __getattr__(name: str) -> type[Any]:
    if name not in WEB_ONLY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    built = _built.get(name)
    if built is None:
        built = _built[name] = web_only(import_string(WEB_ONLY[name]), _ON_SKIP.get(name))
    return built


CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"


@checks.register(checks.Tags.security, deploy=True)
def check_csrf_middleware(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Django's own `security.W003` looks for CsrfViewMiddleware by its dotted path, so it cannot see the
    web-only variant settings.MIDDLEWARE names; settings silence W003 and this check says the same when
    neither is in MIDDLEWARE. (Registered when the core app is ready: core/apps.py.)"""
    if CSRF_MIDDLEWARE in settings.MIDDLEWARE or f"{__name__}.CsrfViewMiddleware" in settings.MIDDLEWARE:
        return []
    return [
        checks.Warning(
            "Neither django.middleware.csrf.CsrfViewMiddleware nor its web-only variant "
            f"{__name__}.CsrfViewMiddleware is in MIDDLEWARE: forms and session API calls lose CSRF protection.",
            id="health_f0.W003",
        )
    ]


# --- The WSGI handler (health_f0.wsgi.application) -------------------------------------------------------------
#
# Django's WSGIHandler sends request_started before each request and the response's close() sends request_finished
# after its body has been sent. With Django's own receivers only (the project connects none), those two sends
# were about 137 Python calls a request (the dispatcher resolving its weak references, the database connections
# looked up three times through asgiref's Local, the caches once) for this work:
#   request_started:  reset_queries (each open database connection's query log emptied) and
#                     close_old_connections (each open connection closed if it is in error, left outside
#                     autocommit, or past CONN_MAX_AGE);
#   request_finished: close_old_connections, close_caches (each open cache's close()), reset_urlconf.
# The handler below runs the same receivers' work, in the order they are connected, without the dispatcher: the
# open connections looked up once for the two of request_started, close_caches left out while no configured
# backend has a close() of its own. Any receiver other than Django's on either signal (or one connected for a
# particular sender, asynchronous, or gone), and the signal is sent as Django sends it.


def _resolved(signal: Signal) -> list[Any] | None:
    """The functions connected to `signal`, in order, when each is synchronous, alive and for every sender."""
    functions = []
    for (_key, sender_key), receiver, is_async in signal.receivers:
        if sender_key != NONE_ID or is_async:
            return None
        function = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
        if function is None:
            return None
        functions.append(function)
    return functions


def _caches_close_nothing() -> bool:
    """Whether close_caches has nothing to do: every backend of settings.CACHES (as the cache handler read them)
    keeps BaseCache.close, which does nothing (Redis and local memory; memcached's backends have their own).
    Worked out once per CACHES setting (the handler's settings object)."""
    configured = caches.settings
    if _caches_checked[0] is not configured:
        _caches_checked[:] = [
            configured,
            all(import_string(params["BACKEND"]).close is BaseCache.close for params in configured.values()),
        ]
    return _caches_checked[1] is True


_caches_checked: list[Any] = [None, False]


def _reset_queries_and_close_old_connections() -> None:
    """reset_queries, then close_old_connections: the open connections looked up once for both."""
    opened = connections.all(initialized_only=True)
    for connection in opened:
        connection.queries_log.clear()
    for connection in opened:
        connection.close_if_unusable_or_obsolete()


def _close_caches() -> None:
    if not _caches_close_nothing():
        close_caches()


def _reset_urlconf() -> None:
    set_urlconf(None)


# Django's receivers of the two signals, by the work that stands for each (none takes an argument it reads).
_WORK: dict[Any, Callable[[], None]] = {
    reset_queries: reset_queries,
    close_old_connections: close_old_connections,
    close_caches: _close_caches,
    reset_urlconf: _reset_urlconf,
}


def _plan(functions: list[Any]) -> tuple[Callable[[], None], ...] | None:
    """What stands for `functions` (the receivers, in order), or None when one is not Django's."""
    plan: list[Callable[[], None]] = []
    for function in functions:
        work = _WORK.get(function)
        if work is None:
            return None
        if work is close_old_connections and plan and plan[-1] is reset_queries:
            plan[-1] = _reset_queries_and_close_old_connections
        else:
            plan.append(work)
    return tuple(plan)


class _DjangoReceivers:
    """`signal`, sent by running its receivers' work directly while they are all Django's (_plan). The receiver
    list the plan was made for is kept and compared on each send (a list comparison, no Python call); a change
    (connect, disconnect, a receiver gone) makes a new plan on the next send."""

    def __init__(self, signal: Signal) -> None:
        self.signal = signal
        # (the receiver list, its plan): one attribute, so that another thread reads both of the same list.
        self.state: tuple[list[Any] | None, tuple[Callable[[], None], ...]] = (None, ())

    def send(self, sender: Any, **named: Any) -> None:
        state = self.state
        receivers = self.signal.receivers
        if receivers != state[0]:
            functions = _resolved(self.signal)
            plan = None if functions is None else _plan(functions)
            if plan is None:
                self.signal.send(sender=sender, **named)
                return
            state = self.state = (list(receivers), plan)
        for work in state[1]:
            work()


request_started = _DjangoReceivers(signals.request_started)
request_finished = _DjangoReceivers(signals.request_finished)


def _close(response: HttpResponseBase) -> None:
    """HttpResponseBase.close (its resources' closers run, each one's exception ignored, then request_finished),
    request_finished sent by `request_finished` above."""
    response.__dict__.pop("close", None)  # the bound method that referred to the response
    closers = response._resource_closers  # type: ignore[attr-defined]
    for closer in closers:
        try:  # noqa: SIM105 - as Django's close (contextlib.suppress: two calls more a closer)
            closer()
        except Exception:  # noqa: S110 - a closer's error does not stop the others
            pass
    closers.clear()
    response.closed = True  # type: ignore[attr-defined]
    request_finished.send(sender=response._handler_class)  # type: ignore[attr-defined]


def _script_name(environ: dict[str, Any]) -> str:
    """django.core.handlers.wsgi.get_script_name(environ): without FORCE_SCRIPT_NAME and Apache's SCRIPT_URL or
    REDIRECT_URL (gunicorn sets neither), an ASCII SCRIPT_NAME is the answer as it is (its latin-1 bytes read as
    UTF-8 are itself): 3 Python calls, not 13. Anything else is Django's function."""
    if settings.FORCE_SCRIPT_NAME is None and "SCRIPT_URL" not in environ and "REDIRECT_URL" not in environ:
        name = environ.get("SCRIPT_NAME", "")
        if name.isascii():
            return name  # type: ignore[no-any-return]
    return django_wsgi.get_script_name(environ)  # type: ignore[no-any-return]


class WSGIHandler(django_wsgi.WSGIHandler):
    """Django's WSGIHandler (health_f0.wsgi.application), whose request_started and request_finished reach Django's
    receivers directly (`request_started`, `request_finished` above) and whose header list is read from the
    response's header store (the same pairs in the same order: ResponseHeaders.items() is that store's values,
    about three Python calls a header; the cookies' Set-Cookie lines as Django writes them)."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        set_script_prefix(_script_name(environ))
        request_started.send(sender=self.__class__, environ=environ)
        request = self.request_class(environ)
        response: Any = self.get_response(request)

        response._handler_class = self.__class__
        if type(response).close is HttpResponseBase.close:
            response.close = MethodType(_close, response)

        status = f"{response.status_code:d} {response.reason_phrase}"
        response_headers = list(header_store(response).values())
        if response.cookies:
            response_headers += [("Set-Cookie", c.output(header="")) for c in response.cookies.values()]
        start_response(status, response_headers)
        if getattr(response, "file_to_stream", None) is not None and environ.get("wsgi.file_wrapper"):
            # As Django's: the server closes the file wrapper, not the response.
            response.file_to_stream.close = response.close
            response = environ["wsgi.file_wrapper"](response.file_to_stream, response.block_size)
        return response
