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

    class Meta:
        verbose_name = _("người bệnh")
        verbose_name_plural = _("người bệnh")
        ordering = ["full_name"]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.date_of_birth:%d/%m/%Y})"

    @property
    def phone_display(self) -> str:
        return display_phone(self.phone)
