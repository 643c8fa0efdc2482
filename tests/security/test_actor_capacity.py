"""access.actor_capacity_or_none (the truth-only form of actor_capacity that core.workflow's available_each asks,
issue 11) is the same rule as actor_capacity: for every persona of the access matrix, the patients' own accounts,
a family account on patient A's phone, the holder of a number (core.actors.PhoneHolder), an anonymous user and
the system (None), for the roles of every transition of every workflow, at the facilities of the matrix's
records and none, with each patient and requester: it answers the capacity actor_capacity answers, and None
exactly where actor_capacity refuses (PermissionDenied). The workflows' authorizers (access.Authorizer) agree the
same way on the matrix's records; and the booking desk's page answer (available_each, keyed by the attributes the
authorizer reads: transitions.authorize_reads) is `check`'s answer for each booking, for every persona."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from health_f0.accounting.transitions import RECONCILIATION_WORKFLOW
from health_f0.appointments.models import Appointment
from health_f0.appointments.transitions import APPOINTMENT_WORKFLOW
from health_f0.core.actors import PhoneHolder
from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.his.tests.conftest import make_patient
from health_f0.his.transitions import LINK_WORKFLOW
from health_f0.monitoring.transitions import EPISODE_WORKFLOW
from health_f0.patients.bonds import phone_bond_record
from health_f0.patients.models import BondMethod
from health_f0.payments.transitions import PAYMENT_WORKFLOW
from health_f0.privacy.transitions import REQUEST_WORKFLOW
from health_f0.registration.transitions import REGISTRATION_WORKFLOW
from tests.api.test_appointment_sql_lists import _checked
from tests.security.test_restricted import _fresh, matrix  # noqa: F401 - the fixtures
from tests.test_access_matrix import PERSONAS

pytestmark = pytest.mark.django_db

WORKFLOWS = (
    APPOINTMENT_WORKFLOW,
    REGISTRATION_WORKFLOW,
    EPISODE_WORKFLOW,
    LINK_WORKFLOW,
    RECONCILIATION_WORKFLOW,
    PAYMENT_WORKFLOW,
    REQUEST_WORKFLOW,
)
ROLE_SETS = sorted({t.roles for wf in WORKFLOWS for t in wf.transitions}, key=sorted)


@pytest.fixture
def actors(matrix: dict[str, Any]) -> list[tuple[str, Any]]:  # noqa: F811 - the fixture
    """(label, actor): the matrix's personas, the patients' accounts, a family account on A's phone, phone
    holders of A's booking (the right number and another), an anonymous user and the system."""
    patient_a = matrix["patients"]["pat_a"]
    account = get_user_model().objects.create_user(username="bn-con-capacity", phone=patient_a.phone)
    child = make_patient(
        name="Nguyễn Minh Khang", born=date(2015, 6, 1), phone=patient_a.phone, account=account
    )
    phone_bond_record(patient=child, phone=patient_a.phone, method=BondMethod.PORTAL_OTP, actor=None)
    booking = matrix["appt_a"]
    return [
        *((name, _fresh(name)) for name in PERSONAS),
        *((key, _fresh(p.account.username)) for key, p in matrix["patients"].items()),
        ("family", _fresh(account.username)),
        (
            "phone-holder",
            PhoneHolder(phone=str(patient_a.verified_phone or patient_a.phone), booking=booking),
        ),
        ("other-phone", PhoneHolder(phone="+84909000999", booking=booking)),
        ("anonymous", AnonymousUser()),
        ("system", None),
    ]


def _raised(actor: Any, roles: frozenset[str], **where: Any) -> str | None:
    try:
        return access.actor_capacity(actor, roles, **where)
    except PermissionDenied:
        return None


