"""A local stand-in for payOS (payos.vn), the service that gives a VietQR per payment and reports the bank transfer.

It speaks payOS's merchant API as its documentation (payos.vn/docs, "API reference", "Webhook") and its SDKs
describe it, with its own implementation of the signatures (not the SDK's), so a mismatch shows:

- Every call carries headers ``x-client-id`` and ``x-api-key``; a wrong pair is answered HTTP 401
  ``{"code": "401", "desc": "Unauthorized"}``.
- ``POST /v2/payment-requests``: JSON orderCode (int), amount (int), description, cancelUrl, returnUrl,
  [expiredAt, buyer…, items], signature = HMAC-SHA256(checksum key) over
  ``amount=…&cancelUrl=…&description=…&orderCode=…&returnUrl=…``. Answers ``{"code": "00", "desc": "success",
  "data": {bin, accountNumber, accountName, amount, description, orderCode, currency, paymentLinkId, status,
  expiredAt, checkoutUrl, qrCode}, "signature"}``; "20" for bad input or signature, "231" when the orderCode exists.
- ``GET /v2/payment-requests/{id or orderCode}``: ``data: {id, orderCode, amount, amountPaid, amountRemaining,
  status, createdAt, transactions: [...], cancellationReason, canceledAt}``; "101" when unknown.
- ``POST /v2/payment-requests/{id or orderCode}/cancel`` ``{cancellationReason}``: the same data, CANCELLED.
- Answer signatures (``data`` → the response's ``signature``) and the webhook's: HMAC-SHA256 over the ``key=value``
  pairs of ``data`` sorted by key and joined with ``&``, null → "", lists as JSON with sorted keys.
- The webhook (payOS posts it to the URL registered for the payment channel — `webhook_url` here — when a transfer
  reaches the account): ``{"code": "00", "desc": "success", "success": true, "data": {orderCode, amount,
  description, accountNumber, reference, transactionDateTime, currency, paymentLinkId, code, desc,
  counterAccountBankId, counterAccountBankName, counterAccountName, counterAccountNumber, virtualAccountName,
  virtualAccountNumber}, "signature"}``. `transfer_arrived(orderCode)` simulates the transfer and sends it.

Assumptions where the documentation is silent: the QR is built by the gateway module's `emvco_payload` for the
configured account (payOS's real QR may carry a virtual account); HTTP 401 for wrong keys; the checkout page is
plain HTML. Switches: ``down("refused" | "503" | "timeout")`` / ``up()``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import pytest

from health_f0.payments.gateways.vietqr import emvco_payload
from tests.standins.server import LocalServer

_VN = timezone(timedelta(hours=7))
PAYMENT_REQUESTS = "/v2/payment-requests"


def signature_of(data: dict[str, Any], key: str) -> str:
    """payOS's data signature: sorted ``key=value`` pairs joined with ``&`` (null → "", lists as JSON)."""
    parts = []
    for name in sorted(data):
        value = data[name]
        if value is None:
            text = ""
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list):
            text = json.dumps(
                [dict(sorted(v.items())) if isinstance(v, dict) else v for v in value],
                separators=(",", ":"),
                ensure_ascii=False,
            )
        else:
            text = str(value)
        parts.append(f"{name}={text}")
    return hmac.new(key.encode(), "&".join(parts).encode(), hashlib.sha256).hexdigest()


@dataclass
class PayosLink:
    id: str
    order_code: int
    amount: int
    description: str
    return_url: str
    cancel_url: str
    expired_at: int | None
    qr_code: str
    created_at: str
    status: str = "PENDING"
    amount_paid: int = 0
    transactions: list[dict[str, Any]] = field(default_factory=list)
    cancellation_reason: str | None = None
    canceled_at: str | None = None
    webhooks: list[int] = field(default_factory=list)


