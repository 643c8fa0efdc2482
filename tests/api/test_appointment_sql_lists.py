"""The appointment lists written as constant SQL (issue 11: appointments/sql/) keep the rows, the order and the
answer of the ORM queries and serializers they replace: the booking desk's worklist (appointments.sql.worklist
against selectors.staff_appointments and StaffAppointmentListItemSerializer) and the patient's bookings
(appointments.sql.bookings against access.appointments_for and AppointmentSerializer), for every persona of the
access matrix, restricted patient A included (hidden from the booking desk and reception, who do not read
restricted records), a family member, another family, and tokens on the wrong endpoint. The page's actions
come from one `available_each` call, which must answer what `check` answers for each booking."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from health_f0.api.apis import appointments as appointments_api
from health_f0.appointments import selectors
from health_f0.appointments.models import Appointment, Status
from health_f0.appointments.sql import worklist as worklist_sql
from health_f0.appointments.transitions import APPOINTMENT_WORKFLOW, QUEUE_POLICY_STATES
from health_f0.core.exceptions import DomainError
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from tests.api.test_fast_rows import V1, V2, as_json, every_row
from tests.api.test_renderers import assert_plain_rows
from tests.security.test_restricted import _fresh, matrix, restricted  # noqa: F401 - the fixtures
from tests.test_access_matrix import PERSONAS

pytestmark = pytest.mark.django_db

# The access matrix's records (patients A and B, their bookings; A restricted in "restricted"): test_restricted's
# fixtures, asked for by name (request.getfixturevalue).
DESK_ROLES = appointments_api.DeskApi.staff_roles
STATUSES = [None, *Status.values]


def _all(listing: Any) -> list[dict[str, Any]]:
    return listing.order_by(*listing.ordering)[0:10_000]


# --- The booking desk's worklist ------------------------------------------------------------------------


@pytest.mark.parametrize("username", PERSONAS)
def test_the_worklist_keeps_the_selectors_rows_in_its_order(username: str, request: Any) -> None:
    records = request.getfixturevalue("restricted")
    user = _fresh(username)
    seen = set()
    for roles in (DESK_ROLES, access.APPOINTMENT_READER_ROLES):
        for status in STATUSES:
            orm = selectors.staff_appointments(user=user, roles=roles, status=status)
            listing = selectors.staff_appointment_list(user=user, roles=roles, status=status)
            ids = [row["id"] for row in _all(listing)]
            assert ids == list(orm.values_list("id", flat=True)), (username, roles, status)
            assert listing.count() == len(ids)
            seen.update(ids)
    appt_a = records["appt_a"].pk
    if username in ("datlich", "tiepdon"):
        assert appt_a not in seen  # restricted patient A: the desk and reception no longer see the booking
    if username in ("admin", "ttyt.lanhdao"):
        assert appt_a in seen


def test_the_requested_worklist_is_ordered_by_the_status_created_index(request: Any) -> None:
    """A small page of requested bookings (the app's first screen) is read in the (status, created_at) index's
    order on MariaDB: without the hint MariaDB walked the plain created_at index from the oldest booking of all
    (2.3 s for one row at the largest TTYT of the 100k data). One clinic's scope names both order indexes (read
    in (facility, status, created_at) without a sort); the rows are the ORM's (tests above and below, on this
    database)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from health_f0.appointments.sql import worklist

    request.getfixturevalue("restricted")
    names = {index.name for index in Appointment._meta.indexes}
    assert worklist.REQUESTED_ORDER_INDEX in names
    # Both indexes that give the order (the desk's HTML worklist names the same two).
    assert set(worklist.REQUESTED_ORDER_INDEXES) <= names and len(worklist.REQUESTED_ORDER_INDEXES) == 2
    user = _fresh("datlich")
    clinic = Facility.objects.get(code="PK-NOI1").public_id
    for status, hinted in (
        (Status.REQUESTED, connection.vendor == "mysql"),
        (Status.CONFIRMED, False),
        (None, False),
    ):
        listing = selectors.staff_appointment_list(
            user=user, roles=DESK_ROLES, status=status, facility=clinic
        )
        with CaptureQueriesContext(connection) as queries:
            listing.order_by(*listing.ordering)[0:2]
        (statement,) = [q["sql"] for q in queries.captured_queries if "LIMIT" in q["sql"]]
        hint = f"USE INDEX FOR ORDER BY ({', '.join(worklist.REQUESTED_ORDER_INDEXES)})"
        assert ("USE INDEX" in statement) is hinted and (hint in statement) is hinted, (status, statement)
        assert "FORCE INDEX" not in statement, statement
    assert connection.vendor == "mysql" or "USE INDEX" not in worklist.FROM


