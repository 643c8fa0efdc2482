"""SMS gateways: console (development), file (tests and demos), esms (eSMS.vn JSON API); and the Zalo ZNS
gateway (template messages through the province's Official Account), `ZnsGateway`, used for channel "zns".

Every gateway implements two calls: `send()` one message under a request id, and `status()` — did the
gateway take the messages of these attempts? The outbox records an attempt before calling `send()`; when
the answer never came (a timeout, a crash, a killed worker), it asks `status()` before ever sending again,
so a message is not sent twice whether or not the gateway refuses a repeated request id. A later gateway
(ZNS, another SMS brand) must implement both to be registered.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import json
import logging
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from urllib3.exceptions import NewConnectionError

from health_f0.core.phone import mask_phone

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """Sending failed.

    `retryable` False: retrying the same message cannot help. `maybe_sent` True: the request may have
    reached the gateway and been taken (a timeout, a dropped connection, an unreadable answer), so the
    outcome is unknown and the gateway must be asked before the message is sent again.
    """

    def __init__(
        self, message: str, *, retryable: bool = True, maybe_sent: bool = False, answered: bool = False
    ):
        super().__init__(message)
        self.retryable = retryable
        self.maybe_sent = maybe_sent
        # The gateway answered about this request id (a refusal): the next attempt uses a new id.
        self.answered = answered


@dataclass
class SendResult:
    provider_message_id: str


@dataclass(frozen=True)
class Attempt:
    """One attempt whose result is unknown, as `status()` is asked about it."""

    reference: str  # the request id sent
    to: str  # E.164
    body: str
    started_at: datetime


@dataclass(frozen=True)
class GatewayRecord:
    """A message the gateway has, matching an attempt. `delivered`: True reached the phone, False finally
    failed, None not final yet."""

    provider_message_id: str
    delivered: bool | None = None
    error: str = ""


@dataclass(frozen=True)
class AttemptStatus:
    """`found`: the gateway has the message (its records in `matches`); `absent`: it certainly does not;
    `unknown`: it could not tell now (unreachable, refused the query) — ask again later, never resend."""

    state: Literal["found", "absent", "unknown"]
    matches: tuple[GatewayRecord, ...] = field(default=())
    error: str = ""


UNKNOWN = AttemptStatus("unknown")


class Gateway(abc.ABC):
    name = "base"

    @abc.abstractmethod
    def send(self, *, to: str, body: str, kind: str, reference: str) -> SendResult:
        """Send one message under `reference`; raise GatewayError on failure."""

    @abc.abstractmethod
    def status(self, attempts: Sequence[Attempt]) -> dict[str, AttemptStatus]:
        """For each attempt (by reference): does the gateway have its message? Missing keys = unknown."""


class ConsoleGateway(Gateway):
    """Prints messages to the worker's output: for a developer's machine only."""

    name = "console"

    def send(self, *, to: str, body: str, kind: str, reference: str) -> SendResult:
        print(f"[SMS {kind} → {to}] {body}", flush=True)  # noqa: T201
        return SendResult(provider_message_id=reference)

    def status(self, attempts: Sequence[Attempt]) -> dict[str, AttemptStatus]:
        # A print reaches nobody: printing an interrupted message again cannot text anyone twice.
        return {attempt.reference: AttemptStatus("absent") for attempt in attempts}


_file_lock = threading.Lock()


class FileGateway(Gateway):
    """Appends one JSON object per message per line to SMS_FILE_PATH (the demo reads OTPs from it)."""

    name = "file"

    def send(self, *, to: str, body: str, kind: str, reference: str) -> SendResult:
        record = {
            "to": to,
            "body": body,
            "kind": kind,
            "reference": reference,
            "created_at": datetime.now(UTC).isoformat(),
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with _file_lock, open(settings.SMS_FILE_PATH, "a", encoding="utf-8") as fh:
            fh.write(line)
        return SendResult(provider_message_id=reference)

    def status(self, attempts: Sequence[Attempt]) -> dict[str, AttemptStatus]:
        wanted = {attempt.reference for attempt in attempts}
        found: set[str] = set()
        try:
            with _file_lock, open(settings.SMS_FILE_PATH, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        reference = json.loads(line).get("reference", "")
                    except ValueError:  # a line cut by a crash mid-write
                        continue
                    if reference in wanted:
                        found.add(reference)
        except FileNotFoundError:
            pass
        except OSError:
            return {}
        return {
            ref: AttemptStatus("found", (GatewayRecord(ref),)) if ref in found else AttemptStatus("absent")
            for ref in wanted
        }


# eSMS.vn protocol, as documented by eSMS (developers.esms.vn, "Send OTP/Customer care message",
# "Table of error codes" and "Callback Url" pages). CodeResult "100" means eSMS accepted the request (not
# that the phone got it: the delivery report comes later to CallbackUrl). Codes retrying cannot fix:
# 101 wrong ApiKey/SecretKey, 102 no price list, 104 brandname not registered, 108 bad phone format,
# 146 wrong customer-care template, 177 network not registered for the brandname, 300 missing SmsType.
# 103 (balance too low), 140 (IP not whitelisted) and 99 (unknown/connection error) are fixed on the
# account's side without changing the message, so the message is kept and retried.
ESMS_ACCEPTED = "100"
ESMS_DUPLICATE_REQUEST = "124"
ESMS_PERMANENT = frozenset({"101", "102", "104", "108", "146", "177", "300"})
# Callback SendStatus: 1 pending approval, 2 waiting to send, 4 rejected, 5 sent (final: SendSuccess and
# SendFailed count receivers), 7 sent to the telco, waiting for its report.
_ESMS_FINAL_STATUSES = {"4", "5"}
_ESMS_PENDING_STATUSES = {"1", "2", "7"}
# HTTP statuses from eSMS's front that mean the request was not processed (a retry is a first send).
_ESMS_NOT_PROCESSED_HTTP = {502, 503}
# GetSmsSentData_V2 (developers.esms.vn "Get the message status", by creation time): at most 500 a page.
ESMS_SENT_DATA_PAGE = 500
ESMS_SENT_DATA_MAX_PAGES = 200
# How far around an attempt's start its message is looked for (eSMS dates a message when it takes it).
ESMS_SENT_DATA_MARGIN = timedelta(minutes=2)
_VN = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class DeliveryReport:
    """A gateway's final word on one message: delivered to the phone or not."""

    provider_message_id: str
    reference: str
    delivered: bool
    error: str = ""


