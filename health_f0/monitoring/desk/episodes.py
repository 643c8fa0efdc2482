"""Home-care episodes in the desk: the list, the detail page with the episode's declarations, alerts and
reminders, and the three buttons — complete, end otherwise (transfer or close), download the certificate.

Which buttons an episode shows comes from EPISODE_WORKFLOW.available() (monitoring/transitions.py); each
button calls a monitoring service, which takes the step through the workflow. The board and the silent list
hang under the episodes' URL (monitoring.desk.board)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from health_f0.core.exceptions import DomainError
from health_f0.desk.actions import dialog_action
from health_f0.desk.formatting import (
    age_years,
    badge,
    fmt_born,
    fmt_date,
    fmt_datetime,
    fmt_user,
    fmt_when_who,
    name_html,
)
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.monitoring import selectors
from health_f0.monitoring.certificates import certificate_download, has_certificate
from health_f0.monitoring.desk.board import BoardPages
from health_f0.monitoring.desk.widgets import (
    STATUS_BADGE,
    alert_row,
    board_url,
    day_of_episode,
    declaration_row,
    episode_level_badge,
    phone_link,
)
from health_f0.monitoring.forms import NEGATIVE_TEST_TYPES, AlertAcknowledgeForm, CloseForm, CompleteForm
from health_f0.monitoring.models import Episode, EpisodeStatus
from health_f0.monitoring.services import episode_close, episode_complete, may_act_at_station
from health_f0.monitoring.transitions import CERTIFICATE, CLOSE, COMPLETE, EPISODE_WORKFLOW, TRANSFER

COMPLETE_DIALOG: ActionDialog = {
    "title": _("Hoàn thành cách ly tại nhà"),
    "description": _(
        "Cần đủ số ngày cách ly tối thiểu tính từ ngày có kết quả dương tính, một kết quả xét nghiệm âm tính "
        "và không còn cảnh báo chưa xử lý. Sau khi hoàn thành, người bệnh nhận tin nhắn và tải được giấy xác "
        "nhận (PDF có mã QR để kiểm tra)."
    ),
    "form_class": CompleteForm,
    "form_submit_text": _("Hoàn thành"),
}
CLOSE_DIALOG: ActionDialog = {
    "title": _("Kết thúc theo dõi"),
    "description": _(
        "Chuyển viện hoặc đóng hồ sơ vì lý do khác. Các cảnh báo chưa xử lý được đóng cùng lúc, ghi lý do này. "
        "Hồ sơ sau đó chỉ xem, không sửa được."
    ),
    "form_class": CloseForm,
    "form_submit_text": _("Kết thúc"),
}


@admin.register(Episode, site=desk_site)
class EpisodeAdmin(BoardPages, ScopedModelAdmin):
    view_roles = access.EPISODE_READER_ROLES
    read_only = True  # status changes only through the buttons
    list_display = (
        "name_col",
        "age_col",
        "phone_col",
        "facility",
        "day_col",
        "last_declared_col",
        "level_col",
        "status_col",
    )
    list_display_links = ("name_col",)
    list_select_related = ("patient", "facility")
    list_filter = ("status", ("facility", admin.RelatedOnlyFieldListFilter), "last_alert_level")
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ("patient__full_name", "patient__cccd")
    phone_search_field = "patient__phone"
    search_help_text = _("Tìm theo họ tên, số điện thoại hoặc số CCCD")
    ordering = ("-start_date", "-id")
    actions = None
    actions_detail = ["complete_action", "close_action", "certificate_action"]
    change_form_after_template = "admin/monitoring/episode/records.html"
    fieldsets = (
        (_("Người bệnh"), {"fields": ("patient_col", "dob_col", "phone_col", "address_col")}),
        (
            _("Đợt chăm sóc"),
            {
                "fields": (
                    "facility",
                    "status_col",
                    "positive_col",
                    "start_col",
                    "expected_end_col",
                    "day_col",
                    "last_declared_col",
                    "level_col",
                )
            },
        ),
        (
            _("Kết thúc"),
            {"fields": ("ended_col", "ended_by_col", "end_reason", "negative_test_col", "certificate_col")},
        ),
    )
    readonly_fields = tuple(name for _title, options in fieldsets for name in options["fields"])

    def scope(self, user: Any) -> QuerySet[Any]:
        return selectors.episodes_for(user)

    def _available(self, request: HttpRequest, object_id: Any) -> list[str]:
        """EPISODE_WORKFLOW.available() for this user on this episode (once per request)."""
        cache = request.__dict__.setdefault("_episode_actions", {})
        if object_id not in cache:
            episode = self.scoped_object(request, object_id)
            cache[object_id] = (
                EPISODE_WORKFLOW.available(episode, request.user) if episode is not None else []
            )
        actions: list[str] = cache[object_id]
        return actions

    def has_complete_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None:
            return has_any_role(request.user, EPISODE_WORKFLOW.roles_for(COMPLETE))
        return COMPLETE in self._available(request, object_id)

    def has_close_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None:
            return has_any_role(request.user, EPISODE_WORKFLOW.roles_for(CLOSE))
        return bool({TRANSFER, CLOSE} & set(self._available(request, object_id)))

    def has_certificate_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None:
            return has_any_role(request.user, access.CERTIFICATE_ROLES)
        return CERTIFICATE in self._available(request, object_id)

    # --- columns ----------------------------------------------------------------------------

    @display(description=_("họ và tên"), ordering="patient__full_name")
    def name_col(self, obj: Episode) -> SafeString:
        return name_html(obj.patient.full_name)

    @display(description=_("tuổi"), ordering="-patient__date_of_birth")
    def age_col(self, obj: Episode) -> int:
        return age_years(obj.patient.date_of_birth)

    @display(description=_("số điện thoại"))
    def phone_col(self, obj: Episode) -> SafeString:
        return phone_link(obj.patient.phone)

    @display(description=_("ngày thứ"), ordering=selectors.ISOLATION_START.desc())
    def day_col(self, obj: Episode) -> str:
        if obj.status != EpisodeStatus.ACTIVE:
            return "—"
        return str(day_of_episode(obj, timezone.localdate()))

    @display(description=_("khai báo gần nhất"), ordering="last_declared_on")
    def last_declared_col(self, obj: Episode) -> str:
        return fmt_date(obj.last_declared_on)

    @display(description=_("mức cảnh báo gần nhất"), ordering="last_alert_level")
    def level_col(self, obj: Episode) -> SafeString:
        return episode_level_badge(obj)

    @display(description=_("trạng thái"), ordering="status")
    def status_col(self, obj: Episode) -> SafeString:
        return badge(obj.get_status_display(), STATUS_BADGE.get(obj.status))

    @display(description=_("người bệnh"))
    def patient_col(self, obj: Episode) -> SafeString:
        url = reverse("admin:patients_patient_change", args=[obj.patient_id])
        return format_html(
            '<a class="text-primary-600 underline" href="{}">{}</a>', url, obj.patient.full_name
        )

    @display(description=_("ngày sinh"))
    def dob_col(self, obj: Episode) -> str:
        return fmt_born(obj.patient.date_of_birth)

    @display(description=_("địa chỉ"))
    def address_col(self, obj: Episode) -> str:
        return ", ".join(part for part in (obj.patient.street, obj.patient.ward_name) if part) or "—"

    @display(description=_("ngày có kết quả dương tính"))
    def positive_col(self, obj: Episode) -> str:
        if obj.positive_date is None:
            return gettext("Chưa rõ — tính từ ngày tiếp nhận")
        return fmt_date(obj.positive_date)

    @display(description=_("ngày tiếp nhận"))
    def start_col(self, obj: Episode) -> str:
        return fmt_date(obj.start_date)

    @display(description=_("ngày dự kiến kết thúc"))
    def expected_end_col(self, obj: Episode) -> str:
        return fmt_date(obj.expected_end_date)

    @display(description=_("kết thúc lúc"))
    def ended_col(self, obj: Episode) -> str:
        return fmt_datetime(obj.ended_at)

    @display(description=_("người kết thúc"))
    def ended_by_col(self, obj: Episode) -> str:
        return fmt_user(obj.ended_by, "—")

    @display(description=_("xét nghiệm âm tính"))
    def negative_test_col(self, obj: Episode) -> str:
        if not obj.negative_test_date:
            return "—"
        kind = dict(NEGATIVE_TEST_TYPES).get(obj.negative_test_type, obj.negative_test_type)
        return f"{fmt_date(obj.negative_test_date)} ({kind})"

    @display(description=_("giấy xác nhận"))
    def certificate_col(self, obj: Episode) -> Any:
        if not has_certificate(obj):
            return "—"
        url = reverse("admin:monitoring_episode_certificate_action", args=[obj.pk])
        return format_html(
            '<a class="text-primary-600 underline" href="{}">{} ({})</a>',
            url,
            gettext("Tải giấy xác nhận PDF"),
            obj.certificate_code,
        )

    # --- detail page --------------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        episode = self.scoped_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if episode is not None:
            self.audit_view(request, episode)
            extra.update(self.records_context(request, episode))
            extra["subtitle"] = episode.get_status_display()
        return super().change_view(request, object_id, form_url, extra)

    def records_context(self, request: HttpRequest, episode: Episode) -> dict[str, Any]:
        """Declarations (newest first), alerts with their outcomes, and reminders of one episode."""
        records = selectors.episode_records(episode=episode)
        return {
            "declaration_rows": [
                declaration_row(d, records.labels.get(d.questionnaire_id, {})) for d in records.declarations
            ],
            "alert_rows": [alert_row(a) for a in records.alerts],
            "reminder_rows": [
                {
                    "day": fmt_date(r.local_date),
                    "kind": r.get_kind_display(),
                    "created": fmt_datetime(r.created_at),
                    "called": fmt_when_who(r.called_at, r.called_by, sep=" · ", nobody="—")
                    if r.called_at
                    else "",
                    "note": r.call_note,
                }
                for r in records.reminders
            ],
            "ack_form": AlertAcknowledgeForm()
            if may_act_at_station(request.user, episode.facility)
            else None,
            "board_url": board_url(episode.facility_id),
        }

    # --- actions ------------------------------------------------------------------------------

    @action(
        description=_("Hoàn thành cách ly"),
        url_path="hoan-thanh",
        permissions=["complete"],
        icon="task_alt",
        variant=ActionVariant.SUCCESS,
        dialog=COMPLETE_DIALOG,
    )
    def complete_action(self, request: HttpRequest, form: CompleteForm, object_id: Any) -> HttpResponse:
        episode = self.scoped_object_or_404(request, object_id)
        try:
            episode_complete(
                episode=episode,
                actor=request.user,
                negative_test_date=form.cleaned_data["negative_test_date"],
                negative_test_type=form.cleaned_data["negative_test_type"],
                alert_outcomes=form.alert_outcomes(),
                alert_note=form.cleaned_data.get("alert_note") or "",
            )
        except DomainError as exc:
            if exc.code == "open_alerts":
                # Show the dialog again with the alerts as they are now (one may have come in meanwhile).
                fresh = CompleteForm(request, object_id, data=request.POST)
                fresh.is_valid()
                fresh.mark_unhandled(gettext("Chọn kết quả xử lý cho cảnh báo này."))
                messages.error(request, exc.message)
                return render(
                    request, "unfold/helpers/dialog.html", {"dialog": COMPLETE_DIALOG, "form": fresh}
                )
            if exc.field in form.fields:
                form.add_error(exc.field, exc.message)
                return render(
                    request, "unfold/helpers/dialog.html", {"dialog": COMPLETE_DIALOG, "form": form}
                )
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("Đã hoàn thành cách ly cho %(name)s; có thể tải giấy xác nhận.")
                % {"name": episode.patient.full_name},
            )
        return redirect_back(request, self.change_url(object_id))

    @action(
        description=_("Kết thúc theo dõi"),
        url_path="ket-thuc",
        permissions=["close"],
        icon="logout",
        variant=ActionVariant.DANGER,
        dialog=CLOSE_DIALOG,
    )
    def close_action(self, request: HttpRequest, form: CloseForm, object_id: Any) -> HttpResponse:
        episode = self.scoped_object_or_404(request, object_id)
        return dialog_action(
            request,
            lambda: episode_close(
                episode=episode,
                actor=request.user,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
            ),
            form=form,
            dialog=CLOSE_DIALOG,
            fallback=self.change_url(object_id),
            success=gettext("Đã kết thúc theo dõi %(name)s.") % {"name": episode.patient.full_name},
        )

    @action(
        description=_("Tải giấy xác nhận (PDF)"),
        url_path="giay-xac-nhan",
        permissions=["certificate"],
        icon="download",
    )
    def certificate_action(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        episode = self.scoped_object_or_404(request, object_id)
        pdf = certificate_download(episode=episode, actor=request.user)  # the workflow decides; audited
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="giay-xac-nhan-{episode.certificate_code}.pdf"'
        )
        return response
