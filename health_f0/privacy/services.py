"""Writes for personal-data rights: publishing a policy version, recording consent (every channel that
collects personal data calls `consent_record`), and the withdrawal/deletion request workflow with its
execution. Every write is audited; SMS go out only after commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.audit import audit_log
from health_f0.core.exceptions import Conflict, DomainError, NotFound, PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.core.request_context import current_ip
from health_f0.facilities import access
from health_f0.privacy import selectors
from health_f0.privacy.models import (
    ConsentAction,
    ConsentChannel,
    ConsentMethod,
    ConsentRecord,
    DataSubjectRequest,
    PrivacyPolicy,
    ProcessingRestriction,
    RequestChannel,
    RequestKind,
)
from health_f0.privacy.transitions import REQUEST_WORKFLOW

NOTE_MIN = 5
NOTE_MAX = 500
ANONYMISED_NAME = "Người bệnh đã xoá dữ liệu"

# --- Policy versions ------------------------------------------------------------------------------------


def may_publish_policy(user: Any) -> bool:
    """Province-wide: managers and administrators of the Department of Health (and superusers)."""
    from health_f0.facilities.models import FacilityKind, Role

    return access.holds_role_at_kind(
        user, {Role.MANAGER, Role.ADMINISTRATOR}, {FacilityKind.DEPARTMENT_OF_HEALTH}
    )


@transaction.atomic
def policy_publish(
    *, version: str, effective_from: datetime, summary: str, body: str = "", actor: Any
) -> PrivacyPolicy:
    """Publish a new policy version. From `effective_from` on, every patient account is asked to agree to it at
    its next portal page or API call. Versions are never edited: a correction is another version."""
    if not may_publish_policy(actor):
        raise PermissionDenied(_("Chỉ lãnh đạo hoặc quản trị của Sở Y tế được công bố chính sách."))
    version = (version or "").strip()
    errors: dict[str, list[tuple[str, str]]] = {}
    if not version or len(version) > 16 or not all(ch.isalnum() or ch in "-._" for ch in version):
        errors["version"] = [
            ("version_invalid", _("Phiên bản gồm chữ, số, dấu gạch (tối đa 16 ký tự), ví dụ 2026-01."))
        ]
    elif PrivacyPolicy.objects.filter(version=version).exists():
        errors["version"] = [("version_taken", _("Phiên bản này đã được công bố."))]
    latest = PrivacyPolicy.objects.order_by("-effective_from").first()
    if latest is not None and effective_from <= latest.effective_from:
        errors["effective_from"] = [
            (
                "effective_from_too_early",
                _("Ngày hiệu lực phải sau ngày hiệu lực của phiên bản %(version)s (%(date)s).")
                % {
                    "version": latest.version,
                    "date": timezone.localtime(latest.effective_from).strftime("%d/%m/%Y %H:%M"),
                },
            )
        ]
    if not (summary or "").strip():
        errors["summary"] = [
            ("summary_required", _("Vui lòng tóm tắt điều thay đổi: người dùng đọc đoạn này khi đồng ý lại."))
        ]
    if errors:
        from health_f0.core.exceptions import ValidationErrors

        raise ValidationErrors(errors)
    policy = PrivacyPolicy(
        version=version,
        effective_from=effective_from,
        summary=summary.strip(),
        body=(body or "").strip(),
        published_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    policy.save()
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE,
        verb="publish_policy",
        target=policy,
        data={"version": version, "effective_from": effective_from.isoformat()},
    )
    selectors.cache_delete(selectors.POLICY_CACHE_KEY)
    transaction.on_commit(lambda: selectors.cache_delete(selectors.POLICY_CACHE_KEY))
    return policy


# --- Consent --------------------------------------------------------------------------------------------


def _source_label(source: models.Model | None) -> str:
    return f"{source._meta.label_lower}:{source.pk}" if source is not None else ""


def _forget_after_commit(*, user: Any = None, phone: str = "") -> None:
    def forget() -> None:
        ids: list[int] = [user.pk] if user is not None and user.pk else []
        if phone:
            ids += list(get_user_model().objects.filter(phone=phone).values_list("pk", flat=True))
        if ids:
            selectors.forget_consent(user_ids=ids)

    # Now (this request sees the change) and after commit (no other request re-cached the old answer).
    forget()
    transaction.on_commit(forget)


@transaction.atomic
def consent_record(
    *,
    channel: str,
    method: str = ConsentMethod.CHECKBOX,
    phone: str = "",
    user: Any = None,
    patient: Any = None,
    facility: Any = None,
    recorded_by: Any = None,
    source: models.Model | None = None,
    policy_version: str | None = None,
) -> ConsentRecord:
    """Record that someone agreed to the policy in force, on one channel (registration, sign-up, guest or
    phone booking, HIS linking, a new version at login). `policy_version` is the version the person was shown;
    if a newer one took effect meanwhile the consent is refused (400 `policy_version_outdated`) so nobody is
    recorded as agreeing to a text they did not see. Ready for the sign-up channel (ConsentChannel.SIGNUP)."""
    if channel not in ConsentChannel.values:
        raise DomainError(_("Kênh ghi nhận đồng ý không hợp lệ."), code="invalid_channel")
    if method not in ConsentMethod.values:
        raise DomainError(_("Cách ghi nhận đồng ý không hợp lệ."), code="invalid_method")
    current = selectors.policy_current().version
    if policy_version and policy_version != current:
        raise DomainError(
            _(
                "Chính sách bảo vệ dữ liệu vừa được cập nhật (phiên bản %(version)s). Vui lòng đọc lại và đồng ý "
                "với phiên bản mới."
            )
            % {"version": current},
            code="policy_version_outdated",
            field="policy_version",
            policy_version=current,
        )
    if patient is not None:
        facility = facility or patient.facility
        phone = phone or patient.phone
    record = ConsentRecord.objects.create(
        action=ConsentAction.GIVEN,
        policy_version=current,
        channel=channel,
        method=method,
        phone=phone or "",
        user=user if getattr(user, "is_authenticated", False) else None,
        patient=patient,
        facility=facility,
        recorded_by=recorded_by if getattr(recorded_by, "is_authenticated", False) else None,
        source=_source_label(source),
        ip_address=current_ip(),
    )
    audit_log(
        actor=recorded_by or user,
        action=AuditLog.Action.CREATE,
        verb="consent_given",
        target=record,
        facility=facility,
        data={"channel": channel, "method": method, "version": current, "source": record.source},
    )
    _forget_after_commit(user=record.user, phone=record.phone)
    return record


def consent_for_booking(
    *, appointment: Any, channel: str, method: str = ConsentMethod.CHECKBOX, recorded_by: Any = None
) -> ConsentRecord:
    """The consent of someone who booked without an account (the box on the guest form) or by phone (said
    aloud to the booking desk, which records it), for the patient the booking was made for."""
    return consent_record(
        channel=channel,
        method=method,
        patient=appointment.patient,
        facility=appointment.facility,
        recorded_by=recorded_by,
        source=appointment,
    )


def consent_give(*, user: Any, channel: str, policy_version: str) -> ConsentRecord:
    """A logged-in account agrees to the policy in force (asked again after a new version or a withdrawal)."""
    from health_f0.patients.models import Patient

    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied(_("Vui lòng đăng nhập."))
    if not (policy_version or "").strip():
        raise DomainError(
            _("Vui lòng gửi phiên bản chính sách bạn đã đọc."),
            code="policy_version_required",
            field="policy_version",
        )
    own = Patient.objects.filter(account=user).select_related("facility").first()
    return consent_record(
        channel=channel,
        method=ConsentMethod.CHECKBOX,
        # Only a number proved by OTP stands for the account (User.phone is not verified).
        phone=own.verified_phone if own is not None else "",
        user=user,
        patient=own,
        policy_version=policy_version.strip(),
    )


def _withdraw(*, request: DataSubjectRequest, user: Any) -> ConsentRecord:
    """Withdrawal takes effect at once (the law lets a subject withdraw at any time); what stops and what is
    deleted is the handler's decision on the request. Only the subject's own account is asked to consent
    again: a relative acting for a family member keeps using the portal for the others."""
    patient = request.patient
    own_account = patient.account_id is not None and patient.account_id == getattr(user, "pk", None)
    record = ConsentRecord.objects.create(
        action=ConsentAction.WITHDRAWN,
        policy_version=selectors.policy_current().version,
        channel=ConsentChannel.APP if request.channel == RequestChannel.APP else ConsentChannel.PORTAL,
        method=ConsentMethod.ACCOUNT,
        user=user if own_account else None,
        patient=patient,
        facility=patient.facility,
        source=_source_label(request),
        ip_address=current_ip(),
    )
    audit_log(
        actor=user,
        action=AuditLog.Action.CREATE,
        verb="consent_withdrawn",
        target=record,
        facility=patient.facility,
        data={"request": str(request.public_id)},
    )
    _forget_after_commit(user=record.user)
    return record


# --- Requests: submit, cancel, reject, approve (= carry out) ---------------------------------------------


def _clean_note(text: str, *, required: bool) -> str:
    note = " ".join((text or "").split())
    if required and len(note) < NOTE_MIN:
        raise DomainError(
            _("Vui lòng ghi lý do (ít nhất 5 ký tự): người yêu cầu sẽ đọc lý do này."),
            code="reason_required",
            field="note",
        )
    if len(note) > NOTE_MAX:
        raise DomainError(_("Lý do quá dài (tối đa 500 ký tự)."), code="reason_too_long", field="note")
    return note


@transaction.atomic
def request_submit(
    *, user: Any, patient: Any, kind: str, reason: str = "", channel: str = RequestChannel.PORTAL
) -> DataSubjectRequest:
    """A patient account asks, for itself or a family member it acts for, to withdraw consent or delete data.
    The request goes to the facility managing the patient with a response deadline; consent is withdrawn at
    once. One open request per patient and kind."""
    if kind not in RequestKind.values:
        raise DomainError(_("Vui lòng chọn loại yêu cầu."), code="kind_invalid", field="kind")
    if channel not in RequestChannel.values:
        raise DomainError(_("Kênh gửi yêu cầu không hợp lệ."), code="invalid_channel")
    if not access.own_patients_for(user).filter(pk=patient.pk).exists():
        raise NotFound(_("Không tìm thấy người bệnh."))
    reason = " ".join((reason or "").split())
    if len(reason) > NOTE_MAX:
        raise DomainError(_("Lý do quá dài (tối đa 500 ký tự)."), code="reason_too_long", field="reason")
    # The patient row's lock makes "one open request per kind" hold under a double tap from two devices.
    from health_f0.patients.models import Patient

    patient = Patient.objects.select_for_update().select_related("facility", "account").get(pk=patient.pk)
    if selectors.open_request(patient=patient, kind=kind) is not None:
        raise Conflict(
            _("Đã có một yêu cầu như vậy đang chờ xử lý cho người này. Vui lòng chờ kết quả."),
            code="request_pending",
        )
    now = timezone.now()
    request = DataSubjectRequest.objects.create(
        kind=kind,
        channel=channel,
        patient=patient,
        facility=patient.facility,
        requested_by=user,
        reason=reason,
        due_at=selectors.request_due_at(now),
    )
    audit_log(
        actor=user,
        action=AuditLog.Action.CREATE,
        verb="submit",
        target=request,
        facility=request.facility,
        data={"kind": kind, "channel": channel, "due_at": request.due_at.isoformat()},
    )
    _withdraw(request=request, user=user)
    return request


def _locked(request: DataSubjectRequest) -> DataSubjectRequest:
    try:
        return (
            DataSubjectRequest.objects.select_for_update()
            .select_related("patient", "facility", "requested_by")
            .get(pk=request.pk)
        )
    except DataSubjectRequest.DoesNotExist:
        raise NotFound(_("Không tìm thấy yêu cầu."))


@transaction.atomic
def request_cancel(*, request: DataSubjectRequest, actor: Any) -> DataSubjectRequest:
    """The requester changed their mind while the request waits. The consent withdrawn with it stays
    withdrawn: agreeing again is one click on the portal."""
    request = _locked(request)
    REQUEST_WORKFLOW.apply(request, "cancel", actor, fields={"decided_at": timezone.now()})
    return request


@transaction.atomic
def request_reject(*, request: DataSubjectRequest, actor: Any, note: str) -> DataSubjectRequest:
    """Refuse with a reason the requester reads on the portal and by SMS (e.g. processing required by law)."""
    request = _locked(request)
    REQUEST_WORKFLOW.check(request, "reject", actor)
    note = _clean_note(note, required=True)
    REQUEST_WORKFLOW.apply(
        request,
        "reject",
        actor,
        fields={
            "decided_at": timezone.now(),
            "decided_by": actor,
            "decision_note": note,
            "outcome_message": _("Yêu cầu không được thực hiện. Lý do: %(note)s") % {"note": note},
        },
        audit={"note": note},
    )
    _sms(request, request.patient.phone, f"Yêu cầu về dữ liệu cá nhân không được thực hiện. Lý do: {note}")
    return request


@dataclass
class Outcome:
    """What a request's execution did, by kind of data: counts the handler and the requester can read."""

    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    restricted: dict[str, int] = field(default_factory=dict)
    stopped: dict[str, int] = field(default_factory=dict)
    retain_until: date | None = None

    def add(self, bucket: str, name: str, count: int) -> None:
        if count:
            target: dict[str, int] = getattr(self, bucket)
            target[name] = target.get(name, 0) + count

    def as_dict(self) -> dict[str, Any]:
        return {
            "deleted": self.deleted,
            "anonymised": self.anonymised,
            "restricted": self.restricted,
            "stopped": self.stopped,
            "retain_until": self.retain_until.isoformat() if self.retain_until else None,
        }


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def medical_record_counts(patient: Any) -> tuple[dict[str, int], date | None]:
    """The patient's medical records that the law keeps for RETENTION_MEDICAL_RECORD_YEARS (accepted
    registrations, home-care episodes and declarations, visits that took place, HIS visits and results), and
    the date of the latest one."""
    from health_f0.appointments.models import Appointment, Status
    from health_f0.his.models import HisLabResult, HisVisit
    from health_f0.monitoring.models import Declaration, Episode
    from health_f0.registration.models import Registration, RegistrationStatus

    counts: dict[str, int] = {}
    latest: list[Any] = []

    def take(name: str, queryset: Any, *date_fields: str) -> None:
        aggregates = queryset.aggregate(n=models.Count("pk"), **{f: Max(f) for f in date_fields})
        if aggregates["n"]:
            counts[name] = aggregates["n"]
            latest.extend(value for f in date_fields if (value := aggregates[f]) is not None)

    take(
        "registrations",
        Registration.objects.filter(patient=patient, status=RegistrationStatus.ACCEPTED),
        "created_at",
    )
    take("episodes", Episode.objects.filter(patient=patient), "start_date", "ended_at")
    take("declarations", Declaration.objects.filter(patient=patient), "submitted_at")
    take(
        "appointments",
        Appointment.objects.filter(patient=patient, status__in=[Status.CHECKED_IN, Status.COMPLETED]),
        "slot_start",
    )
    take("his_visits", HisVisit.objects.filter(patient=patient), "admitted_at", "discharged_at")
    take("his_lab_results", HisLabResult.objects.filter(patient=patient), "observed_at")
    days = [timezone.localtime(v).date() if isinstance(v, datetime) else v for v in latest]
    return counts, (max(days) if days else None)


