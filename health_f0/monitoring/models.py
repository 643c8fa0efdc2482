"""Home-care episodes, the versioned questionnaire, daily declarations, triage rules, alerts, reminders,
guidance documents. Nothing COVID-specific is hard-coded: questions, thresholds and deadlines are rows."""

from __future__ import annotations

import uuid
from datetime import date, time

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from health_f0.core.models import BaseModel
from health_f0.monitoring import rules


class AlertLevel(models.TextChoices):
    NONE = "none", _("Bình thường")
    WATCH = "watch", _("Cần theo dõi")
    URGENT = "urgent", _("Cần liên hệ ngay")
    EMERGENCY = "emergency", _("Cấp cứu")


LEVEL_RANK = {AlertLevel.NONE: 0, AlertLevel.WATCH: 1, AlertLevel.URGENT: 2, AlertLevel.EMERGENCY: 3}


class ProvincePolicy(models.Model):
    """Per-province monitoring settings: deadline, reminder times, minimum isolation length."""

    province_code = models.PositiveIntegerField(_("mã tỉnh/thành phố"), unique=True)
    declaration_deadline = models.TimeField(_("hạn khai báo hằng ngày"), default=time(10, 0))
    reminder_times = models.JSONField(
        _("giờ nhắc khai báo"), default=list, help_text=_('ví dụ ["08:00", "09:30"]')
    )
    min_isolation_days = models.PositiveSmallIntegerField(_("số ngày cách ly tối thiểu"), default=7)
    escalate_after_silent_days = models.PositiveSmallIntegerField(
        _("báo trưởng trạm sau số ngày im lặng"), default=2
    )

    class Meta:
        verbose_name = _("cấu hình theo dõi của tỉnh")
        verbose_name_plural = _("cấu hình theo dõi của tỉnh")

    def __str__(self) -> str:
        return f"{self.province_code}: hạn {self.declaration_deadline:%H:%M}"


class EpisodeStatus(models.TextChoices):
    ACTIVE = "active", _("Đang theo dõi")
    COMPLETED = "completed", _("Hoàn thành cách ly")
    TRANSFERRED = "transferred", _("Chuyển viện")
    CLOSED = "closed", _("Đóng hồ sơ")


