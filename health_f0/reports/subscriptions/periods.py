"""Which days a period covers, and when it is due, in local time (Asia/Ho_Chi_Minh, settings.TIME_ZONE).

A subscription always sends the last COMPLETE period before today (local):

- daily: yesterday;
- weekly: last week, Monday to Sunday;
- monthly: last calendar month.

A period is due from its first following day at the subscription's send time (yesterday's figures at 07:00
this morning; last week's on Monday at 07:00; last month's on the 1st at 07:00). A worker that was down at
that time sends it when it is back, as long as the period is still the last complete one.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from health_f0.reports.subscriptions.models import Period


def last_period(period: str, today: date) -> tuple[date, date]:
    """(first day, last day) of the last complete period before `today`."""
    if period == Period.DAILY:
        day = today - timedelta(days=1)
        return day, day
    if period == Period.WEEKLY:
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if period == Period.MONTHLY:
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    raise ValueError(period)


def due_at(period_end: date, send_time: time) -> datetime:
    """When the period ending `period_end` is due: the next day at `send_time`, local time (aware)."""
    return timezone.make_aware(datetime.combine(period_end + timedelta(days=1), send_time))


def due_period(period: str, send_time: time, now: datetime) -> tuple[date, date, datetime]:
    """The last complete period at `now` and when it is (or was) due."""
    start, end = last_period(period, timezone.localtime(now).date())
    return start, end, due_at(end, send_time)


def next_due(period: str, send_time: time, now: datetime) -> tuple[date, date, datetime]:
    """The next scheduled sending after `now`: its period and its time (the desk's "next e-mail")."""
    probe = now
    for _ in range(62):
        start, end, due = due_period(period, send_time, probe)
        if due > now:
            return start, end, due
        probe += timedelta(days=1)
    raise ValueError(period)
