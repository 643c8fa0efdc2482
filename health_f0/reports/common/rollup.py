"""The one roll-up every report family uses: the user's report scope, the days of the range in local time,
members (stations, clinic services) grouped under their TTYT and Sở Y tế, figures summed per group and day,
and the median recomputed over each group's own rows (a median of medians is not a median).

A family's selectors give the figures per (member, day) and say how to compute a median; the functions here
keep the number of queries independent of the number of members and days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar, cast

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind

TTYT = "ttyt"
PROVINCE = "province"
ALL = "all"  # the whole scope: every member in group 0 (the charts' series and the period's figures)

FigureT = TypeVar("FigureT")
Key = tuple[int, date]


# --- Scope ------------------------------------------------------------------------------------


def scope_facilities(
    user: Any,
    roles: frozenset[str],
    cache_name: str,
    *,
    kinds: Iterable[str] | None = None,
    fields: tuple[str, ...] = ("id", "code", "name", "kind", "path"),
) -> list[Facility]:
    """Facilities where `user` holds one of `roles` and everything under them (facilities.access), in tree
    order, optionally only of `kinds`; read once per user object (cached on it under `cache_name`)."""
    cache = user.__dict__.setdefault(cache_name, {})
    if "all" not in cache:
        ids = access.visible_facility_ids(user, roles)
        facilities = Facility.objects.filter(id__in=ids)
        if kinds is not None:
            facilities = facilities.filter(kind__in=kinds)
        cache["all"] = list(facilities.only(*fields).order_by("path")) if ids else []
    result: list[Facility] = cache["all"]
    return result


def pick_root(facilities: list[Facility], facility_id: int | None) -> Facility | None:
    """The facility asked for (LookupError when it is not among `facilities`: missing and out of scope look
    the same), else the single top facility of `facilities`, else None (several disjoint tops: the report
    covers them all)."""
    if facility_id is not None:
        for facility in facilities:
            if facility.pk == facility_id:
                return facility
        raise LookupError(facility_id)
    tops = [f for f in facilities if not any(o is not f and f.path.startswith(o.path) for o in facilities)]
    return tops[0] if len(tops) == 1 else None


def in_root(facilities: Iterable[Facility], root: Facility | None) -> dict[int, Facility]:
    """The facilities under `root` (all of them when None), by key."""
    return {f.pk: f for f in facilities if root is None or f.path.startswith(root.path)}


# --- Days -------------------------------------------------------------------------------------


def days_between(date_from: date, date_to: date) -> list[date]:
    """Every day of [date_from, date_to]; ValueError when the range is reversed."""
    if date_to < date_from:
        raise ValueError("date_to before date_from")
    return [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]


def bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The range as aware datetimes: from local midnight of date_from to local midnight after date_to."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(date_from, time.min), tz)
    end = timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min), tz)
    return start, end


def local_day(field_name: str, at: datetime) -> Any:
    """SQL for the local calendar day of a stored (UTC) datetime.

    The zone's offset at the start of the range is added in SQL, then the date taken in UTC: this needs no
    time-zone tables in MariaDB (CONVERT_TZ with named zones returns NULL without them). Vietnam has kept
    UTC+7 without daylight saving since 1975; elsewhere days next to a DST change may shift by an hour.
    """
    offset = at.utcoffset() or timedelta(0)
    shifted = ExpressionWrapper(
        F(field_name) + Value(offset, output_field=DurationField()), output_field=DateTimeField()
    )
    return TruncDate(shifted, tzinfo=UTC)


def as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def as_timedelta(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return timedelta(microseconds=int(value))


# --- Rows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A row label: a member (a station; a clinic service, with its room as `place`), a TTYT or a Sở Y tế."""

    id: int
    code: str
    name: str
    level: str
    place: str = ""

    @classmethod
    def of(cls, facility: Facility, level: str) -> Unit:
        return cls(id=facility.pk, code=facility.code, name=facility.name, level=level)


@dataclass(frozen=True)
class Row(Generic[FigureT]):
    unit: Unit
    day: date
    figures: FigureT


def level_rows(
    table: Mapping[Key, FigureT], units: Iterable[Unit], days: Iterable[date], empty: Callable[[], FigureT]
) -> list[Row[FigureT]]:
    """One level's rows, unit by unit, day by day (`empty()` where the unit had nothing that day)."""
    days = list(days)
    return [
        Row(unit=unit, day=day, figures=table[(unit.id, day)] if (unit.id, day) in table else empty())
        for unit in units
        for day in days
    ]


def add_counts(left: FigureT, right: FigureT, *, median_field: str) -> FigureT:
    """Two figures' counts summed, field by field; the median (`median_field`) is not additive and is left
    for the caller to set (`roll_up`)."""
    names = [f.name for f in fields(cast(Any, left)) if f.name != median_field]
    return type(left)(**{name: getattr(left, name) + getattr(right, name) for name in names})


# --- Roll-up ----------------------------------------------------------------------------------


def groups_by_level(
    facility_of: Mapping[int, int], in_scope: Mapping[int, Facility]
) -> dict[str, dict[int, int]]:
    """Each member (key of `facility_of`, its value the member's facility) to its TTYT (health centre or
    hospital) and its Sở Y tế when those are in scope, and to the whole scope (group 0 under ALL). A member
    directly under the Sở has no TTYT."""
    groups: dict[str, dict[int, int]] = {TTYT: {}, PROVINCE: {}, ALL: {}}
    for member, facility_pk in facility_of.items():
        groups[ALL][member] = 0
        for part in in_scope[facility_pk].path.strip("/").split("/"):
            ancestor = in_scope.get(int(part)) if part else None
            if ancestor is None:
                continue
            if ancestor.kind in (FacilityKind.HEALTH_CENTRE, FacilityKind.HOSPITAL):
                groups[TTYT].setdefault(member, ancestor.pk)
            elif ancestor.kind == FacilityKind.DEPARTMENT_OF_HEALTH:
                groups[PROVINCE].setdefault(member, ancestor.pk)
    return groups


