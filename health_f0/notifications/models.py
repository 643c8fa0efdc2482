"""The persisted outbox: every SMS is a row first, sent later by a background job, retried until delivered."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from health_f0.core.models import BaseModel
from health_f0.core.phone import mask_phone


class MessageKind(models.TextChoices):
    OTP = "otp", _("Mã OTP")
    ACCOUNT = "account", _("Cấp tài khoản")
    REGISTRATION_RECEIVED = "registration_received", _("Đã nhận đăng ký")
    REGISTRATION_REJECTED = "registration_rejected", _("Từ chối đăng ký")
    REMINDER = "reminder", _("Nhắc khai báo")
    STAFF_ALERT = "staff_alert", _("Báo nhân viên y tế")
    APPOINTMENT = "appointment", _("Lịch hẹn khám")
    APPOINTMENT_REMINDER = "appointment_reminder", _("Nhắc lịch hẹn, tái khám")
    GENERIC = "generic", _("Khác")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Chờ gửi")
    # An attempt was recorded and the gateway called; its answer is not known yet (the worker is waiting
    # for it, or died waiting). Never sent again before the gateway is asked whether it took it.
    SENDING = "sending", _("Đang gửi, chờ xác nhận")
    SENT = "sent", _("Đã gửi tới nhà mạng")
    DELIVERED = "delivered", _("Đã đến máy")
    FAILED = "failed", _("Gửi lỗi, sẽ thử lại")
    DEAD = "dead", _("Không gửi được")
    EXPIRED = "expired", _("Hết hạn, không gửi")
    # A Zalo ZNS message replaced by an SMS (no Zalo on the phone, refused, or no delivery report in time):
    # final; its `fallback` is the SMS that carries the text.
    FELL_BACK = "fell_back", _("Đã chuyển sang SMS")


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    ZNS = "zns", _("Zalo ZNS")


class OutboxMessage(BaseModel):
    """One message: an SMS, or a Zalo ZNS template message whose `body` is the SMS text it falls back to.
    A message carrying a secret (OTP, password) keeps its body only encrypted, only until sent (always SMS)."""

    channel = models.CharField(_("kênh"), max_length=8, choices=Channel.choices, default=Channel.SMS)
    kind = models.CharField(_("loại tin"), max_length=32, choices=MessageKind.choices)
    to = models.CharField(_("người nhận"), max_length=16, db_index=True, help_text=_("E.164"))
    body = models.TextField(_("nội dung"), blank=True)
    body_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    is_secret = models.BooleanField(_("chứa thông tin bảo mật"), default=False)
    segments = models.PositiveSmallIntegerField(_("số tin"), default=1)
    # What the gateway bills: segments x SMS_COST_PER_SEGMENT_VND at the time the message was queued, or
    # ZNS_COST_VND for a ZNS message (0 once Zalo refused it: a refused template message is not billed).
    cost_vnd = models.PositiveIntegerField(_("chi phí (đồng)"), default=0)
    status = models.CharField(
        _("trạng thái"),
        max_length=12,
        choices=MessageStatus.choices,
        default=MessageStatus.QUEUED,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(_("số lần gửi"), default=0)
    # The request id sent to the gateway for the current attempt (eSMS's RequestId). The same id is sent
    # again only when the gateway said it never got the message; once it answered about it, a new one.
    attempt_id = models.CharField(_("mã lần gửi"), max_length=64, blank=True, db_index=True)
    attempt_started_at = models.DateTimeField(_("bắt đầu lần gửi lúc"), null=True, blank=True)
    # How many times the gateway was asked about an attempt whose result was unknown.
    status_checks = models.PositiveSmallIntegerField(_("số lần hỏi lại cổng gửi"), default=0)
    next_attempt_at = models.DateTimeField(_("gửi lại lúc"), null=True, blank=True, db_index=True)
    expires_at = models.DateTimeField(_("hết hạn lúc"), null=True, blank=True)
    sent_at = models.DateTimeField(_("gửi lúc"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("đến máy lúc"), null=True, blank=True)
    last_error = models.CharField(_("lỗi gần nhất"), max_length=255, blank=True)
    gateway = models.CharField(_("cổng gửi"), max_length=16, blank=True)
    provider_message_id = models.CharField(
        _("mã tin của nhà cung cấp"), max_length=64, blank=True, db_index=True
    )
    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("cơ sở"), null=True, blank=True, on_delete=models.SET_NULL
    )
    # What the message is about, for the record page ("registration:17").
    subject_ref = models.CharField(_("liên quan"), max_length=64, blank=True, db_index=True)
    # ZNS only: the approved template and its parameters (no secret ever goes by ZNS).
    template_id = models.CharField(_("mã mẫu ZNS"), max_length=32, blank=True)
    template_data = models.JSONField(_("tham số mẫu ZNS"), default=dict, blank=True)
    # ZNS only: when, without a delivery report, the text is sent by SMS instead.
    fallback_at = models.DateTimeField(_("chuyển SMS lúc"), null=True, blank=True, db_index=True)
    # On the SMS that replaced a ZNS message: that message. One-to-one, so a ZNS message can never get two
    # fallback SMS, whichever workers race to make it.
    fallback_for = models.OneToOneField(
        "self",
        verbose_name=_("gửi thay tin ZNS"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fallback",
    )

    class Meta:
        verbose_name = _("tin nhắn đi")
        verbose_name_plural = _("hộp thư đi (SMS)")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {mask_phone(self.to)}"

    @property
    def body_for_staff(self) -> str:
        return "••• nội dung bảo mật (mã OTP/mật khẩu) không hiển thị •••" if self.is_secret else self.body


class ContactPreference(models.Model):
    """How the holder of a phone number wants notices: SMS (the default, also without a row) or Zalo ZNS.

    Kept by phone number, not by person: a notice goes to a number, and a family sharing one phone shares
    the choice. Set by the account holder in the portal (ca-nhan) or the API (/me/notification-channel)."""

    phone = models.CharField(_("số điện thoại"), max_length=16, unique=True, help_text=_("E.164"))
    channel = models.CharField(_("kênh nhận tin"), max_length=8, choices=Channel.choices, default=Channel.SMS)
    updated_at = models.DateTimeField(_("cập nhật lúc"), auto_now=True)

    class Meta:
        verbose_name = _("kênh nhận tin")
        verbose_name_plural = _("kênh nhận tin")

    def __str__(self) -> str:
        return f"{mask_phone(self.phone)}: {self.channel}"


class ZnsToken(models.Model):
    """The Zalo OA access token and its refresh token, both encrypted (notifications.crypto). One row.

    Zalo's access token lives about 25 hours and each refresh returns a new refresh token (the old one is
    spent), so both are kept here rather than in settings; ZNS_REFRESH_TOKEN only seeds the first refresh."""

    name = models.CharField(max_length=16, unique=True, default="oa")
    access_token_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    refresh_token_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("mã truy cập Zalo OA")
        verbose_name_plural = _("mã truy cập Zalo OA")

    def __str__(self) -> str:
        return f"Zalo OA token (expires {self.expires_at})"


class OutboxAlert(BaseModel):
    """A period during which the outbox's oldest waiting message was older than OUTBOX_ALERT_MINUTES.

    Raised once (the province's administrators are texted once, not every minute) and cleared when the
    backlog is back under the threshold; both are audited. At most one is open at a time.
    """

    raised_at = models.DateTimeField(_("phát hiện lúc"), db_index=True)
    cleared_at = models.DateTimeField(_("hết lúc"), null=True, blank=True, db_index=True)
    threshold_minutes = models.PositiveIntegerField(_("ngưỡng (phút)"))
    oldest_age_minutes = models.PositiveIntegerField(_("tin chờ lâu nhất (phút)"))
    peak_age_minutes = models.PositiveIntegerField(_("lâu nhất trong đợt (phút)"))
    waiting_count = models.PositiveIntegerField(_("số tin đang chờ"))
    administrators_notified = models.PositiveSmallIntegerField(_("số quản trị được báo"), default=0)

    class Meta:
        verbose_name = _("cảnh báo hộp thư đi")
        verbose_name_plural = _("cảnh báo hộp thư đi")
        ordering = ["-raised_at"]

    def __str__(self) -> str:
        return f"outbox > {self.threshold_minutes} min since {self.raised_at:%Y-%m-%d %H:%M}"


class EarlyDeliveryReport(models.Model):
    """A gateway delivery report that arrived before its message was recorded as sent.

    eSMS can call back while our sender still holds the message row (the gateway answered, our commit
    has not landed yet), so the report matches nothing. It waits here and is applied as soon as the
    message is saved as sent, or by the minute sweep; one that never matches is dropped after
    EARLY_REPORT_KEEP_DAYS. Holds no message text or phone number.
    """

    provider_message_id = models.CharField(max_length=64, blank=True, db_index=True)
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    delivered = models.BooleanField()
    error = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("báo cáo gửi tin đến sớm")
        verbose_name_plural = _("báo cáo gửi tin đến sớm")

    def __str__(self) -> str:
        return self.provider_message_id or self.reference
