"""The registration journey: submit (public, with OTP) -> station accepts / rejects / transfers."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.audit import audit_log
from health_f0.core.exceptions import Conflict, DomainError, NotFound, ValidationErrors
from health_f0.core.models import AuditLog
from health_f0.core.text import SMS_TWO_SEGMENTS, clean_person_name, name_key, normalize_name, unaccent
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind, StationWard
from health_f0.monitoring.services import episode_start
from health_f0.notifications.models import MessageKind
from health_f0.notifications.services import sms_enqueue
from health_f0.patients import address
from health_f0.patients.bonds import phone_bond_record
from health_f0.patients.models import BondMethod, Patient
from health_f0.patients.otp import otp_consume, otp_verify
from health_f0.patients.persons import patient_on_record, person_errors
from health_f0.patients.services import account_issue, patient_create, patient_take_into_care
from health_f0.registration import screening
from health_f0.registration.eligibility import NEEDS_CONFIRMATION, Screening, assess
from health_f0.registration.models import Channel, Eligibility, Registration, RegistrationStatus
from health_f0.registration.selectors import priority_counts_changed
from health_f0.registration.transitions import (
    ACCEPTING_KINDS,
    REGISTRATION_WORKFLOW,
    RiskConfirmationRequired,
    risk_confirmation_refusal,
)

logger = logging.getLogger(__name__)


# Channels whose registrations come only through registration_submit, which takes them with an OTP to their
# phone (a desk registration has none: staff saw the person, not the phone).
OTP_CHANNELS = {Channel.WEB, Channel.APP}
OPEN_STATUSES = {RegistrationStatus.SUBMITTED, RegistrationStatus.ACCEPTED}


@dataclass
class RegistrationInput:
    """What the form (web, app or desk) collects. Services validate it; forms and serializers only parse."""

    full_name: str
    date_of_birth: date
    sex: str
    phone: str
    province_code: int
    ward_code: int
    test_type: str
    positive_date: date
    care: str
    consent: bool
    relation: str = "self"
    registrant_name: str = ""
    street: str = ""
    cccd: str = ""
    bhyt: str = ""
    symptoms: list[str] = field(default_factory=list)
    spo2: int | None = None
    breathing_rate: int | None = None
    conditions: list[str] = field(default_factory=list)
    conditions_stable: bool = True
    pregnant: bool = False
    vaccine_doses: int = 0
    can_phone: bool = True

    @classmethod
    def from_form(cls, data: Mapping[str, Any], **answers: Any) -> RegistrationInput:
        """From a form's cleaned data (the portal's and the desk's forms use the same field names). Optional
        fields left empty take their defaults; `answers` gives the fields a form asks differently (the
        portal's yes/no radios for pregnancy, stable conditions and phone)."""
        values: dict[str, Any] = {
            "full_name": data["full_name"],
            "date_of_birth": data["date_of_birth"],
            "sex": data["sex"],
            "phone": data["phone"],
            "province_code": data["province_code"],
            "ward_code": data["ward_code"],
            "test_type": data["test_type"],
            "positive_date": data["positive_date"],
            "care": data["care"],
            "consent": bool(data["consent"]),
            "relation": data["relation"],
            "registrant_name": data.get("registrant_name") or "",
            "street": data.get("street") or "",
            "cccd": data.get("cccd") or "",
            "bhyt": data.get("bhyt") or "",
            "symptoms": list(data.get("symptoms") or []),
            "spo2": data.get("spo2"),
            "breathing_rate": data.get("breathing_rate"),
            "conditions": list(data.get("conditions") or []),
            "conditions_stable": bool(data.get("conditions_stable")),
            "pregnant": bool(data.get("pregnant")),
            "vaccine_doses": data.get("vaccine_doses") or 0,
            "can_phone": bool(data.get("can_phone")),
        }
        return cls(**{**values, **answers})


def _open_key(phone: str, full_name: str, date_of_birth: date) -> str:
    raw = f"{phone}|{name_key(full_name)}|{date_of_birth.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()


def registration_validate(data: RegistrationInput, *, today: date | None = None) -> RegistrationInput:
    """Check every field against the domain rules; collect all errors, raise them together."""
    today = today or timezone.localdate()
    # The identity fields follow the rule every domain uses (patients.persons).
    person, errors = person_errors(
        full_name=data.full_name,
        date_of_birth=data.date_of_birth,
        sex=data.sex,
        phone=data.phone,
        cccd=data.cccd,
        bhyt=data.bhyt,
        today=today,
    )
    data.full_name, data.phone = person["full_name"], person["phone"]
    data.cccd, data.bhyt = person["cccd"], person["bhyt"]

    def add(field_name: str, code: str, message: str) -> None:
        errors.setdefault(field_name, []).append((code, message))

    def check(field_name: str, fn: Any) -> Any:
        try:
            return fn()
        except DomainError as exc:
            add(exc.field or field_name, exc.code, exc.message)
            return None

    if data.province_code not in dict(address.provinces()):
        add("province_code", "province_invalid", _("Vui lòng chọn tỉnh/thành phố."))
    else:
        check("ward_code", lambda: address.validate_ward(data.province_code, data.ward_code))
    data.street = (data.street or "").strip()[:200]
    if data.relation not in screening.codes(screening.RELATIONS):
        add("relation", "relation_invalid", _("Vui lòng chọn ai là người đăng ký."))
    data.registrant_name = normalize_name(data.registrant_name or "")[:120]
    if data.relation == "relative" and len(data.registrant_name) < 2:
        add("registrant_name", "registrant_name_required", _("Vui lòng nhập họ tên người đăng ký giúp."))
    elif data.registrant_name:
        registrant = check(
            "registrant_name", lambda: clean_person_name(data.registrant_name, field="registrant_name")
        )
        data.registrant_name = registrant or data.registrant_name
    if data.test_type not in screening.codes(screening.TEST_TYPES):
        add("test_type", "test_type_invalid", _("Vui lòng chọn loại xét nghiệm."))
    if data.positive_date > today:
        add("positive_date", "positive_date_future", _("Ngày có kết quả dương tính không được ở tương lai."))
    elif data.positive_date < today - timedelta(days=30):
        add(
            "positive_date",
            "positive_date_too_old",
            _("Ngày dương tính cách đây hơn 30 ngày: vui lòng liên hệ trạm y tế."),
        )
    unknown = set(data.symptoms) - set(screening.codes(screening.SYMPTOMS))
    if unknown:
        add(
            "symptoms",
            "symptom_invalid",
            _("Triệu chứng không hợp lệ: %(items)s.") % {"items": ", ".join(sorted(unknown))},
        )
    if "none" in data.symptoms and len(set(data.symptoms)) > 1:
        add(
            "symptoms",
            "symptoms_conflict",
            _("Đã chọn “Không có triệu chứng” thì không chọn triệu chứng khác."),
        )
    data.symptoms = sorted(set(data.symptoms) - {"none"})
    unknown = set(data.conditions) - set(screening.codes(screening.CONDITIONS))
    if unknown:
        add(
            "conditions",
            "condition_invalid",
            _("Bệnh nền không hợp lệ: %(items)s.") % {"items": ", ".join(sorted(unknown))},
        )
    data.conditions = sorted(set(data.conditions))
    if data.spo2 is not None and not 50 <= data.spo2 <= 100:
        add("spo2", "spo2_out_of_range", _("SpO2 phải từ 50 đến 100 (%). Nếu không đo được, hãy để trống."))
    if data.breathing_rate is not None and not 5 <= data.breathing_rate <= 80:
        add(
            "breathing_rate",
            "breathing_rate_out_of_range",
            _("Nhịp thở phải từ 5 đến 80 lần/phút, hoặc để trống."),
        )
    if not 0 <= data.vaccine_doses <= screening.VACCINE_DOSES_MAX:
        add(
            "vaccine_doses",
            "vaccine_doses_invalid",
            _("Số mũi vắc xin từ 0 đến %(max)s.") % {"max": screening.VACCINE_DOSES_MAX},
        )
    if data.pregnant and data.sex == "male":
        add("pregnant", "pregnancy_conflict", _("Thông tin mang thai không phù hợp với giới tính."))
    if data.care not in screening.codes(screening.CARE):
        add("care", "care_invalid", _("Vui lòng chọn khả năng tự chăm sóc."))
    if not data.consent:
        add("consent", "consent_required", _("Cần đồng ý cho phép xử lý dữ liệu sức khoẻ để được tiếp nhận."))
    if errors:
        raise ValidationErrors(errors)
    return data


def facility_for_ward(*, province_code: int, ward_code: int) -> Facility:
    """The station serving the ward; if none does yet, the province's Department of Health (to transfer)."""
    link = (
        StationWard.objects.select_related("station")
        .filter(ward_code=ward_code, station__is_active=True)
        .first()
    )
    if link is not None:
        return link.station
    fallback = (
        Facility.objects.filter(
            province_code=province_code, is_active=True, kind=FacilityKind.DEPARTMENT_OF_HEALTH
        )
        .order_by("id")
        .first()
    )
    if fallback is None:
        raise DomainError(
            _(
                "Tỉnh/thành phố này chưa triển khai đăng ký chăm sóc tại nhà trên hệ thống. "
                "Vui lòng liên hệ trạm y tế nơi bạn ở."
            ),
            code="province_not_served",
            field="province_code",
        )
    return fallback


def _assess(data: RegistrationInput) -> Any:
    return assess(
        Screening(
            date_of_birth=data.date_of_birth,
            symptoms=tuple(data.symptoms),
            spo2=data.spo2,
            breathing_rate=data.breathing_rate,
            conditions=tuple(data.conditions),
            conditions_stable=data.conditions_stable,
            pregnant=data.pregnant,
            vaccine_doses=data.vaccine_doses,
            care=data.care,
            can_phone=data.can_phone,
        ),
        today=timezone.localdate(),
    )


def _create(data: RegistrationInput, *, channel: str, facility: Facility, actor: Any) -> Registration:
    assessment = _assess(data)
    registration = Registration(
        channel=channel,
        facility=facility,
        relation=data.relation,
        registrant_name=data.registrant_name if data.relation == "relative" else "",
        full_name=data.full_name,
        date_of_birth=data.date_of_birth,
        sex=data.sex,
        phone=data.phone,
        cccd=data.cccd,
        bhyt=data.bhyt,
        province_code=data.province_code,
        ward_code=data.ward_code,
        ward_name=address.ward_name(data.ward_code),
        street=data.street,
        test_type=data.test_type,
        positive_date=data.positive_date,
        symptoms=data.symptoms,
        spo2=data.spo2,
        breathing_rate=data.breathing_rate,
        conditions=data.conditions,
        conditions_stable=data.conditions_stable,
        pregnant=data.pregnant,
        vaccine_doses=data.vaccine_doses,
        care=data.care,
        can_phone=data.can_phone,
        consent_policy_version=settings.PRIVACY_POLICY_VERSION,
        consent_at=timezone.now(),
        eligibility=assessment.outcome,
        eligibility_reasons=assessment.reasons,
        eligibility_notes=assessment.notes,
        open_key=_open_key(data.phone, data.full_name, data.date_of_birth),
    )
    try:
        with transaction.atomic():
            registration.save()
    except IntegrityError:
        raise Conflict(
            _(
                "Người này đã có hồ sơ đăng ký đang được xử lý hoặc đang được chăm sóc tại nhà. "
                "Không cần đăng ký lại; vui lòng chờ trạm y tế liên hệ."
            ),
            code="duplicate_registration",
        )
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE,
        verb="submit",
        target=registration,
        facility=facility,
        data={"channel": channel, "eligibility": assessment.outcome},
    )
    _record_consent(registration, actor=actor)
    _queue_changed()
    return registration


