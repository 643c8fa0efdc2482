"""Home-care monitoring writes: start an episode, submit a declaration (with triage), acknowledge alerts."""

from __future__ import annotations

import copy
import hashlib
import json
import time as _time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from health_f0.core.audit import audit_log
from health_f0.core.exceptions import DomainError, NotFound, PermissionDenied, RateLimited, ValidationErrors
from health_f0.core.models import AuditLog
from health_f0.core.text import SMS_TWO_SEGMENTS, unaccent
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.monitoring import rules, transitions, triage
from health_f0.monitoring.models import (
    LEVEL_RANK,
    Alert,
    AlertLevel,
    Declaration,
    Episode,
    EpisodeStatus,
    ProvincePolicy,
    Question,
    QuestionnaireVersion,
    QuestionType,
    ReminderLog,
    TriageRule,
)
from health_f0.monitoring.sql import declarations as sql_declarations
from health_f0.monitoring.sql import episodes as sql_episodes
from health_f0.monitoring.transitions import EPISODE_WORKFLOW
from health_f0.notifications.models import MessageKind
from health_f0.notifications.services import sms_enqueue
from health_f0.patients.models import Patient

_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Policy:
    deadline: Any  # datetime.time
    reminder_times: tuple[str, ...]
    min_isolation_days: int
    escalate_after_silent_days: int


DEFAULT_POLICY = Policy(
    deadline=datetime.strptime("10:00", "%H:%M").time(),
    reminder_times=("08:00", "09:30"),
    min_isolation_days=7,
    escalate_after_silent_days=2,
)

# Small per-process caches for the hot path: the active questionnaire, the rules and the policies change
# rarely (desk edits) and are re-read at most every 30 seconds.
_cache: dict[str, tuple[float, Any]] = {}


def process_cached(key: str, load: Any) -> Any:
    hit = _cache.get(key)
    now = _time.monotonic()
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    value = load()
    _cache[key] = (now, value)
    return value


def reset_caches() -> None:
    _cache.clear()


def policy_for(province_code: int) -> Policy:
    def load() -> Policy:
        row = ProvincePolicy.objects.filter(province_code=province_code).first()
        if row is None:
            return DEFAULT_POLICY
        return Policy(
            deadline=row.declaration_deadline,
            reminder_times=tuple(row.reminder_times or DEFAULT_POLICY.reminder_times),
            min_isolation_days=row.min_isolation_days,
            escalate_after_silent_days=row.escalate_after_silent_days,
        )

    result: Policy = process_cached(f"policy:{province_code}", load)
    return result


def active_questionnaire() -> tuple[QuestionnaireVersion, list[Question]]:
    def load() -> tuple[QuestionnaireVersion, list[Question]]:
        version = QuestionnaireVersion.objects.filter(is_active=True).order_by("-version").first()
        if version is None:
            raise DomainError(_("Chưa có bộ câu hỏi khai báo đang dùng."), code="no_questionnaire")
        return version, list(version.questions.all())

    result: tuple[QuestionnaireVersion, list[Question]] = process_cached("questionnaire", load)
    return result


def active_rules() -> list[triage.Rule]:
    def load() -> list[triage.Rule]:
        return [
            triage.Rule(
                code=r.code,
                kind=r.kind,
                question_code=r.question_code,
                level=r.level,
                reason_vi=r.reason_vi,
                op=r.op,
                value=r.value,
                symptom=r.symptom,
                window_hours=r.window_hours,
                days=r.days,
                age_min_months=r.age_min_months,
                age_max_months=r.age_max_months,
            )
            for r in TriageRule.objects.filter(is_active=True)
        ]

    result: list[triage.Rule] = process_cached("rules", load)
    return result


@transaction.atomic
def episode_start(
    *,
    patient: Patient,
    facility: Facility,
    actor: Any,
    registration: Any = None,
    start_date: date | None = None,
    positive_date: date | None = None,
) -> Episode:
    """Open a home-care episode (on acceptance, or when staff admit a patient directly).

    The isolation is counted from the positive test (QĐ 261/QĐ-BYT): `positive_date`, by default the
    registration's; the expected end is that day plus the province's minimum days. Without a known positive
    date the episode counts from its start (rules.isolation_start)."""
    if Episode.objects.filter(patient=patient, status=EpisodeStatus.ACTIVE).exists():
        raise DomainError(_("Người bệnh đang có đợt chăm sóc tại nhà chưa kết thúc."), code="episode_active")
    start = start_date or timezone.localdate()
    if positive_date is None and registration is not None:
        positive_date = registration.positive_date
    if positive_date is not None and positive_date > start:
        raise DomainError(
            _("Ngày có kết quả dương tính không được sau ngày tiếp nhận."),
            code="positive_date_invalid",
            field="positive_date",
        )
    policy = policy_for(facility.province_code)
    episode = Episode(
        patient=patient,
        facility=facility,
        registration=registration,
        start_date=start,
        positive_date=positive_date,
    )
    episode.expected_end_date = rules.expected_end_date(
        isolation_start=rules.isolation_start(episode), min_isolation_days=policy.min_isolation_days
    )
    episode.save()
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE,
        verb="start_episode",
        target=episode,
        facility=facility,
        data={"positive_date": positive_date.isoformat() if positive_date else None},
    )
    return episode


