"""Home-care monitoring in the desk: today's board, the silent list and call list, alerts, episodes, and the
managers' configuration (questionnaire versions, triage rules, province policy, guidance documents).

Pages only read through monitoring.selectors (scoped by facilities.access) and every button calls a
monitoring service, which checks the actor's role at the station, writes the audit row and saves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import StackedInline
from unfold.dataclasses import ActionDialog
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm

from health_f0.core.exceptions import DomainError
from health_f0.core.phone import display_phone
from health_f0.desk.formatting import (
    age_years,
    duration_label,
    fmt_born,
    fmt_date,
    fmt_datetime,
    fmt_user,
    fmt_when_who,
    name_html,
)
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role, redirect_back
from health_f0.facilities import access
from health_f0.facilities.models import Facility, Membership
from health_f0.monitoring import rules, selectors
from health_f0.monitoring.certificates import certificate_for_staff
from health_f0.monitoring.forms import (
    NEGATIVE_TEST_TYPES,
    AlertAcknowledgeForm,
    BoardForm,
    CallRecordForm,
    CloseForm,
    CompleteForm,
    GuidanceDocumentForm,
    ProvincePolicyForm,
)
from health_f0.monitoring.models import (
    Alert,
    AlertLevel,
    Declaration,
    Episode,
    EpisodeStatus,
    GuidanceDocument,
    ProvincePolicy,
    Question,
    QuestionnaireVersion,
    QuestionType,
    ReminderLog,
    TriageRule,
)
from health_f0.monitoring.services import (
    CONFIG_ROLES,
    MONITORING_ROLES,
    alert_acknowledge,
    alerts_acknowledge,
    call_list_record_call,
    configuration_changed,
    episode_close,
    episode_complete,
    may_configure,
    questionnaire_activate,
    questionnaire_copy,
    questionnaire_in_use,
)
from health_f0.registration.admin import badge, search_phone
from health_f0.registration.services import ACCEPTING_KINDS

# Who sees the board and the episodes: the station's people, treatment doctors, and managers above them.
BOARD_ROLES: frozenset[str] = access.EPISODE_READER_ROLES  # station staff and head, doctors, managers
# Who sees the escalations (patients silent for days): the station head and those above.
ESCALATION_ROLES: frozenset[str] = access.ESCALATION_ROLES
PAGE_SIZE = 50
# The board shows the most severe open alerts first and links to the full list past this many: each one
# carries its handling form, and 100 of them made the page cost 180-300 ms (docs/benchmarks.md). A card is one
# patient: their newest alerts are listed, the older ones counted.
OPEN_ALERTS_SHOWN = 20
ALERTS_PER_CARD = 5

LEVEL_BADGE: dict[str, str | None] = {
    AlertLevel.NONE: "success",
    AlertLevel.WATCH: "warning",
    AlertLevel.URGENT: "danger",
    AlertLevel.EMERGENCY: "danger",
}
STATUS_BADGE: dict[str, str | None] = {
    EpisodeStatus.ACTIVE: "info",
    EpisodeStatus.COMPLETED: "success",
    EpisodeStatus.TRANSFERRED: "warning",
    EpisodeStatus.CLOSED: None,
}

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
# Copying and activating a questionnaire change what every patient is asked: a GET only opens the dialog.
COPY_DIALOG: ActionDialog = {
    "title": _("Tạo phiên bản mới của bộ câu hỏi"),
    "description": _("Bản sao chưa được dùng cho tới khi bấm “Kích hoạt”; có thể sửa các câu hỏi trước."),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Tạo phiên bản mới"),
}
ACTIVATE_DIALOG: ActionDialog = {
    "title": _("Kích hoạt bộ câu hỏi"),
    "description": _("Từ lúc kích hoạt, mọi người bệnh khai báo theo phiên bản này."),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Kích hoạt"),
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


def level_badge(level: str) -> SafeString:
    return badge(AlertLevel(level).label, LEVEL_BADGE.get(level))


def phone_link(phone: str) -> SafeString:
    return format_html(
        '<a class="text-primary-600 whitespace-nowrap" href="tel:{}">{}</a>', phone, display_phone(phone)
    )


def day_of_episode(episode: Episode, today: date) -> int:
    """The isolation day shown as "Ngày thứ N": day 1 is the positive test (rules.isolation_day)."""
    return rules.isolation_day(episode, today)


def episode_level_badge(episode: Episode, levels: dict[str, SafeString] | None = None) -> SafeString:
    """The latest declaration's level, or "Chưa khai báo" for a patient who never declared (not "normal")."""
    if episode.last_declared_on is None:
        return badge(gettext("Chưa khai báo"), None)
    return (levels or {}).get(episode.last_alert_level) or level_badge(episode.last_alert_level)


