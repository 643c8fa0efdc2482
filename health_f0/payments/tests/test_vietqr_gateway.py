"""VietQR: the EMVCo string and its CRC against published examples; the payOS gateway (through the payOS SDK)
against the local payOS stand-in: create, webhook, return, query, cancel, refund, outages. No database."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from health_f0.payments.gateways.base import (
    BadSignature,
    Callback,
    GatewayConfig,
    GatewayError,
    Outcome,
    PaymentRequest,
)
from health_f0.payments.gateways.vietqr import (
    VietQrGateway,
    crc16_ccitt_false,
    emvco_payload,
    order_code,
    parse_emvco,
    reference_for,
)
from tests.standins.payos import PayosStandIn, payos_standin, signature_of  # noqa: F401


# --- the EMVCo string ----------------------------------------------------------------------------------------
def test_crc_is_ccitt_false() -> None:
    # The CRC catalogue's check value for CRC-16/CCITT-FALSE (a.k.a. CRC-16/IBM-3740).
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_published_vietqr_examples() -> None:
    # The static VietQR (Vietcombank 970436, account 0881000458086, no amount) printed in the README of the
    # vietqr-parser Go package (github.com/thanhtinhpas1/vietqr-parser); its point of initiation there is "12".
    published = (
        "00020001021238570010A00000072701270006970436011308810004580860208QRIBFTTA53037045802VN6304CD60"
    )
    assert f"{crc16_ccitt_false(published[:-4].encode()):04X}" == "CD60"
    # Our builder writes the payload format "01" (EMVCo) where that example has "00"; everything after it is
    # the same objects in the same order.
    ours = emvco_payload(bank_bin="970436", account_number="0881000458086", dynamic=True)
    assert ours[:-4].replace("000201", "000200", 1) == published[:-4]
    # A static QR (01 = "11") published with its CRC for Vietcombank 0123456789.
    assert (
        emvco_payload(bank_bin="970436", account_number="0123456789", dynamic=False)
        == "00020101021138540010A00000072701240006970436011001234567890208QRIBFTTA53037045802VN63046A15"
    )


def test_dynamic_qr_layout() -> None:
    payload = emvco_payload(
        bank_bin="970436", account_number="0011001234567", amount=150_000, purpose="HF0 1001"
    )
    assert payload.startswith("000201010212" + "38570010A000000727")
    assert "0127" + "0006970436" + "01130011001234567" in payload
    assert "0208QRIBFTTA" + "5303704" + "5406150000" + "5802VN" + "6212" + "0808HF0 1001" + "6304" in payload
    read = parse_emvco(payload)
    assert (read["bank_bin"], read["account_number"], read["amount"], read["purpose"]) == (
        "970436",
        "0011001234567",
        150_000,
        "HF0 1001",
    )
    with pytest.raises(ValueError):
        parse_emvco(payload[:-1] + ("0" if payload[-1] != "0" else "1"))  # a wrong CRC
    with pytest.raises(ValueError):
        parse_emvco(payload.replace("5406150000", "5406990000"))  # an altered amount breaks the CRC
    with pytest.raises(ValueError):
        emvco_payload(bank_bin="97043", account_number="1", amount=1)
    with pytest.raises(ValueError):
        emvco_payload(bank_bin="970436", account_number="1", amount=1, purpose="Phí khám")  # not ASCII


def test_reference_maps_to_order_code_and_back() -> None:
    assert order_code("1001") == 1001 and reference_for(1001) == "1001"
    assert reference_for(order_code("9007199254740991")) == "9007199254740991"
    for bad in ("", "0", "0012", "HF0-1", "9007199254740992", "-5"):
        with pytest.raises(ValueError):
            order_code(bad)
    with pytest.raises(ValueError):
        reference_for("abc")


# --- the gateway against the payOS stand-in ------------------------------------------------------------------
class WebhookReceiver:
    """Our webhook endpoint in miniature: verifies with the gateway, answers as payOS expects."""

    def __init__(self, gateway: VietQrGateway):
        self.callbacks: list[Callback] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    receiver.callbacks.append(gateway.parse_notification(body))
                    code = "ok"
                except BadSignature:
                    code = "bad_signature"
                status, answer = gateway.notification_answer(code)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/thanh-toan/vietqr/webhook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# The client's timeout for answers that come: roomy, because the stand-in answers from a thread of this test
# process, which a loaded CI machine (or a full garbage collection here) can hold past half a second. Only the
# timeout tests use HASTY, against a stand-in that hangs 0.8 s.
ANSWER_TIMEOUT = {"timeout": "5"}
HASTY = {"timeout": "0.4"}


def _config(standin: PayosStandIn, **changes: Any) -> GatewayConfig:
    values: dict[str, Any] = {
        "gateway": "vietqr",
        "merchant_code": standin.client_id,
        "access_key": standin.api_key,
        "secret": standin.checksum_key,
        "api_url": standin.base_url,
        "bank_bin": standin.bank_bin,
        "account_number": standin.account_number,
        "account_name": standin.account_name,
        "extra": ANSWER_TIMEOUT,
    }
    values.update(changes)
    return GatewayConfig(**values)


@pytest.fixture
def gateway(payos_standin: PayosStandIn) -> VietQrGateway:  # noqa: F811
    return VietQrGateway(_config(payos_standin))


@pytest.fixture
def webhook(gateway: VietQrGateway, payos_standin: PayosStandIn) -> Iterator[WebhookReceiver]:  # noqa: F811
    receiver = WebhookReceiver(gateway)
    payos_standin.webhook_url = receiver.url
    try:
        yield receiver
    finally:
        receiver.stop()


def _request(reference: str = "1001", amount: int = 150_000) -> PaymentRequest:
    now = datetime.now(UTC)
    return PaymentRequest(
        reference=reference,
        amount=amount,
        description="Phi kham benh HF0 1001",
        created_at=now,
        expires_at=now + timedelta(minutes=15),
        return_url="https://portal.example.vn/thanh-toan/vietqr/return",
        notify_url="https://portal.example.vn/thanh-toan/vietqr/webhook",
    )


def test_create_gives_the_qr_and_checkout_page(gateway: VietQrGateway, payos_standin: PayosStandIn) -> None:  # noqa: F811
    started = gateway.create(_request())
    qr = parse_emvco(started.qr_payload)
    assert qr["amount"] == 150_000 and qr["account_number"] == payos_standin.account_number
    assert started.redirect_url.startswith(payos_standin.base_url + "/web/") and started.gateway_ref
    method, path, body = payos_standin.requests[-1]
    assert (method, path, body["orderCode"]) == ("POST", "/v2/payment-requests", 1001)
    assert len(body["description"]) <= 25 and body["expiredAt"] > 0
    with pytest.raises(GatewayError) as repeated:  # payOS already has this orderCode (231): settle by query
        gateway.create(_request())
    assert repeated.value.maybe_done
    with pytest.raises(ValueError):
        gateway.create(_request("HF0-1001"))


def test_wrong_keys_are_refused(payos_standin: PayosStandIn) -> None:  # noqa: F811
    wrong = VietQrGateway(_config(payos_standin, secret="not-the-checksum-key"))
    with pytest.raises(GatewayError) as refused:
        wrong.create(_request())
    assert not refused.value.maybe_done
    unauthorised = VietQrGateway(_config(payos_standin, access_key="not-the-api-key"))
    with pytest.raises(GatewayError):
        unauthorised.create(_request("1002"))


def test_webhook_round_trip(
    gateway: VietQrGateway,
    payos_standin: PayosStandIn,  # noqa: F811
    webhook: WebhookReceiver,
) -> None:
    gateway.create(_request())
    body = payos_standin.transfer_arrived(1001)
    assert payos_standin.links[1001].webhooks == [200]
    [callback] = webhook.callbacks
    assert callback.reference == "1001" and callback.amount == 150_000 and callback.outcome is Outcome.PAID
    assert callback.gateway_ref == body["data"]["reference"] and callback.gateway_code == "00"
    assert callback.paid_at is not None and callback.paid_at.utcoffset() == timedelta(hours=7)
    assert "signature" not in callback.raw


def test_tampered_or_foreign_webhook_is_a_bad_signature(
    gateway: VietQrGateway,
    payos_standin: PayosStandIn,  # noqa: F811
) -> None:
    gateway.create(_request())
    body = payos_standin.transfer_arrived(1001, send=False)
    assert gateway.parse_notification(body).outcome is Outcome.PAID
    tampered = {**body, "data": {**body["data"], "amount": 1_500_000}}
    with pytest.raises(BadSignature):
        gateway.parse_notification(tampered)
    foreign = {**body, "signature": signature_of(body["data"], "another-facility-checksum-key")}
    with pytest.raises(BadSignature):
        gateway.parse_notification(foreign)
    with pytest.raises(BadSignature):
        gateway.parse_notification({**body, "signature": "chữ ký giả"})
    assert gateway.notification_answer("bad_signature")[0] == 400
    assert gateway.notification_answer("already") == (200, {"success": True})


def test_malformed_webhook_is_a_value_error(gateway: VietQrGateway, payos_standin: PayosStandIn) -> None:  # noqa: F811
    gateway.create(_request())
    body = payos_standin.transfer_arrived(1001, send=False)
    with pytest.raises(ValueError):
        gateway.parse_notification({"data": body["data"]})  # no signature
    data = {k: v for k, v in body["data"].items() if k != "orderCode"}
    with pytest.raises(ValueError):
        gateway.parse_notification(
            {**body, "data": data, "signature": signature_of(data, payos_standin.checksum_key)}
        )


def test_query_return_and_cancel(gateway: VietQrGateway, payos_standin: PayosStandIn) -> None:  # noqa: F811
    assert gateway.query(_request()).outcome is Outcome.UNKNOWN
    gateway.create(_request())
    assert gateway.query(_request()).outcome is Outcome.PENDING
    # The return URL's parameters are not signed: the gateway asks payOS.
    returned = gateway.parse_return({"code": "00", "status": "PAID", "orderCode": "1001", "cancel": "false"})
    assert returned.outcome is Outcome.PENDING  # the patient's browser claims PAID; payOS does not know yet
    payos_standin.transfer_arrived(1001, send=False)  # the webhook is lost: the query settles it
    paid = gateway.query(_request())
    assert paid.outcome is Outcome.PAID and paid.amount == 150_000 and paid.gateway_ref.startswith("FT")
    assert gateway.parse_return({"orderCode": "1001"}).outcome is Outcome.PAID

    gateway.create(_request("1002"))
    cancelled = gateway.cancel(_request("1002"), reason="Het han thanh toan")
    assert cancelled.outcome is Outcome.FAILED and cancelled.gateway_code == "CANCELLED"
    assert gateway.query(_request("1002")).outcome is Outcome.FAILED


def test_refund_goes_to_the_accountant(gateway: VietQrGateway, payos_standin: PayosStandIn) -> None:  # noqa: F811
    result = gateway.refund(_request(), amount=150_000, refund_reference="R-1", reason="x", gateway_ref="FT1")
    assert not result.accepted and "no refund API" in result.message
    assert payos_standin.requests == []  # nothing was sent to payOS


def test_gateway_down_and_timeout(gateway: VietQrGateway, payos_standin: PayosStandIn) -> None:  # noqa: F811
    payos_standin.down("refused")
    with pytest.raises(GatewayError) as refused:
        gateway.create(_request())
    assert not refused.value.maybe_done
    payos_standin.up()
    payos_standin.down("503")
    with pytest.raises(GatewayError) as unavailable:
        gateway.create(_request())
    assert not unavailable.value.maybe_done
    payos_standin.up()
    payos_standin.down("timeout")
    hasty = VietQrGateway(_config(payos_standin, extra=HASTY))
    with pytest.raises(GatewayError) as timed_out:
        hasty.create(_request())
    assert timed_out.value.maybe_done
    with pytest.raises(GatewayError) as query_timed_out:
        hasty.query(_request())
    assert query_timed_out.value.maybe_done


def test_no_key_in_logs(
    gateway: VietQrGateway,
    payos_standin: PayosStandIn,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    gateway.create(_request())
    gateway.query(_request())
    payos_standin.down("timeout")
    hasty = VietQrGateway(_config(payos_standin, extra=HASTY))
    with pytest.raises(GatewayError):
        hasty.query(_request())
    text = caplog.text
    for secret in (payos_standin.api_key, payos_standin.checksum_key):
        assert secret not in text