def _number(question: Question, raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise ValueError
    text = str(raw).strip().replace(",", ".")
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError
    return value.quantize(Decimal(1).scaleb(-question.decimals))


def _vn_number(value: Decimal | None, decimals: int) -> str:
    """36.5 -> '36,5' ; 100.0 with no decimals -> '100' (Vietnamese decimal comma)."""
    if value is None:
        return ""
    return f"{value:.{decimals}f}".replace(".", ",")


def _local_number(value: Decimal | None, decimals: int) -> str:
    """A number in a message: the Vietnamese decimal comma, or a point when the message is in English."""
    text = _vn_number(value, decimals)
    return text if (get_language() or "vi").startswith("vi") else text.replace(",", ".")


def _question_text(question: Question) -> str:
    """The question as the person reading the message asked for it (English text when there is one)."""
    if (get_language() or "vi").startswith("en") and question.text_en:
        return question.text_en
    return question.text_vi


def declaration_clean(
    *, questions: list[Question], answers: Any, age_months: int | None = None
) -> dict[str, Any]:
    """Check answers against each question's type, options and plausible range, the patient's age band
    (`age_months`; a question or option for another age is refused, a required one outside its band is not
    required) and physiologically impossible combinations (rules.impossible_vitals); collect every error."""
    if not isinstance(answers, dict):
        raise ValidationErrors(
            {"answers": [("answers_invalid", _("Câu trả lời phải là một đối tượng mã → giá trị."))]}
        )
    errors: dict[str, list[tuple[str, str]]] = {}
    clean: dict[str, Any] = {}
    known = {q.code for q in questions}
    for code in answers:
        if code not in known:
            errors.setdefault(str(code)[:32], []).append(
                ("unknown_question", _("Câu hỏi không có trong bộ câu hỏi."))
            )
    for q in questions:
        raw = answers.get(q.code)
        empty = raw is None or raw == "" or raw == []
        if not rules.in_age_band(q, age_months):
            if not empty:
                errors.setdefault(q.code, []).append(
                    (
                        "not_for_age",
                        _("%(question)s: câu hỏi này không dành cho độ tuổi của người bệnh.")
                        % {"question": _question_text(q)},
                    )
                )
            continue
        if empty:
            if q.required:
                errors.setdefault(q.code, []).append(
                    ("required", _("Vui lòng trả lời: %(question)s.") % {"question": _question_text(q)})
                )
            continue
        if q.type == QuestionType.NUMBER:
            try:
                value = _number(q, raw)
            except (ValueError, InvalidOperation, TypeError):
                errors.setdefault(q.code, []).append(
                    (
                        "not_a_number",
                        _("%(question)s: vui lòng nhập một số.") % {"question": _question_text(q)},
                    )
                )
                continue
            low, high = q.min_value, q.max_value
            if (low is not None and value < low) or (high is not None and value > high):
                errors.setdefault(q.code, []).append(
                    (
                        "out_of_range",
                        _(
                            "%(question)s: %(value)s %(unit)s không hợp lý "
                            "(từ %(low)s đến %(high)s %(unit)s). Vui lòng đo lại."
                        )
                        % {
                            "question": _question_text(q),
                            "value": _local_number(value, q.decimals),
                            "low": _local_number(low, q.decimals),
                            "high": _local_number(high, q.decimals),
                            "unit": q.unit,
                        },
                    )
                )
                continue
            clean[q.code] = value
        elif q.type in (QuestionType.MULTI, QuestionType.CHOICE):
            values = raw if isinstance(raw, list) else [raw]
            codes = {o["code"] for o in q.options}
            bad = [v for v in values if not isinstance(v, str) or v not in codes]
            if bad or (q.type == QuestionType.CHOICE and len(values) != 1):
                errors.setdefault(q.code, []).append(
                    (
                        "invalid_option",
                        _("%(question)s: lựa chọn không hợp lệ.") % {"question": _question_text(q)},
                    )
                )
                continue
            other_age = [o for o in q.options if o["code"] in values and not rules.in_age_band(o, age_months)]
            if other_age:
                errors.setdefault(q.code, []).append(
                    (
                        "option_not_for_age",
                        _("%(question)s: “%(option)s” không dành cho độ tuổi của người bệnh.")
                        % {"question": _question_text(q), "option": _option_text(other_age[0])},
                    )
                )
                continue
            clean[q.code] = sorted(set(values)) if q.type == QuestionType.MULTI else values[0]
        else:
            if not isinstance(raw, str) or len(raw) > 1000:
                errors.setdefault(q.code, []).append(
                    ("text_invalid", _("%(question)s: tối đa 1000 ký tự.") % {"question": _question_text(q)})
                )
                continue
            clean[q.code] = raw.strip()
    numbers = {code: value for code, value in clean.items() if isinstance(value, Decimal)}
    for code, items in rules.impossible_vitals(numbers).items():
        errors.setdefault(code, []).extend(items)
    if errors:
        raise ValidationErrors(errors)
    return clean


def _option_text(option: dict[str, Any]) -> str:
    if (get_language() or "vi").startswith("en") and option.get("en"):
        return str(option["en"])
    return str(option.get("vi") or option.get("code", ""))


def patient_age_months(patient: Patient, on: date) -> int:
    """The patient's age in whole months on a day: the unit of the questionnaire's and the rules' bands."""
    return triage.age_in_months(patient.date_of_birth, on)


def questions_for_patient(*, questions: list[Question], patient: Patient, on: date) -> list[Question]:
    """The questions this patient is asked on `on`: those of their age band, each with only the options of
    that band (copies: the cached questionnaire is shared by every request)."""
    months = patient_age_months(patient, on)
    shown: list[Question] = []
    for question in questions:
        if not rules.in_age_band(question, months):
            continue
        options = [o for o in question.options or [] if rules.in_age_band(o, months)]
        if len(options) != len(question.options or []):
            question = copy.copy(question)
            question.options = options
        shown.append(question)
    return shown


IDEMPOTENCY_KEY_MAX_LENGTH = 64  # the column's length: a longer key is refused, never cut


class IdempotencyKeyReused(DomainError):
    """The key of an earlier declaration came back with other answers: a client bug or a reused key. The
    earlier row is not returned for it (its answers would be taken for these) and nothing is stored."""

    status_code = 422
    code = "idempotency_key_reused"


def _client_key(raw: str | None) -> str | None:
    key = (raw or "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise DomainError(
            _("Idempotency-Key dài quá %(limit)s ký tự. Hãy dùng một mã ngắn hơn, ví dụ một UUID.")
            % {"limit": IDEMPOTENCY_KEY_MAX_LENGTH},
            code="idempotency_key_too_long",
        )
    return key or None


def _request_hash(stored_answers: dict[str, Any]) -> str:
    """SHA-256 of the answers as understood (numbers normalised, symptom lists sorted): the same answers
    written differently by a retry hash the same."""
    canonical = json.dumps(stored_answers, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(*, episode: Episode, key: str, request_hash: str) -> Declaration | None:
    """The declaration already stored under `key` for this episode, if its answers are these; a different
    body under the same key is refused."""
    # Constant SQL on the (episode, key) unique index (sql/declarations.py): runs on every refusal past the cap.
    found = sql_declarations.stored_for_key(episode.pk, key)
    if not found:
        return None
    first = found[0]
    if first.request_hash and first.request_hash != request_hash:
        raise IdempotencyKeyReused(
            _(
                "Lần gửi này trùng mã với một khai báo trước nhưng có câu trả lời khác, nên chưa được ghi "
                "nhận. Vui lòng mở lại trang khai báo và gửi lại."
            )
        )
    first.episode = episode  # already loaded, with its station
    return first


def _daily_limit_reached(*, episode: Episode, local_now: datetime) -> RateLimited:
    limit = settings.DECLARATIONS_PER_DAY
    midnight = datetime.combine(local_now.date() + timedelta(days=1), datetime.min.time(), local_now.tzinfo)
    hotline = episode.facility.hotline
    if hotline:
        message = _(
            "Người bệnh này đã khai báo đủ số lần tối đa trong một ngày (%(limit)s lần); có thể khai báo "
            "tiếp từ 0 giờ ngày mai. Nếu có dấu hiệu nguy hiểm, hãy gọi ngay cấp cứu 115 hoặc trạm y tế "
            "(%(hotline)s)."
        ) % {"limit": limit, "hotline": hotline}
    else:
        message = _(
            "Người bệnh này đã khai báo đủ số lần tối đa trong một ngày (%(limit)s lần); có thể khai báo "
            "tiếp từ 0 giờ ngày mai. Nếu có dấu hiệu nguy hiểm, hãy gọi ngay cấp cứu 115 hoặc trạm y tế "
            "nơi bạn đang được theo dõi."
        ) % {"limit": limit}
    retry_after = max(int((midnight - local_now).total_seconds()), 1)
    return RateLimited(message, code="declaration_daily_limit", retry_after=retry_after)


class _DailyLimit(Exception):
    """Raised inside the transaction to roll it back when the counting UPDATE found the day full."""


def _derived_key(patient_id: int, answers: dict[str, Any], now: datetime) -> str:
    # Without a client key, the same answers from the same patient within the same two minutes are one
    # declaration (a double tap, or a retry over a bad connection).
    bucket = int(now.timestamp()) // 120
    payload = json.dumps(answers, sort_keys=True, default=str)
    return "auto:" + hashlib.sha256(f"{patient_id}|{bucket}|{payload}".encode()).hexdigest()[:58]


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


class _Unread:
    """declaration_submit's `episode` not given: read the active episode there."""


_UNREAD = _Unread()


def declaration_submit(
    *,
    patient: Patient,
    actor: Any,
    answers: Any,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    episode: Episode | None | _Unread = _UNREAD,
) -> tuple[Declaration, bool]:
    """Record one declaration for the patient's active episode, triaged. Returns (declaration, created).

    Guarantees: answers are valid for the active questionnaire; a repeat with the same idempotency key (or,
    without one, the same answers within two minutes) returns the first declaration instead of a second, and
    the same key with different answers is refused (IdempotencyKeyReused, 422) — even when both arrive at
    once, exactly one is stored; a key longer than 64 characters is refused (400), never cut; at most
    `settings.DECLARATIONS_PER_DAY` declarations per patient and local day (RateLimited, 429, until
    midnight), counted atomically with the episode update; triage reads at most the latest
    `settings.DECLARATION_HISTORY_ROWS` declarations of the last 96 hours, so a patient who declares often
    costs no more per declaration; `late` is set when submitted after the province's deadline, local time;
    the episode's last declaration day and alert level are updated; an alert is raised for any level above
    none.

    `episode`: the patient's active episode (None: it has none) when the caller read it with the patient
    (sql/patients.declarable_with_episode, the API's hot path); read here otherwise.
    """
    now = now or timezone.now()
    client_key = _client_key(idempotency_key)
    if isinstance(episode, _Unread):
        episode = _active_episode(patient.pk)
    elif episode is not None:
        episode = _with_facility(episode)
    if episode is None:
        raise DomainError(
            _("Người bệnh không có đợt chăm sóc tại nhà đang theo dõi, nên không thể khai báo."),
            code="no_active_episode",
        )
    version, questions = active_questionnaire()
    clean = declaration_clean(
        questions=questions, answers=answers, age_months=patient_age_months(patient, timezone.localdate(now))
    )
    key = client_key or _derived_key(patient.pk, clean, now)
    stored_answers = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in clean.items()}
    request_hash = _request_hash(stored_answers)

    local_now = timezone.localtime(now)
    today = local_now.date()
    limit = settings.DECLARATIONS_PER_DAY
    if episode.last_declared_on == today and episode.declarations_on_last_day >= limit:
        # The day is full (read with the episode: no extra query, no history, no lock). A retry of a stored
        # declaration is still answered with it.
        replay = _replay(episode=episode, key=key, request_hash=request_hash)
        if replay is not None:
            return replay, False
        raise _daily_limit_reached(episode=episode, local_now=local_now)

    policy = policy_for(episode.facility.province_code)
    late = local_now.time() > policy.deadline
    numeric = {code: value for code, value in clean.items() if isinstance(value, Decimal)}
    # Up to DECLARATION_HISTORY_ROWS rows, so the conversions are written out (no helper call per value).
    history = [
        triage.PastReading(
            submitted_at=at,
            local_date=day,
            values={
                "spo2": None if s is None else Decimal(s),
                "temperature": t,
                "breathing_rate": None if r is None else Decimal(r),
                "pulse": None if p is None else Decimal(p),
            },
        )
        for at, day, s, t, r, p in sql_declarations.recent_readings(
            episode.pk, now - timedelta(hours=96), limit=settings.DECLARATION_HISTORY_ROWS
        )
    ]
    result = triage.triage(
        rules=active_rules(),
        values=numeric,
        symptoms=clean.get("symptoms", []),
        date_of_birth=patient.date_of_birth,
        now=now,
        today=today,
        history=history,
    )
    declaration = Declaration(
        episode=episode,
        patient=patient,
        questionnaire=version,
        submitted_by=actor if getattr(actor, "is_authenticated", False) else None,
        submitted_at=now,
        local_date=today,
        late=late,
        answers=stored_answers,
        temperature=numeric.get("temperature"),
        spo2=_int(numeric.get("spo2")),
        breathing_rate=_int(numeric.get("breathing_rate")),
        pulse=_int(numeric.get("pulse")),
        alert_level=result.level,
        reasons=result.reasons,
        idempotency_key=key,
        request_hash=request_hash,
    )
    try:
        with transaction.atomic():
            # Lock the episode row first: submissions for one episode queue here, instead of deadlocking
            # between the foreign-key check's shared lock and the later update. The same UPDATE counts
            # the day's declarations and refuses one over the cap.
            if not sql_episodes.mark_declared(episode.pk, today, result.level, now, limit=limit):
                raise _DailyLimit
            sql_declarations.insert(declaration)  # declaration.save() without its per-call SQL compilation
            if result.level != AlertLevel.NONE:
                Alert.objects.create(
                    declaration=declaration,
                    episode=episode,
                    facility_id=episode.facility_id,
                    level=result.level,
                    reasons=result.reasons,
                    created_at=now,
                    # The open-alerts list's copy of what it shows of the declaration (Alert's note).
                    declaration_public_id=declaration.public_id,
                    declaration_answers=declaration.answers,
                )
    except (IntegrityError, _DailyLimit) as exc:
        # The same key raced in from a parallel request (the first one wins), or the day filled up while
        # this one was triaged.
        replay = _replay(episode=episode, key=key, request_hash=request_hash)
        if replay is not None:
            return replay, False
        if isinstance(exc, _DailyLimit):
            raise _daily_limit_reached(episode=episode, local_now=local_now)
        raise
    return declaration, True


# The hot path of the morning peak (~400 declarations a second for a province) reads and writes with
# constant SQL (monitoring/sql/, one module per table, on core/rawsql.py: raw() with its conversion plan
# cached; an INSERT prepared once): building the same ORM queries cost about 1 ms of CPU per declaration,
# more than a third of the budget (bench/declarations.sh). Values are still converted the ORM way, so this works on MariaDB and SQLite.
# Stations change rarely: kept per process like the rules (30 s).


def _active_episode(patient_id: int) -> Episode | None:
    episode = sql_episodes.active_of_patient(patient_id)
    if episode is None:
        return None
    return _with_facility(episode)


def _with_facility(episode: Episode) -> Episode:
    """The episode with its station attached (kept per process, see above)."""
    episode.facility = process_cached(
        f"facility:{episode.facility_id}", lambda: Facility.objects.get(pk=episode.facility_id)
    )
    return episode


def may_act_at_station(actor: Any, facility: Facility) -> bool:
    """Whether the actor handles the station's alerts and call list (access.STATION_ACTING_ROLES there): the
    desk shows the handling forms from here, and the services below refuse anyone else."""
    return access.can_act_at(actor, facility, access.STATION_ACTING_ROLES)


def _require_station_staff(actor: Any, facility: Facility) -> None:
    if not may_act_at_station(actor, facility):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))


