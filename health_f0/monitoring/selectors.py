"""Reads of home-care monitoring: the station's board, the silent list and the alerts (staff, scoped by
facilities.access), and the patient's side — the current episode, today's declaration status, the history
with its labelled answers, the guidance (the portal and the API read them here).

Every query is bounded by one station (an indexed facility id) and today's date; none scans the
province's declarations, so time and query count do not grow with the province's size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.db.models import Case, Count, IntegerField, Max, Min, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.exceptions import NotFound, PermissionDenied
from health_f0.core.idpages import SlicePages
from health_f0.core.memo import Memo
from health_f0.core.sqllist import SqlList
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
    Question,
    QuestionType,
    ReminderLog,
)
from health_f0.monitoring.sql import alerts as alerts_sql
from health_f0.monitoring.sql import declarations as declaration_sql
from health_f0.monitoring.sql import episodes as episodes_sql


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
    return _board_filtered(user=user, facility=facility, today=today, filters=filters).order_by(*BOARD_ORDER)


def board_pages(
    *, user: Any, facility: Facility, today: date, filters: BoardFilters | None = None
) -> TieGroupPages:
    """board_episodes for a Paginator: a page reads only the (alert level, last declaration) groups it
    overlaps, not every active episode of the station (TieGroupPages)."""
    return TieGroupPages(
        _board_filtered(user=user, facility=facility, today=today, filters=filters),
        order_by=BOARD_ORDER,
        group_by=("last_alert_level", "last_declared_on"),
        group_order=lambda key: (-LEVEL_RANK.get(key[0], 0), *_date_first_null(key[1])),
    )


def _board_filtered(
    *, user: Any, facility: Facility, today: date, filters: BoardFilters | None
) -> QuerySet[Episode]:
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
    return qs.alias(severity=severity)


# The board's order; the id makes it total, so a page boundary inside a tie is the same on every request.
BOARD_ORDER = ("-severity", "last_declared_on", "patient__full_name", "pk")
SILENT_ORDER = ("last_declared_on", "patient__full_name", "pk")


def silent_episodes(*, user: Any, facility: Facility, today: date) -> QuerySet[Episode]:
    """Active episodes of one station with no declaration today (never declared first)."""
    return _silent_filtered(user=user, facility=facility, today=today).order_by(*SILENT_ORDER)


def silent_pages(*, user: Any, facility: Facility, today: date) -> TieGroupPages:
    """silent_episodes for a Paginator: a page reads only the last-declaration days it overlaps."""
    return TieGroupPages(
        _silent_filtered(user=user, facility=facility, today=today),
        order_by=SILENT_ORDER,
        group_by=("last_declared_on",),
        group_order=lambda key: _date_first_null(key[0]),
    )


def _silent_filtered(*, user: Any, facility: Facility, today: date) -> QuerySet[Episode]:
    return (
        episodes_for(user)
        .filter(facility=facility, status=EpisodeStatus.ACTIVE)
        .filter(Q(last_declared_on__lt=today) | Q(last_declared_on__isnull=True))
        .select_related("patient")
    )


def _date_first_null(day: date | None) -> tuple[bool, date]:
    """A date's place in an ascending ORDER BY on MariaDB and SQLite: NULL first."""
    return (day is not None, day or date.min)


