"""A person's identity, address and portal account."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from health_f0.core.models import BaseModel
from health_f0.core.phone import display_phone


class Sex(models.TextChoices):
    MALE = "male", _("Nam")
    FEMALE = "female", _("Nữ")
    OTHER = "other", _("Khác")


class Patient(BaseModel):
    """One person. Several patients may share a phone (a family); each keeps its own record and account."""

    full_name = models.CharField(_("họ và tên"), max_length=120)
    date_of_birth = models.DateField(_("ngày sinh"))
    sex = models.CharField(_("giới tính"), max_length=8, choices=Sex.choices)
    phone = models.CharField(_("số điện thoại"), max_length=16, db_index=True, help_text=_("E.164"))
    cccd = models.CharField(_("số CCCD"), max_length=12, blank=True, db_index=True)
    bhyt = models.CharField(_("số thẻ BHYT"), max_length=15, blank=True, db_index=True)
    province_code = models.PositiveIntegerField(_("mã tỉnh/thành phố"))
    ward_code = models.PositiveIntegerField(_("mã phường/xã"))
    ward_name = models.CharField(_("phường/xã"), max_length=120, blank=True)
    street = models.CharField(_("số nhà, đường, thôn/xóm"), max_length=200, blank=True)
    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("cơ sở quản lý"),
        on_delete=models.PROTECT,
        related_name="patients",
    )
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("tài khoản"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patient",
    )
    details_confirmed_at = models.DateTimeField(_("xác nhận thông tin lúc"), null=True, blank=True)
    # The number this patient proved by OTP (the active PhoneBond's), "" when none is proved. Accounts act for
    # each other through it (facilities.access): never through `phone`, which staff may correct without an
    # OTP. Written only by patients.services.phone_bond_record / phone_bond_end.
    verified_phone = models.CharField(
        _("số điện thoại đã xác thực"), max_length=16, blank=True, default="", db_index=True, editable=False
    )
    # When staff last changed `phone` (None: the number first recorded). Bookings made before it were made
    # with another number: the new one does not answer for them until it is proved (facilities.access
    # .phone_answering_for). Written only by patients.services.patient_update_details.
    phone_changed_at = models.DateTimeField(
        _("nhân viên sửa số điện thoại lúc"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("người bệnh")
        verbose_name_plural = _("người bệnh")
        ordering = ["full_name"]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.date_of_birth:%d/%m/%Y})"

    @property
    def phone_display(self) -> str:
        return display_phone(self.phone)


class BondMethod(models.TextChoices):
    """How a phone proved itself: always an OTP texted to it."""

    REGISTRATION_OTP = "registration_otp", _("OTP khi đăng ký chăm sóc tại nhà")
    SIGNUP_OTP = "signup_otp", _("OTP khi mở tài khoản")
    DESK_OTP = "desk_otp", _("OTP đọc cho nhân viên y tế khi đổi số")
    PORTAL_OTP = "portal_otp", _("OTP người bệnh tự nhập trên cổng")


class BondEnd(models.TextChoices):
    PHONE_CORRECTED = "phone_corrected", _("Nhân viên y tế sửa số điện thoại")
    REPLACED = "replaced", _("Đã xác thực số khác")


class PhoneBond(BaseModel):
    """The family bond: a patient's phone number proved by an OTP texted to it, when and how, and who entered
    the code (staff at the desk; None when the patient did). Every account whose patient holds an active bond
    on the same number may act for this patient (facilities.access.own_patients_for), provided it has an
    account. At most one bond of a patient is active (`ended_at` empty); Patient.verified_phone mirrors it.
    Rows are never deleted: they are the record of who could act for whom, and since when."""

    patient = models.ForeignKey(
        Patient, verbose_name=_("người bệnh"), on_delete=models.CASCADE, related_name="phone_bonds"
    )
    phone = models.CharField(_("số điện thoại"), max_length=16, help_text=_("E.164"))
    method = models.CharField(_("xác thực bằng"), max_length=20, choices=BondMethod.choices)
    verified_at = models.DateTimeField(_("xác thực lúc"))
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("nhân viên nhập mã"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # What proves it: "registration:<id>" (its OTP-checked submission) or "otp:<challenge id>".
    evidence = models.CharField(_("bằng chứng"), max_length=64, blank=True)
    ended_at = models.DateTimeField(_("hết hiệu lực lúc"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("người kết thúc"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    end_reason = models.CharField(_("lý do kết thúc"), max_length=20, choices=BondEnd.choices, blank=True)

    class Meta:
        verbose_name = _("xác thực số điện thoại")
        verbose_name_plural = _("xác thực số điện thoại")
        ordering = ["-verified_at", "-id"]
        indexes = [models.Index(fields=["patient", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.patient_id} {display_phone(self.phone)} {self.method}"

    @property
    def phone_display(self) -> str:
        return display_phone(self.phone)


class OtpChallenge(models.Model):
    """A one-time code sent by SMS. Only an HMAC of the code is stored."""

    phone = models.CharField(max_length=16, db_index=True)
    purpose = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True, db_index=True)

    class Meta:
        # Created by the registration app; the table keeps its name (patients.migrations.0004).
        db_table = "registration_otpchallenge"
        verbose_name = _("mã OTP")
        verbose_name_plural = _("mã OTP")
        indexes = [models.Index(fields=["phone", "purpose", "created_at"])]

    def __str__(self) -> str:
        return f"OTP {self.purpose} {self.created_at:%d/%m/%Y %H:%M}"