def group_units(group_of: Mapping[int, int], in_scope: Mapping[int, Facility]) -> list[Facility]:
    """The groups' facilities, in tree order."""
    return [in_scope[pk] for pk in sorted(set(group_of.values()), key=lambda pk: in_scope[pk].path)]


def roll_up(
    figures: Mapping[Key, FigureT],
    group_of: Mapping[int, int],
    *,
    empty: Callable[[], FigureT],
    median_field: str,
    medians: Callable[[Mapping[int, int]], Mapping[Key, float]],
) -> dict[Key, FigureT]:
    """Sum the members' figures per (group, day) (figures add with `+`); the group's `median_field` comes
    from `medians(group_of)`, computed over the group's own rows (one query)."""
    if not group_of:
        return {}
    table: dict[Key, Any] = {}
    for (member, day), value in figures.items():
        group = group_of.get(member)
        if group is not None:
            table[(group, day)] = table.get((group, day), empty()) + value
    by_key = medians(group_of)
    return {key: replace(value, **{median_field: by_key.get(key)}) for key, value in table.items()}


@dataclass
class Levels(Generic[FigureT]):
    """A family's members rolled up: the TTYT and Sở Y tế units in scope (tree order), their figures per
    (unit, day), the whole scope's figures per day, and the member -> group maps (by level, and ALL)."""

    units: dict[str, list[Facility]]
    figures: dict[str, dict[Key, FigureT]]
    totals: dict[date, FigureT]
    groups: dict[str, dict[int, int]]

    def labels(self, level: str) -> list[Unit]:
        """The row labels of a roll-up level (TTYT or PROVINCE), in tree order."""
        return [Unit.of(facility, level) for facility in self.units[level]]


def roll_up_levels(
    figures: Mapping[Key, FigureT],
    facility_of: Mapping[int, int],
    in_scope: Mapping[int, Facility],
    *,
    empty: Callable[[], FigureT],
    median_field: str,
    medians: Callable[[Mapping[int, int]], Mapping[Key, float]],
) -> Levels[FigureT]:
    """`figures` per (member, day) summed per TTYT, per Sở Y tế and over the whole scope, each with its own
    median (`roll_up`): one median query per level that has units."""
    groups = groups_by_level(facility_of, in_scope)
    levels: Levels[FigureT] = Levels(units={}, figures={}, totals={}, groups=groups)
    for level in (TTYT, PROVINCE):
        levels.units[level] = group_units(groups[level], in_scope)
        levels.figures[level] = roll_up(
            figures, groups[level], empty=empty, median_field=median_field, medians=medians
        )
    everything = roll_up(figures, groups[ALL], empty=empty, median_field=median_field, medians=medians)
    levels.totals = {day: value for (_, day), value in everything.items()}
    return levels


def total(values: Iterable[FigureT], empty: FigureT) -> FigureT:
    """The sum of figures (counts only: a median is not additive)."""
    result: Any = empty
    for value in values:
        result = result + value
    return result


def median_minutes(
    rows: QuerySet[Any],
    *,
    member_field: str,
    group_of: Mapping[int, int],
    since: str,
    until: str,
    day: Any,
    fixed_day: date | None = None,
) -> dict[Key, float]:
    """Median minutes from `since` to `until` of `rows` per (group, `day`) — or per group over the whole
    range, keyed by `fixed_day`, when `fixed_day` is given — in one query.

    `rows` is already narrowed to the range and the rows that count; `member_field` names the member column
    and `group_of` maps member -> group. The database numbers each partition's rows by the time waited and
    returns only the middle one or two, so the rows read do not grow with the number of rows.
    """
    if not group_of:
        return {}
    by_group: dict[int, list[int]] = defaultdict(list)
    for member, group_id in group_of.items():
        by_group[group_id].append(member)
    group = Case(
        *(When(**{f"{member_field}__in": ids}, then=Value(gid)) for gid, ids in by_group.items()),
        output_field=IntegerField(),
    )
    waited = ExpressionWrapper(F(until) - F(since), output_field=DurationField())
    partition = [F("grp"), F("day")] if fixed_day is None else [F("grp")]
    middle = (
        rows.filter(**{f"{member_field}__in": list(group_of)})
        .annotate(grp=group, day=day, waited=waited)
        .annotate(
            rank=Window(RowNumber(), partition_by=partition, order_by=[F("waited").asc(), F("id").asc()]),
            size=Window(Count("id"), partition_by=partition),
        )
        # The middle row (odd size) or the two middle rows (even size): size <= 2*rank <= size + 2.
        .annotate(twice=F("rank") * 2)
        .filter(twice__gte=F("size"), twice__lte=F("size") + 2)
        .values_list("grp", "day", "waited")
    )
    middles: dict[Key, list[timedelta]] = defaultdict(list)
    for gid, row_day, waited_for in middle:
        key_day = as_date(row_day) if fixed_day is None else fixed_day
        middles[(gid, key_day)].append(as_timedelta(waited_for))
    return {
        key: round(sum(values, timedelta()).total_seconds() / 60 / len(values), 1)
        for key, values in middles.items()
    }