# --- Episodes, and the board / silent list pages hung under them ------------------------------------


@admin.register(Episode, site=desk_site)
class EpisodeAdmin(ScopedModelAdmin):
    view_roles = BOARD_ROLES
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

    def _may_end(self, request: HttpRequest, object_id: Any) -> bool:
        if object_id is None:
            return has_any_role(request.user, MONITORING_ROLES)
        episode = self.scoped_object(request, object_id)
        return bool(
            episode is not None
            and episode.status == EpisodeStatus.ACTIVE
            and access.can_act_at(request.user, episode.facility, MONITORING_ROLES)
        )

    def has_complete_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_end(request, object_id)

    def has_close_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._may_end(request, object_id)

    def has_certificate_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None:
            return has_any_role(request.user, access.CERTIFICATE_ROLES)
        episode = self.scoped_object(request, object_id)
        return bool(
            episode is not None
            and episode.status == EpisodeStatus.COMPLETED
            and episode.certificate_code
            and access.can_act_at(request.user, episode.facility, access.CERTIFICATE_ROLES)
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        phone = search_phone(search_term.strip())
        if phone:
            return queryset.filter(patient__phone=phone), False
        return super().get_search_results(request, queryset, search_term)

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
        if obj.status != EpisodeStatus.COMPLETED or not obj.certificate_code:
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
        declarations = list(
            episode.declarations.select_related("submitted_by").order_by("-submitted_at")[:200]
        )
        labels = _symptom_labels({d.questionnaire_id for d in declarations})
        alerts = list(episode.alerts.select_related("acknowledged_by").order_by("-created_at"))
        reminders = list(episode.reminders.select_related("called_by").order_by("-local_date", "kind"))
        may_ack = access.can_act_at(request.user, episode.facility, MONITORING_ROLES)
        return {
            "declaration_rows": [
                _declaration_row(d, labels.get(d.questionnaire_id, {})) for d in declarations
            ],
            "alert_rows": [_alert_row(a) for a in alerts],
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
                for r in reminders
            ],
            "ack_form": AlertAcknowledgeForm() if may_ack else None,
            "board_url": _board_url(episode.facility_id),
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
        try:
            episode_close(
                episode=episode,
                actor=request.user,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            if exc.field in form.fields:
                form.add_error(exc.field, exc.message)
                return render(request, "unfold/helpers/dialog.html", {"dialog": CLOSE_DIALOG, "form": form})
            messages.error(request, exc.message)
        else:
            messages.success(
                request, gettext("Đã kết thúc theo dõi %(name)s.") % {"name": episode.patient.full_name}
            )
        return redirect_back(request, self.change_url(object_id))

    @action(
        description=_("Tải giấy xác nhận (PDF)"),
        url_path="giay-xac-nhan",
        permissions=["certificate"],
        icon="download",
    )
    def certificate_action(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        episode = self.scoped_object_or_404(request, object_id)
        pdf = certificate_for_staff(episode=episode, actor=request.user)  # role checked, download audited
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="giay-xac-nhan-{episode.certificate_code}.pdf"'
        )
        return response

    # --- extra pages: the board, the silent list, and their two POST endpoints -----------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("board/", wrap(self.board_view), name="monitoring_board"),
            path("chua-khai-bao/", wrap(self.silent_view), name="monitoring_silent"),
            path(
                "alert/<int:alert_id>/xu-ly/",
                wrap(self.acknowledge_view),
                name="monitoring_alert_acknowledge",
            ),
            path(
                "call/<int:reminder_id>/da-goi/", wrap(self.record_call_view), name="monitoring_record_call"
            ),
        ]
        return own + super().get_urls()

    def _stations(self, request: HttpRequest) -> QuerySet[Facility]:
        return (
            access.facilities_for(request.user, BOARD_ROLES).filter(kind__in=ACCEPTING_KINDS).order_by("name")
        )

    def _station_form(self, request: HttpRequest) -> tuple[BoardForm, Facility]:
        """The board's form and the station shown: the one asked for if the user may see it (else 404), by
        default the user's own station."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        stations = list(self._stations(request))
        user: Any = request.user
        own = (
            Membership.objects.filter(user=user, is_active=True, facility__in=[s.pk for s in stations])
            .order_by("id")
            .values_list("facility_id", flat=True)
            .first()
        )
        default = next((s for s in stations if s.pk == own), stations[0] if stations else None)
        data = request.GET.copy()
        if not data.get("facility") and default is not None:
            data["facility"] = str(default.pk)
        form = BoardForm(data, stations=stations)
        station = form.station(default=None)
        if station is None:
            raise Http404(gettext("Không tìm thấy trạm y tế."))
        return form, station

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

    def board_view(self, request: HttpRequest) -> HttpResponse:
        form, station = self._station_form(request)
        user, today = request.user, timezone.localdate()
        summary = selectors.board_summary(user=user, facility=station, today=today)
        # One card per patient with open alerts: the most severe first, then the longest waiting.
        groups, patients_total = selectors.open_alert_groups(
            user=user, facility=station, limit=OPEN_ALERTS_SHOWN
        )
        page = Paginator(
            selectors.board_episodes(user=user, facility=station, today=today, filters=form.filters()),
            PAGE_SIZE,
        ).get_page(request.GET.get("p"))
        now = timezone.now()
        query = request.GET.copy()
        query.pop("p", None)
        # The pieces every row repeats are rendered once per page, not once per row (unfold's components
        # copy the whole page context on each use): the level badges, the "declared today" labels, the
        # episode link, and the handling form, whose ids are made per alert from one rendering.
        levels = {level: level_badge(level) for level in AlertLevel.values}
        declared = {
            True: badge(gettext("Đã khai báo"), "success"),
            False: badge(gettext("Chưa khai báo"), "warning"),
        }
        episode_url = _url_pattern("admin:monitoring_episode_change")
        ack_url = _url_pattern("admin:monitoring_alert_acknowledge")
        ack_form = _AckFormHtml(request) if groups else None
        open_total = summary_open(summary)
        context = {
            **self._page_context(request, gettext("Bảng theo dõi hôm nay")),
            "form": form,
            "station": station,
            "today": fmt_date(today),
            "summary": summary,
            "tiles": _tiles(summary, station.pk),
            "alerts": [
                {
                    "level": levels.get(group.level) or level_badge(group.level),
                    "patient": group.episode.patient,
                    "age": age_years(group.episode.patient.date_of_birth, today),
                    "phone": phone_link(group.episode.patient.phone),
                    "count": group.count,
                    "items": [_alert_row(alert, levels) for alert in group.alerts[:ALERTS_PER_CARD]],
                    "older": group.count - min(group.count, ALERTS_PER_CARD),
                    "raised": fmt_datetime(group.newest.created_at),
                    "waiting": duration_label(now - group.oldest),
                    "episode_url": episode_url(group.episode.pk),
                    "ack_url": ack_url(group.newest.pk),
                    "alert_ids": [alert.pk for alert in group.alerts],
                    "form": ack_form.for_alert(group.newest.pk) if ack_form else None,
                }
                for group in groups
            ],
            "alerts_total": open_total,
            "alert_patients": patients_total,
            "alerts_more": patients_total > len(groups),
            "alerts_all_url": reverse("admin:monitoring_alert_changelist")
            + f"?xu_ly=chua&facility__id__exact={station.pk}",
            "ack_button": ack_form.button if ack_form else "",
            "may_ack": access.can_act_at(user, station, MONITORING_ROLES),
            "page": page,
            "reset_url": _board_url(station.pk),
            "rows": [
                {
                    "episode": episode,
                    "patient": episode.patient,
                    "age": age_years(episode.patient.date_of_birth, today),
                    "phone": phone_link(episode.patient.phone),
                    "day": day_of_episode(episode, today),
                    "last_declared": fmt_date(episode.last_declared_on),
                    "declared_today": declared[episode.last_declared_on == today],
                    "level": episode_level_badge(episode, levels),
                    "url": episode_url(episode.pk),
                }
                for episode in page.object_list
            ],
            "query": query.urlencode(),
            "silent_url": reverse("admin:monitoring_silent") + f"?facility={station.pk}",
        }
        return TemplateResponse(request, "admin/monitoring/board.html", context)

    def silent_view(self, request: HttpRequest) -> HttpResponse:
        form, station = self._station_form(request)
        user, today = request.user, timezone.localdate()
        page = Paginator(
            selectors.silent_episodes(user=user, facility=station, today=today), PAGE_SIZE
        ).get_page(request.GET.get("p"))
        episodes = list(page.object_list)
        calls = {
            row.episode_id: row
            for row in selectors.reminders_today(
                user=user,
                facility=station,
                today=today,
                kind=ReminderLog.Kind.CALL_LIST,
                episode_ids=[e.pk for e in episodes],
            )
        }
        call_totals = selectors.reminders_today(
            user=user, facility=station, today=today, kind=ReminderLog.Kind.CALL_LIST
        ).aggregate(total=Count("id"), called=Count("called_at"))
        may_escalations = access.can_act_at(user, station, ESCALATION_ROLES)
        escalations = (
            list(
                selectors.reminders_today(
                    user=user,
                    facility=station,
                    today=today,
                    kind=ReminderLog.Kind.ESCALATION,
                    roles=ESCALATION_ROLES,
                )[:200]
            )
            if may_escalations
            else []
        )
        may_call = access.can_act_at(user, station, MONITORING_ROLES)
        query = request.GET.copy()
        query.pop("p", None)
        context = {
            **self._page_context(request, gettext("Chưa khai báo hôm nay / Danh sách gọi")),
            "form": form,
            "station": station,
            "today": fmt_date(today),
            "page": page,
            "rows": [_silent_row(episode, calls.get(episode.pk), today, may_call) for episode in episodes],
            "call_totals": call_totals,
            "may_escalations": may_escalations,
            "escalations": [
                {
                    "patient": row.episode.patient,
                    "phone": phone_link(row.episode.patient.phone),
                    "last_declared": fmt_date(row.episode.last_declared_on),
                    "day": day_of_episode(row.episode, today),
                    "url": reverse("admin:monitoring_episode_change", args=[row.episode_id]),
                }
                for row in escalations
            ],
            "call_form": CallRecordForm(),
            "query": query.urlencode(),
            "board_url": _board_url(station.pk),
        }
        return TemplateResponse(request, "admin/monitoring/silent.html", context)

    def acknowledge_view(self, request: HttpRequest, alert_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        alert = (
            access.scope_by_facility(
                Alert.objects.select_related("episode__patient"), request.user, roles=BOARD_ROLES
            )
            .filter(pk=alert_id)
            .first()
        )
        if alert is None:
            raise Http404
        form = AlertAcknowledgeForm(request.POST)
        # The board's card is one patient: it posts the ids of every open alert it showed, so one outcome
        # closes them all (only those of this alert's episode are taken).
        group = self._alert_group(request, alert)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(str(error) for error in errors))
        else:
            try:
                if len(group) > 1:
                    closed = alerts_acknowledge(
                        alerts=group,
                        actor=request.user,
                        outcome=form.cleaned_data["outcome"],
                        note=form.cleaned_data["note"],
                    )
                else:
                    closed = [
                        alert_acknowledge(
                            alert=alert,
                            actor=request.user,
                            outcome=form.cleaned_data["outcome"],
                            note=form.cleaned_data["note"],
                        )
                    ]
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                name = alert.episode.patient.full_name
                if len(closed) == 1:
                    done = gettext("Đã ghi nhận xử lý cảnh báo của %(name)s.") % {"name": name}
                else:
                    done = ngettext(
                        "Đã ghi nhận xử lý %(count)s cảnh báo của %(name)s.",
                        "Đã ghi nhận xử lý %(count)s cảnh báo của %(name)s.",
                        len(closed),
                    ) % {"count": len(closed), "name": name}
                messages.success(request, done)
        return HttpResponseRedirect(_safe_next(request, _board_url(alert.facility_id)))

    def _alert_group(self, request: HttpRequest, alert: Alert) -> list[Alert]:
        """The alert and the other open alerts of its episode named in the POST's `alerts` (scoped)."""
        wanted = {int(v) for v in request.POST.getlist("alerts") if v.isdigit()} - {alert.pk}
        if not wanted:
            return [alert]
        others = access.scope_by_facility(Alert.objects.all(), request.user, roles=BOARD_ROLES).filter(
            pk__in=wanted, episode_id=alert.episode_id, acknowledged_at__isnull=True
        )
        return [alert, *others]

    def record_call_view(self, request: HttpRequest, reminder_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        reminder = (
            access.scope_by_facility(
                ReminderLog.objects.select_related("episode__patient"),
                request.user,
                field="episode__facility",
                roles=BOARD_ROLES,
            )
            .filter(pk=reminder_id, kind=ReminderLog.Kind.CALL_LIST)
            .first()
        )
        if reminder is None:
            raise Http404
        form = CallRecordForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(str(error) for error in errors))
        else:
            try:
                call_list_record_call(reminder=reminder, actor=request.user, note=form.cleaned_data["note"])
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    gettext("Đã ghi nhận cuộc gọi cho %(name)s.")
                    % {"name": reminder.episode.patient.full_name},
                )
        fallback = reverse("admin:monitoring_silent") + f"?facility={reminder.episode.facility_id}"
        return HttpResponseRedirect(_safe_next(request, fallback))