def _queue_changed() -> None:
    """The desk's cached priority count (registration.selectors) is keyed by a version of the queue: a new one
    now and again after commit (a count read in between would still see the old rows)."""
    priority_counts_changed()
    transaction.on_commit(priority_counts_changed)


def _record_consent(registration: Registration, *, actor: Any) -> None:
    """The form's consent box, recorded with the policy version (health_f0.privacy)."""
    from health_f0.privacy.models import ConsentChannel, ConsentMethod
    from health_f0.privacy.services import consent_record

    channels: dict[str, str] = {
        Channel.WEB: ConsentChannel.REGISTRATION_WEB,
        Channel.APP: ConsentChannel.REGISTRATION_APP,
    }
    channel = channels.get(registration.channel, ConsentChannel.REGISTRATION_DESK)
    staff = registration.channel == Channel.DESK
    consent_record(
        channel=channel,
        method=ConsentMethod.STAFF_ENTERED if staff else ConsentMethod.CHECKBOX,
        phone=registration.phone,
        facility=registration.facility,
        recorded_by=actor if staff else None,
        source=registration,
    )


def registration_submit(*, data: RegistrationInput, otp: str, channel: str = Channel.WEB) -> Registration:
    """A member of the public registers for home care with a valid OTP.

    Guarantees: the form is valid; the OTP is right, unexpired and used once; the same person (phone, name,
    date of birth) never holds two open registrations; the registration is queued at the ward's station.
    """
    data = registration_validate(data)
    facility = facility_for_ward(province_code=data.province_code, ward_code=data.ward_code)
    # The duplicate check comes after the OTP, so nobody can probe who is registered without the phone.
    challenge = otp_verify(phone=data.phone, purpose="registration", code=otp)
    with transaction.atomic():
        otp_consume(challenge=challenge)
        return _create(data, channel=channel, facility=facility, actor=None)