# Outcomes staff choose when they handle an alert; EPISODE_ENDED is only set by episode_close.
STAFF_OUTCOMES: tuple[str, ...] = tuple(o for o in Alert.Outcome.values if o != Alert.Outcome.EPISODE_ENDED)


def _require_staff_outcome(outcome: str) -> None:
    if outcome not in STAFF_OUTCOMES:
        raise DomainError(_("Vui lòng chọn kết quả xử lý."), code="outcome_invalid", field="outcome")


def _close_alert(*, alert: Alert, actor: Any, outcome: str, note: str, now: datetime, via: str = "") -> None:
    """Record the outcome on a locked open alert, with its own audit row (`via` names the step that closed
    it when that is not the alert's own handling: the completion or the end of the episode)."""
    alert.acknowledged_at = now
    alert.acknowledged_by = actor
    alert.outcome = outcome
    alert.note = (note or "").strip()[:300]
    alert.save(update_fields=["acknowledged_at", "acknowledged_by", "outcome", "note"])
    audit_log(
        actor=actor,
        action=AuditLog.Action.TRANSITION,
        verb="acknowledge_alert",
        target=alert,
        facility=alert.facility,
        data={"outcome": outcome, "episode": alert.episode_id} | ({"via": via} if via else {}),
    )


@transaction.atomic
def alert_acknowledge(*, alert: Alert, actor: Any, outcome: str, note: str = "") -> Alert:
    """Staff record what they did about an alert; the time to acknowledge is kept (created -> acknowledged)."""
    locked = Alert.objects.select_for_update().select_related("facility").filter(pk=alert.pk).first()
    if locked is None:
        raise NotFound(_("Không tìm thấy cảnh báo."))
    _require_station_staff(actor, locked.facility)
    if locked.acknowledged_at is not None:
        raise DomainError(_("Cảnh báo này đã được xử lý."), code="already_acknowledged")
    _require_staff_outcome(outcome)
    _close_alert(alert=locked, actor=actor, outcome=outcome, note=note, now=timezone.now())
    return locked


