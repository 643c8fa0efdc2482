"""A manager's subscription to a report, and one delivery row per subscription and period.

`ReportDelivery` is unique on (subscription, period_start, sequence): the scheduled delivery of a period is
sequence 0, so however many workers look at a due subscription at once, a period is delivered once. A "send
now" from the desk is a new row of the same period with the next sequence (1, 2, ...), recorded with who asked.
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from health_f0.core.models import BaseModel


class Period(models.TextChoices):
    DAILY = "daily", _("Hằng ngày (số liệu hôm qua)")
    WEEKLY = "weekly", _("Hằng tuần (tuần trước, thứ Hai–Chủ nhật)")
    MONTHLY = "monthly", _("Hằng tháng (tháng trước)")


class Format(models.TextChoices):
    HTML = "html", _("Tóm tắt trong nội dung e-mail")
    XLSX = "xlsx", _("Tệp Excel (XLSX) đính kèm")
    PDF = "pdf", _("Tệp PDF đính kèm")


class DeliveryState(models.TextChoices):
    QUEUED = "queued", _("Chờ gửi")
    SENDING = "sending", _("Đang gửi")
    SENT = "sent", _("Đã gửi")
    FAILED = "failed", _("Gửi lỗi")


class ReportSubscription(BaseModel):
    """Who gets which report, for which facility, how often, in which format, at what time (local time)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("người đăng ký"),
        on_delete=models.CASCADE,
        related_name="report_subscriptions",
    )
    name = models.CharField(_("tên"), max_length=120, blank=True)
    # A key of the report registry (reports.subscriptions.registry); not a choices field, so that a new
    # report (payments) plugs in without a migration.
    report = models.CharField(_("báo cáo"), max_length=32)
    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("phạm vi (cơ sở)"),
        on_delete=models.PROTECT,
        related_name="report_subscriptions",
    )
    period = models.CharField(_("chu kỳ"), max_length=8, choices=Period.choices, default=Period.DAILY)
    format = models.CharField(_("định dạng"), max_length=8, choices=Format.choices, default=Format.HTML)
    send_time = models.TimeField(_("giờ gửi"), default=time(7, 0))
    # Addresses besides the owner's own account e-mail (always a recipient), comma-separated, lower case.
    recipients = models.TextField(_("người nhận khác"), blank=True)
    is_active = models.BooleanField(_("đang bật"), default=True)
    # Why the last period was not sent (the owner lost the right to the report or the facility); cleared when
    # a delivery goes out again.
    blocked_reason = models.CharField(_("lý do không gửi"), max_length=300, blank=True)
    blocked_at = models.DateTimeField(_("không gửi từ"), null=True, blank=True)

    class Meta:
        verbose_name = _("đăng ký nhận báo cáo")
        verbose_name_plural = _("đăng ký nhận báo cáo")
        indexes = [models.Index(fields=["is_active", "send_time"], name="subs_active_time")]

    def __str__(self) -> str:
        return self.name or f"{self.report} — {self.facility_id}"

    @property
    def extra_recipients(self) -> list[str]:
        return [part for part in (self.recipients or "").split(",") if part]


class ReportDelivery(BaseModel):
    """One sending of one period of a subscription: queued → sending → sent, or failed (retried with back-off
    until MAX_ATTEMPTS; `next_attempt_at` empty means it will not be retried)."""

    subscription = models.ForeignKey(
        ReportSubscription, verbose_name=_("đăng ký"), on_delete=models.CASCADE, related_name="deliveries"
    )
    period_start = models.DateField(_("từ ngày"))
    period_end = models.DateField(_("đến ngày"))
    # 0: the scheduled delivery of the period; 1, 2, ...: "Gửi thử ngay" from the desk.
    sequence = models.PositiveSmallIntegerField(_("lần gửi tay"), default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("người bấm gửi"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    state = models.CharField(
        _("trạng thái gửi"), max_length=8, choices=DeliveryState.choices, default=DeliveryState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("số lần thử"), default=0)
    last_error = models.CharField(_("lỗi gần nhất"), max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(_("thử lại lúc"), null=True, blank=True)
    attempt_started_at = models.DateTimeField(_("bắt đầu lần gửi lúc"), null=True, blank=True)
    sent_at = models.DateTimeField(_("gửi lúc"), null=True, blank=True)
    sent_to = models.TextField(_("đã gửi tới"), blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("lần gửi báo cáo")
        verbose_name_plural = _("lần gửi báo cáo")
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start", "sequence"], name="subs_delivery_once_per_period"
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="subs_delivery_due")]

    def __str__(self) -> str:
        return f"{self.subscription} {self.period_start:%d/%m/%Y}–{self.period_end:%d/%m/%Y}"
