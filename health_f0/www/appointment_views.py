"""The patient's side of appointments: book a visit step by step, see a booking (the SMS link's page) with
its check-in QR code, cancel or move it until the facility's cut-off, and the account's list of bookings.

Every step of booking is a GET page whose links carry the choices so far (?co-so=…&dich-vu=…&ngay=…&gio=…),
so the journey works without JavaScript and a step can be bookmarked or sent back to. Only the final
confirmation, the OTP and the changes to a booking are POSTs.

Who may see a booking: the account that owns the patient or its family (access.own_patients_for); someone
without an account, only after an OTP texted to the number that answers for the booking — the patient's
verified phone, or the one the booking was made with, never a number staff typed in afterwards
(facilities.access.phone_answering_for) — remembered in the session for that booking and that number. The
link alone shows nothing about the person. Bad parameters are a 400 with a message, never a
500.
"""

from __future__ import annotations

import time as time_module
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from markupsafe import Markup, escape

from health_f0.appointments import selectors as appt_selectors
from health_f0.appointments import services as appt_services
from health_f0.appointments.calendar import appointment_ics, google_calendar_url, ics_filename
from health_f0.appointments.models import (
    LIVE_STATUSES,
    Appointment,
    CancelSource,
    Channel,
    Doctor,
    Service,
    Status,
)
from health_f0.appointments.slots import LOCAL_TZ, local_date_of
from health_f0.appointments.sql.bookings import booking_instances
from health_f0.appointments.transitions import APPOINTMENT_WORKFLOW, cutoff_moment, may
from health_f0.core.actors import PhoneHolder
from health_f0.core.exceptions import DomainError, RateLimited, ValidationErrors
from health_f0.core.keyset import Keyset
from health_f0.core.memo import Memo
from health_f0.core.phone import display_phone, mask_phone, normalize_mobile
from health_f0.core.request_context import client_ip
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.monitoring.sql import patients as patients_sql
from health_f0.patients.otp import otp_consume, otp_request, otp_verify
from health_f0.www import selectors
from health_f0.www.appointment_forms import AccountBookingForm, CancelForm, GuestBookingForm, OtpForm
from health_f0.www.caching import never_cache
from health_f0.www.jinja import urls_for
from health_f0.www.paging import keyset_page
from health_f0.www.views import _error_summary, _page, loaded_user

# Query parameters of the booking steps (Vietnamese, as they show in the address bar).
P_FACILITY, P_SERVICE, P_DAY, P_TIME = "co-so", "dich-vu", "ngay", "gio"
P_DOCTOR = "bac-si"  # the doctor picked on the last step (a POST field, or kept in the query); "": any doctor
SESSION_VERIFIED = "www_appt_verified"  # {booking public id: [unix time of the OTP, hash of the number]}
SESSION_FLASH = "www_appt_flash"
# /lich-hen: what lies ahead (a family rarely has more than a few) and pages of the rest.
UPCOMING_LIMIT = 30
PAST_PER_PAGE = 30
PAST_KEYSET = Keyset(selectors.PAST_ORDER)
VERIFIED_SECONDS = 2 * 3600
OTP_PURPOSE = "booking"

# What the patient reads: the desk's "tiếp đón" is "đã đến khám" from the patient's side.
STATUS_LABELS: dict[str, Any] = {
    Status.REQUESTED: gettext_lazy("Chờ xác nhận"),
    Status.CONFIRMED: gettext_lazy("Đã xác nhận"),
    Status.CHECKED_IN: gettext_lazy("Đã đến khám"),
    Status.COMPLETED: gettext_lazy("Đã khám xong"),
    Status.CANCELLED: gettext_lazy("Đã huỷ"),
    Status.NO_SHOW: gettext_lazy("Không đến khám"),
}
STATUS_BADGES: dict[str, str] = {
    Status.REQUESTED: "badge-watch",
    Status.CONFIRMED: "badge-none",
    Status.CHECKED_IN: "badge-info",
    Status.COMPLETED: "badge-muted",
    Status.CANCELLED: "badge-muted",
    Status.NO_SHOW: "badge-urgent",
}
FLASHES = {
    "booked": gettext_lazy("Đã gửi yêu cầu đặt lịch."),
    "cancelled": gettext_lazy("Đã huỷ lịch hẹn. Tin nhắn xác nhận đã được gửi tới số điện thoại đặt lịch."),
    "rescheduled": gettext_lazy(
        "Đã đổi giờ hẹn. Tin nhắn với giờ mới đã được gửi tới số điện thoại đặt lịch."
    ),
    "acknowledged": gettext_lazy("Cảm ơn bạn đã xác nhận sẽ đến tái khám."),
    "verified": gettext_lazy("Đã xác thực số điện thoại."),
}


class BadParam(Exception):
    """A step's query parameter that names nothing bookable: shown as a message with a 400."""

    def __init__(self, message: str, http_status: int = 400):
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class SlotGone(BadParam):
    """The time picked is not offered now (it passed its notice while the patient filled the form, or never
    was one): the page goes back to that day's times with the message, not to the first step, so the
    facility, service and day chosen are kept."""

    def __init__(self, picked: Picked, refused: BadParam):
        super().__init__(refused.message, refused.http_status)
        self.picked = picked