class TieGroupPages(SlicePages[Episode]):
    """The rows of `rows` in the order `order_by`, a page at a time, for a Paginator (its object_list).

    The order's leading fields (`group_by`: the board's alert level and last declaration day) are the columns
    of an index after the station and status, so one index-only GROUP BY counts each tie group; a page then
    reads and sorts only the tie groups it overlaps. Ordering the whole list instead sorts every active
    episode of the station with its patient (the patient's name breaks the ties) in a temporary table, on
    every page. `group_order` gives a group's values the place `order_by` gives their rows. Two queries a
    page (the group counts stand for the paginator's COUNT), whatever the station's size; a page inside one
    large tie group (the day most patients last declared) still sorts that group.
    """

    def __init__(
        self,
        rows: QuerySet[Episode],
        *,
        order_by: tuple[str, ...],
        group_by: tuple[str, ...],
        group_order: Callable[[tuple[Any, ...]], Any],
    ) -> None:
        self._rows = rows
        self._order_by = order_by
        self._group_by = group_by
        self._group_order = group_order
        self._groups: list[tuple[tuple[Any, ...], int]] | None = None

    def groups(self) -> list[tuple[tuple[Any, ...], int]]:
        """Each tie group's values and row count, in page order (one query, kept)."""
        if self._groups is None:
            counted = self._rows.order_by().values_list(*self._group_by).annotate(n=Count("pk"))
            self._groups = sorted(
                ((tuple(row[:-1]), int(row[-1])) for row in counted), key=lambda g: self._group_order(g[0])
            )
        return self._groups

    def count(self) -> int:
        return sum(n for _key, n in self.groups())

    def rows(self, start: int, stop: int) -> list[Episode]:
        wanted: Q | None = None
        skip = before = 0
        for key, n in self.groups():
            if before + n > start and before < stop:
                if wanted is None:
                    skip, wanted = start - before, self._group_filter(key)
                else:
                    wanted |= self._group_filter(key)
            before += n
        if wanted is None:
            return []
        return list(self._rows.filter(wanted).order_by(*self._order_by)[skip : skip + stop - start])

    def _group_filter(self, key: tuple[Any, ...]) -> Q:
        return Q(
            *(
                Q(**{f"{field}__isnull": True}) if value is None else Q(**{field: value})
                for field, value in zip(self._group_by, key, strict=True)
            )
        )


# Open alerts, most severe and then oldest first: the stored rank reads them from an index (Alert.Meta).
ALERT_ORDER: tuple[str, ...] = ("-level_rank", "created_at", "id")


def open_alerts(*, user: Any, facility: Facility) -> QuerySet[Alert]:
    """Unacknowledged alerts of one station's active episodes, most severe and oldest first (an ended
    episode's alerts are closed with it; one left open by a race never shows)."""
    return (
        _open_alerts_of(user, facility)
        .select_related("episode__patient", "declaration")
        .order_by(*ALERT_ORDER)
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
        .annotate(top=Max("level_rank"), oldest=Min("created_at"))
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


def patient_declarations(*, patient_ids: list[int]) -> QuerySet[Declaration]:
    return Declaration.objects.filter(patient_id__in=patient_ids).order_by("-submitted_at")


def declaration_rows(*, patient_id: int) -> SqlList:
    """One patient's declarations (the patient access.own_patients_for allowed: selectors.declaring_patient) as
    constant SQL, for the API's list: rows keyed as `.values()` keys the API's columns (the declaring user's
    name as `submitted_by__username`), newest first (("-submitted_at", "-id")), paged with the ORM's cursors
    (monitoring/sql/declarations.patient_list)."""
    return declaration_sql.patient_list(patient_id)


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
    access.own_or_family_sql), written as one constant SQL statement (monitoring/sql/patients.py): building
    the same ORM query took about a third of a declaration's CPU at the morning peak (bench/declarations.sh).
    tests/api/test_declaration_hot_path.py checks both agree for every kind of account."""
    from health_f0.monitoring.sql.patients import declarable

    rows = declarable(user, public_id)
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


OWN_EPISODE_ORDER: tuple[str, ...] = ("-start_date", "-id")


def own_episodes(*, user: Any) -> QuerySet[Episode]:
    """The episodes of the account's own and family patients, newest first."""
    return (
        Episode.objects.filter(patient__in=access.own_patients_for(user))
        .select_related("patient", "facility")
        .order_by(*OWN_EPISODE_ORDER)
    )


def own_episode_rows(*, user: Any) -> SqlList:
    """`own_episodes` as constant SQL (monitoring/sql/episodes.py), for the API's list: rows of the episode's,
    its patient's and its station's columns, newest first, paged with the same cursors;
    `episodes_sql.episode_instances` makes Episode instances of a page."""
    return episodes_sql.own_episodes(user, ordering=OWN_EPISODE_ORDER)


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
        qs = qs.filter(facility_id__in=_subtree_ids(facility))
    if level:
        qs = qs.filter(level=level)
    # The facility is fetched apart (one query for the page's few stations): joined, it made MariaDB read the
    # facilities first and sort a TTYT's every open alert joined to its declaration, episode and patient in a
    # temporary table (6,300 rows read for a page of 100 at the largest TTYT of the 100k data, 1,600 without).
    return (
        qs.select_related("episode__patient", "declaration", "acknowledged_by")
        .prefetch_related("facility")
        .order_by(*ALERT_ORDER)
    )