def esms_callback_url() -> str:
    """Where eSMS should report delivery; empty (no reports) until ESMS_CALLBACK_TOKEN is set."""
    token = settings.ESMS_CALLBACK_TOKEN
    return f"{settings.PORTAL_URL}/hooks/esms/{token}" if token else ""


def parse_esms_callback(params: Mapping[str, str]) -> DeliveryReport | None:
    """Read eSMS's delivery callback (query parameters of an HTTP GET).

    Returns None for an intermediate status (pending, waiting, at the telco); raises ValueError for a
    request that is not an eSMS callback.
    """
    sms_id = (params.get("SMSID") or "").strip()
    status = (params.get("SendStatus") or "").strip()
    if not sms_id or len(sms_id) > 64:
        raise ValueError("SMSID missing or too long")
    if status in _ESMS_PENDING_STATUSES:
        return None
    if status not in _ESMS_FINAL_STATUSES:
        raise ValueError(f"unknown SendStatus {status[:8]!r}")
    try:
        success = int(params.get("SendSuccess") or 0)
        failed = int(params.get("SendFailed") or 0)
    except ValueError:
        raise ValueError("SendSuccess/SendFailed not numbers")
    reference = (params.get("RequestId") or "").strip()[:64]
    if status == "4":
        return DeliveryReport(sms_id, reference, delivered=False, error="eSMS: rejected (SendStatus 4)")
    if success > 0 and failed == 0:
        return DeliveryReport(sms_id, reference, delivered=True)
    return DeliveryReport(
        sms_id, reference, delivered=False, error=f"eSMS: not delivered (SendFailed {failed})"
    )