def _blockers(patient: Any) -> list[str]:
    """What must be settled by people before data can be withdrawn from use: care still going on."""
    from health_f0.appointments.models import Appointment, Status
    from health_f0.monitoring.models import Episode, EpisodeStatus
    from health_f0.registration.models import Registration, RegistrationStatus

    problems = []
    if Episode.objects.filter(patient=patient, status=EpisodeStatus.ACTIVE).exists():
        problems.append(
            _("Người bệnh đang được theo dõi tại nhà: kết thúc đợt theo dõi trước khi thực hiện yêu cầu.")
        )
    if Appointment.objects.filter(patient=patient, status=Status.CHECKED_IN).exists():
        problems.append(_("Người bệnh đang khám (đã tiếp đón): hoàn tất lượt khám trước."))
    if Registration.objects.filter(
        Q(patient=patient) | Q(phone=patient.phone, date_of_birth=patient.date_of_birth),
        status=RegistrationStatus.SUBMITTED,
    ).exists():
        problems.append(_("Người bệnh còn hồ sơ đăng ký chờ tiếp nhận: tiếp nhận hoặc từ chối hồ sơ trước."))
    return problems


def _stop_processing(request: DataSubjectRequest, outcome: Outcome, actor: Any) -> None:
    """Both kinds: no more bookings, re-exam reminders or HIS imports for this patient."""
    from health_f0.appointments.models import Appointment, ReexamPlan, Status
    from health_f0.appointments.services import appointment_cancel
    from health_f0.his.models import HisLink
    from health_f0.his.services import link_unlink

    patient = request.patient
    requester = request.requested_by
    for appointment in Appointment.objects.filter(
        patient=patient, status__in=[Status.REQUESTED, Status.CONFIRMED]
    ):
        # As the requester (the patient's own capacity): the desk's role is not needed, the cut-off applies.
        try:
            appointment_cancel(
                appointment=appointment, actor=requester, reason=_("Theo yêu cầu về dữ liệu cá nhân")
            )
        except DomainError:
            raise Conflict(
                _(
                    "Lịch hẹn ngày %(when)s đã quá hạn huỷ trực tuyến: nhờ bộ phận đặt lịch huỷ lịch này rồi "
                    "thực hiện lại yêu cầu."
                )
                % {"when": timezone.localtime(appointment.slot_start).strftime("%d/%m/%Y %H:%M")},
                code="appointment_blocks",
            )
        outcome.add("stopped", "appointments_cancelled", 1)
    plans = ReexamPlan.objects.filter(patient=patient, is_active=True)
    for plan in plans:
        plan.is_active = False
        plan.save(update_fields=["is_active", "updated_at"])
        audit_log(
            actor=actor,
            action=AuditLog.Action.UPDATE,
            verb="end_by_privacy_request",
            target=plan,
            facility=plan.facility,
            data={"request": str(request.public_id)},
        )
        outcome.add("stopped", "reexam_plans_ended", 1)
    for link in HisLink.objects.filter(patient=patient, active=True).select_related("facility", "patient"):
        try:
            link_unlink(link=link, actor=requester, reason=_("Theo yêu cầu về dữ liệu cá nhân"))
        except DomainError as exc:
            raise Conflict(exc.message, code="his_link_blocks")
        outcome.add("stopped", "his_links_ended", 1)


