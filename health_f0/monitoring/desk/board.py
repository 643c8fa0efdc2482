"""The station's pages under the episodes' URL: today's board (summary tiles, open alerts one card per patient,
the episodes with filters), the silent list and call list, and their two POST endpoints (handle alerts,
record a call). Reads come from monitoring.selectors; the two buttons call monitoring.services."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from health_f0.desk.actions import form_error_messages, post_only, run, safe_next
from health_f0.desk.formatting import age_years, badge, duration_label, fmt_date, fmt_datetime, fmt_user
from health_f0.facilities.models import Facility
from health_f0.monitoring import selectors
from health_f0.monitoring.desk.widgets import (
    AckFormHtml,
    alert_row,
    board_url,
    day_of_episode,
    episode_level_badge,
    level_badge,
    phone_link,
    silent_url,
    url_pattern,
)
from health_f0.monitoring.forms import AlertAcknowledgeForm, BoardForm, CallRecordForm
from health_f0.monitoring.models import AlertLevel, Episode, ReminderLog
from health_f0.monitoring.services import (
    alert_acknowledge,
    alerts_acknowledge,
    call_list_record_call,
    may_act_at_station,
)

PAGE_SIZE = 50
# The board shows the most severe open alerts first and links to the full list past this many: each one
# carries its handling form, and 100 of them made the page cost 180-300 ms (docs/benchmarks.md). A card is one
# patient: their newest alerts are listed, the older ones counted.
OPEN_ALERTS_SHOWN = 20
ALERTS_PER_CARD = 5


class BoardPages:
    """Mixed into the episodes' ModelAdmin: its URLs, permissions and admin site serve these pages."""

    admin_site: Any
    model: Any
    has_view_permission: Any
    page_context: Any  # desk.site.ScopedModelAdmin.page_context

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
        return own + super().get_urls()  # type: ignore[misc]

    def _station_form(self, request: HttpRequest) -> tuple[BoardForm, Facility]:
        """The board's form and the station shown: the one asked for if the user may see it (else 404), by
        default the user's own station."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        stations = selectors.board_stations(user=request.user)
        default = selectors.own_station(user=request.user, stations=stations)
        data = request.GET.copy()
        if not data.get("facility") and default is not None:
            data["facility"] = str(default.pk)
        form = BoardForm(data, stations=stations)
        station = form.station(default=None)
        if station is None:
            raise Http404(gettext("Không tìm thấy trạm y tế."))
        return form, station

    def board_view(self, request: HttpRequest) -> HttpResponse:
        form, station = self._station_form(request)
        user, today = request.user, timezone.localdate()
        summary = selectors.board_summary(user=user, facility=station, today=today)
        # One card per patient with open alerts: the most severe first, then the longest waiting.
        groups, patients_total = selectors.open_alert_groups(
            user=user, facility=station, limit=OPEN_ALERTS_SHOWN
        )
        page = Paginator(
            selectors.board_pages(user=user, facility=station, today=today, filters=form.filters()),
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
        episode_url = url_pattern("admin:monitoring_episode_change")
        ack_url = url_pattern("admin:monitoring_alert_acknowledge")
        ack_form = AckFormHtml(request) if groups else None
        open_total = summary_open(summary)
        context = {
            **self.page_context(request, gettext("Bảng theo dõi hôm nay")),
            "form": form,
            "station": station,
            "today": fmt_date(today),
            "summary": summary,
            "tiles": tiles(summary, station.pk),
            "alerts": [
                {
                    "level": levels.get(group.level) or level_badge(group.level),
                    "patient": group.episode.patient,
                    "age": age_years(group.episode.patient.date_of_birth, today),
                    "phone": phone_link(group.episode.patient.phone),
                    "count": group.count,
                    "items": [alert_row(alert, levels) for alert in group.alerts[:ALERTS_PER_CARD]],
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
            "may_ack": may_act_at_station(user, station),
            "page": page,
            "reset_url": board_url(station.pk),
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
            "silent_url": silent_url(station.pk),
        }
        return TemplateResponse(request, "admin/monitoring/board.html", context)

    def silent_view(self, request: HttpRequest) -> HttpResponse:
        form, station = self._station_form(request)
        user, today = request.user, timezone.localdate()
        page = Paginator(
            selectors.silent_pages(user=user, facility=station, today=today), PAGE_SIZE
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
        may_escalations = selectors.may_see_escalations(user=user, facility=station)
        escalations = (
            selectors.escalations_today(user=user, facility=station, today=today) if may_escalations else []
        )
        may_call = may_act_at_station(user, station)
        query = request.GET.copy()
        query.pop("p", None)
        context = {
            **self.page_context(request, gettext("Chưa khai báo hôm nay / Danh sách gọi")),
            "form": form,
            "station": station,
            "today": fmt_date(today),
            "page": page,
            "rows": [silent_row(episode, calls.get(episode.pk), today, may_call) for episode in episodes],
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
            "board_url": board_url(station.pk),
        }
        return TemplateResponse(request, "admin/monitoring/silent.html", context)

    def acknowledge_view(self, request: HttpRequest, alert_id: int) -> HttpResponse:
        if refused := post_only(request):
            return refused
        alert = selectors.board_alert(user=request.user, alert_id=alert_id)
        if alert is None:
            raise Http404
        form = AlertAcknowledgeForm(request.POST)
        if not form.is_valid():
            form_error_messages(request, form)
        else:
            # The board's card is one patient: it posts the ids of every open alert it showed, so one outcome
            # closes them all (only those of this alert's episode are taken).
            wanted = {int(v) for v in request.POST.getlist("alerts") if v.isdigit()}
            group = selectors.open_alerts_with(user=request.user, alert=alert, ids=wanted)
            outcome, note = form.cleaned_data["outcome"], form.cleaned_data["note"]

            def call() -> list[Any]:
                if len(group) > 1:
                    return alerts_acknowledge(alerts=group, actor=request.user, outcome=outcome, note=note)
                return [alert_acknowledge(alert=alert, actor=request.user, outcome=outcome, note=note)]

            run(request, call, success=lambda closed: _handled(alert.episode.patient.full_name, len(closed)))
        return HttpResponseRedirect(safe_next(request, board_url(alert.facility_id)))

    def record_call_view(self, request: HttpRequest, reminder_id: int) -> HttpResponse:
        if refused := post_only(request):
            return refused
        reminder = selectors.call_list_row(user=request.user, reminder_id=reminder_id)
        if reminder is None:
            raise Http404
        form = CallRecordForm(request.POST)
        if not form.is_valid():
            form_error_messages(request, form)
        else:
            run(
                request,
                lambda: call_list_record_call(
                    reminder=reminder, actor=request.user, note=form.cleaned_data["note"]
                ),
                success=gettext("Đã ghi nhận cuộc gọi cho %(name)s.")
                % {"name": reminder.episode.patient.full_name},
            )
        return HttpResponseRedirect(safe_next(request, silent_url(reminder.episode.facility_id)))


def _handled(name: str, count: int) -> str:
    if count == 1:
        return gettext("Đã ghi nhận xử lý cảnh báo của %(name)s.") % {"name": name}
    return ngettext(
        "Đã ghi nhận xử lý %(count)s cảnh báo của %(name)s.",
        "Đã ghi nhận xử lý %(count)s cảnh báo của %(name)s.",
        count,
    ) % {"count": count, "name": name}


def summary_open(summary: selectors.BoardSummary) -> int:
    return sum(summary.open_alerts.values())


def tiles(summary: selectors.BoardSummary, facility_id: int) -> list[dict[str, Any]]:
    board = board_url(facility_id)
    silent = silent_url(facility_id)
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


def silent_row(episode: Episode, call: ReminderLog | None, today: date, may_call: bool) -> dict[str, Any]:
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
