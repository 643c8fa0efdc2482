"""A local stand-in for MoMo's All-In-One payment gateway (API v2, captureWallet), for tests and demos.

It speaks the protocol MoMo documents (developers.momo.vn: one-time wallet payment, IPN, query, refund, result
codes), with its own implementation of the signatures (not the gateway module's), so a mistake in either shows:

- ``POST /v2/gateway/api/create``: JSON partnerCode, requestId, amount, orderId, orderInfo, redirectUrl, ipnUrl,
  requestType "captureWallet", extraData, lang, [orderExpireTime], signature (HMAC-SHA256 over ``accessKey=…&amount=…
  &extraData=…&ipnUrl=…&orderId=…&orderInfo=…&partnerCode=…&redirectUrl=…&requestId=…&requestType=…``). Answers
  ``{partnerCode, requestId, orderId, amount, responseTime, message, resultCode: 0, payUrl, deeplink, qrCodeUrl}``,
  or resultCode 13 (unknown partner / bad signature), 20 (bad format), 21/22 (amount), 40 (requestId used),
  41 (orderId used).
- ``GET /v2/gateway/pay?t=<token>``: the payment page, with "Thanh toán" and "Hủy" buttons; a POST of that form
  settles the payment (resultCode 0, or 1006 refused by the user), POSTs the signed IPN to ipnUrl (JSON) and
  redirects the browser (303) to redirectUrl with the same signed fields as query parameters.
- ``POST /v2/gateway/api/query``: signature over ``accessKey&orderId&partnerCode&requestId``; answers the order's
  resultCode (1000 while waiting), amount, transId, payType, refundTrans, lastUpdated; 42 when unknown.
- ``POST /v2/gateway/api/refund``: signature over ``accessKey&amount&description&orderId&partnerCode&requestId&
  transId``; a paid transId and an amount within what is left → resultCode 0 and a new transId; else 1088
  (not refundable / too much) or 41 (refund orderId used).

Assumptions where the documentation is silent: the query answer's signature is made over accessKey, amount,
extraData, message, orderId, partnerCode, payType, requestId, responseTime, resultCode, transId (our gateway does
not check it); the pay page is plain HTML.

Switches: ``down("refused" | "503" | "timeout")`` / ``up()``; ``refuse_code = <resultCode>`` makes create, query
and refund answer that code; ``send_ipn = False`` settles without calling ipnUrl (a lost IPN).
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
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from urllib.request import Request, urlopen

import pytest

from tests.standins.server import LocalServer

CREATE_PATH = "/v2/gateway/api/create"
QUERY_PATH = "/v2/gateway/api/query"
REFUND_PATH = "/v2/gateway/api/refund"
PAY_PATH = "/v2/gateway/pay"

_CREATE_RAW = "accessKey={accessKey}&amount={amount}&extraData={extraData}&ipnUrl={ipnUrl}&orderId={orderId}&orderInfo={orderInfo}&partnerCode={partnerCode}&redirectUrl={redirectUrl}&requestId={requestId}&requestType={requestType}"
_RESULT_RAW = "accessKey={accessKey}&amount={amount}&extraData={extraData}&message={message}&orderId={orderId}&orderInfo={orderInfo}&orderType={orderType}&partnerCode={partnerCode}&payType={payType}&requestId={requestId}&responseTime={responseTime}&resultCode={resultCode}&transId={transId}"
_QUERY_RAW = "accessKey={accessKey}&orderId={orderId}&partnerCode={partnerCode}&requestId={requestId}"
_QUERY_ANSWER_RAW = "accessKey={accessKey}&amount={amount}&extraData={extraData}&message={message}&orderId={orderId}&partnerCode={partnerCode}&payType={payType}&requestId={requestId}&responseTime={responseTime}&resultCode={resultCode}&transId={transId}"
_REFUND_RAW = "accessKey={accessKey}&amount={amount}&description={description}&orderId={orderId}&partnerCode={partnerCode}&requestId={requestId}&transId={transId}"
_MESSAGES = {
    0: "Thành công.",
    1000: "Giao dịch đã được khởi tạo, chờ người dùng xác nhận thanh toán.",
    1006: "Giao dịch bị từ chối bởi người dùng.",
    13: "Xác thực doanh nghiệp thất bại.",
    20: "Yêu cầu sai định dạng.",
    21: "Số tiền giao dịch không hợp lệ.",
    22: "Số tiền giao dịch nằm ngoài phạm vi cho phép.",
    40: "RequestId bị trùng.",
    41: "OrderId bị trùng.",
    42: "OrderId không hợp lệ hoặc không được tìm thấy.",
    1088: "Giao dịch gốc không đủ điều kiện hoàn tiền.",
    99: "Lỗi không xác định.",
}


@dataclass
class MomoOrder:
    order_id: str
    request_id: str
    amount: int
    order_info: str
    redirect_url: str
    ipn_url: str
    extra_data: str
    token: str
    result_code: int = 1000  # initiated, waiting for the user
    trans_id: int = 0
    pay_type: str = ""
    response_time: int = 0
    refunded: int = 0
    refunds: list[dict[str, Any]] = field(default_factory=list)
    ipn_status: list[int] = field(default_factory=list)


class MomoStandIn(LocalServer):
    def __init__(
        self,
        *,
        partner_code: str = "MOMOHF0TEST",
        access_key: str = "momo-test-access-key",
        secret_key: str = "momo-test-secret-key-0123456789",
        hang_seconds: float = 1.5,
    ):
        self.partner_code = partner_code
        self.access_key = access_key
        self.secret_key = secret_key
        self.hang_seconds = hang_seconds
        self.mode = "up"
        self.refuse_code: int | None = None
        self.send_ipn = True
        self.orders: dict[str, MomoOrder] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._request_ids: set[str] = set()
        self._by_token: dict[str, MomoOrder] = {}
        self._next_trans = 3_000_000_000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    # --- lifecycle ----------------------------------------------------------------------------------
    @property
    def create_url(self) -> str:
        return self.base_url + CREATE_PATH

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # --- signatures (MoMo's documented raw strings) -------------------------------------------------
    def _sign(self, template: str, values: dict[str, Any]) -> str:
        raw = template.format(
            **{k: "" if v is None else v for k, v in {**values, "accessKey": self.access_key}.items()}
        )
        return hmac.new(self.secret_key.encode(), raw.encode(), hashlib.sha256).hexdigest()

    def _answer(self, **fields: Any) -> dict[str, Any]:
        code = fields.get("resultCode", 0)
        return {
            "partnerCode": self.partner_code,
            "responseTime": int(time.time() * 1000),
            "message": _MESSAGES.get(code, "Lỗi."),
            **fields,
        }

    # --- create -------------------------------------------------------------------------------------
    def handle_create(self, body: dict[str, Any]) -> dict[str, Any]:
        base = {k: body.get(k) for k in ("requestId", "orderId", "amount")}
        if self.refuse_code is not None:
            return self._answer(**base, resultCode=self.refuse_code)
        needed = [
            "partnerCode",
            "requestId",
            "amount",
            "orderId",
            "orderInfo",
            "redirectUrl",
            "ipnUrl",
            "requestType",
            "extraData",
            "signature",
        ]
        if any(body.get(name) is None for name in needed) or body.get("requestType") != "captureWallet":
            return self._answer(**base, resultCode=20)
        if body["partnerCode"] != self.partner_code or not hmac.compare_digest(
            self._sign(_CREATE_RAW, body), str(body["signature"])
        ):
            return self._answer(**base, resultCode=13)
        if not isinstance(body["amount"], int):
            return self._answer(**base, resultCode=21)
        if not 1_000 <= body["amount"] <= 50_000_000:
            return self._answer(**base, resultCode=22)
        with self._lock:
            if body["requestId"] in self._request_ids:
                return self._answer(**base, resultCode=40)
            self._request_ids.add(body["requestId"])
            if body["orderId"] in self.orders:
                return self._answer(**base, resultCode=41)
            token = secrets.token_urlsafe(16)
            order = MomoOrder(
                order_id=body["orderId"],
                request_id=body["requestId"],
                amount=body["amount"],
                order_info=body["orderInfo"],
                redirect_url=body["redirectUrl"],
                ipn_url=body["ipnUrl"],
                extra_data=body["extraData"],
                token=token,
            )
            self.orders[order.order_id] = order
            self._by_token[token] = order
        return self._answer(
            **base,
            resultCode=0,
            payUrl=f"{self.base_url}{PAY_PATH}?t={token}",
            deeplink=f"momo://app?action=payWithApp&t={token}",
            qrCodeUrl=f"{self.base_url}{PAY_PATH}/app?isScanQr=true&t={token}",
        )

    # --- the patient pays (or not) ------------------------------------------------------------------
    def result_fields(self, order: MomoOrder) -> dict[str, Any]:
        """The signed result MoMo sends to ipnUrl and appends to redirectUrl."""
        fields: dict[str, Any] = {
            "partnerCode": self.partner_code,
            "orderId": order.order_id,
            "requestId": order.request_id,
            "amount": order.amount,
            "orderInfo": order.order_info,
            "orderType": "momo_wallet",
            "transId": order.trans_id,
            "resultCode": order.result_code,
            "message": _MESSAGES.get(order.result_code, "Lỗi."),
            "payType": order.pay_type,
            "responseTime": order.response_time,
            "extraData": order.extra_data,
        }
        fields["signature"] = self._sign(_RESULT_RAW, fields)
        return fields

    def settle(self, order_id: str, *, paid: bool = True, result_code: int | None = None) -> str:
        """The patient confirms (or refuses) in the MoMo app: settle the order, send the IPN unless
        `send_ipn` is off, and answer the URL the browser is sent back to."""
        with self._lock:
            order = self.orders[order_id]
            if order.result_code == 1000:
                order.result_code = result_code if result_code is not None else (0 if paid else 1006)
                order.pay_type = "qr"
                order.response_time = int(time.time() * 1000)
                if order.result_code == 0:
                    order.trans_id = self._next_trans
                    self._next_trans += 1
        if self.send_ipn:
            self.post_ipn(order)
        return self.return_url(order)

    def return_url(self, order: MomoOrder) -> str:
        fields = {k: str(v) for k, v in self.result_fields(order).items()}
        sep = "&" if urlsplit(order.redirect_url).query else "?"
        return order.redirect_url + sep + urlencode(fields)

    def post_ipn(self, order: MomoOrder, fields: dict[str, Any] | None = None) -> int:
        """POST the IPN (JSON) to the order's ipnUrl; returns the HTTP status our side answered."""
        body = json.dumps(fields or self.result_fields(order)).encode()
        request = Request(
            order.ipn_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urlopen(request, timeout=10) as response:  # noqa: S310 - a local test URL
                status = int(response.status)
        except OSError as exc:
            status = int(getattr(exc, "code", 0) or 0)
        order.ipn_status.append(status)
        return status

    # --- query and refund ---------------------------------------------------------------------------
    def handle_query(self, body: dict[str, Any]) -> dict[str, Any]:
        base = {"requestId": body.get("requestId"), "orderId": body.get("orderId")}
        if self.refuse_code is not None:
            return self._answer(**base, resultCode=self.refuse_code)
        if any(body.get(k) is None for k in ("partnerCode", "requestId", "orderId", "signature")):
            return self._answer(**base, resultCode=20)
        if body["partnerCode"] != self.partner_code or not hmac.compare_digest(
            self._sign(_QUERY_RAW, body), str(body["signature"])
        ):
            return self._answer(**base, resultCode=13)
        order = self.orders.get(str(body["orderId"]))
        if order is None:
            return self._answer(**base, resultCode=42)
        answer = self._answer(
            **base,
            extraData=order.extra_data,
            amount=order.amount,
            transId=order.trans_id,
            payType=order.pay_type,
            resultCode=order.result_code,
            refundTrans=order.refunds,
            lastUpdated=order.response_time or int(time.time() * 1000),
        )
        answer["signature"] = self._sign(_QUERY_ANSWER_RAW, answer)
        return answer

    def handle_refund(self, body: dict[str, Any]) -> dict[str, Any]:
        base = {k: body.get(k) for k in ("requestId", "orderId", "amount", "transId")}
        if self.refuse_code is not None:
            return self._answer(**base, resultCode=self.refuse_code)
        needed = ("partnerCode", "orderId", "requestId", "amount", "transId", "description", "signature")
        if any(body.get(k) is None for k in needed):
            return self._answer(**base, resultCode=20)
        if body["partnerCode"] != self.partner_code or not hmac.compare_digest(
            self._sign(_REFUND_RAW, body), str(body["signature"])
        ):
            return self._answer(**base, resultCode=13)
        with self._lock:
            if body["requestId"] in self._request_ids:
                return self._answer(**base, resultCode=40)
            self._request_ids.add(body["requestId"])
            if body["orderId"] in self.orders or any(
                r["orderId"] == body["orderId"] for o in self.orders.values() for r in o.refunds
            ):
                return self._answer(**base, resultCode=41)
            paid = [o for o in self.orders.values() if o.trans_id and o.trans_id == body["transId"]]
            amount = body["amount"]
            if not paid or paid[0].result_code != 0 or not isinstance(amount, int):
                return self._answer(**base, resultCode=1088)
            order = paid[0]
            if amount <= 0 or order.refunded + amount > order.amount:
                return self._answer(**base, resultCode=1088)
            order.refunded += amount
            refund_trans = self._next_trans
            self._next_trans += 1
            order.refunds.append(
                {"orderId": body["orderId"], "amount": amount, "resultCode": 0, "transId": refund_trans}
            )
        return self._answer(**{**base, "transId": refund_trans}, resultCode=0)

    def order_by_token(self, token: str) -> MomoOrder | None:
        return self._by_token.get(token)


def _pay_page(order: MomoOrder) -> bytes:
    amount = f"{order.amount:,}".replace(",", ".")
    html = f"""<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>MoMo (stand-in)</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:28rem;margin:2rem auto">
<h1>Thanh toán bằng ví MoMo</h1>
<p>Đơn hàng: <strong>{escape(order.order_id)}</strong></p>
<p>{escape(order.order_info)}</p>
<p>Số tiền: <strong>{amount} ₫</strong></p>
<form method="post" action="{PAY_PATH}"><input type="hidden" name="t" value="{escape(order.token)}">
<button type="submit" name="action" value="pay">Thanh toán</button>
<button type="submit" name="action" value="cancel">Hủy</button></form></body></html>"""
    return html.encode()


def _handler_for(standin: MomoStandIn) -> type[BaseHTTPRequestHandler]:
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

        def _outage(self) -> bool:
            if standin.mode == "503":
                self._reply(503, b"<html><body>Service Unavailable</body></html>", "text/html")
                return True
            if standin.mode == "timeout":
                time.sleep(standin.hang_seconds)
                self.close_connection = True
                return True
            return False

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self._outage():
                return
            url = urlsplit(self.path)
            order = standin.order_by_token((parse_qs(url.query).get("t") or [""])[0])
            if url.path != PAY_PATH or order is None:
                self._reply(404, b"<html><body>Not found</body></html>", "text/html")
                return
            self._reply(200, _pay_page(order), "text/html; charset=utf-8")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self._outage():
                return
            path = urlsplit(self.path).path
            if path == PAY_PATH:
                form = parse_qs(raw.decode("utf-8", "replace"))
                order = standin.order_by_token((form.get("t") or [""])[0])
                if order is None:
                    self._reply(404, b"<html><body>Not found</body></html>", "text/html")
                    return
                target = standin.settle(order.order_id, paid=(form.get("action") or [""])[0] == "pay")
                self.send_response(303)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            try:
                body = json.loads(raw.decode("utf-8"))
                if not isinstance(body, dict):
                    raise ValueError
            except (ValueError, UnicodeDecodeError):
                self._reply(400, json.dumps({"resultCode": 20, "message": "Bad format"}).encode())
                return
            handlers = {
                CREATE_PATH: standin.handle_create,
                QUERY_PATH: standin.handle_query,
                REFUND_PATH: standin.handle_refund,
            }
            if path not in handlers:
                self._reply(404, b'{"resultCode": 99, "message": "Not found"}')
                return
            standin.requests.append((path, body))
            self._reply(200, json.dumps(handlers[path](body), ensure_ascii=False).encode())

    return Handler


@pytest.fixture
def momo_standin() -> Iterator[MomoStandIn]:
    """The MoMo stand-in on 127.0.0.1 with a free port, up."""
    standin = MomoStandIn(hang_seconds=0.8).start()
    try:
        yield standin
    finally:
        standin.stop()
