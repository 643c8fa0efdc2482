"""http_date for instants within the current second, formatted once per second (issue 11)."""

from __future__ import annotations

from django.utils.http import http_date

# datetime's fromtimestamp rounds to the microsecond, so only the last half microsecond of a second may carry its
# text into the next second's: instants from this fraction of their second on are formatted each time.
_CARRY = 0.999999


class SecondDates:
    """http_date(t), the text kept for the last second asked (one entry: the callers ask about now, or now plus
    a constant)."""

    __slots__ = ("kept",)

    def __init__(self) -> None:
        self.kept: tuple[int, str] = (-1, "")

    def __call__(self, t: float) -> str:
        second = int(t)
        if t - second >= _CARRY or t < 0:
            return http_date(t)
        kept = self.kept
        if kept[0] == second:
            return kept[1]
        text = http_date(t)
        self.kept = (second, text)
        return text
