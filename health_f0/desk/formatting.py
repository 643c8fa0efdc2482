"""Formatting shared by the desk pages: dates dd/mm/yyyy, times in Asia/Ho_Chi_Minh, names, who and when."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import ngettext, pgettext

# The desk's search box reads a phone number the way the patient search does (one rule).
from health_f0.patients.selectors import search_phone  # noqa: F401


def fmt_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def fmt_datetime(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%H:%M %d/%m/%Y") if value else "—"


def fmt_born(born: date) -> str:
    """'05/03/1990 (31 tuổi)'."""
    return f"{fmt_date(born)} ({age_years(born)} {pgettext('after a number of years', 'tuổi')})"


def name_html(name: str) -> SafeString:
    """A person's name in a desk list: bold, never wrapped."""
    return format_html('<span class="font-semibold whitespace-nowrap">{}</span>', name)


def fmt_user(user: Any, nobody: str = "") -> str:
    """A staff member's login name; `nobody` when no one did it (an automatic step, the patient...)."""
    return str(user.get_username()) if user else nobody


def fmt_when_who(when: datetime | None, who: Any, *, sep: str = " ", nobody: str = "") -> str:
    """A "when + who" column ('14:05 20/11/2021 hoa.nt'): "—" when it has not happened; the time alone when
    no one did it and `nobody` is empty."""
    if not when:
        return "—"
    return sep.join(part for part in (fmt_datetime(when), fmt_user(who, nobody)) if part)


def duration_label(delta: timedelta) -> str:
    """'2 giờ 15 phút', '3 ngày 4 giờ', '5 phút'."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 60 * 24)
    hours, mins = divmod(rest, 60)
    day_text = ngettext("%(n)s ngày", "%(n)s ngày", days) % {"n": days}
    hour_text = ngettext("%(n)s giờ", "%(n)s giờ", hours) % {"n": hours}
    if days:
        return f"{day_text} {hour_text}" if hours else day_text
    if hours:
        return (
            f"{hour_text} {ngettext('%(n)s phút', '%(n)s phút', mins) % {'n': mins}}" if mins else hour_text
        )
    return ngettext("%(n)s phút", "%(n)s phút", mins) % {"n": mins}


def age_years(born: date, on: date | None = None) -> int:
    on = on or timezone.localdate()
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def badge(text: Any, kind: str | None) -> SafeString:
    """Unfold's coloured label ("success", "warning", "danger", "info" or None for grey)."""
    return SafeString(render_to_string("unfold/helpers/label.html", {"text": text, "type": kind}).strip())