@transaction.atomic
def alerts_acknowledge(*, alerts: list[Alert], actor: Any, outcome: str, note: str = "") -> list[Alert]:
    """One outcome for several open alerts of one patient (the board shows them as one card: one call
    handles them all). Each alert gets its own audit row. Alerts a colleague handled meanwhile are left as
    they are; if none is still open, DomainError `already_acknowledged`. Returns the alerts closed now."""
    episode_ids = {a.episode_id for a in alerts}
    if len(episode_ids) != 1:
        raise DomainError(_("Chỉ xử lý cùng lúc các cảnh báo của một người bệnh."), code="alerts_mixed")
    _require_staff_outcome(outcome)
    locked = list(
        Alert.objects.select_for_update()
        .select_related("facility")
        .filter(pk__in=[a.pk for a in alerts])
        .order_by("created_at", "id")
    )
    if not locked:
        raise NotFound(_("Không tìm thấy cảnh báo."))
    for facility in {a.facility for a in locked}:
        _require_station_staff(actor, facility)
    still_open = [a for a in locked if a.acknowledged_at is None]
    if not still_open:
        raise DomainError(_("Cảnh báo này đã được xử lý."), code="already_acknowledged")
    now = timezone.now()
    for alert in still_open:
        _close_alert(alert=alert, actor=actor, outcome=outcome, note=note, now=now)
    return still_open


