"""Reads for the station's monitoring board, the silent list and the patient's history.

Every query is bounded by one station (an indexed facility id) and today's date; none scans the
province's declarations, so time and query count do not grow with the province's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Case, Count, IntegerField, Max, Min, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from health_f0.core.exceptions import NotFound, PermissionDenied
from health_f0.core.rawsql import fetch_models
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.monitoring.models import (
    LEVEL_RANK,
    Alert,
    AlertLevel,
    Declaration,
    Episode,
    EpisodeStatus,
    GuidanceDocument,
    ReminderLog,
)


@dataclass(frozen=True)
class BoardFilters:
    ward_code: int | None = None
    alert_level: str | None = None
    day_of_episode: int | None = None
    age_min: int | None = None
    age_max: int | None = None


@dataclass(frozen=True)
class BoardSummary:
    active: int
    declared: int
    silent: int
    late: int
    open_alerts: dict[str, int]


def episodes_for(user: Any) -> QuerySet[Episode]:
    return access.episodes_for(user)


def board_summary(*, user: Any, facility: Facility, today: date) -> BoardSummary:
    """Counts for one station today: 3 indexed queries whatever the data size."""
    episodes = episodes_for(user).filter(facility=facility, status=EpisodeStatus.ACTIVE)
    counts = episodes.aggregate(
        active=Count("id"),
        declared=Count("id", filter=Q(last_declared_on=today)),
    )
    late = (
        Declaration.objects.filter(
            episode__facility=facility, episode__status=EpisodeStatus.ACTIVE, local_date=today, late=True
        )
        .values("episode_id")
        .distinct()
        .count()
        if counts["active"]
        else 0
    )
    alerts = (
        dict(
            Alert.objects.filter(
                facility=facility, acknowledged_at__isnull=True, episode__status=EpisodeStatus.ACTIVE
            )
            .values_list("level")
            .annotate(n=Count("id"))
            .values_list("level", "n")
        )
        if access.can_act_at(user, facility, access.ALL_STAFF_ROLES)
        else {}
    )
    return BoardSummary(
        active=counts["active"],
        declared=counts["declared"],
        silent=counts["active"] - counts["declared"],
        late=late,
        open_alerts={level: alerts.get(level, 0) for level in ("emergency", "urgent", "watch")},
    )


def board_episodes(
    *, user: Any, facility: Facility, today: date, filters: BoardFilters | None = None
) -> QuerySet[Episode]:
    """Active episodes of one station, most worrying first: highest alert, then silent, then name."""
    f = filters or BoardFilters()
    qs = episodes_for(user).filter(facility=facility, status=EpisodeStatus.ACTIVE).select_related("patient")
    if f.ward_code:
        qs = qs.filter(patient__ward_code=f.ward_code)
    if f.alert_level:
        qs = qs.filter(last_alert_level=f.alert_level)
        if f.alert_level == AlertLevel.NONE:
            qs = qs.exclude(last_declared_on__isnull=True)  # never declared is not "normal"
    if f.day_of_episode:
        # Day 1 is the positive test (rules.isolation_start: the start when the positive date is unknown).
        qs = qs.alias(day_one=ISOLATION_START).filter(day_one=today - timedelta(days=f.day_of_episode - 1))
    if f.age_min is not None:
        qs = qs.filter(patient__date_of_birth__lte=_years_before(today, f.age_min))
    if f.age_max is not None:
        qs = qs.filter(patient__date_of_birth__gt=_years_before(today, f.age_max + 1))
    severity = Case(
        *(When(last_alert_level=level, then=Value(rank)) for level, rank in LEVEL_RANK.items()),
        default=Value(0),
        output_field=IntegerField(),
    )
    return qs.annotate(severity=severity).order_by("-severity", "last_declared_on", "patient__full_name")


def silent_episodes(*, user: Any, facility: Facility, today: date) -> QuerySet[Episode]:
    """Active episodes of one station with no declaration today (never declared first)."""
    return (
        episodes_for(user)
        .filter(facility=facility, status=EpisodeStatus.ACTIVE)
        .filter(Q(last_declared_on__lt=today) | Q(last_declared_on__isnull=True))
        .select_related("patient")
        .order_by("last_declared_on", "patient__full_name")
    )


def open_alerts(*, user: Any, facility: Facility) -> QuerySet[Alert]:
    """Unacknowledged alerts of one station's active episodes, most severe and oldest first (an ended
    episode's alerts are closed with it; one left open by a race never shows)."""
    return (
        _open_alerts_of(user, facility)
        .select_related("episode__patient", "declaration")
        .annotate(severity=_severity())
        .order_by("-severity", "created_at", "id")
    )


