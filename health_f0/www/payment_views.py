"""/thanh-toan/: paying a booking's fee or a visit's bill, the result page, and the gateways' callbacks.

Thin: the patient's pages scope the booking or the visit through facilities.access (appointments_for,
his_records_for: another account's id is a 404) and call payments.services.payment_start; the callbacks
(generic over payments.gateways.GATEWAYS) hand the parameters to payments.services.callback_apply and answer
in the gateway's own format (VNPay's RspCode JSON, MoMo's 204, payOS's JSON).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from health_f0.appointments.models import Appointment
from health_f0.core.exceptions import DomainError, NotFound
from health_f0.core.request_context import client_ip
from health_f0.facilities import access
from health_f0.his.models import HisVisit
from health_f0.payments import gateways, selectors, services
from health_f0.payments.gateways.base import GatewayConfig
from health_f0.payments.models import EventKind, GatewayName, Payment, PaymentStatus
from health_f0.www.caching import never_cache
from health_f0.www.views import _page

# A callback is a small query string or JSON body; anything bigger is not a gateway's.
CALLBACK_MAX_BYTES = 64 * 1024


def _qr_svg(payload: str) -> str:
    import segno

    return str(
        segno.make(payload, error="m").svg_inline(border=2, dark="#111827", svgclass="qr-code", omitsize=True)
    )


def _own(queryset: Any, public_id: uuid.UUID) -> Any:
    """One row of the account's own scope, else a 404 (missing and not-yours alike)."""
    try:
        return access.get_scoped_or_404(queryset, public_id=public_id)
    except NotFound:
        raise Http404(_("Không tìm thấy hồ sơ.")) from None


def _gateway_choices(facility: Any) -> list[tuple[str, str]]:
    labels = dict(GatewayName.choices)
    return [(name, str(labels.get(name, name))) for name in selectors.gateways_offered(facility)]


def _start(
    request: HttpRequest, *, appointment: Appointment | None = None, visit: HisVisit | None = None
) -> Any:
    """POST: start the payment and send the patient on (the gateway's page, or the QR on the result page)."""
    try:
        payment = services.payment_start(
            actor=request.user,
            gateway=request.POST.get("gateway", ""),
            appointment=appointment,
            visit=visit,
            client_ip=client_ip(request),
            locale="en" if (get_language() or "vi").startswith("en") else "vn",
        )
    except DomainError as exc:
        return exc
    if payment.qr_payload:  # VietQR: our own page draws the QR and follows the payment until it is paid
        return redirect("payments:result", public_id=payment.public_id)
    if payment.redirect_url and payment.status == PaymentStatus.PENDING:
        return redirect(payment.redirect_url)
    return redirect("payments:result", public_id=payment.public_id)


def _choose_page(
    request: HttpRequest, context: dict[str, Any], error: DomainError | None = None
) -> HttpResponse:
    status = error.status_code if error is not None else 200
    context["page_error"] = error.message if error is not None else ""
    context["error_field"] = getattr(error, "field", "") if error is not None else ""
    context["choice_values"] = [value for value, _label in context["choices"]]
    response = _page(request, "www/pay_choose.html", context, status=status)
    facility = context["appointment"].facility if context["kind"] == "booking" else context["visit"].facility
    origins = selectors.gateway_origins(facility)
    if origins:  # the form's redirect goes to the gateway's page (CSP form-action applies to redirects)
        response._csp_update = {"form-action": origins}  # type: ignore[attr-defined]
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def pay_booking(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Pay a booking's examination fee (the service's price) through a gateway the facility offers."""
    appointment = _own(
        Appointment.objects.filter(patient__in=access.own_patients_for(request.user)).select_related(
            "service", "facility", "patient"
        ),
        public_id,
    )
    state = selectors.booking_payment_state(appointment)
    context = {
        "kind": "booking",
        "appointment": appointment,
        "start": timezone.localtime(appointment.slot_start),
        "amount": state["price"],
        "state": state,
        "deadline": timezone.localtime(state["deadline"]) if state["deadline"] else None,
        "choices": _gateway_choices(appointment.facility),
        "paid_payment": state["payment"],
        "payable": state["payable"],
        "back_url": reverse("www:appointment", kwargs={"public_id": appointment.public_id}),
    }
    if request.method == "POST":
        outcome = _start(request, appointment=appointment)
        if not isinstance(outcome, DomainError):
            return outcome  # type: ignore[no-any-return]
        return _choose_page(request, context, outcome)
    return _choose_page(request, context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def pay_visit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Pay the patient's share of a visit's bill (XML1 totals) through a gateway the facility offers."""
    if access.is_staff_member(request.user):  # staff read visits in the desk; paying is the patient's
        raise Http404(_("Không tìm thấy hồ sơ."))
    visit = _own(
        access.his_records_for(request.user, HisVisit).select_related("facility", "patient"), public_id
    )
    paid = selectors.paid_payment(visit=visit)
    amount = selectors.visit_amount_due(visit)
    context = {
        "kind": "visit",
        "visit": visit,
        "amount": int(visit.bill_patient or 0),
        "choices": _gateway_choices(visit.facility),
        "paid_payment": paid,
        "payable": amount > 0,
        "back_url": reverse("www:his_visits"),
    }
    if request.method == "POST":
        outcome = _start(request, visit=visit)
        if not isinstance(outcome, DomainError):
            return outcome  # type: ignore[no-any-return]
        return _choose_page(request, context, outcome)
    return _choose_page(request, context)