def level_at_least(level: str, minimum: str) -> bool:
    return LEVEL_RANK[level] >= LEVEL_RANK[minimum]  # type: ignore[index]


CERTIFICATE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _certificate_code() -> str:
    import secrets

    return "".join(secrets.choice(CERTIFICATE_ALPHABET) for _ in range(10))


def _locked_episode(episode: Episode) -> Episode:
    locked = (
        Episode.objects.select_for_update()
        .select_related("facility", "patient")
        .filter(pk=episode.pk)
        .first()
    )
    if locked is None:
        raise NotFound(_("Không tìm thấy đợt chăm sóc."))
    return locked


def _open_alerts_locked(episode: Episode) -> list[Alert]:
    return list(
        Alert.objects.select_for_update()
        .select_related("facility")
        .filter(episode=episode, acknowledged_at__isnull=True)
        .order_by("created_at", "id")
    )


@transaction.atomic
def episode_complete(
    *,
    episode: Episode,
    actor: Any,
    negative_test_date: date,
    negative_test_type: str,
    alert_outcomes: Mapping[int, str] | None = None,
    alert_note: str = "",
    today: date | None = None,
) -> Episode:
    """End home isolation as completed and issue the certificate code that the PDF's QR code and the public
    verification page use. The guards are EPISODE_WORKFLOW's (monitoring/transitions.py, rules.*): the
    province's minimum days since the positive test, a negative test taken during the isolation, and no
    open alert — each open alert must be closed with an outcome first, or here in the same step through
    `alert_outcomes` ({alert id: outcome}, each audited). The patient is texted after commit."""
    episode = _locked_episode(episode)
    today = today or timezone.localdate()
    outcomes = {int(pk): value for pk, value in (alert_outcomes or {}).items() if value}
    for value in outcomes.values():
        _require_staff_outcome(value)
    open_alerts = _open_alerts_locked(episode)
    now = timezone.now()
    EPISODE_WORKFLOW.apply(
        episode,
        transitions.COMPLETE,
        actor,
        now=now,
        params={
            "today": today,
            "minimum": policy_for(episode.facility.province_code).min_isolation_days,
            "negative_test_date": negative_test_date,
            "negative_test_type": negative_test_type,
            "open_alerts": open_alerts,
            "alert_outcomes": outcomes,
        },
        fields={
            "negative_test_date": negative_test_date,
            "negative_test_type": negative_test_type,
            "ended_at": now,
            "ended_by": actor,
            "certificate_code": _certificate_code(),
        },
        audit={
            "negative_test_date": negative_test_date.isoformat(),
            "isolation_start": rules.isolation_start(episode).isoformat(),
            "alerts_closed": [a.pk for a in open_alerts],
        },
    )
    for alert in open_alerts:
        _close_alert(
            alert=alert, actor=actor, outcome=outcomes[alert.pk], note=alert_note, now=now, via="complete"
        )
    _text_completed(episode, today)
    return episode


