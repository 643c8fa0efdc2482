"""HIS linking API v1 (patient accounts): ask to link one's account (or a family member's) with the hospital
record, see the requests and where they stand, and read the visits and lab results imported from linked
hospitals.

Conventions of these operations:

* Patient accounts only: staff tokens answer 403 (they read HIS data through the desk, audited there).
* Records come from his.selectors, which read through facilities.access.his_records_for (the lists: its SQL
  writing, his_records_sql, in his/sql): only the caller's own and family patients' rows from active links;
  after an unlink that hospital's data is gone from here.
* `?patient=<id>` narrows to one family member; an id that is not one of the caller's patients answers 400
  on `patient` (like the appointments API), a malformed one too.
* POST /his-links asks the HIS at once: an exact match (one HIS patient whose identifier, name and date of
  birth all equal the patient's) is linked on the spot (`status` linked); anything else waits for the
  hospital's linker (`needs_review`). 409 `request_pending` (a request is already waiting) or
  `already_linked`.
* A link request's `actions` are the steps the caller may take on it now, from the HIS link workflow
  (his.transitions.LINK_WORKFLOW.available): `unlink` on a linked request of the caller's own or family
  patient, none while it waits.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from health_f0.api.apis.common import own_patient, own_patient_filter, paginate, paginated_list
from health_f0.api.apis.monitoring import IsPatientAccount, PatientRefSerializer
from health_f0.api.fast import datetimes, uuid_text
from health_f0.api.permissions import HasOwnPassword
from health_f0.api.rows import iso_datetime
from health_f0.api.schema import error_responses
from health_f0.api.versioning import V2
from health_f0.api.views import APIView
from health_f0.core.exceptions import DomainError
from health_f0.facilities.models import Facility
from health_f0.his import selectors
from health_f0.his.models import (
    HisLinkRequest,
    IdentifierType,
    LabFlag,
    LinkChannel,
    LinkStatus,
    Source,
)
from health_f0.his.services import link_request_create
from health_f0.his.sql import lab_results as lab_results_sql
from health_f0.his.sql import visits as visits_sql
from health_f0.his.transitions import LINK_WORKFLOW
from health_f0.patients.models import Patient
from health_f0.privacy.models import ConsentChannel, ConsentMethod
from health_f0.privacy.services import consent_record

TAG = "Hồ sơ bệnh viện (HIS)"

_PATIENT_HELP = "Người thân cùng số điện thoại (mã từ GET /me); mặc định: mọi người bệnh của tài khoản"


class PatientApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, HasOwnPassword, IsPatientAccount]


def _facility(public_id: UUID | None, patient: Patient) -> Facility:
    if public_id is None:
        return selectors.his_facility_default(patient=patient)
    facility = selectors.his_facility_by_public_id(public_id=public_id)
    if facility is None:
        raise DomainError(
            _("Không tìm thấy bệnh viện/TTYT kết nối hồ sơ."), code="facility_not_found", field="facility"
        )
    return facility


# --- Serializers ----------------------------------------------------------------------------------


class HisFacilitySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    code = serializers.CharField()
    name = serializers.CharField()
    hotline = serializers.CharField()


class HisLinkRequestSerializer(serializers.Serializer):
    """A link request as its patient (or family) sees it."""

    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(choices=LinkStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    identifier_type = serializers.ChoiceField(choices=IdentifierType.choices)
    identifier = serializers.CharField(
        help_text=(
            "Mã người yêu cầu đã khai để tra cứu (dạng chuẩn hoá): chỉ là lời khai, bệnh viện đối chiếu với "
            "hồ sơ HIS; không phải mã của hồ sơ đã liên kết"
        )
    )
    facility = HisFacilitySerializer()
    patient = PatientRefSerializer()
    channel = serializers.ChoiceField(choices=LinkChannel.choices)
    auto_linked = serializers.BooleanField(help_text="Liên kết tự động vì HIS trả về đúng một hồ sơ khớp")
    reason = serializers.CharField(help_text="Lý do từ chối (khi status = rejected)")
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    actions = serializers.SerializerMethodField(
        help_text=(
            "Thao tác người gọi được làm với yêu cầu lúc này (từ quy trình liên kết HIS), ví dụ unlink khi "
            "đã liên kết; rỗng khi không còn thao tác nào"
        )
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, obj: Any) -> list[str]:
        request = self.context.get("request")
        return LINK_WORKFLOW.available(obj, getattr(request, "user", None)) if request is not None else []


class HisLabReportRefSerializer(serializers.Serializer):
    """The lab report (phiếu kết quả, FHIR DiagnosticReport) a result was issued in."""

    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField(help_text="Tên xét nghiệm/phiếu, ví dụ Tổng phân tích tế bào máu")
    status = serializers.CharField(
        help_text="Trạng thái FHIR: final, preliminary (sơ bộ, có thể còn thay đổi), amended, corrected..."
    )
    issued = serializers.DateTimeField(source="issued_at", allow_null=True, help_text="Trả kết quả lúc")
    conclusion = serializers.CharField(help_text="Kết luận của phòng xét nghiệm (có thể rỗng)")


class HisLabResultSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    visit = serializers.UUIDField(source="visit.public_id", allow_null=True, default=None)
    patient = PatientRefSerializer()
    facility = HisFacilitySerializer()
    code = serializers.CharField(help_text="Mã chỉ số (LOINC hoặc mã của bệnh viện)")
    name = serializers.CharField()
    value = serializers.CharField(help_text="Kết quả như bệnh viện ghi (số hoặc chữ, ví dụ Âm tính)")
    value_number = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    unit = serializers.CharField()
    reference_low = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    reference_high = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    reference_text = serializers.CharField(help_text="Khoảng tham chiếu dạng chữ (nếu bệnh viện ghi)")
    flag = serializers.ChoiceField(
        choices=LabFlag.choices, help_text="H cao, L thấp, N bình thường, rỗng: không đánh giá"
    )
    flag_label = serializers.CharField(source="get_flag_display")
    out_of_range = serializers.BooleanField(source="is_out_of_range")
    conclusion = serializers.CharField()
    observed_at = serializers.DateTimeField(allow_null=True)
    source = serializers.ChoiceField(choices=Source.choices)  # type: ignore[assignment]
    report = HisLabReportRefSerializer(
        allow_null=True, help_text="Phiếu kết quả chứa chỉ số này (null: kết quả lẻ, hoặc từ tệp XML)"
    )


class VisitLabResultSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    code = serializers.CharField()
    name = serializers.CharField()
    value = serializers.CharField()
    unit = serializers.CharField()
    reference_low = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    reference_high = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    reference_text = serializers.CharField()
    flag = serializers.ChoiceField(choices=LabFlag.choices)
    flag_label = serializers.CharField(source="get_flag_display")
    observed_at = serializers.DateTimeField(allow_null=True)
    report = HisLabReportRefSerializer(allow_null=True, help_text="Phiếu kết quả chứa chỉ số này")


class HisVisitSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    patient = PatientRefSerializer()
    facility = HisFacilitySerializer()
    department_code = serializers.CharField()
    department_name = serializers.CharField()
    admitted_at = serializers.DateTimeField(allow_null=True, help_text="Vào viện/bắt đầu khám")
    discharged_at = serializers.DateTimeField(allow_null=True, help_text="Ra viện/kết thúc")
    diagnosis_text = serializers.CharField()
    icd10 = serializers.CharField(help_text="Mã bệnh ICD-10")
    source = serializers.ChoiceField(choices=Source.choices)  # type: ignore[assignment]
    lab_results = VisitLabResultSerializer(many=True, help_text="Kết quả xét nghiệm của lượt khám")


# --- Rows as plain dicts (issue 11): the lists read `.values()` and build the serializers' answers here ------
# (the serializers above stay what the OpenAPI schema documents; tests/api/test_his_api.py compares both).

# The rows' columns are the SQL lists' (his/sql), named as `.values()` names them; the ORM queries they replace
# read the same names (tests/api/test_his_sql.py).
VISIT_LAB_RESULT_COLUMNS = tuple(visits_sql.ALL_RESULTS.columns)
LAB_RESULT_COLUMNS = tuple(lab_results_sql.LAB_RESULTS.columns)
VISIT_COLUMNS = tuple(name for name in visits_sql.VISITS.columns if name != "admitted_sort")
_DECIMAL = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)


_DECIMAL_AS_IS = getattr(_DECIMAL, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING) and not (
    _DECIMAL.localize
)


def _decimal(value: Any) -> Any:
    """DecimalField(max_digits=14, decimal_places=4)'s answer: a value read from a DECIMAL(14, 4) column has
    four decimal places already (quantizing changes nothing), so it is written as it is, and so is the column's
    text (his.sql.visits reads a result's range as MariaDB's fixed-point text, '3.5000'); anything else goes
    through DRF's field."""
    if value is None:
        return None
    if _DECIMAL_AS_IS and type(value) is str and len(value) > 4 and value[-5] == "." and "e" not in value:
        return value
    if _DECIMAL_AS_IS and type(value) is Decimal:
        # Four digits after the point in the fixed-point text is an exponent of -4 (Decimal writes as many as
        # the exponent says): cheaper than `value.as_tuple()`, which builds a tuple of every digit.
        text = f"{value:f}"
        if len(text) > 4 and text[-5] == ".":
            return text
    return _DECIMAL.to_representation(value)


