"""Base model, the user model and the audit trail shared by every domain app."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class BaseModel(models.Model):
    """Integer key for joins, a random public id for URLs and the API, timestamps."""

    public_id = models.UUIDField(_("mã công khai"), default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(_("tạo lúc"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("cập nhật lúc"), auto_now=True)

    class Meta:
        abstract = True


class User(AbstractUser):
    """Staff and patients alike log in as a User; what they may see comes from facilities.access."""

    must_change_password = models.BooleanField(
        _("phải đổi mật khẩu"),
        default=False,
        help_text=_("Bật khi mật khẩu được hệ thống cấp qua SMS; tắt khi người dùng tự đặt mật khẩu."),
    )
    phone = models.CharField(_("số điện thoại"), max_length=16, blank=True, help_text=_("Định dạng E.164"))

    class Meta:
        verbose_name = _("người dùng")
        verbose_name_plural = _("người dùng")


class AuditLog(models.Model):
    """Who did what to which record and when. Append-only: never edited, never deleted by the app."""

    class Action(models.TextChoices):
        VIEW = "view", _("Xem")
        CREATE = "create", _("Tạo")
        UPDATE = "update", _("Sửa")
        TRANSITION = "transition", _("Chuyển trạng thái")
        DELETE = "delete", _("Xoá")
        LOGIN = "login", _("Đăng nhập")
        EXPORT = "export", _("Xuất dữ liệu")
        ALERT = "alert", _("Cảnh báo")

    created_at = models.DateTimeField(_("thời điểm"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("người thực hiện"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(_("người thực hiện (tên)"), max_length=150, blank=True)
    action = models.CharField(_("hành động"), max_length=16, choices=Action.choices)
    verb = models.CharField(_("thao tác"), max_length=64, help_text=_("ví dụ: accept, reject, transfer"))
    target_type = models.CharField(_("loại bản ghi"), max_length=64, db_index=True)
    target_id = models.CharField(_("mã bản ghi"), max_length=64, db_index=True)
    target_repr = models.CharField(_("bản ghi"), max_length=255, blank=True)
    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("cơ sở"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    data = models.JSONField(_("chi tiết"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("địa chỉ IP"), null=True, blank=True)

    class Meta:
        verbose_name = _("nhật ký truy cập và thao tác")
        verbose_name_plural = _("nhật ký truy cập và thao tác")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%d/%m/%Y %H:%M} {self.actor_label} {self.verb} {self.target_repr}"


class RateCounter(models.Model):
    """A rate-limit counter shared by every process when there is no Redis (and while Redis is down).

    One row per counter name; `count` restarts when `expires_at` has passed. Written only by
    health_f0.core.counters (an atomic upsert); expired rows are purged by a periodic task.
    """

    name = models.CharField(_("tên"), max_length=255, unique=True)
    count = models.PositiveIntegerField(_("số lần"), default=0)
    expires_at = models.DateTimeField(_("hết hạn lúc"), db_index=True)

    class Meta:
        verbose_name = _("bộ đếm giới hạn tần suất")
        verbose_name_plural = _("bộ đếm giới hạn tần suất")

    def __str__(self) -> str:
        return f"{self.name}: {self.count}"