def _facility_label(facility: Facility) -> str:
    return facility.short_name or unaccent(facility.name)


def _text_completed(episode: Episode, today: date) -> None:
    """Tell the patient the isolation is over and where the certificate is (the whole link and the code
    always arrive: the name is shortened instead)."""
    phone = episode.patient.phone
    if not phone:
        return
    head = f"{_facility_label(episode.facility)}: "
    tail = (
        f" da hoan thanh cach ly y te tai nha (tu {rules.isolation_start(episode):%d/%m/%Y} den "
        f"{today:%d/%m/%Y}). Tai giay xac nhan: dang nhap {settings.PORTAL_URL}/ca-nhan. "
        f"Ma giay: {episode.certificate_code}"
    )
    room = SMS_TWO_SEGMENTS - len(head) - len(tail)
    name = unaccent(episode.patient.full_name).upper()
    if len(name) > room:
        name = name[: max(room - 3, 1)].rstrip() + "..."
    sms_enqueue(
        to=phone,
        body=head + name + tail,
        kind=MessageKind.GENERIC,
        facility=episode.facility,
        subject_ref=f"episode:{episode.pk}:completed",
    )


# An episode ended otherwise closes its open alerts: a transfer is their outcome ("Chuyển viện"); a close for
# another reason (moved away, died…) leaves nothing for the station to do about them.
CLOSE_ALERT_OUTCOME = {
    EpisodeStatus.TRANSFERRED: Alert.Outcome.HOSPITAL,
    EpisodeStatus.CLOSED: Alert.Outcome.EPISODE_ENDED,
}


