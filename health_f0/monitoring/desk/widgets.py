"""The pieces the monitoring desk pages share: level and status badges, the phone link, the isolation day, the
rows of a declaration and an alert, the board's alert-handling form rendered once a page, and URL helpers."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from health_f0.core.phone import display_phone
from health_f0.desk.formatting import badge, duration_label, fmt_datetime, fmt_user
from health_f0.monitoring import rules
from health_f0.monitoring.forms import AlertAcknowledgeForm
from health_f0.monitoring.models import Alert, AlertLevel, Declaration, Episode, EpisodeStatus

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


_ID = "0000000000"  # stands for an object id in a URL or an HTML id rendered once per page


def url_pattern(name: str) -> Any:
    """reverse(name, args=[id]) for many ids at the cost of one reverse()."""
    head, tail = reverse(name, args=[_ID]).rsplit(_ID, 1)
    return lambda pk: f"{head}{pk}{tail}"


class AckFormHtml:
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


def board_url(facility_id: int) -> str:
    return reverse("admin:monitoring_board") + f"?facility={facility_id}"


def num(value: Any, unit: str = "") -> str:
    if value is None or value == "":
        return "—"
    return f"{str(value).replace('.', ',')}{unit}"


def declaration_row(declaration: Declaration, labels: dict[str, tuple[str, bool]]) -> dict[str, Any]:
    answers = declaration.answers or {}
    systolic, diastolic = answers.get("bp_systolic"), answers.get("bp_diastolic")
    symptoms = [labels.get(code, (code, False)) for code in answers.get("symptoms", [])]
    submitter = fmt_user(declaration.submitted_by, "—")
    return {
        "when": fmt_datetime(declaration.submitted_at),
        "late": declaration.late,
        "spo2": num(declaration.spo2, "%"),
        "temperature": num(declaration.temperature, " °C"),
        "breathing_rate": num(declaration.breathing_rate),
        "pulse": num(declaration.pulse),
        "bp": f"{systolic}/{diastolic}" if systolic and diastolic else num(systolic or diastolic),
        "symptoms": symptoms,
        "note": answers.get("note", ""),
        "level": level_badge(declaration.alert_level),
        "reasons": list(declaration.reasons or []),
        "by": submitter,
    }


def alert_row(alert: Alert, levels: dict[str, SafeString] | None = None) -> dict[str, Any]:
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


def silent_url(facility_id: int) -> str:
    return reverse("admin:monitoring_silent") + f"?facility={facility_id}"