# --- Small helpers ---------------------------------------------------------------------------------


def _local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL_TZ)


def _query(**params: Any) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _uuid(raw: str, message: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw.strip())
    except (ValueError, AttributeError):
        raise BadParam(message)


def _qr_svg(code: str) -> str:
    """The check-in code as an inline SVG QR code (a viewBox, no fixed size: the stylesheet sizes it)."""
    return str(
        segno.make(code, error="m").svg_inline(border=2, dark="#0b3d2e", svgclass="qr-code", omitsize=True)
    )


def _code_groups(code: str) -> str:
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def _set_flash(request: HttpRequest, key: str) -> None:
    request.session[SESSION_FLASH] = key


def _pop_flash(request: HttpRequest) -> str:
    return str(FLASHES.get(request.session.pop(SESSION_FLASH, ""), ""))


def _phone_key(phone: str) -> str:
    """What the session keeps of the number that was proved: a keyed hash, not the number."""
    return salted_hmac("health_f0.www.appointment_gate", phone).hexdigest()[:32]


def _verified_entries(request: HttpRequest, now: int) -> dict[str, list[Any]]:
    """The session's live verifications: {booking public id: [unix time, _phone_key]} (older formats, which
    did not say which number was proved, count as none)."""
    entries: dict[str, list[Any]] = {}
    for key, value in dict(request.session.get(SESSION_VERIFIED, {})).items():
        if isinstance(value, list) and len(value) == 2 and now - int(value[0]) < VERIFIED_SECONDS:
            entries[key] = value
    return entries


def _remember(request: HttpRequest, appointment: Appointment, phone: str) -> None:
    now = int(time_module.time())
    verified = _verified_entries(request, now)
    verified[str(appointment.public_id)] = [now, _phone_key(phone)]
    request.session[SESSION_VERIFIED] = dict(list(verified.items())[-20:])


def _is_verified(request: HttpRequest, appointment: Appointment, phone: str) -> bool:
    """This session proved, recently, the number that answers for the booking now (a number corrected since
    is another number: the proof no longer holds)."""
    entry = _verified_entries(request, int(time_module.time())).get(str(appointment.public_id))
    return entry is not None and constant_time_compare(entry[1], _phone_key(phone))


# --- Booking steps ---------------------------------------------------------------------------------


@dataclass
class Picked:
    """The choices so far, each checked against what is bookable now."""

    facility: Facility | None = None
    service: Service | None = None
    day: date | None = None
    day_info: appt_selectors.BookingDay | None = None
    slot: appt_selectors.FreeSlot | None = None

    def params(self, upto: str) -> dict[str, str]:
        """Query parameters of the choices up to (and including) `upto`."""
        out: dict[str, str] = {}
        if self.facility is not None:
            out[P_FACILITY] = str(self.facility.public_id)
        if upto == P_FACILITY:
            return out
        if self.service is not None:
            out[P_SERVICE] = str(self.service.public_id)
        if upto == P_SERVICE:
            return out
        if self.day is not None:
            out[P_DAY] = self.day.isoformat()
        if upto == P_DAY:
            return out
        if self.slot is not None:
            out[P_TIME] = f"{_local(self.slot.start):%H:%M}"
        return out