def _rule_as_written_before(
    actor: Any, roles: frozenset[str], *, facility: Any, patient: Any, requester: Any
) -> str | None:
    """The oracle: actor_capacity's rule as it read before its truth-only form (8bbcf56), a refusal as None."""
    from health_f0.core import actors as core_actors

    if actor is None:
        return core_actors.SYSTEM if core_actors.SYSTEM in roles else None
    staff_roles = roles - core_actors.PSEUDO_ROLES
    if (
        staff_roles
        and not isinstance(actor, core_actors.PhoneHolder)
        and access.can_act_at(actor, facility, staff_roles)
    ):
        return core_actors.STAFF
    if core_actors.PATIENT in roles and patient is not None and access.owns_patient(actor, patient):
        return core_actors.PATIENT
    if core_actors.REQUESTER in roles and requester is not None:
        requester_pk = getattr(requester, "pk", requester)
        if requester_pk is not None and requester_pk == core_actors.actor_id(actor):
            return core_actors.REQUESTER
    return None


def test_the_truth_only_capacity_is_actor_capacitys_answer_for_every_actor(
    matrix: dict[str, Any],  # noqa: F811 - the fixture
    actors: list[tuple[str, Any]],
) -> None:
    patients = [None, *matrix["patients"].values()]
    facilities = [
        None,
        matrix["appt_a"].facility,
        matrix["appt_b"].facility,
        *Facility.objects.filter(code__in=("TYT-10510", "TYT-10532", "TTYT-HD")),
    ]
    someone = get_user_model().objects.get(username="admin")
    answered: set[str | None] = set()
    for label, actor in actors:
        for roles in ROLE_SETS:
            for facility in facilities:
                for patient in patients:
                    for requester in (None, someone, actor if actor is not None else None):
                        where = {"facility": facility, "patient": patient, "requester": requester}
                        expected = _rule_as_written_before(actor, roles, **where)
                        got = access.actor_capacity_or_none(actor, roles, **where)
                        assert got == expected, (label, sorted(roles), facility, patient, requester)
                        assert _raised(actor, roles, **where) == expected
                        answered.add(got)
    # Every capacity comes up, and refusals too: the grid is not trivially all-refused.
    assert answered == {None, "staff", "patient", "requester", "system"}


def test_the_workflows_authorizers_agree_on_the_matrixs_records(
    matrix: dict[str, Any],  # noqa: F811 - the fixture
    actors: list[tuple[str, Any]],
) -> None:
    bookings = [matrix["appt_a"], matrix["appt_b"]]
    authorize: Any = APPOINTMENT_WORKFLOW._authorize
    assert isinstance(authorize, access.Authorizer)
    for workflow in WORKFLOWS:
        assert isinstance(workflow._authorize, access.Authorizer), workflow.name
    for label, actor in actors:
        for booking in bookings:
            for roles in ROLE_SETS:
                try:
                    expected: str | None = authorize(booking, roles, actor)
                except PermissionDenied:
                    expected = None
                assert authorize.or_none(booking, roles, actor) == expected, (label, sorted(roles))


def test_a_pages_actions_are_checks_for_every_actor(
    matrix: dict[str, Any],  # noqa: F811 - the fixture
    actors: list[tuple[str, Any]],
) -> None:
    """available_each asks the truth-only capacity, once per facility (the system's roles once a page) and per
    patient where the patient may act: each booking's actions are still what `check` allows, for every actor,
    in every status."""
    chosen = [*Appointment.objects.order_by("id")[:4], matrix["appt_a"], matrix["appt_b"]]
    bookings = []
    for booking in chosen:
        # Each booking as it is and as one of either matrix patient (not saved): one facility's page holds
        # several patients' bookings, some the actor's own.
        for patient in (None, *matrix["patients"].values()):
            for status in ("requested", "confirmed", "checked_in", "completed", "cancelled", "no_show"):
                copy = Appointment.objects.select_related("service", "facility", "patient").get(pk=booking.pk)
                copy.status = status
                if patient is not None:
                    copy.patient = patient
                bookings.append(copy)
    opened = 0
    for now in (timezone.now(), timezone.now() + timedelta(days=3)):
        for label, actor in actors:
            expected = [_checked(booking, actor, now) for booking in bookings]
            got = APPOINTMENT_WORKFLOW.available_each(bookings, actor, now=now)
            assert got == expected, label
            opened += sum(len(actions) for actions in got)
    assert opened
