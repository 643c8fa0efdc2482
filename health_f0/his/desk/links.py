"""HIS links in the desk: the list, the detail page and its "unlink" button (open when LINK_WORKFLOW offers
"unlink" to this user on this link: his.transitions.link_actions)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from health_f0.core.phone import display_phone
from health_f0.desk.actions import run
from health_f0.desk.formatting import badge, fmt_date, fmt_datetime, fmt_user, fmt_when_who, name_html
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.his import selectors, services
from health_f0.his.desk.widgets import SOURCE_LABELS, ids_text
from health_f0.his.forms import UnlinkForm
from health_f0.his.models import HisLink
from health_f0.his.transitions import link_actions

UNLINK_DIALOG: ActionDialog = {
    "title": _("Huỷ liên kết HIS"),
    "description": _(
        "Người bệnh không còn xem được lượt khám và kết quả từ hồ sơ HIS này. Dữ liệu đã nhập vẫn được giữ."
    ),
    "form_class": UnlinkForm,
    "form_submit_text": _("Huỷ liên kết"),
}


@admin.register(HisLink, site=desk_site)
class HisLinkAdmin(ScopedModelAdmin):
    view_roles = access.HIS_LINKER_ROLES
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
        return selectors.desk_links_for(user=user)

    def has_unlink_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None:
            return has_any_role(request.user, access.HIS_LINKER_ROLES)
        link = self.scoped_object(request, object_id)
        return bool(link and "unlink" in link_actions(link, request.user))

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
        return ids_text(dict(obj.identifiers)) or "—"

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
        run(
            request,
            lambda: services.link_unlink(link=link, actor=request.user, reason=form.cleaned_data["reason"]),
            success=gettext("Đã huỷ liên kết HIS của %(name)s.") % {"name": link.patient.full_name},
        )
        return redirect_back(request, reverse("admin:his_hislink_change", args=[object_id]))
