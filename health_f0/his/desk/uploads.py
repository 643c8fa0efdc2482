"""HIS imports in the desk: the import runs with their counts, progress and errors, the insurance XML upload
(small files now, larger ones queued) and the FHIR "pull now". The imports themselves are his.imports'
(which checks the linker's role at the facility and audits)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from health_f0.desk.actions import form_errors, post_only, run
from health_f0.desk.formatting import fmt_datetime, fmt_user
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.his import imports, selectors
from health_f0.his.desk.widgets import progress_bar, run_status_badge
from health_f0.his.forms import XML_INLINE_BYTES, FhirPullForm, XmlUploadForm, xml_max_upload_bytes
from health_f0.his.models import ImportRun, RunStatus

__all__ = ["XML_INLINE_BYTES", "ImportRunAdmin"]


def _spool_dir() -> Path:
    folder = Path(settings.VAR_DIR) / "his-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def import_now(*, facility: Facility, upload: Any, name: str, actor: Any) -> ImportRun:
    """Import a small upload during the request (the service checks the actor is a linker there)."""
    upload.seek(0)
    return imports.xml_import(
        facility=facility, stream=upload, file_name=name, actor=actor, size=upload.size or 0
    )


@admin.register(ImportRun, site=desk_site)
class ImportRunAdmin(ScopedModelAdmin):
    view_roles = access.HIS_RUN_ROLES
    read_only = True
    list_display = (
        "started_col",
        "facility",
        "kind",
        "file_name",
        "status_col",
        "read_count",
        "imported_count",
        "duplicate_count",
        "rejected_col",
        "held_count",
    )
    list_display_links = ("started_col",)
    list_select_related = ("facility", "started_by")
    list_filter = ("status", "kind", "source", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ("file_name",)
    ordering = ("-started_at",)
    list_before_template = "admin/his/importrun/list_before.html"
    change_form_after_template = "admin/his/importrun/errors.html"
    fields = (
        "facility",
        "kind",
        "file_name",
        "status_col",
        "started_col",
        "finished_col",
        "by_col",
        "read_count",
        "imported_count",
        "duplicate_count",
        "rejected_count",
        "held_count",
        "failure",
    )
    readonly_fields = fields

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.his_records_for(user, ImportRun)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        running = self.get_queryset(request).filter(status=RunStatus.RUNNING).exists()
        extra = {
            **(extra_context or {}),
            "auto_refresh": running,
            "upload_url": reverse("admin:his_import_upload"),
            "may_upload": has_any_role(request.user, access.HIS_LINKER_ROLES),
        }
        return super().changelist_view(request, extra)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run_ = self.scoped_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if run_ is not None:
            extra["run"] = run_
            extra["run_errors"] = run_.errors[:500]
            extra["run_errors_more"] = max(run_.rejected_count - 500, 0) if len(run_.errors) >= 500 else 0
            extra["progress"] = progress_bar(run_)
            extra["auto_refresh"] = run_.status == RunStatus.RUNNING
            extra["subtitle"] = run_.get_status_display()
        return super().change_view(request, object_id, form_url, extra)

    @display(description=_("bắt đầu"), ordering="started_at")
    def started_col(self, obj: ImportRun) -> str:
        return fmt_datetime(obj.started_at)

    @display(description=_("kết thúc"))
    def finished_col(self, obj: ImportRun) -> str:
        return fmt_datetime(obj.finished_at)

    @display(description=_("người thực hiện"))
    def by_col(self, obj: ImportRun) -> str:
        return fmt_user(obj.started_by, gettext("hệ thống (tự động)"))

    @display(description=_("trạng thái"), ordering="status")
    def status_col(self, obj: ImportRun) -> SafeString:
        return format_html(
            '<div class="flex flex-col gap-1 items-start">{}{}</div>',
            run_status_badge(obj),
            progress_bar(obj),
        )

    @display(description=_("bị từ chối"), ordering="rejected_count")
    def rejected_col(self, obj: ImportRun) -> SafeString:
        if not obj.rejected_count:
            return format_html("{}", 0)
        return format_html('<span class="font-semibold text-red-700">{}</span>', obj.rejected_count)

    # --- the upload page and the FHIR pull -------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("nhap/", wrap(self.upload_view), name="his_import_upload"),
            path("dong-bo-fhir/", wrap(self.fhir_pull_view), name="his_fhir_pull"),
        ]
        return own + super().get_urls()

    def _upload_context(
        self, request: HttpRequest, form: XmlUploadForm, pull: FhirPullForm
    ) -> dict[str, Any]:
        return {
            **self.page_context(request, gettext("Nhập dữ liệu HIS")),
            "form": form,
            "pull_form": pull,
            "fhir_configured": bool(settings.HIS_FHIR_BASE_URL),
            "max_mb": xml_max_upload_bytes() // (1024 * 1024),
            "runs_url": reverse("admin:his_importrun_changelist"),
            "recent": [
                {
                    "run": run_,
                    "status": run_status_badge(run_),
                    "started": fmt_datetime(run_.started_at),
                    "progress": progress_bar(run_),
                    "url": reverse("admin:his_importrun_change", args=[run_.pk]),
                }
                for run_ in selectors.import_runs_for(user=request.user, days=7)[:5]
            ],
        }

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Upload an insurance XML file: small files import now, larger ones are queued (Huey)."""
        user = request.user
        if not has_any_role(user, access.HIS_LINKER_ROLES):
            raise PermissionDenied
        pull = FhirPullForm(user=user)
        if request.method != "POST":
            form = XmlUploadForm(user=user)
            return TemplateResponse(
                request, "admin/his/upload.html", self._upload_context(request, form, pull)
            )
        # Refuse an oversized body before Django reads it.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > xml_max_upload_bytes() + 64 * 1024:
            context = self._upload_context(request, XmlUploadForm(user=user), pull)
            context["upload_error"] = gettext(
                "Tệp lớn hơn %(mb)s MB; hãy chép tệp vào thư mục nhập tự động của bệnh viện."
            ) % {"mb": xml_max_upload_bytes() // (1024 * 1024)}
            return TemplateResponse(request, "admin/his/upload.html", context, status=413)
        form = XmlUploadForm(request.POST, request.FILES, user=user)
        if not form.is_valid():
            context = self._upload_context(request, form, pull)
            return TemplateResponse(request, "admin/his/upload.html", context, status=400)
        facility: Facility = form.cleaned_data["facility"]
        upload = form.cleaned_data["file"]
        name = Path(upload.name or "tep.xml").name
        if (upload.size or 0) > XML_INLINE_BYTES:
            return self._queue_upload(request, facility, upload, name)
        done, result = run(
            request, lambda: import_now(facility=facility, upload=upload, name=name, actor=user), form=form
        )
        if not done:
            context = self._upload_context(request, form, pull)
            return TemplateResponse(request, "admin/his/upload.html", context, status=400)
        imported: ImportRun = result
        if imported.status == RunStatus.FAILED:
            messages.error(request, gettext("Tệp không nhập được: %(reason)s") % {"reason": imported.failure})
        else:
            messages.success(
                request,
                gettext(
                    "Đã nhập tệp %(name)s: đọc %(read)s hồ sơ, nhập %(imported)s, trùng %(dup)s, "
                    "từ chối %(rejected)s, chờ đối chiếu %(held)s."
                )
                % {
                    "name": name,
                    "read": imported.read_count,
                    "imported": imported.imported_count,
                    "dup": imported.duplicate_count,
                    "rejected": imported.rejected_count,
                    "held": imported.held_count,
                },
            )
        return HttpResponseRedirect(reverse("admin:his_importrun_change", args=[imported.pk]))

    def _queue_upload(self, request: HttpRequest, facility: Facility, upload: Any, name: str) -> HttpResponse:
        from health_f0.his.tasks import his_xml_import_file

        # The facility was checked by the form (linker at it); the task re-checks through the service.
        spooled = _spool_dir() / f"{uuid.uuid4().hex}.xml"
        with spooled.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        his_xml_import_file(facility.pk, str(spooled), name, request.user.pk)
        messages.info(
            request,
            gettext(
                "Tệp %(name)s đã được đưa vào hàng đợi nhập. Lượt nhập hiện trong danh sách dưới đây với tiến "
                "độ; trang tự làm mới khi đang chạy."
            )
            % {"name": name},
        )
        return HttpResponseRedirect(reverse("admin:his_importrun_changelist"))

    def fhir_pull_view(self, request: HttpRequest) -> HttpResponse:
        if refused := post_only(request):
            return refused
        if not has_any_role(request.user, access.HIS_LINKER_ROLES):
            raise PermissionDenied
        form = FhirPullForm(request.POST, user=request.user)
        if not form.is_valid():
            messages.error(request, " ".join(form_errors(form)))
            return HttpResponseRedirect(reverse("admin:his_import_upload"))
        if not settings.HIS_FHIR_BASE_URL:
            messages.error(request, gettext("Chưa cấu hình địa chỉ FHIR của HIS (HIS_FHIR_BASE_URL)."))
            return HttpResponseRedirect(reverse("admin:his_import_upload"))
        from health_f0.his.tasks import his_fhir_pull_facility

        facility = form.cleaned_data["facility"]
        his_fhir_pull_facility(facility.pk)
        messages.info(
            request,
            gettext("Đã yêu cầu đồng bộ FHIR cho %(name)s; kết quả hiện trong danh sách lượt nhập.")
            % {"name": facility.name},
        )
        return HttpResponseRedirect(reverse("admin:his_importrun_changelist"))