def _parse_day(raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise BadParam(_("Ngày không hợp lệ. Vui lòng chọn lại ngày khám trong danh sách."))


def _parse_time(raw: str) -> time:
    try:
        hour, minute = raw.strip().split(":")
        return time(int(hour), int(minute))
    except ValueError:
        raise BadParam(_("Giờ khám không hợp lệ. Vui lòng chọn lại giờ trong danh sách."))


def _pick_day(service: Service, raw: str, now: datetime) -> tuple[date, appt_selectors.BookingDay]:
    day = _parse_day(raw)
    info = next((d for d in appt_selectors.booking_days(service=service, now=now) if d.day == day), None)
    if info is None:
        raise BadParam(
            _("Ngày %(day)s không nằm trong thời gian nhận đặt lịch (từ hôm nay đến %(days)s ngày tới).")
            % {"day": f"{day:%d/%m/%Y}", "days": service.booking_horizon_days}
        )
    if info.state in ("holiday", "closed", "off"):
        why = f" ({info.note})" if info.note else ""
        raise BadParam(
            _("Ngày %(day)s cơ sở nghỉ%(why)s, không nhận đặt lịch. Vui lòng chọn ngày khác.")
            % {"day": f"{day:%d/%m/%Y}", "why": why}
        )
    return day, info


def _day_slots(
    service: Service, day: date, now: datetime, doctor: Doctor | None = None
) -> list[appt_selectors.FreeSlot]:
    """The day's slots (a move keeps the booking's doctor: only that doctor's slots and places)."""
    return appt_selectors.slots_free(service=service, start=day, end=day, now=now, doctor=doctor)


def _pick_slot(slots: list[appt_selectors.FreeSlot], day: date, raw: str) -> appt_selectors.FreeSlot:
    wanted = datetime.combine(day, _parse_time(raw), tzinfo=LOCAL_TZ)
    slot = next((s for s in slots if s.start == wanted), None)
    if slot is None:
        raise BadParam(_("Khung giờ này không có hoặc đã quá giờ nhận đặt lịch. Vui lòng chọn giờ khác."))
    return slot


def _picked(request: HttpRequest, now: datetime) -> Picked:
    """Read and check the step parameters in order; the first bad one raises BadParam."""
    get = request.GET
    picked = Picked()
    if not get.get(P_FACILITY):
        return picked
    facility_id = _uuid(get[P_FACILITY], _("Không tìm thấy cơ sở khám bệnh này. Vui lòng chọn lại."))
    picked.facility = next(
        (f for f in appt_selectors.bookable_facilities() if f.public_id == facility_id), None
    )
    if picked.facility is None:
        raise BadParam(_("Không tìm thấy cơ sở khám bệnh này. Vui lòng chọn lại."))
    if not get.get(P_SERVICE):
        return picked
    service_id = _uuid(get[P_SERVICE], _("Không tìm thấy dịch vụ khám này. Vui lòng chọn lại."))
    picked.service = appt_selectors.services_of(facility=picked.facility).filter(public_id=service_id).first()
    if picked.service is None:
        raise BadParam(_("Không tìm thấy dịch vụ khám này. Vui lòng chọn lại."))
    if not get.get(P_DAY):
        return picked
    picked.day, picked.day_info = _pick_day(picked.service, get[P_DAY], now)
    if not get.get(P_TIME):
        return picked
    try:
        picked.slot = _pick_slot(_day_slots(picked.service, picked.day, now), picked.day, get[P_TIME])
    except BadParam as exc:
        raise SlotGone(picked, exc) from exc
    return picked


def _doctor_choices(picked: Picked, chosen: Doctor | None) -> list[dict[str, Any]]:
    """The last step's doctor choice: "any doctor", then each doctor of the service working in the slot with
    their free places (a full doctor is shown, disabled). Empty for a service without doctors."""
    assert picked.service is not None and picked.slot is not None
    doctors = appt_selectors.service_doctors(service=picked.service)
    free = dict(picked.slot.doctor_free)
    working = [d for d in doctors if d.pk in free]
    if not working:
        return []
    rows: list[dict[str, Any]] = [
        {
            "value": "",
            "label": _("Bác sĩ bất kỳ"),
            "free": picked.slot.free,
            "disabled": False,
            "checked": chosen is None,
        }
    ]
    for doctor in working:
        rows.append(
            {
                "value": str(doctor.public_id),
                "label": doctor.display_name,
                "free": free[doctor.pk],
                "disabled": free[doctor.pk] <= 0,
                "checked": chosen is not None and chosen.pk == doctor.pk,
            }
        )
    return rows


def _chosen_doctor(request: HttpRequest, picked: Picked) -> Doctor | None:
    """The doctor picked on the last step (POST, else the query); None: any doctor. BadParam when it is not
    one of the service's doctors."""
    assert picked.service is not None
    source = request.POST if request.method == "POST" else request.GET
    raw = (source.get(P_DOCTOR) or "").strip()
    if not raw:
        return None
    wanted = _uuid(raw, _("Không tìm thấy bác sĩ này. Vui lòng chọn lại bác sĩ."))
    doctor = next(
        (d for d in appt_selectors.service_doctors(service=picked.service) if d.public_id == wanted), None
    )
    if doctor is None:
        raise BadParam(_("Bác sĩ này không khám dịch vụ đã chọn. Vui lòng chọn lại bác sĩ."))
    return doctor


def _step_links(picked: Picked) -> dict[str, str]:
    base = reverse("www:book")
    return {
        "facility": base,
        "service": base + _query(**picked.params(P_FACILITY)),
        "day": base + _query(**picked.params(P_SERVICE)),
        "slot": base + _query(**picked.params(P_DAY)),
        "self": base + _query(**picked.params(P_TIME)),
    }


def _slot_rows(picked: Picked, slots: list[appt_selectors.FreeSlot]) -> list[dict[str, Any]]:
    base = reverse("www:book")
    rows = []
    for slot in slots:
        label = f"{_local(slot.start):%H:%M}"
        rows.append(
            {
                "label": label,
                "end": f"{_local(slot.end):%H:%M}",
                "free": slot.free,
                "afternoon": _local(slot.start).hour >= 12,
                "href": base + _query(**picked.params(P_DAY), **{P_TIME: label}),
            }
        )
    return rows


def _day_rows(days: list[appt_selectors.BookingDay], base: str, keep: dict[str, str]) -> list[Any]:
    return [
        {"info": d, "href": base + _query(**keep, **{P_DAY: d.day.isoformat()}) if d.state == "open" else ""}
        for d in days
    ]


def _book_context(request: HttpRequest, picked: Picked, now: datetime) -> dict[str, Any]:
    context: dict[str, Any] = {"picked": picked, "links": _step_links(picked)}
    base = reverse("www:book")
    if picked.facility is None:
        context["step"] = 1
        context["facilities"] = [
            {
                "facility": f,
                "place": appt_selectors.booking_place(facility=f),
                "href": base + _query(**{P_FACILITY: f.public_id}),
            }
            for f in appt_selectors.bookable_facilities()
        ]
    elif picked.service is None:
        context["step"] = 2
        context["services"] = [
            {"service": s, "href": base + _query(**picked.params(P_FACILITY), **{P_SERVICE: s.public_id})}
            for s in appt_selectors.services_of(facility=picked.facility).order_by("name")
        ]
    elif picked.day is None:
        context["step"] = 3
        days = appt_selectors.booking_days(service=picked.service, now=now)
        context["days"] = _day_rows(days, base, picked.params(P_SERVICE))
    elif picked.slot is None:
        context["step"] = 4
        context["slots"] = _slot_rows(picked, _day_slots(picked.service, picked.day, now))
    else:
        context["step"] = 5
    if picked.service is not None:
        context["place"] = _place(picked.service, picked.service.facility)
    return context


def _render_steps(
    request: HttpRequest, picked: Picked, now: datetime, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = _book_context(request, picked, now)
    context.update(extra)
    template = "www/appt_book_who.html" if context["step"] == 5 else "www/appt_book.html"
    return _page(request, template, context, status=status)


def _own_patients(request: HttpRequest) -> list[Any]:
    return list(access.own_patients_for(request.user).order_by("full_name", "id"))


def _acts_for_several(request: HttpRequest) -> bool:
    """Whether the account acts for more than one patient (`_own_patients`): for a patient account, its own
    record and its family's by the rule /ca-nhan's patient switch reads (access.account_patients_sql), two ids
    at most in one constant statement (monitoring.sql.patients.acts_for_several, tested equal to the ORM's)."""
    several = patients_sql.acts_for_several(request.user)
    if several is None:  # not a patient account (staff are sent to the desk before this)
        return len(_own_patients(request)) > 1
    return several


@never_cache
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest) -> HttpResponse:
    """/dat-lich: facility → service → day → time → who and why → confirm."""
    now = timezone.now()
    try:
        picked = _picked(request, now)
    except SlotGone as exc:
        return _render_steps(request, exc.picked, now, status=exc.http_status, page_error=exc.message)
    except BadParam as exc:
        return _page(
            request,
            "www/appt_book.html",
            {"step": 0, "page_error": exc.message, "links": {"facility": reverse("www:book")}},
            status=exc.http_status,
        )
    if picked.slot is None:
        if request.method == "POST":
            return _render_steps(
                request, picked, now, status=400, page_error=_("Vui lòng chọn giờ khám trước khi xác nhận.")
            )
        return _render_steps(request, picked, now)
    assert picked.service is not None and picked.day is not None
    if picked.slot.free <= 0:
        picked.slot = None
        return _render_steps(
            request,
            picked,
            now,
            status=409,
            page_error=_("Khung giờ này đã đủ người, vui lòng chọn giờ khác."),
        )
    try:
        doctor = _chosen_doctor(request, picked)
    except BadParam as exc:
        return _render_steps(request, picked, now, status=exc.http_status, page_error=exc.message)
    choice = {"doctor_choices": _doctor_choices(picked, doctor)}
    if access.is_staff_member(request.user):
        return _render_steps(request, picked, now, staff=True)
    if request.user.is_authenticated:
        return _book_for_account(request, picked, now, doctor, choice)
    return _book_as_guest(request, picked, now, doctor, choice)


def _booked(request: HttpRequest, appointment: Appointment, proved_phone: str = "") -> HttpResponse:
    if proved_phone:  # a guest: the booking's OTP proved the number; the booking's page opens at once
        _remember(request, appointment, proved_phone)
    _set_flash(request, "booked")
    return redirect("www:appointment", public_id=appointment.public_id)


def _service_error(form: Any, exc: DomainError, extra: dict[str, Any]) -> int:
    """Put a service's refusal next to its field, or at the top of the page; returns the status."""
    if isinstance(exc, ValidationErrors):
        form.add_service_errors(exc.errors)
        return 400
    if exc.field == "doctor":
        extra["doctor_error"] = exc.message
    elif exc.field in form.fields and exc.field not in ("slot",):
        form.add_error(exc.field, exc.message)
    else:
        extra["page_error"] = exc.message
    return exc.status_code


def _book_for_account(
    request: HttpRequest, picked: Picked, now: datetime, doctor: Doctor | None, choice: dict[str, Any]
) -> HttpResponse:
    assert picked.service is not None and picked.slot is not None
    patients = _own_patients(request)
    if not patients:
        return _render_steps(request, picked, now, no_patient=True)
    extra: dict[str, Any] = dict(choice)
    status = 200
    if request.method == "POST":
        form = AccountBookingForm(request.POST, patients=patients)
        status = 400
        if form.is_valid():
            patient = next(p for p in patients if str(p.public_id) == form.cleaned_data["patient"])
            try:
                appointment = appt_services.appointment_book(
                    patient=patient,
                    service=picked.service,
                    slot_start=picked.slot.start,
                    channel=Channel.WEB,
                    actor=request.user,
                    reason=form.cleaned_data.get("reason") or "",
                    doctor=doctor,
                    now=now,
                )
            except DomainError as exc:
                status = _service_error(form, exc, extra)
            else:
                return _booked(request, appointment)
    else:
        form = AccountBookingForm(patients=patients)
    return _render_steps(
        request,
        picked,
        now,
        status=status,
        form=form,
        account=True,
        error_summary=_error_summary(form),
        **extra,
    )


def _book_as_guest(
    request: HttpRequest, picked: Picked, now: datetime, doctor: Doctor | None, choice: dict[str, Any]
) -> HttpResponse:
    assert picked.service is not None and picked.slot is not None
    extra: dict[str, Any] = dict(choice)
    status = 200
    if request.method == "POST":
        form = GuestBookingForm(request.POST)
        action = request.POST.get("action", "submit")
        status = 400
        if action == "otp":
            form.keep_errors({"phone"})
            if "phone" not in form.errors:
                extra["_ip"] = client_ip(request)
                status = _send_otp(form, extra, form.cleaned_data["phone"])
        elif form.is_valid():
            data = form.cleaned_data
            try:
                appointment = appt_services.appointment_book_guest(
                    service=picked.service,
                    slot_start=picked.slot.start,
                    full_name=data["full_name"],
                    date_of_birth=data["date_of_birth"],
                    sex=data["sex"],
                    phone=data["phone"],
                    otp=data.get("otp") or "",
                    cccd=data.get("cccd") or "",
                    bhyt=data.get("bhyt") or "",
                    reason=data.get("reason") or "",
                    channel=Channel.WEB,
                    doctor=doctor,
                    now=now,
                )
            except DomainError as exc:
                status = _service_error(form, exc, extra)
            else:
                from health_f0.privacy.models import ConsentChannel
                from health_f0.privacy.services import consent_for_booking

                consent_for_booking(appointment=appointment, channel=ConsentChannel.GUEST_BOOKING_WEB)
                return _booked(request, appointment, proved_phone=appointment.patient.phone)
    else:
        form = GuestBookingForm()
    summary = _error_summary(form) if form.is_bound else []
    return _render_steps(request, picked, now, status=status, form=form, error_summary=summary, **extra)


def _send_otp(form: Any, extra: dict[str, Any], raw_phone: str) -> int:
    """Text a booking OTP; report where it went (or why not) in `extra`. Returns the status."""
    try:
        phone = normalize_mobile(raw_phone)
        issued = otp_request(phone=phone, purpose=OTP_PURPOSE, ip=extra.pop("_ip", None))
    except RateLimited as exc:
        retry = int(exc.extra.get("retry_after") or 0)
        extra.update(otp_error=exc.message, retry_after=retry, retry_minutes=(retry + 59) // 60)
        return 429
    except DomainError as exc:
        form.add_error("otp" if "phone" not in form.fields else "phone", exc.message)
        return 400
    shown = display_phone(phone) if "phone" in form.fields else mask_phone(phone)
    extra["otp_sent_to"] = shown.replace(" ", "\u00a0")  # a phone number must not break over two lines
    extra["otp_minutes"] = issued.expires_in // 60
    form.fields["otp"].widget.attrs["autofocus"] = True
    return 200


# --- One booking: the SMS link's page --------------------------------------------------------------


def _appointment_or_404(public_id: uuid.UUID) -> Appointment:
    appointment = appt_selectors.booking_by_link(public_id=public_id)
    if appointment is None:
        raise Http404(_("Không tìm thấy lịch hẹn."))
    return appointment


def _gate_phone(appointment: Appointment) -> str:
    """The number that answers for the booking on its link: the OTP goes there (access.phone_answering_for:
    a verified number, or the one the booking was made with; "" after an unproved correction)."""
    return access.phone_answering_for(appointment.patient, appointment.created_at)


def _actor_for(request: HttpRequest, appointment: Appointment) -> Any:
    """Who acts on this booking from the portal: the owning account (or its family's), the holder of the
    number that answers for the booking, proved by OTP in this session, or None (the OTP gate). Anyone else
    (another family's account, staff) gets a 404."""
    user: Any = request.user
    phone = _gate_phone(appointment)
    if user.is_authenticated:
        if access.own_patients_for(user).filter(pk=appointment.patient_id).exists():
            return user
        # A patient booked without an account on the number this account proved: prove it again by OTP.
        # (User.phone is not proved: it opens nothing.)
        if not (phone and access.verified_phones_for(user).filter(verified_phone=phone).exists()):
            raise Http404(_("Không tìm thấy lịch hẹn."))
    if phone and _is_verified(request, appointment, phone):
        return PhoneHolder(phone=phone, booking=appointment)
    return None


def _place(service: Service, facility: Facility) -> appt_selectors.BookingPlace:
    """Where the visit happens; an online consultation has no street address to go to."""
    place = appt_selectors.booking_place(facility=facility)
    return replace(place, address="") if appt_selectors.is_online(service) else place


def _detail_context(appointment: Appointment, actor: Any, now: datetime) -> dict[str, Any]:
    """The booking's page; what the actor may do on it comes from the appointment workflow."""
    service = appointment.service
    actions = APPOINTMENT_WORKFLOW.available(appointment, actor, now=now)
    place = _place(service, appointment.facility)
    declined = appointment.status == Status.CANCELLED and appointment.cancel_source == CancelSource.DECLINED
    online = appt_selectors.is_online(service)
    # An online consultation has no reception: no QR or check-in code, its own video room instead.
    show_code = "check_in" in APPOINTMENT_WORKFLOW.actions_from(appointment.status) and not online
    return {
        "online": online,
        "meeting_link": appt_selectors.meeting_link(appointment=appointment, now=now),
        "meeting_opens": _local(appt_selectors.meeting_opens_at(appointment)),
        "meeting_over": now > appointment.slot_end,
        "appointment": appointment,
        "service": service,
        "place": place,
        "hotline": selectors.display_hotline(place.hotline),
        "hotline_tel": "".join(ch for ch in place.hotline if ch.isdigit()),
        "status_label": _("Không được xác nhận") if declined else STATUS_LABELS.get(appointment.status, ""),
        "badge": STATUS_BADGES.get(appointment.status, "badge-muted"),
        "declined": declined,
        "start": _local(appointment.slot_start),
        "end": _local(appointment.slot_end),
        "cutoff": _local(cutoff_moment(appointment)),
        "can_change": "reschedule" in actions,
        "can_cancel": "cancel" in actions,
        "is_live": appointment.status in LIVE_STATUSES,
        "show_code": show_code,
        "qr_svg": _qr_svg(appointment.check_in_code) if show_code else "",
        "code_groups": _code_groups(appointment.check_in_code),
        "can_acknowledge": "acknowledge" in actions and appointment.patient_confirmed_at is None,
        "is_today": local_date_of(appointment.slot_start) == local_date_of(now),
        "masked_phone": mask_phone(appointment.patient.phone),
        "queue_place": appt_selectors.queue_place(appointment=appointment),
        # "Add to calendar": while the visit is ahead (a live booking not yet received).
        "calendar": appointment.status in (Status.REQUESTED, Status.CONFIRMED) and appointment.slot_end > now,
        "google_calendar_url": google_calendar_url(appointment),
    }


def _gate(
    request: HttpRequest, appointment: Appointment, *, form: OtpForm, status: int = 200, **extra: Any
) -> HttpResponse:
    phone = _gate_phone(appointment)
    context: dict[str, Any] = {
        "appointment": appointment,
        "masked_phone": mask_phone(phone).replace(" ", "\u00a0"),
        "form": form,
        "error_summary": _error_summary(form) if form.is_bound else [],
        **extra,
    }
    if not phone:
        # The number was corrected at the desk after this booking and not proved yet: no code to send.
        place = appt_selectors.booking_place(facility=appointment.facility)
        context.update(
            no_phone=True,
            place=place,
            hotline=selectors.display_hotline(place.hotline),
            hotline_tel="".join(ch for ch in place.hotline if ch.isdigit()),
        )
    return _page(request, "www/appt_gate.html", context, status=status)


def _gate_post(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    """The two buttons of the OTP gate: text me a code; check the code. Both go to the number that answers
    for the booking (`_gate_phone`); when none does, nothing is sent and no code opens it."""
    form = OtpForm(request.POST)
    extra: dict[str, Any] = {}
    action = request.POST.get("action", "")
    phone = _gate_phone(appointment)
    if not phone:
        return _gate(request, appointment, form=OtpForm(), status=400)
    if action == "otp":
        form.is_valid()
        form.errors.clear()
        extra["_ip"] = client_ip(request)
        status = _send_otp(form, extra, phone)
        return _gate(request, appointment, form=form, status=status, **extra)
    if action != "verify" or not form.is_valid():
        return _gate(request, appointment, form=OtpForm(), status=400)
    try:
        # Verified outside the transaction: a wrong code's try is committed even though the gate fails.
        challenge = otp_verify(phone=phone, purpose=OTP_PURPOSE, code=form.cleaned_data.get("otp") or "")
        with transaction.atomic():
            otp_consume(challenge=challenge)
    except DomainError as exc:
        form.add_error("otp", exc.message)
        return _gate(request, appointment, form=form, status=400)
    _remember(request, appointment, phone)
    _set_flash(request, "verified")
    return redirect("www:appointment", public_id=appointment.public_id)


@never_cache
@require_http_methods(["GET", "POST"])
def appointment_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """/lich-hen/<id>: status, time, place, QR code; the re-exam acknowledgement; the OTP gate for guests."""
    if request.method == "GET" and appt_selectors.walk_in_ticket(public_id=public_id) is not None:
        # A walk-in's SMS sent before tickets had their own page: the ticket (no personal data on it).
        return redirect("www:ticket", public_id=public_id)
    appointment = _appointment_or_404(public_id)
    actor = _actor_for(request, appointment)
    now = timezone.now()
    if actor is None:
        if request.method == "POST":
            return _gate_post(request, appointment)
        return _gate(request, appointment, form=OtpForm())
    page_error = ""
    status = 200
    if request.method == "POST":
        if request.POST.get("action") != "acknowledge":
            return redirect("www:appointment", public_id=appointment.public_id)
        try:
            appt_services.reexam_acknowledge(appointment=appointment, actor=actor, now=now)
        except DomainError as exc:
            page_error, status = exc.message, exc.status_code
        else:
            _set_flash(request, "acknowledged")
            if request.POST.get("next") == "list" and request.user.is_authenticated:
                return redirect("www:appointments")
            return redirect("www:appointment", public_id=appointment.public_id)
    context = _detail_context(appointment, actor, now)
    context.update(flash=_pop_flash(request), page_error=page_error, is_account=request.user.is_authenticated)
    return _page(request, "www/appt_detail.html", context, status=status)


@never_cache
@require_http_methods(["GET"])
def appointment_calendar(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """/lich-hen/<id>/lich.ics: the booking as a calendar file, for whoever may see the booking's page (the
    owning account, or the phone holder proved by OTP in this session); anyone else goes to the page's OTP
    gate (or gets its 404)."""
    appointment = _appointment_or_404(public_id)
    if _actor_for(request, appointment) is None:
        return redirect("www:appointment", public_id=appointment.public_id)
    response = HttpResponse(appointment_ics(appointment), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{ics_filename(appointment)}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _changeable(request: HttpRequest, public_id: uuid.UUID) -> tuple[Appointment, Any] | HttpResponse:
    appointment = _appointment_or_404(public_id)
    actor = _actor_for(request, appointment)
    if actor is None:  # not verified yet: the gate is on the booking's page
        return redirect("www:appointment", public_id=appointment.public_id)
    return appointment, actor


@never_cache
@require_http_methods(["GET", "POST"])
def appointment_cancel(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """/lich-hen/<id>/huy: confirm the cancellation, with an optional reason."""
    found = _changeable(request, public_id)
    if isinstance(found, HttpResponse):
        return found
    appointment, actor = found
    now = timezone.now()
    status = 200
    page_error = ""
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                appt_services.appointment_cancel(
                    appointment=appointment,
                    actor=actor,
                    reason=form.cleaned_data.get("reason") or "",
                    now=now,
                )
            except DomainError as exc:
                page_error, status = exc.message, exc.status_code
            else:
                _set_flash(request, "cancelled")
                return redirect("www:appointment", public_id=appointment.public_id)
    context = _detail_context(appointment, actor, now)
    context.update(
        form=form, page_error=page_error, error_summary=_error_summary(form) if form.is_bound else []
    )
    context["can_change"] = context["can_cancel"]
    return _page(request, "www/appt_cancel.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def appointment_reschedule(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """/lich-hen/<id>/doi-lich?ngay=…: pick another day, then another free time of the same service."""
    found = _changeable(request, public_id)
    if isinstance(found, HttpResponse):
        return found
    appointment, actor = found
    now = timezone.now()
    service = appointment.service
    base = reverse("www:appointment_reschedule", kwargs={"public_id": appointment.public_id})
    context = _detail_context(appointment, actor, now)
    status = 200
    raw_day = (request.POST if request.method == "POST" else request.GET).get(P_DAY, "")
    day: date | None = None
    try:
        if raw_day:
            day, _info = _pick_day(service, raw_day, now)
        if request.method == "POST":
            if day is None:
                raise BadParam(_("Vui lòng chọn ngày và giờ mới."))
            slot = _pick_slot(
                _day_slots(service, day, now, appointment.doctor), day, request.POST.get(P_TIME, "")
            )
            appt_services.appointment_reschedule(
                appointment=appointment, actor=actor, slot_start=slot.start, now=now
            )
            _set_flash(request, "rescheduled")
            return redirect("www:appointment", public_id=appointment.public_id)
        if day is not None and request.GET.get(P_TIME):
            # A tap on a time only proposes it: the patient confirms the change on this step (a POST).
            chosen = _pick_slot(_day_slots(service, day, now, appointment.doctor), day, request.GET[P_TIME])
            context["confirm_move"] = {
                "old": _local(appointment.slot_start),
                "new": _local(chosen.start),
                "day": day.isoformat(),
                "time": f"{_local(chosen.start):%H:%M}",
            }
    except BadParam as exc:
        context["page_error"], status = exc.message, exc.http_status
    except DomainError as exc:
        context["page_error"], status = exc.message, exc.status_code
        appointment.refresh_from_db()
    if day is None:
        days = appt_selectors.booking_days(service=service, now=now)
        context["days"] = _day_rows(days, base, {})
    else:
        current = appointment.slot_start
        context["day"] = day
        context["slots"] = [
            {
                "label": f"{_local(s.start):%H:%M}",
                "end": f"{_local(s.end):%H:%M}",
                "free": s.free,
                "current": s.start == current,
                "afternoon": _local(s.start).hour >= 12,
                # A link to the confirmation step, never a button that moves the booking at once.
                "href": f"{base}?{urlencode({P_DAY: day.isoformat(), P_TIME: f'{_local(s.start):%H:%M}'}, safe=':')}",
            }
            for s in _day_slots(service, day, now, appointment.doctor)
        ]
        context["days_href"] = base
    context["can_change"] = "reschedule" in APPOINTMENT_WORKFLOW.available(appointment, actor, now=now)
    return _page(request, "www/appt_reschedule.html", context, status=status)


# --- The account's bookings ------------------------------------------------------------------------


@never_cache
@login_required
def appointment_list(request: HttpRequest) -> HttpResponse:
    """/lich-hen: the account's and its family's bookings, upcoming first (soonest first, at most
    UPCOMING_LIMIT), then the past a keyset page at a time (newest first)."""
    loaded_user(request)
    if access.is_staff_member(request.user):
        return redirect("admin:index")
    now = timezone.now()
    start_of_today = datetime.combine(local_date_of(now), time.min, tzinfo=LOCAL_TZ)
    past = keyset_page(
        request,
        selectors.past_bookings(user=request.user, since=start_of_today),
        PAST_KEYSET,
        size=PAST_PER_PAGE,
    )
    # What lies ahead opens the list; a later page of the past shows the past only.
    first_page = past.previous_url is None
    upcoming = (
        selectors.upcoming_bookings(user=request.user, since=start_of_today, limit=UPCOMING_LIMIT + 1)
        if first_page
        else []
    )
    past_bookings = booking_instances(past.items)
    shown = upcoming[:UPCOMING_LIMIT] + past_bookings
    family = len({a.patient_id for a in shown}) > 1 or _acts_for_several(request)

    items = booking_items_writer(family=family)

    def acknowledgeable(a: Appointment) -> bool:
        # Only a re-exam not acknowledged yet is asked about (the others skip the workflow's checks).
        return a.is_reexam and a.patient_confirmed_at is None and may(a, "acknowledge", request.user, now=now)

    return _page(
        request,
        "www/appt_list.html",
        {
            "first_page": first_page,
            "upcoming": BookingItems([items(a, acknowledgeable(a)) for a in upcoming[:UPCOMING_LIMIT]]),
            "more_upcoming": len(upcoming) > UPCOMING_LIMIT,
            "past": BookingItems([items(a, acknowledgeable(a)) for a in past_bookings]),
            "pager": past,
            "flash": _pop_flash(request),
        },
    )


# --- /lich-hen's rows, each a few escaped strings (issue 11) ----------------------------------------------------
#
# A booking of the list was drawn by appt_list_item.html, about 20 outputs and an include a row, each escaped one
# by one. It is written here instead, as the template wrote it (tests/www/test_booking_rows_html.py compares
# both): every value from the booking is escaped, the catalogue's strings are written as the template wrote
# `_("…")`; the acknowledge form gets the page's one CSRF field when the page is drawn (BookingItems.markup).


class BookingItems:
    """The `<li>` of each booking of a list: markup, with a gap for the page's CSRF field in each acknowledge
    form (`{{ upcoming.markup(csrf_input) }}`)."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, ...]]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def markup(self, csrf_input: Any) -> Markup:
        csrf = ""
        out = []
        for parts in self._items:
            if len(parts) > 1 and not csrf:
                csrf = csrf_input.__html__()
            out.append(csrf.join(parts))
        return Markup("".join(out))  # noqa: S704 - written by booking_items_writer, every value escaped


# A booking row's catalogue text in each language (the badge, the queue place, the button, the statuses), worked
# out once per language: msgids and labels only.
_ItemTexts = tuple[str, str, str, Markup, dict[str, Markup]]
_ITEM_TEXTS: Memo[str | None, _ItemTexts] = Memo(16)


def _item_texts() -> _ItemTexts:
    language = get_language()
    texts = _ITEM_TEXTS.get(language)
    if texts is None:
        texts = _ITEM_TEXTS.keep(
            language,
            (
                f' <span class="badge badge-reexam">{_("Tái khám")}</span>',
                _("số thứ tự %(number)s"),
                _("Tôi sẽ đến"),
                escape(_("Không được xác nhận")),
                {status: escape(label) for status, label in STATUS_LABELS.items()},
            ),
        )
    return texts


def booking_items_writer(*, family: bool) -> Callable[[Appointment, bool], tuple[str, ...]]:
    """`item(booking, can_acknowledge)`: the booking's `<li>` in the active language and time zone, with its
    patient's name when the list is a family's; split where the acknowledge form's CSRF field goes."""
    zone = timezone.get_current_timezone()  # the `date` filter's, looked up once
    link = urls_for(get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF)
    reexam, queue_place, will_come, declined, labels = _item_texts()

    def item(a: Appointment, can_acknowledge: bool) -> tuple[str, ...]:
        start = a.slot_start.astimezone(zone)
        # As the `date` filter showed them ("d/m/Y", "H:i").
        day, clock = f"{start:%d/%m/%Y}", f"{start:%H:%M}"
        url = escape(link("www:appointment", a.public_id))
        if a.status == Status.CANCELLED and a.cancel_source == CancelSource.DECLINED:
            label = declined
        else:
            label = labels.get(a.status, Markup(""))
        flags = reexam if a.is_reexam else ""
        if a.status == "checked_in" and a.queue_number:
            flags += f' <span class="muted">{queue_place % {"number": escape(a.queue_number)}}</span>'
        where = f"{escape(a.facility.name)}"  # text: a Markup would escape what is added to it
        if a.doctor:
            where += f" · {escape(a.doctor.display_name)}"
        if family:
            where += f" · {escape(a.patient.full_name)}"
        head = (
            f'<li class="card appt-item{" appt-reexam" if a.is_reexam else ""}">\n'
            f'  <h3><a href="{url}">{day} <span class="time">{clock}</span> — {escape(a.service.name)}</a></h3>\n'
            f'  <p class="appt-flags"><span class="badge {escape(STATUS_BADGES.get(a.status, "badge-muted"))}">'
            f"{label}</span>{flags}</p>\n"
            f'  <p class="muted">{where}</p>\n  '
        )
        if not can_acknowledge:
            return (f"{head}\n</li>",)
        return (
            f'{head}<form method="post" action="{url}">',
            '<input type="hidden" name="next" value="list"><button type="submit" name="action" '
            f'value="acknowledge" class="button button-primary">{will_come}<span class="visually-hidden"> — '
            f"{day} {clock}</span></button></form>\n</li>",
        )

    return item
