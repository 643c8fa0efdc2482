"""Personal-data rights (Law 91/2025/QH15, Decree 356/2025/NĐ-CP): the published policy versions, every
consent given or withdrawn with the version and the channel, the data subject's requests (withdrawal,
deletion) with their workflow, the restriction kept on medical records that must outlive a deletion, the
patient's data exports, and one row per run of each retention job."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from health_f0.core.models import BaseModel
from health_f0.core.phone import mask_phone


class PrivacyPolicy(BaseModel):
    """One published version of the personal-data policy. The version in force is the newest whose
    `effective_from` has come; published rows are never edited (a change is a new version)."""

    version = models.CharField(_("phiên bản"), max_length=16, unique=True)
    effective_from = models.DateTimeField(_("hiệu lực từ"))
    summary = models.TextField(
        _("tóm tắt thay đổi"),
        blank=True,
        help_text=_("Người dùng đọc đoạn này khi được hỏi đồng ý lại với phiên bản mới."),
    )
    body = models.TextField(
        _("nội dung chính sách"),
        blank=True,
        help_text=_(
            "Để trống để dùng nội dung chuẩn của hệ thống (có bản tiếng Anh). Mỗi đoạn cách nhau một dòng trống."
        ),
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("người công bố"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("chính sách bảo vệ dữ liệu")
        verbose_name_plural = _("chính sách bảo vệ dữ liệu")
        ordering = ["-effective_from", "-id"]

    def __str__(self) -> str:
        return f"{self.version} ({self.effective_from:%d/%m/%Y})"


class ConsentAction(models.TextChoices):
    GIVEN = "given", _("Đồng ý")
    WITHDRAWN = "withdrawn", _("Rút lại sự đồng ý")


class ConsentChannel(models.TextChoices):
    """Where personal data was collected (or consent changed)."""

    REGISTRATION_WEB = "registration_web", _("Đăng ký F0 trên cổng thông tin")
    REGISTRATION_APP = "registration_app", _("Đăng ký F0 trên ứng dụng")
    REGISTRATION_DESK = "registration_desk", _("Đăng ký F0 tại trạm y tế")
    SIGNUP = "signup", _("Mở tài khoản")
    GUEST_BOOKING_WEB = "guest_booking_web", _("Đặt lịch không tài khoản (cổng thông tin)")
    GUEST_BOOKING_APP = "guest_booking_app", _("Đặt lịch không tài khoản (ứng dụng)")
    PHONE_BOOKING = "phone_booking", _("Đặt lịch qua điện thoại")
    HIS_LINK_WEB = "his_link_web", _("Liên kết hồ sơ bệnh viện (cổng thông tin)")
    HIS_LINK_APP = "his_link_app", _("Liên kết hồ sơ bệnh viện (ứng dụng)")
    PORTAL = "portal", _("Cổng thông tin (đăng nhập)")
    APP = "app", _("Ứng dụng di động")
    DESK = "desk", _("Bàn làm việc của nhân viên")


class ConsentMethod(models.TextChoices):
    CHECKBOX = "checkbox", _("Tự đánh dấu ô đồng ý")
    ORAL = "oral", _("Đồng ý bằng lời qua điện thoại (nhân viên ghi nhận)")
    STAFF_ENTERED = "staff_entered", _("Nhân viên nhập theo phiếu/lời người bệnh")
    SUBMIT = "submit", _("Gửi biểu mẫu có ghi rõ lời đồng ý")
    ACCOUNT = "account", _("Thao tác của tài khoản (rút lại sự đồng ý)")


class ConsentRecord(BaseModel):
    """One consent event. Append-only: a withdrawal is a new row, never an edit. `phone` is the
    OTP-verified (or called) number of whoever consented; `user`/`patient` are set when known."""

    action = models.CharField(_("hành động"), max_length=10, choices=ConsentAction.choices)
    policy_version = models.CharField(_("phiên bản chính sách"), max_length=16, db_index=True)
    channel = models.CharField(_("kênh"), max_length=24, choices=ConsentChannel.choices)
    method = models.CharField(_("cách ghi nhận"), max_length=16, choices=ConsentMethod.choices)
    phone = models.CharField(_("số điện thoại"), max_length=16, blank=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("tài khoản"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_records",
    )
    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("người bệnh"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_records",
    )
    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("cơ sở"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("nhân viên ghi nhận"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # What the consent came with ("registration.registration:17").
    source = models.CharField(_("gắn với"), max_length=80, blank=True)
    ip_address = models.GenericIPAddressField(_("địa chỉ IP"), null=True, blank=True)

    class Meta:
        verbose_name = _("ghi nhận đồng ý")
        verbose_name_plural = _("ghi nhận đồng ý xử lý dữ liệu")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.policy_version} · {mask_phone(self.phone)}"


class RequestKind(models.TextChoices):
    WITHDRAW = "withdraw", _("Rút lại sự đồng ý, ngừng xử lý dữ liệu")
    DELETE = "delete", _("Xoá dữ liệu cá nhân")


class RequestStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Chờ xử lý")
    COMPLETED = "completed", _("Đã thực hiện")
    REJECTED = "rejected", _("Từ chối")
    CANCELLED = "cancelled", _("Người yêu cầu đã huỷ")


class RequestChannel(models.TextChoices):
    PORTAL = "portal", _("Cổng thông tin")
    APP = "app", _("Ứng dụng di động")
    DESK = "desk", _("Tại cơ sở y tế")


class DataSubjectRequest(BaseModel):
    """A data subject's request to withdraw consent or delete their data, handled by the facility that
    manages the patient (the station for home care, the TTYT for appointments and HIS)."""

    kind = models.CharField(_("loại yêu cầu"), max_length=10, choices=RequestKind.choices)
    status = models.CharField(
        _("trạng thái"), max_length=10, choices=RequestStatus.choices, default=RequestStatus.SUBMITTED
    )
    channel = models.CharField(_("kênh"), max_length=8, choices=RequestChannel.choices)
    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("người bệnh"),
        on_delete=models.PROTECT,
        related_name="data_requests",
    )
    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("cơ sở xử lý"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("tài khoản gửi yêu cầu"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="data_requests",
    )
    reason = models.CharField(_("lý do của người yêu cầu"), max_length=500, blank=True)
    due_at = models.DateTimeField(_("hạn trả lời"), db_index=True)
    decided_at = models.DateTimeField(_("xử lý lúc"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("người xử lý"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decision_note = models.CharField(_("lý do quyết định"), max_length=500, blank=True)
    # What was done, by kind of data: {"deleted": {...}, "anonymised": {...}, "restricted": {...}}.
    outcome = models.JSONField(_("kết quả thực hiện"), default=dict, blank=True)
    # What the patient reads on the portal (and, shortened, by SMS).
    outcome_message = models.TextField(_("thông báo cho người yêu cầu"), blank=True)

    class Meta:
        verbose_name = _("yêu cầu của chủ thể dữ liệu")
        verbose_name_plural = _("yêu cầu xoá/rút đồng ý")
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["facility", "status", "due_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.patient}"


class ProcessingRestriction(BaseModel):
    """A patient whose medical records must be kept for their legal period after a withdrawal or deletion:
    stored, not used. Clinical staff may still read them (a complaint, an inspection, a new visit)."""

    patient = models.OneToOneField(
        "patients.Patient",
        verbose_name=_("người bệnh"),
        on_delete=models.CASCADE,
        related_name="processing_restriction",
    )
    request = models.ForeignKey(
        DataSubjectRequest,
        verbose_name=_("theo yêu cầu"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    retain_until = models.DateField(_("lưu trữ đến"))
    reason = models.CharField(_("căn cứ"), max_length=300)

    class Meta:
        verbose_name = _("hạn chế xử lý")
        verbose_name_plural = _("hạn chế xử lý")

    def __str__(self) -> str:
        return f"{self.patient} → {self.retain_until:%d/%m/%Y}"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Đang chờ")
    RUNNING = "running", _("Đang tạo")
    READY = "ready", _("Sẵn sàng tải về")
    FAILED = "failed", _("Không tạo được")


class DataExport(BaseModel):
    """A readable PDF of everything held about an account's patients, built in the background (a long
    history takes longer than a request may). The file lives outside MEDIA_ROOT and is served only to the
    account that asked, until `expires_at`."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("tài khoản"),
        on_delete=models.CASCADE,
        related_name="data_exports",
    )
    patient_ids = models.JSONField(_("người bệnh"), default=list)
    status = models.CharField(
        _("trạng thái"), max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("tiến độ (%)"), default=0)
    file_name = models.CharField(max_length=120, blank=True, editable=False)
    size_bytes = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=255, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(_("hết hạn lúc"), db_index=True)

    class Meta:
        verbose_name = _("bản sao dữ liệu")
        verbose_name_plural = _("bản sao dữ liệu")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"PDF {self.created_at:%d/%m/%Y %H:%M} ({self.get_status_display()})"


class RetentionRun(models.Model):
    """One run of a retention job: what it removed, by kind. The audit row of the run points here."""

    kind = models.CharField(_("loại dữ liệu"), max_length=24, db_index=True)
    started_at = models.DateTimeField(_("bắt đầu"), auto_now_add=True)
    finished_at = models.DateTimeField(_("kết thúc"), null=True, blank=True)
    cutoff = models.DateTimeField(_("xoá dữ liệu trước"), null=True, blank=True)
    counts = models.JSONField(_("số bản ghi"), default=dict, blank=True)
    error = models.CharField(_("lỗi"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("lượt chạy lưu giữ dữ liệu")
        verbose_name_plural = _("lượt chạy lưu giữ dữ liệu")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.started_at:%d/%m/%Y %H:%M}"
