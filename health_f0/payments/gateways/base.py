"""The contract every payment gateway implements, independent of our models.

A gateway module turns our payment into the gateway's signed request, reads the gateway's callbacks (IPN/webhook and
the browser's return) into a `Callback`, answers them in the gateway's own format, and asks the gateway about a
payment (`query`) or gives money back (`refund`). It never touches the database: `payments.services` owns the
state, verifies amount, reference and facility against our row, and applies a callback once.

Signatures are checked here (`parse_*` raises `BadSignature`); amounts and references are only read here and
compared by the service. Keys come from `GatewayConfig`, loaded per facility by `payments.services`; a gateway
never logs a key, a checksum or a full callback body.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class GatewayError(Exception):
    """The gateway could not be reached or answered something unreadable.

    `maybe_done` True: the request may have been taken (timeout, dropped connection), so the outcome is unknown
    and must be settled by `query` before anything is retried.
    """

    def __init__(self, message: str, *, maybe_done: bool = False):
        super().__init__(message)
        self.maybe_done = maybe_done


class BadSignature(Exception):
    """A callback whose checksum does not verify: refused, logged for the accountant, never applied."""


class Outcome(StrEnum):
    PAID = "paid"
    FAILED = "failed"  # the patient cancelled or the gateway refused; final
    PENDING = "pending"  # not final yet (still at the gateway)
    UNKNOWN = "unknown"  # the gateway does not know this reference


@dataclass(frozen=True)
class GatewayConfig:
    """One facility's account at one gateway (secrets decrypted in memory only)."""

    gateway: str  # "vnpay" | "momo" | "vietqr"
    merchant_code: str  # vnp_TmnCode / MoMo partnerCode / payOS client id
    secret: str  # vnp_HashSecret / MoMo secretKey / payOS checksum key
    access_key: str = ""  # MoMo accessKey / payOS api key
    api_url: str = ""  # payment/create endpoint (stand-in URL in tests)
    api_url_2: str = ""  # query/refund endpoint where the gateway has a separate one (VNPay querydr/refund)
    # VietQR: the facility's receiving account
    bank_bin: str = ""  # NAPAS bank identification number, e.g. "970436" (Vietcombank)
    account_number: str = ""
    account_name: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentRequest:
    """What a gateway needs to start one payment."""

    reference: str  # our unique reference (vnp_TxnRef / orderId / orderCode as string), ASCII [A-Za-z0-9_-]
    amount: int  # VND, whole dong, > 0
    description: (
        str  # ASCII, no diacritics, <= 100 chars (gateways reject Vietnamese diacritics in some fields)
    )
    created_at: datetime  # aware
    expires_at: datetime  # aware
    return_url: str  # absolute URL of our return page for this gateway
    notify_url: str  # absolute URL of our IPN/webhook for this gateway
    client_ip: str = "127.0.0.1"
    locale: str = "vn"  # "vn" | "en"


@dataclass(frozen=True)
class Started:
    """The answer to `create`: where the patient goes, or the QR they scan."""

    redirect_url: str = ""  # VNPay, MoMo: the gateway's payment page
    qr_payload: str = ""  # VietQR: the EMVCo string to draw as a QR
    gateway_ref: str = ""  # the gateway's id for this payment if it gave one at create


@dataclass(frozen=True)
class Callback:
    """A verified callback (IPN/webhook or return), read but not yet applied."""

    reference: str
    amount: int
    outcome: Outcome
    gateway_ref: str = ""  # vnp_TransactionNo / transId / payOS reference
    gateway_code: str = ""  # vnp_ResponseCode / resultCode / code, for the record
    paid_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)  # without the signature field
    # The merchant the callback names (vnp_TmnCode / partnerCode), "" when the gateway names none: the service
    # refuses a callback whose merchant is not the payment's facility's account.
    merchant_code: str = ""


@dataclass(frozen=True)
class QueryResult:
    reference: str
    outcome: Outcome
    amount: int = 0
    gateway_ref: str = ""
    gateway_code: str = ""
    paid_at: datetime | None = None


@dataclass(frozen=True)
class RefundResult:
    accepted: bool  # the gateway took the refund (it may still settle later)
    gateway_ref: str = ""
    gateway_code: str = ""
    message: str = ""


class Gateway(abc.ABC):
    name: str  # "vnpay" | "momo" | "vietqr"

    def __init__(self, config: GatewayConfig):
        self.config = config

    @classmethod
    def reference_of(cls, params: Mapping[str, Any]) -> str:
        """Our reference as a callback names it, read BEFORE any check: the service needs it to find the
        payment, hence the facility whose keys verify the callback. Never trusted beyond that lookup.
        Default: VNPay's vnp_TxnRef, MoMo's orderId, payOS's data.orderCode; a module may override."""
        for key in ("vnp_TxnRef", "orderId", "orderCode"):
            if params.get(key) not in (None, ""):
                return str(params[key]).strip()[:64]
        data = params.get("data")
        if isinstance(data, Mapping) and data.get("orderCode") not in (None, ""):
            return str(data["orderCode"]).strip()[:64]
        return ""

    @abc.abstractmethod
    def create(self, request: PaymentRequest) -> Started:
        """Start a payment; raises GatewayError when the gateway cannot be reached or refuses."""

    @abc.abstractmethod
    def parse_notification(self, params: Mapping[str, Any]) -> Callback:
        """Read and verify a server-to-server callback (IPN/webhook): query string or JSON body as a mapping.

        Raises BadSignature when the checksum does not verify, ValueError when a field is missing/malformed."""

    def parse_return(self, params: Mapping[str, Any]) -> Callback:
        """Read and verify the browser's return. By default the same as a notification."""
        return self.parse_notification(params)

    @abc.abstractmethod
    def notification_answer(self, code: str) -> tuple[int, Any]:
        """The HTTP status and body the gateway expects for a notification, for our result `code`:
        "ok", "already" (already applied), "not_found", "bad_amount", "bad_signature", "error"."""

    @abc.abstractmethod
    def query(self, request: PaymentRequest) -> QueryResult:
        """Ask the gateway what became of a payment (VNPay querydr, MoMo query, payOS get payment link)."""

    @abc.abstractmethod
    def refund(
        self, request: PaymentRequest, *, amount: int, refund_reference: str, reason: str, gateway_ref: str
    ) -> RefundResult:
        """Give `amount` back. Raises GatewayError when the gateway cannot be reached."""