def _open_alerts_of(user: Any, facility: Facility) -> QuerySet[Alert]:
    return access.scope_by_facility(Alert.objects.all(), user, field="facility").filter(
        facility=facility, acknowledged_at__isnull=True, episode__status=EpisodeStatus.ACTIVE
    )


@dataclass(frozen=True)
class AlertGroup:
    """The open alerts of one patient, newest first: the board shows one card per patient."""

    episode: Episode
    alerts: list[Alert]
    level: str  # the most severe of them
    oldest: Any  # datetime of the longest-waiting one

    @property
    def count(self) -> int:
        return len(self.alerts)

    @property
    def newest(self) -> Alert:
        return self.alerts[0]


def open_alert_groups(*, user: Any, facility: Facility, limit: int) -> tuple[list[AlertGroup], int]:
    """One station's open alerts grouped per patient: the `limit` most worrying patients (most severe open
    alert first, then the longest waiting), each with all their open alerts newest first; and how many
    patients have open alerts. Three queries whatever the number of alerts."""
    base = _open_alerts_of(user, facility)
    ranked = list(
        base.values("episode_id")
        .annotate(top=Max(_severity()), oldest=Min("created_at"))
        .order_by("-top", "oldest", "episode_id")[:limit]
    )
    total = base.values("episode_id").distinct().count() if len(ranked) == limit else len(ranked)
    by_episode: dict[int, list[Alert]] = {row["episode_id"]: [] for row in ranked}
    alerts = base.filter(episode_id__in=list(by_episode)).select_related("episode__patient", "declaration")
    for alert in alerts.order_by("-created_at", "-id"):
        by_episode[alert.episode_id].append(alert)
    rank_level = {rank: level for level, rank in LEVEL_RANK.items()}
    groups = [
        AlertGroup(
            episode=by_episode[row["episode_id"]][0].episode,
            alerts=by_episode[row["episode_id"]],
            level=str(rank_level.get(row["top"], AlertLevel.WATCH)),
            oldest=row["oldest"],
        )
        for row in ranked
        if by_episode[row["episode_id"]]
    ]
    return groups, total


def episode_open_alerts(*, user: Any, episode_id: Any) -> list[Alert]:
    """The open alerts of one episode the user may see, oldest first (the completion dialog lists them)."""
    return list(
        access.scope_by_facility(Alert.objects.all(), user, field="facility")
        .filter(episode_id=episode_id, acknowledged_at__isnull=True)
        .order_by("created_at", "id")
    )


# Day 1 of an episode's isolation, in SQL (rules.isolation_start).
ISOLATION_START = Coalesce("positive_date", "start_date")


def _severity() -> Case:
    """An alert's level as its rank (emergency 3 … none 0), for ordering the most severe first."""
    return Case(
        *(When(level=level, then=Value(rank)) for level, rank in LEVEL_RANK.items()),
        default=Value(0),
        output_field=IntegerField(),
    )


def patient_declarations(*, patient_ids: list[int]) -> QuerySet[Declaration]:
    return Declaration.objects.filter(patient_id__in=patient_ids).order_by("-submitted_at")


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def reminders_today(
    *,
    user: Any,
    facility: Facility,
    today: date,
    kind: str,
    episode_ids: list[int] | None = None,
    roles: frozenset[str] | None = None,
) -> QuerySet[ReminderLog]:
    """One station's reminder rows of one kind for today (the call list, the escalations), optionally
    only for some episodes (the page being shown)."""
    qs = access.scope_by_facility(
        ReminderLog.objects.all(), user, field="episode__facility", roles=roles
    ).filter(episode__facility=facility, local_date=today, kind=kind)
    if episode_ids is not None:
        qs = qs.filter(episode_id__in=episode_ids)
    return qs.select_related("episode__patient", "called_by").order_by("episode__patient__full_name", "id")


# --- Reads behind the mobile API (patient side: access.own_patients_for; staff side: access.alerts_for). ---