def _subtree_ids(public_id: Any) -> list[int]:
    """The ids of a facility (by public id) and everything under it, in one query: filtering through a join on
    the facility table would let MariaDB start from it and sort every joined row in a temporary table."""
    root = Facility.objects.filter(public_id=public_id).values("path")[:1]
    return list(Facility.objects.filter(path__startswith=Subquery(root)).values_list("id", flat=True))


def alert_list_rows(*, user: Any, facility: Any = None, level: str | None = None) -> SqlList:
    """`alert_list` as constant SQL (monitoring/sql/alerts.py), for the API's list: rows are dicts of the list's
    columns, the patient's and the facility's reference, in the same order, paged with the same cursors."""
    return alerts_sql.open_alerts(
        user,
        facility_ids=_subtree_ids(facility) if facility is not None else None,
        level=level,
        ordering=ALERT_ORDER,
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


# --- Home-care monitoring as the patient account sees it (the portal; every read starts from the account's
# own patients, access.patients_for / own_patients_for). ------------------------------------------------


def current_episode(*, patient: Any) -> Episode | None:
    """The active episode if there is one, else the most recent one (completed, transferred or closed), by
    start date then id; its station attached. One constant statement (monitoring/sql/episodes.py), which does
    not read the episode's latest declaration (declaration_status does)."""
    return episodes_sql.current_episode_of_patient(patient.pk)


@dataclass(frozen=True)
class DeclarationStatus:
    """Today's declaration situation of one episode, for /ca-nhan and /khai-bao."""

    episode: Episode | None
    deadline: time | None
    past_deadline: bool
    declared_today: bool
    last: Declaration | None

    @property
    def can_declare(self) -> bool:
        return self.episode is not None and self.episode.status == EpisodeStatus.ACTIVE


def declaration_status(*, patient: Any, now: datetime | None = None) -> DeclarationStatus:
    from health_f0.monitoring.services import policy_for

    # The current episode, its station and its latest declaration in one statement: the two or three ORM
    # queries it replaces cost 2.0 ms of CPU, this one 0.19 (bench/portal_floor_reads.py, 100k data set;
    # issue 11).
    found = episodes_sql.current_of_patient(patient.pk)
    if found is None:
        return DeclarationStatus(None, None, False, False, None)
    episode, last = found
    local_now = timezone.localtime(now or timezone.now())
    deadline = policy_for(episode.facility.province_code).deadline
    return DeclarationStatus(
        episode=episode,
        deadline=deadline,
        # The same comparison as declaration_submit: a declaration now would be marked late.
        past_deadline=local_now.time() > deadline,
        declared_today=last is not None and last.local_date == local_now.date(),
        last=last,
    )


def declaration_of(*, user: Any, public_id: Any) -> Declaration | None:
    """A declaration of one of the account's patients; any other id reads as missing."""
    return (
        Declaration.objects.select_related("episode__facility", "patient")
        .filter(public_id=public_id, patient__in=access.patients_for(user))
        .first()
    )


def own_certificate_episode(*, user: Any, public_id: Any) -> Episode | None:
    """An episode of one of the account's own or family patients (access.own_patients_for: staff and
    superusers get none, whatever their scope); whether it has a certificate to download is
    certificates.certificate_download's (EPISODE_WORKFLOW) to say."""
    return (
        Episode.objects.select_related("facility__parent", "patient")
        .filter(public_id=public_id, patient__in=access.own_patients_for(user))
        .first()
    )


class Answer(NamedTuple):
    label: str
    value: str


class Symptom(NamedTuple):
    label: str
    danger: bool


@dataclass(frozen=True)
class DeclarationView:
    """One declaration as the history page shows it: labelled values in the questionnaire's order."""

    declaration: Declaration
    values: list[Answer]
    symptoms: list[Symptom]
    note: str


def decimal_text(value: Any, decimals: int | None = None) -> str:
    """36.8 -> '36,8'; 98 -> '98' (Vietnamese decimal comma; never a thousands separator)."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if decimals is not None:
        number = number.quantize(Decimal(1).scaleb(-decimals))
    text = format(number.normalize() if decimals is None else number, "f")
    return text.replace(".", ",")


# decimal_text's answers for declared numbers, by (the value's type, the value, decimals): a history page shows
# the same few dozen readings again and again (36,8, 97, 20), and a Decimal's parse, quantize and format cost
# about 3 µs a value. Only ints, strings and non-zero floats are kept: their type and value decide the text (a
# float's -0.0 equals 0.0 but is written "-0"). Bounded: emptied when it grows past _NUMBER_TEXTS_KEPT.
_NUMBER_TEXTS_KEPT = 4096
_number_texts: Memo[tuple[type, Any, int | None], str] = Memo(_NUMBER_TEXTS_KEPT)
_KEPT_TYPES = (int, str, float)


def number_text(value: Any, decimals: int | None = None) -> str:
    """decimal_text(value, decimals), worked out once per value (the answers of a declaration)."""
    kind = type(value)
    if kind not in _KEPT_TYPES or (kind is float and value == 0):
        return decimal_text(value, decimals)
    key = (kind, value, decimals)
    text = _number_texts.get(key)
    if text is None:
        text = decimal_text(value, decimals)
        _number_texts.keep(key, text)
    return text


@dataclass(frozen=True)
class ShownQuestion:
    """How one question's answer is shown: worked out once per questionnaire version, not per declaration."""

    code: str
    type: str
    label: str
    unit: str  # " °C", "%", "" (a space before any unit but %)
    decimals: int | None
    options: dict[str, Any]


def _shown_questions(version_id: int) -> list[ShownQuestion]:
    """The version's questions in order, as `declaration_views` shows them. A version with declarations is
    never edited (it is copied: services.questionnaire_in_use), so they are kept in the hot path's
    per-process cache (services.process_cached: re-read every 30 seconds) instead of read on every page."""
    from health_f0.monitoring.services import process_cached

    def load() -> list[ShownQuestion]:
        shown = []
        for q in Question.objects.filter(questionnaire_id=version_id).order_by("order", "id"):
            shown.append(
                ShownQuestion(
                    code=q.code,
                    type=q.type,
                    label=short_label(q),
                    unit=f" {q.unit}" if q.unit and q.unit != "%" else q.unit,
                    decimals=q.decimals,
                    options={o["code"]: o for o in q.options or []},
                )
            )
        return shown

    result: list[ShownQuestion] = process_cached(f"shown_questions:{version_id}", load)
    return result


def shown_questions(versions: Iterable[int]) -> dict[int, list[ShownQuestion]]:
    """Each of the versions' questions in order, as `declaration_views` shows their answers (_shown_questions:
    read once per version and process); /lich-su writes a page's answers from them (www.monitoring_views)."""
    return {version: _shown_questions(version) for version in set(versions)}


AnswerParts = tuple[list[Answer], list[Symptom], str]


def answer_parts(versions: Iterable[int]) -> Callable[[int, dict[str, Any]], AnswerParts]:
    """`parts(version_id, answers)`: a declaration's labelled values, symptoms and note, as `declaration_views`
    shows them, for declarations of the given questionnaire versions (their questions read once per version and
    process: _shown_questions). /lich-su labels a page's rows with it, without Declaration instances."""
    questions = shown_questions(versions)
    number, choices = QuestionType.NUMBER, (QuestionType.MULTI, QuestionType.CHOICE)
    empty: tuple[Any, ...] = (None, "", [])

    def parts(version_id: int, answers: dict[str, Any]) -> AnswerParts:
        values: list[Answer] = []
        symptoms: list[Symptom] = []
        note = ""
        for q in questions[version_id]:
            raw = answers.get(q.code)
            if raw in empty:
                continue
            if q.type == number:
                values.append(Answer(q.label, number_text(raw, q.decimals) + q.unit))
            elif q.type in choices:
                for code in raw if isinstance(raw, list) else [raw]:
                    option = q.options.get(code, {"vi": code})
                    symptoms.append(Symptom(option.get("vi", code), bool(option.get("danger"))))
            else:
                note = str(raw)
        return values, symptoms, note

    return parts


def declaration_views(declarations: list[Declaration]) -> list[DeclarationView]:
    """Label each declaration's answers with its own questionnaire version (answer_parts)."""
    parts = answer_parts(d.questionnaire_id for d in declarations)
    return [DeclarationView(d, *parts(d.questionnaire_id, d.answers)) for d in declarations]


def short_label(question: Question) -> str:
    """'Chỉ số SpO2 (nồng độ oxy trong máu)' -> 'Chỉ số SpO2': the part before any bracket or comma."""
    text = question.text_vi.split("(")[0].split(",")[0].strip()
    return text or question.text_vi


def guidance_document(*, public_id: Any) -> GuidanceDocument | None:
    return published_guidance().filter(public_id=public_id).first()


# --- One episode's record in the desk ----------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeRecords:
    """Declarations (newest first, at most 200), alerts with their outcomes, and reminders of one episode,
    with the labels of the multi-choice answers of each questionnaire version used."""

    declarations: list[Declaration]
    alerts: list[Alert]
    reminders: list[ReminderLog]
    labels: dict[int, dict[str, tuple[str, bool]]]


def episode_records(*, episode: Episode) -> EpisodeRecords:
    declarations = list(episode.declarations.select_related("submitted_by").order_by("-submitted_at")[:200])
    return EpisodeRecords(
        declarations=declarations,
        alerts=list(episode.alerts.select_related("acknowledged_by").order_by("-created_at")),
        reminders=list(episode.reminders.select_related("called_by").order_by("-local_date", "kind")),
        labels=symptom_labels({d.questionnaire_id for d in declarations}),
    )


def symptom_labels(version_ids: Iterable[int]) -> dict[int, dict[str, tuple[str, bool]]]:
    """{version id: {option code: (Vietnamese label, danger)}} for the multi-choice questions."""
    labels: dict[int, dict[str, tuple[str, bool]]] = {}
    questions = Question.objects.filter(questionnaire_id__in=list(version_ids), type=QuestionType.MULTI)
    for q in questions:
        for option in q.options or []:
            labels.setdefault(q.questionnaire_id, {})[option["code"]] = (
                option.get("vi", option["code"]),
                bool(option.get("danger")),
            )
    return labels


# --- The desk's board: the stations one may open, the records its buttons act on ----------------------


def board_stations(*, user: Any) -> list[Facility]:
    """The stations (facilities that accept home-care patients) whose board the user may open, by name."""
    from health_f0.registration.services import ACCEPTING_KINDS

    return list(
        access.facilities_for(user, access.EPISODE_READER_ROLES)
        .filter(kind__in=ACCEPTING_KINDS)
        .order_by("name")
    )


def own_station(*, user: Any, stations: list[Facility]) -> Facility | None:
    """The board shown by default: the first of `stations` the user is a member of, else the first."""
    from health_f0.facilities.models import Membership

    own = (
        Membership.objects.filter(user=user, is_active=True, facility__in=[s.pk for s in stations])
        .order_by("id")
        .values_list("facility_id", flat=True)
        .first()
    )
    return next((s for s in stations if s.pk == own), stations[0] if stations else None)


def may_see_escalations(*, user: Any, facility: Facility) -> bool:
    """Patients silent for days are escalated to the station head and those above (ESCALATION_ROLES)."""
    return access.can_act_at(user, facility, access.ESCALATION_ROLES)


def board_alert(*, user: Any, alert_id: int) -> Alert | None:
    """An alert of a station the user follows (the board's handling form posts its id)."""
    return (
        access.scope_by_facility(
            Alert.objects.select_related("episode__patient"), user, roles=access.EPISODE_READER_ROLES
        )
        .filter(pk=alert_id)
        .first()
    )


def open_alerts_with(*, user: Any, alert: Alert, ids: set[int]) -> list[Alert]:
    """`alert` and the other open alerts of its episode among `ids` (scoped): one board card's alerts."""
    others = access.scope_by_facility(Alert.objects.all(), user, roles=access.EPISODE_READER_ROLES).filter(
        pk__in=ids - {alert.pk}, episode_id=alert.episode_id, acknowledged_at__isnull=True
    )
    return [alert, *others]


def call_list_row(*, user: Any, reminder_id: int) -> ReminderLog | None:
    """A row of today's call list at a station the user follows."""
    return (
        access.scope_by_facility(
            ReminderLog.objects.select_related("episode__patient"),
            user,
            field="episode__facility",
            roles=access.EPISODE_READER_ROLES,
        )
        .filter(pk=reminder_id, kind=ReminderLog.Kind.CALL_LIST)
        .first()
    )


def escalations_today(*, user: Any, facility: Facility, today: date) -> list[ReminderLog]:
    """Today's escalations at the station (patients silent for days), for ESCALATION_ROLES (at most 200)."""
    return list(
        reminders_today(
            user=user,
            facility=facility,
            today=today,
            kind=ReminderLog.Kind.ESCALATION,
            roles=access.ESCALATION_ROLES,
        )[:200]
    )