def _locked(registration: Registration) -> Registration:
    try:
        return Registration.objects.select_for_update().select_related("facility").get(pk=registration.pk)
    except Registration.DoesNotExist:
        raise NotFound(_("Không tìm thấy hồ sơ."))


def _facility_label(facility: Facility) -> str:
    return facility.short_name or unaccent(facility.name)


def _require_risk_confirmation(
    *, eligibility: str, label: str, reasons: list[str], confirm_risk: bool
) -> None:
    """The accept guard `risk_confirmation_required` (registration.transitions) for a registration not saved
    yet (the desk's direct entry): raise until the actor confirms a review/hospital case."""
    message = risk_confirmation_refusal(
        eligibility=eligibility, label=label, reasons=reasons, confirm_risk=confirm_risk
    )
    if message:
        raise RiskConfirmationRequired(message, code="risk_confirmation_required", eligibility=eligibility)


def _home_care_patient(registration: Registration, *, actor: Any) -> Patient:
    """The person the accepted registration is about: the same person already on record on this phone (name,
    date of birth; `patients.persons.patient_on_record`), taken into the station's care, else a new record.
    A record whose CCCD differs from the one declared is someone else."""
    fields = {
        "facility": registration.facility,
        "province_code": registration.province_code,
        "ward_code": registration.ward_code,
        "ward_name": registration.ward_name,
        "street": registration.street,
        "cccd": registration.cccd,
        "bhyt": registration.bhyt,
        "actor": actor,
    }
    existing = patient_on_record(
        full_name=registration.full_name, date_of_birth=registration.date_of_birth, phone=registration.phone
    )
    if existing is not None and registration.cccd and existing.cccd and existing.cccd != registration.cccd:
        existing = None
    if existing is not None:
        return patient_take_into_care(patient=existing, **fields)
    return patient_create(
        full_name=registration.full_name,
        date_of_birth=registration.date_of_birth,
        sex=registration.sex,
        phone=registration.phone,
        **fields,
    )


