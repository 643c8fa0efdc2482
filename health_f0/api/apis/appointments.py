"""Appointments API v1: where and what to book (public), free slots, booking for oneself or a family member,
booking without an account (phone verified by OTP), one's bookings with cancel and reschedule, and the
staff side: the booking desk's worklist, confirm, decline, check-in by code and calling the queue.

Conventions of these operations:

* A slot is named by its service and its start: `{"service": "<service id>", "slot": "<ISO 8601 start>"}`,
  exactly as GET /slots returns it (e.g. "2026-11-23T08:00:00+07:00"; a time without an offset is read as
  Vietnam time). A start that is not a bookable slot of that service answers 400 `slot_unavailable`.
* Ids in the URL that are unknown, or not the caller's, answer 404; unknown ids in a request body or query
  (a service, a patient) answer 400 on that field; a service id in GET /slots that is unknown answers 404.
* GET /slots for a day outside the booking window (before today or after the service's horizon) answers 200
  with no slots and a `message` saying why, so the app can show it as is.
* Doctors: GET /services/{id}/doctors lists a service's doctors; GET /slots?doctor=<id> gives that doctor's
  slots and free places (each slot also lists `doctors` with their free places); a booking's `doctor` is a
  doctor id, or null for "any doctor" (the system gives the slot's doctor with the most free places). 400
  `doctor_unavailable`: that doctor does not work in that slot.
* 409: `slot_full` (no place left), `overlap` (the patient already holds a booking at that time),
  `limit_service`, `limit_day`, `limit_week` (the patient's limits of live bookings per service, per day,
  per week), `cutoff_passed` (too close to the visit to cancel or move it oneself), `invalid_transition`.
* GET /appointments/{id}/calendar.ics: the booking as an iCalendar (RFC 5545) event, for one's calendar.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils import encoders

from health_f0.api.apis.common import (
    id_parameter,
    own_patient,
    paginate,
    paginated_list,
    query_filters,
    uuid_or_404,
    validated,
)
from health_f0.api.apis.monitoring import IsPatientAccount, PatientRefSerializer
from health_f0.api.fast import choice_labels, date_texts, datetime_texts, datetimes, display, uuid_text
from health_f0.api.parsers import JSONParser
from health_f0.api.permissions import HasOwnPassword, IsStaffMember
from health_f0.api.renderers import PlainRows
from health_f0.api.schema import error_responses
from health_f0.api.views import APIView
from health_f0.appointments import selectors
from health_f0.appointments.calendar import appointment_ics, ics_filename
from health_f0.appointments.models import Appointment, Channel, Doctor, Service, ServiceKind, Status
from health_f0.appointments.services import (
    appointment_book,
    appointment_book_guest,
    appointment_cancel,
    appointment_check_in,
    appointment_confirm,
    appointment_decline,
    appointment_reschedule,
    queue_call_next,
)
from health_f0.appointments.sql import worklist as worklist_sql
from health_f0.appointments.sql.bookings import bare_bookings, booking_instances
from health_f0.appointments.sql.worklist import cols as worklist_cols
from health_f0.appointments.transitions import (
    APPOINTMENT_WORKFLOW,
    QUEUE_POLICY_STATES,
    change_deadline,
)
from health_f0.core.exceptions import Conflict, DomainError, NotFound
from health_f0.core.phone import display_phones
from health_f0.core.sqllist import bare_instance
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient, Sex
from health_f0.privacy.models import ConsentChannel
from health_f0.privacy.services import consent_for_booking

TAG_PUBLIC = "Đặt lịch khám"
TAG_PATIENT = "Lịch hẹn của tôi"
TAG_STAFF = "Lịch hẹn (nhân viên)"


@contextmanager
def _conflicts(*codes: str) -> Iterator[None]:
    """Rules about the current state (too late to cancel...) answer 409, not 400."""
    try:
        yield
    except DomainError as exc:
        if exc.code in codes and exc.status_code == 400:
            raise Conflict(exc.message, code=exc.code, field=exc.field)
        raise


# --- Lookups (scoped through facilities.access) ---------------------------------------------------


def _service_field(public_id: UUID) -> Service:
    service = selectors.bookable_service(public_id=public_id)
    if service is None:
        raise DomainError(_("Không tìm thấy dịch vụ khám."), code="service_not_found", field="service")
    return service


def _doctor_field(service: Service, public_id: UUID | None) -> Doctor | None:
    """A doctor id of the booking's body: one of the service's doctors (400 on `doctor` otherwise); null is
    "any doctor"."""
    if public_id is None:
        return None
    doctor = next((d for d in selectors.service_doctors(service=service) if d.public_id == public_id), None)
    if doctor is None:
        raise DomainError(
            _("Bác sĩ này không khám dịch vụ đã chọn. Vui lòng chọn bác sĩ khác hoặc “Bác sĩ bất kỳ”."),
            code="doctor_not_found",
            field="doctor",
        )
    return doctor


def _appointment(user: Any, public_id: str, roles: frozenset[str] | None = None) -> Appointment:
    """One booking in the caller's scope (access.appointments_for: the account's own and family's, or with
    `roles` the staff member's facilities); 404 for missing and for not-yours alike."""
    queryset = access.appointments_for(user, roles).select_related("service", "facility", "patient", "doctor")
    try:
        appointment: Appointment = access.get_scoped_or_404(
            queryset, public_id=uuid_or_404(public_id, _("Không tìm thấy lịch hẹn."))
        )
    except NotFound:
        raise NotFound(_("Không tìm thấy lịch hẹn."))
    return appointment


def _own_step(request: Request, id: str, call: Callable[[Appointment], Any]) -> Response:
    """A patient's step on one of their bookings (`call(appointment)`; a passed cut-off answers 409), then the
    booking as it is now."""
    appointment = _appointment(request.user, id)
    with _conflicts("cutoff_passed"):
        call(appointment)
    return Response(
        AppointmentSerializer(_appointment(request.user, id), context={"actor": request.user}).data
    )


# --- Permissions and base classes -------------------------------------------------------------------


class HoldsAppointmentRole(BasePermission):
    """The staff member holds one of the view's `staff_roles` somewhere (where exactly is checked per record:
    another facility's booking answers 404)."""

    message = gettext_lazy("Bạn không có vai trò phù hợp cho chức năng này.")

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if getattr(user, "is_superuser", False):
            return True
        if access.roles_of(user) & view.staff_roles:
            return True
        self.message = view.role_message
        return False


