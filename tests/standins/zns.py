"""A local stand-in for Zalo's ZNS template-message API and its OAuth token endpoint, for tests and demos.

What it follows from Zalo's developer documentation (developers.zalo.me: "Gửi thông báo ZNS", "Bảng mã lỗi",
"Webhook" and "Lấy Access Token từ Refresh Token"; summarised in notifications/gateways.py):

- ``POST /message/template`` with header ``access_token`` and a JSON body {phone: "84xxxxxxxxx", template_id,
  template_data: {...}, tracking_id}. Answers HTTP 200 with ``{"error": 0, "message": "Success", "data":
  {"msg_id", "sent_time", "quota": {"dailyQuota", "remainingQuota"}}}``, or ``{"error": <code>, "message"}``:
  -124 access token invalid, -108 phone invalid, -109 template id invalid, -111 template data empty, -118 the
  phone has no Zalo account, -144 daily quota exceeded.
- ``POST /v4/oa/access_token`` (form app_id, refresh_token, grant_type=refresh_token; header secret_key):
  ``{"access_token", "refresh_token", "expires_in": "90000"}``. A refresh token works once (Zalo issues a new
  one with every access token); a spent or unknown one gets ``{"error": -14014, "error_name": "Invalid
  refresh token"}``.
- Delivery: a webhook POST of ``{"app_id", "oa_id", "event_name": "user_received_message", "message":
  {"delivery_time", "msg_id", "tracking_id"}, "timestamp", ...}`` signed in header X-ZEvent-Signature with
  ``mac=`` + sha256(app_id + body + timestamp + OA secret key).

Assumptions where the documentation is silent (not verified against the real service): the quota is a plain
per-stand-in counter; an unknown path gets 404; a wrong method 405.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from urllib.request import Request, urlopen

import pytest

from tests.standins.server import LocalServer

SEND_PATH = "/message/template"
OAUTH_PATH = "/v4/oa/access_token"
_PHONE = re.compile(r"^84[35789]\d{8}$")


@dataclass
class ReceivedZns:
    msg_id: str
    phone: str
    template_id: str
    template_data: dict[str, Any]
    tracking_id: str
    received_at: float = field(default_factory=time.time)
    delivered: bool = False


class ZnsStandIn(LocalServer):
    """Start with ``start()``; ``url`` is the send endpoint, ``oauth_url`` the token endpoint.

    ``no_zalo(phone)`` makes a number one without Zalo (-118); ``fail_with = code`` refuses every send with
    that code; ``down(mode)``/``up()``: "refused" (port closed), "503", "timeout" (no answer within
    ``hang_seconds``). ``expire_tokens()`` makes every issued access token invalid (-124) so the client must
    refresh. ``deliver(message, webhook_url)`` calls our webhook as Zalo does, correctly signed.
    """

    def __init__(
        self,
        *,
        app_id: str = "4123987650011223344",
        app_secret: str = "zns-test-app-secret",
        oa_secret_key: str = "zns-test-oa-secret",
        refresh_token: str = "zns-test-refresh-0",
        templates: tuple[str, ...] = ("301001", "301002"),
        daily_quota: int = 500,
        hang_seconds: float = 1.0,
    ):
        self.app_id = app_id
        self.app_secret = app_secret
        self.oa_secret_key = oa_secret_key
        self.first_refresh_token = refresh_token
        self.templates = set(templates)
        self.daily_quota = daily_quota
        self.hang_seconds = hang_seconds
        self.mode = "up"
        self.fail_with: int | None = None
        self.messages: list[ReceivedZns] = []
        self.requests: list[dict[str, Any]] = []
        self.token_requests: list[dict[str, str]] = []
        self.webhook_calls: list[int] = []
        self._no_zalo: set[str] = set()
        self._refresh_tokens = {refresh_token}
        self._access_tokens: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.base_url + SEND_PATH

    @property
    def oauth_url(self) -> str:
        return self.base_url + OAUTH_PATH

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # --- test controls -----------------------------------------------------------------------------
    def no_zalo(self, phone: str) -> None:
        """This number has no Zalo account: sends to it are refused with -118."""
        self._no_zalo.add(re.sub(r"\D", "", phone)[-9:])

    def expire_tokens(self) -> None:
        with self._lock:
            self._access_tokens.clear()

    @property
    def issued_tokens(self) -> set[str]:
        return set(self._access_tokens)

    def signature(self, body: bytes, timestamp: str) -> str:
        return hashlib.sha256(
            self.app_id.encode() + body + timestamp.encode() + self.oa_secret_key.encode()
        ).hexdigest()

    def event_body(
        self, message: ReceivedZns, *, event_name: str = "user_received_message"
    ) -> tuple[bytes, str]:
        """The webhook body Zalo posts when `message` reached the phone, and its X-ZEvent-Signature."""
        now_ms = str(int(time.time() * 1000))
        event = {
            "app_id": self.app_id,
            "oa_id": "579745863508352884",
            "user_id_by_app": "552177279717587730",
            "event_name": event_name,
            "sender": {"id": "579745863508352884"},
            "recipient": {"id": "8864722158219483264"},
            "message": {
                "delivery_time": now_ms,
                "msg_id": message.msg_id,
                "tracking_id": message.tracking_id,
            },
            "timestamp": now_ms,
        }
        body = json.dumps(event).encode()
        return body, "mac=" + self.signature(body, now_ms)

    def deliver(self, message: ReceivedZns, webhook_url: str) -> int:
        """Call our webhook over HTTP as Zalo does once the message reached the phone; returns the status."""
        body, signature = self.event_body(message)
        request = Request(  # noqa: S310 - a local test URL
            webhook_url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "X-ZEvent-Signature": signature},
        )
        with urlopen(request, timeout=10) as response:  # noqa: S310
            status = int(response.status)
        message.delivered = True
        self.webhook_calls.append(status)
        return status

    def messages_to(self, phone: str) -> list[ReceivedZns]:
        wanted = "84" + re.sub(r"\D", "", phone)[-9:]
        return [m for m in self.messages if m.phone == wanted]

    # --- the protocol ----------------------------------------------------------------------------
    def handle_token(self, raw: bytes, secret_key: str) -> dict[str, Any]:
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        with self._lock:
            self.token_requests.append({k: v for k, v in form.items() if k != "refresh_token"})
            if form.get("app_id") != self.app_id or secret_key != self.app_secret:
                return {"error": -14001, "error_name": "Invalid app_id or secret_key"}
            if form.get("grant_type") != "refresh_token":
                return {"error": -14002, "error_name": "Invalid grant_type"}
            refresh = form.get("refresh_token", "")
            if refresh not in self._refresh_tokens:
                return {"error": -14014, "error_name": "Invalid refresh token"}
            self._refresh_tokens.discard(refresh)  # spent
            access, new_refresh = "at-" + uuid.uuid4().hex, "rt-" + uuid.uuid4().hex
            self._access_tokens.add(access)
            self._refresh_tokens.add(new_refresh)
        return {"access_token": access, "refresh_token": new_refresh, "expires_in": "90000"}

    def handle_send(self, raw: bytes, access_token: str) -> dict[str, Any]:
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            return {"error": -100, "message": "Invalid request body"}
        with self._lock:
            self.requests.append(data)
            if access_token not in self._access_tokens:
                return {"error": -124, "message": "Access token invalid"}
            phone = str(data.get("phone") or "")
            if not _PHONE.match(phone):
                return {"error": -108, "message": "Phone number invalid"}
            template_id = str(data.get("template_id") or "")
            if template_id not in self.templates:
                return {"error": -109, "message": "Template id invalid"}
            params = data.get("template_data")
            if not isinstance(params, dict) or not params:
                return {"error": -111, "message": "Template data empty"}
            if phone[2:] in self._no_zalo:
                return {"error": -118, "message": "Zalo account not existed or disabled"}
            if self.fail_with is not None:
                return {"error": self.fail_with, "message": "Refused by the stand-in"}
            if self.daily_quota <= 0:
                return {"error": -144, "message": "OA has exceeded the daily quota"}
            self.daily_quota -= 1
            message = ReceivedZns(
                msg_id=uuid.uuid4().hex,
                phone=phone,
                template_id=template_id,
                template_data=params,
                tracking_id=str(data.get("tracking_id") or ""),
            )
            self.messages.append(message)
        return {
            "error": 0,
            "message": "Success",
            "data": {
                "msg_id": message.msg_id,
                "sent_time": str(int(message.received_at * 1000)),
                "quota": {"dailyQuota": "500", "remainingQuota": str(self.daily_quota)},
            },
        }


def _handler_for(standin: ZnsStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
            pass

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if standin.mode == "503":
                self._reply(503, b"<html><body>Service Unavailable</body></html>", "text/html")
                return
            if standin.mode == "timeout":
                time.sleep(standin.hang_seconds)
                self.close_connection = True
                return
            path = self.path.split("?")[0].rstrip("/")
            if path == OAUTH_PATH:
                answer = standin.handle_token(raw, self.headers.get("secret_key", ""))
            elif path == SEND_PATH:
                answer = standin.handle_send(raw, self.headers.get("access_token", ""))
            else:
                self._reply(404, b'{"error": -404, "message": "Not found"}')
                return
            self._reply(200, json.dumps(answer).encode())

        def do_GET(self) -> None:  # noqa: N802
            self._reply(405, b'{"error": -405, "message": "Method not allowed"}')

    return Handler


# --- pytest fixtures (import them into a test module or conftest) -----------------------------------
ZNS_TEMPLATE_REMINDER = "301001"
ZNS_TEMPLATE_APPOINTMENT = "301002"


# Registered under the names "zns" and "zns_gateway": `from tests.standins.zns import zns_fixture,
# zns_gateway_fixture` in a test module or conftest makes them available without shadowing a test's argument.
@pytest.fixture(name="zns")
def zns_fixture() -> Iterator[ZnsStandIn]:
    """The ZNS stand-in on 127.0.0.1 with a free port, up."""
    standin = ZnsStandIn(hang_seconds=0.8).start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture(name="zns_gateway")
def zns_gateway_fixture(settings: Any, zns: ZnsStandIn) -> ZnsStandIn:
    """ZNS enabled and pointed at the stand-in: valid app, OA secret and first refresh token; templates for
    appointment reminders and appointment notices; a short timeout."""
    settings.ZNS_ENABLED = True
    settings.ZNS_API_URL = zns.url
    settings.ZNS_OAUTH_URL = zns.oauth_url
    settings.ZNS_APP_ID = zns.app_id
    settings.ZNS_APP_SECRET = zns.app_secret
    settings.ZNS_OA_SECRET_KEY = zns.oa_secret_key
    settings.ZNS_REFRESH_TOKEN = zns.first_refresh_token
    settings.ZNS_TEMPLATES = {
        "appointment_reminder": ZNS_TEMPLATE_REMINDER,
        "appointment": ZNS_TEMPLATE_APPOINTMENT,
        "generic": ZNS_TEMPLATE_APPOINTMENT,
    }
    settings.ZNS_TIMEOUT = 0.4
    settings.ZNS_COST_VND = 300
    settings.ZNS_FALLBACK_AFTER_MINUTES = 15
    return zns
