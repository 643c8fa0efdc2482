"""VNPay payment gateway, API version 2.1.0 (sandbox.vnpayment.vn/apis/docs: "thanh-toan-pay/pay.html" and
"truy-van-hoan-tien/querydr&refund.html").

- Pay: the patient's browser goes to the payment page (`GatewayConfig.api_url`, e.g.
  https://sandbox.vnpayment.vn/paymentv2/vpcpay.html) with `vnp_*` query parameters, sorted by name and
  URL-encoded (`quote_plus`), signed `vnp_SecureHash` = HMAC-SHA512(vnp_HashSecret, that same query string).
  `vnp_Amount` is the amount x 100; dates are yyyyMMddHHmmss in GMT+7.
- Return and IPN: VNPay sends the result as signed `vnp_*` query parameters to the browser's return URL and,
  server to server, to the IPN URL registered with VNPay (the IPN, not the return, settles the order). The IPN
  wants a JSON answer `{"RspCode": "..", "Message": ".."}`: 00 confirmed, 01 order not found, 02 already
  confirmed, 04 invalid amount, 97 invalid signature, 99 unknown error.
- querydr and refund: JSON POSTs to the API endpoint (`GatewayConfig.api_url_2`, e.g.
  https://sandbox.vnpayment.vn/merchant_webapi/api/transaction) with `vnp_SecureHash` = HMAC-SHA512 over the
  fields joined by "|" in the order VNPay's 2.1.0 specification lists them (QUERY_FIELDS, REFUND_FIELDS; the
  answer's checksum likewise, QUERY_ANSWER_FIELDS, REFUND_ANSWER_FIELDS).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import requests
from django.conf import settings

from health_f0.payments.gateways.base import (
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

VERSION = "2.1.0"
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DATE_FORMAT = "%Y%m%d%H%M%S"
SIGNATURE_FIELDS = ("vnp_SecureHash", "vnp_SecureHashType")

QUERY_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
QUERY_ANSWER_FIELDS = (
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
)
REFUND_FIELDS = (
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
)
REFUND_ANSWER_FIELDS = (
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
)

# Our result code -> the IPN answer VNPay expects.
IPN_ANSWERS: dict[str, tuple[str, str]] = {
    "ok": ("00", "Confirm Success"),
    "not_found": ("01", "Order not found"),
    "already": ("02", "Order already confirmed"),
    "bad_amount": ("04", "invalid amount"),
    "bad_signature": ("97", "Invalid signature"),
    "error": ("99", "Unknown error"),
}

# querydr's vnp_TransactionStatus: 00 paid; 01 not finished; 02 failed; 04 reversed (the bank took the money,
# VNPay not yet: not final); 05/06 a refund in progress and 09 a refund refused (all of a paid transaction);
# 07 held as suspected fraud (not final).
_QUERY_STATUS = {
    "00": Outcome.PAID,
    "01": Outcome.PENDING,
    "02": Outcome.FAILED,
    "04": Outcome.PENDING,
    "05": Outcome.PAID,
    "06": Outcome.PAID,
    "07": Outcome.PENDING,
    "09": Outcome.PAID,
}
# Refund answers: 00 taken; 94 a request with this id is already being processed (our retry of a refund whose
# first answer was lost), which is the gateway holding our refund as well.
_REFUND_TAKEN = {"00", "94"}


def vnp_date(moment: datetime) -> str:
    return moment.astimezone(VN_TZ).strftime(DATE_FORMAT)


def parse_vnp_date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=VN_TZ)
    except (TypeError, ValueError):
        return None


def hmac_sha512(secret: str, data: str) -> str:
    return hmac.new(secret.encode(), data.encode("utf-8"), hashlib.sha512).hexdigest()


def query_string(params: Mapping[str, Any]) -> str:
    """Sorted by name, keys and values URL-encoded as VNPay 2.1.0 signs them (quote_plus: a space is '+')."""
    return "&".join(f"{quote_plus(str(k))}={quote_plus(str(v))}" for k, v in sorted(params.items()))


def sign_params(secret: str, params: Mapping[str, Any]) -> str:
    return hmac_sha512(secret, query_string(params))


def sign_fields(secret: str, fields: tuple[str, ...], values: Mapping[str, Any]) -> str:
    return hmac_sha512(secret, "|".join(str(values.get(name, "")) for name in fields))


def _same(expected: str, given: Any) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.lower(), given.strip().lower())


def _amount(raw: Any) -> int:
    text = str(raw or "").strip()
    if not text.isdigit() or int(text) % 100:
        raise ValueError("vnp_Amount")
    return int(text) // 100


class VNPayGateway(Gateway):
    name = "vnpay"

    # --- pay ------------------------------------------------------------------------------------------

    def payment_params(self, request: PaymentRequest) -> dict[str, str]:
        return {
            "vnp_Version": VERSION,
            "vnp_Command": "pay",
            "vnp_TmnCode": self.config.merchant_code,
            "vnp_Amount": str(request.amount * 100),
            "vnp_CurrCode": "VND",
            "vnp_TxnRef": request.reference,
            "vnp_OrderInfo": request.description[:255],
            "vnp_OrderType": "other",
            "vnp_Locale": "en" if request.locale == "en" else "vn",
            "vnp_ReturnUrl": request.return_url,
            "vnp_IpAddr": request.client_ip or "127.0.0.1",
            "vnp_CreateDate": vnp_date(request.created_at),
            "vnp_ExpireDate": vnp_date(request.expires_at),
        }

    def create(self, request: PaymentRequest) -> Started:
        """VNPay has no create call: the signed payment URL is the request (nothing to reach yet)."""
        if not (self.config.api_url and self.config.merchant_code and self.config.secret):
            raise GatewayError("VNPay account not configured")
        params = self.payment_params(request)
        query = query_string(params)
        signature = hmac_sha512(self.config.secret, query)
        return Started(redirect_url=f"{self.config.api_url}?{query}&vnp_SecureHash={signature}")

    # --- return and IPN -------------------------------------------------------------------------------

    def parse_notification(self, params: Mapping[str, Any]) -> Callback:
        fields = {k: str(v) for k, v in params.items() if str(k).startswith("vnp_")}
        given = fields.pop("vnp_SecureHash", "")
        fields.pop("vnp_SecureHashType", None)
        if not given or not _same(sign_params(self.config.secret, fields), given):
            raise BadSignature("vnp_SecureHash")
        reference = fields.get("vnp_TxnRef", "").strip()
        if not reference:
            raise ValueError("vnp_TxnRef")
        response = fields.get("vnp_ResponseCode", "")
        status = fields.get("vnp_TransactionStatus", response)
        paid = response == "00" and status == "00"
        return Callback(
            reference=reference,
            amount=_amount(fields.get("vnp_Amount")),
            outcome=Outcome.PAID if paid else Outcome.FAILED,
            gateway_ref=fields.get("vnp_TransactionNo", "")[:64],
            gateway_code=response[:16],
            paid_at=parse_vnp_date(fields.get("vnp_PayDate", "")) if paid else None,
            raw=fields,
            merchant_code=fields.get("vnp_TmnCode", ""),
        )

    def notification_answer(self, code: str) -> tuple[int, Any]:
        rsp, message = IPN_ANSWERS.get(code, IPN_ANSWERS["error"])
        return 200, {"RspCode": rsp, "Message": message}

    # --- querydr and refund ---------------------------------------------------------------------------

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.config.api_url_2:
            raise GatewayError("VNPay API URL not configured")
        timeout = settings.PAYMENT_GATEWAY_TIMEOUT
        try:
            response = requests.post(self.config.api_url_2, json=body, timeout=timeout)
        except requests.ConnectTimeout as exc:
            raise GatewayError("VNPay unreachable (connect timeout)") from exc
        except requests.ConnectionError as exc:
            # Refused or dropped: a dropped connection may have carried the request.
            raise GatewayError("VNPay unreachable", maybe_done="Connection aborted" in str(exc)) from exc
        except requests.Timeout as exc:
            raise GatewayError("VNPay did not answer in time", maybe_done=True) from exc
        if response.status_code != 200:
            raise GatewayError(f"VNPay answered HTTP {response.status_code}", maybe_done=True)
        try:
            answer = response.json()
        except ValueError as exc:
            raise GatewayError("VNPay answered something unreadable", maybe_done=True) from exc
        if not isinstance(answer, dict):
            raise GatewayError("VNPay answered something unreadable", maybe_done=True)
        return {k: "" if v is None else str(v) for k, v in answer.items()}

    def _checked(self, answer: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
        if not _same(sign_fields(self.config.secret, fields, answer), answer.get("vnp_SecureHash")):
            raise GatewayError("VNPay answer with an invalid checksum", maybe_done=True)
        return answer

    def query(self, request: PaymentRequest) -> QueryResult:
        body = {
            "vnp_RequestId": secrets.token_hex(16),
            "vnp_Version": VERSION,
            "vnp_Command": "querydr",
            "vnp_TmnCode": self.config.merchant_code,
            "vnp_TxnRef": request.reference,
            "vnp_OrderInfo": f"Tra cuu {request.reference}",
            "vnp_TransactionDate": vnp_date(request.created_at),
            "vnp_CreateDate": vnp_date(datetime.now(VN_TZ)),
            "vnp_IpAddr": request.client_ip or "127.0.0.1",
        }
        body["vnp_SecureHash"] = sign_fields(self.config.secret, QUERY_FIELDS, body)
        answer = self._post(body)
        code = answer.get("vnp_ResponseCode", "")
        if code == "91":  # no such transaction at VNPay
            return QueryResult(reference=request.reference, outcome=Outcome.UNKNOWN, gateway_code=code)
        self._checked(answer, QUERY_ANSWER_FIELDS)
        if code != "00":
            raise GatewayError(f"VNPay querydr refused ({code})")
        status = answer.get("vnp_TransactionStatus", "")
        outcome = _QUERY_STATUS.get(status, Outcome.FAILED)
        try:
            amount = _amount(answer.get("vnp_Amount"))
        except ValueError:
            amount = 0
        return QueryResult(
            reference=answer.get("vnp_TxnRef", request.reference),
            outcome=outcome,
            amount=amount,
            gateway_ref=answer.get("vnp_TransactionNo", "")[:64],
            gateway_code=status[:16],
            paid_at=parse_vnp_date(answer.get("vnp_PayDate", "")) if outcome == Outcome.PAID else None,
        )

    def refund(
        self, request: PaymentRequest, *, amount: int, refund_reference: str, reason: str, gateway_ref: str
    ) -> RefundResult:
        body = {
            # The refund's own reference: a retry after a lost answer sends the same id (answered 94).
            "vnp_RequestId": refund_reference,
            "vnp_Version": VERSION,
            "vnp_Command": "refund",
            "vnp_TmnCode": self.config.merchant_code,
            "vnp_TransactionType": "02" if amount >= request.amount else "03",
            "vnp_TxnRef": request.reference,
            "vnp_Amount": str(amount * 100),
            "vnp_TransactionNo": gateway_ref,
            "vnp_TransactionDate": vnp_date(request.created_at),
            "vnp_CreateBy": "health_f0",
            "vnp_CreateDate": vnp_date(datetime.now(VN_TZ)),
            "vnp_IpAddr": request.client_ip or "127.0.0.1",
            "vnp_OrderInfo": (reason or f"Hoan tien {request.reference}")[:255],
        }
        body["vnp_SecureHash"] = sign_fields(self.config.secret, REFUND_FIELDS, body)
        answer = self._post(body)
        code = answer.get("vnp_ResponseCode", "")
        if code == "00":
            self._checked(answer, REFUND_ANSWER_FIELDS)
        return RefundResult(
            accepted=code in _REFUND_TAKEN,
            gateway_ref=answer.get("vnp_TransactionNo", "")[:64],
            gateway_code=code[:16],
            message=answer.get("vnp_Message", "")[:300],
        )
