"""SMS gateways: console (development), file (tests and demos), esms (eSMS.vn JSON API)."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from django.conf import settings

from health_f0.core.phone import mask_phone

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """Sending failed. `retryable` False means retrying the same message cannot help."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass
class SendResult:
    provider_message_id: str


class Gateway:
    name = "base"

    def send(self, *, to: str, body: str, kind: str, reference: str) -> SendResult:
        raise NotImplementedError


class ConsoleGateway(Gateway):
    """Prints messages to the worker's output: for a developer's machine only."""

    name = "console"

    def send(self, *, to: str, body: str, kind: str, reference: str) -> SendResult:
        print(f"[SMS {kind} → {to}] {body}", flush=True)  # noqa: T201
        return SendResult(provider_message_id=reference)


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


class EsmsGateway(Gateway):
    """eSMS.vn `SendMultipleMessage_V4_post_json`: customer-care (SmsType 2) brand-name SMS, unaccented.

    RequestId is the outbox message's public id: eSMS refuses a repeated RequestId (code 124), so a retry
    after a timeout in which eSMS did take the message never texts the person twice.
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
            raise GatewayError(f"eSMS unreachable: {exc.__class__.__name__}")
        if response.status_code >= 500:
            raise GatewayError(f"eSMS HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise GatewayError(f"eSMS bad response (HTTP {response.status_code})")
        if not isinstance(data, dict):
            raise GatewayError(f"eSMS bad response (HTTP {response.status_code})")
        code = str(data.get("CodeResult", ""))
        if code == ESMS_DUPLICATE_REQUEST:
            # An earlier attempt reached eSMS although we saw a timeout: the message is already on its way.
            logger.info("eSMS already had message %s (duplicate RequestId)", reference)
            return SendResult(provider_message_id=str(data.get("SMSID") or ""))
        if code != ESMS_ACCEPTED:
            message = str(data.get("ErrorMessage") or data.get("error") or "")[:120]
            logger.warning("eSMS refused message to %s: %s %s", mask_phone(to), code, message)
            raise GatewayError(
                f"eSMS CodeResult {code} {message}".strip(), retryable=code not in ESMS_PERMANENT
            )
        return SendResult(provider_message_id=str(data.get("SMSID") or uuid.uuid4()))


_GATEWAYS: dict[str, type[Gateway]] = {"console": ConsoleGateway, "file": FileGateway, "esms": EsmsGateway}


def get_gateway(name: str | None = None) -> Gateway:
    name = name or settings.SMS_BACKEND
    try:
        return _GATEWAYS[name]()
    except KeyError:
        raise ValueError(f"Unknown SMS_BACKEND {name!r}; use one of {sorted(_GATEWAYS)}")
