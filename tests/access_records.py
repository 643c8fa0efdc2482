"""Records for the access matrix (tests/test_access_matrix.py), built through the services where they exist.

Two patients with portal accounts: A, the demo patient (bn0000001, station Thành Đông, TTYT Hải Dương), and
B, accepted at station Lê Thanh Nghị (same TTYT). Each kind of record exists twice, at two facilities, so
that every persona's row tells the two apart:

- appointments: A's demo booking request at Phòng khám Nội 1 (under TTYT-HD); B's at a second hospital
  directly under the Sở Y tế (HOSPITAL_B), outside the TTYT;
- home care: A's episode, declaration and danger-sign alert at Thành Đông; B's at Lê Thanh Nghị; completed,
  the episodes' certificates;
- HIS: A's link request, link, visit and lab result at TTYT-HD; B's at HOSPITAL_B;
- the outbox: a message of each kind of work (home care, appointments, HIS, other) on both sides (OUTBOX).
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from health_f0.appointments import selectors as appointment_selectors
from health_f0.appointments import services as appointment_services
from health_f0.appointments.models import Appointment, ScheduleTemplate, Service
from health_f0.facilities.models import Facility
from health_f0.facilities.services import facility_save
from health_f0.his import services as his_services
from health_f0.his.adapters import NoLookupAdapter
from health_f0.his.models import HisLabResult, HisVisit, HisVisitSeen
from health_f0.his.tests.conftest import xml_patient
from health_f0.monitoring import rules
from health_f0.monitoring.models import Alert, Episode
from health_f0.monitoring.services import declaration_submit, episode_complete, policy_for
from health_f0.notifications.models import OutboxMessage
from health_f0.patients.models import Patient

HOSPITAL_B = "BV-KA"
HOSPITAL_B_SERVICE = "kham-ka"
DANGER = {"temperature": "38.5", "spo2": "92", "symptoms": ["shortness_of_breath"]}


def portal_ready(patient: Patient) -> Patient:
    """Past the first-login password change, so the portal and the patient API answer this account."""
    assert patient.account_id is not None
    get_user_model().objects.filter(pk=patient.account_id).update(must_change_password=False)
    patient.refresh_from_db()
    return patient


def hospital_b() -> Facility:
    """A second hospital (it runs a HIS and a clinic) directly under the Sở Y tế, outside TTYT Hải Dương."""
    existing = Facility.objects.filter(code=HOSPITAL_B).first()
    if existing is not None:
        return existing
    return facility_save(
        facility=Facility(
            kind="hospital",
            code=HOSPITAL_B,
            name="Bệnh viện Đa khoa Kiến An",
            parent=Facility.objects.get(code="SYT-31"),
            province_code=31,
        )
    )


def appointment_records(patients: dict[str, Patient], admin: Any) -> dict[str, Appointment]:
    """appt_a: the demo's online request of patient A at Khám Nội (load_appointments_demo must have run);
    appt_b: an online request of patient B at HOSPITAL_B's clinic (booked by the desk, then marked as an app
    request waiting for confirmation, like the demo's)."""
    appt_a = Appointment.objects.get(patient=patients["pat_a"], status="requested", is_reexam=False)
    service = Service.objects.create(
        facility=hospital_b(), code=HOSPITAL_B_SERVICE, name="Khám Đa khoa Kiến An", capacity_per_slot=2
    )
    ScheduleTemplate.objects.bulk_create(
        ScheduleTemplate(service=service, weekday=day, start_time=time(7), end_time=time(17))
        for day in range(7)
    )
    first = timezone.localdate() + timedelta(days=2)
    slot = next(
        s
        for s in appointment_selectors.slots_free(
            service=service, start=first, end=first + timedelta(days=10), for_staff=True
        )
        if s.free > 0
    )
    appt_b = appointment_services.appointment_book(
        patient=patients["pat_b"], service=service, slot_start=slot.start, channel="phone", actor=admin
    )
    Appointment.objects.filter(pk=appt_b.pk).update(
        status="requested", channel="app", confirmed_at=None, confirmed_by=None
    )
    appt_b.refresh_from_db()
    return {"appt_a": appt_a, "appt_b": appt_b}


def declaration_note(suffix: str) -> str:
    """The free-text note of a patient's matrix declaration: what marks it on a page."""
    return f"Ghi chú ma trận {suffix.upper()}"


def monitoring_records(patients: dict[str, Patient]) -> dict[str, Any]:
    """Each patient's active home-care episode, the declaration (with a note that marks it) and the open
    danger-sign alert it raised."""
    out: dict[str, Any] = {}
    for suffix in ("a", "b"):
        patient = patients[f"pat_{suffix}"]
        declaration, _created = declaration_submit(
            patient=patient,
            actor=patient.account,
            answers={**DANGER, "note": declaration_note(suffix)},
            idempotency_key=f"matrix-{suffix}",
        )
        out[f"ep_{suffix}"] = Episode.objects.get(patient=patient, status="active")
        out[f"alert_{suffix}"] = Alert.objects.select_related("declaration").get(declaration=declaration)
        out[f"decl_{suffix}"] = declaration
    return out