class PublicApi(APIView):
    """No authentication: a stale bearer token must not block choosing a clinic or booking as a guest."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]


class PatientApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, HasOwnPassword, IsPatientAccount]


class DeskApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, IsStaffMember, HoldsAppointmentRole]
    staff_roles: frozenset[str] = access.BOOKING_DESK_ROLES
    role_message: Any = gettext_lazy(
        "Chức năng này dành cho bộ phận tư vấn đặt lịch, tiếp đón hoặc quản trị hệ thống."
    )

    def answer(self, request: Request, id: str) -> Response:
        """The booking as it is now, as the desk sees it (404 outside the staff member's scope)."""
        appointment = _appointment(request.user, id, self.staff_roles)
        return Response(StaffAppointmentSerializer(appointment, context={"actor": request.user}).data)

    def step(self, request: Request, id: str, call: Callable[[Appointment], Any]) -> Response:
        """A desk step on one booking of the staff member's scope (`call(appointment)`), then the booking."""
        call(_appointment(request.user, id, self.staff_roles))
        return self.answer(request, id)


# --- Serializers ----------------------------------------------------------------------------------


class SlotField(serializers.DateTimeField):
    """A slot's start (ISO 8601); without an offset it is Vietnam time."""

    default_error_messages = {
        "invalid": gettext_lazy(
            "Giờ hẹn không hợp lệ: dùng định dạng ISO 8601, ví dụ 2026-11-23T08:00:00+07:00."
        ),
        "date": gettext_lazy("Cần cả ngày và giờ hẹn, ví dụ 2026-11-23T08:00:00+07:00."),
        "make_aware": gettext_lazy("Giờ hẹn không hợp lệ theo giờ Việt Nam."),
        "overflow": gettext_lazy("Giờ hẹn không hợp lệ."),
    }

    def to_internal_value(self, value: Any) -> datetime:
        moment: datetime = super().to_internal_value(value)
        if not 2000 <= moment.year <= 2100:
            self.fail("overflow")
        return moment


class BookingFacilitySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    code = serializers.CharField()
    name = serializers.CharField()
    address = serializers.CharField()
    hotline = serializers.CharField()


class RoomSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    code = serializers.CharField()
    name = serializers.CharField()


class DoctorSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    title = serializers.CharField(help_text="Học hàm, học vị, ví dụ BS.CKI, ThS.BS, PGS.TS")
    full_name = serializers.CharField()
    display_name = serializers.CharField(help_text="Học hàm, học vị và họ tên, như in trên phiếu khám")


class SlotDoctorSerializer(serializers.Serializer):
    doctor = serializers.UUIDField(allow_null=True, help_text="Mã bác sĩ (null: chỗ không gắn bác sĩ)")
    free = serializers.IntegerField(help_text="Số chỗ còn trống của bác sĩ này")


class ServiceRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ServiceKind.choices)


class ServiceSerializer(ServiceRefSerializer):
    kind_label = serializers.CharField(source="get_kind_display")
    room = RoomSerializer(source="facility", help_text="Phòng khám/khoa thực hiện")
    duration_minutes = serializers.IntegerField(help_text="Thời lượng mỗi lượt (phút)")
    capacity_per_slot = serializers.IntegerField(help_text="Số người mỗi khung giờ")
    min_notice_hours = serializers.IntegerField(help_text="Đặt trước tối thiểu (giờ)")
    booking_horizon_days = serializers.IntegerField(help_text="Mở đặt lịch trước (ngày)")
    cancel_cutoff_hours = serializers.IntegerField(help_text="Được tự huỷ/đổi lịch đến trước giờ hẹn (giờ)")
    requires_confirmation = serializers.BooleanField(
        help_text="Lịch đặt trực tuyến chờ bộ phận đặt lịch xác nhận"
    )
    is_online = serializers.SerializerMethodField(
        help_text="Khám/tư vấn trực tuyến (đường dẫn phòng họp chỉ gửi cho người đã được xác nhận lịch)"
    )

    def get_is_online(self, service: Service) -> bool:
        return service.kind == ServiceKind.ONLINE


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Giờ bắt đầu; gửi nguyên giá trị này khi đặt lịch")
    end = serializers.DateTimeField()
    capacity = serializers.IntegerField()
    free = serializers.IntegerField(help_text="Số chỗ còn trống")
    doctors = serializers.SerializerMethodField(help_text="Số chỗ còn trống theo từng bác sĩ của khung giờ")

    @extend_schema_field(SlotDoctorSerializer(many=True))
    def get_doctors(self, slot: selectors.FreeSlot) -> list[dict[str, Any]]:
        ids: dict[int, Any] = self.context.get("doctor_ids", {})
        return [
            {"doctor": str(ids[key]) if key in ids else None, "free": free}
            for key, free in slot.doctor_free
            if key == 0 or key in ids
        ]


class QueuePlaceSerializer(serializers.Serializer):
    called = serializers.BooleanField(help_text="Đã được gọi: mời vào phòng khám")
    ahead = serializers.IntegerField(help_text="Số người chờ trước (theo thứ tự gọi)")
    now_calling = serializers.IntegerField(allow_null=True, help_text="Số vừa được gọi")


class ActionsField(serializers.SerializerMethodField):
    """The workflow's actions open to the caller (the serializer's context "actor") on this booking."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "Thao tác người gọi được làm với lịch hẹn này lúc này (vd. cancel, reschedule, acknowledge; "
            "confirm, decline, check_in, complete với nhân viên)",
        )
        super().__init__(method_name="get_actions", **kwargs)


def _actions(serializer: serializers.Serializer, appointment: Appointment) -> list[str]:
    if "actor" not in serializer.context:
        return []
    return APPOINTMENT_WORKFLOW.available(appointment, serializer.context["actor"])


def _change_deadline_text(appointment: Appointment) -> str | None:
    """Until when the patient may cancel or move the booking, local time, as the API has always written it:
    the text DRF's JSON encoder makes of a datetime (ISO 8601, milliseconds). Written here, not by the
    renderer, so the answer is plain data and takes the renderer's fast path (api/renderers.py)."""
    deadline = change_deadline(appointment)
    if deadline is None:
        return None
    text: str = _JSON_ENCODER.default(timezone.localtime(deadline))
    return text