@never_cache
@require_GET
def result(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """What became of a payment: paid, waiting for the gateway, not paid. No receipt, no personal data: the
    address is unguessable and the page shows the facility, the amount, the state and our reference only."""
    payment = Payment.objects.select_related("facility").filter(public_id=public_id).first()
    if payment is None:
        raise Http404(_("Không tìm thấy thanh toán."))
    waiting = payment.status in (PaymentStatus.CREATED, PaymentStatus.PENDING)
    owner = (
        request.user.is_authenticated
        and not access.is_staff_member(request.user)
        and access.payments_for(request.user).filter(pk=payment.pk).exists()
    )
    show_qr = waiting and bool(payment.qr_payload)
    context = {
        "payment": payment,
        "waiting": waiting,
        "paid": payment.is_paid,
        "qr_svg": _qr_svg(payment.qr_payload) if show_qr else "",
        "transfer": selectors.transfer_details(payment) if show_qr else None,
        # The QR is paid in the bank's app, not on a gateway's page: no "continue" link for it.
        "continue_url": payment.redirect_url if waiting and not payment.qr_payload else "",
        "checking": waiting and request.GET.get("xac-nhan") == "1",
        # The patient's own open payment follows its state by itself (pay_status.js polls status_json).
        "poll_url": reverse("payments:status", kwargs={"public_id": payment.public_id})
        if waiting and owner
        else "",
        "owner": owner,
    }
    return _page(request, "www/pay_result.html", context)


@never_cache
@require_GET
def status_json(request: HttpRequest, public_id: uuid.UUID) -> JsonResponse:
    """A payment's state as a small JSON for its page to follow: the patient's own payments only (another
    account's, staff, anonymous: 404). No personal data: the status and whether the money arrived."""
    if not request.user.is_authenticated or access.is_staff_member(request.user):
        return JsonResponse({"detail": _("Không tìm thấy thanh toán."), "code": "not_found"}, status=404)
    payment = access.payments_for(request.user).filter(public_id=public_id).first()
    if payment is None:
        return JsonResponse({"detail": _("Không tìm thấy thanh toán."), "code": "not_found"}, status=404)
    waiting = payment.status in (PaymentStatus.CREATED, PaymentStatus.PENDING)
    return JsonResponse(
        {
            "status": payment.status,
            "label": str(payment.get_status_display()),
            "paid": payment.is_paid,
            "waiting": waiting,
        }
    )


def _gateway_or_404(gateway: str) -> type[gateways.Gateway]:
    cls = gateways.gateway_class(gateway)
    if cls is None:
        raise Http404(_("Không tìm thấy."))
    return cls


def _callback_params(request: HttpRequest) -> dict[str, Any]:
    if request.method == "GET":
        return request.GET.dict()
    if (request.content_type or "").startswith("application/json"):
        try:
            body = json.loads(request.body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            return {}
        return body if isinstance(body, dict) else {}
    return request.POST.dict()


@csrf_exempt  # called by the gateway's servers; authenticated by the gateway's signature over the parameters
@require_http_methods(["GET", "POST"])
def notify(request: HttpRequest, gateway: str, webhook: bool = False) -> HttpResponse:
    """IPN / webhook: verified and applied once; answered as the gateway expects (VNPay: HTTP 200 with
    {"RspCode", "Message"} whatever the outcome)."""
    cls = _gateway_or_404(gateway)
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > CALLBACK_MAX_BYTES:
        return JsonResponse({"detail": _("Yêu cầu quá lớn."), "code": "too_large"}, status=413)
    applied = services.callback_apply(
        gateway=gateway,
        kind=EventKind.WEBHOOK if webhook else EventKind.IPN,
        params=_callback_params(request),
        remote_ip=client_ip(request),
    )
    if applied.code == services.LIMITED:
        return _too_many_callbacks()
    status, body = cls(GatewayConfig(gateway=gateway, merchant_code="", secret="")).notification_answer(
        applied.code
    )
    if body is None or body == "":
        return HttpResponse(status=status)
    return JsonResponse(body, status=status, safe=False)


def _too_many_callbacks() -> HttpResponse:
    response = JsonResponse(
        {"detail": _("Quá nhiều yêu cầu không hợp lệ. Vui lòng thử lại sau 1 phút."), "code": "rate_limited"},
        status=429,
    )
    response["Retry-After"] = "60"
    return response


@never_cache
@require_GET
def gateway_return(request: HttpRequest, gateway: str) -> HttpResponse:
    """The browser back from the gateway: the signed result is applied like the IPN (once), then the result
    page shows the payment's state as stored (a forged return changes nothing and shows nothing new)."""
    _gateway_or_404(gateway)
    applied = services.callback_apply(
        gateway=gateway, kind=EventKind.RETURN, params=request.GET.dict(), remote_ip=client_ip(request)
    )
    if applied.code == services.LIMITED:
        context = {
            "payment": None,
            "page_error": _("Quá nhiều yêu cầu không hợp lệ. Vui lòng thử lại sau 1 phút."),
        }
        response = _page(request, "www/pay_result.html", context, status=429)
        response["Retry-After"] = "60"
        return response
    if applied.payment is None:
        context = {"payment": None, "page_error": _("Không xác định được giao dịch thanh toán này.")}
        return _page(request, "www/pay_result.html", context, status=404)
    target = reverse("payments:result", kwargs={"public_id": applied.payment.public_id})
    if applied.code == services.CHECKING:  # the gateway could not confirm it now: the page says so
        target += "?xac-nhan=1"
    return redirect(target)