def declaring_patient(*, user: Any, public_id: Any = None) -> Any:
    """The patient an account declares for or reads the history of: the given family member, by default
    its own record. One query. Staff accounts get PermissionDenied (they use the desk); any other id,
    missing or another family's, NotFound.

    The rule is access.own_patients_for's (own record, or a family member with an account whose verified
    phone is the account's verified phone; none for staff or superusers; the family condition comes from
    access.own_or_family_sql), written as one constant SQL statement: building
    the same ORM query took about a third of a declaration's CPU at the morning peak (bench/declarations.sh).
    tests/api/test_declaration_hot_path.py checks both agree for every kind of account."""
    from django.db import connections, router

    from health_f0.patients.models import Patient

    rows: list[Any] = []
    if getattr(user, "is_authenticated", False) and not user.is_superuser:
        meta = Patient._meta
        account = meta.get_field("account").column
        where, params = f"{account} = %s", [user.pk]
        if public_id is not None:
            field = meta.get_field("public_id")
            connection = connections[router.db_for_read(Patient)]
            try:
                key = field.get_db_prep_value(field.to_python(public_id), connection)
            except (ValueError, TypeError, DjangoValidationError):
                key = None  # malformed: no such patient
            where, params = access.own_or_family_sql(user)
            where = f"{field.column} = %s AND {where}"
            params.insert(0, key)
        if params[0] is not None:
            sql = f"SELECT * FROM {meta.db_table} WHERE {where} AND {access._NOT_STAFF_SQL} LIMIT 2"  # noqa: S608
            rows = fetch_models(Patient, sql, [*params, user.pk])
    if len(rows) == 1:
        return rows[0]
    if access.is_staff_member(user):
        raise PermissionDenied(_("Chức năng này dành cho người bệnh; nhân viên y tế dùng bàn làm việc."))
    raise NotFound(_("Không tìm thấy người bệnh."))


def declaration_deadline_for(*, user: Any) -> time:
    """The daily deadline the caller works to: its own patient's province, else (staff) the province of
    its first facility, else the default."""
    from health_f0.monitoring.services import DEFAULT_POLICY, policy_for

    own = access.own_patients_for(user).filter(account=user)
    province = own.values_list("province_code", flat=True).first()
    if province is None:
        facilities = access.facilities_for(user).order_by("path")
        province = facilities.values_list("province_code", flat=True).first()
    deadline: time = policy_for(province).deadline if province is not None else DEFAULT_POLICY.deadline
    return deadline


def own_episodes(*, user: Any) -> QuerySet[Episode]:
    """The episodes of the account's own and family patients, newest first."""
    return (
        Episode.objects.filter(patient__in=access.own_patients_for(user))
        .select_related("patient", "facility")
        .order_by("-start_date", "-id")
    )


def own_episode(*, user: Any, public_id: Any) -> Episode:
    episode: Episode = access.get_scoped_or_404(own_episodes(user=user), public_id=public_id)
    return episode


def published_guidance() -> QuerySet[GuidanceDocument]:
    return GuidanceDocument.objects.filter(is_published=True).order_by("order", "title")


def alert_list(*, user: Any, facility: Any = None, level: str | None = None) -> QuerySet[Alert]:
    """Open alerts the staff member watches over, most severe and then oldest first; `facility` (a public
    id) narrows them to that facility and everything under it (a TTYT: all its stations)."""
    qs = access.alerts_for(user).filter(acknowledged_at__isnull=True, episode__status=EpisodeStatus.ACTIVE)
    if facility is not None:
        path = Facility.objects.filter(public_id=facility).values_list("path", flat=True).first()
        if path is None:
            return qs.none()
        qs = qs.filter(facility__path__startswith=path)
    if level:
        qs = qs.filter(level=level)
    severity = Case(
        *(When(level=lvl, then=Value(rank)) for lvl, rank in LEVEL_RANK.items()),
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        qs.select_related("facility", "episode__patient", "declaration", "acknowledged_by")
        .annotate(severity=severity)
        .order_by("-severity", "created_at", "id")
    )


def alert_get(*, user: Any, public_id: Any) -> Alert:
    """One alert in the staff member's scope, by its declaration's public id (an alert has no id of its
    own in the API); another station's alert reads as missing."""
    queryset = access.alerts_for(user).select_related(
        "facility", "episode__patient", "declaration", "acknowledged_by"
    )
    try:
        alert: Alert = access.get_scoped_or_404(queryset, declaration__public_id=public_id)
    except NotFound:
        raise NotFound(_("Không tìm thấy cảnh báo."))
    return alert
