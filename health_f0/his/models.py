"""HIS linking: a patient's account joined to their record in a hospital information system (HIS), and
what is imported from that HIS: visits, lab results and re-exam slips, with the runs that imported them.

Two doors into a HIS (adapters/): the FHIR R4 API, and the insurance XML files (QĐ 4750/3176) every HIS
must produce. Imported rows carry (facility, source, external id) and that key is unique, so importing
the same thing twice never makes two rows.

MariaDB has no partial unique index; "one active link per (patient, facility)" is a unique key over
(patient, facility, active_marker) where active_marker is True on the active link and NULL otherwise
(NULLs never collide).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Cast, Coalesce
from django.utils.translation import gettext_lazy as _

from health_f0.core.keyset import NO_TIME
from health_f0.core.models import BaseModel


class IdentifierType(models.TextChoices):
    BHYT = "bhyt", _("Số thẻ BHYT")
    CCCD = "cccd", _("Số CCCD")
    HIS_CODE = "his_code", _("Mã người bệnh tại bệnh viện")


class LinkStatus(models.TextChoices):
    REQUESTED = "requested", _("Đã gửi yêu cầu")
    NEEDS_REVIEW = "needs_review", _("Chờ cán bộ liên kết kiểm tra")
    LINKED = "linked", _("Đã liên kết")
    REJECTED = "rejected", _("Từ chối")
    UNLINKED = "unlinked", _("Đã huỷ liên kết")


OPEN_LINK_STATUSES: tuple[str, ...] = (LinkStatus.REQUESTED, LinkStatus.NEEDS_REVIEW)


class LinkChannel(models.TextChoices):
    PORTAL = "portal", _("Cổng thông tin")
    APP = "app", _("Ứng dụng di động")
    RECEPTION = "reception", _("Tại quầy tiếp đón")


class HisLinkRequest(BaseModel):
    """A request to join a patient's account to their record in one facility's HIS. Its public id is printed
    as a QR code on the link form that reception or the linker scans."""

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("người bệnh"),
        on_delete=models.PROTECT,
        related_name="his_link_requests",
    )
    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("bệnh viện/TTYT"),
        on_delete=models.PROTECT,
        related_name="his_link_requests",
    )
    # What the requester typed: a claim to look the HIS up with, never stored on the link as the patient's.
    identifier_type = models.CharField(_("loại mã"), max_length=10, choices=IdentifierType.choices)
    identifier = models.CharField(_("mã người yêu cầu khai"), max_length=32)
    status = models.CharField(
        _("trạng thái"), max_length=14, choices=LinkStatus.choices, default=LinkStatus.REQUESTED
    )
    channel = models.CharField(_("kênh"), max_length=10, choices=LinkChannel.choices)
    # What the HIS returned, one dict per candidate with per-field match flags (see services._candidate):
    # records the lookup by the claim found, and records the linker named by HIS code (found_by "linker").
    candidates = models.JSONField(_("hồ sơ HIS tìm được"), default=list, blank=True)
    lookup_error = models.CharField(_("lỗi tra cứu HIS"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("quyết định lúc"), null=True, blank=True)
    reason = models.CharField(_("lý do"), max_length=300, blank=True)
    his_patient_id = models.CharField(_("mã người bệnh trong HIS"), max_length=64, blank=True)
    auto_linked = models.BooleanField(_("liên kết tự động"), default=False)

    class Meta:
        verbose_name = _("yêu cầu liên kết HIS")
        verbose_name_plural = _("yêu cầu liên kết HIS")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["facility", "status", "created_at"]),
            models.Index(fields=["patient", "status"]),
            # A patient's requests newest first (portal, API): an index range, not a sort of them all.
            models.Index(fields=["patient", "created_at"], name="his_linkreq_patient_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_identifier_type_display()} {self.identifier} ({self.get_status_display()})"


class HisLink(BaseModel):
    """A patient's account joined to one HIS patient record at one facility. Its identifiers are only what
    the HIS itself returned for that record (FHIR Patient, or the XML1 rows of that HIS code), never what the
    requester typed: the XML import attaches records by them."""

    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("người bệnh"), on_delete=models.PROTECT, related_name="his_links"
    )
    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("bệnh viện/TTYT"),
        on_delete=models.PROTECT,
        related_name="his_links",
    )
    request = models.ForeignKey(
        HisLinkRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="links"
    )
    his_patient_id = models.CharField(_("mã người bệnh trong HIS"), max_length=64)
    # {"bhyt": "...", "cccd": "...", "his_code": "..."} as the HIS returned them: what the XML import
    # matches records by (BHYT and CCCD only together with the name and date of birth).
    identifiers = models.JSONField(_("các mã định danh do HIS trả về"), default=dict, blank=True)
    bhyt_key = models.CharField(max_length=10, blank=True, db_index=True, editable=False)
    cccd = models.CharField(max_length=12, blank=True, db_index=True, editable=False)
    his_code = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    # The HIS record as the HIS described it when linked ("" source: a link made before identities were
    # verified, re-derived by the 0003 migration).
    record_source = models.CharField(_("nguồn hồ sơ HIS"), max_length=6, blank=True)
    his_full_name = models.CharField(_("họ tên trong HIS"), max_length=200, blank=True)
    his_date_of_birth = models.DateField(_("ngày sinh trong HIS"), null=True, blank=True)
    linked_at = models.DateTimeField(_("liên kết lúc"))
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(_("đang hiệu lực"), default=True)
    active_marker = models.BooleanField(null=True, default=True, editable=False)
    unlinked_at = models.DateTimeField(_("huỷ liên kết lúc"), null=True, blank=True)
    unlinked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unlink_reason = models.CharField(_("lý do huỷ liên kết"), max_length=300, blank=True)
    # When the FHIR history of this patient was first pulled (None: still to do, retried by the task).
    backfilled_at = models.DateTimeField(_("đã lấy lịch sử lúc"), null=True, blank=True)

    class Meta:
        verbose_name = _("liên kết HIS")
        verbose_name_plural = _("liên kết HIS")
        ordering = ["-linked_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "facility", "active_marker"], name="uniq_active_his_link_patient"
            ),
            models.UniqueConstraint(
                fields=["facility", "his_patient_id", "active_marker"], name="uniq_active_his_link_record"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.his_patient_id} @ {self.facility_id}"

    @property
    def linked_code(self) -> str:
        """The HIS patient code this account is linked to, as the patient knows it (MA_BN when the HIS
        gave one, else the HIS's own record id)."""
        return self.his_code or self.his_patient_id


class Source(models.TextChoices):
    FHIR = "fhir", _("FHIR")
    XML = "xml", _("XML giám định BHYT")


class HisVisit(BaseModel):
    """One visit (encounter) imported from the HIS: FHIR Encounter or XML1 (key MA_LK)."""

    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("người bệnh"), on_delete=models.PROTECT, related_name="his_visits"
    )
    facility = models.ForeignKey(
        "facilities.Facility",
        verbose_name=_("bệnh viện/TTYT"),
        on_delete=models.PROTECT,
        related_name="his_visits",
    )
    source = models.CharField(_("nguồn"), max_length=6, choices=Source.choices)
    external_id = models.CharField(_("mã lượt khám (MA_LK/Encounter)"), max_length=100)
    his_patient_id = models.CharField(_("mã người bệnh trong HIS"), max_length=64, blank=True)
    department_code = models.CharField(_("mã khoa"), max_length=50, blank=True)
    department_name = models.CharField(_("khoa"), max_length=200, blank=True)
    admitted_at = models.DateTimeField(_("vào viện/khám lúc"), null=True, blank=True)
    discharged_at = models.DateTimeField(_("ra viện/kết thúc lúc"), null=True, blank=True)
    diagnosis_text = models.TextField(_("chẩn đoán"), blank=True)
    icd10 = models.CharField(_("mã ICD-10"), max_length=20, blank=True)
    # The bill from XML1's totals (whole dong; empty when the HIS sent none): what the visit cost (T_TONGCHI),
    # what insurance pays (T_BHTT) and the patient's share (T_BNCCT co-payment + T_BNTT out of coverage).
    bill_total = models.PositiveBigIntegerField(_("tổng chi phí (đồng)"), null=True, blank=True)
    bill_insurance = models.PositiveBigIntegerField(_("BHYT chi trả (đồng)"), null=True, blank=True)
    bill_patient = models.PositiveBigIntegerField(_("người bệnh trả (đồng)"), null=True, blank=True)
    import_run = models.ForeignKey(
        "ImportRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("lượt khám (HIS)")
        verbose_name_plural = _("lượt khám (HIS)")
        ordering = ["-admitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "source", "external_id"], name="uniq_his_visit")
        ]
        indexes = [
            models.Index(fields=["patient", "admitted_at"]),
            models.Index(fields=["facility", "admitted_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {self.icd10}"

    @property
    def department_label(self) -> str:
        """The department by name, also when the HIS sent only its code (selectors.department_label)."""
        from health_f0.his.selectors import department_label

        return department_label(code=self.department_code, name=self.department_name)


class LabFlag(models.TextChoices):
    HIGH = "H", _("Cao")
    LOW = "L", _("Thấp")
    NORMAL = "N", _("Bình thường")
    UNKNOWN = "", _("Không đánh giá")


# A result outside its reference range (HisLabResult.is_out_of_range, the portal's rows).
OUT_OF_RANGE_FLAGS: tuple[str, ...] = (LabFlag.HIGH, LabFlag.LOW)


# DiagnosticReport.status codes under which the results may still change.
PRELIMINARY_REPORT_STATUSES: tuple[str, ...] = ("registered", "partial", "preliminary")


class HisLabReport(BaseModel):
    """One laboratory report (phiếu kết quả xét nghiệm): a FHIR DiagnosticReport of category LAB, the panel
    (e.g. a blood count) whose results (HisLabResult.report) it groups, with the laboratory's conclusion.
    `status` is the FHIR code as the HIS sent it (final, preliminary, amended...)."""

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("người bệnh"),
        on_delete=models.PROTECT,
        related_name="his_lab_reports",
    )
    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("bệnh viện/TTYT"), on_delete=models.PROTECT, related_name="+"
    )
    visit = models.ForeignKey(
        HisVisit, null=True, blank=True, on_delete=models.SET_NULL, related_name="lab_reports"
    )
    # The visit's external id as the report named it (joined when the visit arrives, like results).
    visit_ref = models.CharField(max_length=100, blank=True)
    source = models.CharField(_("nguồn"), max_length=6, choices=Source.choices)
    external_id = models.CharField(_("mã phiếu kết quả"), max_length=150)
    code = models.CharField(_("mã xét nghiệm"), max_length=64, blank=True)
    name = models.CharField(_("tên xét nghiệm"), max_length=255)
    status = models.CharField(_("trạng thái"), max_length=20, blank=True)
    conclusion = models.TextField(_("kết luận"), blank=True)
    effective_at = models.DateTimeField(_("thời điểm lấy mẫu/thực hiện"), null=True, blank=True)
    issued_at = models.DateTimeField(_("trả kết quả lúc"), null=True, blank=True)
    import_run = models.ForeignKey(
        "ImportRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("phiếu kết quả xét nghiệm (HIS)")
        verbose_name_plural = _("phiếu kết quả xét nghiệm (HIS)")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "source", "external_id"], name="uniq_his_lab_report")
        ]
        indexes = [models.Index(fields=["patient", "issued_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"

    @property
    def is_preliminary(self) -> bool:
        return self.status in PRELIMINARY_REPORT_STATUSES


def lab_sort_at(
    *, observed_at: datetime | None, effective_at: datetime | None = None, issued_at: datetime | None = None
) -> datetime:
    """A result's place in a newest-first list: its report's time (sampled, else issued), else its own
    observation time, else core.keyset.NO_TIME (last)."""
    return effective_at or issued_at or observed_at or NO_TIME


class HisLabResultQuerySet(models.QuerySet["HisLabResult"]):
    def bulk_create(self, objs: Iterable[HisLabResult], *args: Any, **kwargs: Any) -> list[HisLabResult]:
        """bulk_create with each row's stored sort key (`sort_at`, `sort_report`) set from its report (read
        in one query when not already on the row) and observation time: save() is not called here."""
        objs = list(objs)
        wanted = {o.report_id for o in objs if o.report_id and not HisLabResult.report.is_cached(o)}
        reports = HisLabReport.objects.in_bulk(list(wanted)) if wanted else {}
        for obj in objs:
            report = obj.report if HisLabResult.report.is_cached(obj) else reports.get(obj.report_id or 0)
            obj.set_sort_key(report)
        return super().bulk_create(objs, *args, **kwargs)

    def refresh_sort(self) -> int:
        """Recompute the stored sort key of these rows in one UPDATE (after their report changed, or their
        report did: a queryset `.update(report=...)`, a report's new times)."""
        report = HisLabReport.objects.filter(pk=models.OuterRef("report_id"))
        return self.update(
            sort_at=Coalesce(
                models.Subquery(report.values("effective_at")[:1]),
                models.Subquery(report.values("issued_at")[:1]),
                models.F("observed_at"),
                # Cast: COALESCE of a DATETIME and a text parameter is text on MariaDB (core.keyset.time_key).
                Cast(models.Value(NO_TIME), output_field=models.DateTimeField()),
                output_field=models.DateTimeField(),
            ),
            sort_report=Coalesce(models.F("report_id"), models.Value(0)),
        )


class HisLabResult(BaseModel):
    """One lab (CLS) result: FHIR Observation (category laboratory, or a result of a DiagnosticReport) or an
    XML4 row. `report` is the FHIR report it was issued in, if any.

    `sort_at` and `sort_report` are stored so that a patient's results read newest first as an index range
    (issue 11): the report's time (lab_sort_at) and the report's id (0: none), so one report's results follow
    each other. save() and bulk_create set them; a queryset update that changes `report` or `observed_at`,
    or a report's times, calls `refresh_sort()` on the results concerned."""

    visit = models.ForeignKey(
        HisVisit, null=True, blank=True, on_delete=models.SET_NULL, related_name="lab_results"
    )
    report = models.ForeignKey(
        HisLabReport,
        verbose_name=_("phiếu kết quả xét nghiệm"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="results",
    )
    # The visit's external id as the result named it (a result may arrive before its visit: joined later).
    visit_ref = models.CharField(max_length=100, blank=True)
    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("người bệnh"),
        on_delete=models.PROTECT,
        related_name="his_lab_results",
    )
    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("bệnh viện/TTYT"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(_("nguồn"), max_length=6, choices=Source.choices)
    external_id = models.CharField(_("mã kết quả"), max_length=150)
    code = models.CharField(_("mã chỉ số"), max_length=64, blank=True)
    name = models.CharField(_("tên chỉ số"), max_length=255)
    value = models.CharField(_("kết quả"), max_length=255, blank=True)
    value_number = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    unit = models.CharField(_("đơn vị"), max_length=40, blank=True)
    reference_low = models.DecimalField(
        _("giới hạn dưới"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    reference_high = models.DecimalField(
        _("giới hạn trên"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    reference_text = models.CharField(_("khoảng tham chiếu"), max_length=255, blank=True)
    flag = models.CharField(_("đánh giá"), max_length=1, choices=LabFlag.choices, blank=True, default="")
    conclusion = models.TextField(_("kết luận"), blank=True)
    observed_at = models.DateTimeField(_("có kết quả lúc"), null=True, blank=True)
    import_run = models.ForeignKey(
        "ImportRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sort_at = models.DateTimeField(default=NO_TIME, editable=False)
    sort_report = models.PositiveBigIntegerField(default=0, editable=False)

    objects = HisLabResultQuerySet.as_manager()

    class Meta:
        verbose_name = _("kết quả cận lâm sàng (HIS)")
        verbose_name_plural = _("kết quả cận lâm sàng (HIS)")
        ordering = ["-observed_at", "name"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "source", "external_id"], name="uniq_his_lab_result")
        ]
        indexes = [
            models.Index(fields=["patient", "observed_at"]),
            # The lists' order (selectors.LAB_ORDER), newest report first, a report's results by name.
            models.Index(
                fields=["patient", "-sort_at", "sort_report", "name", "id"], name="his_labresult_patient_sort"
            ),
            # A visit's results by name (his.sql.visits: the first results of each visit of a page, the visits
            # pages' tables): the window reads one range per visit in its order, not every row of the visit
            # sorted.
            models.Index(fields=["visit", "name", "id"], name="his_labresult_visit_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.value} {self.unit}"

    def set_sort_key(self, report: HisLabReport | None) -> None:
        """Set `sort_at`/`sort_report` from `report` (this result's, or None) and the observation time."""
        self.sort_at = lab_sort_at(
            observed_at=self.observed_at,
            effective_at=report.effective_at if report is not None else None,
            issued_at=report.issued_at if report is not None else None,
        )
        self.sort_report = report.pk if report is not None else 0

    def save(self, *args: Any, **kwargs: Any) -> None:
        report = None
        if self.report_id is not None:
            if HisLabResult.report.is_cached(self) and self.report is not None:
                report = self.report
            else:
                report = HisLabReport.objects.only("effective_at", "issued_at").get(pk=self.report_id)
        self.set_sort_key(report)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "sort_at", "sort_report"}
        super().save(*args, **kwargs)

    @property
    def is_out_of_range(self) -> bool:
        return self.flag in OUT_OF_RANGE_FLAGS


class SlipStatus(models.TextChoices):
    BOOKED = "booked", _("Đã đặt lịch tái khám")
    NEEDS_DESK = "needs_desk", _("Chờ bộ phận đặt lịch xếp lịch")
    PAST = "past", _("Ngày hẹn đã qua khi nhận giấy hẹn")


class HisReexamSlip(BaseModel):
    """A re-exam appointment slip (giấy hẹn khám lại): FHIR Appointment (booked) or XML14. When a matching
    service has a free place, a re-exam appointment is booked with its reminders; otherwise the slip waits
    for the booking desk with the reason in `status_note`."""

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("người bệnh"),
        on_delete=models.PROTECT,
        related_name="his_reexam_slips",
    )
    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("bệnh viện/TTYT"), on_delete=models.PROTECT, related_name="+"
    )
    visit = models.ForeignKey(
        HisVisit, null=True, blank=True, on_delete=models.SET_NULL, related_name="slips"
    )
    source = models.CharField(_("nguồn"), max_length=6, choices=Source.choices)
    external_id = models.CharField(_("số giấy hẹn"), max_length=100)
    date = models.DateField(_("ngày hẹn khám lại"))
    department_code = models.CharField(_("mã khoa"), max_length=50, blank=True)
    note = models.TextField(_("ghi chú"), blank=True)
    status = models.CharField(_("trạng thái"), max_length=12, choices=SlipStatus.choices)
    status_note = models.CharField(_("ghi chú xử lý"), max_length=300, blank=True)
    appointment = models.ForeignKey(
        "appointments.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    import_run = models.ForeignKey(
        "ImportRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("giấy hẹn khám lại (HIS)")
        verbose_name_plural = _("giấy hẹn khám lại (HIS)")
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "source", "external_id"], name="uniq_his_reexam_slip")
        ]
        indexes = [models.Index(fields=["facility", "status", "date"])]

    def __str__(self) -> str:
        return f"{self.external_id} {self.date:%d/%m/%Y}"


class RunKind(models.TextChoices):
    XML_FILE = "xml_file", _("Nhập tệp XML")
    FHIR_PULL = "fhir_pull", _("Đồng bộ FHIR định kỳ")
    FHIR_BACKFILL = "fhir_backfill", _("Lấy lịch sử FHIR khi liên kết")


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Đang chạy")
    DONE = "done", _("Hoàn tất")
    FAILED = "failed", _("Lỗi")


class ImportRun(BaseModel):
    """One import: an XML file, a periodic FHIR pull, or the first pull of a newly linked patient.
    `errors` lists rejected records: {"record": id, "table": "XML1", "reason": Vietnamese text}."""

    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("bệnh viện/TTYT"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(_("nguồn"), max_length=6, choices=Source.choices)
    kind = models.CharField(_("loại"), max_length=14, choices=RunKind.choices)
    file_name = models.CharField(_("tên tệp"), max_length=255, blank=True)
    link = models.ForeignKey(HisLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(_("bắt đầu"))
    finished_at = models.DateTimeField(_("kết thúc"), null=True, blank=True)
    status = models.CharField(
        _("trạng thái"), max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    read_count = models.PositiveIntegerField(_("số bản ghi đọc"), default=0)
    imported_count = models.PositiveIntegerField(_("đã nhập"), default=0)
    duplicate_count = models.PositiveIntegerField(_("trùng (bỏ qua)"), default=0)
    rejected_count = models.PositiveIntegerField(_("bị từ chối"), default=0)
    held_count = models.PositiveIntegerField(_("chờ đối chiếu"), default=0)
    errors = models.JSONField(_("lỗi"), default=list, blank=True)
    failure = models.TextField(_("lý do lỗi"), blank=True)
    # Long runs: bytes of the file read so far / its size (XML), or pages fetched (FHIR).
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("lượt nhập dữ liệu HIS")
        verbose_name_plural = _("lượt nhập dữ liệu HIS")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["facility", "started_at"]), models.Index(fields=["status", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file_name} ({self.get_status_display()})"

    @property
    def progress_percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, int(100 * self.progress_done / self.progress_total))


class PullCursor(models.Model):
    """Where the incremental FHIR pull of one resource type of one facility stands: every resource with
    meta.lastUpdated <= `last_updated` is stored (the FHIR instant, kept verbatim as the HIS wrote it)."""

    facility = models.ForeignKey("facilities.Facility", on_delete=models.CASCADE, related_name="+")
    resource_type = models.CharField(max_length=40)
    last_updated = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("mốc đồng bộ FHIR")
        verbose_name_plural = _("mốc đồng bộ FHIR")
        constraints = [models.UniqueConstraint(fields=["facility", "resource_type"], name="uniq_pull_cursor")]

    def __str__(self) -> str:
        return f"{self.resource_type} > {self.last_updated}"


class HisVisitSeen(models.Model):
    """Every visit the HIS reported, linked patient or not, reduced to what the managers' report needs: the
    day, the department, a one-way key of the patient (a hash of the HIS code or card, never the identity)
    and whether that patient was linked. Visits of unlinked patients are rejected from HisVisit; this is how
    "share of visiting patients who are linked" still sees them."""

    facility = models.ForeignKey("facilities.Facility", on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=6, choices=Source.choices)
    external_id = models.CharField(max_length=100)
    day = models.DateField()
    department_code = models.CharField(max_length=50, blank=True)
    patient_key = models.CharField(max_length=16)
    linked = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("lượt khám HIS đã ghi nhận")
        verbose_name_plural = _("lượt khám HIS đã ghi nhận")
        constraints = [
            models.UniqueConstraint(fields=["facility", "source", "external_id"], name="uniq_his_visit_seen")
        ]
        indexes = [models.Index(fields=["facility", "day"])]

    def __str__(self) -> str:
        return f"{self.external_id} {self.day}"


class HisPatientRecord(BaseModel):
    """A patient as the HIS's insurance XML (XML1) described them, one row per (facility, HIS code MA_BN),
    refreshed by each import from the latest visit. What a HIS code typed by the linker must resolve to when
    the HIS has no online lookup: the linker sees this record beside the account before linking, and the
    link takes its identifiers from here. Read only by linkers (his.services, audited)."""

    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("bệnh viện/TTYT"), on_delete=models.PROTECT, related_name="+"
    )
    his_code = models.CharField(_("mã người bệnh trong HIS (MA_BN)"), max_length=32)
    full_name = models.CharField(_("họ tên"), max_length=200, blank=True)
    date_of_birth = models.DateField(_("ngày sinh"), null=True, blank=True)
    sex = models.CharField(_("giới tính"), max_length=10, blank=True)
    bhyt = models.CharField(_("số thẻ BHYT"), max_length=20, blank=True)
    bhyt_key = models.CharField(max_length=10, blank=True, db_index=True, editable=False)
    cccd = models.CharField(_("số CCCD"), max_length=12, blank=True, db_index=True)
    last_visit_ref = models.CharField(_("lượt khám gần nhất (MA_LK)"), max_length=100, blank=True)
    last_seen_at = models.DateTimeField(_("khám gần nhất lúc"), null=True, blank=True)
    import_run = models.ForeignKey(
        ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("hồ sơ người bệnh trong tệp XML")
        verbose_name_plural = _("hồ sơ người bệnh trong tệp XML")
        constraints = [
            models.UniqueConstraint(fields=["facility", "his_code"], name="uniq_his_patient_record")
        ]

    def __str__(self) -> str:
        return f"{self.his_code} {self.full_name}"


class HeldStatus(models.TextChoices):
    WAITING = "waiting", _("Chờ cán bộ liên kết đối chiếu")
    ATTACHED = "attached", _("Đã gắn vào hồ sơ người bệnh")
    DISMISSED = "dismissed", _("Không phải người bệnh đã liên kết")


class HoldReason(models.TextChoices):
    IDENTITY_DIFFERS = "identity_differs", _("Khớp mã phụ nhưng khác họ tên hoặc ngày sinh")
    SEVERAL_PATIENTS = "several_patients", _("Mã phụ trùng với nhiều người bệnh đã liên kết")


class HisHeldRecord(BaseModel):
    """An imported visit (XML1 with its XML4 results and XML14 slips, kept as the file had them) that met a
    linked patient only through a secondary key (BHYT number or CCCD) while the name or the date of birth
    differ, or through keys of several patients. It belongs to nobody: no visit, result, re-exam booking or
    SMS exists for it until a HIS linker attaches it (his.imports.held_record_attach, audited) or dismisses
    it. `candidate_patient` is whom the key pointed at, for the linker to compare; never shown to patients."""

    facility = models.ForeignKey(
        "facilities.Facility", verbose_name=_("bệnh viện/TTYT"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(_("nguồn"), max_length=6, choices=Source.choices)
    external_id = models.CharField(_("mã lượt khám (MA_LK)"), max_length=100)
    candidate_patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("người bệnh đã liên kết có mã trùng"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    candidate_link = models.ForeignKey(
        HisLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    matched_by = models.CharField(_("khớp theo"), max_length=10, choices=IdentifierType.choices)
    reason = models.CharField(_("lý do chờ"), max_length=20, choices=HoldReason.choices)
    # Which of name / date_of_birth differ from the candidate patient.
    mismatches = models.JSONField(default=list, blank=True)
    his_code = models.CharField(_("MA_BN"), max_length=32, blank=True)
    full_name = models.CharField(_("họ tên trong tệp"), max_length=200, blank=True)
    date_of_birth = models.DateField(_("ngày sinh trong tệp"), null=True, blank=True)
    bhyt = models.CharField(_("số thẻ BHYT trong tệp"), max_length=20, blank=True)
    cccd = models.CharField(_("số CCCD trong tệp"), max_length=12, blank=True)
    admitted_at = models.DateTimeField(_("vào viện/khám lúc"), null=True, blank=True)
    department_code = models.CharField(_("mã khoa"), max_length=50, blank=True)
    # {"xml1": [row], "xml4": [rows], "xml14": [rows]}: emptied when dismissed.
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("trạng thái"), max_length=10, choices=HeldStatus.choices, default=HeldStatus.WAITING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("xử lý lúc"), null=True, blank=True)
    decision_note = models.CharField(_("ghi chú xử lý"), max_length=300, blank=True)
    visit = models.ForeignKey(HisVisit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    import_run = models.ForeignKey(
        ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("hồ sơ XML chờ đối chiếu")
        verbose_name_plural = _("hồ sơ XML chờ đối chiếu")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "source", "external_id"], name="uniq_his_held_record")
        ]
        indexes = [models.Index(fields=["facility", "status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.get_status_display()})"

    @property
    def department_label(self) -> str:
        """The file's department by name (XML1 sends only its code): selectors.department_label."""
        from health_f0.his.selectors import department_label

        return department_label(code=self.department_code, name="")

    @property
    def patient(self) -> Any:
        """For the audit of staff reads (services.his_records_view): the patient the record was compared with."""
        return self.candidate_patient