@transaction.atomic
def registration_accept(
    *, registration: Registration, actor: Any, confirm_risk: bool = False
) -> Registration:
    """Accept into home care: create the patient and an account, text the credentials after commit.

    A registration screened "needs a doctor's review" or "should go to a treatment facility" needs
    `confirm_risk=True` (DomainError `risk_confirmation_required` without it); the audit row records it."""
    registration = _locked(registration)
    # Roles and guards (transfer_first, risk_confirmation_required) before anything is created.
    REGISTRATION_WORKFLOW.check(registration, "accept", actor, confirm_risk=confirm_risk)
    patient = _home_care_patient(registration, actor=actor)
    # A resident who signed up (or an earlier patient) keeps the account they have: no second record, no
    # second account; the SMS tells them to sign in with it.
    issued = account_issue(patient=patient, actor=actor) if patient.account_id is None else None
    if registration.channel in OTP_CHANNELS:
        # The form was taken only with an OTP to this phone: the family bond (patients.bonds).
        phone_bond_record(
            patient=patient,
            phone=registration.phone,
            method=BondMethod.REGISTRATION_OTP,
            actor=actor,
            evidence=f"registration:{registration.pk}",
            verified_at=registration.created_at,
        )
    episode_start(patient=patient, facility=registration.facility, actor=actor, registration=registration)
    REGISTRATION_WORKFLOW.apply(
        registration,
        "accept",
        actor,
        params={"confirm_risk": confirm_risk},
        fields={"patient": patient, "decided_at": timezone.now(), "decided_by": actor},
        audit={"patient": patient.pk}
        | (
            {"risk_confirmed": registration.eligibility}
            if registration.eligibility in NEEDS_CONFIRMATION
            else {}
        ),
    )
    _queue_changed()
    hotline = registration.facility.hotline
    if issued is not None:
        user, password = issued
        credentials = (
            f"Tai khoan: {user.username} Mat khau: {password} "
            f"Dang nhap: {settings.PORTAL_URL}/dang-nhap va doi mat khau."
        )
    else:
        password = ""
        credentials = (
            f"Dang nhap {settings.PORTAL_URL}/dang-nhap bang tai khoan hien co "
            f"{patient.account.username} de khai bao hang ngay."  # type: ignore[union-attr]
        )
    credentials += f" Hotline: {hotline}" if hotline else ""
    head = f"{_facility_label(registration.facility)} da tiep nhan cham soc tai nha cho "
    # The credentials must arrive whole: shorten the name (up to 120 characters) rather than the message.
    room = SMS_TWO_SEGMENTS - len(head) - len(credentials) - 2
    name = unaccent(registration.full_name).upper()
    if len(name) > room:
        name = name[: max(room - 3, 1)].rstrip() + "..."
    sms_enqueue(
        to=registration.phone,
        body=f"{head}{name}. {credentials}",
        kind=MessageKind.ACCOUNT,
        secret=bool(password),
        facility=registration.facility,
        subject_ref=f"registration:{registration.pk}",
    )
    return registration