class Episode(BaseModel):
    """One home-care period of one patient at one station."""

    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("người bệnh"), on_delete=models.PROTECT, related_name="episodes"
    )
    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("trạm y tế"), on_delete=models.PROTECT, related_name="episodes"
    )
    registration = models.OneToOneField(
        "registration.Registration", null=True, blank=True, on_delete=models.SET_NULL, related_name="episode"
    )
    status = models.CharField(
        _("trạng thái"), max_length=12, choices=EpisodeStatus.choices, default=EpisodeStatus.ACTIVE
    )
    # The day the station accepted the patient (monitoring began). The isolation itself is counted from
    # `positive_date` (QĐ 261/QĐ-BYT: from the positive test); see monitoring.rules.isolation_start.
    start_date = models.DateField(_("ngày tiếp nhận"))
    positive_date = models.DateField(
        _("ngày có kết quả dương tính"),
        null=True,
        blank=True,
        help_text=_(
            "Ngày thứ 1 của thời gian cách ly. Để trống khi không rõ: khi đó tính từ ngày tiếp nhận."
        ),
    )
    expected_end_date = models.DateField(_("ngày dự kiến kết thúc"))
    # Denormalized for the board and the silent list: they must not scan declarations.
    last_declared_on = models.DateField(_("ngày khai báo gần nhất"), null=True, blank=True)
    last_alert_level = models.CharField(
        _("mức cảnh báo gần nhất"), max_length=12, choices=AlertLevel.choices, default=AlertLevel.NONE
    )
    # Declarations made on `last_declared_on`: the daily cap (settings.DECLARATIONS_PER_DAY) is checked and
    # counted in the same UPDATE that marks the episode declared, so it holds under concurrency for free.
    declarations_on_last_day = models.PositiveSmallIntegerField(
        _("số lần khai báo trong ngày gần nhất"), default=0, db_default=0, editable=False
    )
    negative_test_date = models.DateField(_("ngày xét nghiệm âm tính"), null=True, blank=True)
    negative_test_type = models.CharField(_("loại xét nghiệm âm tính"), max_length=8, blank=True)
    ended_at = models.DateTimeField(_("kết thúc lúc"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    end_reason = models.CharField(_("lý do kết thúc"), max_length=300, blank=True)
    certificate_code = models.CharField(_("mã giấy xác nhận"), max_length=16, blank=True, db_index=True)

    class Meta:
        verbose_name = _("đợt chăm sóc tại nhà")
        verbose_name_plural = _("đợt chăm sóc tại nhà")
        indexes = [
            models.Index(fields=["facility", "status", "last_declared_on"]),
            models.Index(fields=["patient", "status"]),
            # The board's order up to the patient's name: one index-only GROUP BY counts its tie groups, a page
            # reads only the groups it shows (monitoring.selectors.TieGroupPages).
            models.Index(
                fields=["facility", "status", "last_alert_level", "last_declared_on"],
                name="episode_board_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} — {self.start_date:%d/%m/%Y}"

    # For templates; the rule itself is monitoring.rules'.
    @property
    def isolation_start(self) -> date:
        return rules.isolation_start(self)

    @property
    def isolation_day_today(self) -> int:
        return rules.isolation_day(self, timezone.localdate())


class QuestionType(models.TextChoices):
    NUMBER = "number", _("Số")
    MULTI = "multi", _("Chọn nhiều")
    CHOICE = "choice", _("Chọn một")
    TEXT = "text", _("Văn bản")


class QuestionnaireVersion(models.Model):
    version = models.PositiveIntegerField(_("phiên bản"), unique=True)
    title = models.CharField(_("tên"), max_length=200)
    is_active = models.BooleanField(_("đang dùng"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("bộ câu hỏi khai báo")
        verbose_name_plural = _("bộ câu hỏi khai báo")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version} {self.title}"


class Question(models.Model):
    questionnaire = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.CASCADE, related_name="questions"
    )
    code = models.SlugField(_("mã"), max_length=32)
    order = models.PositiveSmallIntegerField(_("thứ tự"), default=0)
    text_vi = models.CharField(_("câu hỏi"), max_length=300)
    text_en = models.CharField(_("câu hỏi (tiếng Anh)"), max_length=300, blank=True)
    help_vi = models.CharField(_("hướng dẫn"), max_length=300, blank=True)
    type = models.CharField(_("kiểu"), max_length=8, choices=QuestionType.choices)
    unit = models.CharField(_("đơn vị"), max_length=16, blank=True)
    required = models.BooleanField(_("bắt buộc"), default=False)
    min_value = models.DecimalField(
        _("giá trị nhỏ nhất hợp lý"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("giá trị lớn nhất hợp lý"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    decimals = models.PositiveSmallIntegerField(_("số chữ số thập phân"), default=0)
    options = models.JSONField(
        _("lựa chọn"),
        default=list,
        blank=True,
        help_text=_(
            '[{"code": "cough", "vi": "Ho", "en": "Cough", "danger": false}]; một lựa chọn chỉ dành cho một '
            'nhóm tuổi thêm "age_min_months"/"age_max_months", ví dụ trẻ em dưới 12 tuổi: "age_max_months": 144'
        ),
    )
    # The age band the question is asked in (months, like the triage rules: from min, below max); empty = all
    # ages. The portal hides it outside the band and the service refuses an answer to it there.
    age_min_months = models.PositiveIntegerField(_("hỏi từ tuổi (tháng)"), null=True, blank=True)
    age_max_months = models.PositiveIntegerField(_("hỏi dưới tuổi (tháng)"), null=True, blank=True)

    class Meta:
        verbose_name = _("câu hỏi")
        verbose_name_plural = _("câu hỏi")
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["questionnaire", "code"], name="uniq_question_code")]

    def __str__(self) -> str:
        return f"{self.code}: {self.text_vi}"


class TriageRule(models.Model):
    """One rule: a threshold on a numeric answer, a selected symptom, or a trend over days.

    Age bounds (in months) restrict a rule to an age band, e.g. children 12-59 months.
    """

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", _("Ngưỡng")
        SYMPTOM = "symptom", _("Triệu chứng")
        TREND_DROP = "trend_drop", _("Giảm trong khoảng thời gian")
        TREND_DAYS = "trend_days", _("Kéo dài nhiều ngày")

    class Op(models.TextChoices):
        LT = "lt", "<"
        LTE = "lte", "≤"
        GT = "gt", ">"
        GTE = "gte", "≥"

    code = models.SlugField(_("mã"), max_length=48, unique=True)
    kind = models.CharField(_("loại"), max_length=12, choices=Kind.choices)
    question_code = models.CharField(_("câu hỏi"), max_length=32)
    op = models.CharField(_("phép so sánh"), max_length=4, choices=Op.choices, blank=True)
    value = models.DecimalField(_("ngưỡng"), max_digits=6, decimal_places=1, null=True, blank=True)
    symptom = models.CharField(_("triệu chứng"), max_length=32, blank=True)
    window_hours = models.PositiveSmallIntegerField(_("khoảng thời gian (giờ)"), null=True, blank=True)
    days = models.PositiveSmallIntegerField(_("số ngày liên tiếp"), null=True, blank=True)
    age_min_months = models.PositiveIntegerField(_("tuổi từ (tháng)"), null=True, blank=True)
    age_max_months = models.PositiveIntegerField(_("tuổi dưới (tháng)"), null=True, blank=True)
    level = models.CharField(_("mức cảnh báo"), max_length=12, choices=AlertLevel.choices)
    reason_vi = models.CharField(_("lý do"), max_length=200)
    reason_en = models.CharField(_("lý do (tiếng Anh)"), max_length=200, blank=True)
    is_active = models.BooleanField(_("đang áp dụng"), default=True)

    class Meta:
        verbose_name = _("quy tắc phân loại")
        verbose_name_plural = _("quy tắc phân loại")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.reason_vi


class Declaration(models.Model):
    """One submitted questionnaire. Numeric vitals are copied into columns for trends and reports."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="declarations")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="declarations")
    questionnaire = models.ForeignKey(QuestionnaireVersion, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(_("gửi lúc"), db_index=True)
    local_date = models.DateField(_("ngày (giờ Việt Nam)"))
    late = models.BooleanField(_("khai báo muộn"), default=False)
    answers = models.JSONField(_("câu trả lời"))
    temperature = models.DecimalField(max_digits=4, decimal_places=1, null=True)
    spo2 = models.PositiveSmallIntegerField(null=True)
    breathing_rate = models.PositiveSmallIntegerField(null=True)
    pulse = models.PositiveSmallIntegerField(null=True)
    alert_level = models.CharField(_("mức cảnh báo"), max_length=12, choices=AlertLevel.choices)
    reasons = models.JSONField(_("lý do"), default=list)
    idempotency_key = models.CharField(max_length=64)
    # SHA-256 of the answers as understood (services._request_hash): a retry with the same key must carry the
    # same answers; another body under that key is refused (422), never answered with this row. The database
    # defaults keep the previous release's INSERTs working while a deploy rolls out.
    request_hash = models.CharField(max_length=64, blank=True, default="", db_default="", editable=False)

    class Meta:
        verbose_name = _("khai báo sức khoẻ")
        verbose_name_plural = _("khai báo sức khoẻ")
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "idempotency_key"], name="uniq_declaration_idempotency"
            )
        ]
        indexes = [
            models.Index(fields=["episode", "submitted_at"]),
            # A patient's history, newest first, a page at a time (API and portal, keyset): reads one page.
            models.Index(fields=["patient", "submitted_at", "id"], name="decl_patient_time"),
            # "Declared (late) today?" per episode of a station: reads today's rows only, not the history.
            models.Index(fields=["episode", "local_date", "late"], name="decl_episode_day_late"),
            # The board's "late today" tile: today's late declarations, not one probe per active episode.
            models.Index(fields=["local_date", "late", "episode"], name="decl_day_late_episode"),
        ]

    def __str__(self) -> str:
        return f"{self.local_date:%d/%m/%Y} {self.get_alert_level_display()}"


class Alert(models.Model):
    class Outcome(models.TextChoices):
        STABLE = "stable", _("Đã gọi – ổn định")
        ADVISED = "advised", _("Đã tư vấn")
        DOCTOR_VISIT = "doctor_visit", _("Bác sĩ đến khám")
        HOSPITAL = "hospital", _("Chuyển viện")
        # Set by the service when an episode is closed for another reason (moved away, died…) with alerts
        # still open; never chosen by hand.
        EPISODE_ENDED = "episode_ended", _("Đóng theo hồ sơ kết thúc")

    declaration = models.OneToOneField(Declaration, on_delete=models.CASCADE, related_name="alert")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="alerts")
    facility = models.ForeignKey("facilities.Facility", on_delete=models.PROTECT, related_name="+")
    level = models.CharField(_("mức"), max_length=12, choices=AlertLevel.choices)
    reasons = models.JSONField(_("lý do"), default=list)
    created_at = models.DateTimeField(_("lúc"), db_index=True)
    acknowledged_at = models.DateTimeField(_("xử lý lúc"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(_("kết quả xử lý"), max_length=16, choices=Outcome.choices, blank=True)
    note = models.CharField(_("ghi chú"), max_length=300, blank=True)
    # The level as its rank (emergency 3 … none 0), stored so the open alerts are read in their order (most
    # severe, then oldest) from an index instead of sorting a station's or a TTYT's every open alert with its
    # declaration and patient (issue 11: docs/benchmarks.md, "third round").
    level_rank = models.GeneratedField(
        expression=models.Case(
            *(models.When(level=level, then=models.Value(rank)) for level, rank in LEVEL_RANK.items()),
            default=models.Value(0),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    # What the staff's open-alerts list shows of the declaration (its public id, the alert's id in the API, and
    # its answers), copied when the alert is written (services.declaration_submit, in the declaration's INSERT's
    # transaction; migration monitoring.0010 for the alerts before it), so the list reads no declaration
    # (monitoring/sql/alerts.py). A declaration is never changed once written (nothing updates one; erasure
    # keeps it as a medical record; deleting it deletes its alert), so the copy never goes stale. NULL on an
    # alert written without it (the previous release while `migrate` runs, raw SQL): the list then reads the
    # declaration's own.
    declaration_public_id = models.UUIDField(null=True, blank=True, editable=False)
    declaration_answers = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("cảnh báo")
        verbose_name_plural = _("cảnh báo")
        indexes = [
            models.Index(fields=["facility", "acknowledged_at", "created_at"]),
            # The open alerts of one facility a page at a time; and of many (a TTYT's stations), read in order
            # and filtered by facility: in the index itself (its last column), without reading the row of
            # another station's alert (monitoring/sql/alerts.py names it for such scopes).
            models.Index(
                fields=["facility", "acknowledged_at", "-level_rank", "created_at", "id"],
                name="alert_open_order",
            ),
            models.Index(
                fields=["acknowledged_at", "-level_rank", "created_at", "id", "facility"],
                name="alert_open_order_all",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.created_at:%d/%m/%Y %H:%M}"


class ReminderLog(models.Model):
    """One reminder of one kind for one episode on one day: the unique key makes resends impossible."""

    class Kind(models.TextChoices):
        SMS_1 = "sms_1", _("SMS nhắc lần 1")
        SMS_2 = "sms_2", _("SMS nhắc lần 2")
        CALL_LIST = "call_list", _("Danh sách gọi điện")
        ESCALATION = "escalation", _("Báo trưởng trạm")

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="reminders")
    local_date = models.DateField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    called_at = models.DateTimeField(null=True, blank=True)
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    call_note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("nhắc khai báo")
        verbose_name_plural = _("nhắc khai báo")
        constraints = [
            models.UniqueConstraint(fields=["episode", "local_date", "kind"], name="uniq_reminder_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.local_date:%d/%m/%Y}"


class GuidanceDocument(BaseModel):
    title = models.CharField(_("tiêu đề"), max_length=200)
    summary = models.CharField(_("tóm tắt"), max_length=300, blank=True)
    body = models.TextField(_("nội dung"), blank=True)
    pdf = models.FileField(_("tệp PDF"), upload_to="guidance/", blank=True)
    source = models.CharField(_("nguồn"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("thứ tự"), default=0)
    is_published = models.BooleanField(_("đang hiển thị"), default=True)

    class Meta:
        verbose_name = _("tài liệu hướng dẫn")
        verbose_name_plural = _("tài liệu hướng dẫn")
        ordering = ["order", "title"]

    def __str__(self) -> str:
        return self.title
