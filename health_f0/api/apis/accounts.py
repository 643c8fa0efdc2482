"""Account endpoints: bearer tokens (log in / log out), who am I, change my password, sign up, forgot password."""

from __future__ import annotations

import math
from typing import Any, NoReturn

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from health_f0.accounts import signup, two_factor
from health_f0.api import selectors
from health_f0.api.models import ApiToken
from health_f0.api.parsers import JSONParser
from health_f0.api.permissions import HasOwnPassword, IsPatientAccount
from health_f0.api.schema import error_responses
from health_f0.api.services import api_login, api_password_change, api_token_issue, api_token_revoke
from health_f0.api.throttles import ClientIpScopedRateThrottle
from health_f0.api.views import APIView
from health_f0.core.exceptions import DomainError, RateLimited
from health_f0.patients import selectors as patient_selectors
from health_f0.patients.models import Sex
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


# --- Sign-up and forgot password (issue 12, section 1: accounts.signup) ---------------------------------


class PasswordResetThrottle(ClientIpScopedRateThrottle):
    """The reset endpoint is limited per address like the token login (20 a minute); the OTP adds its own
    limits (5 tries a code, 5 codes an hour a number)."""

    THROTTLE_RATES: dict[str, Any] = {
        **ClientIpScopedRateThrottle.THROTTLE_RATES,
        "password_reset": ClientIpScopedRateThrottle.THROTTLE_RATES.get("password_reset", "20/min"),
        "signup": ClientIpScopedRateThrottle.THROTTLE_RATES.get("signup", "20/min"),
    }


