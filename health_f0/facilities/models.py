"""The facility tree, which wards each station serves, and staff memberships with roles."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, router, transaction
from django.utils.translation import gettext_lazy as _

from health_f0.core.models import BaseModel
from health_f0.facilities import tree


class FacilityKind(models.TextChoices):
    DEPARTMENT_OF_HEALTH = "doh", _("Sở Y tế")
    HEALTH_CENTRE = "ttyt", _("Trung tâm Y tế")
    HOSPITAL = "hospital", _("Bệnh viện")
    STATION = "station", _("Trạm Y tế")
    TREATMENT = "treatment", _("Cơ sở thu dung, điều trị")
    DEPARTMENT = "department", _("Khoa/phòng")
    CLINIC_ROOM = "clinic_room", _("Phòng khám")


class Role(models.TextChoices):
    STATION_STAFF = "station_staff", _("Nhân viên trạm y tế")
    STATION_HEAD = "station_head", _("Trưởng trạm y tế")
    TREATMENT_DOCTOR = "treatment_doctor", _("Bác sĩ điều trị")
    BOOKING_DESK = "booking_desk", _("Bộ phận tư vấn đặt lịch")
    RECEPTION = "reception", _("Tiếp đón")
    HIS_LINKER = "his_linker", _("Cán bộ liên kết HIS")
    MANAGER = "manager", _("Lãnh đạo/quản lý")
    ADMINISTRATOR = "administrator", _("Quản trị hệ thống")
    ACCOUNTANT = "accountant", _("Kế toán")


class FacilityQuerySet(models.QuerySet["Facility"]):
    """The bulk writers of `path` keep the tree's closure too (facilities.tree), in their transaction."""

    def update(self, **kwargs: Any) -> int:
        if "path" not in kwargs:
            return super().update(**kwargs)
        with transaction.atomic(using=self.db, savepoint=False):
            tree.lock(self.model, self.db)
            rows = super().update(**kwargs)
            tree.sync(self.model, FacilityClosure, self.db)
        return rows

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Facility]:
        with transaction.atomic(using=self.db, savepoint=False):
            tree.lock(self.model, self.db)
            created = super().bulk_create(objs, *args, **kwargs)
            tree.sync(self.model, FacilityClosure, self.db)
        return created

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        if "path" not in fields:
            return super().bulk_update(objs, fields, *args, **kwargs)
        with transaction.atomic(using=self.db, savepoint=False):
            tree.lock(self.model, self.db)
            rows = super().bulk_update(objs, fields, *args, **kwargs)
            tree.sync(self.model, FacilityClosure, self.db)
        return rows


class Facility(BaseModel):
    """A node of the tree Sở Y tế -> TTYT/hospital -> station/department/clinic room.

    `path` is the chain of ids from the root ("/1/4/9/"), so "this facility and everything under it" is one
    indexed prefix match whatever the depth.
    """

    kind = models.CharField(_("loại"), max_length=16, choices=FacilityKind.choices)
    code = models.CharField(_("mã cơ sở"), max_length=32, unique=True)
    name = models.CharField(_("tên"), max_length=200)
    short_name = models.CharField(_("tên ngắn (không dấu, cho SMS)"), max_length=60, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("trực thuộc"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    province_code = models.PositiveIntegerField(_("mã tỉnh/thành phố"))
    address = models.CharField(_("địa chỉ"), max_length=255, blank=True)
    hotline = models.CharField(_("đường dây nóng"), max_length=20, blank=True)
    is_active = models.BooleanField(_("đang hoạt động"), default=True)

    objects = FacilityQuerySet.as_manager()

    class Meta:
        verbose_name = _("cơ sở y tế")
        verbose_name_plural = _("cơ sở y tế")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A save that may write `path` (a new facility, a full save, update_fields naming it) keeps the tree's
        closure in the same transaction, under the tree's lock (facilities.tree); any other save is Django's."""
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "path" not in update_fields:
            super().save(*args, **kwargs)
            return
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using, savepoint=False):
            tree.lock(type(self), using)
            super().save(*args, **kwargs)
            tree.sync(type(self), FacilityClosure, using)


class FacilityClosure(models.Model):
    """The facility tree's closure: `descendant` is in `ancestor`'s subtree (its path starts with the
    ancestor's; each facility is in its own). Written only by facilities.tree.sync, from the paths; read by the
    token look-up (api/sql/tokens.py) by the ancestor's key, as the unique index's prefix."""

    ancestor = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="+", db_index=False)
    descendant = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ancestor", "descendant"], name="facility_closure_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.descendant_id} under {self.ancestor_id}"


class StationWard(models.Model):
    """A ward (phường/xã/đặc khu) served by a station. One ward, one station."""

    station = models.ForeignKey(
        Facility, verbose_name=_("trạm y tế"), on_delete=models.CASCADE, related_name="wards"
    )
    ward_code = models.PositiveIntegerField(_("mã phường/xã"), unique=True)
    ward_name = models.CharField(_("tên phường/xã"), max_length=120)
    province_code = models.PositiveIntegerField(_("mã tỉnh/thành phố"))

    class Meta:
        verbose_name = _("địa bàn phụ trách")
        verbose_name_plural = _("địa bàn phụ trách")
        ordering = ["ward_name"]

    def __str__(self) -> str:
        return f"{self.ward_name} → {self.station}"


class Membership(BaseModel):
    """A staff member's role at a facility. The role applies to that facility and everything under it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("nhân viên"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    facility = models.ForeignKey(
        Facility, verbose_name=_("cơ sở"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("vai trò"), max_length=32, choices=Role.choices)
    is_active = models.BooleanField(_("còn hiệu lực"), default=True)

    class Meta:
        verbose_name = _("phân công nhân viên")
        verbose_name_plural = _("phân công nhân viên")
        constraints = [models.UniqueConstraint(fields=["user", "facility", "role"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} — {self.facility}"
