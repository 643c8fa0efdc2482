"""One account for every resident: sign-up with a phone proved by OTP, forgot password by OTP, guest bookings
claimed into the account, and family members added from it (issue 12, section 1).

- `account_signup`: a Vietnamese mobile number proved by an OTP of purpose "signup", the person's identity
  (patients.persons' rules: the same checks as a registration or a guest booking), the policy consent (privacy,
  ConsentChannel.SIGNUP) and a password (Django's validators, AUTH_PASSWORD_VALIDATORS). No station approves
  it: home care stays an enrolment on top of an account (registration). The account gets its own Patient.
- Where such a patient is managed: a resident who is not a home-care patient has no station. The record is
  managed by the province's Department of Health (`signup_facility`), so Patient.facility stays required,
  every desk list and search keeps working, and facilities.access shows the record only to those who hold a
  patient-record role at the Sở itself (its managers and administrators) or who meet the patient through their
  own work (a booking, an HIS link). A station is below the Sở in the tree: it never sees these records.
- Claiming guest bookings: a guest who booked with an OTP to this number (appointments.appointment_book_guest
  recorded them as a patient with that phone and no account) is the account's own record when name and date
  of birth match (`patients.persons.patient_on_record`), else a family member: a record with its own account
  (no password until one is set with "Quên mật khẩu") bonded to the same number, so its bookings show in
  "Lịch hẹn của tôi" through facilities.access.own_patients_for like any family member's.
- Forgot password: `password_reset_request` texts a code only when the number has an account (patients.otp
  ACCOUNT_ONLY_PURPOSES: the same answer either way); `password_reset_confirm` checks it, sets the password,
  and every API token and session of the account ends.

Every write is one transaction with an audit row ("signup", "signup_claim", "family_member_add",
"password_reset"); the OTP is checked server-side after the cheap checks and spent exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from health_f0.core.audit import audit_log
from health_f0.core.exceptions import Conflict, DomainError, ValidationErrors
from health_f0.core.models import AuditLog, User
from health_f0.core.phone import normalize_mobile
from health_f0.core.text import name_key
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.notifications.models import MessageKind
from health_f0.notifications.services import sms_enqueue
from health_f0.patients.bonds import phone_bond_record, phone_is_verified
from health_f0.patients.models import BondMethod, OtpChallenge, Patient
from health_f0.patients.otp import OtpIssued, accounts_on_phone, otp_consume, otp_request, otp_verify
from health_f0.patients.persons import person_errors
from health_f0.patients.services import account_attach, patient_create

SIGNUP_PURPOSE = "signup"
RESET_PURPOSE = "password_reset"
Errors = dict[str, list[tuple[str, str]]]


@dataclass(frozen=True)
class SignupResult:
    user: User
    patient: Patient
    # Guest records that became the account's family (each with its own account, no password yet).
    family: list[Patient] = field(default_factory=list)
    claimed_bookings: int = 0


# --- Where a resident's record is managed ----------------------------------------------------------------


def signup_facility() -> Facility:
    """The province's Department of Health, which manages the record of a resident who is not a home-care
    patient (the oldest active one when an install serves several provinces)."""
    facility = (
        Facility.objects.filter(kind=FacilityKind.DEPARTMENT_OF_HEALTH, is_active=True).order_by("pk").first()
    )
    if facility is None:
        raise DomainError(
            _("Hệ thống chưa sẵn sàng mở tài khoản. Vui lòng liên hệ đường dây nóng của Sở Y tế."),
            code="signup_unavailable",
        )
    return facility


# --- Checks shared by the portal and the API ------------------------------------------------------------------


def _password_errors(
    password: str, *, full_name: str, username: str = "", user: Any = None
) -> list[tuple[str, str]]:
    """Django's validators for a patient's password. An account about to be made is passed as a plain
    object that is not staff (accounts.passwords treats an unsaved User as staff: 12 characters)."""
    parts = full_name.split()
    subject: Any = user or SimpleNamespace(
        pk=0,
        is_staff=False,
        is_superuser=False,
        is_authenticated=False,
        username=username,
        first_name=parts[-1] if parts else "",
        last_name=" ".join(parts[:-1]),
        email="",
    )
    if not password:
        return [("password_required", _("Vui lòng nhập mật khẩu."))]
    try:
        password_validation.validate_password(password, subject)
    except DjangoValidationError as exc:
        return [(e.code or "password_invalid", " ".join(e.messages)) for e in exc.error_list]
    return []


def _consent_errors(consent: bool, policy_version: str) -> Errors:
    from health_f0.privacy.selectors import policy_current

    errors: Errors = {}
    if not consent:
        errors["consent"] = [
            ("consent_required", _("Cần đồng ý với chính sách bảo vệ dữ liệu cá nhân để mở tài khoản."))
        ]
    current = policy_current().version
    if policy_version and policy_version != current:
        errors["policy_version"] = [
            (
                "policy_version_outdated",
                _(
                    "Chính sách bảo vệ dữ liệu vừa được cập nhật (phiên bản %(version)s). Vui lòng đọc lại và "
                    "đồng ý với phiên bản mới."
                )
                % {"version": current},
            )
        ]
    return errors


def signup_validate(
    *,
    phone: str,
    full_name: str,
    date_of_birth: date | None,
    sex: str,
    password: str | None,
    cccd: str = "",
    bhyt: str = "",
    consent: bool = True,
    policy_version: str = "",
) -> dict[str, Any]:
    """Every field's errors at once (ValidationErrors), else the cleaned identity. `password` None: a family
    member added from an account (no password of their own yet)."""
    errors: Errors = {}
    if date_of_birth is None:
        errors["date_of_birth"] = [("date_of_birth_required", _("Vui lòng nhập ngày sinh."))]
        cleaned: dict[str, Any] = {}
    else:
        cleaned, errors = person_errors(
            full_name=full_name, date_of_birth=date_of_birth, sex=sex, phone=phone, cccd=cccd, bhyt=bhyt
        )
    if password is not None:
        problems = _password_errors(password, full_name=cleaned.get("full_name", full_name))
        if problems:
            errors["password"] = problems
    errors.update(_consent_errors(consent, policy_version))
    if errors:
        raise ValidationErrors(errors)
    return cleaned


# --- Accounts --------------------------------------------------------------------------------------------


def _resident_record(person: dict[str, Any], *, phone: str, actor: Any = None) -> Patient:
    """A new record for a resident without home care, managed by the province's Sở Y tế (signup_facility)."""
    facility = signup_facility()
    return patient_create(
        full_name=person["full_name"],
        date_of_birth=person["date_of_birth"],
        sex=person["sex"],
        phone=phone,
        cccd=person["cccd"],
        bhyt=person["bhyt"],
        facility=facility,
        province_code=facility.province_code or 0,
        ward_code=0,
        actor=actor,
    )


