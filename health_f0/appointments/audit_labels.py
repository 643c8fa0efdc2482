"""How the appointment domain's audit rows read on the desk (core.audit.audit_describe): every verb the
appointment services write, the keys of their data, and the labels of the values they store (channels,
statuses, who cancelled, call outcomes). Registered in AppointmentsConfig.ready."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from health_f0.appointments.models import CancelSource, Channel, Status
from health_f0.appointments.services import CALL_OUTCOMES
from health_f0.core.audit import AuditVocabulary, audit_moment

APPOINTMENT_VOCABULARY = AuditVocabulary(
    verbs={
        "book": _("Đặt lịch"),
        "confirm": _("Xác nhận lịch"),
        "decline": _("Từ chối lịch"),
        "cancel": _("Huỷ lịch"),
        "expire": _("Huỷ do quá hạn chưa xác nhận"),
        "reschedule": _("Đổi lịch"),
        "check_in": _("Tiếp đón"),
        "walk_in": _("Tiếp đón vãng lai"),
        "call": _("Gọi số"),
        "complete": _("Khám xong"),
        "no_show": _("Không đến"),
        "reexam": _("Hẹn tái khám"),
        "reexam_plan": _("Lập kế hoạch tái khám"),
        "acknowledge": _("Người bệnh xác nhận sẽ đến"),
        "reexam_call": _("Gọi điện nhắc tái khám"),
    },
    keys={
        "channel": _("Kênh đặt"),
        "status": _("Trạng thái"),
        "guest": _("Đặt không cần tài khoản"),
        "old": _("Giờ cũ"),
        "new": _("Giờ mới"),
        "queue_number": _("Số thứ tự"),
        "source": _("Huỷ bởi"),
        "reason": _("Lý do"),
        "outcome": _("Kết quả cuộc gọi"),
        "note": _("Ghi chú"),
        "plan": _("Kế hoạch tái khám số"),
        # Written by core.workflow.apply on every status change.
        "from": _("Trạng thái trước"),
        "to": _("Trạng thái sau"),
    },
    values={
        "channel": dict(Channel.choices),
        "status": dict(Status.choices),
        "from": dict(Status.choices),
        "to": dict(Status.choices),
        "source": dict(CancelSource.choices),
        "outcome": CALL_OUTCOMES,
        "old": audit_moment,
        "new": audit_moment,
    },
)
