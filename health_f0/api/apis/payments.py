"""Payments API v1: pay a booking's fee or a visit's bill through a gateway the facility offers, and read one
payment. Patient accounts only, and only their own and their family's (facilities.access.payments_for).

POST /payments answers where the patient goes: `redirect_url` (VNPay, MoMo: open it in the browser; the gateway
returns to the portal's result page) or `qr_payload` (VietQR: draw it as a QR code for a banking app). The
payment is settled by the gateway's callback, never by the app: poll GET /payments/{id} for `status`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from health_f0.accounting import receipts
from health_f0.api.apis.common import id_parameter, uuid_or_404, validated
from health_f0.api.parsers import JSONParser
from health_f0.api.permissions import HasOwnPassword, IsPatientAccount
from health_f0.api.schema import error_responses
from health_f0.api.views import APIView
from health_f0.core.exceptions import NotFound
from health_f0.core.request_context import client_ip
from health_f0.facilities import access
from health_f0.his.models import HisVisit
from health_f0.payments import services
from health_f0.payments.models import GatewayName, Payment, PaymentStatus, Purpose

TAG = "Thanh toán"


class PaymentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    reference = serializers.CharField(help_text="Mã thanh toán (gửi cổng thanh toán, in trên sao kê)")
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    appointment = serializers.UUIDField(source="appointment.public_id", allow_null=True, default=None)
    visit = serializers.UUIDField(source="visit.public_id", allow_null=True, default=None)
    facility = serializers.CharField(source="facility.name")
    amount = serializers.IntegerField(help_text="Số tiền (đồng)")
    gateway = serializers.ChoiceField(choices=GatewayName.choices)
    status = serializers.ChoiceField(choices=PaymentStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    redirect_url = serializers.SerializerMethodField(help_text="Trang của cổng thanh toán (khi đang chờ)")
    qr_payload = serializers.SerializerMethodField(help_text="Chuỗi mã QR VietQR (khi đang chờ)")
    result_url = serializers.SerializerMethodField(help_text="Trang kết quả thanh toán trên cổng thông tin")
    receipt_url = serializers.SerializerMethodField(
        help_text="Biên lai PDF (khi đã thanh toán; tải bằng cùng token: GET /api/v1/payments/{id}/receipt.pdf)"
    )
    failure = serializers.CharField()
    expires_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def _open(self, payment: Payment) -> bool:
        return payment.status in (PaymentStatus.CREATED, PaymentStatus.PENDING)

    def get_redirect_url(self, payment: Payment) -> str:
        return payment.redirect_url if self._open(payment) else ""

    def get_qr_payload(self, payment: Payment) -> str:
        return payment.qr_payload if self._open(payment) else ""

    def get_result_url(self, payment: Payment) -> str:
        return settings.PORTAL_URL + reverse("payments:result", kwargs={"public_id": payment.public_id})

    def get_receipt_url(self, payment: Payment) -> str:
        if not receipts.has_receipt(payment):
            return ""
        return settings.PORTAL_URL + reverse("api:payment-receipt", kwargs={"id": str(payment.public_id)})


class PaymentApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, HasOwnPassword, IsPatientAccount]


class PaymentCollectionApi(PaymentApi):
    @extend_schema_serializer(component_name="PaymentStartInput")
    class InputSerializer(serializers.Serializer):
        appointment = serializers.UUIDField(required=False, help_text="Mã lịch hẹn (trả phí khám)")
        visit = serializers.UUIDField(
            required=False, help_text="Mã lượt khám (trả phần viện phí người bệnh trả)"
        )
        gateway = serializers.ChoiceField(
            choices=GatewayName.choices, help_text="Cổng thanh toán cơ sở có nhận"
        )

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if bool(attrs.get("appointment")) == bool(attrs.get("visit")):
                raise serializers.ValidationError(
                    {"appointment": _("Chọn một lịch hẹn hoặc một lượt khám để thanh toán.")}
                )
            return attrs

    @extend_schema(
        operation_id="payment_start",
        tags=[TAG],
        summary="Bắt đầu thanh toán phí khám của lịch hẹn hoặc viện phí của lượt khám",
        description=(
            "Trả `redirect_url` (VNPay, MoMo) hoặc `qr_payload` (VietQR). Bấm lại khi liên kết còn hạn trả lại "
            "cùng thanh toán. 400 `nothing_to_pay`, `deadline_passed`, `gateway_unavailable`, `already_paid`; "
            "404 lịch hẹn/lượt khám không thuộc tài khoản; 503 `gateway_down`: cổng không kết nối được "
            "(thanh toán được ghi là không thành công, lịch hẹn vẫn giữ)."
        ),
        request=InputSerializer,
        responses={201: PaymentSerializer, **error_responses(400, 401, 403, 404, 503)},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request.data)
        appointment = visit = None
        if data.get("appointment"):
            appointment = access.get_scoped_or_404(
                access.appointments_for(request.user).select_related("service", "facility", "patient"),
                public_id=data["appointment"],
            )
        else:
            visit = access.get_scoped_or_404(
                access.his_records_for(request.user, HisVisit).select_related("facility", "patient"),
                public_id=data["visit"],
            )
        payment = services.payment_start(
            actor=request.user,
            gateway=data["gateway"],
            appointment=appointment,
            visit=visit,
            client_ip=client_ip(request),
        )
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class PaymentDetailApi(PaymentApi):
    @extend_schema(
        operation_id="payment_detail",
        tags=[TAG],
        summary="Một thanh toán của tôi hoặc người thân",
        parameters=[id_parameter("Mã thanh toán")],
        responses={200: PaymentSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, id: str) -> Response:
        queryset = access.payments_for(request.user).select_related("facility", "appointment", "visit")
        try:
            payment = access.get_scoped_or_404(queryset, public_id=uuid_or_404(id))
        except NotFound:
            raise NotFound(_("Không tìm thấy thanh toán."))
        return Response(PaymentSerializer(payment).data)


class PaymentReceiptApi(PaymentApi):
    @extend_schema(
        operation_id="payment_receipt",
        tags=[TAG],
        summary="Biên lai PDF của một thanh toán đã trả",
        parameters=[id_parameter("Mã thanh toán")],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request: Request, id: str) -> HttpResponse:
        """The same receipt as the portal's /ca-nhan/bien-lai/<id>.pdf, for the app: the account's own or
        family's paid payments only (accounting.receipts.own_receipt_payment)."""
        payment = receipts.own_receipt_payment(user=request.user, public_id=uuid_or_404(id))
        response = HttpResponse(receipts.receipt_pdf(payment=payment), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{receipts.receipt_filename(payment)}"'
        response["Cache-Control"] = "private, no-store"
        return response
