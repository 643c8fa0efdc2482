"""The "Lịch hẹn khám" group of the desk's sidebar (health_f0.desk.navigation). Who sees which page: the
role sets of facilities.access (the pages check access themselves)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import can_view, exact_page, has_role, item, register_group, url
from health_f0.facilities import access


def group(request: HttpRequest) -> dict[str, Any]:
    return {
        "title": _("Lịch hẹn khám"),
        "separator": True,
        "items": [
            item(
                _("Lịch chờ xác nhận"),
                "event_upcoming",
                url("appointments_worklist"),
                has_role(access.BOOKING_DESK_ROLES),
            ),
            item(
                _("Đặt lịch qua điện thoại"),
                "add_call",
                url("appointments_book"),
                has_role(access.BOOKING_DESK_ROLES),
            ),
            item(
                _("Lịch khám theo ngày/tuần"),
                "calendar_view_week",
                url("appointments_calendar"),
                has_role(access.APPOINTMENT_READER_ROLES),
            ),
            {
                **item(
                    _("Tái khám cần gọi"),
                    "phone_callback",
                    url("appointments_reexams"),
                    has_role(access.REEXAM_ROLES),
                ),
                "active": exact_page("appointments_reexams", prefix_of=("appointments_reexam_new",)),
            },
            item(
                _("Hẹn tái khám"),
                "update",
                url("appointments_reexam_new"),
                has_role(access.REEXAM_ROLES),
            ),
            {
                **item(
                    _("Tiếp đón"),
                    "qr_code_scanner",
                    url("appointments_checkin"),
                    has_role(access.RECEPTION_ROLES),
                ),
                "active": exact_page("appointments_checkin", prefix_of=("appointments_walk_in",)),
            },
            item(
                _("Tiếp đón vãng lai"),
                "person_add",
                url("appointments_walk_in"),
                has_role(access.RECEPTION_ROLES),
            ),
            item(
                _("Hàng đợi hôm nay"),
                "format_list_numbered",
                url("appointments_queue"),
                has_role(access.QUEUE_ROLES),
            ),
            {
                **item(
                    _("Tất cả lịch hẹn"),
                    "calendar_month",
                    url("appointments_appointment_changelist"),
                    can_view("appointments.Appointment"),
                ),
                "active": exact_page(
                    "appointments_appointment_changelist",
                    prefix_of=(
                        "appointments_worklist",
                        "appointments_book",
                        "appointments_reexams",
                        "appointments_checkin",
                        "appointments_queue",
                        "appointments_calendar",
                    ),
                ),
            },
            item(
                _("Kế hoạch tái khám định kỳ"),
                "event_repeat",
                url("appointments_reexamplan_changelist"),
                can_view("appointments.ReexamPlan"),
            ),
            item(
                _("Dịch vụ và lịch làm việc"),
                "medical_services",
                url("appointments_service_changelist"),
                can_view("appointments.Service"),
            ),
            item(
                _("Bác sĩ"),
                "stethoscope",
                url("appointments_doctor_changelist"),
                can_view("appointments.Doctor"),
            ),
            item(
                _("Lịch thay đổi theo ngày"),
                "edit_calendar",
                url("appointments_scheduleoverride_changelist"),
                can_view("appointments.ScheduleOverride"),
            ),
            item(
                _("Ngày nghỉ lễ"),
                "beach_access",
                url("appointments_holiday_changelist"),
                can_view("appointments.Holiday"),
            ),
            item(
                _("Nhắc lịch hẹn"),
                "alarm",
                url("appointments_appointmentpolicy_changelist"),
                can_view("appointments.AppointmentPolicy"),
            ),
        ],
    }


register_group("appointments", 30, group)
