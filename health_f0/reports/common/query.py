"""Parse and check a report's query string (?from=dd/mm/yyyy&to=dd/mm/yyyy&facility=<id>): the same for
every report family."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class ReportQuery:
    date_from: date
    date_to: date
    facility_id: int | None


class ReportQueryError(ValueError):
    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def parse_day(text: str) -> date:
    """dd/mm/yyyy (also d/m/yyyy) -> date; ValueError otherwise."""
    parts = (text or "").strip().split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or len(parts[2]) != 4:
        raise ValueError(text)
    return date(int(parts[2]), int(parts[1]), int(parts[0]))


def default_range(today: date | None = None, days: int = 14) -> tuple[date, date]:
    """The last `days` days, today included."""
    today = today or timezone.localdate()
    return today - timedelta(days=days - 1), today


def parse_report_query(params: Any, *, today: date | None = None) -> ReportQuery:
    """Dates default to the last 14 days. Raises ReportQueryError with Vietnamese messages."""
    today = today or timezone.localdate()
    default_from, default_to = default_range(today)
    errors: list[str] = []

    def day(name: str, default: date, label: str) -> date | None:
        raw = (params.get(name) or "").strip()
        if not raw:
            return default
        try:
            return parse_day(raw)
        except ValueError:
            errors.append(
                _("%(label)s “%(value)s” không hợp lệ: nhập ngày theo dạng dd/mm/yyyy, ví dụ 05/11/2026.")
                % {"label": label, "value": raw[:20]}
            )
            return None

    date_from = day("from", default_from, _("Từ ngày"))
    date_to = day("to", default_to, _("Đến ngày"))
    facility_id: int | None = None
    raw_facility = (params.get("facility") or "").strip()
    if raw_facility:
        if raw_facility.isdigit() and len(raw_facility) < 12:
            facility_id = int(raw_facility)
        else:
            errors.append(_("Không tìm thấy cơ sở trong phạm vi bạn được xem báo cáo."))
    if date_from and date_to:
        if date_from > date_to:
            errors.append(_("“Từ ngày” phải trước hoặc trùng “Đến ngày”."))
        elif (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
            errors.append(
                _("Khoảng thời gian dài nhất là %(days)s ngày; vui lòng chọn khoảng ngắn hơn.")
                % {"days": MAX_RANGE_DAYS}
            )
        if date_to > today:
            errors.append(
                _("“Đến ngày” không được sau hôm nay (%(today)s).") % {"today": f"{today:%d/%m/%Y}"}
            )
        if date_from < date(2000, 1, 1):
            errors.append(_("“Từ ngày” quá xa trong quá khứ."))
    if errors or date_from is None or date_to is None:
        raise ReportQueryError(errors)
    return ReportQuery(date_from=date_from, date_to=date_to, facility_id=facility_id)


def range_days(query: ReportQuery) -> int:
    return (query.date_to - query.date_from + timedelta(days=1)).days
