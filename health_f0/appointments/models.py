"""Appointments: services a facility offers, their weekly schedules, date overrides and public holidays,
bookings with their life cycle, re-examination plans, reminders, and the per-slot and per-day counters
that make capacity and queue numbers safe under concurrency (see services.py for how they are locked).

Slots themselves are not stored: slots.py computes them from the schedule rows.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connections, models, router, transaction
from django.db.models.signals import post_delete
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from health_f0.core.models import BaseModel
from health_f0.core.text import sms_text

# The longest service name an SMS carries whole (Service.short_name has room for this much).
SMS_NAME_MAX = 40
# The SMS short link's code (PORTAL_URL/h/<code>): 31 characters that cannot be misread (no 0/O, 1/I/L),
# 8 of them: 31^8 = 8.5e11 codes, so guessing a live one is pointless (the view also limits misses per address).
LINK_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LINK_CODE_LENGTH = 8


def new_link_code() -> str:
    """A fresh random short-link code (secrets: unpredictable)."""
    return "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))


class ServiceKind(models.TextChoices):
    EXAMINATION = "examination", _("Khám bệnh")
    SPECIALIST = "specialist", _("Khám chuyên khoa")
    ONLINE = "online", _("Tư vấn trực tuyến")


class BookedPriority(models.TextChoices):
    BOOKED_FIRST = "booked_first", _("Người đặt lịch được gọi trước")
    INTERLEAVE = "interleave", _("Xen kẽ: N người đặt lịch, 1 người vãng lai")
    ARRIVAL = "arrival", _("Theo thứ tự đến")


# A service's own calling order: empty means the facility's setting (AppointmentPolicy.booked_priority).
SERVICE_PRIORITY_CHOICES = [("", _("Theo cấu hình của cơ sở")), *BookedPriority.choices]


class PriorityGroup(models.TextChoices):
    """The statutory priority groups reception marks on a ticket (called before everyone else, emergencies
    first). Children under 6 and the elderly may be suggested from the date of birth; staff confirm."""

    EMERGENCY = "emergency", _("Cấp cứu")
    CHILD = "child", _("Trẻ em dưới 6 tuổi")
    ELDERLY = "elderly", _("Người cao tuổi")
    PREGNANT = "pregnant", _("Phụ nữ có thai")
    DISABILITY = "disability", _("Người khuyết tật")
    MERIT = "merit", _("Người có công với cách mạng")


class Service(BaseModel):
    """Something a facility offers on a schedule: an examination in a clinic room, a specialist's clinic,
    an online consultation. One slot holds up to `capacity_per_slot` patients."""

    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("cơ sở/phòng khám"),
        on_delete=models.PROTECT,
        related_name="services",
    )
    code = models.SlugField(_("mã dịch vụ"), max_length=32)
    name = models.CharField(_("tên dịch vụ"), max_length=120)
    short_name = models.CharField(_("tên ngắn (không dấu, cho SMS)"), max_length=SMS_NAME_MAX, blank=True)
    kind = models.CharField(
        _("loại"), max_length=12, choices=ServiceKind.choices, default=ServiceKind.EXAMINATION
    )
    duration_minutes = models.PositiveSmallIntegerField(_("thời lượng mỗi lượt (phút)"), default=15)
    capacity_per_slot = models.PositiveSmallIntegerField(_("số người mỗi khung giờ"), default=1)
    min_notice_hours = models.PositiveSmallIntegerField(_("đặt trước tối thiểu (giờ)"), default=2)
    booking_horizon_days = models.PositiveSmallIntegerField(_("mở đặt lịch trước (ngày)"), default=30)
    cancel_cutoff_hours = models.PositiveSmallIntegerField(
        _("được huỷ/đổi lịch đến trước (giờ)"),
        default=2,
        help_text=_("Người bệnh tự huỷ hoặc đổi lịch được đến trước giờ hẹn bấy nhiêu giờ."),
    )
    requires_confirmation = models.BooleanField(
        _("lịch đặt qua ứng dụng/web cần xác nhận"),
        default=True,
        help_text=_("Bật: lịch đặt qua ứng dụng hoặc web chờ bộ phận tư vấn đặt lịch xác nhận."),
    )
    booked_priority = models.CharField(
        _("ưu tiên khi gọi số"),
        max_length=16,
        choices=SERVICE_PRIORITY_CHOICES,
        blank=True,
        default="",
        help_text=_("Để trống: theo cấu hình lịch hẹn của cơ sở."),
    )
    interleave_ratio = models.PositiveSmallIntegerField(
        _("số người đặt lịch cho mỗi người vãng lai"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("Chỉ dùng khi ưu tiên là xen kẽ. Để trống: theo cấu hình của cơ sở."),
    )
    call_point = models.CharField(
        _("nơi mời người bệnh vào (đọc trên loa)"),
        max_length=60,
        blank=True,
        help_text=_("Ví dụ “quầy 2”, “phòng 105”. Để trống: tên phòng khám."),
    )
    turn_notice_ahead = models.PositiveSmallIntegerField(
        _("nhắn “sắp đến lượt” khi còn (người)"),
        default=3,
        validators=[MaxValueValidator(20)],
        help_text=_(
            "Người bệnh đã tiếp đón nhận SMS khi chỉ còn chừng này người trước mình, để không phải ngồi chờ "
            "sát cửa phòng khám. 0: không gửi."
        ),
    )
    is_active = models.BooleanField(_("đang nhận đặt lịch"), default=True)

    class Meta:
        verbose_name = _("dịch vụ khám")
        verbose_name_plural = _("dịch vụ khám")
        ordering = ["facility__path", "name"]
        constraints = [models.UniqueConstraint(fields=["facility", "code"], name="uniq_service_code")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        # SMS never cut a name: a name too long for a text needs the short name the SMS use instead.
        if not self.short_name.strip() and len(sms_text(self.name or "")) > SMS_NAME_MAX:
            raise ValidationError(
                {
                    "short_name": _(
                        "Tên dịch vụ dài hơn %(max)s ký tự: vui lòng đặt tên ngắn (không dấu) để dùng trong tin "
                        "nhắn SMS, ví dụ “Kham Tim mach”."
                    )
                    % {"max": SMS_NAME_MAX}
                }
            )

    @property
    def sms_name(self) -> str:
        """What the SMS call the service: its short name, else its whole name, unaccented."""
        return sms_text(self.short_name.strip() or self.name)


class Doctor(BaseModel):
    """A practitioner of a facility who sees patients on a service's schedule. A service "names" its doctors
    through its weekly rows (ScheduleTemplate.doctor): each doctor's row adds the service's capacity per slot
    to that slot, bookable for that doctor."""

    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("cơ sở/phòng khám"),
        on_delete=models.PROTECT,
        related_name="doctors",
    )
    title = models.CharField(
        _("học hàm, học vị"), max_length=24, blank=True, help_text=_("ví dụ: BS.CKI, ThS.BS, PGS.TS")
    )
    full_name = models.CharField(_("họ và tên"), max_length=120)
    is_active = models.BooleanField(_("đang khám"), default=True)

    class Meta:
        verbose_name = _("bác sĩ")
        verbose_name_plural = _("bác sĩ")
        ordering = ["full_name", "id"]
        indexes = [models.Index(fields=["facility", "is_active"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """'BS.CKI Nguyễn Văn An' (the title, then the name)."""
        return f"{self.title.strip()} {self.full_name}".strip()

    @property
    def sms_name(self) -> str:
        """The doctor as an SMS names them: unaccented, the title first."""
        return sms_text(self.display_name)


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Thứ Hai")
    TUESDAY = 1, _("Thứ Ba")
    WEDNESDAY = 2, _("Thứ Tư")
    THURSDAY = 3, _("Thứ Năm")
    FRIDAY = 4, _("Thứ Sáu")
    SATURDAY = 5, _("Thứ Bảy")
    SUNDAY = 6, _("Chủ nhật")


class ScheduleTemplate(models.Model):
    """A weekly working window of a service (one row per session: morning, afternoon, a doctor's clinic)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="templates")
    weekday = models.PositiveSmallIntegerField(_("thứ"), choices=Weekday.choices)
    start_time = models.TimeField(_("từ giờ"))
    end_time = models.TimeField(_("đến giờ"))
    doctor = models.ForeignKey(
        Doctor,
        verbose_name=_("bác sĩ"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="templates",
        help_text=_("Để trống: chỗ của dịch vụ, không gắn với bác sĩ nào."),
    )
    is_active = models.BooleanField(_("đang áp dụng"), default=True)

    class Meta:
        verbose_name = _("lịch làm việc hằng tuần")
        verbose_name_plural = _("lịch làm việc hằng tuần")
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")), name="template_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M}"


class ScheduleOverride(models.Model):
    """A date that differs from the week: closed, or open with its own hours (replacing the weekly rows
    for that date; several rows make several windows). An opening override also opens a holiday. With a
    doctor, it replaces only that doctor's rows that date (see slots.windows_for_day)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="overrides")
    # Empty: the whole service that day (every doctor's rows). A doctor: only that doctor's rows (their day
    # off, or their own hours that day); the others keep the week.
    doctor = models.ForeignKey(
        Doctor,
        verbose_name=_("bác sĩ"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="overrides",
        help_text=_("Để trống: cả dịch vụ. Chọn bác sĩ: chỉ lịch của bác sĩ đó (nghỉ hoặc giờ riêng)."),
    )
    date = models.DateField(_("ngày"))
    is_closed = models.BooleanField(_("nghỉ cả ngày"), default=False)
    start_time = models.TimeField(_("từ giờ"), null=True, blank=True)
    end_time = models.TimeField(_("đến giờ"), null=True, blank=True)
    reason = models.CharField(_("lý do"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("lịch thay đổi theo ngày")
        verbose_name_plural = _("lịch thay đổi theo ngày")
        ordering = ["date", "start_time"]
        indexes = [models.Index(fields=["service", "date"])]

    def __str__(self) -> str:
        return f"{self.date:%d/%m/%Y} {'nghỉ' if self.is_closed else 'giờ riêng'}"


class Holiday(models.Model):
    """A public holiday (data from fixtures/holidays_vn.json): no slots anywhere unless a service opens it."""

    date = models.DateField(_("ngày"), unique=True)
    name = models.CharField(_("tên ngày lễ"), max_length=120)

    class Meta:
        verbose_name = _("ngày nghỉ lễ")
        verbose_name_plural = _("ngày nghỉ lễ")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%d/%m/%Y} {self.name}"


# Limits per patient when no facility up the tree has a policy row (AppointmentPolicy).
DEFAULT_MAX_LIVE_PER_SERVICE = 2
DEFAULT_MAX_PER_DAY = 2
DEFAULT_MAX_PER_WEEK = 4


class AppointmentPolicy(models.Model):
    """Per-facility settings (the nearest facility up the tree that has a row applies)."""

    facility = models.OneToOneField(
        "facilities.Facility",
        verbose_name=_("cơ sở"),
        on_delete=models.CASCADE,
        related_name="appointment_policy",
    )
    reminder_days_before = models.JSONField(
        _("nhắc trước (ngày)"), default=list, help_text=_("ví dụ [3, 1]: nhắc 3 ngày và 1 ngày trước hẹn")
    )
    reminder_time = models.TimeField(_("giờ gửi tin nhắc"), default=time(8, 0))
    # Reception queue: the services of the facility follow these unless a service sets its own order.
    booked_priority = models.CharField(
        _("ưu tiên người đặt lịch khi gọi số"),
        max_length=16,
        choices=BookedPriority.choices,
        default=BookedPriority.BOOKED_FIRST,
        help_text=_("Áp dụng cho mọi dịch vụ của cơ sở, trừ dịch vụ đặt thứ tự gọi riêng."),
    )
    interleave_ratio = models.PositiveSmallIntegerField(
        _("số người đặt lịch cho mỗi người vãng lai"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("Chỉ dùng khi ưu tiên là xen kẽ."),
    )
    elderly_age = models.PositiveSmallIntegerField(
        _("người cao tuổi được ưu tiên từ (tuổi)"), choices=[(75, "75"), (80, "80")], default=75
    )
    recall_limit = models.PositiveSmallIntegerField(
        _("số lần gọi lại tối đa"), default=3, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    skip_back = models.PositiveSmallIntegerField(
        _("người bị bỏ qua được gọi lại sau (số người)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("Số bị bỏ qua trở lại hàng đợi, sau chừng này người tiếp theo."),
    )
    skip_limit = models.PositiveSmallIntegerField(
        _("bỏ qua đến lần thứ (thì ghi nhận không đến)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("Lần bỏ qua này ghi nhận người bệnh không có mặt và đưa số ra khỏi hàng đợi."),
    )
    # Limits per patient (0: no limit), checked under the patient's lock with the seat (services._check_limits).
    max_live_per_service = models.PositiveSmallIntegerField(
        _("số lịch chưa khám tối đa mỗi dịch vụ"),
        default=DEFAULT_MAX_LIVE_PER_SERVICE,
        validators=[MaxValueValidator(50)],
        help_text=_(
            "Số lịch hẹn còn hiệu lực một người bệnh được giữ cho cùng một dịch vụ. 0: không giới hạn."
        ),
    )
    max_per_day = models.PositiveSmallIntegerField(
        _("số lịch tối đa mỗi ngày"),
        default=DEFAULT_MAX_PER_DAY,
        validators=[MaxValueValidator(50)],
        help_text=_("Số lịch hẹn còn hiệu lực của một người bệnh trong cùng một ngày. 0: không giới hạn."),
    )
    max_per_week = models.PositiveSmallIntegerField(
        _("số lịch tối đa mỗi tuần"),
        default=DEFAULT_MAX_PER_WEEK,
        validators=[MaxValueValidator(100)],
        help_text=_(
            "Số lịch hẹn còn hiệu lực của một người bệnh trong một tuần (thứ Hai đến Chủ nhật). 0: không giới hạn."
        ),
    )

    class Meta:
        verbose_name = _("cấu hình lịch hẹn")
        verbose_name_plural = _("cấu hình lịch hẹn")

    def __str__(self) -> str:
        return str(self.facility)


class Channel(models.TextChoices):
    APP = "app", _("Ứng dụng di động")
    WEB = "web", _("Cổng thông tin")
    PHONE = "phone", _("Điện thoại")
    DESK = "desk", _("Tại quầy")


class Status(models.TextChoices):
    REQUESTED = "requested", _("Chờ xác nhận")
    CONFIRMED = "confirmed", _("Đã xác nhận")
    CHECKED_IN = "checked_in", _("Đã tiếp đón")
    COMPLETED = "completed", _("Đã khám")
    CANCELLED = "cancelled", _("Đã huỷ")
    NO_SHOW = "no_show", _("Không đến")


# A booking in these states holds its seat and blocks the patient's other bookings at the same time.
LIVE_STATUSES: tuple[str, ...] = (Status.REQUESTED, Status.CONFIRMED, Status.CHECKED_IN)


class CancelSource(models.TextChoices):
    PATIENT = "patient", _("Người bệnh huỷ")
    STAFF = "staff", _("Cơ sở huỷ")
    DECLINED = "declined", _("Bộ phận đặt lịch từ chối")
    SYSTEM = "system", _("Hệ thống (quá hạn)")


# --- The patient's visit tally (PatientVisitTally) -------------------------------------------------------
# The booking desk shows each booking's patient's completed visits and no-shows (GET /api/v2/staff/appointments,
# the desk's worklist and patient panels). They are kept in PatientVisitTally, written in the transaction of every
# change of a booking's status (or patient) into or out of these two, instead of counted on each read:
# Appointment.save() (the workflow's writes, walk-ins and test data alike), AppointmentQuerySet's update(),
# bulk_update() and bulk_create(), and a deleted booking (post_delete). Only raw SQL writes around them (the bench
# data generator: PatientVisitTally.rebuild after it).
TALLY_STATUSES: tuple[str, ...] = ("completed", "no_show")  # Status.COMPLETED, Status.NO_SHOW (checked below)
_TALLIED_FIELDS = frozenset({"status", "patient", "patient_id"})
# Set while AppointmentQuerySet.bulk_update runs Django's own update() calls (it counts their rows itself).
_BULK_UPDATING: ContextVar[bool] = ContextVar("appointments_bulk_updating", default=False)


def _tally_delta(status: str | None) -> tuple[int, int]:
    """(completed, no-shows) one booking in `status` counts for."""
    return (int(status == TALLY_STATUSES[0]), int(status == TALLY_STATUSES[1]))


def tally_moves(moves: Iterable[tuple[int | None, str | None, int]]) -> dict[int, tuple[int, int]]:
    """{patient id: (completed, no-shows) to add} from (patient id, status, +1 or -1) moves; zeros dropped."""
    out: dict[int, tuple[int, int]] = {}
    for patient_id, status, sign in moves:
        if patient_id is None or status not in TALLY_STATUSES:
            continue
        done, missed = _tally_delta(status)
        was = out.get(patient_id, (0, 0))
        out[patient_id] = (was[0] + sign * done, was[1] + sign * missed)
    return {pk: delta for pk, delta in out.items() if delta != (0, 0)}


class AppointmentQuerySet(models.QuerySet):
    """Appointment's queryset: its bulk writes of the status or the patient keep the visit tally too (update and
    bulk_update read the rows' old values under lock first; bulk_create counts what it inserts)."""

    def update(self, **kwargs: Any) -> int:
        changed = _TALLIED_FIELDS.intersection(kwargs)
        if not changed or _BULK_UPDATING.get():
            return super().update(**kwargs)
        if any(hasattr(kwargs[name], "resolve_expression") for name in changed):
            raise TypeError(
                "Appointment.objects.update(): the status and patient must be values (visit tally)"
            )
        patient = kwargs.get("patient", kwargs.get("patient_id"))
        patient_id = patient.pk if isinstance(patient, models.Model) else patient
        with transaction.atomic(using=self.db, savepoint=False):
            before = list(self.select_for_update().values_list("patient_id", "status"))
            updated = super().update(**kwargs)
            moves = [(pk, status, -1) for pk, status in before]
            moves += [
                (pk if patient is None else patient_id, kwargs.get("status", status), 1)
                for pk, status in before
            ]
            PatientVisitTally.add(tally_moves(moves), using=self.db)
        return updated

    def bulk_update(self, objs: Iterable[Any], fields: Iterable[str], batch_size: int | None = None) -> int:
        objs, fields = list(objs), list(fields)
        if not _TALLIED_FIELDS.intersection(fields):
            return super().bulk_update(objs, fields, batch_size=batch_size)
        with transaction.atomic(using=self.db, savepoint=False):
            stored = (
                self.model._base_manager.using(self.db)
                .select_for_update()
                .filter(pk__in=[o.pk for o in objs])
            )
            before = {
                pk: (patient, status)
                for pk, patient, status in stored.values_list("pk", "patient_id", "status")
            }
            held = _BULK_UPDATING.set(True)  # its own update()s of CASE expressions: counted here
            try:
                updated = super().bulk_update(objs, fields, batch_size=batch_size)
            finally:
                _BULK_UPDATING.reset(held)
            moves = [(patient, status, -1) for patient, status in before.values()]
            for obj in objs:
                patient, status = before[obj.pk]
                moves.append(
                    (
                        obj.patient_id if {"patient", "patient_id"}.intersection(fields) else patient,
                        obj.status if "status" in fields else status,
                        1,
                    )
                )
            PatientVisitTally.add(tally_moves(moves), using=self.db)
        return updated

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        moves = tally_moves((obj.patient_id, obj.status, 1) for obj in objs)
        if moves and (kwargs.get("ignore_conflicts") or kwargs.get("update_conflicts")):
            raise TypeError("bulk_create of completed or no-show bookings must insert them all (visit tally)")
        with transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(objs, *args, **kwargs)
            PatientVisitTally.add(moves, using=self.db)
        return created


class Appointment(BaseModel):
    """One booking (or one walk-in ticket) of one patient for one service."""

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("người bệnh"),
        on_delete=models.PROTECT,
        related_name="appointments",
    )
    service = models.ForeignKey(
        Service, verbose_name=_("dịch vụ"), on_delete=models.PROTECT, related_name="appointments"
    )
    # The service's facility, copied so scoping and worklists need no join.
    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("cơ sở"), on_delete=models.PROTECT, related_name="appointments"
    )
    # The doctor who sees the patient: the one the patient picked, or the one "any doctor" was given; empty
    # for a service without doctors (and for walk-ins).
    doctor = models.ForeignKey(
        Doctor,
        verbose_name=_("bác sĩ"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments",
    )
    slot_start = models.DateTimeField(_("giờ hẹn"))
    slot_end = models.DateTimeField(_("đến"))
    channel = models.CharField(_("kênh đặt"), max_length=8, choices=Channel.choices)
    status = models.CharField(
        _("trạng thái"), max_length=12, choices=Status.choices, default=Status.REQUESTED
    )
    reason = models.CharField(_("lý do khám"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("xác nhận lúc"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(_("huỷ lúc"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancel_source = models.CharField(_("huỷ bởi"), max_length=10, choices=CancelSource.choices, blank=True)
    cancel_reason = models.CharField(_("lý do huỷ/từ chối"), max_length=300, blank=True)
    rescheduled_count = models.PositiveSmallIntegerField(_("số lần đổi lịch"), default=0)
    check_in_code = models.CharField(_("mã tiếp đón"), max_length=12, unique=True)
    is_walk_in = models.BooleanField(_("khám vãng lai"), default=False)
    checked_in_at = models.DateTimeField(_("tiếp đón lúc"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue_date = models.DateField(_("ngày xếp hàng"), null=True, blank=True)
    queue_number = models.PositiveIntegerField(_("số thứ tự"), null=True, blank=True)
    called_at = models.DateTimeField(_("gọi số lúc"), null=True, blank=True)
    # Reception queue: the last time the number was announced (a call or a recall: the hall display speaks
    # it again), recalls and skips so far, and when the last skip put it back in the queue.
    announced_at = models.DateTimeField(_("mời lần cuối lúc"), null=True, blank=True)
    recall_count = models.PositiveSmallIntegerField(_("số lần gọi lại"), default=0)
    skip_count = models.PositiveSmallIntegerField(_("số lần bỏ qua"), default=0)
    requeued_at = models.DateTimeField(_("đưa lại hàng đợi lúc"), null=True, blank=True)
    # A statutory priority group, marked (and confirmed) by staff with a note; every change is audited.
    priority_group = models.CharField(
        _("đối tượng ưu tiên"), max_length=12, choices=PriorityGroup.choices, blank=True
    )
    priority_note = models.CharField(_("ghi chú ưu tiên"), max_length=200, blank=True)
    priority_marked_at = models.DateTimeField(_("đánh dấu ưu tiên lúc"), null=True, blank=True)
    priority_marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    turn_notified_at = models.DateTimeField(_("báo sắp đến lượt lúc"), null=True, blank=True)
    completed_at = models.DateTimeField(_("khám xong lúc"), null=True, blank=True)
    # Re-examination: reserved by a clinician or the desk; the patient's acknowledgement is tracked apart.
    is_reexam = models.BooleanField(_("tái khám"), default=False)
    reexam_plan = models.ForeignKey(
        "ReexamPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="appointments"
    )
    reexam_of = models.ForeignKey(
        "self",
        verbose_name=_("tái khám của lần khám"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reexams",
    )
    patient_confirmed_at = models.DateTimeField(_("người bệnh xác nhận sẽ đến lúc"), null=True, blank=True)
    # Online consultation: this booking's own video room (128 random bits; the video service's address is
    # the VIDEO_MEETING_BASE_URL setting). Empty for visits in a clinic room. Never shared between bookings.
    meeting_room = models.CharField(_("phòng tư vấn trực tuyến"), max_length=64, blank=True, editable=False)
    # The SMS short link's code (PORTAL_URL/h/<code>): random, no personal data, distinct from the check-in
    # code (which reception acts on). It only redirects to the booking's page (OTP-gated) or a walk-in's ticket.
    link_code = models.CharField(
        _("mã đường dẫn ngắn"), max_length=8, unique=True, editable=False, default=new_link_code
    )

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("lịch hẹn")
        verbose_name_plural = _("lịch hẹn")
        ordering = ["slot_start", "id"]
        indexes = [
            models.Index(fields=["service", "slot_start", "status"]),
            models.Index(fields=["patient", "status", "slot_start"]),
            # The patient last: v1's count of the desk's worklist (appointments/sql/worklist.py COUNT_FROM) reads
            # the scope's (facility, status) ranges and tests each booking's patient against the processing
            # restrictions in the index, without reading a row (issue 11, fourteenth round).
            models.Index(
                fields=["facility", "status", "created_at", "patient"], name="appt_facility_status_created"
            ),
            models.Index(fields=["service", "queue_date", "called_at"]),
            # The booking desk's lists of a status across many clinics (a TTYT's), read in their order instead of
            # sorting each booking of the status: the confirmation queue (requested, oldest request first;
            # staff_appointments, desk_worklist) and the visits by time. The id makes the index's order the
            # list's (created_at or slot_start, id); the facility lets MariaDB skip another clinic's entry in
            # the index without reading its row (appointments/sql/worklist.py names them for such scopes).
            models.Index(fields=["status", "created_at", "id", "facility"], name="appt_status_created"),
            models.Index(fields=["status", "slot_start", "id", "facility"], name="appt_status_slot"),
            # One clinic's bookings of a status by time (the desk's confirmed visits of a clinic, a day's list at
            # reception), read in order: without it MariaDB read the status's index and tested the clinic, 1,443
            # rows for a page of 101 at the largest clinic of the 100k data (3.5 -> 1.1 ms of its CPU).
            models.Index(fields=["facility", "status", "slot_start", "id"], name="appt_facility_status_slot"),
        ]
        constraints = [
            # NULLs never collide: only checked-in tickets carry a number, and no number is given twice.
            models.UniqueConstraint(
                fields=["service", "queue_date", "queue_number"], name="uniq_queue_number"
            ),
        ]

    # Model.save() keeps the patients' visit tally (PatientVisitTally) in the same transaction.
    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and not _TALLIED_FIELDS.intersection(update_fields):
            super().save(*args, **kwargs)
            return
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using, savepoint=False):
            before = self._stored_tally_state(using)
            super().save(*args, **kwargs)
            after = (self.patient_id, self.status)
            if before != after:
                old = before or (None, None)
                PatientVisitTally.add(tally_moves(((*old, -1), (*after, 1))), using=using)

    def hold_tally_state(self) -> None:
        """Note this instance's (patient, status) as the database's: only for an instance just read under its
        row lock in the transaction that saves it (services._locked), which spares save() reading them again."""
        self.__dict__["_tally_state"] = (self.patient_id, self.status)

    def _stored_tally_state(self, using: str) -> tuple[int, str] | None:
        """(patient id, status) the stored booking is counted under in the visit tally, None for a new one:
        as held under lock (hold_tally_state, used once), else read and locked now."""
        state: tuple[int, str] | None = self.__dict__.pop("_tally_state", None)
        if state is not None:
            return state
        if self._state.adding or self.pk is None:
            return None
        manager = type(self)._base_manager.using(using)
        return manager.select_for_update().filter(pk=self.pk).values_list("patient_id", "status").first()

    def __str__(self) -> str:
        return f"{self.service} {timezone.localtime(self.slot_start):%d/%m/%Y %H:%M} ({self.get_status_display()})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class PatientVisitTally(models.Model):
    """One patient's completed visits and no-shows, maintained (see TALLY_STATUSES above): what the booking desk
    shows beside each booking, read by primary key instead of counting the patient's bookings on every read. A
    patient without a row has none of either."""

    patient = models.OneToOneField(
        "patients.Patient", primary_key=True, on_delete=models.CASCADE, related_name="visit_tally"
    )
    completed = models.PositiveIntegerField(default=0)
    no_shows = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("số lượt khám của người bệnh")
        verbose_name_plural = _("số lượt khám của người bệnh")

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.completed} / {self.no_shows}"

    @classmethod
    def add(cls, changes: Mapping[int, tuple[int, int]], *, using: str) -> None:
        """Add (completed, no-shows) to each patient's tally in place (tally_moves): an upsert where both only
        grow, an UPDATE where one shrinks (the row exists: the booking was counted). Never read-modify-write, so
        two transactions counting bookings of one patient at once both count."""
        if not changes:
            return
        table = cls._meta.db_table
        connection = connections[using]
        grow = [(pk, done, missed) for pk, (done, missed) in changes.items() if done >= 0 and missed >= 0]
        shrink = [(done, missed, pk) for pk, (done, missed) in changes.items() if done < 0 or missed < 0]
        with connection.cursor() as cursor:
            if grow:
                if connection.vendor == "mysql":
                    upsert = (
                        "ON DUPLICATE KEY UPDATE completed = completed + VALUES(completed), "
                        "no_shows = no_shows + VALUES(no_shows)"
                    )
                else:  # SQLite (and PostgreSQL)
                    upsert = (
                        "ON CONFLICT (patient_id) DO UPDATE SET completed = completed + excluded.completed, "
                        "no_shows = no_shows + excluded.no_shows"
                    )
                cursor.executemany(
                    f"INSERT INTO {table} (patient_id, completed, no_shows) VALUES (%s, %s, %s) {upsert}",  # noqa: S608
                    grow,
                )
            if shrink:
                cursor.executemany(
                    f"UPDATE {table} SET completed = completed + %s, no_shows = no_shows + %s "  # noqa: S608
                    "WHERE patient_id = %s",
                    shrink,
                )

    @classmethod
    def rebuild(cls, *, using: str = "default") -> None:
        """Count every patient's tally afresh from the bookings (data written around save(): a bench data set's
        raw inserts). One DELETE and one INSERT ... SELECT ... GROUP BY, as the migration's backfill."""
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute(f"DELETE FROM {cls._meta.db_table}")  # noqa: S608
            cursor.execute(rebuild_sql(Appointment._meta.db_table, cls._meta.db_table))


def live_visit_counts(
    patient_ids: Iterable[int] | None = None, *, using: str = "default"
) -> dict[int, tuple[int, int]]:
    """{patient id: (completed, no-shows)} counted from the bookings (the tally's reference), for `patient_ids` or
    every patient with one of either; one grouped query."""
    done, missed = TALLY_STATUSES
    bookings = Appointment._base_manager.using(using).filter(status__in=TALLY_STATUSES)
    if patient_ids is not None:
        bookings = bookings.filter(patient_id__in=list(patient_ids))
    counts: dict[int, tuple[int, int]] = {}
    grouped = bookings.values("patient_id", "status").annotate(n=models.Count("id")).order_by()
    for row in grouped.values_list("patient_id", "status", "n"):
        patient_id, status, n = row
        completed, no_shows = counts.get(patient_id, (0, 0))
        counts[patient_id] = (n, no_shows) if status == done else (completed, n)
    return counts


def tally_drift(*, using: str = "default") -> dict[int, tuple[tuple[int, int], tuple[int, int]]]:
    """{patient id: (the tally's (completed, no-shows), the live count)} for every patient whose tally differs from
    the bookings (a patient without a tally row counts (0, 0)): what `manage.py visit_tally` reports."""
    live = live_visit_counts(using=using)
    kept = {
        patient_id: (completed, no_shows)
        for patient_id, completed, no_shows in PatientVisitTally.objects.using(using).values_list(
            "patient_id", "completed", "no_shows"
        )
    }
    return {
        patient_id: (kept.get(patient_id, (0, 0)), live.get(patient_id, (0, 0)))
        for patient_id in kept.keys() | live.keys()
        if kept.get(patient_id, (0, 0)) != live.get(patient_id, (0, 0))
    }


def recount_tally(patient_id: int, *, using: str = "default") -> tuple[int, int]:
    """Set one patient's tally to the live count of their bookings, under the patient's row lock (the workflow
    locks the patient before it changes a booking: appointments.services._lock_patient), and return it."""
    from health_f0.patients.models import Patient

    with transaction.atomic(using=using):
        list(Patient._base_manager.using(using).select_for_update().filter(pk=patient_id).values_list("pk"))
        completed, no_shows = live_visit_counts([patient_id], using=using).get(patient_id, (0, 0))
        PatientVisitTally.objects.using(using).update_or_create(
            patient_id=patient_id, defaults={"completed": completed, "no_shows": no_shows}
        )
    return completed, no_shows


def rebuild_sql(appointments: str, tally: str) -> str:
    """INSERT ... SELECT ... GROUP BY filling an empty tally from the bookings (the migration runs the same)."""
    done, missed = TALLY_STATUSES
    return (
        f"INSERT INTO {tally} (patient_id, completed, no_shows) "  # noqa: S608
        f"SELECT patient_id, SUM(CASE WHEN status = '{done}' THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN status = '{missed}' THEN 1 ELSE 0 END) "
        f"FROM {appointments} WHERE status IN ('{done}', '{missed}') GROUP BY patient_id"
    )


def _untally_deleted(sender: type[Appointment], instance: Appointment, using: str, **kwargs: Any) -> None:
    """A deleted completed or no-show booking leaves its patient's tally (in the deleting transaction)."""
    PatientVisitTally.add(tally_moves([(instance.patient_id, instance.status, -1)]), using=using)


post_delete.connect(_untally_deleted, sender=Appointment, dispatch_uid="appointments.visit_tally")
if (Status.COMPLETED.value, Status.NO_SHOW.value) != TALLY_STATUSES:
    raise ImproperlyConfigured("TALLY_STATUSES must name Status.COMPLETED and Status.NO_SHOW")


# SlotCounter.doctor_key of the seats no doctor holds (a service without doctors, or rows without one).
NO_DOCTOR = 0


class SlotCounter(models.Model):
    """Seats taken in one slot of one service for one doctor (`doctor_key`: the doctor's id, or NO_DOCTOR;
    an integer, not a nullable key, so the unique constraint holds on MariaDB, where NULLs never collide).
    A booking locks every counter of its slot, so `booked` never exceeds the doctor's seats nor the sum
    of all counters the slot's capacity (checked under those locks)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    slot_start = models.DateTimeField()
    doctor_key = models.PositiveIntegerField(default=NO_DOCTOR)
    booked = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "slot_start", "doctor_key"], name="uniq_slot_doctor_counter"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.slot_start:%Y-%m-%d %H:%M} d{self.doctor_key} {self.booked}"


class QueueCounter(models.Model):
    """The last queue number given for one service on one local day (locked while giving the next)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    local_date = models.DateField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "local_date"], name="uniq_queue_counter")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.local_date} {self.last_number}"


class ReexamPlan(BaseModel):
    """A recurring re-examination programme (e.g. hypertension or diabetes every 4 weeks)."""

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("người bệnh"),
        on_delete=models.PROTECT,
        related_name="reexam_plans",
    )
    service = models.ForeignKey(
        Service, verbose_name=_("dịch vụ"), on_delete=models.PROTECT, related_name="+"
    )
    facility = models.ForeignKey("facilities.Facility", on_delete=models.PROTECT, related_name="+")
    programme = models.CharField(
        _("chương trình"), max_length=120, blank=True, help_text=_("ví dụ: Tăng huyết áp")
    )
    clinician_name = models.CharField(_("bác sĩ chỉ định"), max_length=120, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    interval_weeks = models.PositiveSmallIntegerField(_("nhắc lại mỗi (tuần)"), default=4)
    next_date = models.DateField(_("ngày tái khám tiếp theo"))
    end_date = models.DateField(_("kết thúc chương trình"), null=True, blank=True)
    is_active = models.BooleanField(_("đang áp dụng"), default=True)

    class Meta:
        verbose_name = _("kế hoạch tái khám định kỳ")
        verbose_name_plural = _("kế hoạch tái khám định kỳ")
        indexes = [models.Index(fields=["is_active", "next_date"])]

    def __str__(self) -> str:
        return f"{self.programme or self.service} — {self.interval_weeks} tuần"


class ReminderStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Đã lên lịch")
    SENT = "sent", _("Đã gửi")
    CANCELLED = "cancelled", _("Đã huỷ")
    SKIPPED = "skipped", _("Bỏ qua")


class AppointmentReminder(models.Model):
    """One reminder (kind "d3" = 3 days before) for one appointment time. The unique key includes the
    slot time, so a rescheduled appointment gets fresh reminders and the old ones can never be re-sent."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=8)
    slot_start = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.SCHEDULED)
    sent_at = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(
        "notifications.OutboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("nhắc lịch hẹn")
        verbose_name_plural = _("nhắc lịch hẹn")
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "kind", "slot_start"], name="uniq_appointment_reminder"
            )
        ]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.due_at:%d/%m/%Y %H:%M} {self.status}"
