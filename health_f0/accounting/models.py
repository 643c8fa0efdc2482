"""The accountant's daily reconciliation ("đối soát"): for one facility's account at one gateway and one day,
our paid payments against the gateway's settlement lines, each difference an item the accountant resolves
with a reason before the day can be closed.

A reconciliation belongs to the facility that holds the gateway account (payments.GatewayAccount): a TTYT's
account collects for its clinics, so its day covers the payments of its whole subtree except the facilities
below it with an account of their own.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from health_f0.core.models import BaseModel
from health_f0.payments.models import GatewayName


class Source(models.TextChoices):
    FILE = "file", _("Tệp đối soát của cổng")
    QUERY = "query", _("Tra cứu qua API của cổng")


class ReconciliationState(models.TextChoices):
    OPEN = "open", _("Đang đối soát")
    CLOSED = "closed", _("Đã chốt")


class Reconciliation(BaseModel):
    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("cơ sở"), on_delete=models.PROTECT, related_name="+"
    )
    gateway = models.CharField(_("cổng thanh toán"), max_length=8, choices=GatewayName.choices)
    day = models.DateField(_("ngày giao dịch"))
    source = models.CharField(_("nguồn số liệu của cổng"), max_length=8, choices=Source.choices)
    file_name = models.CharField(_("tên tệp"), max_length=200, blank=True)
    state = models.CharField(
        _("trạng thái"), max_length=8, choices=ReconciliationState.choices, default=ReconciliationState.OPEN
    )
    our_count = models.PositiveIntegerField(_("số giao dịch của cơ sở"), default=0)
    our_total = models.BigIntegerField(_("tổng tiền của cơ sở (đồng)"), default=0)
    their_count = models.PositiveIntegerField(_("số giao dịch của cổng"), default=0)
    their_total = models.BigIntegerField(_("tổng tiền của cổng (đồng)"), default=0)
    matched_count = models.PositiveIntegerField(_("khớp"), default=0)
    skipped_count = models.PositiveIntegerField(
        _("dòng bỏ qua"), default=0, help_text=_("Dòng hoàn tiền hoặc giao dịch không thành công trong tệp.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(_("chốt lúc"), null=True, blank=True)

    class Meta:
        verbose_name = _("đối soát ngày")
        verbose_name_plural = _("đối soát ngày")
        ordering = ["-day", "facility__path", "gateway"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "gateway", "day"], name="uniq_reconciliation_day")
        ]

    def __str__(self) -> str:
        return f"{self.get_gateway_display()} {self.day:%d/%m/%Y} — {self.facility}"


class ItemKind(models.TextChoices):
    MATCHED = "matched", _("Khớp")
    MISSING_OURS = "missing_ours", _("Cổng có, cơ sở không có")
    MISSING_THEIRS = "missing_theirs", _("Cơ sở có, cổng không có")
    AMOUNT_MISMATCH = "mismatch", _("Lệch số tiền")


DIFFERENCE_KINDS: tuple[str, ...] = (ItemKind.MISSING_OURS, ItemKind.MISSING_THEIRS, ItemKind.AMOUNT_MISMATCH)


class Resolution(models.TextChoices):
    MATCHED = "matched", _("Khớp (tự động)")
    GATEWAY_RIGHT = "gateway_right", _("Theo số liệu của cổng (đã điều chỉnh sổ)")
    OURS_RIGHT = "ours_right", _("Theo số liệu của cơ sở (đã báo cổng)")
    OTHER_DAY = "other_day", _("Giao dịch thuộc ngày khác")
    REFUNDED = "refunded", _("Đã hoàn trả cho người bệnh")
    OTHER = "other", _("Khác (ghi rõ lý do)")


# What an accountant may pick (MATCHED is the matcher's own).
RESOLUTION_CHOICES = [(value, label) for value, label in Resolution.choices if value != Resolution.MATCHED]


class ReconciliationItem(models.Model):
    reconciliation = models.ForeignKey(
        Reconciliation, verbose_name=_("đối soát"), on_delete=models.CASCADE, related_name="items"
    )
    kind = models.CharField(_("kết quả đối chiếu"), max_length=16, choices=ItemKind.choices)
    payment = models.ForeignKey(
        "payments.Payment",
        verbose_name=_("thanh toán"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    their_reference = models.CharField(_("mã thanh toán theo cổng"), max_length=64, blank=True)
    their_gateway_ref = models.CharField(_("mã giao dịch của cổng"), max_length=64, blank=True)
    their_amount = models.BigIntegerField(_("số tiền theo cổng"), null=True, blank=True)
    their_time = models.DateTimeField(_("thời gian theo cổng"), null=True, blank=True)
    our_amount = models.BigIntegerField(_("số tiền theo cơ sở"), null=True, blank=True)
    resolution = models.CharField(_("cách xử lý"), max_length=16, choices=Resolution.choices, blank=True)
    reason = models.CharField(_("lý do"), max_length=500, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(_("xử lý lúc"), null=True, blank=True)

    class Meta:
        verbose_name = _("dòng đối soát")
        verbose_name_plural = _("dòng đối soát")
        ordering = ["kind", "id"]
        indexes = [models.Index(fields=["reconciliation", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.their_reference or self.payment_id}"

    @property
    def is_open(self) -> bool:
        return not self.resolution
