"""A phone number counts only once it answered an OTP (follow-ups of issue 8, item 2).

Two places still trusted a number nobody proved:

- Consents (privacy): an account's consent history and "has agreed to the policy in force" matched consent
  records by the account's phone (User.phone), an editable field. They now follow the verified phone of the
  patients the account acts for (access.own_patients_for), as family access does.
- The SMS link of a booking (/lich-hen/<id>): whoever held the patient's *current* phone could get an OTP,
  then open, move and cancel the patient's bookings — even right after the desk had corrected the number
  without any proof. The number that answers for a booking is now the patient's verified phone (the bond) or
  the phone the booking was made with; a correction made after the booking gives its new number nothing
  until that number answers an OTP (the desk's or the portal's verification).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from health_f0.appointments import services as appt_services
from health_f0.appointments.models import Appointment, Status
from health_f0.core.actors import PhoneHolder
from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities import access
from health_f0.facilities.access import owns_patient
from health_f0.patients.bonds import phone_verification_confirm, phone_verification_send
from health_f0.patients.models import Patient
from health_f0.patients.otp import otp_request
from health_f0.privacy import selectors as privacy_selectors
from health_f0.privacy import services as privacy_services
from health_f0.privacy.models import ConsentChannel
from health_f0.registration.models import Registration
from health_f0.registration.services import registration_accept
from tests.access_records import portal_ready
from tests.security.test_family import NEW_PHONE, _correct_phone, _nurse_desk
from tests.www.test_appointments_portal import GUEST_E164, at, make_service, open_day, text

pytestmark = pytest.mark.django_db


def _fresh(user: Any) -> Any:
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def hung(demo: Any) -> Patient:
    """The demo patient: his phone is proved (the demo's bond)."""
    return portal_ready(Patient.objects.select_related("account").get(account__username="bn0000001"))


@pytest.fixture
def dung(persona: Any) -> Patient:
    """Another family: Lê Thị Dung, registered on the portal at Lê Thanh Nghị (the demo's pending one)."""
    registration = Registration.objects.get(full_name="Lê Thị Dung")
    patient = registration_accept(registration=registration, actor=persona("lethanhnghi.nv")).patient
    assert patient is not None
    return portal_ready(patient)


# --- Consents follow the verified phone ----------------------------------------------------------------


def test_consents_follow_the_verified_phone_not_the_account_phone(hung: Patient, dung: Patient) -> None:
    assert dung.verified_phone == dung.phone  # accepted from a portal registration: its OTP made the bond
    theirs = privacy_services.consent_record(channel=ConsentChannel.REGISTRATION_WEB, phone=dung.phone)
    mine = privacy_services.consent_record(channel=ConsentChannel.REGISTRATION_WEB, phone=hung.phone)
    # Hùng's account phone is edited to Dung's number (no OTP): her consents stay hers.
    get_user_model().objects.filter(pk=hung.account_id).update(phone=dung.phone)
    seen = set(access.consents_for(_fresh(hung.account)))
    assert mine in seen and theirs not in seen
    assert theirs in set(access.consents_for(_fresh(dung.account)))


def test_someone_elses_consent_never_counts_for_an_account(
    hung: Patient, dung: Patient, persona: Any
) -> None:
    """A new policy version: Dung agrees to it. Hùng, whose account phone was edited to Dung's number, must
    still be asked — and what Hùng's account agrees to is recorded with Hùng's verified number."""
    policy = privacy_services.policy_publish(
        version="2026-03",
        effective_from=timezone.now() - timedelta(seconds=1),
        summary="Phiên bản thử nghiệm.",
        actor=persona("syt.lanhdao"),
    )
    cache.delete(privacy_selectors.POLICY_CACHE_KEY)
    get_user_model().objects.filter(pk=hung.account_id).update(phone=dung.phone)
    privacy_services.consent_give(user=_fresh(dung.account), channel="portal", policy_version=policy.version)
    assert privacy_selectors.agreed_version(_fresh(dung.account)) == policy.version
    assert privacy_selectors.agreed_version(_fresh(hung.account)) != policy.version
    record = privacy_services.consent_give(
        user=_fresh(hung.account), channel="portal", policy_version=policy.version
    )
    assert record.phone == hung.verified_phone
    assert privacy_selectors.agreed_version(_fresh(hung.account)) == policy.version


# --- The booking's SMS link binds to a verified phone ------------------------------------------------


@pytest.fixture
def booking(hung: Patient) -> Appointment:
    service = make_service()
    return appt_services.appointment_book(
        patient=hung, service=service, slot_start=at(open_day(service), 9), channel="web", actor=hung.account
    )


def _otp_for(phone: str, sms: Any, capture: Any) -> str:
    """A valid booking code for `phone`, as anyone holding it can get one (the guest booking form)."""
    with capture(execute=True):
        otp_request(phone=phone, purpose="booking", ip="203.0.113.9")
    return sms.last_otp(phone)


def test_a_desk_correction_gives_the_new_number_no_access_to_earlier_bookings(
    hung: Patient,
    booking: Appointment,
    persona: Any,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # No OTP: a typo, or someone who talked the desk into it.
    _correct_phone(_nurse_desk(persona), hung, NEW_PHONE)
    url = f"/lich-hen/{booking.public_id}"
    holder = Client()
    gate = holder.get(url)
    assert gate.status_code == 200
    page = text(gate)
    # No code is offered to the new number, and the page says what to do instead.
    assert "Nhận OTP" not in page and "0986 *** 111" not in page
    assert "chưa được xác thực" in page
    with django_capture_on_commit_callbacks(execute=True):
        asked = holder.post(url, {"action": "otp"})
    assert asked.status_code == 400
    assert not [m for m in sms.messages() if m["to"] == NEW_PHONE and m["kind"] == "otp"]
    # A booking code for the new number, got elsewhere, opens nothing.
    code = _otp_for(NEW_PHONE, sms, django_capture_on_commit_callbacks)
    refused = holder.post(url, {"action": "verify", "otp": code})
    assert refused.status_code == 400
    assert hung.full_name not in text(holder.get(url))
    for path in ("/huy", "/doi-lich"):
        assert holder.get(url + path)["Location"] == url
    # The services refuse the new number's holder too.
    hung.refresh_from_db()
    impostor = PhoneHolder(phone=NEW_PHONE, booking=booking)
    assert not owns_patient(impostor, hung)
    with pytest.raises(PermissionDenied):
        appt_services.appointment_cancel(appointment=booking, actor=impostor)
    booking.refresh_from_db()
    assert booking.status in (Status.REQUESTED, Status.CONFIRMED)


def test_a_verified_session_ends_when_the_number_is_corrected(
    hung: Patient,
    booking: Appointment,
    persona: Any,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A browser that proved the old number keeps nothing once the number changes: the booking's number is
    checked on every request, not only at the gate."""
    url = f"/lich-hen/{booking.public_id}"
    holder = Client()
    with django_capture_on_commit_callbacks(execute=True):
        assert holder.post(url, {"action": "otp"}).status_code == 200
    code = sms.last_otp(hung.phone)
    assert holder.post(url, {"action": "verify", "otp": code}).status_code == 302
    assert hung.full_name in text(holder.get(url))
    _correct_phone(_nurse_desk(persona), hung, NEW_PHONE)
    assert hung.full_name not in text(holder.get(url))
    assert holder.post(url + "/huy", {"reason": "x"})["Location"] == url
    booking.refresh_from_db()
    assert booking.status in (Status.REQUESTED, Status.CONFIRMED)


def test_the_new_number_answers_once_proved_or_for_bookings_made_with_it(
    hung: Patient,
    booking: Appointment,
    persona: Any,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    nurse = persona("thanhdong.nv")
    _correct_phone(_nurse_desk(persona), hung, NEW_PHONE)
    # A booking made after the correction was made with the new number: its holder answers for that one.
    service = make_service()
    later = appt_services.appointment_book(
        patient=hung,
        service=service,
        slot_start=at(open_day(service, 6), 10),
        channel="phone",
        actor=persona("datlich"),
    )
    hung.refresh_from_db()
    assert owns_patient(PhoneHolder(phone=NEW_PHONE, booking=later), hung)
    assert not owns_patient(PhoneHolder(phone=NEW_PHONE, booking=booking), hung)
    # The desk proves the new number (OTP read out to the clerk): from then on it answers for every booking.
    with django_capture_on_commit_callbacks(execute=True):
        phone_verification_send(patient=hung, actor=nurse, ip=None)
    phone_verification_confirm(patient=hung, actor=nurse, code=sms.last_otp(NEW_PHONE))
    hung.refresh_from_db()
    assert hung.verified_phone == NEW_PHONE
    url = f"/lich-hen/{booking.public_id}"
    holder = Client()
    with django_capture_on_commit_callbacks(execute=True):
        assert holder.post(url, {"action": "otp"}).status_code == 200
    assert holder.post(url, {"action": "verify", "otp": sms.last_otp(NEW_PHONE)}).status_code == 302
    assert hung.full_name in text(holder.get(url))
    assert holder.post(url + "/huy", {"reason": ""}).status_code == 302
    booking.refresh_from_db()
    assert booking.status == Status.CANCELLED and booking.cancel_source == "patient"


def test_an_account_phone_opens_no_gate_to_another_patients_booking(
    hung: Patient, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """An account whose (editable) phone equals a guest booking's number is not that number's holder: the
    booking is "not found" for it, as for any other account."""
    service = make_service()
    guest = appt_services.appointment_book_guest(
        service=service,
        slot_start=at(open_day(service), 8),
        full_name="Lê Thị Hoa",
        date_of_birth=date(1985, 3, 12),
        sex="female",
        phone=GUEST_E164,
        otp=_otp_for(GUEST_E164, sms, django_capture_on_commit_callbacks),
    )
    assert guest.patient.phone == GUEST_E164
    get_user_model().objects.filter(pk=hung.account_id).update(phone=GUEST_E164)
    portal = Client()
    portal.force_login(_fresh(hung.account))
    assert portal.get(f"/lich-hen/{guest.public_id}").status_code == 404
