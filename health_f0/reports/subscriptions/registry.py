"""The reports one may subscribe to, and the sections of the morning report ("Báo cáo sáng").

A report family plugs in with one line in `families.py`:

    register(ReportEntry(key="payments", label=..., build=..., facilities=..., summarize=..., xlsx=...,
                         filename=..., page=...))

Every entry builds its report with the family's own selector, called AS THE SUBSCRIPTION'S OWNER with the
subscription's facility: the scope, the figures and the refusals (PermissionDenied, LookupError) are exactly
the report page's. Nothing here computes a figure; `summarize` only picks and formats what the selector
returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from health_f0.facilities.models import Facility


@dataclass(frozen=True)
class Figure:
    """One headline figure of a summary: "Tỷ lệ liên kết tài khoản — 82,0 % (mục tiêu ≥ 80 %)"."""

    label: str
    value: str
    note: str = ""
    flag: str = ""  # "good", "bad" or "" (no judgement)


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class ReportEntry:
    key: str
    label: Any  # lazy text: the report's name in the desk and the e-mail's subject
    # (user=, date_from=, date_to=, facility_id=) -> the family's report; raises PermissionDenied when the user
    # may not see the family, LookupError when the facility is not in their scope (the page's own rules).
    build: Callable[..., Any]
    # The facilities the user may subscribe this report for (the report page's facility filter).
    facilities: Callable[[Any], list[Facility]]
    summarize: Callable[[Any], list[Section]]
    # The family's workbook of a built report (bytes); None: a workbook of the summary's sections.
    xlsx: Callable[[Any], bytes] | None
    filename: Callable[[date, date], str]  # "<prefix>-ddmmyyyy-ddmmyyyy.xlsx"
    page: str = ""  # the report page's URL name ("reports:…"), linked from the e-mail; "" for none


REPORTS: dict[str, ReportEntry] = {}

# Sections of the morning report, in order: (user=, date_from=, date_to=, facility_id=) -> a Section, or None
# when it does not apply (the owner does not see that family, or there is nothing to say, e.g. no home care).
MorningSection = Callable[..., Section | None]
MORNING_SECTIONS: list[MorningSection] = []


def register(entry: ReportEntry) -> ReportEntry:
    REPORTS[entry.key] = entry
    return entry


def register_morning_section(section: MorningSection) -> MorningSection:
    if section not in MORNING_SECTIONS:
        MORNING_SECTIONS.append(section)
    return section


def entry_for(key: str) -> ReportEntry:
    """The registered report `key` (KeyError when none)."""
    from health_f0.reports.subscriptions import families  # noqa: F401  (registers the entries)

    return REPORTS[key]


def report_choices() -> list[tuple[str, Any]]:
    from health_f0.reports.subscriptions import families  # noqa: F401

    return [(key, entry.label) for key, entry in REPORTS.items()]