def _restrict(
    request: DataSubjectRequest, outcome: Outcome, counts: dict[str, int], last: date | None
) -> None:
    if not counts:
        return
    retain_until = _add_years(last or timezone.localdate(), settings.RETENTION_MEDICAL_RECORD_YEARS)
    ProcessingRestriction.objects.update_or_create(
        patient=request.patient,
        defaults={
            "request": request,
            "retain_until": retain_until,
            "reason": _("Hồ sơ y tế lưu trữ %(years)s năm theo Luật Khám bệnh, chữa bệnh")
            % {"years": settings.RETENTION_MEDICAL_RECORD_YEARS},
        },
    )
    for name, count in counts.items():
        outcome.add("restricted", name, count)
    outcome.retain_until = retain_until


def _erase(request: DataSubjectRequest, outcome: Outcome, counts: dict[str, int]) -> None:
    """Deletion: remove what no law requires us to keep; anonymise the rest of the identity when no medical
    record needs it."""
    from health_f0.api.models import ApiToken
    from health_f0.appointments.models import Appointment, Status
    from health_f0.notifications.models import MessageStatus, OutboxMessage
    from health_f0.patients.models import OtpChallenge, Patient
    from health_f0.registration.models import Registration, RegistrationStatus

    patient = request.patient
    phone = patient.phone
    account = patient.account
    shared_phone = bool(phone) and Patient.objects.filter(phone=phone).exclude(pk=patient.pk).exists()
    # The account: no login, no token, no name. Changing the password hash also ends its sessions.
    if account is not None:
        outcome.add("deleted", "api_tokens", ApiToken.objects.filter(user=account).delete()[0])
        account.username = f"xoa-{account.pk}"
        account.first_name = account.last_name = account.email = account.phone = ""
        account.is_active = False
        account.set_unusable_password()
        account.save()
        patient.account = None
        outcome.add("deleted", "account", 1)
    own_consents = Q(patient=patient)
    if account is not None:
        own_consents |= Q(user=account)
    outcome.add("deleted", "consents", ConsentRecord.objects.filter(own_consents).delete()[0])
    if phone and not shared_phone:
        outcome.add("deleted", "otp_codes", OtpChallenge.objects.filter(phone=phone).delete()[0])
        outcome.add(
            "anonymised",
            "sms",
            OutboxMessage.objects.filter(to=phone)
            .exclude(status__in=[MessageStatus.QUEUED, MessageStatus.FAILED])
            .update(to="", body="", body_encrypted=None),
        )
    # Registrations the station refused never became medical records.
    outcome.add(
        "anonymised",
        "registrations",
        Registration.objects.filter(
            Q(patient=patient) | Q(phone=phone, date_of_birth=patient.date_of_birth),
            status=RegistrationStatus.REJECTED,
        ).update(
            full_name=ANONYMISED_NAME,
            registrant_name="",
            phone="",
            cccd="",
            bhyt="",
            street="",
            patient=None,
        ),
    )
    outcome.add(
        "anonymised",
        "appointments",
        Appointment.objects.filter(patient=patient, status__in=[Status.CANCELLED, Status.NO_SHOW])
        .exclude(reason="")
        .update(reason=""),
    )
    # Contact data is not part of a medical record; the identity is, while one must be kept.
    patient.phone = ""
    patient.street = ""
    if not counts:
        patient.full_name = ANONYMISED_NAME
        patient.date_of_birth = patient.date_of_birth.replace(month=1, day=1)
        patient.cccd = ""
        patient.bhyt = ""
        outcome.add("anonymised", "patient", 1)
    else:
        outcome.add("deleted", "contact_details", 1)
    patient.save(
        update_fields=[
            "account",
            "phone",
            "street",
            "full_name",
            "date_of_birth",
            "cccd",
            "bhyt",
            "updated_at",
        ]
    )


