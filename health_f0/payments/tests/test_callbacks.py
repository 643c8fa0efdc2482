"""Issue 13 §3: every VNPay callback verified (signature, reference, merchant, amount) and applied once,
against the local VNPay stand-in (tests/standins/vnpay.py) that signs on its own."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client

from health_f0.core.exceptions import DomainError
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.payments import services
from health_f0.payments.gateways.base import GatewayError
from health_f0.payments.gateways.vnpay import VNPayGateway
from health_f0.payments.models import EventResult, GatewayAccount, Payment, PaymentEvent, PaymentStatus
from health_f0.payments.tests.conftest import PRICE, vnpay_account
from tests.standins.vnpay import VnpayStandIn

IPN = "/thanh-toan/vnpay/ipn"
RETURN = "/thanh-toan/vnpay/return"


def _start(booking: Any, patient: Any) -> Payment:
    return services.payment_start(
        actor=patient.account, gateway="vnpay", appointment=booking, client_ip="10.0.0.7"
    )


def _ipn(params: dict[str, str]) -> dict[str, str]:
    response = Client().get(IPN, params)
    assert response.status_code == 200
    return response.json()


def _paid_transitions(payment: Payment) -> int:
    return AuditLog.objects.filter(
        target_type="payments.payment", target_id=str(payment.pk), verb__in=["pay", "late_pay"]
    ).count()


def test_the_payment_url_is_vnpay_2_1_0_signed_and_taken_by_the_gateway(
    ttyt_vnpay: GatewayAccount, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    assert payment.status == PaymentStatus.PENDING and payment.amount == PRICE
    query = dict(parse_qsl(urlsplit(payment.redirect_url).query))
    assert query["vnp_Version"] == "2.1.0" and query["vnp_Command"] == "pay"
    assert query["vnp_Amount"] == str(PRICE * 100) and query["vnp_TxnRef"] == payment.reference
    assert query["vnp_TmnCode"] == "HF0TTYT1" and query["vnp_ReturnUrl"].endswith(RETURN)
    assert list(query)[:-1] == sorted(list(query)[:-1]) and list(query)[-1] == "vnp_SecureHash"
    transaction = vnpay.open_payment(payment.redirect_url)  # the stand-in checks the HMAC-SHA512 itself
    assert transaction.amount == PRICE
    # A second tap on "Thanh toán" while the link is valid sends the patient to the same payment.
    assert _start(booking, patient).pk == payment.pk


def test_double_ipn_changes_the_state_once(
    ttyt_vnpay: GatewayAccount, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    params = vnpay.pay(payment.redirect_url)
    assert _ipn(params) == {"RspCode": "00", "Message": "Confirm Success"}
    assert _ipn(params) == {"RspCode": "02", "Message": "Order already confirmed"}
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and payment.gateway_ref == params["vnp_TransactionNo"]
    assert _paid_transitions(payment) == 1
    results = list(
        PaymentEvent.objects.filter(payment=payment).order_by("pk").values_list("result", flat=True)
    )
    assert results == [EventResult.APPLIED, EventResult.ALREADY]
    assert all("vnp_SecureHash" not in e.payload for e in PaymentEvent.objects.filter(payment=payment))


def test_ipn_before_return_and_return_without_ipn(
    ttyt_vnpay: GatewayAccount, vnpay: VnpayStandIn, booking: Any, patient: Any, priced_service: Any
) -> None:
    payment = _start(booking, patient)
    params = vnpay.pay(payment.redirect_url)
    assert _ipn(params)["RspCode"] == "00"
    response = Client().get(RETURN, params)
    assert response.status_code == 302 and response["Location"] == f"/thanh-toan/ket-qua/{payment.public_id}"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and _paid_transitions(payment) == 1
    page = Client().get(response["Location"]).content.decode()
    assert "Thanh toán thành công" in page and "150.000 đ" in page
    assert "bien-lai" not in page  # the receipt is offered to its owner only
    owner = Client()
    owner.force_login(patient.account)
    page = owner.get(response["Location"]).content.decode()
    receipt = f"/ca-nhan/bien-lai/{payment.public_id}.pdf"
    assert receipt in page and owner.get(receipt)["Content-Type"] == "application/pdf"

    # Another booking: the IPN never comes; the browser's signed return settles it, and the late IPN is "02".
    from health_f0.payments.tests.conftest import make_booking

    other = make_booking(priced_service, patient, days=4)
    second = _start(other, patient)
    params = vnpay.pay(second.redirect_url)
    assert Client().get(RETURN, params).status_code == 302
    second.refresh_from_db()
    assert second.status == PaymentStatus.PAID
    assert _ipn(params)["RspCode"] == "02"
    assert _paid_transitions(second) == 1


def test_a_cancelled_payment_is_failed_and_answered_00(
    ttyt_vnpay: GatewayAccount, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    params = vnpay.pay(payment.redirect_url, paid=False)
    assert params["vnp_ResponseCode"] == "24"
    assert _ipn(params)["RspCode"] == "00"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.paid_at is None


def test_wrong_amount_and_wrong_signature_are_refused_and_logged(
    ttyt_vnpay: GatewayAccount, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    transaction = vnpay.open_payment(payment.redirect_url)
    vnpay.complete(transaction.reference)
    # Signed by the gateway's key, but for another amount: refused with 04.
    wrong_amount = vnpay.result_params(transaction, vnp_Amount=str(1_000 * 100))
    assert _ipn(wrong_amount) == {"RspCode": "04", "Message": "invalid amount"}
    # Tampered after signing: refused with 97.
    tampered = vnpay.result_params(transaction)
    tampered["vnp_ResponseCode"] = "00"
    tampered["vnp_Amount"] = str(PRICE * 100)
    tampered["vnp_TransactionNo"] = "99999999"
    assert _ipn(tampered) == {"RspCode": "97", "Message": "Invalid signature"}
    # An unknown reference: 01.
    unknown = vnpay.result_params(transaction, vnp_TxnRef="000000000000001")
    assert _ipn(unknown)["RspCode"] == "01"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    logged = dict(PaymentEvent.objects.values_list("result", "verified"))
    assert logged == {
        EventResult.BAD_AMOUNT: True,
        EventResult.BAD_SIGNATURE: False,
        EventResult.NOT_FOUND: False,
    }
    # The good IPN still applies afterwards.
    assert _ipn(vnpay.result_params(transaction))["RspCode"] == "00"


def test_a_flood_of_forged_callbacks_from_one_address_is_cut_off_and_the_gateway_still_gets_through(
    ttyt_vnpay: GatewayAccount, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    transaction = vnpay.open_payment(payment.redirect_url)
    vnpay.complete(transaction.reference)
    forged = vnpay.result_params(transaction)
    forged["vnp_SecureHash"] = "0" * 128
    attacker = Client(REMOTE_ADDR="198.51.100.66")
    answers = [attacker.get(IPN, forged).status_code for _n in range(services.CALLBACK_REFUSALS_PER_MINUTE)]
    assert answers == [200] * services.CALLBACK_REFUSALS_PER_MINUTE  # each answered 97, as VNPay expects
    cut = attacker.get(IPN, forged)
    assert cut.status_code == 429 and cut["Retry-After"] == "60" and cut.json()["code"] == "rate_limited"
    assert attacker.get(RETURN, forged).status_code == 429
    # Only the refusals before the cut are logged: the flood cannot fill the event log.
    logged = PaymentEvent.objects.filter(result=EventResult.BAD_SIGNATURE).count()
    assert logged == services.CALLBACK_REFUSALS_PER_MINUTE
    # The gateway's own signed IPN, from its own address, is applied.
    assert _ipn(vnpay.result_params(transaction))["RspCode"] == "00"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID


def test_replay_of_another_facilitys_ipn_is_refused(
    ttyt_vnpay: GatewayAccount, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    transaction = vnpay.open_payment(payment.redirect_url)
    vnpay.complete(transaction.reference)
    # Another facility's merchant (its own TmnCode and key) signs a result naming our reference: 97.
    foreign = vnpay.result_params(transaction, vnp_TmnCode="HF0BVKA1")
    assert _ipn(foreign)["RspCode"] == "97"
    # Two merchants sharing one key (a hospital group): the signature verifies, the merchant is not ours: 01.
    vnpay.accounts["HF0BVKA1"] = vnpay.accounts["HF0TTYT1"]
    hospital = Facility.objects.create(
        kind="hospital",
        code="BV-X",
        name="Bệnh viện X",
        parent=Facility.objects.get(code="SYT-31"),
        province_code=31,
    )
    vnpay_account(hospital, vnpay, "HF0BVKA1")
    replay = vnpay.result_params(transaction, vnp_TmnCode="HF0BVKA1")
    assert _ipn(replay)["RspCode"] == "01"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert PaymentEvent.objects.filter(result=EventResult.WRONG_FACILITY, verified=True).count() == 1


def test_gateway_down_at_create_keeps_the_row_as_failed_to_start(
    ttyt_vnpay: GatewayAccount, booking: Any, patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(self: Any, request: Any) -> Any:
        raise GatewayError("connection refused")

    monkeypatch.setattr(VNPayGateway, "create", down)
    with pytest.raises(DomainError) as refused:
        _start(booking, patient)
    assert refused.value.status_code == 503 and refused.value.code == "gateway_down"
    assert "thử lại" in refused.value.message
    payment = Payment.objects.get(appointment=booking)
    assert payment.status == PaymentStatus.FAILED and "connection refused" in payment.failure
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_a_facility_without_the_gateway_is_refused(booking: Any, patient: Any, demo: Any) -> None:
    with pytest.raises(DomainError) as refused:
        _start(booking, patient)
    assert refused.value.code == "gateway_unavailable"
    assert not Payment.objects.exists()


def test_someone_elses_booking_is_not_found(ttyt_vnpay: GatewayAccount, booking: Any, persona: Any) -> None:
    from health_f0.core.exceptions import NotFound

    with pytest.raises(NotFound):
        services.payment_start(actor=persona("datlich"), gateway="vnpay", appointment=booking)


def test_a_visit_bill_is_paid_once(
    ttyt_vnpay: GatewayAccount, vnpay: VnpayStandIn, visit: Any, patient: Any, demo: Any
) -> None:
    from health_f0.his.models import HisLink
    from health_f0.payments import selectors

    HisLink.objects.create(
        patient=patient, facility=visit.facility, his_patient_id="BN1", linked_at=visit.admitted_at
    )
    payment = services.payment_start(actor=patient.account, gateway="vnpay", visit=visit)
    assert payment.amount == 96_000 and payment.purpose == "visit_bill"
    assert _ipn(vnpay.pay(payment.redirect_url))["RspCode"] == "00"
    assert selectors.visit_amount_due(visit) == 0
    with pytest.raises(DomainError) as again:
        services.payment_start(actor=patient.account, gateway="vnpay", visit=visit)
    assert again.value.code == "already_paid"


def test_the_visits_page_reads_the_bills_of_all_its_visits_at_once(
    ttyt_vnpay: GatewayAccount, visit: Any, patient: Any, demo: Any
) -> None:
    """/ho-so-kham shows each visit's bill with its "Thanh toán" button or its paid mark: the payments and the
    gateways are read once for the page (payments.selectors.visit_bills), not once per visit."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from health_f0.his.models import HisLink, HisVisit

    HisLink.objects.create(
        patient=patient, facility=visit.facility, his_patient_id="BN1", linked_at=visit.admitted_at
    )
    client = Client()
    client.force_login(patient.account)

    def count() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/ho-so-kham")
        assert response.status_code == 200
        return len(queries), response.content.decode()

    count()  # warm the per-process caches
    few, _page = count()
    for n in range(3):
        HisVisit.objects.create(
            patient=patient,
            facility=visit.facility,
            source="xml",
            external_id=f"LK-PAY-MORE-{n}",
            admitted_at=visit.admitted_at,
            bill_patient=50_000 + n,
        )
    many, page = count()
    assert many == few, (few, many)
    assert "96.000 đ" in page and "50.002 đ" in page