def _same_person(patient: Patient, *, full_name: str, date_of_birth: date) -> bool:
    return patient.date_of_birth == date_of_birth and name_key(patient.full_name) == name_key(full_name)


def _on_phone(phone: str) -> list[Patient]:
    """Patients this number belongs to (their phone, or the number they proved), locked, oldest first."""
    from django.db.models import Q

    return list(
        Patient.objects.select_for_update()
        .filter(Q(phone=phone) | Q(verified_phone=phone))
        .select_related("facility", "account")
        .order_by("pk")
    )


def _guest_bookers(phone: str, candidates: list[Patient]) -> dict[int, int]:
    """Of `candidates` without an account, those who booked as a guest with an OTP to `phone` (an online
    booking made by nobody logged in, whose answering number is `phone`): {patient id: bookings}."""
    from health_f0.appointments.models import Appointment, Channel
    from health_f0.facilities.access import phone_answering_for

    loose = {p.pk: p for p in candidates if p.account_id is None}
    found: dict[int, int] = {}
    bookings = Appointment.objects.filter(
        patient_id__in=loose,
        channel__in=(Channel.WEB, Channel.APP),
        created_by__isnull=True,
        is_walk_in=False,
    ).values_list("patient_id", "created_at")
    for patient_id, created_at in bookings:
        if phone_answering_for(loose[patient_id], created_at) == phone:
            found[patient_id] = found.get(patient_id, 0) + 1
    return found


def _bond(patient: Patient, *, phone: str, actor: Any, challenge: OtpChallenge) -> None:
    phone_bond_record(
        patient=patient,
        phone=phone,
        method=BondMethod.SIGNUP_OTP,
        actor=actor,
        evidence=f"otp:{challenge.pk}",
    )


def _consent(*, user: User, patient: Patient, phone: str, policy_version: str) -> None:
    """The sign-up form's consent box, recorded like a registration's (privacy: channel SIGNUP, the version
    shown; a newer version in force meanwhile refuses it: policy_version_outdated)."""
    from health_f0.privacy.models import ConsentChannel, ConsentMethod
    from health_f0.privacy.services import consent_record

    consent_record(
        channel=ConsentChannel.SIGNUP,
        method=ConsentMethod.CHECKBOX,
        user=user,
        patient=patient,
        phone=phone,
        policy_version=policy_version or None,
    )


def _welcome_sms(*, user: User, patient: Patient) -> None:
    sms_enqueue(
        to=patient.phone,
        body=f"Da mo tai khoan {user.username} tren cong suc khoe {settings.PORTAL_URL}/dang-nhap. "
        "Dang nhap bang so dien thoai nay hoac ten tai khoan. Neu khong phai ban, goi duong day nong So Y te.",
        kind=MessageKind.ACCOUNT,
        facility=patient.facility,
        subject_ref=f"signup:{user.pk}",
    )