class _PublicAccountApi(APIView):
    """No authentication: a stale bearer token must not block signing up or resetting a password."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    throttle_classes = [PasswordResetThrottle]

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        retry_after = max(math.ceil(wait or 60), 1)
        raise RateLimited(
            ngettext(
                "Bạn thao tác quá nhiều lần. Vui lòng thử lại sau %(seconds)s giây.",
                "Bạn thao tác quá nhiều lần. Vui lòng thử lại sau %(seconds)s giây.",
                retry_after,
            )
            % {"seconds": retry_after},
            code="throttled",
            retry_after=retry_after,
        )


def _phone_field() -> serializers.CharField:
    return serializers.CharField(max_length=32, help_text="Số di động đã nhận mã OTP, ví dụ 0912345678")


def _otp_field(purpose: str) -> serializers.CharField:
    return serializers.CharField(
        max_length=16, help_text=f"Mã OTP 6 chữ số (POST /api/v1/otp với purpose `{purpose}`)"
    )


class AccountCreateApi(_PublicAccountApi):
    throttle_scope = "signup"

    @extend_schema_serializer(component_name="AccountCreateInput")
    class InputSerializer(serializers.Serializer):
        phone = _phone_field()
        otp = _otp_field("signup")
        full_name = serializers.CharField(max_length=200, help_text="Họ và tên")
        date_of_birth = serializers.DateField(input_formats=["iso-8601"], help_text="Ngày sinh, YYYY-MM-DD")
        sex = serializers.ChoiceField(choices=Sex.choices)
        cccd = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        bhyt = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        password = serializers.CharField(
            max_length=256,
            trim_whitespace=False,
            style={"input_type": "password"},
            help_text="Ít nhất 8 ký tự",
        )
        consent = serializers.BooleanField(
            help_text="Đồng ý với chính sách bảo vệ dữ liệu cá nhân (bắt buộc true)"
        )
        policy_version = serializers.CharField(
            max_length=16,
            required=False,
            allow_blank=True,
            default="",
            help_text="Phiên bản chính sách đã hiển thị (GET /api/v1/privacy/policy); khác phiên bản hiện hành: 400",
        )

    @extend_schema_serializer(component_name="AccountCreateOutput")
    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Gửi trong tiêu đề `Authorization: Bearer <token>`")
        expires_at = serializers.DateTimeField()
        username = serializers.CharField(
            help_text="Tên tài khoản để đăng nhập lần sau (cũng được gửi qua SMS)"
        )
        patient_id = serializers.UUIDField(help_text="Hồ sơ của chính tài khoản")
        bookings_claimed = serializers.IntegerField(
            help_text="Số lịch hẹn đã đặt không tài khoản bằng số điện thoại này, nay thuộc tài khoản"
        )

    @extend_schema(
        operation_id="account_create",
        tags=[TAG],
        summary="Mở tài khoản bằng số điện thoại đã xác thực OTP (không cần trạm y tế duyệt)",
        description="Lấy mã trước bằng `POST /api/v1/otp` với `purpose: signup`. Mọi lỗi của các trường được "
        "trả về cùng lúc (400) trước khi kiểm tra mã OTP. Người này đã có tài khoản trên số này: 409 "
        "`account_exists` (đăng nhập, hoặc đặt lại mật khẩu). Lịch hẹn đã đặt không tài khoản bằng số này được "
        "gộp vào tài khoản.",
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 409, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = signup.account_signup(channel="app", **data)
        raw, token = api_token_issue(user=result.user)
        body = {
            "token": raw,
            "expires_at": token.expires_at,
            "username": result.user.username,
            "patient_id": result.patient.public_id,
            "bookings_claimed": result.claimed_bookings,
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


class PasswordResetApi(_PublicAccountApi):
    throttle_scope = "password_reset"

    @extend_schema_serializer(component_name="PasswordResetInput")
    class InputSerializer(serializers.Serializer):
        phone = _phone_field()
        otp = _otp_field("password_reset")
        new_password = serializers.CharField(
            max_length=256, trim_whitespace=False, help_text="Ít nhất 8 ký tự"
        )
        username = serializers.CharField(
            max_length=150,
            required=False,
            allow_blank=True,
            default="",
            help_text="Chỉ cần khi số điện thoại dùng cho nhiều tài khoản trong gia đình (lỗi "
            "`account_choice_required` liệt kê chúng trong `accounts`)",
        )

    @extend_schema_serializer(component_name="PasswordResetOutput")
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        detail = serializers.CharField()

    @extend_schema(
        operation_id="auth_password_reset",
        tags=[TAG],
        summary="Quên mật khẩu: đặt mật khẩu mới bằng mã OTP gửi tới số điện thoại đã xác thực",
        description="Lấy mã bằng `POST /api/v1/otp` với `purpose: password_reset` (câu trả lời như nhau dù số "
        "có tài khoản hay không; tin nhắn chỉ được gửi khi có). Đặt xong, mọi mã truy cập và phiên đăng nhập "
        "của tài khoản bị huỷ. Giới hạn theo địa chỉ như đăng nhập, và 5 lần nhập sai mỗi mã.",
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            user = signup.password_reset_confirm(**data)
        except DomainError as exc:
            if exc.code != "account_choice_required":
                raise
            # The standard error body, plus the accounts to pick from (the caller proved the number).
            field_error = [{"code": exc.code, "message": exc.message}]
            accounts = [{"username": a.username, "full_name": a.full_name} for a in exc.extra["accounts"]]
            body = {"detail": exc.message, "code": exc.code, "errors": {"username": field_error}}
            return Response({**body, "accounts": accounts}, status=status.HTTP_400_BAD_REQUEST)
        detail = _("Đã đặt mật khẩu mới. Vui lòng đăng nhập lại trên các thiết bị khác.")
        return Response(self.OutputSerializer({"username": user.username, "detail": detail}).data)


class FamilyMemberCreateApi(APIView):
    """Adding a child or an elderly parent from the account (issue 12 §1), as the portal's
    /ca-nhan/them-nguoi-nha does: accounts.signup.family_member_add."""

    permission_classes = [IsAuthenticated, HasOwnPassword, IsPatientAccount]
    parser_classes = [JSONParser]

    @extend_schema_serializer(component_name="FamilyMemberInput")
    class InputSerializer(serializers.Serializer):
        otp = _otp_field("signup")
        full_name = serializers.CharField(max_length=200, help_text="Họ và tên người nhà")
        date_of_birth = serializers.DateField(input_formats=["iso-8601"], help_text="Ngày sinh, YYYY-MM-DD")
        sex = serializers.ChoiceField(choices=Sex.choices)
        cccd = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        bhyt = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        consent = serializers.BooleanField(
            help_text="Đồng ý với chính sách bảo vệ dữ liệu cá nhân thay cho người nhà (bắt buộc true)"
        )
        policy_version = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="family_member_add",
        tags=[TAG],
        summary="Thêm người nhà (con nhỏ, cha mẹ già) dùng chung số điện thoại đã xác thực",
        description="Lấy mã trước bằng `POST /api/v1/otp` với số điện thoại đã xác thực của tài khoản và "
        "`purpose: signup`. Người nhà có hồ sơ và tài khoản riêng (chưa có mật khẩu: đặt bằng "
        "`POST /auth/password-reset`), và xuất hiện trong `acting_for` của `GET /me`. 400 "
        "`phone_not_verified`: tài khoản chưa có số điện thoại đã xác thực; 409 `member_exists`: người này "
        "đã có tài khoản trên số này.",
        request=InputSerializer,
        responses={201: MeActingForSerializer, **error_responses(400, 401, 403, 409, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = signup.family_member_add(user=request.user, channel="app", **serializer.validated_data)
        row = patient_selectors.acting_for(user=request.user).get(pk=member.pk)
        return Response(MeActingForSerializer(row).data, status=status.HTTP_201_CREATED)
