"""A local stand-in for the VNPay payment gateway (API 2.1.0), for tests, demos and the benchmark.

Written from VNPay's merchant documentation (sandbox.vnpayment.vn/apis/docs: "Thanh toán PAY", "Truy vấn và
hoàn tiền" querydr & refund, the IPN's answer codes) and independent of `health_f0.payments.gateways.vnpay`:
it signs and checks on its own, so a mistake in our module fails against it.

- ``GET /paymentv2/vpcpay.html?vnp_...&vnp_SecureHash=...``: checks the version, command, merchant, amount,
  dates and the HMAC-SHA512 over the sorted, quote_plus-encoded parameters; shows a payment page with "Thanh
  toán" and "Huỷ giao dịch" buttons (POST ``/paymentv2/confirm``). Paying (or cancelling) records the
  transaction, sends the IPN to the merchant's registered IPN URL (``ipn_url``; VNPay calls it by GET with the
  same signed ``vnp_*`` parameters as the return) and redirects the browser to ``vnp_ReturnUrl``.
  ``ipn_mode``: "before_return" (default), "none" (the IPN never comes: query must settle), "twice".
- ``POST /merchant_webapi/api/transaction`` (JSON): ``querydr`` and ``refund`` with the pipe-joined checksum,
  answered with VNPay's fields and checksum. Codes used: 00 ok, 91 transaction not found, 94 duplicate request,
  97 invalid checksum, 02 invalid merchant, 03 invalid data, 95 (refund) amount over what is left.
- ``down(mode)``: "503" (every endpoint answers HTTP 503), "refused" (the port closes), "timeout" (the API
  answers after ``hang_seconds``, longer than the client waits). ``up()`` restores.

Assumptions where the documentation is silent: a cancelled payment answers vnp_ResponseCode 24 with
vnp_TransactionStatus 02; TransactionNo is a 8-digit counter; a refund's vnp_TransactionNo answer is a new
number; partial refunds (03) may add up to the paid amount.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit
from urllib.request import urlopen

from tests.standins.server import LocalServer

PAY_PATH = "/paymentv2/vpcpay.html"
CONFIRM_PATH = "/paymentv2/confirm"
API_PATH = "/merchant_webapi/api/transaction"
_VN = timezone(timedelta(hours=7))

QUERY_FIELDS = [
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
]
QUERY_ANSWER_FIELDS = [
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
]
REFUND_FIELDS = [
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransactionType",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_TransactionNo",
    "vnp_TransactionDate",
    "vnp_CreateBy",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
]
REFUND_ANSWER_FIELDS = [
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
]


def _hmac(secret: str, data: str) -> str:
    return hmac.new(secret.encode(), data.encode("utf-8"), hashlib.sha512).hexdigest()


def sign_query(secret: str, params: dict[str, str]) -> str:
    data = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in sorted(params.items()))
    return _hmac(secret, data)


def sign_pipe(secret: str, names: list[str], values: dict[str, Any]) -> str:
    return _hmac(secret, "|".join(str(values.get(n, "")) for n in names))


def _now() -> str:
    return datetime.now(_VN).strftime("%Y%m%d%H%M%S")


@dataclass
class Transaction:
    tmn_code: str
    reference: str
    amount: int  # VND (not x 100)
    order_info: str
    return_url: str
    create_date: str
    status: str = "01"  # 00 paid, 01 pending, 02 failed
    response_code: str = ""
    transaction_no: str = ""
    pay_date: str = ""
    refunded: int = 0
    refund_request_ids: set[str] = field(default_factory=set)


class VnpayStandIn(LocalServer):
    """Start with ``start()``. ``accounts`` maps vnp_TmnCode -> vnp_HashSecret; ``ipn_url`` is where the IPN
    goes (as registered with VNPay). ``transactions`` by TxnRef; ``ipns`` the IPNs sent (url, status, body)."""

    DEFAULT_DOWN = "503"

    def __init__(self, *, accounts: dict[str, str] | None = None, hang_seconds: float = 1.5):
        self.accounts = dict(accounts or {"HF0TEST1": "VNPAYTESTSECRETKEY0123456789ABCD"})
        self.hang_seconds = hang_seconds
        self.ipn_url = ""
        self.ipn_mode = "before_return"
        self.mode = "up"
        self.transactions: dict[str, Transaction] = {}
        self.ipns: list[dict[str, Any]] = []
        self.api_requests: list[dict[str, Any]] = []
        self._counter = 14000000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def pay_url(self) -> str:
        return self.base_url + PAY_PATH

    @property
    def api_url(self) -> str:
        return self.base_url + API_PATH

    @property
    def tmn_code(self) -> str:
        return next(iter(self.accounts))

    @property
    def secret(self) -> str:
        return self.accounts[self.tmn_code]

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # --- paying ----------------------------------------------------------------------------------
    def open_payment(self, url: str) -> Transaction:
        """What the payment page does with a payment URL: check it and record the transaction (pending)."""
        params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        return self._open(params)

    def _open(self, params: dict[str, str]) -> Transaction:
        given = params.pop("vnp_SecureHash", "")
        params.pop("vnp_SecureHashType", None)
        tmn = params.get("vnp_TmnCode", "")
        if tmn not in self.accounts:
            raise ValueError("02: invalid merchant")
        if not hmac.compare_digest(sign_query(self.accounts[tmn], params), given.lower()):
            raise ValueError("97: invalid signature")
        if params.get("vnp_Version") != "2.1.0" or params.get("vnp_Command") != "pay":
            raise ValueError("03: invalid version or command")
        amount = params.get("vnp_Amount", "")
        if not amount.isdigit() or int(amount) % 100 or int(amount) < 5_000 * 100:
            raise ValueError("03: invalid amount")
        for name in ("vnp_TxnRef", "vnp_ReturnUrl", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo"):
            if not params.get(name):
                raise ValueError(f"03: missing {name}")
        expire = params.get("vnp_ExpireDate", "")
        if expire and expire < _now():
            raise ValueError("11: payment expired")
        with self._lock:
            known = self.transactions.get(params["vnp_TxnRef"])
            if known and known.status == "00":
                raise ValueError("02: order already paid")
            txn = Transaction(
                tmn_code=tmn,
                reference=params["vnp_TxnRef"],
                amount=int(amount) // 100,
                order_info=params["vnp_OrderInfo"],
                return_url=params["vnp_ReturnUrl"],
                create_date=params["vnp_CreateDate"],
            )
            self.transactions[txn.reference] = txn
        return txn

    def complete(self, reference: str, *, paid: bool = True) -> dict[str, str]:
        """The patient pays (or cancels) at the page: the transaction is final; returns the signed result
        parameters VNPay sends to both the return URL and the IPN."""
        with self._lock:
            txn = self.transactions[reference]
            self._counter += 1
            txn.transaction_no = str(self._counter) if paid else "0"
            txn.status = "00" if paid else "02"
            txn.response_code = "00" if paid else "24"
            txn.pay_date = _now()
        return self.result_params(txn)

    def result_params(self, txn: Transaction, **override: str) -> dict[str, str]:
        """The signed parameters of a result (override fields to forge one; the signature follows them)."""
        params = {
            "vnp_Amount": str(txn.amount * 100),
            "vnp_BankCode": "NCB",
            "vnp_BankTranNo": f"VNP{txn.transaction_no}" if txn.status == "00" else "",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": txn.order_info,
            "vnp_PayDate": txn.pay_date,
            "vnp_ResponseCode": txn.response_code,
            "vnp_TmnCode": txn.tmn_code,
            "vnp_TransactionNo": txn.transaction_no,
            "vnp_TransactionStatus": txn.status,
            "vnp_TxnRef": txn.reference,
        }
        params.update(override)
        secret = self.accounts.get(params["vnp_TmnCode"], self.secret)
        params["vnp_SecureHashType"] = "HmacSHA512"
        params["vnp_SecureHash"] = sign_query(
            secret, {k: v for k, v in params.items() if k != "vnp_SecureHashType"}
        )
        return params

    def pay(self, url: str, *, paid: bool = True, send_ipn: bool = False) -> dict[str, str]:
        """Open a payment URL and pay (or cancel) it without a browser; optionally send the IPN."""
        txn = self.open_payment(url)
        params = self.complete(txn.reference, paid=paid)
        if send_ipn:
            self.send_ipn(params)
        return params

    def send_ipn(self, params: dict[str, str]) -> dict[str, Any]:
        assert self.ipn_url, "set ipn_url (the merchant's registered IPN address)"
        url = self.ipn_url + "?" + urlencode(params)
        with urlopen(url, timeout=10) as response:  # noqa: S310 - a local test URL
            status, body = int(response.status), response.read().decode()
        record = {"url": url, "status": status, "body": json.loads(body) if body.startswith("{") else body}
        self.ipns.append(record)
        return record

    # --- querydr and refund ----------------------------------------------------------------------
    def handle_api(self, raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw.decode("utf-8"))
            assert isinstance(data, dict)
        except (ValueError, UnicodeDecodeError, AssertionError):
            return {"vnp_ResponseCode": "99", "vnp_Message": "Invalid request"}
        values = {k: "" if v is None else str(v) for k, v in data.items()}
        self.api_requests.append(values)
        command = values.get("vnp_Command", "")
        tmn = values.get("vnp_TmnCode", "")
        if tmn not in self.accounts:
            return {"vnp_ResponseCode": "02", "vnp_Message": "Invalid TmnCode"}
        secret = self.accounts[tmn]
        names = QUERY_FIELDS if command == "querydr" else REFUND_FIELDS if command == "refund" else None
        if names is None:
            return {"vnp_ResponseCode": "03", "vnp_Message": "Invalid command"}
        if not hmac.compare_digest(
            sign_pipe(secret, names, values), values.get("vnp_SecureHash", "").lower()
        ):
            return {"vnp_ResponseCode": "97", "vnp_Message": "Invalid checksum"}
        with self._lock:
            txn = self.transactions.get(values.get("vnp_TxnRef", ""))
            if txn is None or txn.tmn_code != tmn:
                return {"vnp_ResponseCode": "91", "vnp_Message": "Transaction not found"}
            if command == "querydr":
                return self._answer(
                    secret, txn, QUERY_ANSWER_FIELDS, command, values, "00", "QueryDR Success"
                )
            request_id = values.get("vnp_RequestId", "")
            if request_id in txn.refund_request_ids:
                return {"vnp_ResponseCode": "94", "vnp_Message": "Duplicate request"}
            amount = values.get("vnp_Amount", "")
            if txn.status != "00" or not amount.isdigit():
                return {"vnp_ResponseCode": "03", "vnp_Message": "Invalid data"}
            if txn.refunded + int(amount) // 100 > txn.amount:
                return {"vnp_ResponseCode": "95", "vnp_Message": "Refund amount exceeds the transaction"}
            txn.refund_request_ids.add(request_id)
            txn.refunded += int(amount) // 100
            self._counter += 1
            answer = self._answer(secret, txn, REFUND_ANSWER_FIELDS, command, values, "00", "Refund success")
            return answer

    def _answer(
        self,
        secret: str,
        txn: Transaction,
        names: list[str],
        command: str,
        values: dict[str, str],
        code: str,
        msg: str,
    ) -> dict[str, Any]:
        refund = command == "refund"
        answer: dict[str, Any] = {
            "vnp_ResponseId": f"{time.time_ns():x}",
            "vnp_Command": command,
            "vnp_ResponseCode": code,
            "vnp_Message": msg,
            "vnp_TmnCode": txn.tmn_code,
            "vnp_TxnRef": txn.reference,
            "vnp_Amount": values["vnp_Amount"] if refund else str(txn.amount * 100),
            "vnp_BankCode": "NCB",
            "vnp_PayDate": txn.pay_date,
            "vnp_TransactionNo": str(self._counter) if refund else txn.transaction_no,
            "vnp_TransactionType": values.get("vnp_TransactionType", "01") if refund else "01",
            "vnp_TransactionStatus": "05" if refund else txn.status,
            "vnp_OrderInfo": txn.order_info,
        }
        if not refund:
            answer.update(vnp_PromotionCode="", vnp_PromotionAmount="")
        answer["vnp_SecureHash"] = sign_pipe(secret, names, answer)
        return answer

    # --- the payment page ------------------------------------------------------------------------
    def page(self, txn: Transaction) -> str:
        amount = f"{txn.amount:,}".replace(",", ".")
        ref = html.escape(txn.reference)
        return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>VNPAY (stand-in)</title>
<style>body{{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#1f2937}}
.box{{border:1px solid #d1d5db;border-radius:.5rem;padding:1rem}}button{{font-size:1rem;padding:.6rem 1rem;
margin:.3rem .3rem 0 0;border-radius:.4rem;border:1px solid #005baa}}.pay{{background:#005baa;color:#fff}}</style>
</head><body><main><h1>Cổng thanh toán VNPAY (giả lập)</h1><div class="box">
<p>Đơn vị: <strong>{html.escape(txn.tmn_code)}</strong></p><p>Mã giao dịch: <strong>{ref}</strong></p>
<p>Nội dung: {html.escape(txn.order_info)}</p><p>Số tiền: <strong>{amount} VND</strong></p>
<form method="post" action="{CONFIRM_PATH}"><input type="hidden" name="ref" value="{ref}">
<button class="pay" name="action" value="pay">Thanh toán</button>
<button name="action" value="cancel">Huỷ giao dịch</button></form></div></main></body></html>"""

    def confirm(self, reference: str, paid: bool) -> str:
        params = self.complete(reference, paid=paid)
        if self.ipn_url and self.ipn_mode in {"before_return", "twice"}:
            self.send_ipn(params)
            if self.ipn_mode == "twice":
                self.send_ipn(params)
        return self.transactions[reference].return_url + "?" + urlencode(params)


