"""Home-care registrations (their OTP challenges live in patients.models.OtpChallenge)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from health_f0.core.keyset import NO_TIME
from health_f0.core.models import BaseModel
from health_f0.core.phone import display_phone


class RegistrationStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Chờ tiếp nhận")
    ACCEPTED = "accepted", _("Đã tiếp nhận")
    REJECTED = "rejected", _("Từ chối")


class Eligibility(models.TextChoices):
    ELIGIBLE = "eligible", _("Đủ điều kiện chăm sóc tại nhà")
    REVIEW = "review", _("Cần bác sĩ đánh giá")
    HOSPITAL = "hospital", _("Nên chuyển cơ sở điều trị")


# The queue's order as stored columns, so MariaDB reads a page of it from an index instead of sorting every
# registration of a station or TTYT on each request (MariaDB indexes no expression, only generated columns).
# Waiting ones by severity (0 should go to hospital, 1 needs a doctor's review, 2 eligible), decided ones after
# them (3); and the decision time with undecided as 1900 (core.keyset.NO_TIME), so "most recently decided
# first" is a NOT NULL key that a keyset page can seek on. registration.eligibility.BY_SEVERITY's order.
QUEUE_SEVERITY = ("hospital", "review", "eligible")


class Channel(models.TextChoices):
    WEB = "web", _("Cổng thông tin")
    APP = "app", _("Ứng dụng di động")
    DESK = "desk", _("Nhân viên y tế nhập")


class Registration(BaseModel):
    """A request for home care, queued at the station serving the patient's ward."""

    status = models.CharField(
        _("trạng thái"),
        max_length=12,
        choices=RegistrationStatus.choices,
        default=RegistrationStatus.SUBMITTED,
    )
    channel = models.CharField(_("kênh đăng ký"), max_length=8, choices=Channel.choices, default=Channel.WEB)
    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("cơ sở tiếp nhận"),
        on_delete=models.PROTECT,
        related_name="registrations",
    )
    # Who filled in the form.
    relation = models.CharField(_("người đăng ký"), max_length=12, default="self")
    registrant_name = models.CharField(_("họ tên người đăng ký giúp"), max_length=120, blank=True)
    # The patient.
    full_name = models.CharField(_("họ và tên"), max_length=120)
    date_of_birth = models.DateField(_("ngày sinh"))
    sex = models.CharField(_("giới tính"), max_length=8)
    phone = models.CharField(_("số điện thoại"), max_length=16, db_index=True)
    cccd = models.CharField(_("số CCCD"), max_length=12, blank=True)
    bhyt = models.CharField(_("số thẻ BHYT"), max_length=15, blank=True)
    province_code = models.PositiveIntegerField(_("mã tỉnh/thành phố"))
    ward_code = models.PositiveIntegerField(_("mã phường/xã"))
    ward_name = models.CharField(_("phường/xã"), max_length=120)
    street = models.CharField(_("số nhà, đường, thôn/xóm"), max_length=200, blank=True)
    # Screening.
    test_type = models.CharField(_("loại xét nghiệm"), max_length=8)
    positive_date = models.DateField(_("ngày có kết quả dương tính"))
    symptoms = models.JSONField(_("triệu chứng"), default=list, blank=True)
    spo2 = models.PositiveSmallIntegerField(_("SpO2 (%)"), null=True, blank=True)
    breathing_rate = models.PositiveSmallIntegerField(_("nhịp thở (lần/phút)"), null=True, blank=True)
    conditions = models.JSONField(_("bệnh nền"), default=list, blank=True)
    conditions_stable = models.BooleanField(_("bệnh nền ổn định"), default=True)
    pregnant = models.BooleanField(_("đang mang thai"), default=False)
    vaccine_doses = models.PositiveSmallIntegerField(_("số mũi vắc xin"), default=0)
    care = models.CharField(_("khả năng tự chăm sóc"), max_length=12)
    can_phone = models.BooleanField(_("liên lạc được qua điện thoại"), default=True)
    # Consent to processing of health data (Law 91/2025/QH15, Decree 356/2025).
    consent_policy_version = models.CharField(_("phiên bản chính sách"), max_length=16)
    consent_at = models.DateTimeField(_("đồng ý lúc"))
    # Computed at submission.
    eligibility = models.CharField(_("đánh giá"), max_length=12, choices=Eligibility.choices)
    eligibility_reasons = models.JSONField(_("lý do"), default=list, blank=True)
    eligibility_notes = models.JSONField(_("ghi chú"), default=list, blank=True)
    # Decision.
    decided_at = models.DateTimeField(_("xử lý lúc"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("người xử lý"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reject_reason = models.CharField(_("lý do từ chối"), max_length=300, blank=True)
    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("người bệnh"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registrations",
    )
    # Set while the registration is open (submitted or accepted); NULL once closed. Unique, so the same
    # person (phone + name + date of birth) can never hold two open registrations, even under races.
    open_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    queue_rank = models.GeneratedField(
        expression=models.Case(
            *(
                models.When(status="submitted", eligibility=outcome, then=models.Value(rank))
                for rank, outcome in enumerate(QUEUE_SEVERITY)
            ),
            default=models.Value(len(QUEUE_SEVERITY)),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    decided_sort = models.GeneratedField(
        expression=Coalesce("decided_at", models.Value(NO_TIME)),
        output_field=models.DateTimeField(),
        db_persist=True,
    )

    class Meta:
        verbose_name = _("đăng ký chăm sóc tại nhà")
        verbose_name_plural = _("đăng ký chăm sóc tại nhà")
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["facility", "status", "created_at"]),
            # The queue at one facility, a page at a time; and at many (a TTYT's stations), read in order and
            # filtered by facility in the index (its last column: registration.sql.registrations).
            models.Index(
                fields=["facility", "queue_rank", "-decided_sort", "created_at", "id"], name="reg_queue_order"
            ),
            models.Index(
                fields=["queue_rank", "-decided_sort", "created_at", "id", "facility"],
                name="reg_queue_order_all",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.date_of_birth:%d/%m/%Y})"

    @property
    def phone_display(self) -> str:
        return display_phone(self.phone)