def _outcome_message(request: DataSubjectRequest, outcome: Outcome, note: str) -> str:
    parts = []
    if request.kind == RequestKind.DELETE:
        parts.append(
            _(
                "Đã xoá tài khoản, thông tin liên lạc, lịch sử đồng ý và mã OTP của người bệnh; các tin nhắn "
                "đã gửi không còn nội dung."
            )
        )
    else:
        parts.append(_("Đã ghi nhận việc rút lại sự đồng ý và ngừng xử lý dữ liệu dựa trên sự đồng ý."))
    if outcome.stopped:
        parts.append(_("Đã huỷ các lịch hẹn, kế hoạch tái khám và liên kết hồ sơ bệnh viện còn hiệu lực."))
    if outcome.retain_until:
        parts.append(
            _(
                "Hồ sơ y tế (khám, theo dõi, kết quả xét nghiệm) không được xoá vì pháp luật về khám bệnh, chữa "
                "bệnh buộc lưu trữ %(years)s năm: hồ sơ được lưu trữ hạn chế đến ngày %(date)s, chỉ nhân viên y "
                "tế có thẩm quyền được xem, không dùng để nhắn tin hay vào việc khác."
            )
            % {
                "years": settings.RETENTION_MEDICAL_RECORD_YEARS,
                "date": outcome.retain_until.strftime("%d/%m/%Y"),
            }
        )
    elif request.kind == RequestKind.DELETE:
        parts.append(_("Không có hồ sơ y tế phải lưu trữ: thông tin định danh còn lại đã được ẩn danh."))
    if note:
        parts.append(_("Ghi chú của cơ sở: %(note)s") % {"note": note})
    return " ".join(parts)


