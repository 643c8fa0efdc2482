"""VietQR (a NAPAS 247 transfer, free for the patient), confirmed through payOS's bank-transaction webhook.

Two parts:

1. The EMVCo merchant-presented QR string of NAPAS's VietQR profile ("Technical specifications on NAPAS QR
   switching, part IV: QR code format", v1.5.2): TLV objects ``ID(2) LEN(2) VALUE``:
   00 payload format "01"; 01 point of initiation "12" (dynamic: one payment, amount fixed) or "11" (static);
   38 merchant account information = 00 GUID "A000000727" + 01 beneficiary organisation (00 bank BIN,
   01 account number) + 02 service code "QRIBFTTA" (transfer to an account); 53 currency "704" (VND);
   54 amount; 58 country "VN"; 62 additional data with 08 purpose of transaction (<= 25 chars); 63 CRC, four
   upper-case hex digits of CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over the whole string up to and
   including "6304". `emvco_payload` builds it, `parse_emvco` reads and checks it. Checked against published
   strings (tests/test_vietqr_gateway.py): the VietQR example in the vietqr-parser Go package's README and the
   CRC catalogue's check value (``"123456789"`` → 0x29B1).

2. The gateway, through payOS (payos.vn), which watches the facility's bank account and sends a signed webhook
   when the transfer arrives, using payOS's own SDK `payos` (1.1.0):
   - create: ``POST /v2/payment-requests`` (orderCode, amount, description, cancelUrl, returnUrl, expiredAt,
     signature HMAC-SHA256(checksum key) over ``amount=…&cancelUrl=…&description=…&orderCode=…&returnUrl=…``),
     answered with the account, `qrCode` (the EMVCo string above, which we check: CRC, NAPAS GUID, amount) and
     `checkoutUrl` (payOS's page showing the QR);
   - webhook: JSON ``{code, desc, success, data: {orderCode, amount, description, accountNumber, reference,
     transactionDateTime, currency, paymentLinkId, code, desc, counterAccount…, virtualAccount…}, signature}``;
     signature = HMAC-SHA256(checksum key) over the ``key=value`` pairs of `data` sorted by key, joined with
     ``&`` (null → ""), computed by the SDK (as its `webhooks.verify` does) and compared in constant time;
     answered with HTTP 200;
   - query: ``GET /v2/payment-requests/{orderCode}`` (status PENDING / PROCESSING / UNDERPAID / PAID / CANCELLED /
     EXPIRED / FAILED, amountPaid, transactions); `cancel`: ``POST /v2/payment-requests/{orderCode}/cancel``;
   - refund: payOS has no refund API. `refund` answers ``RefundResult(accepted=False)`` so that the service puts
     the refund on the accountant's manual list (a transfer back from the facility's account).
   - the browser's return (``returnUrl?code=…&id=…&cancel=…&status=…&orderCode=…``) is not signed by payOS, so
     `parse_return` only takes the orderCode from it and asks payOS for the payment (an authenticated call whose
     answer the SDK checks against its signature).

orderCode is a positive integer in payOS (at most 2**53 - 1, JavaScript's safe integer). Our reference for a VietQR
payment is therefore the decimal string of that integer: `order_code(reference)` = ``int(reference)`` and
`reference_for(order_code)` = ``str(order_code)``, with no leading zero so the mapping is one-to-one. A reference
that is not such a number is refused with ValueError (the service must give VietQR payments a numeric reference,
e.g. the payment row's id).

Configuration (`GatewayConfig`): merchant_code = payOS client id, access_key = payOS API key, secret = payOS
checksum key, api_url = payOS's base URL (default https://api-merchant.payos.vn; a stand-in's in tests);
bank_bin / account_number / account_name = the facility's receiving account linked in payOS (shown next to the QR;
`static_qr` draws a plain QR for it); extra["timeout"] = seconds to wait; extra["description_max"] = the longest
transfer description payOS accepts for this account (25, or 9 for a bank account not linked through payOS).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pydantic
from payos import APIError, ConnectionTimeoutError, PayOS, PayOSError
from payos import ConnectionError as PayosConnectionError
from payos.types import CreatePaymentLinkRequest, PaymentLink, Webhook

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

_VN = ZoneInfo("Asia/Ho_Chi_Minh")
PAYOS_BASE_URL = "https://api-merchant.payos.vn"
DEFAULT_TIMEOUT = 20.0
MAX_ORDER_CODE = 2**53 - 1
NAPAS_GUID = "A000000727"
SERVICE_TO_ACCOUNT = "QRIBFTTA"
_NOT_FOUND_CODES = {"101"}  # payOS: payment link not found
_DUPLICATE_ORDER = "231"  # payOS: an order with this orderCode already exists
_NOT_PROCESSED_HTTP = {502, 503}
_STATUS_OUTCOME = {
    "PAID": Outcome.PAID,
    "PENDING": Outcome.PENDING,
    "PROCESSING": Outcome.PENDING,
    "UNDERPAID": Outcome.PENDING,
    "CANCELLED": Outcome.FAILED,
    "EXPIRED": Outcome.FAILED,
    "FAILED": Outcome.FAILED,
}
_ASCII_TEXT = re.compile(r"^[A-Za-z0-9 ._\-]*$")


# --- EMVCo / VietQR ------------------------------------------------------------------------------------
def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor), as EMVCo QR uses."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def tlv(tag: str, value: str) -> str:
    if len(tag) != 2 or not tag.isdigit():
        raise ValueError(f"bad EMVCo tag {tag!r}")
    if not 1 <= len(value) <= 99:
        raise ValueError(f"EMVCo value for tag {tag} must be 1..99 characters")
    return f"{tag}{len(value):02d}{value}"


def parse_tlv(text: str) -> dict[str, str]:
    """One level of TLV objects into {tag: value}; ValueError when the lengths do not add up."""
    out: dict[str, str] = {}
    i = 0
    while i < len(text):
        tag, length = text[i : i + 2], text[i + 2 : i + 4]
        if len(tag) < 2 or not tag.isdigit() or len(length) < 2 or not length.isdigit():
            raise ValueError(f"malformed EMVCo object at {i}")
        end = i + 4 + int(length)
        if end > len(text):
            raise ValueError(f"EMVCo object {tag} runs past the end")
        out[tag] = text[i + 4 : end]
        i = end
    return out


def emvco_payload(
    *, bank_bin: str, account_number: str, amount: int | None = None, purpose: str = "", dynamic: bool = True
) -> str:
    """The VietQR string for a transfer of `amount` VND to `account_number` at the bank `bank_bin` (NAPAS BIN)."""
    if not re.fullmatch(r"\d{6}", bank_bin or ""):
        raise ValueError("bank BIN must be six digits")
    if not re.fullmatch(r"[A-Za-z0-9]{1,19}", account_number or ""):
        raise ValueError("account number must be 1..19 letters or digits")
    if amount is not None and (not isinstance(amount, int) or not 0 < amount <= 9_999_999_999_999):
        raise ValueError("amount must be a positive whole number of VND")
    if len(purpose) > 25 or not _ASCII_TEXT.match(purpose):
        raise ValueError("purpose must be at most 25 ASCII letters, digits, spaces or ._-")
    beneficiary = tlv("00", bank_bin) + tlv("01", account_number)
    merchant = tlv("00", NAPAS_GUID) + tlv("01", beneficiary) + tlv("02", SERVICE_TO_ACCOUNT)
    parts = [tlv("00", "01"), tlv("01", "12" if dynamic else "11"), tlv("38", merchant), tlv("53", "704")]
    if amount is not None:
        parts.append(tlv("54", str(amount)))
    parts.append(tlv("58", "VN"))
    if purpose:
        parts.append(tlv("62", tlv("08", purpose)))
    body = "".join(parts) + "6304"
    return body + f"{crc16_ccitt_false(body.encode('utf-8')):04X}"


def parse_emvco(payload: str) -> dict[str, Any]:
    """Read a VietQR string: {"tags": top-level objects, "bank_bin", "account_number", "service", "amount",
    "purpose"}; ValueError when its CRC, layout or NAPAS section is wrong."""
    if len(payload) < 8 or payload[-8:-4] != "6304":
        raise ValueError("the QR string does not end with its CRC (6304….)")
    expected = f"{crc16_ccitt_false(payload[:-4].encode('utf-8')):04X}"
    if payload[-4:].upper() != expected:
        raise ValueError("the QR string's CRC does not match")
    tags = parse_tlv(payload)
    if tags.get("00") != "01" or tags.get("53") != "704" or tags.get("58") != "VN":
        raise ValueError("not a VND VietQR string")
    merchant = parse_tlv(tags.get("38", ""))
    if merchant.get("00") != NAPAS_GUID:
        raise ValueError("not a NAPAS (VietQR) merchant account")
    beneficiary = parse_tlv(merchant.get("01", ""))
    amount_text = tags.get("54", "")
    additional = parse_tlv(tags["62"]) if "62" in tags else {}
    return {
        "tags": tags,
        "bank_bin": beneficiary.get("00", ""),
        "account_number": beneficiary.get("01", ""),
        "service": merchant.get("02", ""),
        "amount": int(amount_text) if amount_text.isdigit() else None,
        "purpose": additional.get("08", ""),
    }


# --- our reference <-> payOS orderCode -----------------------------------------------------------------------
def order_code(reference: str) -> int:
    """payOS's integer orderCode for our reference: the reference must be its decimal string."""
    if not re.fullmatch(r"[1-9]\d{0,15}", reference or "") or int(reference) > MAX_ORDER_CODE:
        raise ValueError("a VietQR (payOS) reference must be a whole number 1..2**53-1 without leading zeros")
    return int(reference)


