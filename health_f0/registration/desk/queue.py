"""The station's registration queue in the desk: list, detail, accept / reject / transfer, direct entry.

Nothing here changes a registration by itself: every button calls a registration service, which takes the
step through the workflow (registration.transitions: roles at the facility, guards), writes the audit row and
queues the SMS. Which buttons a registration shows comes from the workflow's `available()`.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.templatetags import unfold_list
from unfold.views import ChangeList

from health_f0.core.exceptions import DomainError, ValidationErrors
from health_f0.desk.actions import dialog_action, run
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.registration.desk.columns import RegistrationColumns
from health_f0.registration.forms import AcceptForm, DeskRegistrationForm, RejectForm, TransferForm
from health_f0.registration.models import Registration, RegistrationStatus
from health_f0.registration.selectors import needs_confirmation, queue_ordering
from health_f0.registration.services import (
    registration_accept,
    registration_bulk_accept,
    registration_create_by_staff,
    registration_record_view,
    registration_reject,
    registration_transfer,
)
from health_f0.registration.transitions import REGISTRATION_WORKFLOW

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


class QueueChangeList(ChangeList):
    """unfold's change list works out every column header (three sort links each, and the "select all"
    checkbox widget) again for each row it renders (unfold_list.items_for_result): their inputs do not change
    within a page, so the headers are worked out once a page (`headers_once`, _headers_once_per_page) and the
    sort links and ordering columns once each."""

    headers_once = True

    def get_ordering_field_columns(self) -> Any:
        if "_ordering_columns" not in self.__dict__:
            self._ordering_columns = super().get_ordering_field_columns()
        return self._ordering_columns

    def get_query_string(self, new_params: Any = None, remove: Any = None) -> str:
        try:
            key = (tuple(sorted((new_params or {}).items())), tuple(remove or ()))
            hash(key)
        except TypeError:  # a list among the values: not worth keeping
            return super().get_query_string(new_params, remove)
        memo = self.__dict__.setdefault("_query_strings", {})
        if key not in memo:
            memo[key] = super().get_query_string(new_params, remove)
        result: str = memo[key]
        return result


def _headers_once_per_page() -> None:
    """unfold_list.items_for_result calls the module's result_headers(cl) for every row, and uses only each
    column's label: for a change list that opts in (`headers_once`), the headers of the first call are kept on
    it (a list of dicts, as the callers make of the generator) and given to the later ones. Installed once, at
    import; other change lists are served by unfold's own function."""
    original = unfold_list.result_headers
    if getattr(original, "headers_once", False):
        return

    def result_headers(cl: Any) -> Any:
        if not getattr(cl, "headers_once", False):
            return original(cl)
        if "_headers" not in cl.__dict__:
            # Each cell repeats its column's label (data-label="..."): translated and escaped once here,
            # not once per cell (a lazy string is translated again on each use).
            cl._headers = [{**h, "text": conditional_escape(h["text"])} for h in original(cl)]
        return cl._headers

    result_headers.headers_once = True  # type: ignore[attr-defined]
    unfold_list.result_headers = result_headers


_headers_once_per_page()


class QueueFacilityFilter(admin.RelatedOnlyFieldListFilter):
    """The facilities of the user's scope that hold a registration: one probe of the (facility, status, created)
    index per facility. Django's RelatedOnlyFieldListFilter asks for the DISTINCT facility of every registration
    in scope (14,000 index entries at the largest station of the 100k data, on every page of the queue)."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        ordering = self.field_admin_ordering(field, request, model_admin)
        holding = Registration.objects.filter(facility_id=OuterRef("pk"))
        facilities = access.facilities_for(request.user, model_admin.view_roles).filter(Exists(holding))
        return field.get_choices(
            include_blank=False, limit_choices_to={"pk__in": facilities.values("pk")}, ordering=ordering
        )


_PK = "0000000000"  # stands for a row's id in the selection checkbox rendered once


@cache
def _action_checkbox_html() -> str:
    return str(UnfoldModelAdmin.action_checkbox(None, SimpleNamespace(pk=_PK)))  # type: ignore[arg-type]


@admin.register(Registration, site=desk_site)
class RegistrationAdmin(RegistrationColumns, ScopedModelAdmin):
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
    list_filter = ("status", "eligibility", ("facility", QueueFacilityFilter), "channel")
    list_filter_submit = True
    list_fullwidth = True
    # unfold's row template asks `cl.model_admin.list_sections` twice per row; unfold's ModelAdmin does not
    # define it, and each failed lookup costs Django's template engine a dir() of this admin (273 names).
    list_sections: tuple[Any, ...] = ()
    # The paginator's count of the filtered list is enough: no second COUNT of the whole scope.
    show_full_result_count = False
    search_fields = ("full_name", "cccd")
    phone_search_field = "phone"
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

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> Any:
        return QueueChangeList

    @display(description=UnfoldModelAdmin.action_checkbox.short_description)  # type: ignore[attr-defined]
    def action_checkbox(self, obj: Registration) -> SafeString:
        """The selection checkbox: unfold renders its widget template once per row; here once a process."""
        return SafeString(_action_checkbox_html().replace(_PK, str(obj.pk)))

    def _may_transition(self, request: HttpRequest, action_name: str, object_id: Any) -> bool:
        """The workflow decides (roles at the registration's facility, guards); the accept dialog asks for
        the risk confirmation itself, so the button shows as if it were given."""
        if object_id is None:
            return has_any_role(request.user, REGISTRATION_WORKFLOW.roles_for(action_name))
        registration = self.scoped_object(request, object_id)
        if registration is None:
            return False
        return action_name in REGISTRATION_WORKFLOW.available(registration, request.user, confirm_risk=True)

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
        return dialog_action(  # a missing risk confirmation: the dialog asks again
            request,
            lambda: registration_accept(
                registration=registration,
                actor=request.user,
                confirm_risk=bool(form.cleaned_data.get("confirm_risk")),
            ),
            form=form,
            dialog=ACCEPT_DIALOG,
            fallback=self.change_url(object_id),
            success=gettext("Đã tiếp nhận %(name)s; tài khoản đã được gửi qua SMS.")
            % {"name": registration.full_name},
        )

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
        return dialog_action(
            request,
            lambda: registration_reject(
                registration=registration, actor=request.user, reason=form.cleaned_data["reason"]
            ),
            form=form,
            dialog=REJECT_DIALOG,
            fallback=self.change_url(object_id),
            success=gettext("Đã từ chối hồ sơ của %(name)s.") % {"name": registration.full_name},
        )

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
        done, _result = run(
            request,
            lambda: registration_transfer(
                registration=registration, actor=request.user, station=station, note=form.cleaned_data["note"]
            ),
            success=gettext("Đã chuyển hồ sơ của %(name)s sang %(station)s.")
            % {"name": registration.full_name, "station": station.name},
        )
        if not done:
            return redirect_back(request, self.change_url(object_id))
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
