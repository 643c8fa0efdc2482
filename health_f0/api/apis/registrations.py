"""Staff endpoints for the station queue: list, detail (audited), accept, reject, transfer.

Every lookup goes through facilities.access, so another station's registration answers 404, never 403.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from health_f0.api import selectors
from health_f0.api.apis.common import (
    id_parameter,
    paginate,
    paginated_list,
    query_filters,
    uuid_or_404,
    validated,
)
from health_f0.api.apis.public import RegistrationCreateApi
from health_f0.api.fast import choice_labels, dates, datetimes, display, uuid_text
from health_f0.api.permissions import IsStaffMember
from health_f0.api.renderers import PlainRows
from health_f0.api.schema import error_responses
from health_f0.api.views import APIView
from health_f0.core.phone import display_phone
from health_f0.registration import selectors as registration_selectors
from health_f0.registration.models import Registration, RegistrationStatus
from health_f0.registration.services import (
    registration_accept,
    registration_record_view,
    registration_reject,
    registration_transfer,
)
from health_f0.registration.sql import registrations as registrations_sql
from health_f0.registration.transitions import REGISTRATION_WORKFLOW

TAG = "Tiếp nhận đăng ký (nhân viên)"
ID_PARAMETER = id_parameter("Mã hồ sơ")


class StaffApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, IsStaffMember]


def _registration(request: Request, id: str) -> Registration:
    """The registration named in the path, in the staff member's scope (404 for missing and not-yours alike)."""
    return selectors.registration_get(
        user=request.user, public_id=uuid_or_404(id, _("Không tìm thấy hồ sơ."))
    )


def _detail(request: Request, registration: Registration) -> Response:
    return Response(RegistrationDetailSerializer(registration, context={"request": request}).data)


class FacilitySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    code = serializers.CharField()
    name = serializers.CharField()


class RegistrationSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    channel = serializers.CharField()
    full_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    sex = serializers.CharField()
    phone = serializers.CharField(source="phone_display")
    ward_name = serializers.CharField()
    eligibility = serializers.CharField()
    eligibility_label = serializers.CharField(source="get_eligibility_display")
    facility = FacilitySerializer()
    submitted_at = serializers.DateTimeField(source="created_at")


class RegistrationDetailSerializer(RegistrationSummarySerializer):
    relation = serializers.CharField()
    registrant_name = serializers.CharField()
    cccd = serializers.CharField()
    bhyt = serializers.CharField()
    province_code = serializers.IntegerField()
    ward_code = serializers.IntegerField()
    street = serializers.CharField()
    test_type = serializers.CharField()
    positive_date = serializers.DateField()
    symptoms = serializers.ListField(child=serializers.CharField())
    spo2 = serializers.IntegerField(allow_null=True)
    breathing_rate = serializers.IntegerField(allow_null=True)
    conditions = serializers.ListField(child=serializers.CharField())
    conditions_stable = serializers.BooleanField()
    pregnant = serializers.BooleanField()
    vaccine_doses = serializers.IntegerField()
    care = serializers.CharField()
    can_phone = serializers.BooleanField()
    eligibility_reasons = serializers.ListField(child=serializers.CharField())
    eligibility_notes = serializers.ListField(child=serializers.CharField())
    consent_policy_version = serializers.CharField()
    consent_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    reject_reason = serializers.CharField()
    patient_id = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField(
        help_text=(
            "Thao tác người gọi được làm với hồ sơ lúc này (từ quy trình tiếp nhận): accept, reject, transfer; "
            "accept của hồ sơ cần bác sĩ đánh giá cần confirm_risk"
        )
    )

    def get_patient_id(self, registration: Any) -> UUID | None:
        return registration.patient.public_id if registration.patient_id else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, registration: Any) -> list[str]:
        request = self.context.get("request")
        if request is None:
            return []
        return REGISTRATION_WORKFLOW.available(registration, request.user, confirm_risk=True)


# The queue is read as constant SQL (registration/sql/registrations.py: `registration_queue_rows`): only the
# columns its rows answer with, plus the order's columns for the keyset cursor and the facility's reference
# (LEFT JOINed), as dicts keyed like `.values()` rows (REGISTRATION_COLUMNS). `registration_rows` builds
# RegistrationSummarySerializer's answer from them (tests/api/test_fast_rows.py, tests/api/test_sql_lists.py).
REGISTRATION_COLUMNS = tuple(registrations_sql.QUEUE.columns)


