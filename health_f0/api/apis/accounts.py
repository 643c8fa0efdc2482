"""Account endpoints: bearer tokens (log in / log out), who am I, change my password."""

from __future__ import annotations

import math
from typing import Any, NoReturn

from django.utils.translation import ngettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from health_f0.accounts import two_factor
from health_f0.api import selectors
from health_f0.api.models import ApiToken
from health_f0.api.parsers import JSONParser
from health_f0.api.schema import error_responses
from health_f0.api.services import api_login, api_password_change, api_token_issue, api_token_revoke
from health_f0.api.throttles import ClientIpScopedRateThrottle
from health_f0.core.exceptions import RateLimited
from health_f0.patients.selectors import ActingRelation

TAG = "Tài khoản"


# What an account is, as /me says (named in the schema by settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
ACCOUNT_KINDS = [("patient", "Người bệnh"), ("staff", "Nhân viên y tế")]


class TokenCreateApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    throttle_classes = [ClientIpScopedRateThrottle]
    throttle_scope = "auth_token"

    @extend_schema_serializer(component_name="TokenCreateInput")
    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(
            max_length=256, trim_whitespace=False, style={"input_type": "password"}
        )
        otp = serializers.CharField(
            max_length=32,
            required=False,
            allow_blank=True,
            help_text="Mã 6 chữ số từ ứng dụng xác thực (hoặc một mã dự phòng), bắt buộc với tài khoản đã bật "
            "xác thực hai lớp (nhân viên quản trị, lãnh đạo).",
        )

    @extend_schema_serializer(component_name="TokenCreateOutput")
    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Gửi trong tiêu đề `Authorization: Bearer <token>`")
        expires_at = serializers.DateTimeField()

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        retry_after = max(math.ceil(wait or 60), 1)
        raise RateLimited(
            ngettext(
                "Bạn đăng nhập quá nhiều lần. Vui lòng thử lại sau %(seconds)s giây.",
                "Bạn đăng nhập quá nhiều lần. Vui lòng thử lại sau %(seconds)s giây.",
                retry_after,
            )
            % {"seconds": retry_after},
            code="throttled",
            retry_after=retry_after,
        )

    @extend_schema(
        operation_id="auth_token_create",
        tags=[TAG],
        summary="Đăng nhập: đổi tên đăng nhập và mật khẩu lấy mã truy cập (30 ngày)",
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = api_login(request=request._request, username=data["username"], password=data["password"])
        two_factor.token_login_check(user=user, code=data.get("otp", ""))
        raw, token = api_token_issue(user=user)
        return Response(self.OutputSerializer({"token": raw, "expires_at": token.expires_at}).data)


class TokenDeleteApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="auth_logout",
        tags=[TAG],
        summary="Đăng xuất: huỷ mã truy cập đang dùng",
        request=None,
        responses={204: None, **error_responses(401)},
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeStationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    code = serializers.CharField()
    name = serializers.CharField()
    hotline = serializers.CharField()


class MePatientSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    full_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    sex = serializers.CharField()
    phone = serializers.CharField(source="phone_display")
    station = MeStationSerializer(source="facility")
    details_confirmed_at = serializers.DateTimeField(allow_null=True)


class MeActingForSerializer(MePatientSerializer):
    relation = serializers.ChoiceField(
        choices=ActingRelation.choices,
        help_text="`self`: hồ sơ của chính tài khoản; `family`: người nhà có tài khoản riêng, cùng số điện "
        "thoại đã xác thực bằng OTP",
    )
    relation_label = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_relation_label(self, obj: Any) -> str:
        return str(ActingRelation(obj.relation).label)


class MeRoleSerializer(serializers.Serializer):
    facility = MeStationSerializer()
    role = serializers.CharField()
    role_label = serializers.CharField()


class MeApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema_serializer(component_name="MeOutput")
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        full_name = serializers.CharField()
        kind = serializers.ChoiceField(choices=ACCOUNT_KINDS)
        must_change_password = serializers.BooleanField()
        patients = MePatientSerializer(many=True, help_text="Hồ sơ người bệnh gắn với tài khoản")
        acting_for = MeActingForSerializer(
            many=True,
            help_text="Mọi người bệnh tài khoản được thay mặt (khai báo `POST /declarations`, đặt lịch, xem hồ "
            "sơ): chính mình trước, rồi người nhà. Nhân viên y tế: rỗng.",
        )
        roles = MeRoleSerializer(many=True, help_text="Vai trò tại các cơ sở (nhân viên y tế)")

    @extend_schema(
        operation_id="me",
        tags=[TAG],
        summary="Tài khoản đang đăng nhập",
        responses={200: OutputSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(selectors.me_profile(user=request.user)).data)


class PasswordChangeApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema_serializer(component_name="PasswordChangeInput")
    class InputSerializer(serializers.Serializer):
        old_password = serializers.CharField(max_length=256, trim_whitespace=False)
        new_password = serializers.CharField(max_length=256, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_password_change",
        tags=[TAG],
        summary="Đổi mật khẩu (bắt buộc sau lần đăng nhập đầu bằng mật khẩu nhận qua SMS)",
        description="Mật khẩu hiện tại được kiểm tra như khi đăng nhập: nhập sai nhiều lần thì bị tạm khoá "
        "(429). Đổi xong, mọi mã truy cập khác và mọi phiên đăng nhập web của tài khoản bị huỷ.",
        request=InputSerializer,
        responses={204: None, **error_responses(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_password_change(
            request=request._request,
            user=request.user,
            keep=request.auth if isinstance(request.auth, ApiToken) else None,
            **serializer.validated_data,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