_JSON_ENCODER = encoders.JSONEncoder()


class AppointmentSerializer(serializers.Serializer):
    """A booking as its patient (or family) sees it."""

    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(choices=Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    check_in_code = serializers.SerializerMethodField(
        help_text="Mã tiếp đón (mã QR) đưa cho quầy tiếp đón (null với lịch khám/tư vấn trực tuyến: "
        "không có tiếp đón tại quầy)"
    )
    slot_start = serializers.DateTimeField()
    slot_end = serializers.DateTimeField()
    service = ServiceRefSerializer()
    room = RoomSerializer(source="facility")
    doctor = DoctorSerializer(allow_null=True, help_text="Bác sĩ khám (null: dịch vụ không chọn bác sĩ)")
    patient = PatientRefSerializer()
    channel = serializers.ChoiceField(choices=Channel.choices)
    reason = serializers.CharField()
    is_reexam = serializers.BooleanField(help_text="Lịch tái khám do bác sĩ/bộ phận đặt lịch hẹn")
    queue_number = serializers.IntegerField(allow_null=True, help_text="Số thứ tự sau khi tiếp đón")
    created_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancel_source = serializers.CharField(help_text="patient, staff, declined, system (khi đã huỷ)")
    cancel_reason = serializers.CharField()
    change_deadline = serializers.SerializerMethodField(
        help_text="Tự huỷ/đổi lịch được đến thời điểm này (null: không còn đổi được)"
    )
    actions = ActionsField()
    meeting_url = serializers.SerializerMethodField(
        help_text="Đường dẫn phòng tư vấn trực tuyến riêng của lịch hẹn này: chỉ có khi lịch đã được xác nhận, "
        "từ ít phút trước giờ hẹn đến hết giờ hẹn (null lúc khác)"
    )
    queue = serializers.SerializerMethodField(
        help_text="Sau khi tiếp đón: đã được gọi chưa, còn bao nhiêu người trước, số đang gọi (null: chưa tiếp đón)"
    )

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_check_in_code(self, appointment: Appointment) -> str | None:
        # An online consultation has no reception: no code to show, as on the portal's booking page.
        if selectors.is_online(appointment.service):
            return None
        return appointment.check_in_code

    @extend_schema_field(QueuePlaceSerializer(allow_null=True))
    def get_queue(self, appointment: Appointment) -> dict[str, Any] | None:
        place = selectors.queue_place(appointment=appointment)
        return QueuePlaceSerializer(place).data if place else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_change_deadline(self, appointment: Appointment) -> str | None:
        return _change_deadline_text(appointment)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, appointment: Appointment) -> list[str]:
        return _actions(self, appointment)

    def get_meeting_url(self, appointment: Appointment) -> str | None:
        return selectors.meeting_link(appointment=appointment)


class StaffPatientSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    full_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    sex = serializers.CharField()
    phone = serializers.CharField(source="phone_display")


class StaffAppointmentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(choices=Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    channel = serializers.ChoiceField(choices=Channel.choices)
    channel_label = serializers.CharField(source="get_channel_display")
    check_in_code = serializers.CharField()
    slot_start = serializers.DateTimeField()
    slot_end = serializers.DateTimeField()
    service = ServiceRefSerializer()
    room = RoomSerializer(source="facility")
    doctor = DoctorSerializer(allow_null=True)
    patient = StaffPatientSerializer()
    reason = serializers.CharField()
    is_reexam = serializers.BooleanField()
    is_walk_in = serializers.BooleanField()
    queue_number = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    checked_in_at = serializers.DateTimeField(allow_null=True)
    cancel_source = serializers.CharField()
    cancel_reason = serializers.CharField()
    actions = ActionsField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, appointment: Appointment) -> list[str]:
        return _actions(self, appointment)


class StaffAppointmentListItemSerializer(StaffAppointmentSerializer):
    past_visits = serializers.IntegerField(help_text="Số lần đã khám (lịch sử của người bệnh)")
    past_no_shows = serializers.IntegerField(help_text="Số lần không đến")


# --- Public: facilities, services, slots ------------------------------------------------------------