def _flag_labels() -> dict[str, str]:
    """get_flag_display's labels in the active language (a value outside the choices shows as itself)."""
    return {value: str(label) for value, label in LabFlag.choices}


def _ref_rows(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row's patient (PatientRefSerializer) and facility (HisFacilitySerializer)."""
    return (
        {"id": uuid_text(row["patient__public_id"]), "full_name": row["patient__full_name"]},
        {
            "id": uuid_text(row["facility__public_id"]),
            "code": row["facility__code"],
            "name": row["facility__name"],
            "hotline": row["facility__hotline"],
        },
    )


def _report_ref(row: dict[str, Any], iso: Callable[[Any], Any] = iso_datetime) -> dict[str, Any] | None:
    if row["report_id"] is None:
        return None
    return {
        "id": uuid_text(row["report__public_id"]),
        "name": row["report__name"],
        "status": row["report__status"],
        "issued": iso(row["report__issued_at"]),
        "conclusion": row["report__conclusion"],
    }


def stored_times(iso: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`iso` (a page's api.fast.datetimes()) of a time as his.sql.visits reads it: MariaDB's text of a
    DATETIME(6) in UTC, each distinct text parsed and formatted once for the page (a visit's results share
    their time); a datetime (a `.values()` row) or None as `iso` answers it."""
    from datetime import datetime

    from django.db import connections, router

    from health_f0.his.models import HisLabResult

    zone = connections[router.db_for_read(HisLabResult)].timezone
    seen: dict[Any, Any] = {}

    def answer(value: Any) -> Any:
        if type(value) is not str:
            return iso(value)
        text = seen.get(value)
        if text is None:
            text = seen[value] = iso(datetime.fromisoformat(value).replace(tzinfo=zone))
        return text

    return answer


def visit_lab_result_row(
    row: dict[str, Any],
    labels: dict[str, str],
    iso: Callable[[Any], Any] = iso_datetime,
    reports: dict[int, Any] | None = None,
    observed: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """VisitLabResultSerializer's answer from a `.values(*VISIT_LAB_RESULT_COLUMNS)` row or his.sql.visits' row
    (its time and range as text) (`iso`: a page's api.fast.datetimes(); `reports`: the page's report references
    by id, built once per report; `observed`: the page's stored_times(iso))."""
    flag = row["flag"]
    report_id = row["report_id"]
    observed = observed or stored_times(iso)
    if report_id is None:
        report = None
    elif reports is None:
        report = _report_ref(row, observed)
    else:
        report = reports.get(report_id)
        if report is None:
            report = reports[report_id] = _report_ref(row, observed)
    # A public id as MariaDB's text and a range as the DECIMAL(14, 4)'s text (his.sql.visits) are their own
    # answers (api.fast.uuid_text, _decimal); a `.values()` row's UUID and Decimals go through them.
    public_id, low, high = row["public_id"], row["reference_low"], row["reference_high"]
    if type(public_id) is not str or len(public_id) != 36:
        public_id = uuid_text(public_id)
    if low is not None and (type(low) is not str or not _DECIMAL_AS_IS):
        low = _decimal(low)
    if high is not None and (type(high) is not str or not _DECIMAL_AS_IS):
        high = _decimal(high)
    return {
        "id": public_id,
        "code": row["code"],
        "name": row["name"],
        "value": row["value"],
        "unit": row["unit"],
        "reference_low": low,
        "reference_high": high,
        "reference_text": row["reference_text"],
        "flag": flag,
        "flag_label": labels.get(flag, flag),
        "observed_at": observed(row["observed_at"]),
        "report": report,
    }


def lab_result_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """HisLabResultSerializer's answer from `.values(*LAB_RESULT_COLUMNS)` rows."""
    labels, iso = _flag_labels(), datetimes()
    out = []
    for row in rows:
        flag = row["flag"]
        patient, facility = _ref_rows(row)
        visit = row["visit__public_id"]
        out.append(
            {
                "id": str(row["public_id"]),
                "visit": str(visit) if visit is not None else None,
                "patient": patient,
                "facility": facility,
                "code": row["code"],
                "name": row["name"],
                "value": row["value"],
                "value_number": _decimal(row["value_number"]),
                "unit": row["unit"],
                "reference_low": _decimal(row["reference_low"]),
                "reference_high": _decimal(row["reference_high"]),
                "reference_text": row["reference_text"],
                "flag": flag,
                "flag_label": labels.get(flag, flag),
                "out_of_range": flag in (LabFlag.HIGH, LabFlag.LOW),
                "conclusion": row["conclusion"],
                "observed_at": iso(row["observed_at"]),
                "source": row["source"],
                "report": _report_ref(row, iso),
            }
        )
    return out


def visit_rows(
    rows: list[dict[str, Any]], results: dict[int, list[dict[str, Any]]], totals: dict[int, int] | None = None
) -> list[dict[str, Any]]:
    """HisVisitSerializer's answer (HisVisitV2Serializer's with `totals`) from `.values(*VISIT_COLUMNS)` rows
    and each visit's lab result rows (VISIT_LAB_RESULT_COLUMNS) by visit id."""
    labels, iso = _flag_labels(), datetimes()
    observed = stored_times(iso)
    reports: dict[int, Any] = {}
    out = []
    for row in rows:
        patient, facility = _ref_rows(row)
        item = {
            "id": uuid_text(row["public_id"]),
            "patient": patient,
            "facility": facility,
            "department_code": row["department_code"],
            "department_name": row["department_name"],
            "admitted_at": iso(row["admitted_at"]),
            "discharged_at": iso(row["discharged_at"]),
            "diagnosis_text": row["diagnosis_text"],
            "icd10": row["icd10"],
            "source": row["source"],
            "lab_results": [
                visit_lab_result_row(r, labels, iso, reports, observed) for r in results.get(row["id"], ())
            ],
        }
        if totals is not None:
            item["lab_results_total"] = totals.get(row["id"], 0)
        out.append(item)
    return out


def link_request_rows(rows: list[dict[str, Any]], user: Any) -> list[dict[str, Any]]:
    """HisLinkRequestSerializer's answer from his.sql.link_requests rows; `actions` from the link workflow
    (LINK_WORKFLOW.available) on each request as its patient's account asks, the live links of the page's
    linked requests read in one statement."""
    labels, iso = {value: str(label) for value, label in LinkStatus.choices}, datetimes()
    linked = [row["id"] for row in rows if row["status"] == LinkStatus.LINKED]
    live = selectors.live_links_of_requests(request_ids=linked) if linked else {}
    out = []
    for row in rows:
        patient, facility = _ref_rows(row)
        # What the workflow reads of a request: its state, facility, patient (account, bond) and sender.
        subject = HisLinkRequest(
            id=row["id"],
            status=row["status"],
            patient=Patient(
                id=row["patient_id"],
                account_id=row["patient__account_id"],
                verified_phone=row["patient__verified_phone"],
            ),
            facility=Facility(id=row["facility_id"]),
            created_by_id=row["created_by_id"],
        )
        params: dict[str, Any] = {"link": live[row["id"]]} if row["id"] in live else {}
        status_value = row["status"]
        out.append(
            {
                "id": str(row["public_id"]),
                "status": status_value,
                "status_label": labels.get(status_value, status_value),
                "identifier_type": row["identifier_type"],
                "identifier": row["identifier"],
                "facility": facility,
                "patient": patient,
                "channel": row["channel"],
                "auto_linked": row["auto_linked"],
                "reason": row["reason"],
                "created_at": iso(row["created_at"]),
                "decided_at": iso(row["decided_at"]),
                "actions": LINK_WORKFLOW.available(subject, user, **params),
            }
        )
    return out


class RecordFilterSerializer(serializers.Serializer):
    patient = serializers.UUIDField(required=False, help_text=_PATIENT_HELP)


# --- Link requests --------------------------------------------------------------------------------


class HisLinkListApi(PatientApi):
    @paginated_list("HisLinkRequest", HisLinkRequestSerializer(many=True), 400, 401, 403)
    @extend_schema(
        operation_id="his_link_list",
        tags=[TAG],
        summary="Yêu cầu liên kết hồ sơ bệnh viện của tôi và người thân, mới nhất trước",
        parameters=[RecordFilterSerializer],
    )
    def get(self, request: Request) -> Response:
        filters = RecordFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        patient = own_patient_filter(request.user, filters.validated_data.get("patient"))
        return paginate(
            request,
            self,
            selectors.link_request_rows_for(user=request.user, patient=patient),
            serialize=lambda page: link_request_rows(page, request.user),
        )


class HisLinkCreateApi(PatientApi):
    @extend_schema_serializer(component_name="HisLinkCreateInput")
    class InputSerializer(serializers.Serializer):
        identifier_type = serializers.ChoiceField(
            choices=IdentifierType.choices,
            help_text="bhyt: số thẻ BHYT; cccd: số CCCD; his_code: mã người bệnh tại bệnh viện",
        )
        identifier = serializers.CharField(max_length=40, help_text="Mã tương ứng")
        facility = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text=(
                "Bệnh viện/TTYT; mặc định: cơ sở duy nhất của tỉnh người bệnh "
                "(có nhiều cơ sở: 400 `facility_required`)"
            ),
        )
        patient = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Người thân cùng số điện thoại (mã từ GET /me); mặc định: chính chủ tài khoản",
        )
        policy_version = serializers.CharField(
            max_length=16,
            required=False,
            allow_blank=True,
            default="",
            help_text=(
                "Phiên bản chính sách dữ liệu hiển thị cạnh nút gửi (ứng dụng ghi rõ: gửi yêu cầu là đồng ý "
                "chuyển hồ sơ bệnh viện vào tài khoản); đã cũ: 400 `policy_version_outdated`"
            ),
        )

    @extend_schema(
        operation_id="his_link_create",
        tags=[TAG],
        summary="Gửi yêu cầu liên kết tài khoản với hồ sơ bệnh viện",
        description=(
            "Hệ thống tra cứu HIS ngay: đúng một hồ sơ khớp cả mã, họ tên và ngày sinh thì liên kết luôn "
            "(`status` = linked), còn lại chờ cán bộ liên kết kiểm tra (`needs_review`). Người bệnh được "
            "nhắn tin khi có kết quả. 400: mã không hợp lệ (lỗi ở `identifier`), cần chọn cơ sở "
            "(`facility_required`); 409 `request_pending`: đã có yêu cầu đang chờ; 409 `already_linked`."
        ),
        request=InputSerializer,
        responses={201: HisLinkRequestSerializer, **error_responses(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = HisLinkCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        patient = own_patient(request.user, data["patient"])
        # Asking for the link is the consent the app shows next to its button (privacy policy in force).
        consent_record(
            channel=ConsentChannel.HIS_LINK_APP,
            method=ConsentMethod.SUBMIT,
            user=request.user,
            patient=patient,
            policy_version=data["policy_version"] or None,
        )
        created = link_request_create(
            patient=patient,
            identifier_type=data["identifier_type"],
            identifier=data["identifier"],
            channel=LinkChannel.APP,
            actor=request.user,
            facility=_facility(data["facility"], patient),
        )
        fresh = selectors.link_requests_for(user=request.user).get(pk=created.pk)
        return Response(
            HisLinkRequestSerializer(fresh, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class HisLinkCollectionApi(APIView):
    # `/his-links`: GET lists one's requests, POST asks for a link. Each keeps its own class and schema.
    parser_classes = [JSONParser]
    permission_classes = PatientApi.permission_classes

    get = HisLinkListApi.get
    post = HisLinkCreateApi.post


# --- Imported records -------------------------------------------------------------------------------


# v2 bounds a visit's lab results in the list: at most this many, by name, and how many it has in all (the rest:
# GET /lab-results?visit=<id>). A long inpatient stay can hold thousands; a page of visits stays a page.
VISIT_LAB_RESULTS_SHOWN = 20


@extend_schema_serializer(component_name="HisVisitV2")
class HisVisitV2Serializer(HisVisitSerializer):
    lab_results = VisitLabResultSerializer(  # type: ignore[assignment]
        many=True,
        source="shown_lab_results",
        help_text=f"Tối đa {VISIT_LAB_RESULTS_SHOWN} kết quả xét nghiệm đầu tiên theo tên; đủ cả: "
        "GET /lab-results?visit=<id>",
    )
    lab_results_total = serializers.IntegerField(help_text="Số kết quả xét nghiệm của lượt khám")


def _visit_page_v1(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A v1 page of visits with every lab result of each (by name, with their report), in one statement."""
    by_visit: dict[int, list[dict[str, Any]]] = {}
    for result in selectors.visit_lab_result_rows(visit_ids=[row["id"] for row in page]):
        by_visit.setdefault(result["visit_id"], []).append(result)
    return visit_rows(page, by_visit)


def _visit_page_v2(scope: selectors.RecordScope, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A v2 page of visits, each with its first VISIT_LAB_RESULTS_SHOWN lab results and their total, read in one
    statement whatever the visits hold."""
    by_visit: dict[int, list[dict[str, Any]]] = {}
    totals: dict[int, int] = {}
    rows = selectors.first_lab_result_rows_of(
        scope=scope, visit_ids=[row["id"] for row in page], per_visit=VISIT_LAB_RESULTS_SHOWN
    )
    for result in rows:
        by_visit.setdefault(result["visit_id"], []).append(result)
        totals[result["visit_id"]] = result["visit_total"]
    return visit_rows(page, by_visit, totals)


class HisVisitListApi(PatientApi):
    @paginated_list(
        "HisVisit", HisVisitSerializer(many=True), 400, 401, 403, v2_item=HisVisitV2Serializer(many=True)
    )
    @extend_schema(
        operation_id="his_visit_list",
        tags=[TAG],
        summary="Lịch sử khám từ bệnh viện đã liên kết, mới nhất trước, kèm kết quả xét nghiệm",
        description=(
            "v2: mỗi lượt khám kèm tối đa 20 kết quả xét nghiệm đầu tiên (theo tên) và `lab_results_total`; "
            "đủ cả: GET /lab-results?visit=<id>."
        ),
        parameters=[RecordFilterSerializer],
    )
    def get(self, request: Request) -> Response:
        filters = RecordFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        patient = own_patient_filter(request.user, filters.validated_data.get("patient"))
        # The scope (a patient's active links) is read once for the visits and their lab results.
        scope = selectors.RecordScope.of(request.user)
        serialize: Callable[[list[Any]], Any]
        if request.version == V2:

            def serialize_v2(page: list[Any]) -> Any:
                return _visit_page_v2(scope, page)

            serialize = serialize_v2
        else:
            serialize = _visit_page_v1
        visits = selectors.visit_rows_for(scope=scope, patient=patient)
        return paginate(request, self, visits, serialize=serialize)


class HisLabResultListApi(PatientApi):
    @extend_schema_serializer(component_name="HisLabResultFilter")
    class FilterSerializer(RecordFilterSerializer):
        out_of_range = serializers.BooleanField(
            required=False, default=False, help_text="true: chỉ kết quả cao (H) hoặc thấp (L)"
        )
        visit = serializers.UUIDField(
            required=False, help_text="Chỉ kết quả của lượt khám này (mã lượt khám)"
        )

    @paginated_list("HisLabResult", HisLabResultSerializer(many=True), 400, 401, 403)
    @extend_schema(
        operation_id="his_lab_result_list",
        tags=[TAG],
        summary="Kết quả xét nghiệm từ bệnh viện đã liên kết, mới nhất trước",
        parameters=[FilterSerializer],
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        patient = own_patient_filter(request.user, filters.validated_data.get("patient"))
        results = selectors.lab_result_rows_for(
            user=request.user,
            patient=patient,
            out_of_range_only=filters.validated_data["out_of_range"],
            visit_public_id=filters.validated_data.get("visit"),
        )
        # Newest report first, a report's results by name: an index range (selectors.LAB_ORDER).
        return paginate(request, self, results, serialize=lab_result_rows)
