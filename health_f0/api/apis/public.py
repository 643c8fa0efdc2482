"""Public endpoints: the registration form, the address lists, OTP and self-registration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from health_f0.api.schema import error_responses
from health_f0.api.views import APIView
from health_f0.core.exceptions import DomainError, NotFound
from health_f0.core.phone import normalize_mobile
from health_f0.core.request_context import client_ip
from health_f0.patients import address
from health_f0.patients.otp import PURPOSES, otp_request
from health_f0.registration import screening
from health_f0.registration import selectors as registration_selectors
from health_f0.registration.models import Channel
from health_f0.registration.services import RegistrationInput, registration_submit

TAG_FORM = "Đăng ký F0"
TAG_ADDRESS = "Địa giới hành chính"


class PublicApi(APIView):
    """No authentication at all: a stale or wrong bearer token must not block the public journey."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]


def _choices(options: list[screening.Option]) -> list[tuple[str, str]]:
    return [(o.code, o.vi) for o in options]


class StationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    hotline = serializers.CharField()


class CodeNameSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    name = serializers.CharField()


class RegistrationCreateApi(PublicApi):
    @extend_schema_serializer(component_name="RegistrationCreateInput")
    class InputSerializer(serializers.Serializer):
        full_name = serializers.CharField(max_length=200, help_text="Họ và tên người bệnh")
        date_of_birth = serializers.DateField(input_formats=["iso-8601"], help_text="Ngày sinh, YYYY-MM-DD")
        sex = serializers.ChoiceField(choices=_choices(screening.SEXES))
        phone = serializers.CharField(max_length=32, help_text="Số di động, ví dụ 0912345678")
        province_code = serializers.IntegerField(min_value=1, max_value=99999)
        ward_code = serializers.IntegerField(min_value=1, max_value=99999999)
        street = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
        relation = serializers.ChoiceField(
            choices=_choices(screening.RELATIONS), required=False, default="self"
        )
        registrant_name = serializers.CharField(
            max_length=200,
            required=False,
            allow_blank=True,
            default="",
            help_text="Khi đăng ký giúp người thân",
        )
        cccd = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        bhyt = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        test_type = serializers.ChoiceField(choices=_choices(screening.TEST_TYPES))
        positive_date = serializers.DateField(
            input_formats=["iso-8601"], help_text="Ngày có kết quả dương tính, YYYY-MM-DD"
        )
        symptoms = serializers.ListField(
            child=serializers.ChoiceField(choices=_choices(screening.SYMPTOMS)),
            required=False,
            default=list,
            max_length=len(screening.SYMPTOMS),
        )
        spo2 = serializers.IntegerField(
            min_value=0, max_value=100, required=False, allow_null=True, default=None
        )
        breathing_rate = serializers.IntegerField(
            min_value=0, max_value=200, required=False, allow_null=True, default=None
        )
        conditions = serializers.ListField(
            child=serializers.ChoiceField(choices=_choices(screening.CONDITIONS)),
            required=False,
            default=list,
            max_length=len(screening.CONDITIONS),
        )
        conditions_stable = serializers.BooleanField(required=False, default=True)
        pregnant = serializers.BooleanField(required=False, default=False)
        vaccine_doses = serializers.IntegerField(
            min_value=0, max_value=screening.VACCINE_DOSES_MAX, required=False, default=0
        )
        care = serializers.ChoiceField(choices=_choices(screening.CARE))
        can_phone = serializers.BooleanField(required=False, default=True)
        consent = serializers.BooleanField(help_text="Đồng ý cho phép xử lý dữ liệu sức khoẻ")
        otp = serializers.CharField(max_length=12, help_text="Mã OTP 6 chữ số đã gửi tới số điện thoại")

    @extend_schema_serializer(component_name="RegistrationCreateOutput")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField(source="public_id")
        status = serializers.CharField()
        station = StationSerializer(source="facility")
        submitted_at = serializers.DateTimeField(source="created_at")

    @extend_schema(
        operation_id="registration_submit",
        tags=[TAG_FORM],
        summary="Gửi đăng ký chăm sóc F0 tại nhà (cần mã OTP)",
        description="Công khai, không cần đăng nhập. Ngày theo định dạng YYYY-MM-DD.",
        auth=[],
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = RegistrationCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        otp = fields.pop("otp")
        registration = registration_submit(data=RegistrationInput(**fields), otp=otp, channel=Channel.APP)
        return Response(
            RegistrationCreateApi.OutputSerializer(registration).data, status=status.HTTP_201_CREATED
        )


def _field_description(name: str, field: serializers.Field) -> dict[str, Any]:
    """What the app needs to draw and pre-check one input of the registration form."""
    kinds = [
        (serializers.BooleanField, "boolean"),
        (serializers.DateField, "date"),
        (serializers.IntegerField, "integer"),
        (serializers.ListField, "multiple_choice"),
        (serializers.ChoiceField, "choice"),
        (serializers.CharField, "string"),
    ]
    kind = next((label for cls, label in kinds if isinstance(field, cls)), "string")
    out: dict[str, Any] = {
        "name": name,
        "type": kind,
        "required": bool(field.required),
        "nullable": bool(field.allow_null),
        "label": str(field.help_text or ""),
    }
    for attribute in ("max_length", "min_value", "max_value"):
        value = getattr(field, attribute, None)
        if value is not None:
            out[attribute] = value
    if name in {"symptoms", "conditions", "sex", "relation", "test_type", "care"}:
        out["options"] = name
    return out


class RegistrationFormApi(PublicApi):
    @extend_schema_serializer(component_name="RegistrationFormOutput")
    class OutputSerializer(serializers.Serializer):
        fields = serializers.ListField(  # type: ignore[assignment]
            child=serializers.DictField(), help_text="Các trường của biểu mẫu"
        )
        options = serializers.DictField(help_text="Mã lựa chọn của từng câu hỏi (screening.form_description)")
        privacy_policy_version = serializers.CharField()
        date_format = serializers.CharField()

    @extend_schema(
        operation_id="registration_form",
        tags=[TAG_FORM],
        summary="Mô tả biểu mẫu đăng ký: trường, giới hạn, mã lựa chọn",
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        inputs = RegistrationCreateApi.InputSerializer().fields
        data = {
            "fields": [_field_description(name, field) for name, field in inputs.items()],
            "options": screening.form_description(),
            "privacy_policy_version": settings.PRIVACY_POLICY_VERSION,
            "date_format": "YYYY-MM-DD",
        }
        return Response(self.OutputSerializer(data).data)


class ProvinceListApi(PublicApi):
    @extend_schema_serializer(component_name="Province")
    class OutputSerializer(CodeNameSerializer):
        served = serializers.BooleanField(
            help_text="Tỉnh đã có trạm y tế nhận đăng ký trên hệ thống; nếu `false`, báo ngay khi người dùng chọn"
        )

    @extend_schema(
        operation_id="province_list",
        tags=[TAG_ADDRESS],
        summary="Danh sách tỉnh/thành phố (thứ tự chữ cái tiếng Việt)",
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        served = registration_selectors.served_province_codes()
        rows = [{"code": code, "name": name, "served": code in served} for code, name in address.provinces()]
        return Response(self.OutputSerializer(rows, many=True).data)


class WardListApi(PublicApi):
    @extend_schema(
        operation_id="ward_list",
        tags=[TAG_ADDRESS],
        summary="Danh sách phường/xã của một tỉnh/thành phố",
        parameters=[OpenApiParameter("code", OpenApiTypes.INT, OpenApiParameter.PATH, description="Mã tỉnh")],
        responses={200: CodeNameSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, code: str) -> Response:
        province_code = int(code) if code.isascii() and code.isdigit() and len(code) < 6 else None
        if province_code is None or province_code not in dict(address.provinces()):
            raise NotFound(_("Không tìm thấy tỉnh/thành phố."), code="province_not_found")
        rows = [{"code": c, "name": name} for c, name in address.wards_of(province_code)]
        return Response(CodeNameSerializer(rows, many=True).data)


class OtpRequestApi(PublicApi):
    @extend_schema_serializer(component_name="OtpRequestInput")
    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=32, help_text="Số di động, ví dụ 0912345678")
        purpose = serializers.ChoiceField(choices=sorted(PURPOSES), default="registration", required=False)

        def validate_phone(self, value: str) -> str:
            try:
                return normalize_mobile(value)
            except DomainError as exc:
                raise serializers.ValidationError(exc.message, code=exc.code)

    @extend_schema_serializer(component_name="OtpRequestOutput")
    class OutputSerializer(serializers.Serializer):
        expires_in = serializers.IntegerField(help_text="Mã hết hạn sau (giây)")
        resend_after = serializers.IntegerField(help_text="Được lấy mã mới sau (giây)")

    @extend_schema(
        operation_id="otp_request",
        tags=[TAG_FORM],
        summary="Gửi mã OTP qua SMS",
        request=InputSerializer,
        responses={202: OutputSerializer, **error_responses(400, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = otp_request(
            phone=serializer.validated_data["phone"],
            purpose=serializer.validated_data["purpose"],
            ip=client_ip(request._request),
        )
        return Response(self.OutputSerializer(issued).data, status=status.HTTP_202_ACCEPTED)


__all__ = [
    "OtpRequestApi",
    "ProvinceListApi",
    "RegistrationCreateApi",
    "RegistrationFormApi",
    "WardListApi",
]