def certificate_records(home_care: dict[str, Any], staff: dict[str, Any]) -> dict[str, Episode]:
    """Both episodes completed (minimum days served, a negative rapid test) by their station's staff
    (`staff`: suffix -> user), so each has a certificate."""
    out: dict[str, Episode] = {}
    for suffix in ("a", "b"):
        episode = home_care[f"ep_{suffix}"]
        day = rules.isolation_start(episode) + timedelta(
            days=policy_for(episode.facility.province_code).min_isolation_days
        )
        # The danger-sign alert is closed with an outcome in the same step (no completion over open alerts).
        out[f"cert_{suffix}"] = episode_complete(
            episode=episode,
            actor=staff[suffix],
            negative_test_date=day,
            negative_test_type="rapid",
            today=day,
            alert_outcomes={home_care[f"alert_{suffix}"].pk: "stable"},
            alert_note="Đã gọi, ổn định",
        )
    return out


# The outbox: one message of each kind of work at each side (A under TTYT Hải Dương, B at its station or at
# Bệnh viện Kiến An, outside the TTYT).
OUTBOX = {
    "sms_home_a": ("reminder", "TYT-10510"),
    "sms_home_b": ("account", "TYT-10532"),
    "sms_staff_a": ("staff_alert", "TYT-10510"),
    "sms_appt_a": ("appointment", "PK-NOI1"),
    "sms_appt_b": ("appointment_reminder", HOSPITAL_B),
    "sms_his_a": ("his_link", "TTYT-HD"),
    "sms_his_b": ("his_link", HOSPITAL_B),
    "sms_other_a": ("generic", "TTYT-HD"),
}


def outbox_records() -> dict[str, OutboxMessage]:
    hospital_b()
    out: dict[str, OutboxMessage] = {}
    for n, (key, (kind, code)) in enumerate(sorted(OUTBOX.items())):
        out[key] = OutboxMessage.objects.create(
            kind=kind,
            to=f"+8497700{n:04d}",
            body=f"Tin ma tran {key}",
            status="sent",
            facility=Facility.objects.get(code=code),
            subject_ref=f"matrix:{key}",
        )
    return out


def his_records(patients: dict[str, Patient], linker: Any, admin: Any) -> dict[str, Any]:
    """Per patient: a link request (asked on the portal, approved by a linker of that facility), the active
    link it made, one imported visit and one lab result; plus the visits the HIS reported today (the HIS
    report's figures) at both facilities."""
    facilities = {"a": Facility.objects.get(code="TTYT-HD"), "b": hospital_b()}
    deciders = {"a": linker, "b": admin}
    out: dict[str, Any] = {}
    for suffix, facility in facilities.items():
        patient = patients[f"pat_{suffix}"]
        request = his_services.link_request_create(
            patient=patient,
            identifier_type="his_code",
            identifier=f"BN-MATRIX-{suffix.upper()}",
            channel="portal",
            actor=patient.account,
            facility=facility,
            adapter=NoLookupAdapter(),
        )
        xml_patient(facility, f"BN-MATRIX-{suffix.upper()}", patient)  # a HIS code must resolve (issue 8)
        his_services.link_request_approve(
            request=request, actor=deciders[suffix], his_patient_id=f"BN-MATRIX-{suffix.upper()}"
        )
        request.refresh_from_db()
        visit = HisVisit.objects.create(
            patient=patient,
            facility=facility,
            source="xml",
            external_id=f"LK-MATRIX-{suffix.upper()}",
            admitted_at=timezone.now() - timedelta(days=3),
            icd10="I10",
            diagnosis_text=f"Chẩn đoán ma trận {suffix.upper()}",
        )
        lab = HisLabResult.objects.create(
            patient=patient,
            facility=facility,
            source="xml",
            external_id=f"LK-MATRIX-{suffix.upper()}:1",
            visit=visit,
            visit_ref=visit.external_id,
            name=f"Glucose ma trận {suffix.upper()}",
            value="7.8",
            flag="H",
            observed_at=timezone.now() - timedelta(days=3),
        )
        HisVisitSeen.objects.create(
            facility=facility,
            source="xml",
            external_id=visit.external_id,
            day=timezone.localdate(),
            department_code="K01",
            patient_key=f"matrix-{suffix}",
            linked=True,
        )
        out.update({f"link_{suffix}": request, f"visit_{suffix}": visit, f"lab_{suffix}": lab})
    return out


# --- Personal-data rights (health_f0.privacy) --------------------------------------------------------

# A consent given by phone at Bệnh viện Kiến An for someone with no patient record yet (a phone booking):
# nobody's account proves this number.
CONSENT_KA_PHONE = "+84977009990"


def privacy_reason(suffix: str) -> str:
    """The reason written on a patient's matrix request: what marks it on a page."""
    return f"Lý do ma trận {suffix.upper()}"


