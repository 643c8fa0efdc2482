"""My report e-mails ("Báo cáo định kỳ") in the desk: list, create, edit, delete, "Gửi thử ngay" (send now),
the e-mail's preview, and "Đăng ký báo cáo mặc định" (the morning report in one click).

Scope: access.report_subscriptions_for — a manager their own, an administrator also those of their facilities.
Every write goes through reports.subscriptions.services (validated, audited); the POST actions are unfold
dialogs (a link never sends anything)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget

from health_f0.core.exceptions import DomainError
from health_f0.desk.actions import run
from health_f0.desk.formatting import badge, fmt_datetime
from health_f0.desk.site import ScopedModelAdmin, desk_site, redirect_back
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.reports.subscriptions import mail, periods, selectors, services
from health_f0.reports.subscriptions.models import (
    DeliveryState,
    Format,
    Period,
    ReportDelivery,
    ReportSubscription,
)
from health_f0.reports.subscriptions.registry import entry_for, report_choices

STATE_BADGE: dict[str, str | None] = {
    DeliveryState.QUEUED: "info",
    DeliveryState.SENDING: "warning",
    DeliveryState.SENT: "success",
    DeliveryState.FAILED: "danger",
}

PERIOD_SHORT: dict[str, Any] = {
    Period.DAILY: _("Hằng ngày"),
    Period.WEEKLY: _("Hằng tuần"),
    Period.MONTHLY: _("Hằng tháng"),
}
FORMAT_SHORT: dict[str, Any] = {Format.HTML: _("Trong e-mail"), Format.XLSX: "XLSX", Format.PDF: "PDF"}

SEND_NOW_DIALOG: ActionDialog = {
    "title": _("Gửi thử ngay"),
    "description": _(
        "Gửi ngay báo cáo của kỳ gần nhất đã trọn (hôm qua, tuần trước hoặc tháng trước) tới những người nhận "
        "của đăng ký này. Lịch gửi tự động không thay đổi."
    ),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Gửi ngay"),
}
DEFAULT_DIALOG: ActionDialog = {
    "title": _("Đăng ký báo cáo mặc định"),
    "description": _(
        "Báo cáo sáng: 07:00 mỗi ngày, số liệu hôm qua — lượt đặt lịch theo kênh, tỷ lệ tài khoản liên kết HIS "
        "so với mục tiêu 80 %, số người không đến khám, và số liệu theo dõi F0 tại nhà khi đang có người được "
        "theo dõi — gửi tới e-mail tài khoản của bạn."
    ),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Đăng ký"),
}


def state_badge(delivery: ReportDelivery | None) -> Any:
    if delivery is None:
        return "—"
    return badge(delivery.get_state_display(), STATE_BADGE.get(delivery.state))


class SubscriptionForm(forms.ModelForm):
    report = forms.ChoiceField(label=_("Báo cáo"), widget=UnfoldAdminSelectWidget)
    facility = forms.ModelChoiceField(
        label=_("Phạm vi (cơ sở)"), queryset=Facility.objects.none(), widget=UnfoldAdminSelectWidget
    )
    recipients = forms.CharField(
        label=_("Người nhận khác"),
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=_(
            "E-mail tài khoản của bạn luôn nhận. Thêm e-mail của lãnh đạo/quản trị cùng cơ sở, hoặc địa chỉ thuộc "
            "tên miền cơ quan được phép; cách nhau bằng dấu phẩy hoặc xuống dòng."
        ),
    )

    class Meta:
        model = ReportSubscription
        fields = ("name", "report", "facility", "period", "format", "send_time", "recipients", "is_active")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        report_field: Any = self.fields["report"]
        report_field.choices = report_choices()
        owner = self.instance.owner if self.instance.pk else user
        choices = selectors.subscribable_facilities(owner) if owner is not None else []
        current = [self.instance.facility_id] if self.instance.pk else []
        facility_field: Any = self.fields["facility"]
        facility_field.queryset = Facility.objects.filter(id__in=[f.pk for f in choices] + current).order_by(
            "path"
        )
        self.fields["send_time"].help_text = _("Giờ Việt Nam, ví dụ 07:00.")
        if self.instance.pk and self.instance.recipients:
            self.initial["recipients"] = "\n".join(self.instance.extra_recipients)

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if self.errors:
            return data
        subscription = self.instance
        if subscription.pk is None:
            subscription.owner = self.user
        for name in self.Meta.fields:
            if name in data:
                setattr(subscription, name, data[name])
        try:
            services.subscription_validate(subscription=subscription)
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


@admin.register(ReportSubscription, site=desk_site)
class ReportSubscriptionAdmin(ScopedModelAdmin):
    view_roles = access.REPORT_SUBSCRIPTION_ROLES
    add_roles = access.REPORT_SUBSCRIPTION_ROLES
    change_roles = access.REPORT_SUBSCRIPTION_ROLES
    delete_roles = access.REPORT_SUBSCRIPTION_ROLES
    facility_field = None  # the scope (own, or administered facilities) decides
    form = SubscriptionForm
    list_display = (
        "name_col",
        "report_col",
        "facility",
        "period_col",
        "format_col",
        "time_col",
        "owner_col",
        "is_active",
        "last_col",
    )
    list_select_related = ("facility", "owner")
    list_filter = ("is_active", "period", "format")
    search_fields = ("name",)
    readonly_fields = ("owner_col", "blocked_col", "deliveries_col")
    actions_list = ["default_action"]
    actions_detail = ["send_now_action", "preview_action"]
    actions_row = ["send_now_row"]

    def scope(self, user: Any) -> QuerySet[Any]:
        return selectors.subscriptions_for(user)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        user = request.user

        class Bound(form_class):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, user=user, **kw)

        return Bound

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        main = ("name", "report", "facility", "period", "format", "send_time", "recipients", "is_active")
        if obj is None:
            return [(None, {"fields": main})]
        return [
            (None, {"fields": ("owner_col", "blocked_col", *main)}),
            (_("Các lần gửi gần đây"), {"fields": ("deliveries_col",)}),
        ]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.owner = request.user
        services.subscription_save(subscription=obj, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.subscription_delete(subscription=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            services.subscription_delete(subscription=obj, actor=request.user)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        self._last: dict[int, ReportDelivery | None] = {}
        return super().changelist_view(request, extra_context)

    def _last_delivery(self, obj: ReportSubscription) -> ReportDelivery | None:
        cache = getattr(self, "_last", None)
        if cache is None or obj.pk not in cache:
            # one query per row of a page of at most list_per_page subscriptions (a person's handful)
            value = obj.deliveries.order_by("-created_at", "-id").first()
            if cache is not None:
                cache[obj.pk] = value
            return value
        result: ReportDelivery | None = cache[obj.pk]
        return result

    # --- columns ---

    @display(description=_("tên"), ordering="name")
    def name_col(self, obj: ReportSubscription) -> Any:
        return format_html(
            '<span class="font-semibold" style="display:block;min-width:14rem">{}</span>', obj.name or "—"
        )

    @display(description=_("chu kỳ"), ordering="period")
    def period_col(self, obj: ReportSubscription) -> str:
        return str(PERIOD_SHORT.get(obj.period, obj.period))

    @display(description=_("định dạng"), ordering="format")
    def format_col(self, obj: ReportSubscription) -> str:
        return str(FORMAT_SHORT.get(obj.format, obj.format))

    @display(description=_("báo cáo"), ordering="report")
    def report_col(self, obj: ReportSubscription) -> str:
        try:
            return str(entry_for(obj.report).label)
        except KeyError:
            return obj.report

    @display(description=_("giờ gửi"), ordering="send_time")
    def time_col(self, obj: ReportSubscription) -> str:
        return obj.send_time.strftime("%H:%M")

    @display(description=_("người đăng ký"))
    def owner_col(self, obj: ReportSubscription) -> str:
        return obj.owner.get_full_name() or obj.owner.get_username() if obj.pk else "—"

    @display(description=_("lần gửi gần nhất"))
    def last_col(self, obj: ReportSubscription) -> Any:
        if obj.blocked_reason:
            return badge(gettext("Không gửi: %(why)s") % {"why": obj.blocked_reason}, "danger")
        delivery = self._last_delivery(obj)
        if delivery is None:
            return "—"
        return badge(
            f"{delivery.get_state_display()} · {fmt_datetime(delivery.sent_at or delivery.updated_at)}",
            STATE_BADGE.get(delivery.state),
        )

    @display(description=_("lý do không gửi"))
    def blocked_col(self, obj: ReportSubscription) -> Any:
        if not obj.blocked_reason:
            return "—"
        return badge(f"{obj.blocked_reason} ({fmt_datetime(obj.blocked_at)})", "danger")

    @display(description=_("các lần gửi"))
    def deliveries_col(self, obj: ReportSubscription) -> Any:
        from django.template.loader import render_to_string

        rows = list(obj.deliveries.select_related("requested_by").order_by("-created_at", "-id")[:10])
        start, end, due = periods.next_due(obj.period, obj.send_time, timezone.now())
        return render_to_string(
            "admin/subscriptions/deliveries_table.html",
            {
                "rows": [(d, state_badge(d)) for d in rows],
                "next_period": mail.period_label(obj.period, start, end),
                "next_due": fmt_datetime(due),
                "list_url": reverse("admin:subscriptions_reportdelivery_changelist")
                + f"?subscription__id__exact={obj.pk}",
            },
        )

    # --- actions ---

    def has_send_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if not selectors.can_subscribe(request.user):
            return False
        return object_id is None or self.scoped_object(request, object_id) is not None

    def has_default_permission(self, request: HttpRequest) -> bool:
        return selectors.can_subscribe(request.user)

    def _send_now(self, request: HttpRequest, object_id: Any) -> ReportDelivery | None:
        subscription = self.scoped_object(request, object_id)
        if subscription is None:
            raise Http404
        done, delivery = run(
            request,
            lambda: services.delivery_send_now(subscription=subscription, actor=request.user),
            refused=gettext("Chưa gửi"),
        )
        if done and delivery is not None:
            if delivery.state == DeliveryState.SENT:
                messages.success(
                    request, gettext("Đã gửi báo cáo tới %(to)s.") % {"to": delivery.sent_to or "—"}
                )
            else:
                messages.error(
                    request,
                    gettext("Gửi không thành công: %(error)s") % {"error": delivery.last_error or "—"},
                )
        return delivery

    @action(
        description=_("Gửi thử ngay"),
        url_path="gui-thu-ngay",
        permissions=["send"],
        icon="send",
        variant=ActionVariant.PRIMARY,
        dialog=SEND_NOW_DIALOG,
    )
    def send_now_action(self, request: HttpRequest, form: BaseDialogForm, object_id: Any) -> HttpResponse:
        self._send_now(request, object_id)
        return redirect_back(
            request, reverse("admin:subscriptions_reportsubscription_change", args=[object_id])
        )

    @action(
        description=_("Gửi thử ngay"),
        url_path="gui-thu-ngay-dong",
        permissions=["send"],
        icon="send",
        dialog=SEND_NOW_DIALOG,
    )
    def send_now_row(self, request: HttpRequest, form: BaseDialogForm, object_id: Any) -> HttpResponse:
        self._send_now(request, object_id)
        return redirect_back(request, reverse("admin:subscriptions_reportsubscription_changelist"))

    @action(description=_("Xem trước e-mail"), url_path="xem-truoc", permissions=["send"], icon="visibility")
    def preview_action(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """The HTML e-mail of the last complete period, as it would be sent (GET; sends nothing)."""
        subscription = self.scoped_object(request, object_id)
        if subscription is None:
            raise Http404
        start, end, _due = periods.due_period(subscription.period, subscription.send_time, timezone.now())
        try:
            email = mail.preview_context(subscription=subscription, date_from=start, date_to=end)
        except mail.ReportUnavailable as exc:
            messages.error(request, str(exc))
            return redirect_back(
                request, reverse("admin:subscriptions_reportsubscription_change", args=[object_id])
            )
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            **email,
            "title": gettext("Xem trước e-mail: %(name)s") % {"name": str(subscription)},
            "report_title": email["title"],
            "back_url": reverse("admin:subscriptions_reportsubscription_change", args=[object_id]),
            "recipients": services.all_recipients(subscription),
        }
        return TemplateResponse(request, "admin/subscriptions/preview.html", context)

    @action(
        description=_("Đăng ký báo cáo mặc định"),
        url_path="dang-ky-mac-dinh",
        permissions=["default"],
        icon="add_alert",
        variant=ActionVariant.PRIMARY,
        dialog=DEFAULT_DIALOG,
    )
    def default_action(self, request: HttpRequest, form: BaseDialogForm) -> HttpResponse:
        done, subscription = run(
            request,
            lambda: services.subscription_default_create(owner=request.user, actor=request.user),
            refused=gettext("Chưa đăng ký"),
        )
        if done:
            messages.success(
                request,
                gettext("Đã đăng ký “%(name)s”: gửi lúc 07:00 mỗi ngày.") % {"name": str(subscription)},
            )
        return redirect_back(request, reverse("admin:subscriptions_reportsubscription_changelist"))
