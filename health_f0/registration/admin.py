"""The station's registration queue in the desk: list, detail, accept / reject / transfer, direct entry.

Nothing here changes a registration by itself: every button calls a registration service, which checks the
workflow, the actor's role at the facility, writes the audit row and queues the SMS.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from health_f0.core.exceptions import DomainError
from health_f0.core.phone import normalize_mobile
from health_f0.desk.formatting import age_years, duration_label, fmt_born, fmt_date, fmt_datetime, name_html
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.patients import address
from health_f0.registration import screening
from health_f0.registration.forms import AcceptForm, DeskRegistrationForm, RejectForm, TransferForm
from health_f0.registration.models import Eligibility, Registration, RegistrationStatus
from health_f0.registration.selectors import needs_confirmation, queue_ordering
from health_f0.registration.services import (
    ValidationErrors,
    registration_accept,
    registration_bulk_accept,
    registration_create_by_staff,
    registration_record_view,
    registration_reject,
    registration_transfer,
)
from health_f0.registration.transitions import REGISTRATION_WORKFLOW

ELIGIBILITY_BADGE: dict[str, str | None] = {
    Eligibility.ELIGIBLE: "success",
    Eligibility.REVIEW: "warning",
    Eligibility.HOSPITAL: "danger",
}
STATUS_BADGE: dict[str, str | None] = {
    RegistrationStatus.SUBMITTED: "info",
    RegistrationStatus.ACCEPTED: "success",
    RegistrationStatus.REJECTED: "danger",
}

ACCEPT_DIALOG: ActionDialog = {
    "title": _("Tiếp nhận chăm sóc tại nhà"),
    "description": _(
        "Hệ thống tạo hồ sơ người bệnh, cấp tài khoản và gửi tên đăng nhập, mật khẩu qua SMS tới số "
        "điện thoại đã đăng ký."
    ),
    "form_class": AcceptForm,
    "form_submit_text": _("Tiếp nhận"),
}
REJECT_DIALOG: ActionDialog = {
    "title": _("Từ chối đăng ký"),
    "description": _("Người đăng ký nhận SMS có lý do và số điện thoại của trạm."),
    "form_class": RejectForm,
    "form_submit_text": _("Từ chối"),
}
TRANSFER_DIALOG: ActionDialog = {
    "title": _("Chuyển trạm"),
    "description": _("Chuyển hồ sơ sang hàng chờ của trạm y tế hoặc cơ sở thu dung khác trong tỉnh."),
    "form_class": TransferForm,
    "form_submit_text": _("Chuyển"),
}


def badge(text: Any, kind: str | None) -> SafeString:
    return SafeString(render_to_string("unfold/helpers/label.html", {"text": text, "type": kind}).strip())


def labels(options: list[screening.Option], codes: list[str]) -> str:
    return ", ".join(screening.label(options, code) for code in codes) or gettext("Không")


def yes_no(value: bool) -> str:
    return gettext("Có") if value else gettext("Không")


def bullet_list(items: list[str]) -> SafeString:
    if not items:
        return SafeString("—")
    return format_html(
        '<ul class="flex flex-col gap-1">{}</ul>',
        format_html_join("", "<li>• {}</li>", ((i,) for i in items)),
    )


def search_phone(term: str) -> str | None:
    """'0912 345 678' / '0912345678' / '+84912345678' -> E.164, or None if the term is not a phone number."""
    if sum(ch.isdigit() for ch in term) < 9:
        return None
    try:
        return normalize_mobile(term)
    except DomainError:
        return None


@admin.register(Registration, site=desk_site)
class RegistrationAdmin(ScopedModelAdmin):
    view_roles = access.STATION_ROLES
    add_roles = REGISTRATION_WORKFLOW.roles_for("accept")
    # The record is what the person declared; status changes only through the buttons.
    read_only = True
    read_only_allows_add = True

    list_display = (
        "name_col",
        "age_col",
        "phone_col",
        "ward_col",
        "facility",
        "waiting_col",
        "eligibility_col",
        "status_col",
        "channel",
    )
    list_display_links = ("name_col",)
    list_select_related = ("facility",)
    list_filter = ("status", "eligibility", ("facility", admin.RelatedOnlyFieldListFilter), "channel")
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ("full_name", "cccd")
    search_help_text = _("Tìm theo họ tên, số điện thoại hoặc số CCCD")
    # Waiting ones by severity (should go to hospital, needs review, eligible), then the oldest first.
    ordering = queue_ordering()
    actions = ["bulk_accept"]
    actions_detail = ["accept_action", "reject_action", "transfer_action"]
    change_form_after_template = "admin/audit_history.html"

    fieldsets = (
        (
            _("Người bệnh"),
            {"fields": ("full_name", "dob_col", "sex_col", "phone_col", "cccd", "bhyt", "address_col")},
        ),
        (_("Người đăng ký"), {"fields": ("relation_col", "registrant_name", "channel")}),
        (
            _("Sàng lọc"),
            {
                "fields": (
                    "test_type_col",
                    "positive_date_col",
                    "symptoms_col",
                    "spo2",
                    "breathing_rate",
                    "conditions_col",
                    "conditions_stable_col",
                    "pregnant_col",
                    "vaccine_doses",
                    "care_col",
                    "can_phone_col",
                )
            },
        ),
        (_("Đánh giá"), {"fields": ("eligibility_col", "reasons_col", "notes_col")}),
        (_("Đồng ý xử lý dữ liệu cá nhân"), {"fields": ("consent_policy_version", "consent_at_col")}),
        (
            _("Xử lý"),
            {
                "fields": (
                    "status_col",
                    "facility",
                    "submitted_col",
                    "waiting_col",
                    "decided_at_col",
                    "decided_by",
                    "reject_reason",
                    "patient_col",
                )
            },
        ),
    )
    readonly_fields = tuple(name for _title, options in fieldsets for name in options["fields"])

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.registrations_for(user)

    def _may_transition(self, request: HttpRequest, action_name: str, object_id: Any) -> bool:
        roles = REGISTRATION_WORKFLOW.roles_for(action_name)
        if object_id is None:
            return has_any_role(request.user, roles)
        registration = self.scoped_object(request, object_id)
        if registration is None or action_name not in REGISTRATION_WORKFLOW.actions_from(registration.status):
            return False
        return access.can_act_at(request.user, registration.facility, roles)

    def has_accept_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_transition(request, "accept", object_id)

    def has_reject_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_transition(request, "reject", object_id)

    def has_transfer_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_transition(request, "transfer", object_id)

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = list(super().get_list_display(request))
        if (
            not request.user.is_superuser
            and len(access.visible_facility_ids(request.user, self.view_roles)) == 1
        ):
            columns.remove("facility")  # a single station's queue: the station column says nothing
        return columns

    # --- search -----------------------------------------------------------------------------

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        phone = search_phone(search_term.strip())
        if phone:
            return queryset.filter(phone=phone), False
        return super().get_search_results(request, queryset, search_term)

    # --- columns ----------------------------------------------------------------------------

    @display(description=_("họ và tên"), ordering="full_name")
    def name_col(self, obj: Registration) -> SafeString:
        name = name_html(obj.full_name)
        if obj.status != RegistrationStatus.SUBMITTED or not needs_confirmation(obj):
            return name
        # The row highlight (change_list.html) hangs on data-priority; the word is for those without colour.
        return format_html(
            '<span class="reg-priority reg-priority-{}" data-priority="{}">'
            '<span class="reg-priority-flag">{}</span> {}</span>',
            obj.eligibility,
            obj.eligibility,
            gettext("Ưu tiên"),
            name,
        )

    @display(description=_("tuổi"), ordering="-date_of_birth")
    def age_col(self, obj: Registration) -> int:
        return age_years(obj.date_of_birth)

    @display(description=_("số điện thoại"))
    def phone_col(self, obj: Registration) -> SafeString:
        return format_html('<span class="whitespace-nowrap">{}</span>', obj.phone_display)

    @display(description=_("phường/xã"), ordering="ward_name")
    def ward_col(self, obj: Registration) -> SafeString:
        return format_html('<span class="whitespace-nowrap">{}</span>', obj.ward_name)

    @display(description=_("thời gian chờ"), ordering="created_at")
    def waiting_col(self, obj: Registration) -> str:
        if obj.status != RegistrationStatus.SUBMITTED:
            waited = (obj.decided_at or obj.updated_at) - obj.created_at
            return gettext("xử lý sau %(duration)s") % {"duration": duration_label(waited)}
        return gettext("chờ %(duration)s") % {"duration": duration_label(timezone.now() - obj.created_at)}

    @display(description=_("đánh giá"), ordering="eligibility")
    def eligibility_col(self, obj: Registration) -> SafeString:
        head = badge(obj.get_eligibility_display(), ELIGIBILITY_BADGE.get(obj.eligibility))
        if not obj.eligibility_reasons:
            return head
        return format_html(
            '<div class="flex flex-col gap-1 items-start">{}<span class="text-xs whitespace-normal">{}</span></div>',
            head,
            "; ".join(obj.eligibility_reasons),
        )

    @display(description=_("trạng thái"), ordering="status")
    def status_col(self, obj: Registration) -> SafeString:
        return badge(obj.get_status_display(), STATUS_BADGE.get(obj.status))

    # --- detail fields ----------------------------------------------------------------------

    @display(description=_("ngày sinh"))
    def dob_col(self, obj: Registration) -> str:
        return fmt_born(obj.date_of_birth)

    @display(description=_("giới tính"))
    def sex_col(self, obj: Registration) -> str:
        return screening.label(screening.SEXES, obj.sex)

    @display(description=_("địa chỉ"))
    def address_col(self, obj: Registration) -> str:
        parts = [obj.street, obj.ward_name, address.province_name(obj.province_code)]
        return ", ".join(part for part in parts if part)

    @display(description=_("người đăng ký"))
    def relation_col(self, obj: Registration) -> str:
        return screening.label(screening.RELATIONS, obj.relation)

    @display(description=_("loại xét nghiệm"))
    def test_type_col(self, obj: Registration) -> str:
        return screening.label(screening.TEST_TYPES, obj.test_type)

    @display(description=_("ngày có kết quả dương tính"))
    def positive_date_col(self, obj: Registration) -> str:
        return fmt_date(obj.positive_date)

    @display(description=_("triệu chứng"))
    def symptoms_col(self, obj: Registration) -> SafeString:
        if not obj.symptoms:
            return SafeString(gettext("Không có triệu chứng"))
        return format_html_join(
            " ",
            "{}",
            (
                (
                    badge(
                        screening.label(screening.SYMPTOMS, code),
                        "danger" if code in screening.DANGER_SYMPTOMS else None,
                    ),
                )
                for code in obj.symptoms
            ),
        )

    @display(description=_("bệnh nền"))
    def conditions_col(self, obj: Registration) -> str:
        return labels(screening.CONDITIONS, obj.conditions)

    @display(description=_("bệnh nền ổn định"))
    def conditions_stable_col(self, obj: Registration) -> str:
        return yes_no(obj.conditions_stable) if obj.conditions else "—"

    @display(description=_("đang mang thai"))
    def pregnant_col(self, obj: Registration) -> str:
        return yes_no(obj.pregnant)

    @display(description=_("khả năng tự chăm sóc"))
    def care_col(self, obj: Registration) -> str:
        return screening.label(screening.CARE, obj.care)

    @display(description=_("liên lạc được qua điện thoại"))
    def can_phone_col(self, obj: Registration) -> str:
        return yes_no(obj.can_phone)

    @display(description=_("lý do"))
    def reasons_col(self, obj: Registration) -> SafeString:
        return bullet_list(list(obj.eligibility_reasons))

    @display(description=_("ghi chú"))
    def notes_col(self, obj: Registration) -> SafeString:
        return bullet_list(list(obj.eligibility_notes))

    @display(description=_("đồng ý lúc"))
    def consent_at_col(self, obj: Registration) -> str:
        return fmt_datetime(obj.consent_at)

    @display(description=_("gửi lúc"))
    def submitted_col(self, obj: Registration) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("xử lý lúc"))
    def decided_at_col(self, obj: Registration) -> str:
        return fmt_datetime(obj.decided_at)

    @display(description=_("người bệnh"))
    def patient_col(self, obj: Registration) -> Any:
        if obj.patient_id is None:
            return "—"
        url = reverse("admin:patients_patient_change", args=[obj.patient_id])
        return format_html(
            '<a class="text-primary-600 underline" href="{}">{}</a>', url, gettext("Mở hồ sơ người bệnh")
        )

    # --- pages ------------------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        registration = self.scoped_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if registration is not None:
            if request.method == "GET":
                registration_record_view(registration=registration, actor=request.user)
            extra.update(self.history_context(registration, gettext("Lịch sử hồ sơ"), include_views=True))
            extra["subtitle"] = registration.get_status_display()
        return super().change_view(request, object_id, form_url, extra)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """'Đăng ký trực tiếp': staff enter a registration; it is accepted at once and the account texted."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = DeskRegistrationForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                registration = registration_create_by_staff(
                    data=form.to_input(),
                    actor=request.user,
                    station=form.cleaned_data["station"],
                    confirm_risk=bool(form.cleaned_data.get("confirm_risk")),
                )
            except ValidationErrors as exc:
                form.add_service_errors(exc.errors)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(
                    request,
                    gettext("Đã tiếp nhận %(name)s và gửi tài khoản qua SMS tới %(phone)s.")
                    % {"name": registration.full_name, "phone": registration.phone_display},
                )
                return HttpResponseRedirect(
                    reverse("admin:registration_registration_change", args=[registration.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Đăng ký trực tiếp"),
            "content_title": gettext("Đăng ký trực tiếp"),
            "subtitle": None,
            "model_admin": self,
            "cancel_url": reverse("admin:registration_registration_changelist"),
            "form": form,
            "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/registration/registration/desk_register.html", context)

    # --- actions ----------------------------------------------------------------------------

    @action(
        description=_("Tiếp nhận"),
        url_path="tiep-nhan",
        permissions=["accept"],
        icon="check_circle",
        variant=ActionVariant.SUCCESS,
        dialog=ACCEPT_DIALOG,
    )
    def accept_action(self, request: HttpRequest, form: AcceptForm, object_id: Any) -> HttpResponse:
        registration = self.scoped_object_or_404(request, object_id)
        try:
            registration_accept(
                registration=registration,
                actor=request.user,
                confirm_risk=bool(form.cleaned_data.get("confirm_risk")),
            )
        except DomainError as exc:
            if exc.field == "confirm_risk" and "confirm_risk" in form.fields:
                form.add_error("confirm_risk", exc.message)
                return render(request, "unfold/helpers/dialog.html", {"dialog": ACCEPT_DIALOG, "form": form})
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("Đã tiếp nhận %(name)s; tài khoản đã được gửi qua SMS.")
                % {"name": registration.full_name},
            )
        return redirect_back(request, self.change_url(object_id))

    @action(
        description=_("Từ chối"),
        url_path="tu-choi",
        permissions=["reject"],
        icon="block",
        variant=ActionVariant.DANGER,
        dialog=REJECT_DIALOG,
    )
    def reject_action(self, request: HttpRequest, form: RejectForm, object_id: Any) -> HttpResponse:
        registration = self.scoped_object_or_404(request, object_id)
        try:
            registration_reject(
                registration=registration, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            if exc.field == "reason":
                form.add_error("reason", exc.message)
                return render(request, "unfold/helpers/dialog.html", {"dialog": REJECT_DIALOG, "form": form})
            messages.error(request, exc.message)
        else:
            messages.success(
                request, gettext("Đã từ chối hồ sơ của %(name)s.") % {"name": registration.full_name}
            )
        return redirect_back(request, self.change_url(object_id))

    @action(
        description=_("Chuyển trạm"),
        url_path="chuyen-tram",
        permissions=["transfer"],
        icon="swap_horiz",
        dialog=TRANSFER_DIALOG,
    )
    def transfer_action(self, request: HttpRequest, form: TransferForm, object_id: Any) -> HttpResponse:
        registration = self.scoped_object_or_404(request, object_id)
        station = form.cleaned_data["station"]
        try:
            registration_transfer(
                registration=registration, actor=request.user, station=station, note=form.cleaned_data["note"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect_back(request, self.change_url(object_id))
        messages.success(
            request,
            gettext("Đã chuyển hồ sơ của %(name)s sang %(station)s.")
            % {"name": registration.full_name, "station": station.name},
        )
        # The user may no longer see it (another station's queue): back to the list.
        target = (
            self.change_url(object_id)
            if self.get_queryset(request).filter(pk=registration.pk).exists()
            else reverse("admin:registration_registration_changelist")
        )
        return redirect_back(request, target)

    @admin.action(description=_("Tiếp nhận các hồ sơ đã chọn"), permissions=["accept"])
    def bulk_accept(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        registrations = list(queryset.order_by(*queue_ordering()))
        priority = [
            r for r in registrations if r.status == RegistrationStatus.SUBMITTED and needs_confirmation(r)
        ]
        confirmed = bool(request.POST.get("confirm_risk"))
        if priority and not confirmed:
            # Like Django's "delete selected": a page that asks first, then posts the same action again.
            return self._bulk_accept_confirmation(
                request, registrations, priority, asked_before=bool(request.POST.get("confirming"))
            )
        accepted, errors = registration_bulk_accept(
            registrations=registrations, actor=request.user, confirm_risk=confirmed
        )
        if accepted:
            messages.success(request, gettext("Đã tiếp nhận %(count)d hồ sơ.") % {"count": accepted})
        for error in errors[:20]:
            messages.error(request, error)
        if len(errors) > 20:
            messages.error(request, gettext("… và %(count)d lỗi khác.") % {"count": len(errors) - 20})
        if not accepted and not errors:
            messages.warning(request, gettext("Chưa chọn hồ sơ nào."))
        return None

    def _bulk_accept_confirmation(
        self,
        request: HttpRequest,
        registrations: list[Registration],
        priority: list[Registration],
        *,
        asked_before: bool,
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Xác nhận tiếp nhận"),
            "subtitle": None,
            "opts": self.model._meta,
            "registrations": registrations,
            "priority": priority,
            "others": len(registrations) - len(priority),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "error": gettext("Hãy đánh dấu xác nhận trước khi tiếp nhận.") if asked_before else "",
            "cancel_url": reverse("admin:registration_registration_changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/registration/registration/bulk_accept_confirmation.html", context
        )