def privacy_records(patients: dict[str, Patient], publisher: Any) -> dict[str, Any]:
    """Per patient: a consent given on the portal (at the station managing the patient) and a withdrawal
    request the patient sent (queued at that station); a consent given by phone at Bệnh viện Kiến An with no
    patient record (cons_ka); a policy version published to take effect next month (it changes nobody's
    consent today); one retention run."""
    from health_f0.privacy import retention
    from health_f0.privacy import services as privacy_services
    from health_f0.privacy.models import ConsentChannel, ConsentMethod, RequestChannel, RequestKind

    out: dict[str, Any] = {}
    for suffix in ("a", "b"):
        patient = patients[f"pat_{suffix}"]
        out[f"cons_{suffix}"] = privacy_services.consent_record(
            channel=ConsentChannel.PORTAL, user=patient.account, patient=patient
        )
        out[f"req_{suffix}"] = privacy_services.request_submit(
            user=patient.account,
            patient=patient,
            kind=RequestKind.WITHDRAW,
            reason=privacy_reason(suffix),
            channel=RequestChannel.PORTAL,
        )
    out["cons_ka"] = privacy_services.consent_record(
        channel=ConsentChannel.PHONE_BOOKING,
        method=ConsentMethod.ORAL,
        phone=CONSENT_KA_PHONE,
        facility=hospital_b(),
    )
    out["policy"] = privacy_services.policy_publish(
        version="2099-mt",
        effective_from=timezone.now() + timedelta(days=30),
        summary="Phiên bản ma trận",
        actor=publisher,
    )
    out["run"] = retention.retention_run(kind="otp")
    return out


def export_records(patients: dict[str, Patient]) -> dict[str, Any]:
    """Each patient account's readable PDF copy, asked for and built (the caller runs the on-commit build)."""
    from health_f0.privacy import exports

    return {f"export_{s}": exports.export_pdf_request(user=patients[f"pat_{s}"].account) for s in ("a", "b")}


# --- An account that is not an F0 patient (issue 12, section 1: sign-up) ---------------------------------

RESIDENT_PHONE = "+84986555444"
RESIDENT_NAME = "Đỗ Thị Cư Dân"


def resident_account() -> Patient:
    """A resident who opened an account by sign-up (accounts.signup): no station, no registration. The OTP is
    planted as the hash of a known code (the SMS is not read here)."""
    from datetime import date

    from health_f0.accounts.signup import account_signup
    from health_f0.patients.models import OtpChallenge
    from health_f0.patients.otp import _hash

    OtpChallenge.objects.create(
        phone=RESIDENT_PHONE,
        purpose="signup",
        code_hash=_hash(RESIDENT_PHONE, "signup", "246810"),
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    return account_signup(
        phone=RESIDENT_PHONE,
        otp="246810",
        full_name=RESIDENT_NAME,
        date_of_birth=date(1985, 4, 4),
        sex="female",
        password="Cu-dan-tinh-2026",
        consent=True,
    ).patient


def payment_records(appointments: dict[str, Appointment]) -> dict[str, Any]:
    """pay_a / pay_b: a paid booking fee of appt_a (under TTYT-HD) / of appt_b (HOSPITAL_B), as the gateway's
    callback leaves it; and a gateway-answer log row (PaymentEvent) for each."""
    from health_f0.payments.models import Payment, PaymentEvent, new_reference

    out: dict[str, Any] = {}
    for suffix in ("a", "b"):
        appointment = appointments[f"appt_{suffix}"]
        payment = Payment.objects.create(
            facility=appointment.facility,
            patient=appointment.patient,
            purpose="booking_fee",
            appointment=appointment,
            amount=150_000,
            gateway="vnpay",
            reference=new_reference(),
            status="paid",
            paid_at=timezone.now(),
            expires_at=timezone.now() + timedelta(minutes=30),
        )
        PaymentEvent.objects.create(
            gateway="vnpay",
            kind="ipn",
            reference=payment.reference,
            payment=payment,
            facility=payment.facility,
            verified=True,
            result="ok",
            amount=150_000,
        )
        out[f"pay_{suffix}"] = payment
    return out


def accounting_records(patients: dict[str, Patient], admin: Any) -> dict[str, Any]:
    """Per patient a payment paid today whose refund through the gateway failed (so it is on the accountant's
    refund worklist, has a receipt and counts in the payments report): pay_a at TTYT-HD, pay_b at HOSPITAL_B;
    and each facility's reconciliation of today (rec_a, rec_b), where the payment is "missing on their side"."""
    from health_f0.accounting.services import reconciliation_run
    from health_f0.accounting.tests.builders import paid_payment

    facilities = {"a": Facility.objects.get(code="TTYT-HD"), "b": hospital_b()}
    out: dict[str, Any] = {}
    for suffix, facility in facilities.items():
        out[f"pay_{suffix}"] = paid_payment(
            patient=patients[f"pat_{suffix}"], facility=facility, amount=120_000, status="refund_failed"
        )
        out[f"rec_{suffix}"] = reconciliation_run(
            facility=facility, gateway="vnpay", day=timezone.localdate(), lines=[], actor=admin
        )
    return out