_ID = "0000000000"  # stands for an object id in a URL or an HTML id rendered once per page


def _url_pattern(name: str) -> Any:
    """reverse(name, args=[id]) for many ids at the cost of one reverse()."""
    head, tail = reverse(name, args=[_ID]).rsplit(_ID, 1)
    return lambda pk: f"{head}{pk}{tail}"


class _AckFormHtml:
    """The board's alert-handling form, rendered once a page: each alert gets the same HTML with its own
    ids (`ack<alert id>_outcome`, `ack<alert id>_note`), as AlertAcknowledgeForm(auto_id=...) renders it."""

    def __init__(self, request: HttpRequest) -> None:
        form = AlertAcknowledgeForm(auto_id=f"ack{_ID}_%s")
        self.outcome, self.note = str(form["outcome"]), str(form["note"])
        self.outcome_id, self.note_id = form["outcome"].id_for_label, form["note"].id_for_label
        self.button = SafeString(
            render_to_string(
                "unfold/components/button.html", {"submit": 1, "children": gettext("Xử lý")}, request=request
            )
        )

    def for_alert(self, pk: int) -> dict[str, Any]:
        ids = str(pk)
        return {
            "outcome": SafeString(self.outcome.replace(_ID, ids)),
            "note": SafeString(self.note.replace(_ID, ids)),
            "outcome_id": self.outcome_id.replace(_ID, ids),
            "note_id": self.note_id.replace(_ID, ids),
        }


