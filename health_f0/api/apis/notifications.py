"""The account's channel for notices: SMS, or Zalo ZNS where the province has configured it.

GET and PUT /me/notification-channel. Thin: the rule (Zalo only where configured) is
notifications.services.contact_channel_set's; the number is the account's own patient record's phone.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from health_f0.api.parsers import JSONParser
from health_f0.api.schema import error_responses
from health_f0.api.views import APIView
from health_f0.core.exceptions import NotFound
from health_f0.notifications.models import Channel
from health_f0.notifications.selectors import contact_channel, zns_available
from health_f0.notifications.services import contact_channel_set
from health_f0.patients.models import Patient

TAG = "Tài khoản"


def _own_phone(user: Any) -> str:
    """The phone of the account's own patient record (where its notices go); 404 for an account without one."""
    phone = Patient.objects.filter(account=user).order_by("id").values_list("phone", flat=True).first()
    if not phone:
        raise NotFound(_("Tài khoản không có hồ sơ người bệnh để nhận tin."))
    return phone


class MeNotificationChannelApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema_serializer(component_name="NotificationChannelInput")
    class InputSerializer(serializers.Serializer):
        channel = serializers.ChoiceField(
            choices=Channel.choices, help_text="`sms` hoặc `zns` (Zalo; chỉ khi `zns_available`)"
        )

    @extend_schema_serializer(component_name="NotificationChannelOutput")
    class OutputSerializer(serializers.Serializer):
        channel = serializers.ChoiceField(choices=Channel.choices)
        zns_available = serializers.BooleanField(
            help_text="Sở Y tế đã bật kênh Zalo ZNS: người dùng có thể chọn `zns`"
        )

    def _answer(self, phone: str) -> Response:
        return Response(
            self.OutputSerializer(
                {"channel": contact_channel(phone=phone), "zns_available": zns_available()}
            ).data
        )

    @extend_schema(
        operation_id="me_notification_channel",
        tags=[TAG],
        summary="Kênh nhận tin nhắc lịch và thông báo (SMS hoặc Zalo)",
        responses={200: OutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request) -> Response:
        return self._answer(_own_phone(request.user))

    @extend_schema(
        operation_id="me_notification_channel_set",
        tags=[TAG],
        summary="Chọn kênh nhận tin (SMS hoặc Zalo)",
        description="Tin nhắc gửi qua Zalo ZNS; nếu số điện thoại không dùng Zalo hoặc tin không đến máy "
        "kịp thời, hệ thống gửi SMS thay (một lần). Chọn `zns` khi `zns_available` là false: 400.",
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 404)},
    )
    def put(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        phone = _own_phone(request.user)
        contact_channel_set(phone=phone, channel=serializer.validated_data["channel"], actor=request.user)
        return self._answer(phone)
