"""MoMo captureWallet gateway against the local MoMo stand-in: signatures, create, pay page, IPN, return, query,
refund, outages. No database."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from health_f0.payments.gateways.base import (
    BadSignature,
    Callback,
    GatewayConfig,
    GatewayError,
    Outcome,
    PaymentRequest,
)
from health_f0.payments.gateways.momo import (
    CREATE_SIGNED,
    RESULT_SIGNED,
    MomoGateway,
    raw_signature,
    sign,
)
from tests.standins.momo import MomoStandIn, momo_standin  # noqa: F401


class IpnReceiver:
    """Our IPN endpoint in miniature: verifies with the gateway and answers as the gateway wants."""

    def __init__(self, gateway: MomoGateway):
        self.gateway = gateway
        self.callbacks: list[Callback] = []
        self.refused: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    receiver.callbacks.append(receiver.gateway.parse_notification(body))
                    code = "ok"
                except BadSignature:
                    receiver.refused.append("bad_signature")
                    code = "bad_signature"
                status, answer = receiver.gateway.notification_answer(code)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/thanh-toan/momo/ipn"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# The client's timeout for answers that come: roomy, because the stand-in answers from a thread of this test
# process, which a loaded CI machine (or a full garbage collection here) can hold past half a second. Only the
# timeout tests use HASTY, against a stand-in that hangs 0.8 s.
ANSWER_TIMEOUT = {"timeout": "5"}
HASTY = {"timeout": "0.4"}


def _config(standin: MomoStandIn, **changes: Any) -> GatewayConfig:
    values: dict[str, Any] = {
        "gateway": "momo",
        "merchant_code": standin.partner_code,
        "secret": standin.secret_key,
        "access_key": standin.access_key,
        "api_url": standin.create_url,
        "extra": ANSWER_TIMEOUT,
    }
    values.update(changes)
    return GatewayConfig(**values)


@pytest.fixture
def gateway(momo_standin: MomoStandIn) -> MomoGateway:  # noqa: F811
    return MomoGateway(_config(momo_standin))


@pytest.fixture
def ipn(gateway: MomoGateway) -> Iterator[IpnReceiver]:
    receiver = IpnReceiver(gateway)
    try:
        yield receiver
    finally:
        receiver.stop()


def _request(reference: str = "HF0-P-1001", amount: int = 150_000, notify_url: str = "") -> PaymentRequest:
    now = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    return PaymentRequest(
        reference=reference,
        amount=amount,
        description="Phi kham benh HF0-P-1001",
        created_at=now,
        expires_at=now + timedelta(minutes=15),
        return_url="https://portal.example.vn/thanh-toan/momo/return",
        notify_url=notify_url or "https://portal.example.vn/thanh-toan/momo/ipn",
    )


# --- signatures ---------------------------------------------------------------------------------------------
def test_create_signature_is_hmac_sha256_over_the_documented_raw_string() -> None:
    values = {
        "accessKey": "AK",
        "amount": 150000,
        "extraData": "",
        "ipnUrl": "https://a.vn/ipn",
        "orderId": "O1",
        "orderInfo": "Phi kham",
        "partnerCode": "P",
        "redirectUrl": "https://a.vn/r",
        "requestId": "R1",
        "requestType": "captureWallet",
    }
    documented = (
        "accessKey=AK&amount=150000&extraData=&ipnUrl=https://a.vn/ipn&orderId=O1&orderInfo=Phi kham"
        "&partnerCode=P&redirectUrl=https://a.vn/r&requestId=R1&requestType=captureWallet"
    )
    assert raw_signature(CREATE_SIGNED, values) == documented
    assert (
        sign("SK", CREATE_SIGNED, values) == hmac.new(b"SK", documented.encode(), hashlib.sha256).hexdigest()
    )


def test_create_body_is_signed_and_accepted(gateway: MomoGateway, momo_standin: MomoStandIn) -> None:  # noqa: F811
    body = gateway.create_body(_request(), request_id="R-1")
    assert body["requestType"] == "captureWallet" and body["orderExpireTime"] == 15
    assert body["signature"] == sign(
        momo_standin.secret_key, CREATE_SIGNED, {**body, "accessKey": momo_standin.access_key}
    )
    assert "accessKey" not in body and momo_standin.secret_key not in json.dumps(body)


def test_result_signature_round_trip_and_tampering(gateway: MomoGateway, momo_standin: MomoStandIn) -> None:  # noqa: F811
    gateway.create(_request())
    momo_standin.send_ipn = False
    momo_standin.settle("HF0-P-1001")
    fields = momo_standin.result_fields(momo_standin.orders["HF0-P-1001"])
    callback = gateway.parse_notification(fields)
    assert callback.reference == "HF0-P-1001" and callback.amount == 150_000
    assert callback.outcome is Outcome.PAID and callback.gateway_code == "0" and callback.gateway_ref
    assert callback.paid_at is not None and "signature" not in callback.raw

    with pytest.raises(BadSignature):
        gateway.parse_notification({**fields, "amount": 1_000})
    with pytest.raises(BadSignature):
        gateway.parse_notification({**fields, "signature": "0" * 64})
    with pytest.raises(BadSignature):
        gateway.parse_notification({**fields, "signature": "chữ ký giả"})
    # Another facility's IPN: signed with its own key, not ours.
    other = {**fields, "partnerCode": "MOMOOTHER"}
    other["signature"] = sign("another-facility-secret", RESULT_SIGNED, {**other, "accessKey": "x"})
    with pytest.raises(BadSignature):
        gateway.parse_notification(other)


def test_malformed_callback_is_a_value_error(gateway: MomoGateway, momo_standin: MomoStandIn) -> None:  # noqa: F811
    gateway.create(_request())
    momo_standin.send_ipn = False
    momo_standin.settle("HF0-P-1001")
    fields = momo_standin.result_fields(momo_standin.orders["HF0-P-1001"])
    without = {k: v for k, v in fields.items() if k != "transId"}
    with pytest.raises(ValueError):
        gateway.parse_notification(without)
    # A well-signed but non-numeric amount (signed as the gateway would sign it) is malformed, not forged.
    bad = {**fields, "amount": "abc"}
    bad["signature"] = sign(
        momo_standin.secret_key, RESULT_SIGNED, {**bad, "accessKey": momo_standin.access_key}
    )
    with pytest.raises(ValueError):
        gateway.parse_notification(bad)


# --- the whole flow ------------------------------------------------------------------------------------------
def test_pay_page_redirects_with_signed_return_and_posts_the_ipn(
    gateway: MomoGateway,
    momo_standin: MomoStandIn,  # noqa: F811
    ipn: IpnReceiver,
) -> None:
    started = gateway.create(_request(notify_url=ipn.url))
    page = requests.get(started.redirect_url, timeout=5)
    assert page.status_code == 200 and "150.000" in page.text
    token = dict(parse_qsl(urlsplit(started.redirect_url).query))["t"]
    paid = requests.post(
        momo_standin.base_url + "/v2/gateway/pay",
        data={"t": token, "action": "pay"},
        allow_redirects=False,
        timeout=5,
    )
    assert paid.status_code == 303
    back = urlsplit(paid.headers["Location"])
    assert back.path == "/thanh-toan/momo/return"
    returned = gateway.parse_return(dict(parse_qsl(back.query, keep_blank_values=True)))
    assert returned.outcome is Outcome.PAID and returned.amount == 150_000
    # The IPN reached us, verified, and was answered 204 with no body.
    assert [c.reference for c in ipn.callbacks] == ["HF0-P-1001"]
    assert ipn.callbacks[0].gateway_ref == returned.gateway_ref
    assert momo_standin.orders["HF0-P-1001"].ipn_status == [204]
    assert gateway.notification_answer("ok") == (204, None)
    assert gateway.notification_answer("already") == (204, None)


def test_cancelled_on_the_pay_page_is_failed(
    gateway: MomoGateway,
    momo_standin: MomoStandIn,  # noqa: F811
    ipn: IpnReceiver,
) -> None:
    started = gateway.create(_request(notify_url=ipn.url))
    token = dict(parse_qsl(urlsplit(started.redirect_url).query))["t"]
    requests.post(
        momo_standin.base_url + "/v2/gateway/pay",
        data={"t": token, "action": "cancel"},
        allow_redirects=False,
        timeout=5,
    )
    assert ipn.callbacks[0].outcome is Outcome.FAILED and ipn.callbacks[0].gateway_code == "1006"
    assert gateway.query(_request()).outcome is Outcome.FAILED


def test_create_refusals(gateway: MomoGateway, momo_standin: MomoStandIn) -> None:  # noqa: F811
    gateway.create(_request())
    with pytest.raises(GatewayError) as repeated:  # MoMo already has this orderId: settle it by query
        gateway.create(_request())
    assert repeated.value.maybe_done
    wrong_key = MomoGateway(_config(momo_standin, secret="not-the-secret"))
    with pytest.raises(GatewayError) as refused:
        wrong_key.create(_request("HF0-P-1002"))
    assert not refused.value.maybe_done and "13" in str(refused.value)
    with pytest.raises(ValueError):
        gateway.create(_request("HF0-P-1003", amount=500))


# --- query and refund -------------------------------------------------------------------------------------------
def test_query_before_and_after_payment(gateway: MomoGateway, momo_standin: MomoStandIn) -> None:  # noqa: F811
    assert gateway.query(_request()).outcome is Outcome.UNKNOWN
    gateway.create(_request())
    pending = gateway.query(_request())
    assert pending.outcome is Outcome.PENDING and pending.gateway_code == "1000"
    momo_standin.send_ipn = False  # the IPN is lost: the query settles it
    momo_standin.settle("HF0-P-1001")
    paid = gateway.query(_request())
    assert paid.outcome is Outcome.PAID and paid.amount == 150_000 and paid.gateway_ref
    assert paid.paid_at is not None


def test_refund_against_the_standin(gateway: MomoGateway, momo_standin: MomoStandIn) -> None:  # noqa: F811
    gateway.create(_request())
    momo_standin.send_ipn = False
    momo_standin.settle("HF0-P-1001")
    trans_id = gateway.query(_request()).gateway_ref
    result = gateway.refund(
        _request(), amount=150_000, refund_reference="HF0-R-1", reason="Huy lich kham", gateway_ref=trans_id
    )
    assert result.accepted and result.gateway_code == "0" and result.gateway_ref
    assert momo_standin.orders["HF0-P-1001"].refunded == 150_000
    again = gateway.refund(
        _request(), amount=1_000, refund_reference="HF0-R-2", reason="Huy lich kham", gateway_ref=trans_id
    )
    assert not again.accepted and again.gateway_code == "1088"  # nothing left to refund
    with pytest.raises(ValueError):
        gateway.refund(
            _request(), amount=200_000, refund_reference="HF0-R-3", reason="x", gateway_ref=trans_id
        )
    with pytest.raises(ValueError):
        gateway.refund(_request(), amount=1_000, refund_reference="HF0-R-4", reason="x", gateway_ref="")


def test_refused_refund_is_not_accepted(gateway: MomoGateway, momo_standin: MomoStandIn) -> None:  # noqa: F811
    gateway.create(_request())
    momo_standin.send_ipn = False
    momo_standin.settle("HF0-P-1001")
    trans_id = gateway.query(_request()).gateway_ref
    momo_standin.refuse_code = 1080
    result = gateway.refund(
        _request(), amount=1_000, refund_reference="HF0-R-9", reason="x", gateway_ref=trans_id
    )
    assert not result.accepted and result.gateway_code == "1080"
    momo_standin.refuse_code = 99  # a system error: unknown, raised
    with pytest.raises(GatewayError):
        gateway.query(_request())


# --- outages ------------------------------------------------------------------------------------------------------
def test_gateway_down_at_create_and_refund(gateway: MomoGateway, momo_standin: MomoStandIn) -> None:  # noqa: F811
    momo_standin.down("refused")
    with pytest.raises(GatewayError) as at_create:
        gateway.create(_request())
    assert not at_create.value.maybe_done
    with pytest.raises(GatewayError) as at_refund:
        gateway.refund(
            _request(), amount=1_000, refund_reference="HF0-R-1", reason="x", gateway_ref="3000000000"
        )
    assert not at_refund.value.maybe_done
    momo_standin.up()
    momo_standin.down("503")
    with pytest.raises(GatewayError) as unavailable:
        gateway.create(_request())
    assert not unavailable.value.maybe_done


def test_timeout_may_be_done(gateway: MomoGateway, momo_standin: MomoStandIn) -> None:  # noqa: F811
    momo_standin.down("timeout")
    hasty = MomoGateway(_config(momo_standin, extra=HASTY))
    with pytest.raises(GatewayError) as at_create:
        hasty.create(_request())
    assert at_create.value.maybe_done
    with pytest.raises(GatewayError) as at_refund:
        hasty.refund(
            _request(), amount=1_000, refund_reference="HF0-R-1", reason="x", gateway_ref="3000000000"
        )
    assert at_refund.value.maybe_done


def test_error_answer_and_no_key_in_logs(
    gateway: MomoGateway,
    momo_standin: MomoStandIn,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert gateway.notification_answer("error") == (503, None)
    caplog.set_level("DEBUG")
    gateway.create(_request())
    momo_standin.down("timeout")
    hasty = MomoGateway(_config(momo_standin, extra=HASTY))
    with pytest.raises(GatewayError):
        hasty.query(_request())
    text = caplog.text
    assert momo_standin.secret_key not in text and momo_standin.access_key not in text