def _board_url(facility_id: int) -> str:
    return reverse("admin:monitoring_board") + f"?facility={facility_id}"


def _safe_next(request: HttpRequest, fallback: str) -> str:
    """Back to the desk page the form was posted from (only a local /desk/ path is followed)."""
    target = request.POST.get("next", "")
    if target.startswith("/desk/") and "//" not in target and "\\" not in target:
        return target
    return fallback


def summary_open(summary: selectors.BoardSummary) -> int:
    return sum(summary.open_alerts.values())


def _tiles(summary: selectors.BoardSummary, facility_id: int) -> list[dict[str, Any]]:
    board = _board_url(facility_id)
    silent = reverse("admin:monitoring_silent") + f"?facility={facility_id}"
    return [
        {"label": gettext("Đang theo dõi"), "value": summary.active, "icon": "groups", "href": board},
        {
            "label": gettext("Đã khai báo hôm nay"),
            "value": summary.declared,
            "icon": "task_alt",
            "href": board,
        },
        {"label": gettext("Chưa khai báo"), "value": summary.silent, "icon": "schedule", "href": silent},
        {
            "label": gettext("Khai báo muộn"),
            "value": summary.late,
            "icon": "running_with_errors",
            "href": board,
        },
        {
            "label": gettext("Cấp cứu"),
            "value": summary.open_alerts["emergency"],
            "icon": "emergency",
            "href": "#alerts",
            "alarm": summary.open_alerts["emergency"] > 0,
        },
        {
            "label": gettext("Cần liên hệ ngay"),
            "value": summary.open_alerts["urgent"],
            "icon": "call",
            "href": "#alerts",
            "alarm": summary.open_alerts["urgent"] > 0,
        },
        {
            "label": gettext("Cần theo dõi"),
            "value": summary.open_alerts["watch"],
            "icon": "visibility",
            "href": "#alerts",
        },
    ]