def test_the_gateways_offered_are_read_once_and_follow_an_account_change(
    ttyt_vnpay: GatewayAccount, booking: Any, django_assert_num_queries: Any
) -> None:
    from health_f0.payments import selectors

    clinic = booking.service.facility
    assert selectors.gateways_offered(clinic) == ["vnpay"]  # the TTYT's account, up the tree
    with django_assert_num_queries(0):
        assert selectors.gateways_offered(clinic) == ["vnpay"]
    ttyt_vnpay.is_active = False
    ttyt_vnpay.save()
    assert selectors.gateways_offered(clinic) == []
    ttyt_vnpay.delete()
    GatewayAccount.objects.create(facility=clinic, gateway="vnpay", merchant_code="HF0PK1", is_active=True)
    assert selectors.gateways_offered(clinic) == ["vnpay"]


def test_a_visit_card_from_the_sql_rows_is_the_orm_visits_card(
    ttyt_vnpay: GatewayAccount, visit: Any, patient: Any, demo: Any
) -> None:
    """/ho-so-kham and its printed summary draw a visit's card and bill from his.sql.visits' rows
    (www.his_rows.PortalVisit, payments.selectors.visit_bills on them): the same HTML as from the HisVisit it
    replaced, for a bill due with a gateway offered, a paid one, one at a facility without a gateway, none, and
    a visit without a time."""
    from datetime import timedelta

    from django.template import engines
    from django.utils import timezone

    from health_f0.his import selectors as his_selectors
    from health_f0.his.models import HisLink, HisVisit
    from health_f0.payments import selectors
    from health_f0.payments.models import Payment
    from health_f0.www.his_rows import VisitRow, portal_visits

    HisLink.objects.create(
        patient=patient, facility=visit.facility, his_patient_id="BN1", linked_at=visit.admitted_at
    )
    # A hospital outside TTYT-HD's tree: no gateway offered there.
    ttyt = visit.facility
    clinic = Facility.objects.create(
        kind="hospital",
        code="BV-KHAC",
        name="Bệnh viện Khác",
        parent=ttyt.parent,
        province_code=ttyt.province_code,
    )
    assert clinic is not None and not selectors.gateways_offered(clinic)
    HisLink.objects.create(
        patient=patient, facility=clinic, his_patient_id="BN2", linked_at=visit.admitted_at
    )
    paid = HisVisit.objects.create(
        patient=patient,
        facility=visit.facility,
        source="xml",
        external_id="LK-PAID",
        admitted_at=visit.admitted_at,
        discharged_at=visit.admitted_at + timedelta(days=3),
        bill_patient=40_000,
        department_code="K01",
        diagnosis_text="Viêm họng",
        icd10="J02",
    )
    Payment.objects.create(
        facility=paid.facility,
        patient=patient,
        visit=paid,
        purpose="visit_bill",
        gateway="vnpay",
        amount=40_000,
        status="paid",
        paid_at=timezone.now(),
        expires_at=timezone.now(),
    )
    HisVisit.objects.create(
        patient=patient, facility=clinic, source="xml", external_id="LK-NOGW", bill_patient=10_000
    )
    HisVisit.objects.create(patient=patient, facility=visit.facility, source="xml", external_id="LK-NOBILL")
    user = patient.account
    orm_visits = list(his_selectors.visits_for(user=user, patient=patient))
    rows = his_selectors.portal_visit_rows(
        scope=his_selectors.RecordScope.of(user), patient=patient, timed=None
    )
    sql_visits = portal_visits(rows.fetch(ordering=rows.ordering, limit=100))
    assert [v.pk for v in sql_visits] == [v.pk for v in orm_visits] and len(orm_visits) == 4
    orm_bills, sql_bills = selectors.visit_bills(orm_visits), selectors.visit_bills(sql_visits)
    assert orm_bills == sql_bills and len(sql_bills) == 3
    template = engines["jinja2"].from_string('{% include "www/his_visit.html" %}')
    for orm_visit, sql_visit in zip(orm_visits, sql_visits, strict=True):
        orm_html = template.render(
            {"row": VisitRow(visit=orm_visit, results=[], bill=orm_bills.get(orm_visit.pk))}
        )
        sql_html = template.render(
            {"row": VisitRow(visit=sql_visit, results=[], bill=sql_bills.get(sql_visit.pk))}
        )
        assert sql_html == orm_html, orm_visit.external_id
        if orm_visit.pk == visit.pk:
            assert "Thanh toán" in sql_html and "96.000 đ" in sql_html
