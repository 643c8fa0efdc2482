"""Reads the public portal needs that are not scoped to a staff member or a patient account."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from health_f0.core.counters import window_count
from health_f0.core.exceptions import NotFound
from health_f0.core.phone import display_phone
from health_f0.core.request_context import limit_key
from health_f0.core.safe_cache import cached
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.monitoring.models import (
    Declaration,
    Episode,
    EpisodeStatus,
    GuidanceDocument,
    Question,
    QuestionType,
)
from health_f0.monitoring.selectors import patient_declarations
from health_f0.monitoring.services import policy_for
from health_f0.patients.models import Patient
from health_f0.registration.models import Registration

SESSION_REGISTRATIONS = "www_registrations"


@dataclass(frozen=True)
class SiteInfo:
    """Who runs this portal: the Department of Health shown in the header and footer."""

    authority: str
    hotline: str
    province_code: int | None


def site_info() -> SiteInfo:
    """The single active Department of Health, if the install serves one province (cached 5 minutes; read
    from the database while the cache is away, so every portal page still answers)."""
    return cached("www:site_info", _site_info, timeout=300)


def _site_info() -> SiteInfo:
    departments = list(
        Facility.objects.filter(kind=FacilityKind.DEPARTMENT_OF_HEALTH, is_active=True)
        .order_by("id")
        .values_list("name", "hotline", "province_code")[:2]
    )
    if len(departments) == 1:
        name, hotline, province = departments[0]
        return SiteInfo(authority=name, hotline=hotline, province_code=province)
    return SiteInfo(authority="Sở Y tế", hotline="", province_code=None)


def registration_of_session(*, session_ids: list[str], public_id: str) -> Registration | None:
    """A registration the current browser session submitted; any other public id reads as missing."""
    if str(public_id) not in {str(i) for i in session_ids}:
        return None
    return Registration.objects.select_related("facility").filter(public_id=public_id).first()


def display_hotline(number: str) -> str:
    """Mobile numbers as '0912 345 678', landlines as '0220 389 1001', anything else unchanged."""
    digits = re.sub(r"\D", "", number or "")
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    if len(digits) == 10 and digits[1] in "35789":
        return display_phone("+84" + digits[1:])
    if len(digits) == 11:
        return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    return number


# --- Home-care monitoring as the patient account sees it. Every read starts from access.patients_for. ---

SESSION_PATIENT = "www_patient"


@dataclass(frozen=True)
class PatientChoice:
    """The patients this account may act for (a family on one phone) and the one it is acting for now."""

    patients: list[Patient]
    current: Patient | None

    @property
    def is_family(self) -> bool:
        return len(self.patients) > 1


def patient_choice(*, user: Any, remembered: str | None, requested: str | None) -> PatientChoice:
    """Resolve whom the account is acting for: the requested id (which must be one of its own patients,
    else NotFound), then the one remembered in the session, then the account's own record, then the first."""
    patients = list(access.patients_for(user).select_related("facility").order_by("full_name", "id"))
    by_id = {str(p.public_id): p for p in patients}
    if requested is not None:
        current = by_id.get(requested.strip().lower())
        if current is None:
            raise NotFound("Không tìm thấy người bệnh.")
        return PatientChoice(patients=patients, current=current)
    current = by_id.get(remembered or "")
    if current is None:
        current = next((p for p in patients if p.account_id == getattr(user, "pk", None)), None)
    if current is None and patients:
        current = patients[0]
    return PatientChoice(patients=patients, current=current)


def current_episode(*, patient: Patient) -> Episode | None:
    """The active episode if there is one, else the most recent one (completed, transferred or closed)."""
    episodes = Episode.objects.select_related("facility").filter(patient=patient)
    active = episodes.filter(status=EpisodeStatus.ACTIVE).order_by("-start_date", "-id").first()
    return active or episodes.order_by("-start_date", "-id").first()


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


def declaration_status(*, patient: Patient, now: datetime | None = None) -> DeclarationStatus:
    episode = current_episode(patient=patient)
    if episode is None:
        return DeclarationStatus(None, None, False, False, None)
    local_now = timezone.localtime(now or timezone.now())
    deadline = policy_for(episode.facility.province_code).deadline
    last = episode.declarations.order_by("-submitted_at", "-id").first()
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


def episode_of(*, user: Any, public_id: Any) -> Episode | None:
    """An episode of one of the account's patients; any other id reads as missing."""
    return (
        Episode.objects.select_related("facility__parent", "patient")
        .filter(public_id=public_id, patient__in=access.patients_for(user))
        .first()
    )


@dataclass(frozen=True)
class Answer:
    label: str
    value: str


@dataclass(frozen=True)
class Symptom:
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


def declaration_views(declarations: list[Declaration]) -> list[DeclarationView]:
    """Label each declaration's answers with its own questionnaire version (one query for all versions)."""
    version_ids = {d.questionnaire_id for d in declarations}
    questions: dict[int, list[Question]] = {}
    for q in Question.objects.filter(questionnaire_id__in=version_ids).order_by("order", "id"):
        questions.setdefault(q.questionnaire_id, []).append(q)
    views = []
    for d in declarations:
        values: list[Answer] = []
        symptoms: list[Symptom] = []
        note = ""
        for q in questions.get(d.questionnaire_id, []):
            raw = d.answers.get(q.code)
            if raw in (None, "", []):
                continue
            if q.type == QuestionType.NUMBER:
                unit = f" {q.unit}" if q.unit and q.unit != "%" else q.unit
                values.append(Answer(short_label(q), decimal_text(raw, q.decimals) + unit))
            elif q.type in (QuestionType.MULTI, QuestionType.CHOICE):
                options = {o["code"]: o for o in q.options}
                for code in raw if isinstance(raw, list) else [raw]:
                    option = options.get(code, {"vi": code})
                    symptoms.append(Symptom(option.get("vi", code), bool(option.get("danger"))))
            else:
                note = str(raw)
        views.append(DeclarationView(declaration=d, values=values, symptoms=symptoms, note=note))
    return views


def short_label(question: Question) -> str:
    """'Chỉ số SpO2 (nồng độ oxy trong máu)' -> 'Chỉ số SpO2': the part before any bracket or comma."""
    text = question.text_vi.split("(")[0].split(",")[0].strip()
    return text or question.text_vi


HISTORY_LIMIT = 120


def episode_declarations(*, episode: Episode) -> list[Declaration]:
    """The episode's declarations, newest first (bounded: two a day for two months is plenty)."""
    return list(
        patient_declarations(patient_ids=[episode.patient_id]).filter(episode=episode)[:HISTORY_LIMIT]
    )


def guidance_documents() -> QuerySet[GuidanceDocument]:
    return GuidanceDocument.objects.filter(is_published=True).order_by("order", "title")


def guidance_document(*, public_id: Any) -> GuidanceDocument | None:
    return guidance_documents().filter(public_id=public_id).first()


VERIFY_LIMIT_PER_MINUTE = 30


def verification_allowed(*, ip: str) -> bool:
    """A light per-address limit on the public certificate lookup (30 a minute): codes are not guessable,
    but nobody should be able to walk the code space either. Counted per `limit_key` like every other
    limit: an IPv6 client is its whole /64, which it could otherwise rotate through."""
    return window_count(f"www:verify:{limit_key(ip)}", window_seconds=60) <= VERIFY_LIMIT_PER_MINUTE