def _silent_row(episode: Episode, call: ReminderLog | None, today: date, may_call: bool) -> dict[str, Any]:
    return {
        "patient": episode.patient,
        "age": age_years(episode.patient.date_of_birth, today),
        "phone": phone_link(episode.patient.phone),
        "ward": episode.patient.ward_name,
        "day": day_of_episode(episode, today),
        "last_declared": fmt_date(episode.last_declared_on),
        "silent_days": (today - episode.last_declared_on).days if episode.last_declared_on else None,
        "url": reverse("admin:monitoring_episode_change", args=[episode.pk]),
        "call": call,
        "called": (
            {
                "at": fmt_datetime(call.called_at),
                "by": fmt_user(call.called_by, "—"),
                "note": call.call_note,
            }
            if call is not None and call.called_at
            else None
        ),
        "call_url": reverse("admin:monitoring_record_call", args=[call.pk])
        if call is not None and may_call
        else "",
    }


def _symptom_labels(version_ids: Iterable[int]) -> dict[int, dict[str, tuple[str, bool]]]:
    """{version id: {option code: (Vietnamese label, danger)}} for the multi-choice questions."""
    labels: dict[int, dict[str, tuple[str, bool]]] = {}
    questions = Question.objects.filter(questionnaire_id__in=list(version_ids), type=QuestionType.MULTI)
    for q in questions:
        for option in q.options or []:
            labels.setdefault(q.questionnaire_id, {})[option["code"]] = (
                option.get("vi", option["code"]),
                bool(option.get("danger")),
            )
    return labels


