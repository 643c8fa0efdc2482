"""Payments: what a patient pays a facility online (a booking's examination fee, their share of a visit's bill),
through which gateway, with every callback the gateways sent (the accountant's log), the refunds, each
facility's gateway accounts (keys encrypted at rest) and each service's price and prepayment rule.

A payment is a row before the patient leaves for the gateway (`reference` is ours, unique, and is what the
gateway echoes back); its status changes only through `payments.transitions.PAYMENT_WORKFLOW`, applied by
`payments.services` under the row's lock, so a callback repeated, reordered or replayed changes it once.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from health_f0.core.models import BaseModel


def new_reference(prefix: str = "") -> str:
    """A fresh reference: local date (yymmdd) + 9 random digits = 15 digits. Digits only, because payOS takes
    its orderCode as an integer (at most 2^53) and VNPay/MoMo take any ASCII; the date helps the accountant."""
    return f"{prefix}{timezone.localtime():%y%m%d}{secrets.randbelow(10**9):09d}"


class GatewayName(models.TextChoices):
    VNPAY = "vnpay", _("VNPay")
    MOMO = "momo", _("Ví MoMo")
    VIETQR = "vietqr", _("Chuyển khoản VietQR")


class Purpose(models.TextChoices):
    BOOKING_FEE = "booking_fee", _("Phí khám khi đặt lịch")
    VISIT_BILL = "visit_bill", _("Viện phí lượt khám")


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Mới tạo")
    PENDING = "pending", _("Đang chờ thanh toán")
    PAID = "paid", _("Đã thanh toán")
    FAILED = "failed", _("Không thành công")
    EXPIRED = "expired", _("Quá hạn")
    CANCELLED = "cancelled", _("Đã huỷ")
    REFUND_PENDING = "refund_pending", _("Đang hoàn tiền")
    REFUNDED = "refunded", _("Đã hoàn tiền")
    REFUND_FAILED = "refund_failed", _("Hoàn tiền không thành công")


# The money is with the facility (or on its way back to the patient).
MONEY_IN_STATUSES: tuple[str, ...] = (
    PaymentStatus.PAID,
    PaymentStatus.REFUND_PENDING,
    PaymentStatus.REFUND_FAILED,
)
# Still waiting for the patient or the gateway.
OPEN_STATUSES: tuple[str, ...] = (PaymentStatus.CREATED, PaymentStatus.PENDING)


class Payment(BaseModel):
    """One attempt to pay one amount through one gateway."""

    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("cơ sở"), on_delete=models.PROTECT, related_name="payments"
    )
    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("người bệnh"), on_delete=models.PROTECT, related_name="payments"
    )
    purpose = models.CharField(_("khoản thanh toán"), max_length=12, choices=Purpose.choices)
    appointment = models.ForeignKey(
        "appointments.Appointment",
        verbose_name=_("lịch hẹn"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    visit = models.ForeignKey(
        "his.HisVisit",
        verbose_name=_("lượt khám"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    amount = models.PositiveBigIntegerField(_("số tiền (đồng)"))
    gateway = models.CharField(_("cổng thanh toán"), max_length=8, choices=GatewayName.choices)
    reference = models.CharField(_("mã thanh toán"), max_length=32, unique=True, editable=False)
    gateway_ref = models.CharField(_("mã giao dịch của cổng"), max_length=64, blank=True)
    gateway_code = models.CharField(_("mã kết quả của cổng"), max_length=16, blank=True)
    status = models.CharField(
        _("trạng thái"), max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    description = models.CharField(_("nội dung"), max_length=100, blank=True)
    redirect_url = models.TextField(_("địa chỉ trang thanh toán"), blank=True, editable=False)
    qr_payload = models.TextField(_("mã QR"), blank=True, editable=False)
    failure = models.CharField(_("lý do không thành công"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paid_at = models.DateTimeField(_("thanh toán lúc"), null=True, blank=True)
    expires_at = models.DateTimeField(_("hết hạn lúc"))
    closed_at = models.DateTimeField(_("kết thúc lúc"), null=True, blank=True)
    last_query_at = models.DateTimeField(_("tra cứu cổng lần cuối"), null=True, blank=True)

    class Meta:
        verbose_name = _("thanh toán")
        verbose_name_plural = _("thanh toán")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["facility", "status", "created_at"]),
            models.Index(fields=["patient", "created_at"]),
            models.Index(fields=["gateway", "gateway_ref"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=(
                    models.Q(purpose="booking_fee", appointment__isnull=False)
                    | models.Q(purpose="visit_bill", visit__isnull=False)
                ),
                name="payment_purpose_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount:,}đ ({self.get_status_display()})".replace(",", ".")

    @property
    def is_paid(self) -> bool:
        """The money reached the facility (even if it is now on its way back)."""
        return self.status in MONEY_IN_STATUSES or self.status == PaymentStatus.REFUNDED


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Đang xử lý")
    DONE = "done", _("Đã hoàn")
    FAILED = "failed", _("Không thành công")


class Refund(BaseModel):
    """Money given back for a paid payment through its gateway's refund call. A failed refund stays here
    (and its payment in refund_failed) for the accountant; retrying reuses the same reference, so a refund the
    gateway took but whose answer was lost is never paid twice."""

    payment = models.ForeignKey(
        Payment, verbose_name=_("thanh toán"), on_delete=models.PROTECT, related_name="refunds"
    )
    amount = models.PositiveBigIntegerField(_("số tiền hoàn (đồng)"))
    reference = models.CharField(_("mã hoàn tiền"), max_length=32, unique=True, editable=False)
    gateway_ref = models.CharField(_("mã giao dịch hoàn của cổng"), max_length=64, blank=True)
    gateway_code = models.CharField(_("mã kết quả của cổng"), max_length=16, blank=True)
    status = models.CharField(
        _("trạng thái"), max_length=8, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    reason = models.CharField(_("lý do hoàn tiền"), max_length=300)
    failure = models.CharField(_("lỗi"), max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(_("số lần gửi"), default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(_("yêu cầu lúc"))
    finished_at = models.DateTimeField(_("hoàn xong lúc"), null=True, blank=True)

    class Meta:
        verbose_name = _("hoàn tiền")
        verbose_name_plural = _("hoàn tiền")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "requested_at"])]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount:,}đ ({self.get_status_display()})".replace(",", ".")


class EventKind(models.TextChoices):
    IPN = "ipn", _("IPN (máy chủ cổng gọi)")
    RETURN = "return", _("Trình duyệt quay về")
    WEBHOOK = "webhook", _("Webhook ngân hàng")
    QUERY = "query", _("Tra cứu")
    REFUND = "refund", _("Hoàn tiền")
    CANCEL = "cancel", _("Huỷ liên kết thanh toán")


class EventResult(models.TextChoices):
    APPLIED = "ok", _("Đã ghi nhận")
    ALREADY = "already", _("Đã ghi nhận trước đó")
    NOT_FOUND = "not_found", _("Không tìm thấy thanh toán")
    BAD_AMOUNT = "bad_amount", _("Sai số tiền")
    BAD_SIGNATURE = "bad_signature", _("Sai chữ ký")
    WRONG_FACILITY = "wrong_facility", _("Không phải của cơ sở này")
    ERROR = "error", _("Lỗi")
    INFO = "info", _("Chỉ ghi nhận")


class PaymentEvent(models.Model):
    """Every answer a gateway gave us (callbacks, queries, refunds), applied or refused: the accountant's log.
    Append-only. The payload is kept without its signature field."""

    received_at = models.DateTimeField(_("nhận lúc"), default=timezone.now, db_index=True)
    gateway = models.CharField(_("cổng thanh toán"), max_length=8, choices=GatewayName.choices)
    kind = models.CharField(_("loại"), max_length=8, choices=EventKind.choices)
    reference = models.CharField(_("mã thanh toán"), max_length=64, blank=True, db_index=True)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    facility = models.ForeignKey(
        "facilities.Facility", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified = models.BooleanField(_("chữ ký hợp lệ"), default=False)
    result = models.CharField(_("kết quả xử lý"), max_length=16, choices=EventResult.choices)
    gateway_code = models.CharField(_("mã kết quả của cổng"), max_length=16, blank=True)
    amount = models.BigIntegerField(_("số tiền (đồng)"), null=True, blank=True)
    payload = models.JSONField(_("nội dung (không gồm chữ ký)"), default=dict, blank=True)
    remote_ip = models.GenericIPAddressField(_("địa chỉ gửi"), null=True, blank=True)

    class Meta:
        verbose_name = _("sự kiện thanh toán")
        verbose_name_plural = _("sự kiện thanh toán")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["facility", "received_at"]),
            models.Index(fields=["result", "received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.kind} {self.reference} {self.result}"


class GatewayAccount(BaseModel):
    """A facility's merchant account at one gateway. The nearest facility up the tree that has an active
    account for a gateway offers it (a TTYT's account serves its clinics). Secrets are stored encrypted
    (payments.crypto) and never shown again after saving."""

    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("cơ sở"),
        on_delete=models.CASCADE,
        related_name="gateway_accounts",
    )
    gateway = models.CharField(_("cổng thanh toán"), max_length=8, choices=GatewayName.choices)
    is_active = models.BooleanField(_("đang nhận thanh toán"), default=True)
    merchant_code = models.CharField(
        _("mã đơn vị"), max_length=64, help_text=_("VNPay: vnp_TmnCode; MoMo: partnerCode; payOS: Client ID")
    )
    secret_encrypted = models.BinaryField(_("khoá bí mật (đã mã hoá)"), editable=False, default=b"")
    access_key_encrypted = models.BinaryField(_("khoá truy cập (đã mã hoá)"), editable=False, default=b"")
    api_url = models.URLField(_("địa chỉ tạo thanh toán"), max_length=300, blank=True)
    api_url_2 = models.URLField(_("địa chỉ tra cứu/hoàn tiền"), max_length=300, blank=True)
    bank_bin = models.CharField(_("mã BIN ngân hàng"), max_length=8, blank=True)
    account_number = models.CharField(_("số tài khoản nhận"), max_length=32, blank=True)
    account_name = models.CharField(_("tên tài khoản nhận"), max_length=100, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("tài khoản cổng thanh toán")
        verbose_name_plural = _("tài khoản cổng thanh toán")
        ordering = ["facility__path", "gateway"]
        constraints = [models.UniqueConstraint(fields=["facility", "gateway"], name="uniq_gateway_account")]

    def __str__(self) -> str:
        return f"{self.facility} — {self.get_gateway_display()}"


class Prepayment(models.TextChoices):
    NONE = "none", _("Không thu trước")
    OPTIONAL = "optional", _("Người bệnh có thể trả trước")
    REQUIRED = "required", _("Bắt buộc trả trước")


class ServicePaymentPolicy(models.Model):
    """A service's price and whether a booking pays it ahead (kept here so appointments need no migration)."""

    service = models.OneToOneField(
        "appointments.Service",
        verbose_name=_("dịch vụ"),
        on_delete=models.CASCADE,
        related_name="payment_policy",
    )
    price = models.PositiveBigIntegerField(_("giá khám (đồng)"), default=0)
    prepayment = models.CharField(
        _("thu trước khi đặt lịch"), max_length=8, choices=Prepayment.choices, default=Prepayment.NONE
    )
    pay_deadline_minutes = models.PositiveIntegerField(
        _("hạn thanh toán (phút sau khi đặt)"),
        default=30,
        help_text=_(
            "Bắt buộc trả trước: quá hạn này lịch chưa thanh toán được huỷ và người bệnh được nhắn tin."
        ),
    )

    class Meta:
        verbose_name = _("giá và thu trước của dịch vụ")
        verbose_name_plural = _("giá và thu trước của dịch vụ")

    def __str__(self) -> str:
        return f"{self.service}: {self.price:,}đ ({self.get_prepayment_display()})".replace(",", ".")