def _explained_key(statement: str, params: Any) -> Any:
    """The index MariaDB reads the bookings (alias a) of `statement` with (EXPLAIN)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}", params)
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    (key,) = [row["key"] for row in rows if row["table"] == "a"]
    return key


# (persona, the chosen subtree's code, a day?) -> the scope's size: many (a TTYT's 8 facilities of the demo, a
# superuser's every facility) or one (a clinic chosen, or a day's list, which keeps MariaDB's choice).
SCOPES = [
    ("datlich", None, False, "many"),
    ("admin", None, False, "many"),
    ("datlich", "KKB-HD", False, "many"),
    ("datlich", "PK-NOI1", False, "one"),
    ("admin", "PK-NOI1", False, "one"),
    ("datlich", None, True, "one"),
]


@pytest.mark.parametrize(("username", "code", "with_day", "scope"), SCOPES)
def test_the_worklist_names_its_order_index_by_the_scopes_size(
    username: str, code: str | None, with_day: bool, scope: str, request: Any
) -> None:
    """A scope of many facilities (a TTYT's clinics) reads the requested bookings in appt_status_created and the
    confirmed ones in appt_status_slot, named with FORCE INDEX: both end with the facility, which MariaDB tests in
    the index (101 rows read for a page of 101 at the largest TTYT of the 100k data, 298 and 275 left to choose);
    one facility keeps MariaDB's choice among the indexes named before, and so does v1's count. The rows are the
    selector's in its order whatever the hint."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from health_f0.appointments.sql import worklist

    request.getfixturevalue("restricted")
    user = _fresh(username)
    facility = Facility.objects.get(code=code).public_id if code else None
    day = (
        timezone.localtime(Appointment.objects.order_by("id").first().slot_start).date() if with_day else None
    )
    mysql = connection.vendor == "mysql"
    forced = {
        Status.REQUESTED: f"appointments_appointment a FORCE INDEX ({worklist.REQUESTED_ORDER_INDEX}) ",
        Status.CONFIRMED: "appointments_appointment a FORCE INDEX (appt_status_slot) ",
    }
    for status in (Status.REQUESTED, Status.CONFIRMED):
        filters = {"status": status, "facility": facility, "day": day}
        listing = selectors.staff_appointment_list(user=user, roles=DESK_ROLES, **filters)
        with CaptureQueriesContext(connection) as queries:
            ids = [row["id"] for row in _all(listing)]
            listing.count()
        page, count = (q["sql"] for q in queries.captured_queries if "appointments_appointment a" in q["sql"])
        orm = selectors.staff_appointments(user=user, roles=DESK_ROLES, **filters)
        assert ids == list(orm.values_list("id", flat=True)), filters
        assert (forced[status] in page) is (mysql and scope == "many"), page
        assert "FORCE INDEX" not in count, count  # v1's count reads the scope's (facility, ...) ranges
        if mysql and scope == "many":
            name = worklist.REQUESTED_ORDER_INDEX if status == Status.REQUESTED else "appt_status_slot"
            assert _explained_key(*listing.statement(ordering=listing.ordering, limit=101)) == name
        if mysql and code == "PK-NOI1" and status == Status.CONFIRMED:
            # One clinic's visits by time: (facility, status, slot_start, id), read in order (3.5 -> 1.1 ms of
            # MariaDB at the largest clinic of the 100k data, where the status's index tested each clinic).
            key = _explained_key(*listing.statement(ordering=listing.ordering, limit=101))
            assert key == "appt_facility_status_slot", key
        if not mysql:
            assert "INDEX" not in page, page


def test_the_worklist_page_runs_without_the_subquery_cache_on_mariadb(request: Any) -> None:
    """The page's statement (v2's keyset page, v1's slice after order_by) runs with MariaDB's expression cache off
    for itself (SET STATEMENT: the past counts' parameter is a new patient nearly every row); statement() stays
    the plain SELECT, and the count is unchanged. The rows are the selector's (the tests above)."""
    from health_f0.appointments.sql import worklist

    request.getfixturevalue("restricted")
    listing = selectors.staff_appointment_list(user=_fresh("admin"), roles=DESK_ROLES, status=None)
    assert isinstance(listing.order_by("slot_start", "id"), worklist.WorklistRows)
    assert listing.statement(ordering=listing.ordering, limit=3)[0].startswith("SELECT ")
    with CaptureQueriesContext(connection) as queries:
        rows = listing.order_by(*listing.ordering)[0:3]
        listing.count()
    page, count = (query["sql"] for query in queries.captured_queries)
    mariadb = connection.vendor == "mysql" and getattr(connection, "mysql_is_mariadb", False)
    assert page.startswith(worklist.NO_SUBQUERY_CACHE) is mariadb, page
    assert not count.startswith(worklist.NO_SUBQUERY_CACHE)
    assert rows


def test_the_scope_size_is_the_facilities_the_statement_names(request: Any) -> None:
    """access.scope_size counts the facility ids access writes into the condition (readers' and others'
    together), or the chosen subtree's where it names fewer; a superuser's every facility is None."""

    request.getfixturevalue("restricted")
    ttyt_ids = access.visible_facility_ids(_fresh("datlich"), DESK_ROLES)
    assert len(ttyt_ids) > 1
    for username in PERSONAS:
        for roles in (DESK_ROLES, access.APPOINTMENT_READER_ROLES):
            user = _fresh(username)
            if user.is_superuser:
                continue
            where, _ = access.scope_hiding_restricted_sql(
                user, roles, facility_column="a.facility_id", patient_column="a.patient_id"
            )
            written = {int(i) for part in where.split("IN (")[1:] for i in part.split(")")[0].split(", ")}
            assert access.scope_size(user, roles) == len(written), (username, roles)
            assert access.scope_size(user, roles, [1]) == min(1, len(written)), (username, roles)
    assert access.scope_size(_fresh("admin"), DESK_ROLES) is None
    assert access.scope_size(_fresh("admin"), DESK_ROLES, [1, 2]) == 2


@pytest.mark.parametrize("username", ["datlich", "tiepdon", "admin", "ttyt.lanhdao", "syt.lanhdao"])
def test_the_worklist_filters_by_facility_and_day_as_the_selector(username: str, request: Any) -> None:
    request.getfixturevalue("restricted")
    user = _fresh(username)
    days = {timezone.localtime(a.slot_start).date() for a in Appointment.objects.all()}
    ttyt = Facility.objects.get(code="TTYT-HD").public_id
    clinic = Facility.objects.get(code="PK-NOI1").public_id
    unknown = Facility.objects.get(code="BV-KA").public_id
    for status in (None, Status.REQUESTED, Status.CONFIRMED):
        for facility in (None, ttyt, clinic, unknown):
            for day in (None, *sorted(days)[:3]):
                filters = {"status": status, "facility": facility, "day": day}
                orm = selectors.staff_appointments(user=user, roles=DESK_ROLES, **filters)
                listing = selectors.staff_appointment_list(user=user, roles=DESK_ROLES, **filters)
                assert [row["id"] for row in _all(listing)] == list(orm.values_list("id", flat=True)), filters


@pytest.mark.parametrize("username", ["datlich", "tiepdon", "admin"])
@pytest.mark.parametrize("status", STATUSES)
def test_the_worklist_rows_answer_what_the_serializer_answers(
    username: str, status: str | None, request: Any
) -> None:
    request.getfixturevalue("restricted")
    user = _fresh(username)
    orm = selectors.staff_appointments(user=user, roles=DESK_ROLES, status=status)
    expected = as_json(
        appointments_api.StaffAppointmentListItemSerializer(
            list(orm), many=True, context={"actor": user}
        ).data
    )
    listing = selectors.staff_appointment_list(user=user, roles=DESK_ROLES, status=status)
    rows = appointments_api.staff_appointment_rows(_all(listing.as_tuples()), _fresh(username))
    assert as_json(rows) == expected
    if rows:  # what the renderer writes unchecked (api.renderers.PlainRows) holds only what it vouches for
        assert_plain_rows(rows)


@pytest.mark.parametrize("username", ["datlich", "tiepdon", "admin"])
def test_the_worklist_endpoint_pages_what_the_serializer_answers(
    username: str, request: Any, as_user: Any
) -> None:
    records = request.getfixturevalue("restricted")
    user = _fresh(username)
    client = as_user(username)
    for status in (Status.REQUESTED, Status.CONFIRMED):
        orm = selectors.staff_appointments(user=user, roles=DESK_ROLES, status=status)
        expected = as_json(
            appointments_api.StaffAppointmentListItemSerializer(
                list(orm), many=True, context={"actor": user}
            ).data
        )
        params = {"status": status}
        body = client.get(f"{V1}/staff/appointments", {"limit": 200, **params}).json()
        assert body["results"] == expected
        assert body["count"] == len(expected)
        assert every_row(client, f"{V2}/staff/appointments", {"limit": 1, **params}) == expected
    shown = {row["id"] for row in every_row(client, f"{V2}/staff/appointments", {"limit": 50})}
    assert (str(records["appt_a"].public_id) in shown) == (username == "admin")


@pytest.mark.parametrize("username", ["ttyt.lanhdao", "thanhdong.nv", "lienket.his", "ketoan", "bn0000001"])
def test_the_worklist_is_the_desks_alone(username: str, request: Any, as_user: Any) -> None:
    """Managers, station staff, the HIS linker, the accountant and patient tokens get 403, on both versions."""
    request.getfixturevalue("restricted")
    client = as_user(username)
    for version in (V1, V2):
        response = client.get(f"{version}/staff/appointments")
        assert response.status_code == 403, (username, version)
        assert set(response.json()) >= {"detail", "code"}


# --- One workflow answer per page -------------------------------------------------------------------------


def _checked(booking: Appointment, actor: Any, now: Any) -> list[str]:
    """`available()` as it was written: every action from the state whose `check` passes."""
    answer = []
    for action in APPOINTMENT_WORKFLOW.actions_from(booking.status):
        try:
            APPOINTMENT_WORKFLOW.check(booking, action, actor, now=now)
        except DomainError:
            continue
        answer.append(action)
    return answer


def _variants(bookings: list[Appointment]) -> list[Appointment]:
    """Each booking in every status, walk-in or not, a re-exam or not, called or not, with recalls and skips used
    up or not."""
    out = []
    now = timezone.now()
    for booking in bookings:
        for status in Status.values:
            for walk_in, reexam, called, uses in (
                (False, False, False, 0),
                (True, True, True, 1),
                (False, True, True, 9),
            ):
                copy = Appointment.objects.select_related("service", "facility", "patient").get(pk=booking.pk)
                copy.status, copy.is_walk_in, copy.is_reexam = status, walk_in, reexam
                copy.called_at = now if called else None
                copy.recall_count = copy.skip_count = uses
                out.append(copy)
    return out


def _prepaid_bookings(near: Appointment) -> list[Appointment]:
    """Two bookings of a service that requires prepayment, at `near`'s facility for its patient: one paid, one
    not (the "not_paid" guard reads the booking's id, not only its service)."""
    from health_f0.appointments.tests.conftest import make_service
    from health_f0.payments.models import Prepayment, ServicePaymentPolicy
    from health_f0.payments.tests.conftest import make_booking
    from tests.api.test_payment_gate import _paid

    service = make_service(near.facility, requires_confirmation=True)
    ServicePaymentPolicy.objects.create(service=service, price=150_000, prepayment=Prepayment.REQUIRED)
    paid, unpaid = (make_booking(service, near.patient, days=days) for days in (0, 1))
    _paid(paid)
    return [paid, unpaid]


def _rows_of(bookings: list[Appointment], states: Any = QUEUE_POLICY_STATES) -> list[dict[str, Any]]:
    """The booking desk's worklist row of each booking as it stands in memory: its own columns by attname and its
    service's, keyed as appointments.sql.worklist keys them (what available_rows reads of a row)."""
    names = [field.attname for field in Appointment._meta.concrete_fields]
    rows = [
        {
            **{name: getattr(booking, name) for name in names},
            "s_cancel_cutoff_hours": booking.service.cancel_cutoff_hours,
            "f_path": booking.facility.path,
        }
        for booking in bookings
    ]
    worklist_sql.hold_queue_policies(rows, states)
    return rows


def _answered_from_rows(bookings: list[Appointment], actor: Any, now: Any) -> tuple[list[list[str]], int]:
    """available_rows' answer for the bookings' rows, and how many bookings it asked to be built."""
    rows = _rows_of(bookings)
    by_row = {id(row): booking for row, booking in zip(rows, bookings, strict=True)}
    built: list[int] = []

    def instance(row: dict[str, Any]) -> Appointment:
        built.append(id(row))
        return by_row[id(row)]

    answer = APPOINTMENT_WORKFLOW.available_rows(
        rows, actor, instance=instance, columns=worklist_sql.WORKFLOW_ROW_KEYS, now=now
    )
    return answer, len(built)


def _answered_from_tuples(bookings: list[Appointment], actor: Any, now: Any) -> list[list[str]]:
    """available_rows' answer for the bookings' rows as the API's page holds them: tuples at
    worklist_sql.ROW_INDEX' positions (a column the workflow does not read left None), the queue policy after
    them (hold_queue_policy_tuples), read through WORKFLOW_ROW_INDEXES."""
    names = worklist_sql.ROWS.names
    rows = [tuple(row.get(name) for name in names) for row in _rows_of(bookings, states=())]
    by_row = {id(row): booking for row, booking in zip(rows, bookings, strict=True)}
    held = worklist_sql.hold_queue_policy_tuples(rows, QUEUE_POLICY_STATES)
    by_held = {id(row): by_row[id(plain)] for row, plain in zip(held, rows, strict=True)}
    return APPOINTMENT_WORKFLOW.available_rows(
        held, actor, instance=lambda row: by_held[id(row)], columns=worklist_sql.WORKFLOW_ROW_INDEXES, now=now
    )


def _other_clinic_bookings(records: dict[str, Any]) -> list[Appointment]:
    """Bookings of patients A and B at a second clinic under the TTYT (Phòng khám Nhi): the desk's page holds
    rooms the TTYT's desk acts at alike and a one-clinic desk member does not."""
    from health_f0.appointments.tests.conftest import make_service
    from health_f0.payments.tests.conftest import make_booking

    service = make_service(Facility.objects.get(code="PK-NHI"))
    return [
        make_booking(service, records["appt_a"].patient),
        make_booking(service, records["appt_b"].patient),
    ]


# A booking desk member at one clinic only (Phòng khám Nội 1) and a receptionist at the other (Phòng khám Nhi):
# their capacities differ between the page's rooms, where a TTYT member's (datlich, tiepdon) are alike.
CLINIC_MEMBERS = {"noi1.datlich": ("PK-NOI1", "booking_desk"), "nhi.tiepdon": ("PK-NHI", "reception")}


def _clinic_member(username: str) -> Any:
    from django.contrib.auth import get_user_model

    from health_f0.facilities.models import Membership

    user, _ = get_user_model().objects.get_or_create(username=username)
    code, role = CLINIC_MEMBERS[username]
    Membership.objects.get_or_create(user=user, facility=Facility.objects.get(code=code), role=role)
    return _fresh(username)


@pytest.mark.parametrize("username", [*PERSONAS, *CLINIC_MEMBERS, "bn0000001", None])
def test_one_answer_per_page_is_checks_answer_for_each_booking(
    username: str | None, request: Any, persona: Any
) -> None:
    """available_each on the bookings and available_rows on their rows (what the booking desk's list asks) both
    answer what `check` answers for each booking: every status, walk-in, re-exam, called or not, recalls and
    skips used, a prepaid service's paid and unpaid bookings, at two clinics under the TTYT and a hospital outside
    it, for every persona of the access matrix, a desk member at one clinic only, a patient and the system,
    before, on and long after the visits' days. The staff capacity is asked by the booking's facility id
    (capacity_by_key) and the plans are shared by capacities: both must answer what `check` answers."""
    records = request.getfixturevalue("matrix")
    chosen = [*Appointment.objects.order_by("id")[:4], records["appt_a"], records["appt_b"]]
    chosen += _prepaid_bookings(records["appt_b"])
    chosen += _other_clinic_bookings(records)
    assert len({booking.facility_id for booking in chosen}) >= 3
    bookings = _variants(chosen)
    if username in CLINIC_MEMBERS:
        _clinic_member(username)
        persona = _fresh
    actor = persona(username) if username else None
    for now in (timezone.now(), timezone.now() + timedelta(days=3), timezone.now() - timedelta(days=30)):
        expected = [_checked(booking, actor, now) for booking in bookings]
        # Only the booking desk, reception, the administrator, the patient and the system take steps on bookings.
        assert any(expected) == (
            username in ("datlich", "tiepdon", "admin", "bn0000001", None, *CLINIC_MEMBERS)
        ), username
        if username in CLINIC_MEMBERS:  # some rooms of the page are theirs, some not
            assert not all(expected), username
        fresh = persona(username) if username else None
        assert APPOINTMENT_WORKFLOW.available_each(bookings, fresh, now=now) == expected
        assert [APPOINTMENT_WORKFLOW.available(b, fresh, now=now) for b in bookings] == expected
        fresh = persona(username) if username else None
        from_rows, built = _answered_from_rows(bookings, fresh, now)
        assert from_rows == expected
        assert _answered_from_tuples(bookings, persona(username) if username else None, now) == expected
        # A booking is built only where the access rules are asked (a facility or a patient not asked yet): the
        # checked-in rows too are answered from their rows (the queue's guards read the room's policy the rows
        # hold), not built.
        keys = len({(booking.facility_id, booking.patient_id) for booking in bookings})
        roles = len(APPOINTMENT_WORKFLOW._authorize_reads or {})
        assert built <= roles * keys
        assert built < len(bookings) / 4
        if username == "admin":
            # a staff capacity is asked by the facility id alone: no booking built for it
            assert built == 0


@pytest.mark.parametrize("username", [*PERSONAS, *CLINIC_MEMBERS, "bn0000001", "phone holder", None])
def test_the_capacity_by_facility_id_is_the_authorizers(username: str | None, request: Any) -> None:
    """access.capacities_at (the appointment workflow's capacity_by_key) answers, from a booking's
    facility id, what the workflow's authorizer answers on the booking itself for every roles of the table the
    patient does not hold: for every persona, a one-clinic member, a patient, a phone holder and the system, on
    bookings at two clinics of the TTYT and a hospital outside it; roles the patient holds are refused."""
    from health_f0.core.actors import PATIENT, PhoneHolder

    records = request.getfixturevalue("matrix")
    bookings = [records["appt_a"], records["appt_b"], *_other_clinic_bookings(records)]
    if username in CLINIC_MEMBERS:
        actor: Any = _clinic_member(username)
    elif username == "phone holder":
        actor = PhoneHolder(phone=str(records["appt_a"].patient.phone), booking=records["appt_a"])
    else:
        actor = _fresh(username) if username else None
    table = APPOINTMENT_WORKFLOW._authorize_reads or {}
    authorize = APPOINTMENT_WORKFLOW._authorize
    by_key = APPOINTMENT_WORKFLOW._key_capacities
    assert set(by_key) == {roles for roles in table if PATIENT not in roles}
    assert len(by_key) >= 4
    answers = set()
    for booking in bookings:
        for roles in table:
            if PATIENT in roles:
                with pytest.raises(ValueError):
                    access.capacities_at(actor, roles)(booking.facility_id)
                continue
            expected = authorize.or_none(booking, roles, actor)  # type: ignore[union-attr]
            assert access.capacities_at(actor, roles)(booking.facility_id) == expected, roles
            key = booking.facility_id if roles - {"system"} else None
            assert by_key[roles](actor)(key) == expected, roles
            answers.add(expected)
    if username in ("datlich", "tiepdon", *CLINIC_MEMBERS):
        assert answers == {"staff", None}


def test_each_declared_guard_answers_from_a_row_what_it_answers_on_the_booking(request: Any) -> None:
    """Every guard of the appointment workflow that declares what it reads (Guard.reads) refuses from the values
    a worklist row holds exactly when it refuses on the booking, for every status and variant, each capacity it
    binds and each moment; a test reading more than it declared would fail on the row's values."""
    from health_f0.core.workflow import Step, _values_of

    records = request.getfixturevalue("matrix")
    chosen = [*Appointment.objects.order_by("id")[:4], records["appt_a"], records["appt_b"]]
    chosen += _prepaid_bookings(records["appt_b"])
    bookings = _variants(chosen)
    rows = _rows_of(bookings, Status.values)  # every guard asked of every row: each holds its room's policy
    guards = {guard for transition in APPOINTMENT_WORKFLOW.transitions for guard in transition.guards}
    declared = sorted((guard for guard in guards if guard.reads is not None), key=lambda guard: guard.name)
    assert {guard.name for guard in declared} >= {"cutoff_passed", "walk_in", "not_today", "not_paid"}
    moments = (timezone.now(), timezone.now() + timedelta(days=3), timezone.now() - timedelta(days=30))
    for guard in declared:
        values_of = _values_of(guard.reads or (), worklist_sql.WORKFLOW_ROW_KEYS)
        for capacity in sorted(guard.capacities or {"staff", "patient", "system"}):
            answers: set[bool] = set()
            for now in moments:
                step = Step(action="any", actor=None, capacity=capacity, now=now)
                on_bookings = [guard.refuses(booking, step) for booking in bookings]
                assert [guard.refuses(values_of(row), step) for row in rows] == on_bookings, guard.name
                answers.update(on_bookings)
            assert answers == {True, False}, guard.name  # both answers met: the test proves something


def test_a_page_of_called_tickets_reads_each_rooms_queue_policy_once(request: Any) -> None:
    """Reception's checked-in rows are answered from the rows: the queue's guards (recall, skip, leave) read the
    room's policy the page's rows share (hold_queue_policies), one query a room however many called tickets it
    holds (each called ticket read it before, built as a booking), and answer what `check` answers."""
    from health_f0.appointments.models import AppointmentPolicy

    records = request.getfixturevalue("matrix")
    chosen = [records["appt_a"], records["appt_b"], *_other_clinic_bookings(records)]
    rooms = {booking.facility_id for booking in chosen}
    assert len(rooms) >= 2
    AppointmentPolicy.objects.create(facility=chosen[-1].facility, recall_limit=1, skip_limit=5)
    bookings = [booking for booking in _variants(chosen) if booking.status == Status.CHECKED_IN] * 3
    assert sum(1 for booking in bookings if booking.called_at is not None) > len(rooms)
    actor = _fresh("tiepdon")
    now = timezone.now()
    expected = [_checked(booking, actor, now) for booking in bookings]
    assert {"recall", "skip", "leave"} <= {action for actions in expected for action in actions}
    rows = _rows_of(bookings)
    actor = _fresh("tiepdon")
    APPOINTMENT_WORKFLOW.available_rows(rows[:0], actor, instance=lambda row: None)  # nothing asked yet
    with CaptureQueriesContext(connection) as queries:
        answer = APPOINTMENT_WORKFLOW.available_rows(
            rows,
            actor,
            instance=lambda row: pytest.fail("a checked-in row built as a booking"),
            columns=worklist_sql.WORKFLOW_ROW_KEYS,
            now=now,
        )
    assert answer == expected
    policy_table = AppointmentPolicy._meta.db_table
    read = [query["sql"] for query in queries.captured_queries if policy_table in query["sql"]]
    # one a room where the receptionist's queue guards are asked (the hospital outside the TTYT is not theirs)
    assert 1 <= len(read) < len(rooms), read
    assert len(queries.captured_queries) <= len(rooms) + 1  # and the actor's scope, once a page


def test_the_worklist_rows_hold_what_the_workflow_reads() -> None:
    """The worklist's rows carry every value available_rows reads of them: the state, what the access rules read
    (authorize_reads) and each declared guard's reads, under WORKFLOW_ROW_KEYS' keys."""
    workflow = APPOINTMENT_WORKFLOW
    keys = worklist_sql.WORKFLOW_ROW_KEYS
    paths = {workflow.state_field}
    paths.update(name for names in (workflow._authorize_reads or {}).values() for name in names)
    paths.update(
        path
        for transition in workflow.transitions
        for guard in transition.guards
        for path in guard.reads or ()
    )
    assert "service.cancel_cutoff_hours" in paths
    assert "_queue_policy" in paths  # the queue's guards: the room's policy, held by hold_queue_policies
    held = {worklist_sql.QUEUE_POLICY_KEY}
    assert {keys.get(path, path) for path in paths} <= set(worklist_sql.ROWS.names) | held
    # what hold_queue_policies reads
    assert {"facility_id", "f_path", "status"} <= set(worklist_sql.ROWS.names)
    # the API's tuple rows: every path at its column's position, the policy after the columns
    at = worklist_sql.WORKFLOW_ROW_INDEXES
    assert all(at[path] == worklist_sql.ROW_INDEX[keys.get(path, path)] for path in paths - {"_queue_policy"})
    assert at["_queue_policy"] == worklist_sql.QUEUE_POLICY_INDEX == len(worklist_sql.ROWS.names)


# --- The patient's bookings -------------------------------------------------------------------------------


def _client(account: Any) -> Any:
    from rest_framework.test import APIClient

    from health_f0.api.services import api_token_issue

    raw, _ = api_token_issue(user=account)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def families(request: Any, persona: Any) -> dict[str, Any]:
    """Patient A (bn0000001) with a child on the same verified phone (a family), a stranger on another phone,
    patient B; each with a booking at the TTYT's clinic besides the matrix's."""
    from datetime import date

    from tests.access_records import portal_ready
    from tests.api.test_appointments import at, desk_book, make_service
    from tests.api.test_monitoring import _family_member

    records = request.getfixturevalue("matrix")
    pat_a = records["patients"]["pat_a"]
    child = portal_ready(
        _family_member(persona, name="Nguyễn Bảo An", phone=pat_a.phone, born=date(2020, 3, 1))
    )
    stranger = portal_ready(
        _family_member(persona, name="Trần Thị Lan", phone="+84977000222", born=date(1990, 1, 1))
    )
    clinic = make_service(Facility.objects.get(code="PK-NOI1"))
    day = timezone.localdate() + timedelta(days=3)
    bookings = {
        "child_booking": desk_book(persona, child, clinic, at(day, 5)),
        "stranger_booking": desk_book(persona, stranger, clinic, at(day, 5, 20)),
        "own_booking": desk_book(persona, pat_a, clinic, at(day, 6)),
    }
    return {"a": pat_a, "child": child, "stranger": stranger, "b": records["patients"]["pat_b"], **bookings}


def test_the_patient_list_keeps_the_orm_rows_for_every_kind_of_account(
    families: dict[str, Any], persona: Any
) -> None:
    accounts = {
        "own": families["a"].account,
        "family": families["child"].account,
        "another family": families["stranger"].account,
        "patient B": families["b"].account,
        "booking desk": persona("datlich"),
        "administrator": persona("admin"),
    }
    for kind, account in accounts.items():
        listing = selectors.own_appointment_list(user=account)
        ids = [row["id"] for row in _all(listing)]
        if kind in ("booking desk", "administrator"):
            assert ids == [] and listing.count() == 0, kind  # staff read bookings through the desk's list
            continue
        orm = access.appointments_for(account).order_by("-slot_start", "-id")
        assert ids == list(orm.values_list("id", flat=True)), kind
        assert listing.count() == len(ids)
        expected = as_json(
            appointments_api.AppointmentSerializer(
                list(orm.select_related("service", "facility", "patient", "doctor")),
                many=True,
                context={"actor": account},
            ).data
        )
        assert as_json(appointments_api.appointment_rows(_all(listing), account)) == expected, kind
        client = _client(account)
        body = client.get(f"{V1}/appointments", {"limit": 200}).json()
        assert (body["results"], body["count"]) == (expected, len(expected)), kind
        assert every_row(client, f"{V2}/appointments", {"limit": 1}) == expected, kind
    family_ids = {row["id"] for row in _all(selectors.own_appointment_list(user=families["a"].account))}
    assert {families["own_booking"].pk, families["child_booking"].pk} <= family_ids
    assert families["stranger_booking"].pk not in family_ids
    stranger_ids = {
        row["id"] for row in _all(selectors.own_appointment_list(user=families["stranger"].account))
    }
    assert stranger_ids == {families["stranger_booking"].pk}


@pytest.mark.parametrize("username", ["datlich", "tiepdon", "admin", "thanhdong.nv"])
def test_staff_tokens_get_403_on_the_patients_list(username: str, request: Any, as_user: Any) -> None:
    request.getfixturevalue("matrix")
    client = as_user(username)
    for version in (V1, V2):
        response = client.get(f"{version}/appointments")
        assert response.status_code == 403, (username, version)
        assert set(response.json()) >= {"detail", "code"}


def test_the_portals_booking_lists_keep_the_orm_rows(families: dict[str, Any], persona: Any) -> None:
    """/lich-hen's two lists (appointments.sql.bookings.portal_bookings) against the ORM querysets they replace
    (access.appointments_for without walk-in tickets, split at `since` into live-and-ahead and the rest), for
    every kind of account and split points before, among and after the bookings; the bare bookings hold what
    the page reads."""
    from django.db.models import Q

    from health_f0.appointments.models import LIVE_STATUSES
    from health_f0.appointments.sql.bookings import booking_instances, portal_bookings

    accounts = [families[k].account for k in ("a", "child", "stranger", "b")]
    accounts += [persona("datlich"), persona("admin")]
    Appointment.objects.filter(pk=families["stranger_booking"].pk).update(status=Status.CANCELLED)
    starts = sorted(Appointment.objects.values_list("slot_start", flat=True))
    for account in accounts:
        for since in (
            starts[0] - timedelta(days=1),
            starts[len(starts) // 2],
            starts[-1] + timedelta(days=1),
        ):
            base = access.appointments_for(account).filter(is_walk_in=False)
            ahead = Q(status__in=LIVE_STATUSES, slot_end__gte=since)
            for is_ahead, orm, ordering in (
                (True, base.filter(ahead).order_by("slot_start", "id"), ("slot_start", "id")),
                (False, base.exclude(ahead).order_by("-slot_start", "-id"), ("-slot_start", "-id")),
            ):
                rows = portal_bookings(account, since=since, ahead=is_ahead).fetch(
                    ordering=ordering, limit=500
                )
                expected = list(orm.select_related("service", "facility", "patient", "doctor"))
                if account.username in ("datlich", "admin"):
                    expected = []  # staff are sent to the desk before the page reads (as own_bookings: none)
                assert [r["id"] for r in rows] == [a.pk for a in expected], (
                    account.username,
                    since,
                    is_ahead,
                )
                for bare, full in zip(booking_instances(rows), expected, strict=True):
                    assert (bare.public_id, bare.status, bare.slot_start, bare.is_reexam) == (
                        full.public_id,
                        full.status,
                        full.slot_start,
                        full.is_reexam,
                    )
                    assert (bare.patient_confirmed_at, bare.queue_number, bare.cancel_source) == (
                        full.patient_confirmed_at,
                        full.queue_number,
                        full.cancel_source,
                    )
                    assert (bare.service.name, bare.facility.name, bare.patient.full_name) == (
                        full.service.name,
                        full.facility.name,
                        full.patient.full_name,
                    )
                    assert (bare.doctor.display_name if bare.doctor else None) == (
                        full.doctor.display_name if full.doctor else None
                    )