def account_signup(
    *,
    phone: str,
    otp: str,
    full_name: str,
    date_of_birth: date | None,
    sex: str,
    password: str,
    cccd: str = "",
    bhyt: str = "",
    consent: bool,
    policy_version: str = "",
    channel: str = "web",
) -> SignupResult:
    """Open a resident's account.

    Guarantees: every field is checked before the OTP (a typo costs no try), the OTP of purpose "signup" to
    `phone` is right and spent exactly once; the same person (name, date of birth) already holding an account
    on this number gets Conflict `account_exists` (said only to whoever proved the number); a record of the
    same person without an account (a guest booking, a desk record) becomes the account's own, other guest
    bookers on the number become family members; otherwise a new record managed by the Department of Health.
    The number is bonded (SIGNUP_OTP), the consent recorded with its policy version, the password hashed by
    Django, an audit row "signup" written and the username texted after commit."""
    person = signup_validate(
        phone=phone,
        full_name=full_name,
        date_of_birth=date_of_birth,
        sex=sex,
        password=password,
        cccd=cccd,
        bhyt=bhyt,
        consent=consent,
        policy_version=policy_version,
    )
    phone = person["phone"]
    # The account lookup comes after the OTP: nobody can probe which numbers have accounts without the phone.
    challenge = otp_verify(phone=phone, purpose=SIGNUP_PURPOSE, code=otp)
    with transaction.atomic():
        otp_consume(challenge=challenge)  # two sign-ups racing on one code: one wins, the other is refused
        on_phone = _on_phone(phone)
        same = [
            p
            for p in on_phone
            if _same_person(p, full_name=person["full_name"], date_of_birth=person["date_of_birth"])
        ]
        if any(p.account_id for p in same):
            raise Conflict(
                _(
                    "Người này đã có tài khoản với số điện thoại này. Vui lòng đăng nhập, hoặc dùng “Quên mật "
                    "khẩu?” để đặt lại mật khẩu."
                ),
                code="account_exists",
            )
        guests = _guest_bookers(phone, on_phone)
        own = same[0] if same else None
        if own is None:
            own = _resident_record(person, phone=phone)
        else:
            _fill_identifiers(own, cccd=person["cccd"], bhyt=person["bhyt"])
        user = account_attach(patient=own, password=password)
        _bond(own, phone=phone, actor=user, challenge=challenge)
        family = []
        for patient in on_phone:
            if patient.pk in guests and patient.pk != own.pk:
                account_attach(patient=patient, password=None)
                _bond(patient, phone=phone, actor=user, challenge=challenge)
                family.append(patient)
        claimed = sum(guests.values())
        _consent(user=user, patient=own, phone=phone, policy_version=policy_version)
        audit_log(
            actor=user,
            action=AuditLog.Action.CREATE,
            verb="signup",
            target=own,
            facility=own.facility,
            data={
                "username": user.username,
                "channel": channel,
                "existing_record": own.pk in {p.pk for p in same},
                "family": [p.pk for p in family],
                "bookings_claimed": claimed,
                "otp": challenge.pk,
            },
        )
        _welcome_sms(user=user, patient=own)
    return SignupResult(user=user, patient=own, family=family, claimed_bookings=claimed)


def _fill_identifiers(patient: Patient, *, cccd: str, bhyt: str) -> None:
    """A record taken over keeps what is on it; a CCCD or BHYT number it lacks is added."""
    changed = []
    if cccd and not patient.cccd:
        patient.cccd = cccd
        changed.append("cccd")
    if bhyt and not patient.bhyt:
        patient.bhyt = bhyt
        changed.append("bhyt")
    if changed:
        patient.save(update_fields=[*changed, "updated_at"])


# --- Family members added from an account --------------------------------------------------------------


def family_phone(user: Any) -> str:
    """The number a family member is added on: the account's own proved number ("" when it has none)."""
    patient = Patient.objects.filter(account=user).first()
    if patient is None or not phone_is_verified(patient):
        return ""
    return patient.verified_phone