def registration_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`RegistrationSummarySerializer`'s answer from `.values()` rows (REGISTRATION_COLUMNS). Plain data with no
    float (texts from the row, labels and formatters, None): the renderer writes it unchecked (api.renderers.PlainRows;
    tests/api/test_fast_rows.py walks it)."""
    iso = datetimes()
    iso_day = dates()
    statuses = choice_labels(Registration, "status")
    eligibilities = choice_labels(Registration, "eligibility")
    return PlainRows(
        [
            {
                "id": uuid_text(row["public_id"]),
                "status": row["status"],
                "status_label": display(statuses, row["status"]),
                "channel": row["channel"],
                "full_name": row["full_name"],
                "date_of_birth": iso_day(row["date_of_birth"]),
                "sex": row["sex"],
                "phone": display_phone(row["phone"]),
                "ward_name": row["ward_name"],
                "eligibility": row["eligibility"],
                "eligibility_label": display(eligibilities, row["eligibility"]),
                "facility": None
                if row["facility_id"] is None
                else {
                    "id": uuid_text(row["facility__public_id"]),
                    "code": row["facility__code"],
                    "name": row["facility__name"],
                },
                "submitted_at": iso(row["created_at"]),
            }
            for row in rows
        ]
    )


class RegistrationListApi(StaffApi):
    @extend_schema_serializer(component_name="RegistrationListFilter")
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=RegistrationStatus.choices, required=False)
        facility = serializers.UUIDField(required=False, help_text="Mã công khai của cơ sở tiếp nhận")

    @paginated_list("Registration", RegistrationSummarySerializer(many=True), 400, 401, 403)
    @extend_schema(
        operation_id="registration_list",
        tags=[TAG],
        summary="Danh sách đăng ký trong phạm vi của nhân viên",
        description=(
            "Thứ tự hàng chờ: hồ sơ đang chờ trước, theo mức độ (`hospital`, rồi `review`, rồi `eligible`), "
            "trong cùng mức độ thì hồ sơ chờ lâu nhất trước; hồ sơ đã xử lý sau cùng, mới xử lý trước."
        ),
        parameters=[FilterSerializer],
    )
    def get(self, request: Request) -> Response:
        filters = query_filters(RegistrationListApi.FilterSerializer, request)
        # The queue's order on its stored columns (registration.selectors.QUEUE_ORDER): an index order, and
        # columns a keyset can seek on.
        return paginate(
            request,
            self,
            registration_selectors.registration_queue_rows(user=request.user, **filters),
            serialize=registration_rows,
        )


class RegistrationDetailApi(StaffApi):
    @extend_schema(
        operation_id="registration_detail",
        tags=[TAG],
        summary="Chi tiết một đăng ký (được ghi nhật ký truy cập)",
        parameters=[ID_PARAMETER],
        responses={200: RegistrationDetailSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, id: str) -> Response:
        registration = _registration(request, id)
        registration_record_view(registration=registration, actor=request.user)
        return _detail(request, registration)


class RegistrationAcceptApi(StaffApi):
    @extend_schema_serializer(component_name="RegistrationAcceptInput")
    class InputSerializer(serializers.Serializer):
        confirm_risk = serializers.BooleanField(
            required=False,
            default=False,
            help_text=(
                "Bắt buộc `true` khi hồ sơ có đánh giá `review` (cần bác sĩ đánh giá) hoặc `hospital` (nên chuyển "
                "cơ sở điều trị): xác nhận đã xem đánh giá và vẫn tiếp nhận chăm sóc tại nhà. Thiếu thì trả 400 "
                "`risk_confirmation_required`."
            ),
        )

    @extend_schema(
        operation_id="registration_accept",
        tags=[TAG],
        summary="Tiếp nhận: tạo hồ sơ người bệnh và gửi tài khoản qua SMS",
        parameters=[ID_PARAMETER],
        request=InputSerializer,
        responses={200: RegistrationDetailSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, id: str) -> Response:
        data = validated(self.InputSerializer, request.data or {})
        registration = registration_accept(
            registration=_registration(request, id), actor=request.user, confirm_risk=data["confirm_risk"]
        )
        return _detail(request, registration)


class RegistrationRejectApi(StaffApi):
    @extend_schema_serializer(component_name="RegistrationRejectInput")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(
            max_length=1000, help_text="Lý do từ chối (gửi cho người đăng ký qua SMS)"
        )

    @extend_schema(
        operation_id="registration_reject",
        tags=[TAG],
        summary="Từ chối, kèm lý do",
        parameters=[ID_PARAMETER],
        request=InputSerializer,
        responses={200: RegistrationDetailSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, id: str) -> Response:
        data = validated(self.InputSerializer, request.data)
        registration = registration_reject(
            registration=_registration(request, id), actor=request.user, reason=data["reason"]
        )
        return _detail(request, registration)


class RegistrationTransferApi(StaffApi):
    @extend_schema_serializer(component_name="RegistrationTransferInput")
    class InputSerializer(serializers.Serializer):
        station = serializers.CharField(
            max_length=64,
            help_text=(
                "Trạm y tế/cơ sở thu dung nhận hồ sơ: mã cơ sở (ví dụ `TYT-10537`) hoặc mã công khai (UUID), "
                "như trong `GET /stations`"
            ),
        )
        note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="registration_transfer",
        tags=[TAG],
        summary="Chuyển hồ sơ cho trạm y tế khác",
        parameters=[ID_PARAMETER],
        request=InputSerializer,
        responses={200: RegistrationDetailSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, id: str) -> Response:
        data = validated(self.InputSerializer, request.data)
        registration = _registration(request, id)
        registration = registration_transfer(
            registration=registration,
            actor=request.user,
            station=registration_selectors.transfer_target(ref=data["station"]),
            note=data["note"],
        )
        return _detail(request, registration)


class RegistrationCollectionApi(APIView):
    # `/registrations` serves two use cases: GET is the staff queue, POST the public self-registration.
    # Each keeps its own class and schema; this view only picks permissions by method. POST skips
    # authentication, so a stale token never blocks a member of the public from registering.
    parser_classes = [JSONParser]

    get = RegistrationListApi.get
    post = RegistrationCreateApi.post

    def get_permissions(self) -> list[Any]:
        if self.request.method == "POST":
            return [AllowAny()]
        return [IsAuthenticated(), IsStaffMember()]

    def perform_authentication(self, request: Request) -> None:
        if request.method != "POST":
            super().perform_authentication(request)