@transaction.atomic
def registration_reject(*, registration: Registration, actor: Any, reason: str) -> Registration:
    """Decline with a reason (required); the person gets the reason and the station's hotline by SMS."""
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise DomainError(
            _("Vui lòng nhập lý do từ chối (ít nhất 5 ký tự)."), code="reason_required", field="reason"
        )
    registration = _locked(registration)
    REGISTRATION_WORKFLOW.apply(
        registration,
        "reject",
        actor,
        fields={
            "reject_reason": reason[:300],
            "decided_at": timezone.now(),
            "decided_by": actor,
            "open_key": None,
        },
        audit={"reason": reason},
    )
    _queue_changed()
    facility = registration.facility
    head = (
        f"{_facility_label(facility)} chua tiep nhan dang ky cham soc tai nha cua "
        f"{unaccent(registration.full_name).upper()}. Ly do: "
    )
    tail = f" Lien he: {facility.hotline}" if facility.hotline else ""
    room = 300 - len(head) - len(tail) - 1
    # The reason is one sentence: its own full stop (or ! ?) ends it, else one is added; never two.
    plain_reason = unaccent(reason).rstrip(" .")
    if len(plain_reason) > room:
        plain_reason = plain_reason[: max(room - 3, 0)].rstrip(" .") + "..."
    elif not plain_reason.endswith(("!", "?")):
        plain_reason += "."
    sms_enqueue(
        to=registration.phone,
        body=head + plain_reason + tail,
        kind=MessageKind.REGISTRATION_REJECTED,
        facility=facility,
        subject_ref=f"registration:{registration.pk}",
    )
    return registration


