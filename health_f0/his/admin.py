"""HIS linking in the desk: the HIS linker's queue (the patient next to the HIS candidates, with what matches),
reception's request at the counter and the printable link form, the links with unlinking, the insurance XML
upload and the FHIR "pull now", the import runs with their counts and errors, and the imported visits and
lab results (read-only).

Nothing here decides anything: every button calls his.services / his.imports (workflow, role at the
facility, audit row, SMS after commit). Rows come from facilities.access through his.selectors; every page
that shows a patient's HIS data writes an audit VIEW row (services.his_records_view).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from health_f0.core.exceptions import DomainError
from health_f0.core.phone import display_phone
from health_f0.desk.formatting import (
    duration_label,
    fmt_date,
    fmt_datetime,
    fmt_user,
    fmt_when_who,
    name_html,
)
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.his import selectors, services
from health_f0.his.forms import (
    XML_INLINE_BYTES,
    ApproveForm,
    DismissHeldForm,
    FhirPullForm,
    FindRecordForm,
    ReceptionRequestForm,
    RejectForm,
    UnlinkForm,
    XmlUploadForm,
    xml_max_upload_bytes,
)
from health_f0.his.models import (
    HisHeldRecord,
    HisLabResult,
    HisLink,
    HisLinkRequest,
    HisVisit,
    HoldReason,
    IdentifierType,
    ImportRun,
    LabFlag,
    LinkChannel,
    LinkStatus,
    RunStatus,
)
from health_f0.his.transitions import HIS_READER_ROLES, LINKER_ROLES, RECEPTION_ROLES
from health_f0.patients.models import Patient
from health_f0.registration.admin import badge, search_phone

QUEUE_PAGE_SIZE = 20
RUN_ROLES: frozenset[str] = access.HIS_RUN_ROLES
REPORT_ROLES: frozenset[str] = access.HIS_RUN_ROLES

LINK_STATUS_BADGE: dict[str, str | None] = {
    LinkStatus.REQUESTED: "info",
    LinkStatus.NEEDS_REVIEW: "warning",
    LinkStatus.LINKED: "success",
    LinkStatus.REJECTED: "danger",
    LinkStatus.UNLINKED: None,
}
RUN_STATUS_BADGE: dict[str, str | None] = {
    RunStatus.RUNNING: "info",
    RunStatus.DONE: "success",
    RunStatus.FAILED: "danger",
}
FLAG_BADGE: dict[str, str | None] = {
    LabFlag.HIGH: "danger",
    LabFlag.LOW: "warning",
    LabFlag.NORMAL: "success",
}
SEX_LABELS = {"male": _("Nam"), "female": _("Nữ"), "other": _("Khác")}

UNLINK_DIALOG: ActionDialog = {
    "title": _("Huỷ liên kết HIS"),
    "description": _(
        "Người bệnh không còn xem được lượt khám và kết quả từ hồ sơ HIS này. Dữ liệu đã nhập vẫn được giữ."
    ),
    "form_class": UnlinkForm,
    "form_submit_text": _("Huỷ liên kết"),
}


def _iso_date(value: Any) -> str:
    try:
        return fmt_date(date.fromisoformat(str(value)[:10])) if value else "—"
    except ValueError:
        return str(value)


def _identifier_label(kind: str) -> str:
    return str(dict(IdentifierType.choices).get(kind, kind))


def _safe_next(request: HttpRequest, fallback: str) -> str:
    """Back to the desk page the form was posted from (only a local /desk/ path is followed)."""
    target = request.POST.get("next", "")
    if target.startswith("/desk/") and "//" not in target and "\\" not in target:
        return target
    return fallback


# --- The queue card: the patient and the HIS candidates side by side ---------------------------------


def _match_cell(value: str, matches: bool | None) -> dict[str, Any]:
    return {"value": value or "—", "matches": matches}


def _ids_text(ids: dict[str, str]) -> str:
    """Identifiers in a fixed order (HIS code, BHYT, CCCD), each named."""
    order = (IdentifierType.HIS_CODE, IdentifierType.BHYT, IdentifierType.CCCD)
    return "; ".join(f"{_identifier_label(kind)}: {ids[kind]}" for kind in order if ids.get(kind))


SOURCE_LABELS = {"fhir": _("HIS trả về (FHIR)"), "xml": _("từ tệp XML của HIS")}


def candidate_table(req: HisLinkRequest) -> dict[str, Any]:
    """Rows (one per field) x columns (the patient's account, then each HIS record the HIS returned). Each
    HIS cell says in words whether it matches ("Khớp" / "Không khớp"), not by colour only. The identifier
    the requester typed is a row of its own, labelled as an unverified claim, never as the account's data."""
    patient = req.patient
    fields = [
        ("name", _("Họ và tên")),
        ("date_of_birth", _("Ngày sinh")),
        ("claim", _("Mã người yêu cầu khai (chưa xác minh)")),
        ("ids", _("Mã định danh")),
        ("sex", _("Giới tính")),
        ("address", _("Địa chỉ")),
    ]
    patient_values = {
        "name": patient.full_name,
        "date_of_birth": fmt_date(patient.date_of_birth),
        "claim": f"{req.get_identifier_type_display()}: {req.identifier}",
        "ids": _ids_text({IdentifierType.CCCD: patient.cccd, IdentifierType.BHYT: patient.bhyt}),
        "sex": str(SEX_LABELS.get(patient.sex, patient.sex)),
        "address": ", ".join(p for p in (patient.street, patient.ward_name) if p),
    }
    columns = []
    for candidate in req.candidates:
        match = candidate.get("match") or {}
        ids = {k: str(v) for k, v in (candidate.get("identifiers") or {}).items() if v}
        claimed = ids.get(req.identifier_type, "")
        cells = {
            "name": _match_cell(candidate.get("full_name", ""), bool(match.get("name"))),
            "date_of_birth": _match_cell(
                _iso_date(candidate.get("date_of_birth")), bool(match.get("date_of_birth"))
            ),
            "claim": _match_cell(
                f"{_identifier_label(req.identifier_type)}: {claimed}" if claimed else "",
                bool(match.get("identifier")),
            ),
            "ids": _match_cell(_ids_text(ids), None),
            "sex": _match_cell(str(SEX_LABELS.get(candidate.get("sex", ""), candidate.get("sex", ""))), None),
            "address": _match_cell(candidate.get("address", ""), None),
        }
        mismatches = [str(label) for key, label in fields[:3] if cells[key]["matches"] is False]
        columns.append(
            {
                "his_patient_id": candidate.get("his_patient_id", ""),
                "source": str(SOURCE_LABELS.get(candidate.get("source") or "fhir", "")),
                "named_by_linker": candidate.get("found_by") == "linker",
                "cells": cells,
                "mismatches": mismatches,
                "exact": not mismatches,
            }
        )
    rows = [
        {
            "key": key,
            "label": label,
            "patient": patient_values[key] or "—",
            "candidates": [column["cells"][key] for column in columns],
        }
        for key, label in fields
    ]
    return {"rows": rows, "columns": columns}


def request_card(request: HttpRequest, req: HisLinkRequest) -> dict[str, Any]:
    user = request.user
    now = timezone.now()
    return {
        "req": req,
        "patient": req.patient,
        "phone": display_phone(req.patient.phone),
        "status": badge(req.get_status_display(), LINK_STATUS_BADGE.get(req.status)),
        "waiting": duration_label(now - req.created_at),
        "created": fmt_datetime(req.created_at),
        "table": candidate_table(req),
        "open": req.status == LinkStatus.NEEDS_REVIEW,
        "may_decide": access.can_act_at(user, req.facility, LINKER_ROLES),
        "approve_url": reverse("admin:his_link_approve", args=[req.pk]),
        "reject_url": reverse("admin:his_link_reject", args=[req.pk]),
        "lookup_url": reverse("admin:his_link_lookup", args=[req.pk]),
        "find_url": reverse("admin:his_link_find", args=[req.pk]),
        "find_form": FindRecordForm(auto_id=f"find{req.pk}_%s"),
        "pdf_url": reverse("admin:his_link_form_pdf", args=[req.pk]),
        "detail_url": reverse("admin:his_hislinkrequest_change", args=[req.pk]),
        "approve_form": ApproveForm(auto_id=f"approve{req.pk}_%s"),
        "reject_form": RejectForm(auto_id=f"reject{req.pk}_%s"),
    }


# --- Held XML records: the file's patient next to the linked patient a key pointed at -----------------

HELD_SHOWN = 20


def held_reason(record: HisHeldRecord) -> str:
    """Why a record waits, in words."""
    keys: dict[str, str] = {
        IdentifierType.BHYT: gettext("số thẻ BHYT"),
        IdentifierType.CCCD: gettext("số CCCD"),
    }
    key = keys.get(record.matched_by, record.matched_by)
    if record.reason == HoldReason.SEVERAL_PATIENTS:
        return gettext("Khớp %(key)s với nhiều người bệnh đã liên kết khác nhau.") % {"key": key}
    labels = {"name": gettext("họ tên"), "date_of_birth": gettext("ngày sinh")}
    differs = ", ".join(labels.get(m, m) for m in record.mismatches)
    return gettext("Khớp %(key)s với người bệnh đã liên kết nhưng khác %(fields)s.") % {
        "key": key,
        "fields": differs,
    }


def held_card(record: HisHeldRecord, links: dict[int, HisLink]) -> dict[str, Any]:
    patient = record.candidate_patient
    link = links.get(record.candidate_link_id or 0)
    link_ids = dict(link.identifiers) if link else {}
    rows = [
        (
            _("Họ và tên"),
            patient.full_name if patient else "—",
            _match_cell(record.full_name, None if patient is None else "name" not in record.mismatches),
        ),
        (
            _("Ngày sinh"),
            fmt_date(patient.date_of_birth) if patient else "—",
            _match_cell(
                fmt_date(record.date_of_birth),
                None if patient is None else "date_of_birth" not in record.mismatches,
            ),
        ),
        (
            _identifier_label(IdentifierType.HIS_CODE),
            link_ids.get(IdentifierType.HIS_CODE, "") or "—",
            _match_cell(record.his_code, None),
        ),
        (
            _identifier_label(IdentifierType.BHYT),
            link_ids.get(IdentifierType.BHYT, "") or "—",
            _match_cell(record.bhyt, True if record.matched_by == IdentifierType.BHYT and patient else None),
        ),
        (
            _identifier_label(IdentifierType.CCCD),
            link_ids.get(IdentifierType.CCCD, "") or "—",
            _match_cell(record.cccd, True if record.matched_by == IdentifierType.CCCD and patient else None),
        ),
    ]
    return {
        "record": record,
        "patient": patient,
        "reason": held_reason(record),
        "admitted": fmt_datetime(record.admitted_at),
        "rows": [{"label": label, "patient": mine, "file": theirs} for label, mine, theirs in rows],
        "attach_url": reverse("admin:his_held_attach", args=[record.pk]),
        "dismiss_url": reverse("admin:his_held_dismiss", args=[record.pk]),
        "dismiss_form": DismissHeldForm(auto_id=f"dismiss{record.pk}_%s"),
    }


# --- Link requests: the queue, the detail, reception's request -------------------------------------


@admin.register(HisLinkRequest, site=desk_site)
class HisLinkRequestAdmin(ScopedModelAdmin):
    view_roles = LINKER_ROLES
    add_roles = RECEPTION_ROLES
    read_only = True  # decisions only through the queue's buttons (services)
    read_only_allows_add = True
    list_display = (
        "name_col",
        "dob_col",
        "identifier_col",
        "facility",
        "channel",
        "created_col",
        "candidates_col",
        "status_col",
    )
    list_display_links = ("name_col",)
    list_select_related = ("patient", "facility")
    list_filter = ("status", "channel", "auto_linked", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ("patient__full_name", "identifier", "his_patient_id")
    search_help_text = _("Tìm theo họ tên, số điện thoại, mã người yêu cầu khai hoặc mã người bệnh trong HIS")
    ordering = ("-created_at", "-id")

    def scope(self, user: Any) -> QuerySet[Any]:
        return selectors.link_requests_for(user=user)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        phone = search_phone(search_term.strip())
        if phone:
            return queryset.filter(patient__phone=phone), False
        return super().get_search_results(request, queryset, search_term)

    @display(description=_("người bệnh"), ordering="patient__full_name")
    def name_col(self, obj: HisLinkRequest) -> SafeString:
        return name_html(obj.patient.full_name)

    @display(description=_("ngày sinh"))
    def dob_col(self, obj: HisLinkRequest) -> str:
        return fmt_date(obj.patient.date_of_birth)

    @display(description=_("mã người yêu cầu khai"))
    def identifier_col(self, obj: HisLinkRequest) -> str:
        return f"{obj.get_identifier_type_display()}: {obj.identifier}"

    @display(description=_("gửi lúc"), ordering="created_at")
    def created_col(self, obj: HisLinkRequest) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("hồ sơ HIS tìm được"))
    def candidates_col(self, obj: HisLinkRequest) -> str:
        if obj.lookup_error:
            return gettext("HIS chưa phản hồi")
        return str(len(obj.candidates))

    @display(description=_("trạng thái"), ordering="status")
    def status_col(self, obj: HisLinkRequest) -> SafeString:
        return badge(obj.get_status_display(), LINK_STATUS_BADGE.get(obj.status))

    # --- pages ------------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("hang-cho/", wrap(self.queue_view), name="his_link_queue"),
            path("<int:pk>/duyet/", wrap(self.approve_view), name="his_link_approve"),
            path("<int:pk>/tu-choi/", wrap(self.reject_view), name="his_link_reject"),
            path("<int:pk>/tra-cuu-lai/", wrap(self.lookup_view), name="his_link_lookup"),
            path("<int:pk>/tim-ho-so/", wrap(self.find_view), name="his_link_find"),
            path("ho-so-cho/<int:pk>/gan/", wrap(self.held_attach_view), name="his_held_attach"),
            path("ho-so-cho/<int:pk>/bo-qua/", wrap(self.held_dismiss_view), name="his_held_dismiss"),
            path("<int:pk>/phieu-lien-ket/", wrap(self.form_pdf_view), name="his_link_form_pdf"),
        ]
        return own + super().get_urls()

    def _page_context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        request.current_app = self.admin_site.name
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "content_title": title,
            "subtitle": None,
            "opts": self.model._meta,
            "model_admin": self,
            "has_view_permission": True,
        }

    def queue_view(self, request: HttpRequest) -> HttpResponse:
        """Waiting requests, oldest first, each with the HIS candidates side by side."""
        if not has_any_role(request.user, LINKER_ROLES):
            raise PermissionDenied
        hospitals = list(
            access.facilities_for(request.user, LINKER_ROLES)
            .filter(kind__in=services.HIS_FACILITY_KINDS)
            .order_by("path")
        )
        raw = request.GET.get("facility", "")
        facility = next((f for f in hospitals if str(f.pk) == raw), None)
        queue = selectors.link_queue(user=request.user, facility=facility)
        page = Paginator(queue, QUEUE_PAGE_SIZE).get_page(request.GET.get("p"))
        requests_shown = list(page.object_list)
        services.his_records_view(actor=request.user, records=requests_shown, verb="view_his_link_queue")
        held_qs = selectors.held_records_for(user=request.user, facility=facility)
        held = list(held_qs[:HELD_SHOWN])
        services.his_records_view(
            actor=request.user,
            records=[r for r in held if r.candidate_patient_id],
            verb="view_his_held_records",
        )
        links = HisLink.objects.in_bulk([r.candidate_link_id for r in held if r.candidate_link_id])
        query = request.GET.copy()
        query.pop("p", None)
        context = {
            **self._page_context(request, gettext("Hàng chờ liên kết HIS")),
            "hospitals": hospitals if len(hospitals) > 1 else [],
            "selected": facility.pk if facility else None,
            "page": page,
            "cards": [request_card(request, req) for req in requests_shown],
            "held_cards": [held_card(record, links) for record in held],
            "held_total": held_qs.count() if len(held) >= HELD_SHOWN else len(held),
            "held_shown": HELD_SHOWN,
            "query": query.urlencode(),
            "all_url": reverse("admin:his_hislinkrequest_changelist"),
        }
        return TemplateResponse(request, "admin/his/queue.html", context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        req = self.scoped_object(request, object_id)
        if req is None:
            raise Http404(gettext("Không tìm thấy yêu cầu liên kết."))
        services.his_records_view(actor=request.user, records=[req], verb="view_his_link_request")
        link = req.links.order_by("-linked_at").first()
        context = {
            **self._page_context(request, gettext("Yêu cầu liên kết HIS")),
            "card": request_card(request, req),
            "link_url": reverse("admin:his_hislink_change", args=[link.pk]) if link else "",
            "decided_by": fmt_user(req.decided_by),
            "decided_at": fmt_datetime(req.decided_at),
            **self.history_context(req, gettext("Lịch sử yêu cầu"), include_views=True),
            "back_url": reverse("admin:his_link_queue"),
        }
        return TemplateResponse(request, "admin/his/request_detail.html", context)

    def _open_request(self, request: HttpRequest, pk: int) -> HisLinkRequest:
        if request.method != "POST":
            raise Http404
        req = self.get_queryset(request).filter(pk=pk).select_related("patient", "facility").first()
        if req is None:
            raise Http404(gettext("Không tìm thấy yêu cầu liên kết."))
        return req

    def _after(self, request: HttpRequest, req: HisLinkRequest) -> HttpResponse:
        return HttpResponseRedirect(_safe_next(request, reverse("admin:his_link_queue")))

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        req = self._open_request(request, pk)
        form = ApproveForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
            return self._after(request, req)
        try:
            link = services.link_request_approve(
                request=req, actor=request.user, his_patient_id=form.cleaned_data["his_patient_id"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("Đã liên kết %(name)s với hồ sơ HIS %(id)s; người bệnh được báo qua SMS.")
                % {"name": req.patient.full_name, "id": link.his_patient_id},
            )
        return self._after(request, req)

    def reject_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        req = self._open_request(request, pk)
        form = RejectForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
            return self._after(request, req)
        try:
            services.link_request_reject(request=req, actor=request.user, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("Đã từ chối yêu cầu liên kết của %(name)s; người bệnh được báo qua SMS.")
                % {"name": req.patient.full_name},
            )
        return self._after(request, req)

    def lookup_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        req = self._open_request(request, pk)
        try:
            req = services.link_request_lookup(request=req, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if req.lookup_error:
                messages.warning(request, req.lookup_error)
            else:
                messages.success(
                    request,
                    gettext("Đã tra cứu lại HIS: %(n)s hồ sơ tìm được.") % {"n": len(req.candidates)},
                )
        return self._after(request, req)

    def find_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The linker names a HIS code: the record it resolves to joins the candidates (or an error)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        req = self._open_request(request, pk)
        form = FindRecordForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
            return self._after(request, req)
        try:
            req = services.link_request_find_record(
                request=req, actor=request.user, his_code=form.cleaned_data["his_code"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("Đã tìm thấy hồ sơ mã %(code)s; so sánh với tài khoản rồi bấm “Liên kết hồ sơ này”.")
                % {"code": form.cleaned_data["his_code"]},
            )
        return self._after(request, req)

    def _held(self, request: HttpRequest, pk: int) -> HisHeldRecord:
        record = (
            selectors.held_records_for(user=request.user, waiting_only=False)
            .filter(pk=pk)
            .select_related("facility", "candidate_patient")
            .first()
        )
        if record is None:
            raise Http404(gettext("Không tìm thấy hồ sơ chờ đối chiếu."))
        return record

    def held_attach_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        record = self._held(request, pk)
        from health_f0.his import imports

        try:
            imports.held_record_attach(record=record, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("Đã gắn lượt khám %(ref)s vào hồ sơ của %(name)s.")
                % {"ref": record.external_id, "name": record.candidate_patient or ""},
            )
        return HttpResponseRedirect(_safe_next(request, reverse("admin:his_link_queue")))

    def held_dismiss_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        record = self._held(request, pk)
        from health_f0.his import imports

        form = DismissHeldForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        else:
            try:
                imports.held_record_dismiss(
                    record=record, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    gettext("Đã bỏ qua lượt khám %(ref)s; hồ sơ không được gắn vào người bệnh nào.")
                    % {"ref": record.external_id},
                )
        return HttpResponseRedirect(_safe_next(request, reverse("admin:his_link_queue")))

    def form_pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The printable link form: for reception (who started it at the counter) and the linkers."""
        req = (
            access.scope_by_facility(
                HisLinkRequest.objects.select_related("patient", "facility"),
                request.user,
                roles=RECEPTION_ROLES,
            )
            .filter(pk=pk)
            .first()
        )
        if req is None:
            raise Http404(gettext("Không tìm thấy yêu cầu liên kết."))
        services.his_records_view(actor=request.user, records=[req], verb="print_his_link_form")
        response = HttpResponse(services.link_form_pdf(request=req), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="phieu-lien-ket-his-{req.public_id.hex[:8]}.pdf"'
        return response

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Reception starts a request for a patient at the counter (channel "reception")."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ReceptionRequestForm(request.POST or None)
        created: HisLinkRequest | None = None
        if request.method == "POST" and form.is_valid():
            patient = self._find_patient(request, form)
            if patient is not None:
                try:
                    created = services.link_request_create(
                        patient=patient,
                        identifier_type=form.cleaned_data["identifier_type"],
                        identifier=form.cleaned_data["identifier"],
                        channel=LinkChannel.RECEPTION,
                        actor=request.user,
                    )
                except DomainError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        context = {
            **self._page_context(request, gettext("Yêu cầu liên kết HIS tại quầy")),
            "form": form,
            "created": created,
            "created_status": (
                badge(created.get_status_display(), LINK_STATUS_BADGE.get(created.status)) if created else ""
            ),
            "pdf_url": reverse("admin:his_link_form_pdf", args=[created.pk]) if created else "",
            "again_url": reverse("admin:his_hislinkrequest_add"),
        }
        return TemplateResponse(request, "admin/his/reception_request.html", context)

    def _find_patient(self, request: HttpRequest, form: ReceptionRequestForm) -> Patient | None:
        """The one patient (with an account) the user may see with this phone, CCCD or BHYT number."""
        term = "".join(form.cleaned_data["patient_query"].split()).upper()
        condition = Q(cccd=term) | Q(bhyt=term)
        phone = search_phone(term)
        if phone:
            condition |= Q(phone=phone)
        found = list(
            access.patients_for(request.user)
            .filter(condition, account__isnull=False)
            .select_related("facility")
            .order_by("full_name")[:6]
        )
        if not found:
            form.add_error(
                "patient_query",
                gettext("Không tìm thấy người bệnh có tài khoản với số này trong phạm vi của bạn."),
            )
            return None
        if len(found) > 1:
            form.add_error(
                "patient_query",
                gettext("Có %(n)s người bệnh dùng số này (%(names)s); hãy nhập số CCCD hoặc thẻ BHYT.")
                % {"n": len(found), "names": ", ".join(p.full_name for p in found)},
            )
            return None
        return found[0]


# --- Links -------------------------------------------------------------------------------------------


@admin.register(HisLink, site=desk_site)
class HisLinkAdmin(ScopedModelAdmin):
    view_roles = LINKER_ROLES
    read_only = True
    list_display = ("name_col", "his_patient_id", "facility", "linked_col", "by_col", "active_col")
    list_display_links = ("name_col",)
    list_select_related = ("patient", "facility", "linked_by", "request")
    list_filter = ("active", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    search_fields = ("patient__full_name", "his_patient_id", "cccd", "bhyt_key", "his_code")
    search_help_text = _("Tìm theo họ tên, mã người bệnh trong HIS, CCCD hoặc số BHYT")
    ordering = ("-linked_at",)
    actions_detail = ["unlink_action"]
    fields = (
        "name_col",
        "dob_col",
        "phone_col",
        "facility",
        "his_patient_id",
        "record_col",
        "identifiers_col",
        "claim_col",
        "linked_col",
        "by_col",
        "active_col",
        "unlinked_col",
        "unlink_reason",
        "request_col",
    )
    readonly_fields = fields

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.scope_by_facility(
            selectors.links_for(user=user, active_only=False), user, roles=LINKER_ROLES
        ).select_related("linked_by", "unlinked_by")

    def has_unlink_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None:
            return has_any_role(request.user, LINKER_ROLES)
        link = self.scoped_object(request, object_id)
        return bool(link and link.active and access.can_act_at(request.user, link.facility, LINKER_ROLES))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        link = self.scoped_object(request, object_id)
        if link is not None and request.method == "GET":
            services.his_records_view(actor=request.user, records=[link], verb="view_his_link")
        return super().change_view(request, object_id, form_url, extra_context)

    @display(description=_("người bệnh"), ordering="patient__full_name")
    def name_col(self, obj: HisLink) -> SafeString:
        return name_html(obj.patient.full_name)

    @display(description=_("ngày sinh"))
    def dob_col(self, obj: HisLink) -> str:
        return fmt_date(obj.patient.date_of_birth)

    @display(description=_("số điện thoại"))
    def phone_col(self, obj: HisLink) -> str:
        return display_phone(obj.patient.phone)

    @display(description=_("mã định danh do HIS trả về"))
    def identifiers_col(self, obj: HisLink) -> str:
        return _ids_text(dict(obj.identifiers)) or "—"

    @display(description=_("hồ sơ HIS đã liên kết"))
    def record_col(self, obj: HisLink) -> str:
        if not obj.record_source:
            return gettext("liên kết cũ, chỉ giữ mã người bệnh trong HIS")
        parts = [obj.his_full_name, fmt_date(obj.his_date_of_birth) if obj.his_date_of_birth else ""]
        source = str(SOURCE_LABELS.get(obj.record_source, obj.record_source))
        return " · ".join(p for p in [*parts, source] if p)

    @display(description=_("mã người yêu cầu khai (chưa xác minh)"))
    def claim_col(self, obj: HisLink) -> str:
        req = obj.request
        if req is None:
            return "—"
        return f"{req.get_identifier_type_display()}: {req.identifier}"

    @display(description=_("liên kết lúc"), ordering="linked_at")
    def linked_col(self, obj: HisLink) -> str:
        return fmt_datetime(obj.linked_at)

    @display(description=_("người liên kết"))
    def by_col(self, obj: HisLink) -> str:
        return fmt_user(obj.linked_by, gettext("tự động (khớp chính xác)"))

    @display(description=_("trạng thái"), ordering="active")
    def active_col(self, obj: HisLink) -> SafeString:
        if obj.active:
            return badge(gettext("Đang hiệu lực"), "success")
        return badge(gettext("Đã huỷ liên kết"), None)

    @display(description=_("huỷ liên kết"))
    def unlinked_col(self, obj: HisLink) -> str:
        return fmt_when_who(obj.unlinked_at, obj.unlinked_by)

    @display(description=_("yêu cầu"))
    def request_col(self, obj: HisLink) -> Any:
        if not obj.request_id:
            return "—"
        url = reverse("admin:his_hislinkrequest_change", args=[obj.request_id])
        return format_html(
            '<a class="text-primary-600 underline" href="{}">{}</a>', url, gettext("Mở yêu cầu")
        )

    @action(
        description=_("Huỷ liên kết"),
        url_path="huy-lien-ket",
        permissions=["unlink"],
        icon="link_off",
        variant=ActionVariant.DANGER,
        dialog=UNLINK_DIALOG,
    )
    def unlink_action(self, request: HttpRequest, form: UnlinkForm, object_id: Any) -> HttpResponse:
        link = self.scoped_object(request, object_id)
        if link is None:
            raise Http404
        target = reverse("admin:his_hislink_change", args=[object_id])
        try:
            services.link_unlink(link=link, actor=request.user, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, gettext("Đã huỷ liên kết HIS của %(name)s.") % {"name": link.patient.full_name}
            )
        return redirect_back(request, target)


# --- Import runs, the XML upload, the FHIR pull ------------------------------------------------------


def _spool_dir() -> Path:
    folder = Path(settings.VAR_DIR) / "his-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def progress_bar(run: ImportRun) -> SafeString:
    percent = run.progress_percent
    if run.status != RunStatus.RUNNING or percent is None:
        return SafeString("")
    return format_html(
        '<div class="flex flex-row items-center gap-2 min-w-32">'
        '<progress class="w-24" max="100" value="{}">{} %</progress><span>{} %</span></div>',
        percent,
        percent,
        percent,
    )


@admin.register(ImportRun, site=desk_site)
class ImportRunAdmin(ScopedModelAdmin):
    view_roles = RUN_ROLES
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
            "may_upload": has_any_role(request.user, LINKER_ROLES),
        }
        return super().changelist_view(request, extra)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run = self.scoped_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if run is not None:
            extra["run"] = run
            extra["run_errors"] = run.errors[:500]
            extra["run_errors_more"] = max(run.rejected_count - 500, 0) if len(run.errors) >= 500 else 0
            extra["progress"] = progress_bar(run)
            extra["auto_refresh"] = run.status == RunStatus.RUNNING
            extra["subtitle"] = run.get_status_display()
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
        head = badge(obj.get_status_display(), RUN_STATUS_BADGE.get(obj.status))
        return format_html('<div class="flex flex-col gap-1 items-start">{}{}</div>', head, progress_bar(obj))

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
        request.current_app = self.admin_site.name
        title = gettext("Nhập dữ liệu HIS")
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "content_title": title,
            "subtitle": None,
            "opts": self.model._meta,
            "model_admin": self,
            "has_view_permission": True,
            "form": form,
            "pull_form": pull,
            "fhir_configured": bool(settings.HIS_FHIR_BASE_URL),
            "max_mb": xml_max_upload_bytes() // (1024 * 1024),
            "runs_url": reverse("admin:his_importrun_changelist"),
            "recent": [
                {
                    "run": run,
                    "status": badge(run.get_status_display(), RUN_STATUS_BADGE.get(run.status)),
                    "started": fmt_datetime(run.started_at),
                    "progress": progress_bar(run),
                    "url": reverse("admin:his_importrun_change", args=[run.pk]),
                }
                for run in selectors.import_runs_for(user=request.user, days=7)[:5]
            ],
        }

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Upload an insurance XML file: small files import now, larger ones are queued (Huey)."""
        user = request.user
        if not has_any_role(user, LINKER_ROLES):
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
        try:
            run = services_import(facility=facility, upload=upload, name=name, actor=user)
        except DomainError as exc:
            form.add_error(None, exc.message)
            context = self._upload_context(request, form, pull)
            return TemplateResponse(request, "admin/his/upload.html", context, status=400)
        if run.status == RunStatus.FAILED:
            messages.error(request, gettext("Tệp không nhập được: %(reason)s") % {"reason": run.failure})
        else:
            messages.success(
                request,
                gettext(
                    "Đã nhập tệp %(name)s: đọc %(read)s hồ sơ, nhập %(imported)s, trùng %(dup)s, "
                    "từ chối %(rejected)s, chờ đối chiếu %(held)s."
                )
                % {
                    "name": name,
                    "read": run.read_count,
                    "imported": run.imported_count,
                    "dup": run.duplicate_count,
                    "rejected": run.rejected_count,
                    "held": run.held_count,
                },
            )
        return HttpResponseRedirect(reverse("admin:his_importrun_change", args=[run.pk]))

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
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not has_any_role(request.user, LINKER_ROLES):
            raise PermissionDenied
        form = FhirPullForm(request.POST, user=request.user)
        target = reverse("admin:his_importrun_changelist")
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
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
        return HttpResponseRedirect(target)


def services_import(*, facility: Facility, upload: Any, name: str, actor: Any) -> ImportRun:
    """Import a small upload during the request (the service checks the actor is a linker there)."""
    from health_f0.his import imports

    upload.seek(0)
    return imports.xml_import(
        facility=facility, stream=upload, file_name=name, actor=actor, size=upload.size or 0
    )


# --- Imported visits and lab results (read-only) -----------------------------------------------------


class HisRecordAdmin(ScopedModelAdmin):
    """Read-only imported rows; each page that shows them audits a VIEW per patient shown."""

    view_roles = HIS_READER_ROLES
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


# --- The sidebar group (desk.site.sidebar_navigation inserts it) -------------------------------


def _has(roles: frozenset[str]) -> Callable[[HttpRequest], bool]:
    def check(request: HttpRequest) -> bool:
        return has_any_role(request.user, roles)

    return check


def _can_view(model: Any) -> Callable[[HttpRequest], bool]:
    def check(request: HttpRequest) -> bool:
        model_admin = desk_site._registry.get(model)
        return bool(model_admin and model_admin.has_view_permission(request))

    return check


def _under(name: str, *, besides: tuple[str, ...] = ()) -> Callable[[HttpRequest], bool]:
    def check(request: HttpRequest) -> bool:
        base = reverse(f"admin:{name}")
        others = tuple(reverse(f"admin:{other}") for other in besides)
        return request.path.startswith(base) and not (others and request.path.startswith(others))

    return check


def sidebar_group(item: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The "Liên kết HIS" group of the desk menu; items the user may not open are hidden."""
    requests_list = "his_hislinkrequest_changelist"
    return {
        "title": _("Liên kết HIS"),
        "separator": True,
        "items": [
            {
                **item(
                    _("Hàng chờ liên kết"),
                    "pending_actions",
                    reverse("admin:his_link_queue"),
                    _has(LINKER_ROLES),
                ),
                "active": _under("his_link_queue"),
            },
            {
                **item(
                    _("Liên kết tại quầy"),
                    "how_to_reg",
                    reverse("admin:his_hislinkrequest_add"),
                    _has(RECEPTION_ROLES),
                ),
                "active": _under("his_hislinkrequest_add"),
            },
            {
                **item(
                    _("Tất cả yêu cầu liên kết"),
                    "fact_check",
                    reverse(f"admin:{requests_list}"),
                    _can_view(HisLinkRequest),
                ),
                "active": _under(requests_list, besides=("his_link_queue", "his_hislinkrequest_add")),
            },
            item(
                _("Tài khoản đã liên kết"),
                "link",
                reverse("admin:his_hislink_changelist"),
                _can_view(HisLink),
            ),
            item(
                _("Nhập tệp XML / đồng bộ"),
                "upload_file",
                reverse("admin:his_import_upload"),
                _has(LINKER_ROLES),
            ),
            {
                **item(
                    _("Lượt nhập dữ liệu"),
                    "sync",
                    reverse("admin:his_importrun_changelist"),
                    _can_view(ImportRun),
                ),
                "active": _under("his_importrun_changelist", besides=("his_import_upload",)),
            },
            item(
                _("Lượt khám (HIS)"),
                "stethoscope",
                reverse("admin:his_hisvisit_changelist"),
                _can_view(HisVisit),
            ),
            item(
                _("Kết quả cận lâm sàng"),
                "biotech",
                reverse("admin:his_hislabresult_changelist"),
                _can_view(HisLabResult),
            ),
            item(_("Báo cáo liên kết HIS"), "monitoring", "/bao-cao/lien-ket-his/", _has(REPORT_ROLES)),
        ],
    }