def _num(value: Any, unit: str = "") -> str:
    if value is None or value == "":
        return "—"
    return f"{str(value).replace('.', ',')}{unit}"


def _declaration_row(declaration: Declaration, labels: dict[str, tuple[str, bool]]) -> dict[str, Any]:
    answers = declaration.answers or {}
    systolic, diastolic = answers.get("bp_systolic"), answers.get("bp_diastolic")
    symptoms = [labels.get(code, (code, False)) for code in answers.get("symptoms", [])]
    submitter = fmt_user(declaration.submitted_by, "—")
    return {
        "when": fmt_datetime(declaration.submitted_at),
        "late": declaration.late,
        "spo2": _num(declaration.spo2, "%"),
        "temperature": _num(declaration.temperature, " °C"),
        "breathing_rate": _num(declaration.breathing_rate),
        "pulse": _num(declaration.pulse),
        "bp": f"{systolic}/{diastolic}" if systolic and diastolic else _num(systolic or diastolic),
        "symptoms": symptoms,
        "note": answers.get("note", ""),
        "level": level_badge(declaration.alert_level),
        "reasons": list(declaration.reasons or []),
        "by": submitter,
    }


def _alert_row(alert: Alert, levels: dict[str, SafeString] | None = None) -> dict[str, Any]:
    return {
        "alert": alert,
        "level": (levels or {}).get(alert.level) or level_badge(alert.level),
        "reasons": list(alert.reasons or []),
        "raised": fmt_datetime(alert.created_at),
        "acknowledged": fmt_datetime(alert.acknowledged_at) if alert.acknowledged_at else "",
        "time_to_ack": duration_label(alert.acknowledged_at - alert.created_at)
        if alert.acknowledged_at
        else "",
        "outcome": alert.get_outcome_display() if alert.outcome else "",
        "by": fmt_user(alert.acknowledged_by),
        "note": alert.note,
    }


# --- Alerts: the history with outcomes and time to acknowledge (handling is on the board) --------


