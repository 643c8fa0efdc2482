"""When the database is away, say so: a 503 with Retry-After, never a 500 or a hung worker.

"Away" means the server cannot be reached, went away or was restarted under a connection, stopped a
statement at its time limit (`max_statement_time`, settings `DB_STATEMENT_TIMEOUT`), timed out a lock wait,
or has no connection slot left — outages that retrying later fixes. Anything else (a bad column, a broken
query) stays a 500: it is a bug and must be seen as one.

- `DatabaseUnavailableMiddleware` turns such an error raised by a view into the 503, with one log line;
- the error handlers (`health_f0/urls.py`) catch the rest (an error in a middleware, a template) and give
  every `/api/` error the API's JSON error body — `{"detail", "code"}`, as `api/exceptions.py` does for
  the errors DRF sees: `not_found`, `bad_request`, `permission_denied`, `server_error`,
  `service_unavailable` (with `retry_after`). Portal and desk pages keep their HTML; the 503 page is
  rendered without touching the database (no context processors, no session, no user).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views import defaults

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
API_PREFIX = "/api/"
DESK_PREFIX = "/desk/"
# The portal's own 404 page (with the province's name and hotline); imported by name: core does not depend
# on the portal's code.
PORTAL_NOT_FOUND_VIEW = "health_f0.www.views.page_not_found"
# The desk's own 403 page for a staff member (None for anyone else), imported by name likewise.
DESK_FORBIDDEN_VIEW = "health_f0.desk.site.desk_forbidden"

# MariaDB/MySQL error numbers that mean "not now" rather than "wrong".
UNAVAILABLE_MYSQL_ERRORS = frozenset(
    {
        1040,  # too many connections
        1053,  # server shutdown in progress
        1205,  # lock wait timeout exceeded
        1927,  # connection was killed (KILL, a restart)
        1969,  # statement interrupted: max_statement_time exceeded
        2002,  # can't connect through the socket
        2003,  # can't connect to the server (refused, timed out)
        2005,  # unknown server host (name resolution failed)
        2006,  # server has gone away
        2013,  # lost connection during query (read/write timeout, a restart)
        2055,  # lost connection at a system call
        4031,  # disconnected by the server for inactivity (MySQL)
    }
)


def _driver_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(interface errors, operational errors): Django's, and the driver's own for an error raised outside
    Django's wrapper (a ping, a raw connection)."""
    interface: tuple[type[BaseException], ...] = (InterfaceError,)
    operational: tuple[type[BaseException], ...] = (OperationalError,)
    try:
        import MySQLdb
    except ImportError:  # pragma: no cover - SQLite-only installs
        return interface, operational
    return (*interface, MySQLdb.InterfaceError), (*operational, MySQLdb.OperationalError)


_INTERFACE_ERRORS, _OPERATIONAL_ERRORS = _driver_errors()


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` (or what caused it) is the database being away, rather than a bug."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, _INTERFACE_ERRORS):
            return True  # the connection is closed under us
        if isinstance(exc, _OPERATIONAL_ERRORS):
            code = exc.args[0] if exc.args else None
            if isinstance(code, int):
                return code in UNAVAILABLE_MYSQL_ERRORS
            message = str(exc).lower()
            return "database is locked" in message or "unable to open database" in message  # SQLite
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


# --- A request's first read as the connection's health check ---------------------------------------------

T = TypeVar("T")

# MariaDB/MySQL client errors that mean the connection itself is gone (what a failed ping means): server gone
# away, connection lost, lost at a system call, killed, closed for inactivity.
CONNECTION_GONE_ERRORS = frozenset({2006, 2013, 2055, 1927, 4031})


def connection_gone(exc: BaseException) -> bool:
    if isinstance(exc, _INTERFACE_ERRORS):
        return True  # closed under us
    return isinstance(exc, _OPERATIONAL_ERRORS) and bool(exc.args) and exc.args[0] in CONNECTION_GONE_ERRORS


def checked_by_use(connection: Any, read: Callable[[], T]) -> T:
    """`read()`, one idempotent read that is the request's first query, standing for the health check Django
    makes before a request's first query on a persistent connection (settings: CONN_HEALTH_CHECKS, a ping: one
    more MariaDB round trip on every request). The read is sent without the ping; if the connection turns out
    dead (a MariaDB restart), it is closed and `read()` sent once more on a new one, so the request never fails
    for it, as with the ping. Errors other than a gone connection are raised as they are. Inside a transaction
    (tests, a view made atomic) or on a connection not yet opened (nothing to check) Django's own check runs as
    before. The portal's session read (accounts/sql.py) and the API's token look-up (api/sql/tokens.py) are
    such reads."""
    if (
        not connection.health_check_enabled
        or connection.health_check_done
        or connection.connection is None
        or connection.in_atomic_block
    ):
        return read()
    connection.health_check_done = True
    try:
        return read()
    except (*_INTERFACE_ERRORS, *_OPERATIONAL_ERRORS) as exc:
        if not connection_gone(exc):
            raise
        # Django's close() lets go of the connection even when closing it fails (it is gone already).
        with contextlib.suppress(DatabaseError, *_INTERFACE_ERRORS, *_OPERATIONAL_ERRORS):
            connection.close()
        return read()


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def api_error(status: int, code: str, detail: str, **extra: Any) -> JsonResponse:
    """The API's documented error body, for errors Django answers before or after DRF."""
    response = JsonResponse({"detail": detail, "code": code, **extra}, status=status)
    if "retry_after" in extra:
        response["Retry-After"] = str(extra["retry_after"])
    return response


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 for a database that is away: JSON under /api/, a plain Vietnamese page elsewhere."""
    if is_api_request(request):
        return api_error(
            503,
            "service_unavailable",
            _("Hệ thống tạm thời gián đoạn, chưa xử lý được yêu cầu. Vui lòng thử lại sau ít phút."),
            retry_after=RETRY_AFTER_SECONDS,
        )
    html = render_to_string(
        "core/service_unavailable.html",
        {"retry_url": request.get_full_path() if request.method == "GET" else ""},
    )
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """A view that fails because the database is away answers the 503 (one log line, no traceback: during
    an outage every request fails the same way)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_unavailable(exception):
            return None
        logger.error("database unavailable, answered 503: %s %s: %r", request.method, request.path, exception)
        return service_unavailable(request)


# --- Error handlers (health_f0/urls.py) --------------------------------------------------------------


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return api_error(400, "bad_request", _("Yêu cầu không hợp lệ."))
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403: the API's JSON body; on the desk, for a staff member, the desk's own page with a way back to
    their worklist (desk/site.py); elsewhere a plain Vietnamese page (Django's default is a bare
    English "403 Forbidden")."""
    if is_api_request(request):
        return api_error(403, "permission_denied", _("Bạn không có quyền thực hiện thao tác này."))
    if request.path.startswith(DESK_PREFIX):
        desk_forbidden: Callable[[HttpRequest], HttpResponse | None] = import_string(DESK_FORBIDDEN_VIEW)
        response = desk_forbidden(request)
        if response is not None:
            return response
    return HttpResponse(render_to_string("core/forbidden.html"), status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return api_error(404, "not_found", _("Không tìm thấy."))
    view: Callable[[HttpRequest, Exception], HttpResponse] = import_string(PORTAL_NOT_FOUND_VIEW)
    return view(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django calls this while handling the exception: sys.exc_info() says which one."""
    if database_unavailable(sys.exc_info()[1]):
        return service_unavailable(request)
    if is_api_request(request):
        return api_error(500, "server_error", _("Đã có lỗi hệ thống. Vui lòng thử lại sau ít phút."))
    return defaults.server_error(request)