class PayosStandIn(LocalServer):
    def __init__(
        self,
        *,
        client_id: str = "payos-test-client-id",
        api_key: str = "payos-test-api-key",
        checksum_key: str = "payos-test-checksum-key-0123456789",
        bank_bin: str = "970436",
        account_number: str = "0011001234567",
        account_name: str = "TTYT HUYEN MOC HOA",
        hang_seconds: float = 1.5,
    ):
        self.client_id = client_id
        self.api_key = api_key
        self.checksum_key = checksum_key
        self.bank_bin = bank_bin
        self.account_number = account_number
        self.account_name = account_name
        self.hang_seconds = hang_seconds
        self.webhook_url = ""
        self.mode = "up"
        self.links: dict[int, PayosLink] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._next_ref = 100_000
        self.port = 0

    # --- lifecycle ----------------------------------------------------------------------------------
    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # --- answers ------------------------------------------------------------------------------------
    def _ok(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {
            "code": "00",
            "desc": "success",
            "data": data,
            "signature": signature_of(data, self.checksum_key),
        }

    @staticmethod
    def _error(code: str, desc: str, status: int = 200) -> tuple[int, dict[str, Any]]:
        return status, {"code": code, "desc": desc, "data": None}

    def _link_data(self, link: PayosLink) -> dict[str, Any]:
        return {
            "id": link.id,
            "orderCode": link.order_code,
            "amount": link.amount,
            "amountPaid": link.amount_paid,
            "amountRemaining": max(link.amount - link.amount_paid, 0),
            "status": link.status,
            "createdAt": link.created_at,
            "transactions": link.transactions,
            "cancellationReason": link.cancellation_reason,
            "canceledAt": link.canceled_at,
        }

    def _find(self, key: str) -> PayosLink | None:
        if key.isdigit() and int(key) in self.links:
            return self.links[int(key)]
        return next((link for link in self.links.values() if link.id == key), None)

    # --- the protocol ---------------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        if headers.get("x-client-id") != self.client_id or headers.get("x-api-key") != self.api_key:
            return self._error("401", "Unauthorized", 401)
        if method == "POST" and path == PAYMENT_REQUESTS:
            return self.create(body)
        if path.startswith(PAYMENT_REQUESTS + "/"):
            rest = path[len(PAYMENT_REQUESTS) + 1 :].split("/")
            link = self._find(rest[0])
            if link is None:
                return self._error("101", "Mã thanh toán không tồn tại")
            if method == "GET" and len(rest) == 1:
                return self._ok(self._link_data(link))
            if method == "POST" and rest[1:] == ["cancel"]:
                with self._lock:
                    if link.status in {"PENDING", "PROCESSING", "UNDERPAID"}:
                        link.status = "CANCELLED"
                        link.cancellation_reason = (body or {}).get("cancellationReason")
                        link.canceled_at = datetime.now(_VN).isoformat(timespec="seconds")
                return self._ok(self._link_data(link))
        return self._error("404", "Not found", 404)

    def create(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return self._error("20", "Thông tin truyền lên không đúng")
        fields = ("amount", "cancelUrl", "description", "orderCode", "returnUrl")
        if any(body.get(name) in (None, "") for name in fields) or not isinstance(body.get("orderCode"), int):
            return self._error("20", "Thông tin truyền lên không đúng")
        raw = "&".join(f"{name}={body[name]}" for name in fields)
        expected = hmac.new(self.checksum_key.encode(), raw.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(body.get("signature", ""))):
            return self._error("20", "Chữ ký không hợp lệ")
        if not isinstance(body["amount"], int) or body["amount"] <= 0 or len(str(body["description"])) > 25:
            return self._error("20", "Thông tin truyền lên không đúng")
        with self._lock:
            if body["orderCode"] in self.links:
                return self._error("231", "Đơn thanh toán đã tồn tại")
            link = PayosLink(
                id=secrets.token_hex(16),
                order_code=body["orderCode"],
                amount=body["amount"],
                description=body["description"],
                return_url=body["returnUrl"],
                cancel_url=body["cancelUrl"],
                expired_at=body.get("expiredAt"),
                qr_code=emvco_payload(
                    bank_bin=self.bank_bin,
                    account_number=self.account_number,
                    amount=body["amount"],
                    purpose=body["description"],
                ),
                created_at=datetime.now(_VN).isoformat(timespec="seconds"),
            )
            self.links[link.order_code] = link
        return self._ok(
            {
                "bin": self.bank_bin,
                "accountNumber": self.account_number,
                "accountName": self.account_name,
                "amount": link.amount,
                "description": link.description,
                "orderCode": link.order_code,
                "currency": "VND",
                "paymentLinkId": link.id,
                "status": link.status,
                "expiredAt": link.expired_at,
                "checkoutUrl": f"{self.base_url}/web/{link.id}",
                "qrCode": link.qr_code,
            }
        )

    # --- the bank transfer and its webhook -----------------------------------------------------------
    def transfer_arrived(
        self, order_code: int, *, amount: int | None = None, send: bool = True
    ) -> dict[str, Any]:
        """A transfer for `order_code` reaches the account: record it and (unless `send` is off) POST the
        signed webhook to `webhook_url`. Returns the webhook body."""
        with self._lock:
            link = self.links[order_code]
            paid = link.amount if amount is None else amount
            self._next_ref += 1
            now = datetime.now(_VN).strftime("%Y-%m-%d %H:%M:%S")
            transaction = {
                "reference": f"FT{self._next_ref}",
                "amount": paid,
                "accountNumber": self.account_number,
                "description": link.description,
                "transactionDateTime": now,
                "virtualAccountName": "",
                "virtualAccountNumber": "",
                "counterAccountBankId": "970415",
                "counterAccountBankName": "",
                "counterAccountName": "NGUYEN VAN A",
                "counterAccountNumber": "0123456789",
            }
            link.transactions.append(transaction)
            link.amount_paid += paid
            link.status = "PAID" if link.amount_paid >= link.amount else "UNDERPAID"
        data = {
            "orderCode": link.order_code,
            "amount": paid,
            "description": link.description,
            "accountNumber": self.account_number,
            "reference": transaction["reference"],
            "transactionDateTime": now,
            "currency": "VND",
            "paymentLinkId": link.id,
            "code": "00",
            "desc": "success",
            "counterAccountBankId": "970415",
            "counterAccountBankName": "",
            "counterAccountName": "NGUYEN VAN A",
            "counterAccountNumber": "0123456789",
            "virtualAccountName": "",
            "virtualAccountNumber": "",
        }
        body = {
            "code": "00",
            "desc": "success",
            "success": True,
            "data": data,
            "signature": signature_of(data, self.checksum_key),
        }
        if send:
            link.webhooks.append(self.post_webhook(body))
        return body

    def post_webhook(self, body: dict[str, Any]) -> int:
        assert self.webhook_url, "set webhook_url (the payment channel's webhook) first"
        request = Request(
            self.webhook_url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urlopen(request, timeout=10) as response:  # noqa: S310 - a local test URL
                return int(response.status)
        except OSError as exc:
            return int(getattr(exc, "code", 0) or 0)


def _handler_for(standin: PayosStandIn) -> type[BaseHTTPRequestHandler]:
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

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if standin.mode == "503":
                self._reply(503, b"<html><body>Service Unavailable</body></html>", "text/html")
                return
            if standin.mode == "timeout":
                time.sleep(standin.hang_seconds)
                self.close_connection = True
                return
            path = urlsplit(self.path).path
            if method == "GET" and path.startswith("/web/"):
                link = standin._find(path[len("/web/") :])
                if link is None:
                    self._reply(404, b"<html><body>Not found</body></html>", "text/html")
                    return
                page = (
                    f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>payOS (stand-in)</title>'
                    f"</head><body><h1>Chuyển khoản {link.amount:,} ₫</h1><p>{standin.account_name}</p>"
                    f"<p>Mã VietQR: <code>{link.qr_code}</code></p></body></html>"
                )
                self._reply(200, page.encode(), "text/html; charset=utf-8")
                return
            try:
                body = json.loads(raw.decode("utf-8")) if raw else None
            except (ValueError, UnicodeDecodeError):
                self._reply(400, b'{"code": "20", "desc": "Bad JSON", "data": null}')
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            standin.requests.append((method, path, body))
            status, answer = standin.handle(method, path, headers, body)
            self._reply(status, json.dumps(answer, ensure_ascii=False).encode())

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

    return Handler


@pytest.fixture
def payos_standin() -> Iterator[PayosStandIn]:
    """The payOS stand-in on 127.0.0.1 with a free port, up."""
    standin = PayosStandIn(hang_seconds=0.8).start()
    try:
        yield standin
    finally:
        standin.stop()