class AcknowledgedFilter(admin.SimpleListFilter):
    title = _("đã xử lý")
    parameter_name = "xu_ly"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("chua", _("Chưa xử lý")), ("roi", _("Đã xử lý"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "chua":  # waiting for the station: only an active episode's alerts wait
            return queryset.filter(acknowledged_at__isnull=True, episode__status=EpisodeStatus.ACTIVE)
        if self.value() == "roi":
            return queryset.filter(acknowledged_at__isnull=False)
        return queryset


@admin.register(Alert, site=desk_site)
class AlertAdmin(ScopedModelAdmin):
    view_roles = BOARD_ROLES
    read_only = True
    list_display = (
        "level_col",
        "patient_col",
        "reasons_col",
        "raised_col",
        "handled_col",
        "outcome_col",
        "facility_col",
    )
    list_display_links = None
    list_select_related = ("episode__patient", "facility", "acknowledged_by")
    list_filter = (AcknowledgedFilter, "level", "outcome", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ("episode__patient__full_name",)
    ordering = ("-created_at", "-id")
    actions = None

    def scope(self, user: Any) -> QuerySet[Any]:
        return access.scope_by_facility(Alert.objects.all(), user, roles=BOARD_ROLES)

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        alert = self.scoped_object(request, object_id)
        if alert is None:
            raise Http404
        return HttpResponseRedirect(reverse("admin:monitoring_episode_change", args=[alert.episode_id]))

    @display(description=_("mức"), ordering="level")
    def level_col(self, obj: Alert) -> SafeString:
        return level_badge(obj.level)

    @display(description=_("người bệnh"), ordering="episode__patient__full_name")
    def patient_col(self, obj: Alert) -> SafeString:
        url = reverse("admin:monitoring_episode_change", args=[obj.episode_id])
        return format_html(
            '<a class="font-semibold text-primary-600 whitespace-nowrap" href="{}">{}</a>',
            url,
            obj.episode.patient.full_name,
        )

    @display(description=_("lý do"))
    def reasons_col(self, obj: Alert) -> str:
        return "; ".join(obj.reasons or [])

    @display(description=_("lúc"), ordering="created_at")
    def raised_col(self, obj: Alert) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("xử lý"), ordering="acknowledged_at")
    def handled_col(self, obj: Alert) -> str:
        if obj.acknowledged_at is None:
            return gettext("chờ %(duration)s") % {"duration": duration_label(timezone.now() - obj.created_at)}
        return gettext("sau %(duration)s") % {
            "duration": duration_label(obj.acknowledged_at - obj.created_at)
        }

    @display(description=_("trạm y tế"), ordering="facility__name")
    def facility_col(self, obj: Alert) -> str:
        return obj.facility.name

    @display(description=_("kết quả"), ordering="outcome")
    def outcome_col(self, obj: Alert) -> str:
        if not obj.outcome:
            return "—"
        by = fmt_user(obj.acknowledged_by)
        parts = [obj.get_outcome_display(), by, obj.note]
        return " · ".join(part for part in parts if part)


# --- Managers' configuration ----------------------------------------------------------------------


class ConfigAdmin(ScopedModelAdmin):
    """Province-wide monitoring settings: managers and administrators see them; only those of the Department
    of Health change them (services.may_configure). Every save is audited and drops the monitoring caches so
    the next declaration uses the new values."""

    view_roles = CONFIG_ROLES
    add_roles = CONFIG_ROLES
    change_roles = CONFIG_ROLES
    facility_field = None
    actions = None

    def scope(self, user: Any) -> QuerySet[Any]:
        return self.model._default_manager.all()

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return super().has_add_permission(request, *args) and may_configure(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and may_configure(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        configuration_changed(
            target=obj, actor=request.user, created=not change, changed=list(form.changed_data)
        )

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # the audit row written by configuration_changed is the record

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None


class QuestionInline(StackedInline):
    model = Question
    extra = 0
    tab = True
    fields = (
        ("code", "order", "type", "required"),
        ("age_min_months", "age_max_months"),
        "text_vi",
        "text_en",
        "help_vi",
        ("unit", "min_value", "max_value", "decimals"),
        "options",
    )

    def _editable(self, request: HttpRequest, obj: Any) -> bool:
        return may_configure(request.user) and (obj is None or not _in_use(request, obj))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_any_role(request.user, CONFIG_ROLES)  # TTYT managers read the questions too

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)


def _in_use(request: HttpRequest, version: QuestionnaireVersion) -> bool:
    cache = request.__dict__.setdefault("_questionnaire_in_use", {})
    if version.pk not in cache:
        cache[version.pk] = questionnaire_in_use(version=version)
    result: bool = cache[version.pk]
    return result


@admin.register(QuestionnaireVersion, site=desk_site)
class QuestionnaireVersionAdmin(ConfigAdmin):
    list_display = ("version", "title", "active_col", "questions_col", "in_use_col", "created_col")
    list_display_links = ("version", "title")
    fields = ("version", "title", "active_col", "in_use_col")
    readonly_fields = ("active_col", "in_use_col")
    inlines = [QuestionInline]
    ordering = ("-version",)
    actions_detail = ["copy_action", "activate_action"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(question_count=Count("questions"))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and _in_use(request, obj):
            return False  # part of the record: copy it instead
        return super().has_change_permission(request, obj)

    def has_copy_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return may_configure(request.user)

    def has_activate_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if not may_configure(request.user):
            return False
        if object_id is None:
            return True
        version = self.scoped_object(request, object_id)
        return bool(version is not None and not version.is_active)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("version")  # declarations and the API name versions by number
        return readonly

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        version = self.scoped_object(request, object_id)
        if version is not None and request.method == "GET" and _in_use(request, version):
            messages.info(
                request,
                gettext(
                    "Bộ câu hỏi này đã có người bệnh khai báo nên không sửa trực tiếp được. Bấm “Tạo phiên bản "
                    "mới” để sao chép, sửa bản sao rồi kích hoạt."
                ),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        configuration_changed(target=form.instance, actor=request.user, created=False, changed=["questions"])

    @display(description=_("đang dùng"), boolean=True)
    def active_col(self, obj: QuestionnaireVersion) -> bool:
        return obj.is_active

    @display(description=_("số câu hỏi"))
    def questions_col(self, obj: Any) -> int:
        return int(getattr(obj, "question_count", 0))

    @display(description=_("đã có khai báo"), boolean=True)
    def in_use_col(self, obj: QuestionnaireVersion) -> bool:
        return questionnaire_in_use(version=obj) if obj.pk else False

    @display(description=_("tạo lúc"))
    def created_col(self, obj: QuestionnaireVersion) -> str:
        return fmt_datetime(obj.created_at)

    @action(
        description=_("Tạo phiên bản mới"),
        url_path="tao-phien-ban-moi",
        permissions=["copy"],
        icon="content_copy",
        dialog=COPY_DIALOG,
    )
    def copy_action(self, request: HttpRequest, form: BaseDialogForm, object_id: Any) -> HttpResponse:
        if request.method != "POST":  # the dialog posts; a GET never writes
            raise Http404
        version = self.scoped_object(request, object_id)
        if version is None:
            raise Http404
        try:
            copy = questionnaire_copy(version=version, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect_back(
                request, reverse("admin:monitoring_questionnaireversion_change", args=[object_id])
            )
        messages.success(
            request,
            gettext("Đã tạo phiên bản %(number)d (chưa dùng). Sửa các câu hỏi rồi bấm “Kích hoạt”.")
            % {"number": copy.version},
        )
        return redirect_back(request, reverse("admin:monitoring_questionnaireversion_change", args=[copy.pk]))

    @action(
        description=_("Kích hoạt"),
        url_path="kich-hoat",
        permissions=["activate"],
        icon="published_with_changes",
        variant=ActionVariant.SUCCESS,
        dialog=ACTIVATE_DIALOG,
    )
    def activate_action(self, request: HttpRequest, form: BaseDialogForm, object_id: Any) -> HttpResponse:
        if request.method != "POST":  # the dialog posts; a GET never writes
            raise Http404
        version = self.scoped_object(request, object_id)
        if version is None:
            raise Http404
        try:
            questionnaire_activate(version=version, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("Từ bây giờ người bệnh khai báo theo phiên bản %(number)d.")
                % {"number": version.version},
            )
        return redirect_back(
            request, reverse("admin:monitoring_questionnaireversion_change", args=[object_id])
        )


@admin.register(TriageRule, site=desk_site)
class TriageRuleAdmin(ConfigAdmin):
    list_display = ("code", "kind", "condition_col", "age_col", "level_col", "reason_vi", "is_active")
    list_filter = ("kind", "level", "is_active")
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ("code", "reason_vi", "question_code", "symptom")
    ordering = ("code",)
    fieldsets = (
        (None, {"fields": ("code", "kind", "is_active")}),
        (
            _("Điều kiện"),
            {"fields": ("question_code", ("op", "value"), "symptom", ("window_hours", "days"))},
        ),
        (_("Nhóm tuổi (tháng)"), {"fields": (("age_min_months", "age_max_months"),)}),
        (_("Kết quả"), {"fields": ("level", "reason_vi", "reason_en")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("code",) if obj is not None else ()

    @display(description=_("điều kiện"))
    def condition_col(self, obj: TriageRule) -> str:
        if obj.kind == TriageRule.Kind.SYMPTOM:
            return f"{obj.question_code} ∋ {obj.symptom}"
        op = TriageRule.Op(obj.op).label if obj.op else ""
        value = _num(obj.value)
        if obj.kind == TriageRule.Kind.TREND_DROP:
            return gettext("%(q)s giảm ≥ %(v)s trong %(h)s giờ") % {
                "q": obj.question_code,
                "v": value,
                "h": obj.window_hours,
            }
        if obj.kind == TriageRule.Kind.TREND_DAYS:
            return gettext("%(q)s %(op)s %(v)s trong %(d)s ngày") % {
                "q": obj.question_code,
                "op": op,
                "v": value,
                "d": obj.days,
            }
        return f"{obj.question_code} {op} {value}"

    @display(description=_("nhóm tuổi"))
    def age_col(self, obj: TriageRule) -> str:
        low, high = obj.age_min_months, obj.age_max_months
        if low is None and high is None:
            return gettext("mọi tuổi")
        return f"{low or 0}–{high if high is not None else '…'} " + gettext("tháng")

    @display(description=_("mức"), ordering="level")
    def level_col(self, obj: TriageRule) -> SafeString:
        return level_badge(obj.level)


@admin.register(ProvincePolicy, site=desk_site)
class ProvincePolicyAdmin(ConfigAdmin):
    form = ProvincePolicyForm
    list_display = (
        "province_code",
        "deadline_col",
        "times_col",
        "min_isolation_days",
        "escalate_after_silent_days",
    )
    ordering = ("province_code",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """A reader who may not change the policy sees the reminder times as typed ("08:00, 09:30"), not
        as the stored JSON list."""
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            fields = ["times_col" if name == "reminder_times" else name for name in fields]
        return fields

    @display(description=_("hạn khai báo"))
    def deadline_col(self, obj: ProvincePolicy) -> str:
        return obj.declaration_deadline.strftime("%H:%M")

    @display(description=_("giờ nhắc"))
    def times_col(self, obj: ProvincePolicy) -> str:
        return ", ".join(obj.reminder_times or []) or "—"


@admin.register(GuidanceDocument, site=desk_site)
class GuidanceDocumentAdmin(ConfigAdmin):
    form = GuidanceDocumentForm
    list_display = ("title", "source", "order", "is_published", "pdf_col")
    list_filter = ("is_published",)
    search_fields = ("title", "summary")
    ordering = ("order", "title")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_configure(request.user)

    @display(description=_("tệp PDF"), boolean=True)
    def pdf_col(self, obj: GuidanceDocument) -> bool:
        return bool(obj.pdf)