@transaction.atomic
def registration_transfer(
    *, registration: Registration, actor: Any, station: Facility, note: str = ""
) -> Registration:
    """Move a waiting registration to another station's queue (e.g. the person lives in another ward)."""
    registration = _locked(registration)
    REGISTRATION_WORKFLOW.check(registration, "transfer", actor)
    if station.kind not in ACCEPTING_KINDS or not station.is_active:
        raise DomainError(
            _("Chỉ chuyển được cho trạm y tế hoặc cơ sở thu dung đang hoạt động."), field="station"
        )
    if station.pk == registration.facility_id:
        raise DomainError(_("Hồ sơ đã ở cơ sở này."), code="same_station", field="station")
    if station.province_code != registration.facility.province_code:
        raise DomainError(
            _("Chỉ chuyển được trong cùng tỉnh/thành phố."), code="other_province", field="station"
        )
    source = registration.facility
    # The step is audited at the source station (the state stays "submitted"); then the row moves queue.
    REGISTRATION_WORKFLOW.apply(
        registration, "transfer", actor, audit={"from": source.pk, "to": station.pk, "note": note[:200]}
    )
    registration.facility = station
    registration.save(update_fields=["facility", "updated_at"])
    _queue_changed()
    audit_log(
        actor=actor,
        action=AuditLog.Action.TRANSITION,
        verb="transfer_in",
        target=registration,
        facility=station,
        data={"from": source.pk},
    )
    _text_transfer(registration, station)
    return registration


def _text_transfer(registration: Registration, station: Facility) -> None:
    """Tell the person where their registration is now and whom to call (the staff's note stays inside)."""
    head = "Ho so dang ky cham soc tai nha cua "
    tail = f" da duoc chuyen toi {_facility_label(station)}. Nhan vien y te se lien he voi ban."
    tail += f" Lien he: {station.hotline}" if station.hotline else ""
    # The station and its number must arrive whole: shorten the name rather than the message.
    room = SMS_TWO_SEGMENTS - len(head) - len(tail)
    name = unaccent(registration.full_name).upper()
    if len(name) > room:
        name = name[: max(room - 3, 1)].rstrip() + "..."
    sms_enqueue(
        to=registration.phone,
        body=head + name + tail,
        kind=MessageKind.REGISTRATION_RECEIVED,
        facility=station,
        subject_ref=f"registration:{registration.pk}",
    )


def registration_bulk_accept(
    *, registrations: list[Registration], actor: Any, confirm_risk: bool = False
) -> tuple[int, list[str]]:
    """Accept several; each in its own transaction so one failure does not undo the others. `confirm_risk`
    confirms every review/hospital case among them (without it, each of those is an error)."""
    accepted, errors = 0, []
    for registration in registrations:
        try:
            registration_accept(registration=registration, actor=actor, confirm_risk=confirm_risk)
            accepted += 1
        except DomainError as exc:
            errors.append(f"{registration}: {exc.message}")
    return accepted, errors


def registration_create_by_staff(
    *, data: RegistrationInput, actor: Any, station: Facility, confirm_risk: bool = False
) -> Registration:
    """Staff register a patient directly (no OTP: staff verified the person); accepted at once. A review or
    hospital screening needs `confirm_risk`, as at the queue; nothing is saved until it is given."""
    access.require_role_at(actor, station, REGISTRATION_WORKFLOW.roles_for("accept"))
    data = registration_validate(data)
    assessment = _assess(data)
    _require_risk_confirmation(
        eligibility=assessment.outcome,
        label=str(dict(Eligibility.choices).get(assessment.outcome, assessment.outcome)),
        reasons=assessment.reasons,
        confirm_risk=confirm_risk,
    )
    with transaction.atomic():
        registration = _create(data, channel=Channel.DESK, facility=station, actor=actor)
        return registration_accept(registration=registration, actor=actor, confirm_risk=confirm_risk)


def registration_record_view(*, registration: Registration, actor: Any) -> None:
    """Every staff read of a registration's detail is audited."""
    audit_log(
        actor=actor,
        action=AuditLog.Action.VIEW,
        verb="view",
        target=registration,
        facility=registration.facility,
    )
