"""A local stand-in for eSMS.vn's brand-name SMS API, for tests and demos.

Based on eSMS's own developer documentation (developers.esms.vn; the public GitBook sources
devesms/gitbook_esms_for_develop_v2_en): pages "Send OTP/Customer care message", "Table of error codes" and
"Callback Url". What it follows from there:

- ``POST /MainService.svc/json/SendMultipleMessage_V4_post_json/`` with a JSON body of string fields ApiKey,
  SecretKey, Content, Phone, Brandname, SmsType ("2" = customer care, needs a registered Brandname),
  IsUnicode ("0"/"1"), Sandbox ("0"/"1"), RequestId (de-duplication key), CallbackUrl (optional).
- Answers HTTP 200 with ``{"CodeResult": "100", "CountRegenerate": 0, "SMSID": "..."}`` on success, else
  ``{"CodeResult": "<code>", "CountRegenerate": 0, "ErrorMessage": "..."}``: 101 wrong ApiKey/SecretKey,
  103 balance too low, 104 brandname not registered, 108 phone not in the right format, 124 duplicate
  RequestId, 300 missing SmsType, 99 anything else.
- ``POST /MainService.svc/json/GetSmsSentData_V2`` ("Get the message status", by time range): JSON body
  ApiKey, SecretKey, SmsType, From, To ("yyyy-MM-dd HH:mm:ss", Vietnam time, by the message's creation),
  Page (from 1), PageSize (at most 500); answers ``{"CodeResult": "100", "CountTotal": n, "SentData":
  [{"Campaign", "Content", "Phone", "ReferenceId" (the SMSID), "SellPrice", "SendResult" (1 delivered,
  0 failed, 2 not known yet), "SendStatus" (5 done, 7 waiting for the telco's report), "SentTime",
  "SmsId", "SmsType"}]}``, or 101 for wrong keys.
- Delivery reports: an HTTP GET to CallbackUrl with query parameters SMSID, SendFailed, SendStatus (5 =
  final), SendSuccess, TotalPrice, TotalReceiver, TotalSent, RequestId, TypeId (2), telcoid, phonenumber,
  switchsmsid.

Assumptions where the documentation is silent (documented here, not verified against the real service):
an empty Content, or accented/non-GSM characters with IsUnicode "0", is refused with 99 and an
ErrorMessage; an unparsable body gets 99 ``{"error": "Invalid request"}`` as in eSMS's sample for 99; a
duplicate RequestId is refused with 124 and the original SMSID. A successfully sent non-sandbox message
costs 1 unit per 160-character segment (the real price list is per brandname and telco).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

from tests.standins.server import LocalServer

SEND_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
SENT_DATA_PATH = "/MainService.svc/json/GetSmsSentData_V2"
_VN = timezone(timedelta(hours=7))  # Vietnam is UTC+7 all year

# The GSM 03.38 basic set: what IsUnicode "0" can carry.
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Vietnamese mobile numbers as eSMS takes them: 0xxxxxxxxx or 84xxxxxxxxx (03, 05, 07, 08, 09).
_PHONE = re.compile(r"^(?:0|84)[35789]\d{8}$")
_REQUIRED = ("ApiKey", "SecretKey", "Content", "Phone")


@dataclass
class ReceivedSms:
    sms_id: str
    phone: str
    content: str
    brandname: str
    sms_type: str
    request_id: str
    callback_url: str
    sandbox: bool
    received_at: float = field(default_factory=time.time)
    delivered: bool | None = None  # set by send_callback / deliver(): the telco's final word


class EsmsStandIn(LocalServer):
    """Start with ``start()``; ``url`` is the send endpoint. ``down(mode)`` / ``up()`` simulate outages:

    - ``"refused"``: the port is closed (connection refused);
    - ``"503"``: HTTP 503 Service Unavailable with an HTML body;
    - ``"timeout"``: the request hangs ``hang_seconds`` and gets no answer before the client gives up;
    - ``"slow"``: the message is taken (recorded) but the answer comes after ``hang_seconds``;
    - ``"report_first"``: the message is taken and its delivery report is sent to its CallbackUrl (from
      another thread, waited for up to ``hang_seconds``) before the send is answered — the report
      reaches us while our sender has not yet saved the message as sent.

    ``accept_repeats = True`` makes it a gateway that does not de-duplicate: a repeated RequestId is
    taken (and texted) again instead of refused with 124. ``status_mode = "503"`` makes the status call
    (GetSmsSentData_V2) fail while sending works.
    """

    DOWN_MODES = frozenset({"refused", "503", "timeout", "slow", "report_first"})

    def __init__(
        self,
        *,
        api_key: str = "esms-test-api-key",
        secret_key: str = "esms-test-secret-key",
        brandnames: tuple[str, ...] = ("SYT HAIPHONG",),
        balance: int = 10_000,
        hang_seconds: float = 1.5,
    ):
        self.api_key = api_key
        self.secret_key = secret_key
        self.brandnames = set(brandnames)
        self.balance = balance
        self.hang_seconds = hang_seconds
        self.mode = "up"
        self.accept_repeats = False
        self.status_mode = "up"
        self.status_requests: list[dict[str, Any]] = []
        self.messages: list[ReceivedSms] = []
        self.requests: list[dict[str, Any]] = []
        self.callbacks: list[dict[str, Any]] = []
        self._by_request_id: dict[str, ReceivedSms] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.base_url + SEND_PATH

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # --- delivery reports ------------------------------------------------------------------------
    def callback_params(
        self, sms: ReceivedSms, *, delivered: bool = True, status: str = "5"
    ) -> dict[str, str]:
        """eSMS's callback parameters for a customer-care message (TypeId 2) sent to one receiver."""
        return {
            "SMSID": sms.sms_id,
            "SendFailed": "0" if delivered else "1",
            "SendStatus": status,
            "SendSuccess": "1" if delivered else "0",
            "TotalPrice": "0.0000" if sms.sandbox else "750.0000",
            "TotalReceiver": "1",
            "TotalSent": "1",
            "RequestId": sms.request_id,
            "TypeId": sms.sms_type,
            "telcoid": "1",
            "phonenumber": sms.phone,
            "switchsmsid": "",
        }

    def send_callback(self, sms: ReceivedSms, *, delivered: bool = True, status: str = "5") -> int:
        """Report a message's final status to its CallbackUrl by HTTP GET, as eSMS does; returns the status."""
        assert sms.callback_url, "the message was sent without a CallbackUrl"
        url = (
            sms.callback_url + "?" + urlencode(self.callback_params(sms, delivered=delivered, status=status))
        )
        sms.delivered = delivered if status == "5" else sms.delivered
        with urlopen(url, timeout=10) as response:  # noqa: S310 - a local test URL
            code = int(response.status)
        self.callbacks.append({"url": url, "status": code})
        return code

    # --- the protocol ----------------------------------------------------------------------------
    def handle_send(self, raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            return {"error": "Invalid request"}
        fields = {k: "" if v is None else str(v) for k, v in data.items()}
        with self._lock:
            self.requests.append(fields)
            return self._validate_and_accept(fields)

    def _error(self, code: str, message: str, **extra: Any) -> dict[str, Any]:
        return {"CodeResult": code, "CountRegenerate": 0, "ErrorMessage": message, **extra}

    def _validate_and_accept(self, f: dict[str, str]) -> dict[str, Any]:
        if not f.get("ApiKey") or not f.get("SecretKey"):
            return self._error("101", "Authorize Failed")
        if f["ApiKey"] != self.api_key or f["SecretKey"] != self.secret_key:
            return self._error("101", "Authorize Failed")
        sms_type = f.get("SmsType", "").strip()
        if not sms_type:
            return self._error("300", "Missing SmsType")
        missing = [name for name in _REQUIRED if not f.get(name, "").strip()]
        if "Phone" in missing:
            return self._error("108", "Phone number is not in correct format")
        if "Content" in missing:
            return self._error("99", "Content is empty")
        if sms_type == "2" and f.get("Brandname", "") not in self.brandnames:
            return self._error("104", "Brand name code is not exist")
        if sms_type not in {"1", "2", "8"}:
            return self._error("99", f"SmsType {sms_type} not supported")
        phone = re.sub(r"\s", "", f["Phone"])
        if not _PHONE.match(phone):
            return self._error("108", "Phone number is not in correct format")
        content = f["Content"]
        unicode = f.get("IsUnicode", "0") in {"1", "true", "True"}
        if not unicode and any(ch not in _GSM7 for ch in content):
            return self._error("99", "Content has Unicode characters but IsUnicode is 0")
        limit = 335 if unicode else 765  # 5 concatenated segments
        if len(content) > limit:
            return self._error("99", "Content too long")
        request_id = f.get("RequestId", "")
        if request_id and request_id in self._by_request_id and not self.accept_repeats:
            original = self._by_request_id[request_id]
            return self._error("124", "Request exist 1", SendStatus="5", SMSID=original.sms_id)
        sandbox = f.get("Sandbox", "0") in {"1", "true", "True"}
        segments = 1 if len(content) <= 160 else -(-len(content) // 153)
        if not sandbox:
            if self.balance < segments:
                return self._error("103", "Balance not enough to send message")
            self.balance -= segments
        sms = ReceivedSms(
            sms_id=str(uuid.uuid4()),
            phone=phone,
            content=content,
            brandname=f.get("Brandname", ""),
            sms_type=sms_type,
            request_id=request_id,
            callback_url=f.get("CallbackUrl", ""),
            sandbox=sandbox,
        )
        self.messages.append(sms)
        if request_id:
            self._by_request_id[request_id] = sms
        return {"CodeResult": "100", "CountRegenerate": 0, "SMSID": sms.sms_id}

    # --- status calls --------------------------------------------------------------------------------
    def _sms_record(self, sms: ReceivedSms) -> dict[str, Any]:
        final = sms.delivered is not None
        return {
            "Campaign": "",
            "Content": sms.content,
            "Phone": sms.phone,
            "ReferenceId": sms.sms_id,
            "SellPrice": 0.0 if sms.sandbox else 750.0,
            "SendResult": (1 if sms.delivered else 0) if final else 2,
            "SendStatus": 5 if final else 7,
            "SentTime": f"/Date({int(sms.received_at * 1000)}+0700)/",
            "SmsId": abs(hash(sms.sms_id)) % 10**8,
            "SmsType": int(sms.sms_type or 2),
        }

    def handle_sent_data(self, raw: bytes) -> dict[str, Any]:
        """GetSmsSentData_V2: the messages created between From and To (Vietnam time), a page at a time."""
        try:
            data = json.loads(raw.decode("utf-8"))
            fields = {k: "" if v is None else str(v) for k, v in data.items()}
            start = _vn_timestamp(fields["From"])
            end = _vn_timestamp(fields["To"])
            page = max(int(fields.get("Page") or 1), 1)
            size = min(max(int(fields.get("PageSize") or 500), 1), 500)
        except (ValueError, KeyError, AttributeError, UnicodeDecodeError):
            return {"CodeResult": "99", "ErrorMessage": "Invalid request"}
        with self._lock:
            self.status_requests.append(fields)
            if fields.get("ApiKey") != self.api_key or fields.get("SecretKey") != self.secret_key:
                return self._error("101", "Authorize Failed.")
            sms_type = fields.get("SmsType", "")
            rows = [
                m
                for m in self.messages
                if start <= m.received_at <= end and (not sms_type or m.sms_type == sms_type)
            ]
        chunk = rows[(page - 1) * size : page * size]
        return {
            "CodeResult": "100",
            "CountTotal": len(rows),
            "SentData": [self._sms_record(m) for m in chunk],
        }

    def deliver(self, sms: ReceivedSms, *, delivered: bool = True) -> None:
        """The telco's final word on `sms`, as the status calls then show it (no callback is made)."""
        sms.delivered = delivered

    def messages_to(self, phone: str) -> list[ReceivedSms]:
        national = "0" + phone[3:] if phone.startswith("+84") else phone
        return [m for m in self.messages if m.phone in {national, "84" + national[1:]}]


def _vn_timestamp(text: str) -> float:
    """ "yyyy-MM-dd HH:mm:ss" in Vietnam time (UTC+7 all year) → a Unix timestamp."""
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=_VN).timestamp()


def _handler_for(standin: EsmsStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
            pass

        def _reply(
            self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8"
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            mode = standin.mode
            if mode == "503":
                self._reply(503, b"<html><body>Service Unavailable</body></html>", "text/html")
                return
            if mode == "timeout":
                time.sleep(standin.hang_seconds)
                self.close_connection = True
                return
            if self.path.rstrip("/") == SENT_DATA_PATH:
                if standin.status_mode == "503":
                    self._reply(503, b"<html><body>Service Unavailable</body></html>", "text/html")
                    return
                self._reply(200, json.dumps(standin.handle_sent_data(raw)).encode())
                return
            if self.path.rstrip("/") != SEND_PATH.rstrip("/"):
                self._reply(404, b'{"error": "Endpoint not found"}')
                return
            answer = standin.handle_send(raw)
            if mode == "slow":
                time.sleep(standin.hang_seconds)
            if mode == "report_first" and answer.get("CodeResult") == "100":
                sms = standin.messages[-1]
                reporter = threading.Thread(target=standin.send_callback, args=(sms,), daemon=True)
                reporter.start()
                reporter.join(standin.hang_seconds)
            self._reply(200, json.dumps(answer).encode())

        def do_GET(self) -> None:  # noqa: N802
            self._reply(405, b'{"error": "Method not allowed"}')

    return Handler
