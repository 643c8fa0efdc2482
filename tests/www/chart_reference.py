"""The readable form of the history page's charts' table, which www.charts.table_body writes in one pass (issue
11): each reading's values as Django's `{{ value }}` showed them (table_rows), then escaped one by one into the
table's rows as history.html's loop drew them (table_markup). Kept here, as the reference the tests compare
table_body with, and test that it shows numbers and times as Django did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from django.utils import formats, timezone
from markupsafe import Markup

from health_f0.www.charts import _minute_with_year, local_isos
from health_f0.www.jinja import ESCAPES
from health_f0.www.selectors import ChartReading


class TableRow(NamedTuple):
    """One line of the charts' table: the local time ("24/11/2026 07:05") and the temperature as text in
    the page's language ("36,8" / "36.8")."""

    when: str
    spo2: int | None
    temperature: str | None


def table_rows(readings: Sequence[ChartReading], local: Sequence[str] | None = None) -> list[TableRow]:
    """The readings as Django's `{{ value }}` showed them: a decimal with the language's separator
    (django.utils.formats.localize; the portal never groups thousands, and a temperature has none). The
    separator and the time zone are looked up once, not per row; `local`: the readings' local ISO texts
    (local_isos), when the caller has them."""
    separator = formats.get_format("DECIMAL_SEPARATOR")
    zone = timezone.get_current_timezone()
    if local is None:
        local = local_isos(r.submitted_at for r in readings)
    return [
        TableRow(
            _minute_with_year(iso, r.submitted_at, zone),
            r.spo2,
            None if r.temperature is None else f"{r.temperature:f}".replace(".", separator),
        )
        for r, iso in zip(readings, local, strict=True)
    ]


def table_markup(rows: Sequence[TableRow]) -> Markup:
    """The table's body rows, as history.html's loop drew them (three values a row, each escaped there one
    by one: issue 11)."""
    return Markup(  # noqa: S704 - every value is escaped
        "".join(
            [
                f'<tr><th scope="row">{r.when.translate(ESCAPES)}</th>'
                f"<td>{'—' if r.spo2 is None else f'{str(r.spo2).translate(ESCAPES)}%'}</td>"
                f"<td>{'—' if r.temperature is None else f'{r.temperature.translate(ESCAPES)} °C'}</td></tr>"
                for r in rows
            ]
        )
    )