def _handler_for(standin: VnpayStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return

        def _send(self, status: int, body: str, content_type: str = "text/html; charset=utf-8") -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _unavailable(self) -> bool:
            if standin.mode == "503":
                self._send(503, "<html><body>Service Unavailable</body></html>")
                return True
            if standin.mode == "timeout":
                time.sleep(standin.hang_seconds)
            return False

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self._unavailable():
                return
            split = urlsplit(self.path)
            if split.path != PAY_PATH:
                self._send(404, "not found")
                return
            try:
                txn = standin._open(dict(parse_qsl(split.query, keep_blank_values=True)))
            except ValueError as exc:
                self._send(
                    400, f"<!doctype html><html lang='vi'><body><h1>Lỗi</h1><p>{html.escape(str(exc))}</p>"
                )
                return
            self._send(200, standin.page(txn))

        def do_POST(self) -> None:  # noqa: N802
            if self._unavailable():
                return
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == API_PATH:
                self._send(200, json.dumps(standin.handle_api(raw)), "application/json")
                return
            if self.path == CONFIRM_PATH:
                form = dict(parse_qsl(raw.decode()))
                if form.get("ref") not in standin.transactions:
                    self._send(404, "not found")
                    return
                target = standin.confirm(form["ref"], paid=form.get("action") == "pay")
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send(404, "not found")

    return Handler