@transaction.atomic
def episode_close(*, episode: Episode, actor: Any, status: str, reason: str) -> Episode:
    """End an episode otherwise: transferred to hospital, or closed with a reason (EPISODE_WORKFLOW's
    "transfer" and "close"). The record is then read-only: no more declarations, no reminders. Its open
    alerts are closed in the same step (outcome "Chuyển viện" for a transfer, "Đóng theo hồ sơ kết thúc"
    otherwise, the reason as the note), each audited, so nothing of it stays on the board."""
    reason = (reason or "").strip()
    action = transitions.CLOSE_ACTIONS.get(status)
    if action is None:
        raise DomainError(_("Trạng thái kết thúc không hợp lệ."), code="status_invalid", field="status")
    episode = _locked_episode(episode)
    now = timezone.now()
    open_alerts = _open_alerts_locked(episode)
    EPISODE_WORKFLOW.apply(
        episode,
        action,
        actor,
        now=now,
        params={"reason": reason},
        fields={"end_reason": reason[:300], "ended_at": now, "ended_by": actor},
        verb=f"close_{status}",
        audit={"reason": reason[:300], "alerts_closed": [a.pk for a in open_alerts]},
    )
    for alert in open_alerts:
        _close_alert(
            alert=alert,
            actor=actor,
            outcome=CLOSE_ALERT_OUTCOME[EpisodeStatus(status)],
            note=reason,
            now=now,
            via=f"close_{status}",
        )
    return episode


# --- Desk: call list, questionnaire versions, configuration edits ---------------------------------


def may_configure(actor: Any) -> bool:
    """Province-wide settings (the questionnaire, triage rules, the province's policy, guidance) are edited by
    managers and administrators of the Department of Health only; TTYT and station managers read them."""
    return access.holds_role_at_kind(actor, access.OVERSIGHT_ROLES, {FacilityKind.DEPARTMENT_OF_HEALTH})