def reference_for(code: Any) -> str:
    try:
        number = int(code)
    except (TypeError, ValueError):
        raise ValueError("payOS orderCode is not an integer")
    if not 0 < number <= MAX_ORDER_CODE:
        raise ValueError("payOS orderCode out of range")
    return str(number)


def _vn_datetime(text: str) -> datetime | None:
    """payOS's "YYYY-MM-DD HH:MM:SS" (Vietnam time) or ISO 8601 → an aware datetime."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=_VN)


def _ascii(text: str) -> str:
    return "".join(ch for ch in text if ch.isascii() and (ch.isalnum() or ch in " ._-")).strip()


class VietQrGateway(Gateway):
    name = "vietqr"

    # --- the SDK client ----------------------------------------------------------------------------
    def _client(self) -> PayOS:
        cfg = self.config
        if not (cfg.merchant_code and cfg.access_key and cfg.secret):
            raise GatewayError("payOS client id, API key and checksum key are not all set")
        try:
            timeout = float(cfg.extra.get("timeout", DEFAULT_TIMEOUT))
        except (TypeError, ValueError):
            timeout = DEFAULT_TIMEOUT
        return PayOS(
            client_id=cfg.merchant_code,
            api_key=cfg.access_key,
            checksum_key=cfg.secret,
            base_url=(cfg.api_url or PAYOS_BASE_URL).rstrip("/") + "/",
            timeout=timeout,
            max_retries=0,  # a retried create or cancel is decided by the service, after a query
        )

    def _call(self, what: str, reference: str, fn: Any) -> Any:
        """Run an SDK call, turning its failures into GatewayError (maybe_done when it may have been taken)."""
        try:
            with self._client() as client:
                return fn(client)
        except ConnectionTimeoutError:
            logger.warning("payOS %s for %s: no answer in time", what, reference)
            raise GatewayError(f"payOS {what}: no answer in time", maybe_done=True)
        except PayosConnectionError:
            logger.warning("payOS %s for %s: connection failed", what, reference)
            raise GatewayError(f"payOS {what}: connection failed")
        except APIError as exc:
            if exc.status_code in _NOT_PROCESSED_HTTP:
                raise GatewayError(f"payOS {what}: HTTP {exc.status_code}")
            raise
        except (PayOSError, httpx.HTTPError, pydantic.ValidationError, TypeError) as exc:
            # An unreadable or unsigned answer, a dropped connection: the request may have been taken.
            logger.warning("payOS %s for %s: %s", what, reference, type(exc).__name__)
            raise GatewayError(f"payOS {what}: unreadable answer", maybe_done=True)

    # --- create ------------------------------------------------------------------------------------
    def _description(self, request: PaymentRequest) -> str:
        try:
            limit = int(self.config.extra.get("description_max", 25))
        except (TypeError, ValueError):
            limit = 25
        text = _ascii(request.description)[:limit].strip()
        return text or request.reference[-limit:]

    def create(self, request: PaymentRequest) -> Started:
        code = order_code(request.reference)
        if not isinstance(request.amount, int) or request.amount <= 0:
            raise ValueError("amount must be a positive whole number of VND")
        body = CreatePaymentLinkRequest(
            order_code=code,
            amount=request.amount,
            description=self._description(request),
            cancel_url=request.return_url,
            return_url=request.return_url,
            expired_at=int(request.expires_at.timestamp()),
        )
        try:
            link = self._call("create", request.reference, lambda c: c.payment_requests.create(body))
        except APIError as exc:
            logger.warning("payOS create for %s refused: code %s", request.reference, exc.error_code)
            raise GatewayError(
                f"payOS refused the payment (code {exc.error_code}): {(exc.error_desc or '')[:200]}",
                # 231: payOS already has this orderCode (an earlier create was taken): settle it by query.
                maybe_done=exc.error_code == _DUPLICATE_ORDER,
            )
        if link.amount != request.amount or link.order_code != code:
            raise GatewayError("payOS answered another payment", maybe_done=True)
        try:
            qr = parse_emvco(link.qr_code)
        except ValueError as exc:
            raise GatewayError(f"payOS's QR is not a valid VietQR string: {exc}", maybe_done=True)
        if qr["amount"] != request.amount or qr["service"] != SERVICE_TO_ACCOUNT:
            raise GatewayError("payOS's QR does not carry this payment's amount", maybe_done=True)
        return Started(
            redirect_url=link.checkout_url, qr_payload=link.qr_code, gateway_ref=link.payment_link_id
        )

    def static_qr(self, *, amount: int | None = None, purpose: str = "") -> str:
        """A VietQR string for the facility's own account (no payOS): for a printed QR at the cashier's desk."""
        return emvco_payload(
            bank_bin=self.config.bank_bin,
            account_number=self.config.account_number,
            amount=amount,
            purpose=_ascii(purpose)[:25],
            dynamic=amount is not None,
        )

    # --- webhook and return --------------------------------------------------------------------------
    def parse_notification(self, params: Mapping[str, Any]) -> Callback:
        if not isinstance(params.get("data"), Mapping) or not isinstance(params.get("signature"), str):
            raise ValueError("payOS webhook without data or signature")
        try:
            webhook = Webhook.model_validate(dict(params))
        except pydantic.ValidationError as exc:
            raise ValueError(f"payOS webhook is malformed ({exc.error_count()} errors)")
        data = webhook.data
        # The SDK's signature of `data` (its `webhooks.verify` algorithm), compared in constant time.
        with self._client() as client:
            expected = client.crypto.create_signature_from_object(
                data.model_dump_camel_case(), client.checksum_key
            )
        if not expected or not hmac.compare_digest(expected.encode(), webhook.signature.lower().encode()):
            raise BadSignature("payOS webhook signature does not verify")
        paid = data.code == "00" and webhook.code == "00"
        return Callback(
            reference=reference_for(data.order_code),
            amount=data.amount,
            outcome=Outcome.PAID if paid else Outcome.FAILED,
            gateway_ref=data.reference,
            gateway_code=data.code,
            paid_at=_vn_datetime(data.transaction_date_time) if paid else None,
            raw=data.model_dump_camel_case(),
        )

    def parse_return(self, params: Mapping[str, Any]) -> Callback:
        """payOS does not sign the return: read the orderCode from it and ask payOS what became of the payment.
        Raises GatewayError when payOS cannot be reached (show "checking", the webhook or query settles it)."""
        reference = reference_for(params.get("orderCode"))
        result = self._query_code(int(reference), reference)
        return Callback(
            reference=reference,
            amount=result.amount,
            outcome=result.outcome,
            gateway_ref=result.gateway_ref,
            gateway_code=result.gateway_code,
            paid_at=result.paid_at,
            raw={"orderCode": reference, "status": result.gateway_code},
        )

    def notification_answer(self, code: str) -> tuple[int, Any]:
        """payOS counts any 2xx as delivered (and its webhook check when the URL is registered needs one)."""
        if code == "bad_signature":
            return 400, {"success": False}
        if code == "error":
            return 503, {"success": False}
        return 200, {"success": True}

    # --- query, cancel, refund -------------------------------------------------------------------------
    def _query_code(self, code: int, reference: str) -> QueryResult:
        try:
            link: PaymentLink = self._call("query", reference, lambda c: c.payment_requests.get(code))
        except APIError as exc:
            if exc.status_code == 404 or exc.error_code in _NOT_FOUND_CODES:
                return QueryResult(
                    reference=reference, outcome=Outcome.UNKNOWN, gateway_code=exc.error_code or ""
                )
            raise GatewayError(f"payOS query refused (code {exc.error_code})")
        return self._result(reference, link)

    def _result(self, reference: str, link: PaymentLink) -> QueryResult:
        outcome = _STATUS_OUTCOME.get(link.status, Outcome.PENDING)
        last = link.transactions[-1] if link.transactions else None
        return QueryResult(
            reference=reference,
            outcome=outcome,
            amount=link.amount_paid or link.amount,
            gateway_ref=last.reference if last else "",
            gateway_code=link.status,
            paid_at=_vn_datetime(last.transaction_date_time) if last and outcome is Outcome.PAID else None,
        )

    def query(self, request: PaymentRequest) -> QueryResult:
        return self._query_code(order_code(request.reference), request.reference)

    def cancel(self, request: PaymentRequest, *, reason: str = "") -> QueryResult:
        """Cancel the payment link (an expired or abandoned payment) so a late transfer is not matched to it."""
        code = order_code(request.reference)
        why = _ascii(reason)[:100] or None
        try:
            link: PaymentLink = self._call(
                "cancel", request.reference, lambda c: c.payment_requests.cancel(code, why)
            )
        except APIError as exc:
            if exc.status_code == 404 or exc.error_code in _NOT_FOUND_CODES:
                return QueryResult(
                    reference=request.reference, outcome=Outcome.UNKNOWN, gateway_code=exc.error_code or ""
                )
            raise GatewayError(f"payOS cancel refused (code {exc.error_code})")
        return self._result(request.reference, link)

    def refund(
        self, request: PaymentRequest, *, amount: int, refund_reference: str, reason: str, gateway_ref: str
    ) -> RefundResult:
        """payOS has no refund API: the money goes back by a transfer from the facility's account, which the
        accountant makes and records; this answers "not accepted" so the service puts it on that list."""
        return RefundResult(
            accepted=False,
            gateway_code="manual",
            message="payOS has no refund API: transfer the money back from the facility's account and record it",
        )
