"""Issue 8, item 2: family access follows a verified phone, not an editable field.

Accounts act for each other when their patients' phones were proved by OTP to be the same number (the
family bond: made by a registration's OTP, a sign-up's OTP, or a desk change confirmed by an OTP to the new
number). A staff correction of a phone, or an edit of an account's phone, gives nobody access; the bond
moves only when the new number answers an OTP, read out to the desk or typed by the patient on the portal.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from health_f0.core.exceptions import NotFound
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.monitoring import selectors as monitoring_selectors
from health_f0.patients.models import Patient
from health_f0.patients.otp import otp_request
from health_f0.registration.models import Channel, Registration
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    registration_accept,
    registration_create_by_staff,
    registration_submit,
    registration_validate,
)
from tests.access_records import portal_ready

pytestmark = pytest.mark.django_db

HUNG_PHONE = "+84912345678"
NEW_PHONE = "+84986000111"


def _fresh(user: Any) -> Any:
    """A new user object: access caches what it read on the object."""
    return get_user_model().objects.get(pk=user.pk)


def _input(**overrides: Any) -> RegistrationInput:
    values: dict[str, Any] = {
        "full_name": "Trần Thị Mai",
        "date_of_birth": date(1990, 5, 2),
        "sex": "female",
        "phone": "0977 000 444",
        "province_code": 31,
        "ward_code": 10510,
        "test_type": "rapid",
        "positive_date": timezone.localdate() - timedelta(days=1),
        "care": "self_care",
        "consent": True,
    }
    values.update(overrides)
    return RegistrationInput(**values)


def _web_patient(persona: Any, **overrides: Any) -> Patient:
    """A patient accepted from a portal registration (the portal asks an OTP before it takes the form)."""
    data = registration_validate(_input(**overrides))
    registration = _create(
        data, channel=Channel.WEB, facility=Facility.objects.get(code="TYT-10510"), actor=None
    )
    patient = registration_accept(registration=registration, actor=persona("thanhdong.nv")).patient
    assert patient is not None
    return portal_ready(patient)


@pytest.fixture
def hung(demo: Any) -> Patient:
    return portal_ready(Patient.objects.select_related("account").get(account__username="bn0000001"))


@pytest.fixture
def dung(persona: Any) -> Patient:
    """Another family: Lê Thị Dung, registered on the portal at Lê Thanh Nghị (the demo's pending one)."""
    registration = Registration.objects.get(full_name="Lê Thị Dung")
    patient = registration_accept(registration=registration, actor=persona("lethanhnghi.nv")).patient
    assert patient is not None
    return portal_ready(patient)


def _nurse_desk(persona: Any) -> Client:
    client = Client()
    client.force_login(persona("thanhdong.nv"))
    return client


def _correct_phone(client: Client, patient: Patient, phone: str) -> Any:
    """The station corrects a phone in the patient's desk form (no OTP)."""
    patient.refresh_from_db()
    data = {
        "full_name": patient.full_name,
        "date_of_birth": patient.date_of_birth.strftime("%d/%m/%Y"),
        "sex": patient.sex,
        "phone": phone,
        "cccd": patient.cccd,
        "bhyt": patient.bhyt,
        "street": patient.street,
    }
    response = client.post(reverse("admin:patients_patient_change", args=[patient.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    patient.refresh_from_db()
    return response


def _acts_for(user: Any, patient: Patient) -> bool:
    """Whether the account may act for the patient, on every path that decides it."""
    user = _fresh(user)
    own = patient in set(access.own_patients_for(user))
    seen = patient in set(access.patients_for(_fresh(user)))
    try:
        monitoring_selectors.declaring_patient(user=_fresh(user), public_id=patient.public_id)
        declares = True
    except NotFound:
        declares = False
    portal = Client()
    portal.force_login(user)
    history = portal.get("/lich-su", {"nguoi-benh": str(patient.public_id)}).status_code
    assert history in (200, 404)
    assert own == seen == declares == (history == 200), (own, seen, declares, history)
    return own


def test_a_desk_correction_of_a_phone_opens_nothing_to_the_family_on_that_number(
    hung: Patient, dung: Patient, persona: Any
) -> None:
    """The incident: a station corrected Hùng's phone to a number that belongs to Dung's family, and Dung's
    account could read Hùng's declarations, visits and bookings at once."""
    assert not _acts_for(dung.account, hung)
    _correct_phone(_nurse_desk(persona), hung, dung.phone)
    assert hung.phone == dung.phone
    assert not _acts_for(dung.account, hung)
    assert not _acts_for(hung.account, dung)
    portal = Client()
    portal.force_login(_fresh(dung.account))
    assert hung.full_name not in portal.get("/ca-nhan").content.decode()
    assert _acts_for(hung.account, hung)  # the patient keeps his own record


def test_an_edit_of_an_accounts_phone_opens_nothing(hung: Patient, dung: Patient) -> None:
    account = _fresh(dung.account)
    account.phone = hung.phone
    account.save(update_fields=["phone"])
    assert not _acts_for(account, hung)


def test_a_registration_otp_makes_the_bond_and_a_desk_registration_does_not(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from health_f0.patients.models import PhoneBond

    phone = "+84977000444"
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(phone=phone, purpose="registration", ip="10.0.0.8")
    registration = registration_submit(data=_input(), otp=sms.last_otp(phone))
    mother = registration_accept(registration=registration, actor=persona("thanhdong.nv")).patient
    assert mother is not None
    bond = PhoneBond.objects.get(patient=mother)
    assert (bond.phone, bond.method, bond.evidence) == (
        phone,
        "registration_otp",
        f"registration:{registration.pk}",
    )
    assert bond.ended_at is None and bond.verified_by is None
    mother.refresh_from_db()
    assert mother.verified_phone == phone
    row = AuditLog.objects.filter(
        target_type="patients.patient", target_id=str(mother.pk), verb="phone_bond"
    ).get()
    assert row.data["method"] == "registration_otp" and phone not in str(row.data)
    # The station registers the son at the desk with the same phone: no OTP, so no bond.
    son_registration = registration_create_by_staff(
        data=_input(full_name="Lê Văn An", date_of_birth=date(2015, 2, 3), sex="male"),
        actor=persona("thanhdong.nv"),
        station=Facility.objects.get(code="TYT-10510"),
    )
    son = son_registration.patient
    assert son is not None
    assert not PhoneBond.objects.filter(patient=son).exists()
    portal_ready(mother)
    portal_ready(son)
    assert not _acts_for(mother.account, son) and not _acts_for(son.account, mother)
    assert _acts_for(son.account, son)


def test_family_bond_made_on_both_sides_is_a_family(hung: Patient, persona: Any) -> None:
    child = _web_patient(
        persona, full_name="Nguyễn Minh Khang", date_of_birth=date(2019, 4, 12), phone=HUNG_PHONE
    )
    assert _acts_for(hung.account, child) and _acts_for(child.account, hung)


def test_a_correction_ends_the_bond_on_the_old_number(hung: Patient, persona: Any) -> None:
    """A number the patient no longer uses may be given to someone else: the desk's correction ends the bond
    on it (the patient's own account still works); a later OTP to the new number makes the new one."""
    from health_f0.patients.models import PhoneBond

    child = _web_patient(
        persona, full_name="Nguyễn Minh Khang", date_of_birth=date(2019, 4, 12), phone=HUNG_PHONE
    )
    assert _acts_for(child.account, hung)
    _correct_phone(_nurse_desk(persona), hung, NEW_PHONE)
    assert not _acts_for(child.account, hung) and not _acts_for(hung.account, child)
    hung.refresh_from_db()
    assert hung.verified_phone == ""
    ended = PhoneBond.objects.filter(patient=hung).latest("id")
    assert ended.ended_at is not None and ended.end_reason == "phone_corrected"
    row = AuditLog.objects.filter(target_id=str(hung.pk), verb="phone_bond_end").latest("id")
    assert row.actor == persona("thanhdong.nv")


def test_desk_change_confirmed_by_an_otp_to_the_new_number(
    hung: Patient, dung: Patient, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """change request (the correction) -> OTP SMS to the new number -> the clerk enters the code the patient
    reads out -> bond made and audited. A wrong code makes nothing."""
    from health_f0.patients.models import PhoneBond

    client = _nurse_desk(persona)
    _correct_phone(client, hung, dung.phone)
    page = client.get(reverse("admin:patients_patient_change", args=[hung.pk])).content.decode()
    assert "Chưa xác thực" in page
    send = reverse("admin:patients_patient_phone_code_send_action", args=[hung.pk])
    confirm = reverse("admin:patients_patient_phone_code_confirm_action", args=[hung.pk])
    assert client.get(send).status_code == 200  # a GET shows the dialog and texts no one
    assert not [m for m in sms.messages() if m["kind"] == "otp"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(send, {"_form_submitted": "on"})
    assert response.status_code == 302
    code = sms.last_otp(dung.phone)
    sent = sms.last(to=dung.phone, kind="otp")["body"]
    assert "xac thuc so dien thoai" in sent
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(confirm, {"_form_submitted": "on", "code": wrong})
    assert "Mã OTP không đúng" in response.content.decode()
    assert not _acts_for(dung.account, hung)
    response = client.post(confirm, {"_form_submitted": "on", "code": code})
    assert response.status_code == 302
    bond = PhoneBond.objects.get(patient=hung, ended_at__isnull=True)
    assert (bond.phone, bond.method, bond.verified_by) == (dung.phone, "desk_otp", persona("thanhdong.nv"))
    # Now the number is proved to be Hùng's too: the family on it acts for each other.
    assert _acts_for(dung.account, hung) and _acts_for(hung.account, dung)
    verbs = list(
        AuditLog.objects.filter(target_type="patients.patient", target_id=str(hung.pk)).values_list(
            "verb", flat=True
        )
    )
    assert {"update_details", "phone_verify_request", "phone_bond"} <= set(verbs)
    # Proved: the buttons are gone, and the code served once.
    page = client.get(reverse("admin:patients_patient_change", args=[hung.pk])).content.decode()
    assert "gui-ma-xac-thuc/" not in page and "Đã xác thực" in page
    assert client.post(confirm, {"_form_submitted": "on", "code": code}).status_code == 403
    assert PhoneBond.objects.filter(patient=hung, ended_at__isnull=True).count() == 1


def test_only_staff_who_may_edit_the_patient_send_or_confirm_codes(
    hung: Patient, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from health_f0.core.exceptions import PermissionDenied
    from health_f0.patients import bonds

    _correct_phone(_nurse_desk(persona), hung, NEW_PHONE)
    url = reverse("admin:patients_patient_phone_code_send_action", args=[hung.pk])
    for username in ("lethanhnghi.nv", "datlich", "ttyt.lanhdao"):
        client = Client()
        client.force_login(persona(username))
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(url, {"_form_submitted": "on"}).status_code in (302, 403, 404), username
        with pytest.raises(PermissionDenied):
            bonds.phone_verification_send(patient=hung, actor=persona(username), ip=None)
    # A family member cannot prove the patient's phone either: the bond is the patient's own.
    child = _web_patient(
        persona, full_name="Nguyễn Minh Khang", date_of_birth=date(2019, 4, 12), phone=HUNG_PHONE
    )
    with pytest.raises(PermissionDenied):
        bonds.phone_verification_send(patient=hung, actor=child.account, ip=None)
    assert not [m for m in sms.messages() if m["kind"] == "otp"]


def _family_page(client: Client) -> str:
    response = client.get(reverse("www:family"))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_patient_sees_who_can_act_for_them(hung: Patient, dung: Patient, persona: Any) -> None:
    child = _web_patient(
        persona, full_name="Nguyễn Minh Khang", date_of_birth=date(2019, 4, 12), phone=HUNG_PHONE
    )
    portal = Client()
    portal.force_login(child.account)
    page = _family_page(portal)
    assert "Ai có thể thay mặt tôi" in page
    assert "Nguyễn Văn Hùng" in page and dung.full_name not in page
    assert "0912 *** 678" in page and "Đã xác thực" in page
    assert "OTP khi đăng ký" in page


def test_the_patient_confirms_a_corrected_phone_on_the_portal(
    hung: Patient, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from health_f0.patients.models import PhoneBond

    _correct_phone(_nurse_desk(persona), hung, NEW_PHONE)
    portal = Client()
    portal.force_login(_fresh(hung.account))
    page = _family_page(portal)
    assert "chưa được xác thực" in page and "0986 *** 111" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = portal.post(reverse("www:family"), {"step": "send"})
    assert response.status_code == 302
    code = sms.last_otp(NEW_PHONE)
    wrong = portal.post(reverse("www:family"), {"step": "confirm", "otp": "12"})
    assert wrong.status_code == 400 and "Mã OTP" in wrong.content.decode()
    response = portal.post(reverse("www:family"), {"step": "confirm", "otp": code})
    assert response.status_code == 302
    bond = PhoneBond.objects.get(patient=hung, ended_at__isnull=True)
    assert (bond.phone, bond.method, bond.verified_by) == (NEW_PHONE, "portal_otp", None)
    assert AuditLog.objects.filter(target_id=str(hung.pk), verb="phone_bond", actor=hung.account).exists()
    assert "Đã xác thực" in _family_page(portal)


def test_the_family_page_is_for_patients(hung: Patient, persona: Any) -> None:
    anonymous = Client().get(reverse("www:family"))
    assert anonymous.status_code == 302 and "dang-nhap" in anonymous["Location"]
    staff = Client()
    staff.force_login(persona("thanhdong.nv"))
    response = staff.get(reverse("www:family"))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_existing_patients_from_an_otp_registration_count_as_verified(hung: Patient, persona: Any) -> None:
    """The data migration: a patient accepted from a portal/app registration (which needs an OTP) whose phone
    is still the registered one is bonded; a desk registration or a phone changed since is not."""
    import importlib

    from django.apps import apps

    from health_f0.patients.models import PhoneBond

    migration = importlib.import_module("health_f0.patients.migrations.0002_family_bond")
    web = _web_patient(persona, full_name="Phạm Thu Hà", phone="0977 000 555")
    moved = _web_patient(persona, full_name="Phạm Văn Long", phone="0977 000 666")
    Patient.objects.filter(pk=moved.pk).update(phone="+84977000777")
    desk = registration_create_by_staff(
        data=_input(full_name="Đỗ Thị Hoa", phone="0977 000 888"),
        actor=persona("thanhdong.nv"),
        station=Facility.objects.get(code="TYT-10510"),
    ).patient
    PhoneBond.objects.all().delete()
    Patient.objects.update(verified_phone="")
    migration.bond_otp_registrations(apps, None)
    bonded = dict(PhoneBond.objects.values_list("patient_id", "phone"))
    assert bonded.get(web.pk) == "+84977000555"
    assert moved.pk not in bonded and desk.pk not in bonded and hung.pk not in bonded
    bond = PhoneBond.objects.get(patient=web)
    registration = Registration.objects.get(patient=web)
    assert bond.method == "registration_otp" and bond.evidence == f"registration:{registration.pk}"
    assert bond.verified_at == registration.created_at
    web.refresh_from_db()
    assert web.verified_phone == "+84977000555"