def _require_configure(actor: Any) -> None:
    if not may_configure(actor):
        raise PermissionDenied(
            _("Chỉ lãnh đạo/quản lý hoặc quản trị của Sở Y tế được sửa cấu hình theo dõi toàn tỉnh.")
        )


@transaction.atomic
def call_list_record_call(*, reminder: ReminderLog, actor: Any, note: str = "") -> ReminderLog:
    """Record that staff phoned a patient on today's call list (who, when, what was said). A second record
    on the same row replaces the note and time; the audit trail keeps every call."""
    locked = (
        ReminderLog.objects.select_for_update()
        .select_related("episode__facility")
        .filter(pk=reminder.pk)
        .first()
    )
    if locked is None:
        raise NotFound(_("Không tìm thấy người bệnh trong danh sách gọi."))
    _require_station_staff(actor, locked.episode.facility)
    if locked.kind != ReminderLog.Kind.CALL_LIST:
        raise DomainError(_("Chỉ ghi nhận cuộc gọi cho danh sách gọi điện."), code="not_call_list")
    note = (note or "").strip()
    if len(note) > 300:
        raise DomainError(_("Ghi chú tối đa 300 ký tự."), code="note_too_long", field="note")
    locked.called_at = timezone.now()
    locked.called_by = actor
    locked.call_note = note
    locked.save(update_fields=["called_at", "called_by", "call_note"])
    audit_log(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        verb="record_call",
        target=locked.episode,
        facility=locked.episode.facility,
        data={"reminder": locked.pk, "local_date": locked.local_date.isoformat(), "note": note},
    )
    return locked


def questionnaire_in_use(*, version: QuestionnaireVersion) -> bool:
    """A version that has declarations is part of the record: it is copied, never edited in place."""
    return Declaration.objects.filter(questionnaire=version).exists()


QUESTION_COPY_FIELDS = (
    "code",
    "order",
    "text_vi",
    "text_en",
    "help_vi",
    "type",
    "unit",
    "required",
    "min_value",
    "max_value",
    "decimals",
    "options",
    "age_min_months",
    "age_max_months",
)


@transaction.atomic
def questionnaire_copy(*, version: QuestionnaireVersion, actor: Any) -> QuestionnaireVersion:
    """A new, inactive version with the next number and a copy of every question, to edit then activate."""
    from django.db.models import Max

    _require_configure(actor)
    number = (QuestionnaireVersion.objects.aggregate(n=Max("version"))["n"] or 0) + 1
    copy = QuestionnaireVersion.objects.create(version=number, title=version.title, is_active=False)
    Question.objects.bulk_create(
        [
            Question(questionnaire=copy, **{name: getattr(q, name) for name in QUESTION_COPY_FIELDS})
            for q in version.questions.all()
        ]
    )
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE,
        verb="copy_questionnaire",
        target=copy,
        data={"from_version": version.version},
    )
    return copy


@transaction.atomic
def questionnaire_activate(*, version: QuestionnaireVersion, actor: Any) -> QuestionnaireVersion:
    """Make this version the one patients answer from now on (exactly one version is active)."""
    _require_configure(actor)
    locked = QuestionnaireVersion.objects.select_for_update().filter(pk=version.pk).first()
    if locked is None:
        raise NotFound(_("Không tìm thấy bộ câu hỏi."))
    if not locked.questions.exists():
        raise DomainError(_("Bộ câu hỏi chưa có câu hỏi nào."), code="questionnaire_empty")
    if locked.is_active:
        raise DomainError(_("Bộ câu hỏi này đang được dùng."), code="already_active")
    previous = list(
        QuestionnaireVersion.objects.filter(is_active=True)
        .exclude(pk=locked.pk)
        .values_list("version", flat=True)
    )
    QuestionnaireVersion.objects.filter(is_active=True).exclude(pk=locked.pk).update(is_active=False)
    locked.is_active = True
    locked.save(update_fields=["is_active"])
    audit_log(
        actor=actor,
        action=AuditLog.Action.TRANSITION,
        verb="activate_questionnaire",
        target=locked,
        data={"previous": previous},
    )
    reset_caches()
    transaction.on_commit(reset_caches)
    return locked


def configuration_changed(
    *, target: Any, actor: Any, created: bool, changed: list[str] | None = None
) -> None:
    """After a desk edit of a rule, policy, questionnaire or guidance row: audit it and drop the caches,
    so the next declaration uses the new values."""
    _require_configure(actor)
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE if created else AuditLog.Action.UPDATE,
        verb="configure",
        target=target,
        data={"fields": sorted(changed or [])},
    )
    reset_caches()
    transaction.on_commit(reset_caches)
