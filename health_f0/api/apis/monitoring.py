"""Home-care monitoring endpoints: the questionnaire, daily declarations and their history, guidance,
episodes with the certificate PDF (patient accounts), and the open alerts (staff).

POST /declarations is the morning's hot path (most of a province declares between 07:00 and 10:00): it
reads the JSON body by hand, finds the patient in one query and leaves the rest to the service; no
serializer runs on it. Serializers there only describe the operation in the OpenAPI schema.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from itertools import chain
from operator import itemgetter
from typing import Any
from uuid import UUID

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from health_f0.api.apis.common import (
    PdfDownloadMixin,
    id_parameter,
    paginate,
    paginated_list,
    pdf_responses,
    query_filters,
    uuid_or_404,
)
from health_f0.api.fast import (
    choice_labels,
    compiled,
    dates,
    datetimes,
    display,
    text_dict,
    text_list,
    uuid_text,
)
from health_f0.api.permissions import HasOwnPassword, IsPatientAccount, IsStaffMember
from health_f0.api.renderers import JSONRenderer, PlainRows
from health_f0.api.schema import error_responses
from health_f0.api.views import APIView
from health_f0.core.exceptions import Conflict, DomainError, NotFound, ValidationErrors
from health_f0.core.phone import display_phones
from health_f0.monitoring import rules, selectors
from health_f0.monitoring.certificates import certificate_download
from health_f0.monitoring.models import Alert, AlertLevel, Declaration, Episode, EpisodeStatus, QuestionType
from health_f0.monitoring.services import (
    STAFF_OUTCOMES,
    active_questionnaire,
    alert_acknowledge,
    declaration_submit,
)
from health_f0.monitoring.sql import alerts as alerts_sql
from health_f0.monitoring.sql import episodes as episodes_sql
from health_f0.monitoring.sql import patients as patients_sql
from health_f0.monitoring.transitions import EPISODE_WORKFLOW

TAG_PATIENT = "Theo dõi sức khoẻ tại nhà"
TAG_GUIDANCE = "Tài liệu hướng dẫn"
TAG_STAFF = "Cảnh báo (nhân viên)"


class PatientApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, HasOwnPassword, IsPatientAccount]


class PublicApi(APIView):
    """Public health guidance: no authentication, so a stale token never hides it."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]


class StaffApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, IsStaffMember]


# --- Shared output pieces -----------------------------------------------------------------------


class EpisodeStationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    code = serializers.CharField()
    name = serializers.CharField()
    hotline = serializers.CharField()


class PatientRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    full_name = serializers.CharField()


def _advice(level: str, hotline: str) -> str:
    """What the patient should do now, by alert level (shown right after submitting)."""
    station = _("đường dây nóng của trạm y tế %(hotline)s") % {"hotline": hotline} if hotline else None
    station = station or _("trạm y tế nơi bạn đang được theo dõi")
    if level == AlertLevel.EMERGENCY:
        return _(
            "Có dấu hiệu nguy hiểm. Gọi ngay cấp cứu 115 hoặc %(station)s. "
            "Trạm y tế đã nhận được cảnh báo của bạn."
        ) % {"station": station}
    if level == AlertLevel.URGENT:
        return _(
            "Cần liên hệ nhân viên y tế ngay: gọi %(station)s. Trạm y tế đã nhận được cảnh báo và sẽ liên "
            "hệ với bạn. Nếu khó thở tăng lên, gọi cấp cứu 115."
        ) % {"station": station}
    if level == AlertLevel.WATCH:
        return _(
            "Một số chỉ số cần theo dõi thêm. Tiếp tục đo và khai báo lại khi có thay đổi; nếu có dấu hiệu "
            "nguy hiểm, gọi ngay cấp cứu 115 hoặc %(station)s."
        ) % {"station": station}
    return _("Cảm ơn bạn đã khai báo. Các chỉ số hôm nay bình thường; hãy tiếp tục khai báo mỗi ngày.")


# --- Questionnaire ------------------------------------------------------------------------------


class QuestionOptionSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField(help_text="Nhãn tiếng Việt")  # type: ignore[assignment]
    label_en = serializers.CharField(help_text="Nhãn tiếng Anh")
    danger_sign = serializers.BooleanField(help_text="Dấu hiệu nguy hiểm: chọn là có cảnh báo ngay")
    age_min_months = serializers.IntegerField(
        allow_null=True, help_text="Chỉ hỏi người bệnh từ tuổi này (tháng); null: mọi tuổi"
    )
    age_max_months = serializers.IntegerField(
        allow_null=True, help_text="Chỉ hỏi người bệnh dưới tuổi này (tháng), ví dụ 144 = dưới 12 tuổi"
    )


class QuestionSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Khoá của câu trả lời trong `answers`")
    text = serializers.CharField(source="text_vi")
    text_en = serializers.CharField()
    help = serializers.CharField(source="help_vi")
    type = serializers.ChoiceField(choices=QuestionType.choices)
    unit = serializers.CharField()
    required = serializers.BooleanField(  # type: ignore[assignment]
        help_text="false: không bắt buộc, để trống nếu không đo được"
    )
    age_min_months = serializers.IntegerField(
        allow_null=True, help_text="Chỉ hỏi người bệnh từ tuổi này (tháng); null: mọi tuổi"
    )
    age_max_months = serializers.IntegerField(
        allow_null=True, help_text="Chỉ hỏi người bệnh dưới tuổi này (tháng); null: mọi tuổi"
    )
    min = serializers.FloatField(source="min_value", allow_null=True, help_text="Giá trị nhỏ nhất hợp lý")
    max = serializers.FloatField(source="max_value", allow_null=True, help_text="Giá trị lớn nhất hợp lý")
    decimals = serializers.IntegerField(help_text="Số chữ số thập phân được giữ")
    options = serializers.SerializerMethodField(help_text="Các lựa chọn (câu hỏi chọn một/chọn nhiều)")

    @extend_schema_field(QuestionOptionSerializer(many=True))
    def get_options(self, question: Any) -> list[dict[str, Any]]:
        return [
            {
                "code": option.get("code", ""),
                "label": option.get("vi", ""),
                "label_en": option.get("en", ""),
                "danger_sign": bool(option.get("danger", False)),
                "age_min_months": rules.band_months(option.get("age_min_months")),
                "age_max_months": rules.band_months(option.get("age_max_months")),
            }
            for option in question.options or []
        ]


class QuestionnaireApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, HasOwnPassword]

    @extend_schema_serializer(component_name="QuestionnaireOutput")
    class OutputSerializer(serializers.Serializer):
        version = serializers.IntegerField()
        title = serializers.CharField()
        deadline = serializers.CharField(help_text="Hạn khai báo hằng ngày, giờ Việt Nam (HH:MM)")
        questions = QuestionSerializer(many=True)

    @extend_schema(
        operation_id="questionnaire",
        tags=[TAG_PATIENT],
        summary="Bộ câu hỏi khai báo đang dùng và hạn khai báo hằng ngày",
        description=(
            "Hạn khai báo theo tỉnh của người bệnh (nhân viên: tỉnh của cơ sở). Câu hỏi và lựa chọn có "
            "`age_min_months`/`age_max_months` chỉ hỏi người bệnh trong nhóm tuổi đó (từ min, dưới max): ứng "
            "dụng ẩn chúng với người bệnh khác tuổi, và POST /declarations từ chối câu trả lời cho chúng "
            "(400 `not_for_age` / `option_not_for_age`)."
        ),
        responses={200: OutputSerializer, **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        version, questions = active_questionnaire()
        deadline = selectors.declaration_deadline_for(user=request.user)
        return Response(
            self.OutputSerializer(
                {
                    "version": version.version,
                    "title": version.title,
                    "deadline": deadline.strftime("%H:%M"),
                    "questions": questions,
                }
            ).data
        )


# --- Declarations -------------------------------------------------------------------------------


class DeclarationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    submitted_at = serializers.DateTimeField()
    local_date = serializers.DateField(help_text="Ngày khai báo theo giờ Việt Nam")
    late = serializers.BooleanField(help_text="Gửi sau hạn khai báo của ngày")
    alert_level = serializers.ChoiceField(choices=AlertLevel.choices)
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Lý do cảnh báo (tiếng Việt)")
    answers = serializers.DictField(help_text="Câu trả lời theo mã câu hỏi")
    submitted_by = serializers.SerializerMethodField(
        help_text="Tài khoản đã gửi (người thân có thể gửi giúp)"
    )

    def get_submitted_by(self, declaration: Declaration) -> str | None:
        user = declaration.submitted_by
        return user.get_username() if user is not None else None


def _patient_filter(value: Any) -> UUID | None:
    """The optional `patient` (a public id) of a request; malformed -> 400 on the field."""
    if value is None or value == "":
        return None
    try:
        return UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise ValidationErrors({"patient": [("invalid", _("Mã người bệnh không hợp lệ."))]})


def declaration_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`DeclarationSerializer`'s answer from `.values()` rows (DECLARATION_COLUMNS); the times and days written by
    a page's `datetimes()` and `dates()` (DRF's fields' answers, without their per-call look-ups)."""
    iso, iso_day = datetimes(), dates()
    return [
        {
            "id": str(row["public_id"]),
            "submitted_at": iso(row["submitted_at"]),
            "local_date": iso_day(row["local_date"]),
            "late": row["late"],
            "alert_level": row["alert_level"],
            "reasons": [str(reason) for reason in row["reasons"]],
            "answers": row["answers"],
            "submitted_by": row["submitted_by__username"],
        }
        for row in rows
    ]


DECLARATION_COLUMNS = (
    "id",
    "public_id",
    "submitted_at",
    "local_date",
    "late",
    "alert_level",
    "reasons",
    "answers",
    "submitted_by__username",
)


class DeclarationListApi(APIView):
    parser_classes = [JSONParser]
    # No staff check here: declaring_patient excludes staff accounts in its one query and answers 403.
    permission_classes = [IsAuthenticated, HasOwnPassword]

    @extend_schema_serializer(component_name="DeclarationListFilter")
    class FilterSerializer(serializers.Serializer):
        patient = serializers.UUIDField(
            required=False, help_text="Người thân cùng số điện thoại; mặc định: chính chủ tài khoản"
        )

    @paginated_list("Declaration", DeclarationSerializer(many=True), 400, 401, 403, 404)
    @extend_schema(
        operation_id="declaration_list",
        tags=[TAG_PATIENT],
        summary="Lịch sử khai báo của người bệnh, mới nhất trước",
        parameters=[FilterSerializer],
    )
    def get(self, request: Request) -> Response:
        public_id = None
        if "patient" in request.query_params:
            filters = DeclarationListApi.FilterSerializer(data=request.query_params)
            filters.is_valid(raise_exception=True)
            public_id = filters.validated_data.get("patient")
        patient = selectors.declaring_patient(user=request.user, public_id=public_id)
        # DECLARATION_COLUMNS' `.values()` rows as constant SQL (monitoring/sql/declarations.patient_list)
        declarations = selectors.declaration_rows(patient_id=patient.pk)
        return paginate(
            request, self, declarations, ordering=("-submitted_at", "-id"), serialize=declaration_rows
        )


class DeclarationCreateApi(APIView):
    parser_classes = [JSONParser]
    # No staff check here: the patient lookup excludes staff accounts in the same query (see
    # selectors.declaring_patient), and answers 403 for them.
    permission_classes = [IsAuthenticated, HasOwnPassword]

    @extend_schema_serializer(component_name="DeclarationCreateInput")
    class InputSerializer(serializers.Serializer):
        patient = serializers.UUIDField(
            required=False, help_text="Người thân cùng số điện thoại; mặc định: chính chủ tài khoản"
        )
        answers = serializers.DictField(
            help_text='Câu trả lời theo mã câu hỏi của GET /questionnaire, ví dụ {"temperature": 37.5, '
            '"spo2": 97, "symptoms": ["cough"]}'
        )

    @extend_schema_serializer(component_name="DeclarationCreateOutput")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        alert_level = serializers.ChoiceField(choices=AlertLevel.choices)
        reasons = serializers.ListField(child=serializers.CharField())
        late = serializers.BooleanField()
        submitted_at = serializers.DateTimeField()
        local_date = serializers.DateField()
        advice = serializers.CharField(help_text="Việc cần làm ngay (tiếng Việt)")

    @extend_schema(
        operation_id="declaration_submit",
        tags=[TAG_PATIENT],
        summary="Gửi khai báo sức khoẻ (phân loại nguy cơ ngay)",
        description=(
            "201: đã ghi nhận. 200: gửi lặp (cùng Idempotency-Key và cùng câu trả lời, hoặc không có mã mà "
            "cùng câu trả lời trong 2 phút), trả lại lần khai báo đã lưu: gửi lại với cùng mã sau một lỗi "
            "mạng hoặc 503 luôn an toàn. 422 `idempotency_key_reused`: mã đã dùng cho câu trả lời khác, không "
            "lưu gì. 400 `idempotency_key_too_long`: mã dài quá 64 ký tự. 409 `no_active_episode`: không có "
            "đợt theo dõi đang mở. 429 `declaration_daily_limit`: đã đủ số lần khai báo tối đa trong ngày "
            "của người bệnh (mặc định 24), đến 0 giờ."
        ),
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description=(
                    "Mã do ứng dụng tạo cho mỗi lần bấm gửi (tối đa 64 ký tự, ví dụ một UUID); gửi lại cùng "
                    "mã với cùng câu trả lời không tạo bản ghi mới"
                ),
            )
        ],
        request=InputSerializer,
        examples=[
            OpenApiExample(
                "Khai báo hằng ngày",
                value={
                    "answers": {"temperature": 37.2, "spo2": 97, "breathing_rate": 18, "symptoms": ["cough"]}
                },
                request_only=True,
            ),
            OpenApiExample(
                "Có dấu hiệu nguy hiểm",
                value={"answers": {"temperature": 38.6, "spo2": 93, "symptoms": ["shortness_of_breath"]}},
                request_only=True,
            ),
        ],
        responses={
            201: OutputSerializer,
            200: OutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 422, 429),
        },
    )
    def post(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict):
            raise ValidationErrors(
                {"non_field_errors": [("invalid", _("Dữ liệu gửi lên phải là một đối tượng JSON."))]}
            )
        public_id = _patient_filter(body.get("patient"))
        # selectors.declaring_patient's patient and its active episode in one statement (issue 11); any other
        # outcome (no patient, two, a staff account) is declaring_patient's to answer, with its errors.
        found = patients_sql.declarable_with_episode(request.user, public_id)
        if len(found) == 1:
            patient, episode = found[0]
            submit = partial(declaration_submit, patient=patient, episode=episode)
        else:
            patient = selectors.declaring_patient(user=request.user, public_id=public_id)
            submit = partial(declaration_submit, patient=patient)
        try:
            declaration, created = submit(
                actor=request.user,
                answers=body.get("answers"),
                idempotency_key=request.META.get("HTTP_IDEMPOTENCY_KEY"),
            )
        except DomainError as exc:
            if exc.code == "no_active_episode":
                raise Conflict(exc.message, code=exc.code)
            raise
        # A plain dict, not a serializer: this answer is built ~400 times a second at the morning peak.
        return Response(
            {
                "id": str(declaration.public_id),
                "alert_level": declaration.alert_level,
                "reasons": declaration.reasons,
                "late": declaration.late,
                "submitted_at": timezone.localtime(declaration.submitted_at).isoformat(),
                "local_date": declaration.local_date.isoformat(),
                "advice": _advice(declaration.alert_level, declaration.episode.facility.hotline),
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class DeclarationCollectionApi(APIView):
    # `/declarations`: GET is the history (patient accounts), POST the daily declaration. Each keeps its
    # own class and schema; this view only picks permissions by method.
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    get = DeclarationListApi.get
    post = DeclarationCreateApi.post

    def get_permissions(self) -> list[Any]:
        if self.request.method == "POST":
            return [permission() for permission in DeclarationCreateApi.permission_classes]
        return [permission() for permission in DeclarationListApi.permission_classes]


# --- Guidance -----------------------------------------------------------------------------------


class GuidanceSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    title = serializers.CharField()
    summary = serializers.CharField()
    body = serializers.CharField(help_text="Nội dung (văn bản thuần, xuống dòng giữ nguyên)")
    pdf = serializers.SerializerMethodField(help_text="Địa chỉ tệp PDF, nếu có")
    source = serializers.CharField(help_text="Nguồn (ví dụ văn bản của Bộ Y tế)")  # type: ignore[assignment]

    def get_pdf(self, document: Any) -> str | None:
        if not document.pdf:
            return None
        request = self.context.get("request")
        url: str = document.pdf.url
        return request.build_absolute_uri(url) if request is not None else url


class GuidanceListApi(PublicApi):
    @paginated_list("Guidance", GuidanceSerializer(many=True), 400)
    @extend_schema(
        operation_id="guidance_list",
        tags=[TAG_GUIDANCE],
        summary="Tài liệu hướng dẫn chăm sóc F0 tại nhà của Bộ Y tế",
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return paginate(
            request,
            self,
            selectors.published_guidance(),
            ordering=("order", "title", "id"),
            serialize=compiled(GuidanceSerializer, {"request": request}),
        )


class GuidanceDetailApi(PublicApi):
    @extend_schema(
        operation_id="guidance_detail",
        tags=[TAG_GUIDANCE],
        summary="Một tài liệu hướng dẫn",
        auth=[],
        parameters=[id_parameter("Mã tài liệu")],
        responses={200: GuidanceSerializer, **error_responses(404)},
    )
    def get(self, request: Request, id: str) -> Response:
        document = selectors.published_guidance().filter(public_id=uuid_or_404(id)).first()
        if document is None:
            raise NotFound(_("Không tìm thấy tài liệu."))
        return Response(GuidanceSerializer(document, context={"request": request}).data)


# --- Episodes and the certificate ---------------------------------------------------------------


class EpisodeSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    patient = PatientRefSerializer()
    station = EpisodeStationSerializer(source="facility")
    status = serializers.ChoiceField(choices=EpisodeStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    start_date = serializers.DateField(help_text="Ngày trạm y tế tiếp nhận")
    positive_date = serializers.DateField(
        allow_null=True,
        help_text="Ngày có kết quả dương tính (ngày thứ 1 của thời gian cách ly); null: không rõ",
    )
    isolation_start = serializers.DateField(
        help_text="Ngày thứ 1 của thời gian cách ly: ngày dương tính, hoặc ngày tiếp nhận khi không rõ"
    )
    expected_end_date = serializers.DateField(
        help_text="Ngày dự kiến kết thúc: ngày thứ 1 + số ngày tối thiểu"
    )
    last_declared_on = serializers.DateField(allow_null=True)
    last_alert_level = serializers.ChoiceField(choices=AlertLevel.choices)
    ended_at = serializers.DateTimeField(allow_null=True)
    end_reason = serializers.CharField()
    certificate_url = serializers.SerializerMethodField(
        help_text="Giấy xác nhận hoàn thành cách ly (PDF), khi đã hoàn thành"
    )
    actions = serializers.SerializerMethodField(
        help_text='Các thao tác người gọi được làm với đợt chăm sóc lúc này, ví dụ ["certificate"]: tải giấy '
        "xác nhận (GET certificate_url)"
    )

    def _actions(self, episode: Episode) -> list[str]:
        cache = self.context.setdefault("_actions", {})
        if episode.pk not in cache:
            request = self.context.get("request")
            cache[episode.pk] = EPISODE_WORKFLOW.available(episode, getattr(request, "user", None))
        actions: list[str] = cache[episode.pk]
        return actions

    def get_actions(self, episode: Episode) -> list[str]:
        return self._actions(episode)

    def get_certificate_url(self, episode: Episode) -> str | None:
        if "certificate" not in self._actions(episode):
            return None
        request = self.context.get("request")
        match = getattr(request, "resolver_match", None)
        url = reverse(
            "api:episode-certificate",
            kwargs={"id": str(episode.public_id)},
            current_app=match.namespace if match is not None else None,  # /api/v1/ or /api/v2/
        )
        return request.build_absolute_uri(url) if request is not None else url


class EpisodeListApi(PatientApi):
    @paginated_list("Episode", EpisodeSerializer(many=True), 400, 401, 403)
    @extend_schema(
        operation_id="episode_list",
        tags=[TAG_PATIENT],
        summary="Các đợt chăm sóc tại nhà của người bệnh và người thân cùng số điện thoại",
    )
    def get(self, request: Request) -> Response:
        # Constant SQL (monitoring/sql/episodes.py); a page's rows become Episode instances for the serializer
        # and the workflow's `actions`.
        to_rows = compiled(EpisodeSerializer, {"request": request})
        return paginate(
            request,
            self,
            selectors.own_episode_rows(user=request.user),
            serialize=lambda rows: to_rows(episodes_sql.episode_instances(rows)),
        )


class EpisodeCertificateApi(PdfDownloadMixin, PatientApi):
    @extend_schema(
        operation_id="episode_certificate",
        tags=[TAG_PATIENT],
        summary="Tải giấy xác nhận hoàn thành cách ly tại nhà (PDF, có mã QR để xác minh)",
        parameters=[id_parameter("Mã đợt chăm sóc")],
        responses=pdf_responses(401, 403, 404),
    )
    def get(self, request: Request, id: str) -> HttpResponse:
        episode = selectors.own_episode(
            user=request.user, public_id=uuid_or_404(id, _("Không tìm thấy hồ sơ."))
        )
        try:
            pdf = certificate_download(episode=episode, actor=request.user)
        except DomainError:
            raise NotFound(_("Đợt chăm sóc này chưa hoàn thành nên chưa có giấy xác nhận.")) from None
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="xac-nhan-{episode.certificate_code}.pdf"'
        return response


# --- Alerts (staff) -----------------------------------------------------------------------------


class AlertPatientSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    full_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    phone = serializers.CharField(source="phone_display")
    ward_name = serializers.CharField()


class AlertFacilitySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    code = serializers.CharField()
    name = serializers.CharField()


class AlertSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="declaration.public_id", help_text="Mã cảnh báo (= mã lần khai báo)")
    level = serializers.ChoiceField(choices=AlertLevel.choices)
    level_label = serializers.CharField(source="get_level_display")
    reasons = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    facility = AlertFacilitySerializer()
    patient = AlertPatientSerializer(source="episode.patient")
    answers = serializers.DictField(source="declaration.answers")
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.SerializerMethodField()
    outcome = serializers.CharField()
    note = serializers.CharField()

    def get_acknowledged_by(self, alert: Alert) -> str | None:
        return alert.acknowledged_by.get_username() if alert.acknowledged_by is not None else None


# The open-alerts list is read as constant SQL (monitoring/sql/alerts.py: `selectors.alert_list_rows`): only the
# columns its rows answer with, through the joins the ORM's select_related made (declaration, episode, patient,
# acknowledging user) and the facility's reference (LEFT JOINed), as tuples of OPEN_ALERTS' columns (the API's
# page: `as_tuples()`) or dicts keyed like `.values()` rows (ALERT_COLUMNS). `alert_rows` builds AlertSerializer's
# answer from either (tests/api/test_fast_rows.py, tests/api/test_sql_lists.py).
_PATIENT = "episode__patient__"
ALERT_COLUMNS = tuple(name for name in alerts_sql.OPEN_ALERTS.columns if name != "level_rank")


# The patient's columns of a row (their `.values()` names).
_P_PUBLIC_ID, _P_FULL_NAME, _P_DATE_OF_BIRTH, _P_PHONE, _P_WARD_NAME = (
    f"{_PATIENT}{name}" for name in ("public_id", "full_name", "date_of_birth", "phone", "ward_name")
)
# The columns alert_rows reads, in this order (a row's values picked by one C call).
_ROW_COLUMNS = (
    "declaration__public_id",
    "level",
    "reasons",
    "created_at",
    "facility__public_id",
    "facility__code",
    "facility__name",
    _P_PUBLIC_ID,
    _P_FULL_NAME,
    _P_DATE_OF_BIRTH,
    _P_PHONE,
    _P_WARD_NAME,
    "declaration__answers",
    "acknowledged_at",
    "acknowledged_by__username",
    "outcome",
    "note",
)
_pick_row = itemgetter(*_ROW_COLUMNS)
# The list's tuple rows (alert_list_rows(...).as_tuples()) start with these columns.
if alerts_sql.OPEN_ALERTS.names[: len(_ROW_COLUMNS)] != _ROW_COLUMNS:
    raise ImproperlyConfigured("monitoring.sql.alerts.OPEN_ALERTS must start with alert_rows' columns")
_TEXT_ONLY = frozenset({str})
_LISTS_ONLY = frozenset({list})
_DICTS_ONLY = frozenset({dict})
_NONE_ONLY = frozenset({type(None)})
_DATES_ONLY = frozenset({date})
# What JSON decodes to but floats (and what DRF and pydantic_core write alike): api.renderers.PlainRows.
_JSON_PLAIN = frozenset({dict, list, str, int, bool, type(None)})
_JSON_DEPTH = 8
_is_dict: Any = dict.__instancecheck__
_is_list: Any = list.__instancecheck__


def _plain_json(values: list[Any], depth: int = _JSON_DEPTH) -> bool:
    """Whether `values` hold only dicts keyed by texts, lists, texts, ints, bools and None, of those exact types (no
    float: a declaration's answers are what the questionnaire stored, and a number may be one), walked a level at a
    time by C loops (no Python call per value); False past `depth` levels (then the renderer checks)."""
    level = values
    for _depth in range(depth):
        kinds = set(map(type, level))
        if not _JSON_PLAIN.issuperset(kinds):
            return False
        nested: list[Any] = []
        if dict in kinds:
            objects = list(filter(_is_dict, level))
            if not _TEXT_ONLY.issuperset(map(type, chain.from_iterable(objects))):
                return False
            nested.extend(chain.from_iterable(map(dict.values, objects)))
        if list in kinds:
            nested.extend(chain.from_iterable(filter(_is_list, level)))
        if not nested:
            return True
        level = nested
    return False


def _uuid_texts(values: tuple[Any, ...]) -> Any:
    """`uuid_text` of each public id of a column: MariaDB's uuid text is its own answer (checked for the column at
    once)."""
    if _TEXT_ONLY.issuperset(map(type, values)) and set(map(len, values)) <= {36}:
        return values
    return list(map(uuid_text, values))


def alert_rows(rows: list[Any]) -> list[dict[str, Any]]:
    """`AlertSerializer`'s answer from `.values()` rows (ALERT_COLUMNS), worked out a column at a time: a column's
    usual values take their answer by C loops over the column, checked at once (public ids read as MariaDB's
    uuid text, known levels, reasons of texts, answers keyed by texts, dates, mobile numbers in E.164, no
    acknowledgement yet); a column with anything else goes through the same helpers as before, value by value
    (uuid_text, display, text_list, text_dict, iso, display_phone). The rows are then written by one
    comprehension. Plain data (texts from the row, labels and formatters, None, and the decoded JSON when
    `_plain_json` finds no float in it): the renderer writes it unchecked (api.renderers.PlainRows)."""
    if not rows:
        return PlainRows()
    # `.values()` rows (dicts) picked in _ROW_COLUMNS' order; the list's tuple rows start with those columns.
    picked = map(_pick_row, rows) if type(rows[0]) is dict else rows
    (
        ids,
        levels,
        reasons,
        created,
        facility_ids,
        codes,
        names,
        patient_ids,
        full_names,
        births,
        phones,
        wards,
        answers,
        acknowledged,
        acknowledged_by,
        outcomes,
        notes,
        *_order_columns,
    ) = zip(*picked, strict=True)
    labels_of = choice_labels(Alert, "level")
    labels: Any = list(map(labels_of.get, levels))
    if None in labels:
        labels = [display(labels_of, level) for level in levels]
    if not (
        _LISTS_ONLY.issuperset(map(type, reasons))
        and _TEXT_ONLY.issuperset(map(type, chain.from_iterable(reasons)))
    ):
        reasons = tuple(map(text_list, reasons))
    if _DICTS_ONLY.issuperset(map(type, answers)) and _TEXT_ONLY.issuperset(
        map(type, chain.from_iterable(answers))
    ):
        # The answers' own level is checked (dicts keyed by texts): the walk starts at their values, a level
        # down (18 of _plain_json's 55 us a page).
        plain = _plain_json(list(chain.from_iterable(map(dict.values, answers))), _JSON_DEPTH - 1)
    else:
        answers = tuple(map(text_dict, answers))
        plain = _plain_json(list(answers))
    created = tuple(map(datetimes(), created))
    if not _NONE_ONLY.issuperset(map(type, acknowledged)):
        iso = datetimes()
        acknowledged = tuple(None if value is None else iso(value) for value in acknowledged)
    births = tuple(
        map(date.isoformat, births) if _DATES_ONLY.issuperset(map(type, births)) else map(dates(), births)
    )
    shown_phones = display_phones(phones)
    answer = [
        {
            "id": declaration_id,
            "level": level,
            "level_label": label,
            "reasons": reason,
            "created_at": created_at,
            "facility": {"id": facility_id, "code": code, "name": name},
            "patient": {
                "id": patient_id,
                "full_name": full_name,
                "date_of_birth": born,
                "phone": phone,
                "ward_name": ward,
            },
            "answers": answered,
            "acknowledged_at": acknowledged_at,
            "acknowledged_by": by,
            "outcome": outcome,
            "note": note,
        }
        for (
            declaration_id,
            level,
            label,
            reason,
            created_at,
            facility_id,
            code,
            name,
            patient_id,
            full_name,
            born,
            phone,
            ward,
            answered,
            acknowledged_at,
            by,
            outcome,
            note,
        ) in zip(
            _uuid_texts(ids),
            levels,
            labels,
            reasons,
            created,
            _uuid_texts(facility_ids),
            codes,
            names,
            _uuid_texts(patient_ids),
            full_names,
            births,
            shown_phones,
            wards,
            answers,
            acknowledged,
            acknowledged_by,
            outcomes,
            notes,
            strict=True,
        )
    ]
    return PlainRows(answer) if plain else answer


class AlertListApi(StaffApi):
    @extend_schema_serializer(component_name="AlertListFilter")
    class FilterSerializer(serializers.Serializer):
        facility = serializers.UUIDField(
            required=False, help_text="Mã công khai của cơ sở (trạm y tế, hoặc TTYT: mọi trạm trực thuộc)"
        )
        level = serializers.ChoiceField(choices=AlertLevel.choices, required=False)

    @paginated_list("Alert", AlertSerializer(many=True), 400, 401, 403)
    @extend_schema(
        operation_id="alert_list",
        tags=[TAG_STAFF],
        summary="Cảnh báo chưa xử lý trong phạm vi của nhân viên, nặng nhất và cũ nhất trước",
        parameters=[FilterSerializer],
    )
    def get(self, request: Request) -> Response:
        filters = query_filters(AlertListApi.FilterSerializer, request)
        return paginate(
            request,
            self,
            selectors.alert_list_rows(user=request.user, **filters).as_tuples(),
            serialize=alert_rows,
        )


class AlertAcknowledgeApi(StaffApi):
    @extend_schema_serializer(component_name="AlertAcknowledgeInput")
    class InputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(
            choices=[(v, label) for v, label in Alert.Outcome.choices if v in STAFF_OUTCOMES],
            help_text="Kết quả xử lý",
        )
        note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="alert_acknowledge",
        tags=[TAG_STAFF],
        summary="Xử lý cảnh báo: ghi kết quả (đã gọi – ổn định, đã tư vấn, bác sĩ đến khám, chuyển viện)",
        parameters=[id_parameter("Mã cảnh báo")],
        request=InputSerializer,
        responses={200: AlertSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = selectors.alert_get(
            user=request.user, public_id=uuid_or_404(id, _("Không tìm thấy cảnh báo."))
        )
        try:
            alert = alert_acknowledge(alert=alert, actor=request.user, **serializer.validated_data)
        except DomainError as exc:
            if exc.code == "already_acknowledged":
                raise Conflict(exc.message, code=exc.code)
            raise
        alert = selectors.alert_get(user=request.user, public_id=alert.declaration.public_id)
        return Response(AlertSerializer(alert).data)
