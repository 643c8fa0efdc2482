"""MoMo wallet through MoMo's All-In-One payment gateway, API v2, `requestType` "captureWallet".

What this module follows (MoMo's developer documentation, developers.momo.vn "One-time payment" (wallet),
"Payment notification (IPN)", "Query transaction status", "Refund" and "Result codes"; the same field lists are
reproduced in the public integration guide toancongdang/sdk-for-me README, section "Create Transaction"):

- Create: ``POST {host}/v2/gateway/api/create``, JSON: partnerCode, requestId, amount, orderId, orderInfo,
  redirectUrl, ipnUrl, requestType "captureWallet", extraData ("" or base64 JSON), lang ("vi"/"en"),
  orderExpireTime (minutes, optional), signature = hex HMAC-SHA256(secretKey) over
  ``accessKey=…&amount=…&extraData=…&ipnUrl=…&orderId=…&orderInfo=…&partnerCode=…&redirectUrl=…&requestId=…
  &requestType=…``. The answer carries resultCode (0 = created) and payUrl, MoMo's payment page.
- IPN (``POST ipnUrl``, JSON) and the browser's return (``GET redirectUrl?…``, the same fields as query
  parameters): partnerCode, orderId, requestId, amount, orderInfo, orderType, transId, resultCode, message, payType,
  responseTime (ms since the epoch), extraData, signature over
  ``accessKey=…&amount=…&extraData=…&message=…&orderId=…&orderInfo=…&orderType=…&partnerCode=…&payType=…
  &requestId=…&responseTime=…&resultCode=…&transId=…`` (accessKey is ours: it is not sent). MoMo wants the IPN
  answered with HTTP 204 and no body within 15 seconds.
- Query: ``POST {host}/v2/gateway/api/query``: partnerCode, requestId, orderId, lang, signature over
  ``accessKey=…&orderId=…&partnerCode=…&requestId=…``; the answer carries the payment's resultCode, amount, transId,
  lastUpdated (ms).
- Refund: ``POST {host}/v2/gateway/api/refund``: partnerCode, orderId (a new id for the refund), requestId, amount,
  transId (the payment's), lang, description, signature over
  ``accessKey=…&amount=…&description=…&orderId=…&partnerCode=…&requestId=…&transId=…``.
- resultCode: 0 success; 1000 initiated (waiting for the user), 7000/7002 processing, 9000 authorised (not final);
  42 orderId not found; 10, 11, 12, 13, 20, 40, 47, 99 are about the request itself (maintenance, access,
  version, authentication, format, duplicate requestId, inapplicable data, unknown), not about the payment;
  every other code on a payment is a final failure (1001 insufficient funds, 1003 cancelled, 1005 expired,
  1006 refused by the user, …); on a refund, 1080/1081/1088 are refusals.

Configuration (`GatewayConfig`): merchant_code = partnerCode, access_key = accessKey, secret = secretKey,
api_url = MoMo's host or its create endpoint (production https://payment.momo.vn, test
https://test-payment.momo.vn; a stand-in's URL in tests); extra["timeout"] = seconds to wait for an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from .base import (
    BadSignature,
    Callback,
    Gateway,
    GatewayError,
    Outcome,
    PaymentRequest,
    QueryResult,
    RefundResult,
    Started,
)

logger = logging.getLogger(__name__)

PRODUCTION_HOST = "https://payment.momo.vn"
CREATE_PATH = "/v2/gateway/api/create"
QUERY_PATH = "/v2/gateway/api/query"
REFUND_PATH = "/v2/gateway/api/refund"
REQUEST_TYPE = "captureWallet"
DEFAULT_TIMEOUT = 30.0  # MoMo's create answers within 30 s
MIN_AMOUNT = 1_000
MAX_AMOUNT = 50_000_000

CREATE_SIGNED = (
    "accessKey",
    "amount",
    "extraData",
    "ipnUrl",
    "orderId",
    "orderInfo",
    "partnerCode",
    "redirectUrl",
    "requestId",
    "requestType",
)
RESULT_SIGNED = (
    "accessKey",
    "amount",
    "extraData",
    "message",
    "orderId",
    "orderInfo",
    "orderType",
    "partnerCode",
    "payType",
    "requestId",
    "responseTime",
    "resultCode",
    "transId",
)
RESULT_REQUIRED = (
    "partnerCode",
    "orderId",
    "requestId",
    "amount",
    "resultCode",
    "transId",
    "responseTime",
    "signature",
)
QUERY_SIGNED = ("accessKey", "orderId", "partnerCode", "requestId")
REFUND_SIGNED = ("accessKey", "amount", "description", "orderId", "partnerCode", "requestId", "transId")

SUCCESS = 0
PENDING_CODES = frozenset({1000, 7000, 7002, 9000})
NOT_FOUND = 42
# Codes about the request, not the payment: the outcome is not known from them.
REQUEST_ERRORS = frozenset({10, 11, 12, 13, 20, 40, 47, 99})
DUPLICATE_ORDER = 41
_ORDER_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]{0,49}")
# HTTP statuses from MoMo's front that mean the request was not processed.
_NOT_PROCESSED_HTTP = {502, 503}


def raw_signature(fields: tuple[str, ...], values: Mapping[str, Any]) -> str:
    """MoMo's raw string: ``key=value`` for each field in MoMo's documented order, joined with ``&``."""
    return "&".join(f"{name}={_text(values.get(name, ''))}" for name in fields)


def sign(secret: str, fields: tuple[str, ...], values: Mapping[str, Any]) -> str:
    return hmac.new(
        secret.encode("utf-8"), raw_signature(fields, values).encode("utf-8"), hashlib.sha256
    ).hexdigest()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _int(value: Any, name: str) -> int:
    text = _text(value).strip()
    if not text or not text.lstrip("-").isdigit():
        raise ValueError(f"MoMo field {name} is not an integer")
    return int(text)


def _from_ms(value: Any) -> datetime | None:
    try:
        ms = int(_text(value))
    except ValueError:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms > 0 else None


def outcome_for(result_code: int) -> Outcome:
    if result_code == SUCCESS:
        return Outcome.PAID
    if result_code in PENDING_CODES:
        return Outcome.PENDING
    if result_code == NOT_FOUND:
        return Outcome.UNKNOWN
    return Outcome.FAILED


class MomoGateway(Gateway):
    name = "momo"

    # --- endpoints and HTTP ------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        base = (self.config.api_url or PRODUCTION_HOST).rstrip("/")
        if base.endswith(CREATE_PATH):
            base = base[: -len(CREATE_PATH)]
        return base + path

    @property
    def _timeout(self) -> float:
        try:
            return float(self.config.extra.get("timeout", DEFAULT_TIMEOUT))
        except (TypeError, ValueError):
            return DEFAULT_TIMEOUT

    def _post(self, path: str, body: dict[str, Any], *, what: str, reference: str) -> dict[str, Any]:
        """POST JSON to MoMo; the parsed answer, or GatewayError (maybe_done when it may have been taken)."""
        try:
            response = requests.post(
                self._url(path), json=body, timeout=(min(5.0, self._timeout), self._timeout)
            )
        except requests.ConnectTimeout:
            logger.warning("MoMo %s for %s: could not connect in time", what, reference)
            raise GatewayError(f"MoMo {what}: could not connect")
        except requests.Timeout:
            logger.warning("MoMo %s for %s: no answer in time", what, reference)
            raise GatewayError(f"MoMo {what}: no answer in time", maybe_done=True)
        except requests.ConnectionError as exc:
            refused = (
                isinstance(getattr(exc.args[0], "reason", None), NewConnectionError) if exc.args else False
            )
            logger.warning("MoMo %s for %s: connection failed", what, reference)
            raise GatewayError(f"MoMo {what}: connection failed", maybe_done=not refused)
        except requests.RequestException:
            raise GatewayError(f"MoMo {what}: request failed", maybe_done=True)
        if response.status_code in _NOT_PROCESSED_HTTP:
            raise GatewayError(f"MoMo {what}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or "resultCode" not in data:
            raise GatewayError(
                f"MoMo {what}: unreadable answer (HTTP {response.status_code})", maybe_done=True
            )
        return data

    def _lang(self, request: PaymentRequest) -> str:
        return "en" if request.locale == "en" else "vi"

    # --- create ------------------------------------------------------------------------------------
    def create_body(self, request: PaymentRequest, *, request_id: str | None = None) -> dict[str, Any]:
        """The signed create request (exposed for tests and the stand-in's checks)."""
        if not isinstance(request.amount, int) or not MIN_AMOUNT <= request.amount <= MAX_AMOUNT:
            raise ValueError(f"MoMo takes {MIN_AMOUNT}..{MAX_AMOUNT} VND")
        if not _ORDER_ID.fullmatch(request.reference):
            raise ValueError("MoMo orderId must be 1..50 letters, digits, - _ .")
        minutes = int((request.expires_at - request.created_at).total_seconds() // 60)
        body: dict[str, Any] = {
            "partnerCode": self.config.merchant_code,
            "requestId": request_id or uuid.uuid4().hex,
            "amount": request.amount,
            "orderId": request.reference,
            "orderInfo": request.description,
            "redirectUrl": request.return_url,
            "ipnUrl": request.notify_url,
            "requestType": REQUEST_TYPE,
            "extraData": "",
            "lang": self._lang(request),
        }
        if minutes >= 1:
            body["orderExpireTime"] = minutes
        body["signature"] = sign(
            self.config.secret, CREATE_SIGNED, {**body, "accessKey": self.config.access_key}
        )
        return body

    def create(self, request: PaymentRequest) -> Started:
        body = self.create_body(request)
        data = self._post(CREATE_PATH, body, what="create", reference=request.reference)
        code = _int(data.get("resultCode"), "resultCode")
        pay_url = _text(data.get("payUrl"))
        if code != SUCCESS or not pay_url:
            logger.warning("MoMo create for %s refused: resultCode %s", request.reference, code)
            # 41: MoMo already has this orderId (an earlier create was taken): settle it by query.
            raise GatewayError(
                f"MoMo refused the payment (resultCode {code}): {_text(data.get('message'))[:200]}",
                maybe_done=code in (DUPLICATE_ORDER, 40),
            )
        return Started(redirect_url=pay_url)

    # --- callbacks ---------------------------------------------------------------------------------
    def parse_notification(self, params: Mapping[str, Any]) -> Callback:
        missing = [name for name in RESULT_REQUIRED if _text(params.get(name)) == ""]
        if missing:
            raise ValueError(f"MoMo callback without {', '.join(missing)}")
        # Empty text fields (extraData, message, payType…) may be dropped from a query string: signed as "".
        expected = sign(self.config.secret, RESULT_SIGNED, {**params, "accessKey": self.config.access_key})
        if not hmac.compare_digest(expected.encode(), _text(params.get("signature")).lower().encode()):
            raise BadSignature("MoMo callback signature does not verify")
        if _text(params["partnerCode"]) != self.config.merchant_code:
            raise BadSignature("MoMo callback for another partnerCode")
        amount = _int(params["amount"], "amount")
        code = _int(params["resultCode"], "resultCode")
        reference = _text(params["orderId"])
        outcome = outcome_for(code)
        if outcome is Outcome.UNKNOWN:
            outcome = Outcome.FAILED
        trans_id = _text(params["transId"])
        return Callback(
            reference=reference,
            amount=amount,
            outcome=outcome,
            gateway_ref=trans_id if trans_id not in {"", "0"} else "",
            gateway_code=str(code),
            paid_at=_from_ms(params["responseTime"]) if outcome is Outcome.PAID else None,
            raw={key: _text(value) for key, value in params.items() if key != "signature"},
            merchant_code=_text(params["partnerCode"]),
        )

    def notification_answer(self, code: str) -> tuple[int, Any]:
        """MoMo wants HTTP 204 with no body once the IPN is received, whatever we made of it; only our own
        failure ("error") answers 503 so that the IPN counts as not delivered (the query settles it anyway)."""
        if code == "error":
            return 503, None
        return 204, None

    # --- query -------------------------------------------------------------------------------------
    def query(self, request: PaymentRequest) -> QueryResult:
        body: dict[str, Any] = {
            "partnerCode": self.config.merchant_code,
            "requestId": uuid.uuid4().hex,
            "orderId": request.reference,
            "lang": self._lang(request),
        }
        body["signature"] = sign(
            self.config.secret, QUERY_SIGNED, {**body, "accessKey": self.config.access_key}
        )
        data = self._post(QUERY_PATH, body, what="query", reference=request.reference)
        code = _int(data.get("resultCode"), "resultCode")
        if code in REQUEST_ERRORS:
            raise GatewayError(f"MoMo query refused (resultCode {code})")
        outcome = outcome_for(code)
        amount = _int(data.get("amount") or 0, "amount")
        trans_id = _text(data.get("transId"))
        return QueryResult(
            reference=request.reference,
            outcome=outcome,
            amount=amount,
            gateway_ref=trans_id if trans_id not in {"", "0"} else "",
            gateway_code=str(code),
            paid_at=_from_ms(data.get("lastUpdated") or data.get("responseTime"))
            if outcome is Outcome.PAID
            else None,
        )

    # --- refund ------------------------------------------------------------------------------------
    def refund(
        self, request: PaymentRequest, *, amount: int, refund_reference: str, reason: str, gateway_ref: str
    ) -> RefundResult:
        if not isinstance(amount, int) or not 0 < amount <= request.amount:
            raise ValueError("refund amount must be 1..the payment's amount")
        if not _ORDER_ID.fullmatch(refund_reference):
            raise ValueError("MoMo refund orderId must be 1..50 letters, digits, - _ .")
        trans_id = _int(gateway_ref, "transId")
        body: dict[str, Any] = {
            "partnerCode": self.config.merchant_code,
            "orderId": refund_reference,
            "requestId": uuid.uuid4().hex,
            "amount": amount,
            "transId": trans_id,
            "lang": self._lang(request),
            "description": reason[:255],
        }
        body["signature"] = sign(
            self.config.secret, REFUND_SIGNED, {**body, "accessKey": self.config.access_key}
        )
        data = self._post(REFUND_PATH, body, what="refund", reference=refund_reference)
        code = _int(data.get("resultCode"), "resultCode")
        message = _text(data.get("message"))[:200]
        if code == SUCCESS or code in (7000, 7002):
            return RefundResult(
                accepted=True, gateway_ref=_text(data.get("transId")), gateway_code=str(code), message=message
            )
        if code in REQUEST_ERRORS and code != 40:
            raise GatewayError(f"MoMo refund refused (resultCode {code}): {message}")
        logger.warning("MoMo refund %s refused: resultCode %s", refund_reference, code)
        return RefundResult(accepted=False, gateway_code=str(code), message=message)