def _never_left(exc: requests.RequestException) -> bool:
    """The request could not have reached the gateway: no connection was ever made."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        return isinstance(getattr(reason, "reason", reason), NewConnectionError)
    return False


def _national_digits(phone: str) -> str:
    """The last nine digits, which identify a Vietnamese mobile however it is written (+84…, 84…, 0…)."""
    digits = re.sub(r"\D", "", phone)
    return digits[-9:]


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


class EsmsGateway(Gateway):
    """eSMS.vn `SendMultipleMessage_V4_post_json`: customer-care (SmsType 2) brand-name SMS, unaccented.

    RequestId is the attempt's id (the message's public id for its first attempt). eSMS refuses a repeated
    RequestId (code 124), but exactly-once does not rest on that: an attempt whose answer never came is
    looked up with `status()` (GetSmsSentData_V2: the messages eSMS took in a time window, matched by phone
    and content — eSMS has no look-up by RequestId, and GetSendStatus needs the SMSID that a lost answer
    never gave us) before it is ever sent again.
    """

    name = "esms"

    def send(self, *, to: str, body: str, kind: str, reference: str) -> SendResult:
        national = "0" + to[3:] if to.startswith("+84") else to
        payload = {
            "ApiKey": settings.ESMS_API_KEY,
            "SecretKey": settings.ESMS_SECRET_KEY,
            "Content": body,
            "Phone": national,
            "Brandname": settings.ESMS_BRANDNAME,
            "SmsType": "2",
            "IsUnicode": "0",
            "Sandbox": "0",
            "RequestId": reference,
        }
        callback_url = esms_callback_url()
        if callback_url:
            payload["CallbackUrl"] = callback_url
        try:
            response = requests.post(settings.ESMS_API_URL, json=payload, timeout=settings.ESMS_TIMEOUT)
        except requests.RequestException as exc:
            raise GatewayError(f"eSMS unreachable: {exc.__class__.__name__}", maybe_sent=not _never_left(exc))
        if response.status_code >= 500:
            raise GatewayError(
                f"eSMS HTTP {response.status_code}",
                maybe_sent=response.status_code not in _ESMS_NOT_PROCESSED_HTTP,
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise GatewayError(f"eSMS bad response (HTTP {response.status_code})", maybe_sent=True)
        code = str(data.get("CodeResult", ""))
        if code == ESMS_DUPLICATE_REQUEST:
            # An earlier attempt with this id reached eSMS: the message is already on its way.
            logger.info("eSMS already had message %s (duplicate RequestId)", reference)
            return SendResult(provider_message_id=str(data.get("SMSID") or ""))
        if code != ESMS_ACCEPTED:
            message = str(data.get("ErrorMessage") or data.get("error") or "")[:120]
            logger.warning("eSMS refused message to %s: %s %s", mask_phone(to), code, message)
            raise GatewayError(
                f"eSMS CodeResult {code} {message}".strip(),
                retryable=code not in ESMS_PERMANENT,
                answered=True,
            )
        return SendResult(provider_message_id=str(data.get("SMSID") or uuid.uuid4()))

    def status(self, attempts: Sequence[Attempt]) -> dict[str, AttemptStatus]:
        """Read what eSMS took around the attempts' start (customer-care messages, by creation time) and
        match each attempt by phone and content. `absent` is only said after every page was read."""
        if not attempts:
            return {}
        start = min(a.started_at for a in attempts) - ESMS_SENT_DATA_MARGIN
        end = max(a.started_at for a in attempts) + timedelta(seconds=2 * settings.ESMS_TIMEOUT)
        end += ESMS_SENT_DATA_MARGIN
        try:
            records = self._sent_data(start, end)
        except GatewayError as exc:
            logger.warning("eSMS status query failed: %s", exc)
            return {}
        by_phone: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            by_phone.setdefault(_national_digits(str(record.get("Phone") or "")), []).append(record)
        result: dict[str, AttemptStatus] = {}
        for attempt in attempts:
            matches = tuple(
                _esms_record(record)
                for record in by_phone.get(_national_digits(attempt.to), [])
                if _same_text(str(record.get("Content") or ""), attempt.body)
            )
            result[attempt.reference] = (
                AttemptStatus("found", matches) if matches else AttemptStatus("absent")
            )
        return result

    def _sent_data(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        url = settings.ESMS_SENT_DATA_URL or (
            settings.ESMS_API_URL.split("/MainService.svc/")[0] + "/MainService.svc/json/GetSmsSentData_V2"
        )
        records: list[dict[str, Any]] = []
        for page in range(1, ESMS_SENT_DATA_MAX_PAGES + 1):
            payload: dict[str, Any] = {
                "ApiKey": settings.ESMS_API_KEY,
                "SecretKey": settings.ESMS_SECRET_KEY,
                "SmsType": "2",
                "From": start.astimezone(_VN).strftime("%Y-%m-%d %H:%M:%S"),
                "To": end.astimezone(_VN).strftime("%Y-%m-%d %H:%M:%S"),
                "Page": page,
                "PageSize": ESMS_SENT_DATA_PAGE,
            }
            try:
                response = requests.post(url, json=payload, timeout=settings.ESMS_TIMEOUT)
                data = response.json()
            except (requests.RequestException, ValueError) as exc:
                raise GatewayError(f"eSMS sent data unreachable: {exc.__class__.__name__}")
            if not isinstance(data, dict) or str(data.get("CodeResult", "")) != ESMS_ACCEPTED:
                code = data.get("CodeResult") if isinstance(data, dict) else response.status_code
                raise GatewayError(f"eSMS sent data refused: {code}")
            rows = data.get("SentData") or []
            if not isinstance(rows, list):
                raise GatewayError("eSMS sent data: SentData is not a list")
            records.extend(row for row in rows if isinstance(row, dict))
            try:
                total = int(data.get("CountTotal") or 0)
            except (TypeError, ValueError):
                total = 0
            if len(rows) < ESMS_SENT_DATA_PAGE or (total and len(records) >= total):
                return records
        raise GatewayError("eSMS sent data: too many pages for the window")


def _esms_record(record: Mapping[str, Any]) -> GatewayRecord:
    """One row of GetSmsSentData_V2: SendStatus 4 rejected, 5 done (SendResult 1 delivered, 0 failed,
    2 not known yet), 0/1/2/7 still on its way."""
    provider_id = str(record.get("ReferenceId") or record.get("SmsId") or "")[:64]
    status, result = str(record.get("SendStatus", "")), str(record.get("SendResult", ""))
    if status == "4":
        return GatewayRecord(provider_id, delivered=False, error="eSMS: rejected (SendStatus 4)")
    if status == "5" and result == "1":
        return GatewayRecord(provider_id, delivered=True)
    if status == "5" and result == "0":
        return GatewayRecord(provider_id, delivered=False, error="eSMS: not delivered (SendResult 0)")
    return GatewayRecord(provider_id)


# --- Zalo ZNS ------------------------------------------------------------------------------------------
# Zalo Notification Service, as Zalo documents it (developers.zalo.me, "Gửi thông báo ZNS", "Bảng mã lỗi",
# "Webhook ZNS", "Lấy Access Token từ Refresh Token"): POST ZNS_API_URL with header `access_token` and JSON
# {phone: "84xxxxxxxxx", template_id, template_data: {...}, tracking_id}; answer {"error": 0, "message":
# "Success", "data": {"msg_id", "sent_time", "quota": {...}}} or {"error": <negative code>, "message"}.
# Codes that mean this phone cannot get ZNS (send an SMS instead, not billed): -108 invalid phone, -114 user
# not receiving ZNS (inactive, old Zalo, opted out), -118 no Zalo account / disabled, -119 cannot receive,
# -139 refused this kind of message. -124: the access token is invalid or expired (refresh, send again once).
# Any other code (template not approved or data invalid, quota or balance exhausted, OA not allowed) is a
# refusal of this message: SMS too.
ZNS_OK = 0
ZNS_NO_ZALO = frozenset({-108, -114, -118, -119, -139})
ZNS_TOKEN_INVALID = frozenset({-124, -216})
# Renew the access token this long before Zalo's expiry, so a send never carries an expiring token.
ZNS_TOKEN_MARGIN = timedelta(minutes=10)


class ZnsError(GatewayError):
    """A ZNS refusal or failure. `no_zalo`: the phone cannot get ZNS at all; `code`: Zalo's error code."""

    def __init__(self, message: str, *, code: int | None = None, no_zalo: bool = False, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.code = code
        self.no_zalo = no_zalo


def zns_phone(to: str) -> str:
    """E.164 +84… → Zalo's 84xxxxxxxxx."""
    digits = re.sub(r"\D", "", to)
    if digits.startswith("0"):
        digits = "84" + digits[1:]
    return digits


class ZnsGateway:
    """Sends one approved ZNS template message. Not an SMS `Gateway`: it sends template data, not a text,
    and has no look-up for a message whose answer was lost — such a message is settled by its delivery
    report or, failing that, by the SMS fallback at its `fallback_at` (never sent twice by ZNS)."""

    name = "zns"

    def send_template(
        self, *, to: str, template_id: str, template_data: Mapping[str, Any], tracking_id: str
    ) -> SendResult:
        from health_f0.notifications.zns_tokens import zns_access_token

        token = zns_access_token()
        try:
            return self._post(
                token, to=to, template_id=template_id, params=template_data, tracking=tracking_id
            )
        except ZnsError as exc:
            if exc.code not in ZNS_TOKEN_INVALID:
                raise
        # Zalo says the token is no good (revoked or expired early): renew it and send again, once.
        token = zns_access_token(refused=token)
        return self._post(token, to=to, template_id=template_id, params=template_data, tracking=tracking_id)

    def _post(
        self, token: str, *, to: str, template_id: str, params: Mapping[str, Any], tracking: str
    ) -> SendResult:
        payload: dict[str, Any] = {
            "phone": zns_phone(to),
            "template_id": template_id,
            "template_data": dict(params),
            "tracking_id": tracking,
        }
        try:
            response = requests.post(
                settings.ZNS_API_URL,
                json=payload,
                headers={"access_token": token, "Content-Type": "application/json"},
                timeout=settings.ZNS_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise ZnsError(f"ZNS unreachable: {exc.__class__.__name__}", maybe_sent=not _never_left(exc))
        if response.status_code >= 500:
            raise ZnsError(
                f"ZNS HTTP {response.status_code}",
                maybe_sent=response.status_code not in _ESMS_NOT_PROCESSED_HTTP,
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "error" not in answer:
            raise ZnsError(f"ZNS bad response (HTTP {response.status_code})", maybe_sent=True)
        try:
            code = int(answer["error"])
        except (TypeError, ValueError):
            raise ZnsError("ZNS bad response: error is not a number", maybe_sent=True)
        if code != ZNS_OK:
            message = str(answer.get("message") or "")[:120]
            logger.warning("ZNS refused message to %s: %s %s", mask_phone(to), code, message)
            raise ZnsError(
                f"ZNS error {code} {message}".strip(),
                code=code,
                no_zalo=code in ZNS_NO_ZALO,
                retryable=False,
                answered=True,
            )
        data = answer.get("data")
        msg_id = str(data.get("msg_id") or "") if isinstance(data, dict) else ""
        if not msg_id:
            raise ZnsError("ZNS answer without msg_id", maybe_sent=True)
        return SendResult(provider_message_id=msg_id[:64])


@dataclass(frozen=True)
class ZnsEvent:
    """A ZNS webhook event we act on: `user_received_message` for one of our template messages."""

    msg_id: str
    tracking_id: str
    delivered_at: datetime


class ZnsWebhookError(ValueError):
    """Not a valid ZNS webhook request. `forbidden`: the signature or app id is wrong."""

    def __init__(self, message: str, *, forbidden: bool = False):
        super().__init__(message)
        self.forbidden = forbidden


def zns_signature(*, app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    """Zalo's webhook MAC: sha256(app_id + raw body + timestamp + OA secret key), hex."""
    return hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode()).hexdigest()


def parse_zns_webhook(body: bytes, signature_header: str) -> ZnsEvent | None:
    """Verify and read a ZNS webhook POST. Returns the delivery event, or None for another event (ignored);
    raises ZnsWebhookError for a bad signature, a foreign app or a body that is not an event."""
    secret = settings.ZNS_OA_SECRET_KEY
    if not secret or not settings.ZNS_APP_ID:
        raise ZnsWebhookError("ZNS webhook not configured", forbidden=True)
    try:
        event = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ZnsWebhookError("body is not JSON")
    if not isinstance(event, dict):
        raise ZnsWebhookError("body is not an object")
    app_id = str(event.get("app_id") or "")
    timestamp = str(event.get("timestamp") or "")
    supplied = signature_header.strip()
    if supplied.lower().startswith("mac="):
        supplied = supplied[4:].strip()
    if not app_id or not timestamp or not supplied:
        raise ZnsWebhookError("app_id, timestamp or signature missing", forbidden=True)
    expected = zns_signature(app_id=app_id, body=body, timestamp=timestamp, secret=secret)
    if not hmac.compare_digest(supplied.lower().encode(), expected.encode()):
        raise ZnsWebhookError("bad signature", forbidden=True)
    if not hmac.compare_digest(app_id.encode(), settings.ZNS_APP_ID.encode()):
        raise ZnsWebhookError("another app's event", forbidden=True)
    if event.get("event_name") != "user_received_message":
        return None
    message = event.get("message")
    if not isinstance(message, dict):
        raise ZnsWebhookError("message missing")
    msg_id = str(message.get("msg_id") or "").strip()
    if not msg_id or len(msg_id) > 64:
        raise ZnsWebhookError("msg_id missing or too long")
    if not message.get("delivery_time"):
        return None  # an ordinary OA chat message was received, not a ZNS one
    try:
        delivered_at = datetime.fromtimestamp(int(str(message["delivery_time"])) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ZnsWebhookError("delivery_time is not a timestamp in milliseconds")
    tracking = str(message.get("tracking_id") or "").strip()[:64]
    return ZnsEvent(msg_id=msg_id, tracking_id=tracking, delivered_at=delivered_at)


_GATEWAYS: dict[str, type[Gateway]] = {"console": ConsoleGateway, "file": FileGateway, "esms": EsmsGateway}


def get_gateway(name: str | None = None) -> Gateway:
    name = name or settings.SMS_BACKEND
    try:
        gateway_class = _GATEWAYS[name]
    except KeyError:
        raise ValueError(f"Unknown SMS_BACKEND {name!r}; use one of {sorted(_GATEWAYS)}")
    return gateway_class()
