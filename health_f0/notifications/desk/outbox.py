"""The outbox (SMS and Zalo ZNS) in the desk: read-only, scoped by access.outbox_for. Above the list, the
backlog and the cost per channel of the messages listed (the filters apply).

A secret message (OTP, password) keeps its text only encrypted, only until sent; the desk never reads,
decrypts or shows `body_encrypted` — `body_for_staff` is all that is displayed — and shows the recipient
masked. Staff can send a failed or dead message again ("Gửi lại").
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm

from health_f0.core.phone import mask_phone
from health_f0.desk.actions import run
from health_f0.desk.formatting import badge, fmt_datetime
from health_f0.desk.site import ScopedModelAdmin, desk_site, redirect_back
from health_f0.facilities import access
from health_f0.notifications.desk.backlog import outbox_backlog_context
from health_f0.notifications.models import Channel, MessageStatus, OutboxMessage
from health_f0.notifications.selectors import outbox_cost_by_channel
from health_f0.notifications.services import outbox_may_requeue, outbox_requeue

STATUS_BADGE: dict[str, str | None] = {
    MessageStatus.QUEUED: "info",
    MessageStatus.SENDING: "warning",
    MessageStatus.SENT: "primary",
    MessageStatus.DELIVERED: "success",
    MessageStatus.FAILED: "warning",
    MessageStatus.DEAD: "danger",
    MessageStatus.EXPIRED: None,
    MessageStatus.FELL_BACK: "info",
}

# A confirmation posted from a dialog: a plain link (GET) never sends anything.
REQUEUE_DIALOG: ActionDialog = {
    "title": _("Gửi lại tin nhắn"),
    "description": _("Tin nhắn được đưa lại vào hàng chờ và gửi ngay."),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Gửi lại"),
}


@admin.register(OutboxMessage, site=desk_site)
class OutboxMessageAdmin(ScopedModelAdmin):
    view_roles = access.OUTBOX_READER_ROLES
    read_only = True
    list_display = (
        "created_col",
        "kind",
        "channel_col",
        "to_col",
        "status_col",
        "segments_col",
        "attempts",
        "last_error",
        "facility",
    )
    list_select_related = ("facility",)
    list_filter = ("status", "channel", "kind", ("facility", admin.RelatedOnlyFieldListFilter))
    # The backlog (oldest waiting message, its age, how many wait) above the list: backlog.py.
    list_before_template = "admin/notifications/outboxmessage/list_before.html"
    search_fields = ("subject_ref",)
    # Only these are ever rendered: no `to`, `body` or `body_encrypted` field on any page.
    fields = (
        "kind",
        "channel_col",
        "to_col",
        "body_col",
        "segments_col",
        "status_col",
        "attempts",
        "last_error",
        "gateway",
        "attempt_id",
        "attempt_started_col",
        "provider_message_id",
        "template_id",
        "fallback_col",
        "fallback_at_col",
        "facility",
        "subject_ref",
        "created_col",
        "next_attempt_col",
        "sent_col",
        "delivered_col",
    )
    readonly_fields = fields
    actions = ["requeue_selected"]
    actions_detail = ["requeue_action"]

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.outbox_for(user).defer("body_encrypted")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra = {**(extra_context or {}), **outbox_backlog_context(request, self.get_queryset(request))}
        response = super().changelist_view(request, extra)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # the cost of what the filters list, per channel
            response.context_data["channel_costs"] = outbox_cost_by_channel(changelist.queryset)
        return response

    def has_requeue_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if not request.user.is_superuser and not access.roles_of(request.user):
            return False
        if object_id is None:
            return True
        message = self.scoped_object(request, object_id)
        return message is not None and outbox_may_requeue(message)

    @display(description=_("tạo lúc"), ordering="created_at")
    def created_col(self, obj: OutboxMessage) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("kênh"), ordering="channel")
    def channel_col(self, obj: OutboxMessage) -> str:
        return str(obj.get_channel_display())

    @display(description=_("số tin · chi phí"), ordering="segments")
    def segments_col(self, obj: OutboxMessage) -> str:
        cost = f"{obj.cost_vnd:,}".replace(",", ".")
        if obj.channel == Channel.ZNS:
            return gettext("1 tin ZNS · %(cost)s đ") % {"cost": cost}
        return ngettext("%(n)s tin · %(cost)s đ", "%(n)s tin · %(cost)s đ", obj.segments) % {
            "n": obj.segments,
            "cost": cost,
        }

    @display(description=_("người nhận"))
    def to_col(self, obj: OutboxMessage) -> str:
        return mask_phone(obj.to)

    @display(description=_("nội dung"))
    def body_col(self, obj: OutboxMessage) -> str:
        return obj.body_for_staff

    @display(description=_("trạng thái"), ordering="status")
    def status_col(self, obj: OutboxMessage) -> Any:
        return badge(obj.get_status_display(), STATUS_BADGE.get(obj.status))

    @display(description=_("gửi lại lúc"))
    def next_attempt_col(self, obj: OutboxMessage) -> str:
        return fmt_datetime(obj.next_attempt_at)

    @display(description=_("bắt đầu lần gửi lúc"))
    def attempt_started_col(self, obj: OutboxMessage) -> str:
        return fmt_datetime(obj.attempt_started_at)

    @display(description=_("gửi lúc"))
    def sent_col(self, obj: OutboxMessage) -> str:
        return fmt_datetime(obj.sent_at)

    @display(description=_("đến máy lúc"))
    def delivered_col(self, obj: OutboxMessage) -> str:
        return fmt_datetime(obj.delivered_at)

    @display(description=_("chuyển SMS lúc"))
    def fallback_at_col(self, obj: OutboxMessage) -> str:
        return fmt_datetime(obj.fallback_at)

    @display(description=_("tin ZNS / SMS thay thế"))
    def fallback_col(self, obj: OutboxMessage) -> Any:
        """The ZNS message this SMS replaced, or the SMS that replaced this ZNS message (same scope)."""
        other = obj.fallback_for if obj.fallback_for_id else getattr(obj, "fallback", None)
        if other is None:
            return "—"
        url = reverse("admin:notifications_outboxmessage_change", args=[other.pk])
        label = gettext("Tin ZNS đã thay") if obj.fallback_for_id else gettext("SMS gửi thay")
        return format_html('<a class="underline" href="{}">{} #{}</a>', url, label, other.pk)

    def _requeue(self, request: HttpRequest, message: OutboxMessage) -> bool:
        done, _result = run(
            request, lambda: outbox_requeue(message=message, actor=request.user), refused=str(message)
        )
        return done

    @action(
        description=_("Gửi lại"),
        url_path="gui-lai",
        permissions=["requeue"],
        icon="send",
        variant=ActionVariant.PRIMARY,
        dialog=REQUEUE_DIALOG,
    )
    def requeue_action(self, request: HttpRequest, form: BaseDialogForm, object_id: Any) -> HttpResponse:
        message = self.scoped_object(request, object_id)
        if message is None:
            raise Http404
        if self._requeue(request, message):
            messages.success(request, gettext("Đã đưa tin nhắn vào hàng chờ gửi lại."))
        return redirect_back(request, reverse("admin:notifications_outboxmessage_change", args=[object_id]))

    @admin.action(
        description=_("Gửi lại các tin đã chọn (tin lỗi / không gửi được)"), permissions=["requeue"]
    )
    def requeue_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        done = sum(self._requeue(request, message) for message in queryset)
        if done:
            messages.success(request, gettext("Đã đưa %(count)d tin vào hàng chờ gửi lại.") % {"count": done})
