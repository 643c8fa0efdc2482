"""Imported HIS visits and lab results in the desk (read-only): every page that shows them writes an audit
VIEW row per patient shown (services.his_records_view). Rows come from his.selectors."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from health_f0.desk.formatting import badge, fmt_datetime, name_html
from health_f0.desk.site import ScopedModelAdmin, desk_site
from health_f0.facilities import access
from health_f0.his import selectors, services
from health_f0.his.desk.widgets import FLAG_BADGE
from health_f0.his.models import HisLabResult, HisVisit


class HisRecordAdmin(ScopedModelAdmin):
    """Read-only imported rows; each page that shows them audits a VIEW per patient shown."""

    view_roles = access.HIS_READER_ROLES
    read_only = True
    list_per_page = 50
    view_verb = "view_his_records"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        response = super().changelist_view(request, extra_context)
        changelist = (
            getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        )
        if changelist is not None:
            services.his_records_view(
                actor=request.user, records=list(changelist.result_list), verb=self.view_verb
            )
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        record = self.scoped_object(request, object_id)
        if record is not None:
            services.his_records_view(actor=request.user, records=[record], verb=self.view_verb)
        return super().change_view(request, object_id, form_url, extra_context)

    @display(description=_("người bệnh"), ordering="patient__full_name")
    def name_col(self, obj: Any) -> SafeString:
        return name_html(obj.patient.full_name)


@admin.register(HisVisit, site=desk_site)
class HisVisitAdmin(HisRecordAdmin):
    view_verb = "view_his_visits"
    list_display = (
        "name_col",
        "admitted_col",
        "department_col",
        "icd10",
        "diagnosis_text",
        "facility",
        "source",
    )
    list_display_links = ("name_col",)
    list_select_related = ("patient", "facility")
    list_filter = ("source", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    search_fields = ("patient__full_name", "external_id", "icd10", "his_patient_id")
    search_help_text = _("Tìm theo họ tên, mã lượt khám (MA_LK), mã ICD-10 hoặc mã người bệnh trong HIS")
    ordering = ("-admitted_at", "-id")
    fields = (
        "name_col",
        "facility",
        "source",
        "external_id",
        "his_patient_id",
        "department_col",
        "admitted_col",
        "discharged_col",
        "icd10",
        "diagnosis_text",
    )
    readonly_fields = fields

    def scope(self, user: Any) -> QuerySet[Any]:
        return selectors.visits_for(user=user).select_related("patient")

    @display(description=_("vào viện/khám lúc"), ordering="admitted_at")
    def admitted_col(self, obj: HisVisit) -> str:
        return fmt_datetime(obj.admitted_at)

    @display(description=_("ra viện/kết thúc lúc"))
    def discharged_col(self, obj: HisVisit) -> str:
        return fmt_datetime(obj.discharged_at)

    @display(description=_("khoa"))
    def department_col(self, obj: HisVisit) -> str:
        label = obj.department_label
        if not label:
            return "—"
        return (
            f"{label} · {obj.department_code}"
            if obj.department_code and obj.department_code not in label
            else label
        )


@admin.register(HisLabResult, site=desk_site)
class HisLabResultAdmin(HisRecordAdmin):
    view_verb = "view_his_lab_results"
    list_display = ("name_col", "observed_col", "name", "value_col", "reference_col", "flag_col", "facility")
    list_display_links = ("name_col",)
    list_select_related = ("patient", "facility")
    list_filter = ("flag", "source", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    search_fields = ("patient__full_name", "name", "code", "visit_ref")
    search_help_text = _("Tìm theo họ tên, tên chỉ số, mã chỉ số hoặc mã lượt khám")
    ordering = ("-observed_at", "name")
    fields = (
        "name_col",
        "facility",
        "visit_ref",
        "code",
        "name",
        "value_col",
        "reference_col",
        "flag_col",
        "conclusion",
        "report",
        "observed_col",
    )
    readonly_fields = fields

    def scope(self, user: Any) -> QuerySet[Any]:
        return selectors.lab_results_for(user=user).select_related("patient")

    @display(description=_("có kết quả lúc"), ordering="observed_at")
    def observed_col(self, obj: HisLabResult) -> str:
        return fmt_datetime(obj.observed_at)

    @display(description=_("kết quả"))
    def value_col(self, obj: HisLabResult) -> str:
        # The same text as the patient's portal (his.selectors): one decimal separator everywhere.
        return f"{selectors.lab_value_text(obj)} {obj.unit}".strip() or "—"

    @display(description=_("khoảng tham chiếu"))
    def reference_col(self, obj: HisLabResult) -> str:
        return selectors.lab_reference_text(obj) or "—"

    @display(description=_("đánh giá"), ordering="flag")
    def flag_col(self, obj: HisLabResult) -> SafeString:
        if not obj.flag:
            return SafeString("—")
        return badge(obj.get_flag_display(), FLAG_BADGE.get(obj.flag))
