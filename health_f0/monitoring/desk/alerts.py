"""Danger-sign alerts in the desk: the history with outcomes and the time to acknowledge (read-only; the
handling form is on the board, monitoring.desk.board)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from health_f0.desk.formatting import duration_label, fmt_datetime, fmt_user
from health_f0.desk.site import ScopedModelAdmin, desk_site
from health_f0.facilities import access
from health_f0.monitoring.desk.widgets import level_badge
from health_f0.monitoring.models import Alert, EpisodeStatus


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
    view_roles = access.EPISODE_READER_ROLES
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
        return access.scope_by_facility(Alert.objects.all(), user, roles=access.EPISODE_READER_ROLES)

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