def family_member_add(
    *,
    user: Any,
    otp: str,
    full_name: str,
    date_of_birth: date | None,
    sex: str,
    cccd: str = "",
    bhyt: str = "",
    consent: bool = True,
    policy_version: str = "",
    channel: str = "web",
) -> Patient:
    """An account adds a child or an elderly parent on its own proved number, with a fresh OTP to it (a bond
    is made only when the number answers a code). The member gets a record of their own (the same person
    already on record on this number without an account is taken over) and an account of their own without
    a password (set later with "Quên mật khẩu"); the family rule (facilities.access.own_patients_for) then
    lets each account act for the other. Conflict `member_exists` when that person already has an account."""
    phone = family_phone(user)
    if not phone:
        raise DomainError(
            _("Số điện thoại của tài khoản chưa được xác thực. Vui lòng xác thực số điện thoại trước."),
            code="phone_not_verified",
        )
    person = signup_validate(
        phone=phone,
        full_name=full_name,
        date_of_birth=date_of_birth,
        sex=sex,
        password=None,
        cccd=cccd,
        bhyt=bhyt,
        consent=consent,
        policy_version=policy_version,
    )
    challenge = otp_verify(phone=phone, purpose=SIGNUP_PURPOSE, code=otp)
    with transaction.atomic():
        otp_consume(challenge=challenge)
        on_phone = _on_phone(phone)
        same = [
            p
            for p in on_phone
            if _same_person(p, full_name=person["full_name"], date_of_birth=person["date_of_birth"])
        ]
        if any(p.account_id for p in same):
            raise Conflict(
                _("Người này đã có tài khoản trên số điện thoại của gia đình."), code="member_exists"
            )
        if same:
            member = same[0]
            _fill_identifiers(member, cccd=person["cccd"], bhyt=person["bhyt"])
        else:
            member = _resident_record(person, phone=phone, actor=user)
        account_attach(patient=member, password=None)
        _bond(member, phone=phone, actor=user, challenge=challenge)
        _consent(user=user, patient=member, phone=phone, policy_version=policy_version)
        audit_log(
            actor=user,
            action=AuditLog.Action.CREATE,
            verb="family_member_add",
            target=member,
            facility=member.facility,
            data={"channel": channel, "existing_record": bool(same), "otp": challenge.pk},
        )
    return member


# --- Forgot password ---------------------------------------------------------------------------------------


def password_reset_request(*, phone: str, ip: str | None) -> OtpIssued:
    """Text a reset code to `phone` if it has an account; the same answer (and limits) when it has none."""
    return otp_request(phone=normalize_mobile(phone), purpose=RESET_PURPOSE, ip=ip)


@dataclass(frozen=True)
class AccountChoice:
    username: str
    full_name: str


def _choose(accounts: list[User], username: str) -> User:
    if len(accounts) == 1 and not username:
        return accounts[0]
    chosen = next((u for u in accounts if u.username == username.strip().lower()), None)
    if chosen is not None:
        return chosen
    # Said only to whoever proved the number: the accounts it answers for, to pick one.
    raise DomainError(
        _(
            "Số điện thoại này dùng cho nhiều tài khoản trong gia đình. Vui lòng chọn tài khoản cần đặt lại mật khẩu."
        ),
        code="account_choice_required",
        field="username",
        accounts=[AccountChoice(u.username, _full_name(u)) for u in accounts],
    )


def _full_name(user: User) -> str:
    patient = Patient.objects.filter(account=user).only("full_name").first()
    return patient.full_name if patient else user.get_full_name()


def password_reset_confirm(*, phone: str, otp: str, new_password: str, username: str = "") -> User:
    """Set a new password with the code texted by `password_reset_request`.

    Guarantees: a number with no account gets the same "wrong code" as a wrong code (nothing was texted);
    the OTP is checked server-side, its tries limited, and it is spent only by a successful reset (a weak
    password or a missing account choice can be corrected with the same code); when the number serves several
    accounts of a family, `username` picks one (DomainError `account_choice_required` lists them otherwise).
    The password is hashed by Django, every API token of the account is revoked and its sessions end (their
    stored hash no longer matches); the login failures of the account are cleared; audit "password_reset"."""
    from axes.models import AccessAttempt

    from health_f0.patients.services import password_change

    phone = normalize_mobile(phone)
    if not new_password:
        raise ValidationErrors({"new_password": [("password_required", _("Vui lòng nhập mật khẩu mới."))]})
    challenge = otp_verify(phone=phone, purpose=RESET_PURPOSE, code=otp)
    accounts = list(accounts_on_phone(phone))
    if not accounts:  # pragma: no cover - no code was texted, so none can be right
        raise DomainError(_("Mã OTP không đúng."), code="otp_invalid", field="otp")
    user = _choose(accounts, username)
    problems = _password_errors(new_password, full_name=_full_name(user), user=user)
    if problems:
        raise ValidationErrors({"new_password": problems})
    with transaction.atomic():
        otp_consume(challenge=challenge)
        password_change(user=user, new_password=new_password)
        AccessAttempt.objects.filter(username=user.username).delete()
        patient = Patient.objects.filter(account=user).select_related("facility").first()
        audit_log(
            actor=user,
            action=AuditLog.Action.UPDATE,
            verb="password_reset",
            target=user,
            facility=patient.facility if patient else None,
            data={"method": "otp", "otp": challenge.pk},
        )
    return user
