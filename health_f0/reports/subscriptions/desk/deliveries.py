"""The deliveries of report e-mails in the desk: read-only, with their state (chờ gửi / đang gửi / đã gửi / gửi
lỗi), attempts, last error and the next retry. Scope: access.report_deliveries_for (the deliveries of the
subscriptions the user may see). Retries are automatic (services.BACKOFF); "Gửi thử ngay" is on the
subscription."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from health_f0.desk.formatting import fmt_date, fmt_datetime
from health_f0.desk.site import ScopedModelAdmin, desk_site
from health_f0.facilities import access
from health_f0.reports.subscriptions import selectors
from health_f0.reports.subscriptions.desk.subscriptions import state_badge
from health_f0.reports.subscriptions.models import ReportDelivery


@admin.register(ReportDelivery, site=desk_site)
class ReportDeliveryAdmin(ScopedModelAdmin):
    read_only = True
    view_roles = access.REPORT_SUBSCRIPTION_ROLES
    facility_field = None
    list_display = (
        "subscription_col",
        "period_col",
        "kind_col",
        "state_col",
        "attempts",
        "sent_col",
        "next_col",
        "last_error",
    )
    list_select_related = ("subscription", "subscription__facility", "requested_by")
    list_filter = ("state",)
    ordering = ("-created_at", "-id")
    fields = (
        "subscription_col",
        "period_col",
        "kind_col",
        "state_col",
        "attempts",
        "last_error",
        "next_col",
        "started_col",
        "sent_col",
        "sent_to",
        "message_id",
    )
    readonly_fields = fields

    def scope(self, user: Any) -> QuerySet[Any]:
        return selectors.deliveries_for(user)

    @display(description=_("đăng ký"), ordering="subscription__name")
    def subscription_col(self, obj: ReportDelivery) -> Any:
        url = reverse("admin:subscriptions_reportsubscription_change", args=[obj.subscription_id])
        return format_html('<a class="underline" href="{}">{}</a>', url, str(obj.subscription))

    @display(description=_("kỳ"), ordering="period_start")
    def period_col(self, obj: ReportDelivery) -> str:
        if obj.period_start == obj.period_end:
            return fmt_date(obj.period_start)
        return f"{fmt_date(obj.period_start)} – {fmt_date(obj.period_end)}"

    @display(description=_("cách gửi"))
    def kind_col(self, obj: ReportDelivery) -> str:
        if obj.sequence == 0:
            return str(_("Tự động theo lịch"))
        who = obj.requested_by.get_username() if obj.requested_by else "—"
        return str(_("Gửi thử ngay (%(who)s)")) % {"who": who}

    @display(description=_("trạng thái gửi"), ordering="state")
    def state_col(self, obj: ReportDelivery) -> Any:
        return state_badge(obj)

    @display(description=_("gửi lúc"), ordering="sent_at")
    def sent_col(self, obj: ReportDelivery) -> str:
        return fmt_datetime(obj.sent_at)

    @display(description=_("thử lại lúc"))
    def next_col(self, obj: ReportDelivery) -> str:
        return fmt_datetime(obj.next_attempt_at)

    @display(description=_("bắt đầu lần gửi lúc"))
    def started_col(self, obj: ReportDelivery) -> str:
        return fmt_datetime(obj.attempt_started_at)