class FacilityListApi(PublicApi):
    @extend_schema(
        operation_id="booking_facility_list",
        tags=[TAG_PUBLIC],
        summary="Các cơ sở y tế nhận đặt lịch khám",
        auth=[],
        responses={200: BookingFacilitySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(BookingFacilitySerializer(selectors.bookable_facilities(), many=True).data)


class FacilityServiceListApi(PublicApi):
    @extend_schema(
        operation_id="booking_service_list",
        tags=[TAG_PUBLIC],
        summary="Các dịch vụ khám đang nhận đặt lịch của một cơ sở (kể cả phòng khám trực thuộc)",
        auth=[],
        parameters=[id_parameter("Mã cơ sở (từ GET /facilities)")],
        responses={200: ServiceSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, id: str) -> Response:
        public_id = uuid_or_404(id, _("Không tìm thấy cơ sở y tế."))
        facility = selectors.bookable_facility(public_id=public_id)
        if facility is None:
            raise NotFound(_("Không tìm thấy cơ sở y tế."))
        services = (
            selectors.services_of(facility=facility).filter(facility__is_active=True).order_by("name", "id")
        )
        return Response(ServiceSerializer(services, many=True).data)


class SlotListApi(PublicApi):
    @extend_schema_serializer(component_name="SlotListFilter")
    class FilterSerializer(serializers.Serializer):
        service = serializers.UUIDField(help_text="Mã dịch vụ (từ GET /facilities/{id}/services)")
        date = serializers.DateField(input_formats=["iso-8601"], help_text="Ngày khám, YYYY-MM-DD")
        doctor = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Chỉ các khung giờ của bác sĩ này (mã từ GET /services/{id}/doctors)",
        )

    @extend_schema_serializer(component_name="SlotListOutput")
    class OutputSerializer(serializers.Serializer):
        service = ServiceRefSerializer()
        date = serializers.DateField()
        bookable_from = serializers.DateField(help_text="Ngày sớm nhất được đặt")
        bookable_until = serializers.DateField(help_text="Ngày xa nhất được đặt (theo thời gian mở đặt lịch)")
        slots = SlotSerializer(
            many=True, help_text="Các khung giờ trong ngày, kể cả khung đã hết chỗ (free = 0)"
        )
        message = serializers.CharField(
            allow_null=True,
            help_text="Vì sao không có khung giờ nào (ngoài thời gian mở đặt lịch, ngày nghỉ...)",
        )

    @extend_schema(
        operation_id="booking_slot_list",
        tags=[TAG_PUBLIC],
        summary="Các khung giờ của một ngày và số chỗ còn trống",
        description=(
            "Khung giờ đã trừ thời gian đặt trước tối thiểu. Ngày ngoài thời gian mở đặt lịch trả về danh sách "
            "rỗng kèm `message` (không phải lỗi)."
        ),
        auth=[],
        parameters=[FilterSerializer],
        responses={200: OutputSerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = SlotListApi.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        service = selectors.bookable_service(public_id=filters.validated_data["service"])
        if service is None:
            raise NotFound(_("Không tìm thấy dịch vụ khám."))
        day = filters.validated_data["date"]
        doctors = selectors.service_doctors(service=service)
        doctor = _doctor_field(service, filters.validated_data["doctor"])
        today = timezone.localdate()
        until = today + timedelta(days=service.booking_horizon_days)
        slots: list[selectors.FreeSlot] = []
        if day < today:
            message: str | None = _("Ngày này đã qua. Vui lòng chọn một ngày khác.")
        elif day > until:
            message = _("Chỉ nhận đặt lịch đến hết ngày %(day)s. Vui lòng chọn ngày sớm hơn.") % {
                "day": f"{until:%d/%m/%Y}"
            }
        else:
            slots = selectors.slots_free(service=service, start=day, end=day, doctor=doctor)
            message = (
                None
                if slots
                else _("Ngày này không còn khung giờ nhận đặt lịch (ngày nghỉ hoặc đã hết giờ).")
            )
        data = {
            "service": service,
            "date": day,
            "bookable_from": today,
            "bookable_until": until,
            "slots": slots,
            "message": message,
        }
        context = {"doctor_ids": {d.pk: d.public_id for d in doctors}}
        return Response(SlotListApi.OutputSerializer(data, context=context).data)


class ServiceDoctorListApi(PublicApi):
    @extend_schema(
        operation_id="booking_service_doctors",
        tags=[TAG_PUBLIC],
        summary="Các bác sĩ khám của một dịch vụ (để chọn bác sĩ; không chọn: bác sĩ bất kỳ)",
        auth=[],
        parameters=[id_parameter("Mã dịch vụ (từ GET /facilities/{id}/services)")],
        responses={200: DoctorSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, id: str) -> Response:
        service = selectors.bookable_service(public_id=uuid_or_404(id, _("Không tìm thấy dịch vụ khám.")))
        if service is None:
            raise NotFound(_("Không tìm thấy dịch vụ khám."))
        return Response(DoctorSerializer(selectors.service_doctors(service=service), many=True).data)


class GuestBookingApi(PublicApi):
    @extend_schema_serializer(component_name="GuestBookingInput")
    class InputSerializer(serializers.Serializer):
        service = serializers.UUIDField(help_text="Mã dịch vụ")
        slot = SlotField(help_text="Giờ bắt đầu của khung giờ, như GET /slots trả về")
        full_name = serializers.CharField(max_length=200, help_text="Họ và tên người khám")
        date_of_birth = serializers.DateField(input_formats=["iso-8601"], help_text="Ngày sinh, YYYY-MM-DD")
        sex = serializers.ChoiceField(choices=Sex.choices)
        phone = serializers.CharField(max_length=32, help_text="Số di động đã nhận OTP (mục đích booking)")
        cccd = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        bhyt = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
        doctor = serializers.UUIDField(
            required=False, allow_null=True, default=None, help_text="Mã bác sĩ; null: bác sĩ bất kỳ"
        )
        otp = serializers.CharField(max_length=12, help_text='Mã OTP từ POST /otp với "purpose": "booking"')
        consent = serializers.BooleanField(
            help_text="Người đặt lịch đồng ý cho xử lý dữ liệu cá nhân và sức khoẻ (GET /privacy/policy); phải là true"
        )

        def validate_consent(self, value: bool) -> bool:
            if not value:
                raise serializers.ValidationError(
                    _("Cần đồng ý cho phép xử lý dữ liệu cá nhân để đặt lịch."), code="consent_required"
                )
            return value

    @extend_schema(
        operation_id="appointment_book_guest",
        tags=[TAG_PUBLIC],
        summary="Đặt lịch không cần tài khoản (xác thực số điện thoại bằng OTP)",
        description=(
            "Không cần hồ sơ trước ở bệnh viện: người khám được nhận ra theo số điện thoại, họ tên và ngày "
            "sinh, hoặc được ghi nhận mới. Lấy mã bằng POST /otp với purpose = booking. "
            "409 `slot_full`: khung giờ đã đủ người; 409 `overlap`: đã có lịch trùng giờ."
        ),
        auth=[],
        request=InputSerializer,
        responses={201: AppointmentSerializer, **error_responses(400, 409)},
    )
    def post(self, request: Request) -> Response:
        fields = dict(validated(GuestBookingApi.InputSerializer, request.data))
        fields.pop("consent")
        service = _service_field(fields.pop("service"))
        doctor = _doctor_field(service, fields.pop("doctor"))
        appointment = appointment_book_guest(
            service=service, slot_start=fields.pop("slot"), channel=Channel.APP, doctor=doctor, **fields
        )
        consent_for_booking(appointment=appointment, channel=ConsentChannel.GUEST_BOOKING_APP)
        # No account acts here: `actions` is empty (the booking's page opens its steps after an OTP).
        return Response(AppointmentSerializer(appointment).data, status=status.HTTP_201_CREATED)


# --- Patient: own and family bookings ---------------------------------------------------------------


class AppointmentListApi(PatientApi):
    @paginated_list("Appointment", AppointmentSerializer(many=True), 400, 401, 403)
    @extend_schema(
        operation_id="appointment_list",
        tags=[TAG_PATIENT],
        summary="Lịch hẹn của tôi và người thân cùng số điện thoại, mới nhất trước",
    )
    def get(self, request: Request) -> Response:
        return paginate(
            request,
            self,
            selectors.own_appointment_list(user=request.user),
            serialize=lambda rows: appointment_rows(rows, request.user),
        )


def appointment_rows(rows: list[dict[str, Any]], actor: Any) -> list[dict[str, Any]]:
    """AppointmentSerializer's answer, with the context {"actor": actor}, for the rows of
    appointments.sql.bookings (tests/api/test_appointment_sql_lists.py compares both), from bare bookings
    holding the rows' columns and the page's shared service, room, doctor and patient: the page's actions
    from one `available_each`, its tickets' queue places from one read of each queue."""
    if not rows:
        return []
    bookings = booking_instances(rows)
    services = {b.service_id: b.service for b in bookings}
    facilities = {b.facility_id: b.facility for b in bookings}
    doctors = {b.doctor_id: b.doctor for b in bookings if b.doctor is not None}
    patients = {b.patient_id: b.patient for b in bookings}
    actions = APPOINTMENT_WORKFLOW.available_each(bookings, actor)
    iso = datetimes()
    statuses = choice_labels(Appointment, "status")
    service_refs = {pk: _service_ref(service) for pk, service in services.items()}
    room_refs = {pk: _room_ref(facility) for pk, facility in facilities.items()}
    doctor_refs = {pk: _doctor_ref(doctor) for pk, doctor in doctors.items()}
    patient_refs = {pk: {"id": str(p.public_id), "full_name": p.full_name} for pk, p in patients.items()}
    queues: dict[Any, selectors.Queue] = {}
    answer = []
    for booking, row_actions in zip(bookings, actions, strict=True):
        service = booking.service
        place = selectors.queue_place(appointment=booking, queues=queues)
        answer.append(
            {
                "id": str(booking.public_id),
                "status": booking.status,
                "status_label": display(statuses, booking.status),
                "check_in_code": None if selectors.is_online(service) else booking.check_in_code,
                "slot_start": iso(booking.slot_start),
                "slot_end": iso(booking.slot_end),
                "service": service_refs.get(booking.service_id),
                "room": room_refs.get(booking.facility_id),
                "doctor": doctor_refs.get(booking.doctor_id) if booking.doctor_id is not None else None,
                "patient": patient_refs.get(booking.patient_id),
                "channel": booking.channel,
                "reason": booking.reason,
                "is_reexam": booking.is_reexam,
                "queue_number": booking.queue_number,
                "created_at": iso(booking.created_at),
                "confirmed_at": iso(booking.confirmed_at),
                "cancelled_at": iso(booking.cancelled_at),
                "cancel_source": booking.cancel_source,
                "cancel_reason": booking.cancel_reason,
                "change_deadline": _change_deadline_text(booking),
                "actions": row_actions,
                "meeting_url": selectors.meeting_link(appointment=booking),
                "queue": QueuePlaceSerializer(place).data if place else None,
            }
        )
    return answer


class AppointmentCreateApi(PatientApi):
    @extend_schema_serializer(component_name="AppointmentCreateInput")
    class InputSerializer(serializers.Serializer):
        service = serializers.UUIDField(help_text="Mã dịch vụ")
        slot = SlotField(help_text="Giờ bắt đầu của khung giờ, như GET /slots trả về")
        patient = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Người thân cùng số điện thoại (mã từ GET /me); mặc định: chính chủ tài khoản",
        )
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
        doctor = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Mã bác sĩ (GET /services/{id}/doctors); null hoặc bỏ trống: bác sĩ bất kỳ",
        )

    @extend_schema(
        operation_id="appointment_book",
        tags=[TAG_PATIENT],
        summary="Đặt lịch khám cho bản thân hoặc người thân",
        description=(
            "Kênh đặt: app. Lịch chờ bộ phận tư vấn đặt lịch xác nhận (nếu dịch vụ yêu cầu); tin nhắn SMS "
            "báo từng thay đổi. 409 `slot_full`: khung giờ (hoặc chỗ của bác sĩ đã chọn) đã đủ người; 409 "
            "`overlap`: người bệnh đã có lịch trùng giờ; 409 `limit_service`, `limit_day`, `limit_week`: quá số "
            "lịch hẹn còn hiệu lực cho phép mỗi dịch vụ, mỗi ngày, mỗi tuần; 400 `slot_unavailable`: không phải "
            "khung giờ đang nhận đặt; 400 `doctor_unavailable`: bác sĩ không khám khung giờ này."
        ),
        request=InputSerializer,
        responses={201: AppointmentSerializer, **error_responses(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(AppointmentCreateApi.InputSerializer, request.data)
        service = _service_field(data["service"])
        patient = own_patient(request.user, data["patient"])
        appointment = appointment_book(
            patient=patient,
            service=service,
            slot_start=data["slot"],
            channel=Channel.APP,
            actor=request.user,
            reason=data["reason"],
            doctor=_doctor_field(service, data["doctor"]),
        )
        return Response(
            AppointmentSerializer(appointment, context={"actor": request.user}).data,
            status=status.HTTP_201_CREATED,
        )


class AppointmentCollectionApi(APIView):
    # `/appointments`: GET lists one's bookings, POST books. Each keeps its own class and schema.
    parser_classes = [JSONParser]
    permission_classes = PatientApi.permission_classes

    get = AppointmentListApi.get
    post = AppointmentCreateApi.post


class AppointmentDetailApi(PatientApi):
    @extend_schema(
        operation_id="appointment_detail",
        tags=[TAG_PATIENT],
        summary="Một lịch hẹn của tôi hoặc người thân",
        parameters=[id_parameter("Mã lịch hẹn")],
        responses={200: AppointmentSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, id: str) -> Response:
        return Response(
            AppointmentSerializer(_appointment(request.user, id), context={"actor": request.user}).data
        )


class IcsRenderer(BaseRenderer):
    """text/calendar for GET .../calendar.ics (an error body under it stays the usual JSON text)."""

    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return (data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)).encode("utf-8")


class AppointmentCalendarApi(PatientApi):
    renderer_classes = [*APIView.renderer_classes, IcsRenderer]

    @extend_schema(
        operation_id="appointment_calendar",
        tags=[TAG_PATIENT],
        summary="Lịch hẹn dạng tệp lịch (.ics, RFC 5545) để thêm vào lịch của điện thoại",
        description=(
            "Một sự kiện (VEVENT): dịch vụ, bác sĩ, nơi khám, đường dây nóng và đường dẫn tới lịch hẹn trên cổng "
            "thông tin; không có họ tên, ngày sinh hay mã tiếp đón. UID giữ nguyên qua các lần đổi giờ "
            "(SEQUENCE tăng); lịch đã huỷ có STATUS:CANCELLED."
        ),
        parameters=[id_parameter("Mã lịch hẹn")],
        responses={
            (200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR, description="Tệp iCalendar"),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request: Request, id: str) -> HttpResponse:
        appointment = _appointment(request.user, id)
        response = HttpResponse(appointment_ics(appointment), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{ics_filename(appointment)}"'
        response["Cache-Control"] = "private, no-store"
        return response


class AppointmentCancelApi(PatientApi):
    @extend_schema_serializer(component_name="AppointmentCancelInput")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="appointment_cancel",
        tags=[TAG_PATIENT],
        summary="Huỷ lịch hẹn (đến trước giờ hẹn theo quy định của cơ sở)",
        description="409 `cutoff_passed`: đã quá hạn tự huỷ; 409 `invalid_transition`: lịch đã huỷ/đã khám.",
        parameters=[id_parameter("Mã lịch hẹn")],
        request=InputSerializer,
        responses={200: AppointmentSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, id: str) -> Response:
        data = validated(self.InputSerializer, request.data)
        return _own_step(
            request,
            id,
            lambda appointment: appointment_cancel(
                appointment=appointment, actor=request.user, reason=data["reason"]
            ),
        )


class AppointmentRescheduleApi(PatientApi):
    @extend_schema_serializer(component_name="AppointmentRescheduleInput")
    class InputSerializer(serializers.Serializer):
        slot = SlotField(help_text="Giờ bắt đầu của khung giờ mới (cùng dịch vụ), như GET /slots trả về")

    @extend_schema(
        operation_id="appointment_reschedule",
        tags=[TAG_PATIENT],
        summary="Đổi sang khung giờ khác của cùng dịch vụ",
        description=(
            "Chỗ cũ được trả và chỗ mới được giữ cùng lúc. 409 `cutoff_passed`, `slot_full`, `overlap`, "
            "`invalid_transition`; 400 `slot_unavailable`, `same_slot`."
        ),
        parameters=[id_parameter("Mã lịch hẹn")],
        request=InputSerializer,
        responses={200: AppointmentSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, id: str) -> Response:
        data = validated(self.InputSerializer, request.data)
        return _own_step(
            request,
            id,
            lambda appointment: appointment_reschedule(
                appointment=appointment, actor=request.user, slot_start=data["slot"]
            ),
        )


# --- Staff: worklist, confirm, decline, check-in, queue ---------------------------------------------


# The booking desk's list is one constant statement (appointments.sql.worklist) whose rows carry the booking's
# columns, its patient's, service's, room's and doctor's, and the two counts: no Appointment, Patient, Service,
# Facility and Doctor instance per row. The page's `actions` come from one `available_rows` call, which reads what
# decides them from the rows (the state, the booking's facility and patient ids the access rules key on, what each
# guard declares it reads: WORKFLOW_ROW_KEYS) and builds a bare Appointment (`_bookings_of`: the columns the
# workflow reads, WORKFLOW_COLUMNS, with the page's Service, Facility and Patient holding the columns the guards
# and the access rules read; anything else is loaded on access, so a new guard stays right, only slower:
# tests/api/test_fast_rows.py counts the queries) only where the booking itself is asked: the actor's capacity at
# a facility (or for a patient) not asked yet. The queue's guards read the room's queue policy, which the
# checked-in rows are given first (worklist_sql.hold_queue_policies: one per room, read where a guard asks).
# `staff_appointment_rows` builds StaffAppointmentListItemSerializer's answer (tests/api/test_fast_rows.py
# compares both).
WORKFLOW_COLUMNS = tuple(worklist_cols("a", "", Appointment, worklist_sql.WORKFLOW_FIELDS))


def _service_ref(service: Service) -> dict[str, Any]:
    return {"id": uuid_text(service.public_id), "name": service.name, "kind": service.kind}


def _room_ref(facility: Facility) -> dict[str, Any]:
    return {"id": uuid_text(facility.public_id), "code": facility.code, "name": facility.name}


def _doctor_ref(doctor: Doctor) -> dict[str, Any]:
    return {
        "id": uuid_text(doctor.public_id),
        "title": doctor.title,
        "full_name": doctor.full_name,
        "display_name": doctor.display_name,
    }


# The worklist's columns of a booking's service, room and patient: (model, the booking's key, the prefix, the
# model's attnames the row holds), worked out once (core.sqllist.related_instances reads them off each row).
_RELATED = tuple(
    (
        model,
        key,
        prefix,
        tuple(name[len(prefix) :] for name in worklist_sql.ROWS.names if name.startswith(prefix)),
    )
    for model, key, prefix in (
        (Service, "service_id", "s_"),
        (Facility, "facility_id", "f_"),
        (Patient, "patient_id", "p_"),
    )
)


def _bookings_of() -> Callable[[tuple[Any, ...]], Appointment]:
    """tuple row -> the bare booking it stands for (WORKFLOW_COLUMNS), with its service, room and patient held from the
    row's own columns (related_instances' instances); the page's bookings of one service, room or patient share
    that instance."""
    services: dict[int, Service] = {}
    facilities: dict[int, Facility] = {}
    patients: dict[int, Patient] = {}
    held: dict[str, dict[int, Any]] = {
        "service_id": services,
        "facility_id": facilities,
        "patient_id": patients,
    }

    def booking(values: tuple[Any, ...]) -> Appointment:
        # A tuple row (worklist_sql.ROW_INDEX) read by its columns' names (once per key asked: not per row); the
        # queue policy a page may hold after them is not the booking's (its guards read the room's policy).
        row = dict(zip(worklist_sql.ROWS.names, values[: len(worklist_sql.ROWS.names)], strict=True))
        for model, key, prefix, names in _RELATED:
            pk, found = row[key], held[key]
            if pk is not None and pk not in found:
                found[pk] = bare_instance(model, {"id": pk, **{name: row[prefix + name] for name in names}})
        (one,) = bare_bookings(
            [row], WORKFLOW_COLUMNS, services=services, facilities=facilities, patients=patients
        )
        return one

    return booking


def _uuid_texts(values: list[Any]) -> list[Any]:
    """`uuid_text` of each of a page's public ids: the values themselves when every one is a 36-character text
    (MariaDB's canonical uuid text, which uuid_text answers as it is), told in one pass with no call per value."""
    if set(map(type, values)) == {str} and set(map(len, values)) == {36}:
        return values
    return [uuid_text(value) for value in values]


# The positions of the worklist's tuple rows (SqlList.as_tuples) the answer reads.
_AT = worklist_sql.ROW_INDEX
_DOCTOR_COLUMNS = tuple((name[2:], _AT[name]) for name in worklist_sql.ROWS.names if name.startswith("d_"))
# The columns a booking's own answer writes, in the order staff_appointment_rows unpacks them.
_BOOKING_ANSWER = tuple(
    _AT[name]
    for name in (
        "status",
        "channel",
        "check_in_code",
        "service_id",
        "facility_id",
        "doctor_id",
        "patient_id",
        "reason",
        "is_reexam",
        "is_walk_in",
        "queue_number",
        "cancel_source",
        "cancel_reason",
        "past_visits",
        "past_no_shows",
    )
)


def staff_appointment_rows(rows: Sequence[tuple[Any, ...]], actor: Any) -> list[dict[str, Any]]:
    """`StaffAppointmentListItemSerializer`'s answer, with the context {"actor": actor}, from the tuple rows of
    appointments.sql.worklist (SqlList.as_tuples: the columns at ROW_INDEX' positions; no 43-key dict built and
    read for each row, ~0.2-0.3 ms of a 100-row page). The page is read a column at a time (`zip(*rows)`): the
    service, room and patient references are written from the rows' own columns, each once per page; the times,
    dates of birth and phone numbers a column at a time (api.fast's datetime_texts and date_texts,
    core.phone.display_phones: C loops where the values are the usual ones, ~470 Python calls a page fewer than
    one call per value)."""
    if not rows:
        return []
    columns = list(zip(*rows, strict=True))
    datetime_column = datetime_texts()
    # A booking without a service, room or doctor answers None for it (the refs' None key).
    service_refs: dict[int | None, dict[str, Any] | None] = {None: None}
    for pk, public_id, name, kind in zip(
        *(columns[_AT[name]] for name in ("service_id", "s_public_id", "s_name", "s_kind")), strict=True
    ):
        if pk is not None and pk not in service_refs:
            service_refs[pk] = {"id": uuid_text(public_id), "name": name, "kind": kind}
    room_refs: dict[int | None, dict[str, Any] | None] = {None: None}
    for pk, public_id, code, name in zip(
        *(columns[_AT[name]] for name in ("facility_id", "f_public_id", "f_code", "f_name")), strict=True
    ):
        if pk is not None and pk not in room_refs:
            room_refs[pk] = {"id": uuid_text(public_id), "code": code, "name": name}
    doctor_refs: dict[int | None, dict[str, Any] | None] = {None: None}
    for row in rows:
        pk = row[_AT["doctor_id"]]
        if pk is not None and pk not in doctor_refs:
            doctor = bare_instance(Doctor, {"id": pk, **{name: row[at] for name, at in _DOCTOR_COLUMNS}})
            doctor_refs[pk] = _doctor_ref(doctor)
    # One row of each patient of the page (a patient's rows hold the same patient columns).
    patient_rows = list(dict(zip(columns[_AT["patient_id"]], rows, strict=True)).values())
    patient_refs: dict[int, dict[str, Any]] = {
        row[_AT["patient_id"]]: {
            "id": patient_id,
            "full_name": row[_AT["p_full_name"]],
            "date_of_birth": birth,
            "sex": row[_AT["p_sex"]],
            "phone": phone,
        }
        for row, patient_id, birth, phone in zip(
            patient_rows,
            _uuid_texts([row[_AT["p_public_id"]] for row in patient_rows]),
            date_texts()([row[_AT["p_date_of_birth"]] for row in patient_rows]),
            display_phones([row[_AT["p_phone"]] for row in patient_rows]),
            strict=True,
        )
    }
    statuses_on_page = set(columns[_AT["status"]])
    if not QUEUE_POLICY_STATES.isdisjoint(statuses_on_page):
        rows = worklist_sql.hold_queue_policy_tuples(rows, QUEUE_POLICY_STATES)
    actions = APPOINTMENT_WORKFLOW.available_rows(
        rows, actor, instance=_bookings_of(), columns=worklist_sql.WORKFLOW_ROW_INDEXES
    )
    statuses = choice_labels(Appointment, "status")
    channels = choice_labels(Appointment, "channel")
    # A booking's status and channel labels: each distinct value written once (display).
    status_labels = {value: display(statuses, value) for value in statuses_on_page}
    channel_labels = {value: display(channels, value) for value in set(columns[_AT["channel"]])}
    # Plain data of fixed types (texts, ints, bools, None, the refs' dicts, the actions' list; no float): the
    # renderer writes it unchecked (api.renderers.PlainRows; tests/api/test_appointment_sql_lists.py walks it).
    return PlainRows(
        [
            {
                "id": public_id,
                "status": status,
                "status_label": status_labels[status],
                "channel": channel,
                "channel_label": channel_labels[channel],
                "check_in_code": check_in_code,
                "slot_start": slot_start,
                "slot_end": slot_end,
                "service": service_refs[service_id],
                "room": room_refs[facility_id],
                "doctor": doctor_refs[doctor_id],
                "patient": patient_refs[patient_id],
                "reason": reason,
                "is_reexam": is_reexam,
                "is_walk_in": is_walk_in,
                "queue_number": queue_number,
                "created_at": created_at,
                "confirmed_at": confirmed_at,
                "checked_in_at": checked_in_at,
                "cancel_source": cancel_source,
                "cancel_reason": cancel_reason,
                "actions": row_actions,
                # The patient's completed visits and no-shows (worklist_sql.PAST_COLUMNS: the visit tally)
                "past_visits": past_visits,
                "past_no_shows": past_no_shows,
            }
            for (
                status,
                channel,
                check_in_code,
                service_id,
                facility_id,
                doctor_id,
                patient_id,
                reason,
                is_reexam,
                is_walk_in,
                queue_number,
                cancel_source,
                cancel_reason,
                past_visits,
                past_no_shows,
                row_actions,
                public_id,
                slot_start,
                slot_end,
                created_at,
                confirmed_at,
                checked_in_at,
            ) in zip(
                *(columns[at] for at in _BOOKING_ANSWER),
                actions,
                _uuid_texts(list(columns[_AT["public_id"]])),
                *(
                    datetime_column(columns[_AT[name]])
                    for name in ("slot_start", "slot_end", "created_at", "confirmed_at", "checked_in_at")
                ),
                strict=True,
            )
        ]
    )


class StaffAppointmentListApi(DeskApi):
    @extend_schema_serializer(component_name="StaffAppointmentListFilter")
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=Status.choices,
            required=False,
            default=Status.REQUESTED,
            help_text="Mặc định requested: hàng chờ xác nhận, yêu cầu cũ nhất trước",
        )
        facility = serializers.UUIDField(
            required=False, help_text="Mã cơ sở (TTYT: mọi phòng khám trực thuộc)"
        )
        date = serializers.DateField(
            required=False, input_formats=["iso-8601"], help_text="Ngày hẹn, YYYY-MM-DD"
        )

    @paginated_list("StaffAppointment", StaffAppointmentListItemSerializer(many=True), 400, 401, 403)
    @extend_schema(
        operation_id="staff_appointment_list",
        tags=[TAG_STAFF],
        summary="Danh sách lịch hẹn trong phạm vi (mặc định: chờ xác nhận, cũ nhất trước)",
        parameters=[FilterSerializer],
    )
    def get(self, request: Request) -> Response:
        filters = query_filters(StaffAppointmentListApi.FilterSerializer, request)
        appointments = selectors.staff_appointment_list(
            user=request.user,
            roles=self.staff_roles,
            status=filters["status"],
            facility=filters.get("facility"),
            day=filters.get("date"),
        )
        return paginate(
            request,
            self,
            appointments.as_tuples(),
            serialize=lambda rows: staff_appointment_rows(rows, request.user),
        )


class StaffAppointmentConfirmApi(DeskApi):
    @extend_schema(
        operation_id="staff_appointment_confirm",
        tags=[TAG_STAFF],
        summary="Xác nhận lịch đặt trực tuyến (người bệnh nhận SMS, lịch nhắc được tạo)",
        parameters=[id_parameter("Mã lịch hẹn")],
        request=None,
        responses={200: StaffAppointmentSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, id: str) -> Response:
        return self.step(
            request, id, lambda appointment: appointment_confirm(appointment=appointment, actor=request.user)
        )


class StaffAppointmentDeclineApi(DeskApi):
    @extend_schema_serializer(component_name="StaffAppointmentDeclineInput")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(
            max_length=300, help_text="Lý do (ít nhất 5 ký tự, gửi cho người bệnh)"
        )

    @extend_schema(
        operation_id="staff_appointment_decline",
        tags=[TAG_STAFF],
        summary="Từ chối lịch đặt trực tuyến, kèm lý do (chỗ được trả lại)",
        parameters=[id_parameter("Mã lịch hẹn")],
        request=InputSerializer,
        responses={200: StaffAppointmentSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, id: str) -> Response:
        data = validated(self.InputSerializer, request.data)
        return self.step(
            request,
            id,
            lambda appointment: appointment_decline(
                appointment=appointment, actor=request.user, reason=data["reason"]
            ),
        )


class StaffCheckInApi(DeskApi):
    staff_roles = access.RECEPTION_ROLES
    role_message = gettext_lazy("Chức năng này dành cho bộ phận tiếp đón.")

    @extend_schema_serializer(component_name="StaffCheckInInput")
    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(
            max_length=32, help_text="Mã tiếp đón (quét mã QR hoặc gõ, không phân biệt hoa thường)"
        )

    @extend_schema(
        operation_id="staff_check_in",
        tags=[TAG_STAFF],
        summary="Tiếp đón người bệnh đã đặt lịch theo mã: cấp số thứ tự của dịch vụ trong ngày",
        description="400 `not_today`: lịch hẹn không phải hôm nay; 409 `invalid_transition`: đã tiếp đón/đã huỷ.",
        request=InputSerializer,
        responses={200: StaffAppointmentSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request.data)
        appointment = appointment_check_in(code=data["code"], actor=request.user)
        return self.answer(request, str(appointment.public_id))


class QueueTicketSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    queue_number = serializers.IntegerField()
    patient = PatientRefSerializer()
    is_walk_in = serializers.BooleanField(help_text="Khám vãng lai (không đặt lịch)")
    checked_in_at = serializers.DateTimeField()
    called_at = serializers.DateTimeField()


class StaffQueueNextApi(DeskApi):
    staff_roles = access.QUEUE_ROLES
    role_message = gettext_lazy("Chức năng này dành cho bộ phận tiếp đón hoặc bác sĩ khám.")

    @extend_schema_serializer(component_name="StaffQueueNextOutput")
    class OutputSerializer(serializers.Serializer):
        ticket = QueueTicketSerializer(
            allow_null=True, help_text="Số vừa được gọi; null khi không còn ai chờ"
        )
        waiting = serializers.IntegerField(help_text="Số người còn chờ sau lần gọi này")

    @extend_schema(
        operation_id="staff_queue_call_next",
        tags=[TAG_STAFF],
        summary="Gọi số tiếp theo của dịch vụ hôm nay (người đặt lịch được ưu tiên theo cấu hình)",
        parameters=[id_parameter("Mã dịch vụ")],
        request=None,
        responses={200: OutputSerializer, **error_responses(401, 403, 404)},
    )
    def post(self, request: Request, id: str) -> Response:
        public_id = uuid_or_404(id, _("Không tìm thấy dịch vụ khám."))
        services = selectors.services_in_scope(user=request.user, roles=self.staff_roles)
        try:
            service: Service = access.get_scoped_or_404(services, public_id=public_id)
        except NotFound:
            raise NotFound(_("Không tìm thấy dịch vụ khám."))
        ticket = queue_call_next(service=service, actor=request.user)
        if ticket is not None:
            ticket = selectors.queue_ticket(pk=ticket.pk)
        waiting = len(selectors.queue_for(service=service).waiting)
        return Response(StaffQueueNextApi.OutputSerializer({"ticket": ticket, "waiting": waiting}).data)


__all__ = [
    "AppointmentCancelApi",
    "AppointmentCollectionApi",
    "AppointmentDetailApi",
    "AppointmentRescheduleApi",
    "FacilityListApi",
    "FacilityServiceListApi",
    "GuestBookingApi",
    "SlotListApi",
    "StaffAppointmentConfirmApi",
    "StaffAppointmentDeclineApi",
    "StaffAppointmentListApi",
    "StaffCheckInApi",
    "StaffQueueNextApi",
]
