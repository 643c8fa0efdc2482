"""Personal-data rights for the mobile app: the policy in force, agreeing to it (patient endpoints answer 403
`consent_required` with `policy_version` until the account has), a copy of the account's data (JSON streamed,
a PDF built in the background with its progress), and withdrawal or deletion requests.

These endpoints do not need current consent: access, export, withdrawal and deletion are the data subject's
rights whether or not they agree to the policy.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from health_f0.api.apis.common import PdfDownloadMixin, id_parameter, pdf_responses, uuid_or_404
from health_f0.api.permissions import HasOwnPassword, IsPatientAccount
from health_f0.api.schema import error_responses
from health_f0.api.views import APIView
from health_f0.core.exceptions import NotFound
from health_f0.facilities import access
from health_f0.privacy import exports, selectors
from health_f0.privacy import services as privacy_services
from health_f0.privacy.models import (
    ConsentChannel,
    DataExport,
    DataSubjectRequest,
    ExportStatus,
    RequestChannel,
    RequestKind,
)
from health_f0.privacy.transitions import REQUEST_WORKFLOW

TAG = "Dữ liệu cá nhân"


class OwnPasswordOnly(HasOwnPassword):
    """The SMS-issued password must be changed first; the policy need not be agreed to."""

    check_consent = False


class RightsApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, OwnPasswordOnly, IsPatientAccount]


class PolicySerializer(serializers.Serializer):
    version = serializers.CharField()
    effective_from = serializers.DateTimeField(allow_null=True)
    summary = serializers.CharField()
    url = serializers.CharField(help_text="Trang toàn văn chính sách trên cổng thông tin")


def _policy_data() -> dict[str, Any]:
    from django.conf import settings

    current = selectors.policy_current()
    return {
        "version": current.version,
        "effective_from": current.effective_from,
        "summary": current.summary,
        "url": f"{settings.PORTAL_URL}/chinh-sach-du-lieu",
    }


class PolicyApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="privacy_policy",
        tags=[TAG],
        summary="Chính sách bảo vệ dữ liệu cá nhân đang có hiệu lực",
        auth=[],
        responses={200: PolicySerializer},
    )
    def get(self, request: Request) -> Response:
        return Response(PolicySerializer(_policy_data()).data)


class ConsentRecordSerializer(serializers.Serializer):
    action = serializers.CharField()
    action_label = serializers.CharField(source="get_action_display")
    policy_version = serializers.CharField()
    channel = serializers.CharField()
    channel_label = serializers.CharField(source="get_channel_display")
    at = serializers.DateTimeField(source="created_at")
    patient = serializers.SerializerMethodField()

    def get_patient(self, record: Any) -> UUID | None:
        return record.patient.public_id if record.patient_id else None


class ConsentStateSerializer(serializers.Serializer):
    policy = PolicySerializer()
    consent_required = serializers.BooleanField(
        help_text="true: gọi POST /privacy/consent trước khi dùng tiếp"
    )
    history = ConsentRecordSerializer(many=True)


class ConsentApi(RightsApi):
    @extend_schema_serializer(component_name="ConsentInput")
    class InputSerializer(serializers.Serializer):
        policy_version = serializers.CharField(
            max_length=16, help_text="Phiên bản chính sách người dùng đã đọc (từ GET /privacy/policy)"
        )
        agree = serializers.BooleanField(help_text="Phải là true: người dùng tự đánh dấu đồng ý")

    @extend_schema(
        operation_id="privacy_consent_state",
        tags=[TAG],
        summary="Tài khoản đã đồng ý chính sách đang có hiệu lực chưa, và lịch sử đồng ý",
        responses={200: ConsentStateSerializer, **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        data = {
            "policy": _policy_data(),
            "consent_required": selectors.consent_required_version(request.user) is not None,
            "history": selectors.consents_for_account(user=request.user),
        }
        return Response(ConsentStateSerializer(data).data)

    @extend_schema(
        operation_id="privacy_consent_give",
        tags=[TAG],
        summary="Đồng ý chính sách bảo vệ dữ liệu (phiên bản đang có hiệu lực)",
        description=(
            "400 `policy_version_outdated`: đã có phiên bản mới hơn (xem `policy_version`): hiển thị lại rồi gửi "
            "lại; 400 `consent_required`: `agree` phải là true."
        ),
        request=InputSerializer,
        responses={201: ConsentStateSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not serializer.validated_data["agree"]:
            raise serializers.ValidationError(
                {
                    "agree": [
                        serializers.ErrorDetail(_("Cần đồng ý để tiếp tục sử dụng."), code="consent_required")
                    ]
                }
            )
        privacy_services.consent_give(
            user=request.user,
            channel=ConsentChannel.APP,
            policy_version=serializer.validated_data["policy_version"],
        )
        data = {
            "policy": _policy_data(),
            "consent_required": selectors.consent_required_version(request.user) is not None,
            "history": selectors.consents_for_account(user=request.user),
        }
        return Response(ConsentStateSerializer(data).data, status=status.HTTP_201_CREATED)


class ExportJsonApi(RightsApi):
    @extend_schema(
        operation_id="privacy_export_json",
        tags=[TAG],
        summary="Tải toàn bộ dữ liệu của tài khoản và người thân (JSON, truyền dần)",
        description=(
            "Một tài liệu JSON: `sections` gồm patients, registrations, episodes, declarations, alerts, "
            "appointments, reexam_plans, his_*, consents, data_requests, messages. Được ghi nhật ký."
        ),
        responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403)},
    )
    def get(self, request: Request) -> HttpResponseBase:
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(
            exports.export_json_stream(user=request.user), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="du-lieu-ca-nhan-{stamp}.json"'
        response["Cache-Control"] = "no-store"
        return response


class DataExportSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(choices=ExportStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    progress = serializers.IntegerField(help_text="0–100")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, export: DataExport) -> str | None:
        if export.status != ExportStatus.READY:
            return None
        return f"/api/v1/privacy/exports/{export.public_id}/file"


class ExportCollectionApi(RightsApi):
    @extend_schema(
        operation_id="privacy_export_pdf_create",
        tags=[TAG],
        summary="Tạo bản PDF dễ đọc (chạy nền; theo dõi tiến độ bằng GET /privacy/exports/{id})",
        request=None,
        responses={202: DataExportSerializer, **error_responses(401, 403, 404)},
    )
    def post(self, request: Request) -> Response:
        latest = selectors.latest_export(user=request.user)
        if latest is not None and latest.status == ExportStatus.FAILED:
            export = exports.export_retry(export=latest, user=request.user)
        else:
            export = exports.export_pdf_request(user=request.user)
        export.refresh_from_db()
        return Response(DataExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


def _own_export(user: Any, id: str) -> DataExport:
    return access.get_scoped_or_404(
        access.data_exports_for(user), public_id=uuid_or_404(id, _("Không tìm thấy bản sao dữ liệu."))
    )


class ExportDetailApi(RightsApi):
    @extend_schema(
        operation_id="privacy_export_status",
        tags=[TAG],
        summary="Tiến độ và đường tải của bản PDF",
        parameters=[id_parameter("Mã bản sao")],
        responses={200: DataExportSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, id: str) -> Response:
        return Response(DataExportSerializer(_own_export(request.user, id)).data)


class ExportFileApi(PdfDownloadMixin, RightsApi):
    @extend_schema(
        operation_id="privacy_export_file",
        tags=[TAG],
        summary="Tải bản PDF (khi status = ready, trước expires_at)",
        parameters=[id_parameter("Mã bản sao")],
        responses=pdf_responses(401, 403, 404),
    )
    def get(self, request: Request, id: str) -> HttpResponseBase:
        export = _own_export(request.user, id)
        path = exports.export_path(export) if export.file_name else None
        if (
            export.status != ExportStatus.READY
            or export.expires_at <= timezone.now()
            or path is None
            or not path.exists()
        ):
            raise NotFound(_("Bản PDF chưa sẵn sàng hoặc đã hết hạn."), code="export_not_ready")
        response = FileResponse(path.open("rb"), content_type="application/pdf", as_attachment=True)
        response["Content-Disposition"] = f'attachment; filename="du-lieu-ca-nhan-{export.public_id}.pdf"'
        return response


class DataRequestSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    kind = serializers.ChoiceField(choices=RequestKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    patient = serializers.UUIDField(source="patient.public_id")
    patient_name = serializers.CharField(source="patient.full_name")
    facility = serializers.CharField(source="facility.name")
    reason = serializers.CharField()
    submitted_at = serializers.DateTimeField(source="created_at")
    due_at = serializers.DateTimeField(help_text="Hạn trả lời theo luật")
    decided_at = serializers.DateTimeField(allow_null=True)
    outcome_message = serializers.CharField(help_text="Đã làm gì và vì sao (khi đã xử lý)")
    actions = serializers.SerializerMethodField(
        help_text="Thao tác người gọi được làm với yêu cầu lúc này (từ quy trình yêu cầu), ví dụ cancel khi đang chờ"
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, data_request: Any) -> list[str]:
        request = self.context.get("request")
        return REQUEST_WORKFLOW.available(data_request, request.user) if request is not None else []


class DataRequestCollectionApi(RightsApi):
    @extend_schema_serializer(component_name="DataRequestInput")
    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=RequestKind.choices)
        patient = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Người thân cùng số điện thoại; mặc định: chủ tài khoản",
        )
        reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="privacy_request_list",
        tags=[TAG],
        summary="Các yêu cầu rút lại sự đồng ý/xoá dữ liệu của tài khoản, mới nhất trước",
        responses={200: DataRequestSerializer(many=True), **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        rows = selectors.requests_for_account(user=request.user)[:100]
        return Response(DataRequestSerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="privacy_request_submit",
        tags=[TAG],
        summary="Gửi yêu cầu rút lại sự đồng ý hoặc xoá dữ liệu",
        description=(
            "Sự đồng ý bị rút lại ngay; cơ sở quản lý người bệnh quyết định và thực hiện trước `due_at`. "
            "409 `request_pending`: đã có yêu cầu cùng loại đang chờ."
        ),
        request=InputSerializer,
        responses={201: DataRequestSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        patients = access.own_patients_for(request.user).select_related("facility")
        patient = (
            access.get_scoped_or_404(patients, public_id=data["patient"])
            if data["patient"]
            else access.get_scoped_or_404(patients, account=request.user)
        )
        created = privacy_services.request_submit(
            user=request.user,
            patient=patient,
            kind=data["kind"],
            reason=data["reason"],
            channel=RequestChannel.APP,
        )
        return Response(
            DataRequestSerializer(created, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class DataRequestCancelApi(RightsApi):
    @extend_schema(
        operation_id="privacy_request_cancel",
        tags=[TAG],
        summary="Huỷ một yêu cầu đang chờ xử lý",
        parameters=[id_parameter("Mã yêu cầu")],
        request=None,
        responses={200: DataRequestSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, id: str) -> Response:
        found: DataSubjectRequest = access.get_scoped_or_404(
            access.privacy_requests_for(request.user).select_related("patient", "facility"),
            public_id=uuid_or_404(id, _("Không tìm thấy yêu cầu.")),
        )
        cancelled = privacy_services.request_cancel(request=found, actor=request.user)
        return Response(DataRequestSerializer(cancelled, context={"request": request}).data)