def _sms(request: DataSubjectRequest, phone: str, text: str) -> None:
    from health_f0.appointments.selectors import facility_label
    from health_f0.core.text import SMS_TWO_SEGMENTS, sms_text
    from health_f0.notifications.models import MessageKind
    from health_f0.notifications.services import sms_enqueue

    if not phone:
        return
    body = sms_text(f"{facility_label(request.facility)}: {text}")
    if len(body) > SMS_TWO_SEGMENTS:
        body = body[: SMS_TWO_SEGMENTS - 3].rstrip() + "..."
    sms_enqueue(
        to=phone,
        body=body,
        kind=MessageKind.GENERIC,
        facility=request.facility,
        subject_ref=f"privacy_request:{request.pk}",
    )


@transaction.atomic
def request_approve(*, request: DataSubjectRequest, actor: Any, note: str = "") -> DataSubjectRequest:
    """Carry the request out. Withdrawal: bookings, re-exam plans and HIS links end and the medical records
    are restricted. Deletion: that, plus the account, contact data, consents, OTP codes and SMS texts are
    deleted, refused registrations anonymised, and the patient's identity anonymised when no medical record
    has to be kept. Refused (409) while care is still going on. The requester is told what was done and why,
    on the portal and by SMS (sent to the number on file before it is deleted)."""
    request = _locked(request)
    REQUEST_WORKFLOW.check(request, "approve", actor)
    note = _clean_note(note, required=False)
    from health_f0.patients.models import Patient

    patient = (
        Patient.objects.select_for_update().select_related("facility", "account").get(pk=request.patient_id)
    )
    request.patient = patient
    problems = _blockers(patient)
    if problems:
        raise Conflict(" ".join(problems), code="care_in_progress")
    phone = patient.phone
    outcome = Outcome()
    _stop_processing(request, outcome, actor)
    counts, last = medical_record_counts(patient)
    _restrict(request, outcome, counts, last)
    if request.kind == RequestKind.DELETE:
        _erase(request, outcome, counts)
    outcome_data = outcome.as_dict()
    REQUEST_WORKFLOW.apply(
        request,
        "approve",
        actor,
        fields={
            "decided_at": timezone.now(),
            "decided_by": actor,
            "decision_note": note,
            "outcome": outcome_data,
            "outcome_message": _outcome_message(request, outcome, note),
        },
        audit=outcome_data,
        audit_action=AuditLog.Action.DELETE if request.kind == RequestKind.DELETE else None,
    )
    # SMS are Vietnamese whatever the desk's language (sms_text drops the accents).
    done = (
        "Đã xoá dữ liệu cá nhân theo yêu cầu của bạn."
        if request.kind == RequestKind.DELETE
        else "Đã ngừng xử lý dữ liệu theo yêu cầu rút lại sự đồng ý của bạn."
    )
    if outcome.retain_until:
        done += f" Hồ sơ khám chữa bệnh được lưu hạn chế đến {outcome.retain_until:%d/%m/%Y} theo quy định."
    _sms(request, phone, done)
    if patient.account_id is None and request.requested_by_id is not None:
        selectors.forget_consent(user_ids=[request.requested_by_id])
    return request


def request_record_view(*, request: DataSubjectRequest, actor: Any) -> None:
    """A handler opened the request (it shows the patient's identity): audited."""
    audit_log(
        actor=actor, action=AuditLog.Action.VIEW, verb="view", target=request, facility=request.facility
    )
