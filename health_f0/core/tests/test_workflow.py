"""The workflow engine (core/workflow.py): the table, roles, guards, self-approval, and apply() as the only writer.

The engine knows no domain, so these tests drive it with a stand-in authorizer; `apply` runs on a real model (the user
row, its first name as the "state") so the save, the audit row and the on-commit callbacks are the real ones."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from health_f0.core import actors
from health_f0.core.exceptions import Conflict, InvalidTransition, PermissionDenied
from health_f0.core.models import AuditLog, User
from health_f0.core.workflow import Guard, GuardRefused, Transition, Workflow

DESK = frozenset({"booking_desk"})


def _authorize(obj: Any, roles: frozenset[str], actor: Any) -> str:
    """Staff when the actor holds one of the roles, patient when it is the record's owner, system for None."""
    if actor is None:
        if actors.SYSTEM in roles:
            return actors.SYSTEM
        raise PermissionDenied("no actor")
    if getattr(actor, "roles", frozenset()) & roles:
        return actors.STAFF
    if actors.PATIENT in roles and getattr(obj, "owner", None) is actor:
        return actors.PATIENT
    if actors.REQUESTER in roles and getattr(obj, "requested_by", None) is actor:
        return actors.REQUESTER
    raise PermissionDenied("not this actor")


def _too_late(obj: Any, step: Any) -> str | None:
    return "too late" if step.params.get("late") else None


def _open_alerts(obj: Any, step: Any) -> str | None:
    return "open alerts" if getattr(obj, "alerts", 0) else None


WF = Workflow(
    "demo",
    [
        Transition("requested", "confirm", "confirmed", DESK, self_approval=False),
        Transition(
            "requested",
            "cancel",
            "cancelled",
            DESK | {actors.PATIENT},
            guards=(Guard("cutoff_passed", _too_late, capacities=frozenset({actors.PATIENT})),),
        ),
        Transition(
            "confirmed",
            "complete",
            "completed",
            DESK,
            guards=(Guard("open_alerts", _open_alerts, error=Conflict),),
        ),
        Transition("requested", "expire", "cancelled", frozenset({actors.SYSTEM})),
    ],
    authorize=_authorize,
    requester=lambda obj: getattr(obj, "requested_by", None),
)


def _staff(pk: int = 1) -> Any:
    return SimpleNamespace(pk=pk, is_authenticated=True, roles=DESK)


def test_available_lists_only_what_this_actor_may_do_now() -> None:
    patient = SimpleNamespace(pk=9, is_authenticated=True)
    booking = SimpleNamespace(status="requested", owner=patient, requested_by=None)
    assert WF.available(booking, _staff()) == ["confirm", "cancel"]
    assert WF.available(booking, patient) == ["cancel"]
    assert WF.available(booking, patient, late=True) == []  # the cut-off binds the patient...
    assert WF.available(booking, _staff(), late=True) == ["confirm", "cancel"]  # ...not the desk
    assert WF.available(booking, None) == ["expire"]
    assert WF.available(booking, SimpleNamespace(pk=5, is_authenticated=True)) == []


def test_check_names_the_refusal() -> None:
    patient = SimpleNamespace(pk=9, is_authenticated=True)
    booking = SimpleNamespace(status="requested", owner=patient, requested_by=None)
    with pytest.raises(GuardRefused) as refused:
        WF.check(booking, "cancel", patient, late=True)
    assert refused.value.code == "cutoff_passed" and refused.value.message == "too late"
    with pytest.raises(InvalidTransition):
        WF.check(booking, "complete", _staff())
    with pytest.raises(PermissionDenied):
        WF.check(booking, "confirm", patient)
    done = SimpleNamespace(status="confirmed", alerts=2)
    with pytest.raises(Conflict) as conflict:  # a guard may carry its own error class
        WF.check(done, "complete", _staff())
    assert conflict.value.code == "open_alerts"
    assert WF.check(booking, "cancel", patient).capacity == actors.PATIENT


def test_nobody_approves_their_own_request() -> None:
    staff = _staff(pk=7)
    mine = SimpleNamespace(status="requested", requested_by=staff)
    with pytest.raises(PermissionDenied) as denied:
        WF.check(mine, "confirm", SimpleNamespace(pk=7, is_authenticated=True, roles=DESK))
    assert denied.value.code == "self_approval"
    assert "confirm" in WF.available(mine, _staff(pk=8))


def test_table_queries() -> None:
    assert WF.actions_from("requested") == ["confirm", "cancel", "expire"]
    assert WF.roles_for("cancel") == DESK | {actors.PATIENT}
    with pytest.raises(InvalidTransition):
        WF.get("completed", "cancel")


@pytest.mark.django_db
def test_apply_writes_state_fields_audit_and_defers_side_effects(
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = User.objects.create(username="wf-demo", first_name="requested", last_name="")
    staff = User.objects.create(username="desk-1")
    flow = Workflow(
        "demo_user",
        [Transition("requested", "confirm", "confirmed", DESK)],
        authorize=lambda obj, roles, actor: actors.STAFF,
        state_field="first_name",
    )
    sent: list[str] = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        step = flow.apply(
            user,
            "confirm",
            staff,
            fields={"last_name": "by desk"},
            audit={"reason": "ok"},
            on_commit=[lambda: sent.append("sms")],
        )
    assert step.capacity == actors.STAFF and sent == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert sent == ["sms"]
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("confirmed", "by desk")
    row = AuditLog.objects.get(target_type="core.user", target_id=str(user.pk))
    assert row.verb == "confirm" and row.actor == staff
    assert row.data == {"from": "requested", "to": "confirmed", "reason": "ok"}


@pytest.mark.django_db
def test_apply_refused_writes_nothing() -> None:
    user = User.objects.create(username="wf-demo-2", first_name="confirmed")
    flow = Workflow(
        "demo_user",
        [Transition("requested", "confirm", "confirmed", DESK)],
        authorize=lambda obj, roles, actor: actors.STAFF,
        state_field="first_name",
    )
    with pytest.raises(InvalidTransition):
        flow.apply(user, "confirm", None)
    user.refresh_from_db()
    assert user.first_name == "confirmed"
    assert not AuditLog.objects.filter(target_type="core.user", target_id=str(user.pk)).exists()


def _reads(roles: frozenset[str]) -> tuple[str, ...]:
    """What `_authorize` reads of an object for `roles`: its facility for staff roles, its owner where the
    patient may act (the `authorize_reads` of the demo workflows below)."""
    return (
        *(("facility",) if roles - actors.PSEUDO_ROLES else ()),
        *(("owner.pk",) if actors.PATIENT in roles else ()),
    )


def test_a_page_asks_the_staff_capacity_once_per_facility_not_per_patient() -> None:
    """available_each keys a transition's capacity by what the authorizer reads for its roles
    (`authorize_reads`); a transition open to staff and the patient is asked first for its staff part, keyed
    without the patient, so a desk member's page of many patients' bookings asks once per facility, with an
    authorize that only raises (no `or_none`). The answers stay what `available` answers for each booking, for
    the desk, the owner and a stranger."""
    calls: list[frozenset[str]] = []

    def counting(obj: Any, roles: frozenset[str], actor: Any) -> str:
        calls.append(roles)
        return _authorize(obj, roles, actor)

    wf = Workflow(
        "demo-keyed",
        WF.transitions,
        authorize=counting,
        requester=lambda obj: getattr(obj, "requested_by", None),
        authorize_reads=_reads,
    )
    owners = [SimpleNamespace(pk=pk, is_authenticated=True) for pk in range(10, 40)]
    page = [
        SimpleNamespace(status="requested", owner=owner, requested_by=None, facility=n % 2)
        for n, owner in enumerate(owners)
    ]
    desk = _staff()
    assert wf.available_each(page, desk) == [["confirm", "cancel"]] * len(page)
    # The desk's roles at each of the two facilities (confirm's, and cancel's staff part: the same question),
    # and expire's once (the system's roles read nothing of the object); cancel's whole roles, keyed per
    # patient, were not asked.
    assert calls.count(DESK) == 2
    assert DESK | {actors.PATIENT} not in calls
    assert len(calls) == 3
    for actor in (desk, owners[3], SimpleNamespace(pk=99, is_authenticated=True), None):
        assert wf.available_each(page, actor) == [WF.available(booking, actor) for booking in page]


def test_without_authorize_reads_a_page_asks_per_object() -> None:
    """A workflow that does not say what its authorizer reads is asked the capacity per object (and roles): no
    two objects share an answer the workflow cannot prove they share."""
    calls: list[frozenset[str]] = []

    def counting(obj: Any, roles: frozenset[str], actor: Any) -> str:
        calls.append(roles)
        return _authorize(obj, roles, actor)

    wf = Workflow("demo-unkeyed", WF.transitions, authorize=counting)
    page = [SimpleNamespace(status="requested", owner=None, facility=0) for _ in range(5)]
    assert wf.available_each(page, _staff()) == [["confirm", "cancel"]] * len(page)
    assert calls.count(DESK) == len(page)


class _TruthOnly:
    """An authorize with its truth-only form (as access.Authorizer): `or_none` counts its questions; the raising
    form is what `check` asks."""

    def __init__(self) -> None:
        self.asked: list[frozenset[str]] = []

    def __call__(self, obj: Any, roles: frozenset[str], actor: Any) -> str:
        return _authorize(obj, roles, actor)

    def or_none(self, obj: Any, roles: frozenset[str], actor: Any) -> str | None:
        self.asked.append(roles)
        try:
            return _authorize(obj, roles, actor)
        except PermissionDenied:
            return None


def test_a_page_asks_the_truth_only_capacity_by_the_attributes_it_reads() -> None:
    """With `authorize_reads` (the attributes the authorizer reads for some roles) and an authorize that has
    `or_none`, available_each asks `or_none` only (no refusal raised), once per facility for the staff roles, once
    a page for roles that read nothing (the system's), and per owner where the patient may act; the answers stay
    what `available` answers for each object (which asks `check`)."""
    truth = _TruthOnly()
    wf = Workflow(
        "demo-reads",
        WF.transitions,
        authorize=truth,
        requester=lambda obj: getattr(obj, "requested_by", None),
        authorize_reads=_reads,
    )
    owners = [SimpleNamespace(pk=pk, is_authenticated=True) for pk in range(10, 40)]
    page = [
        SimpleNamespace(status="requested", owner=owner, requested_by=None, facility=n % 3)
        for n, owner in enumerate(owners)
    ]
    desk = _staff()
    assert wf.available_each(page, desk) == [["confirm", "cancel"]] * len(page)
    assert truth.asked.count(DESK) == 3  # confirm's roles and cancel's staff part, per facility
    assert truth.asked.count(frozenset({actors.SYSTEM})) == 1  # expire: reads nothing of the object
    assert len(truth.asked) == 4
    stranger = SimpleNamespace(pk=99, is_authenticated=True)
    for actor in (desk, owners[3], stranger, None):
        for obj in (*page, SimpleNamespace(status="confirmed", alerts=1, owner=owners[0], facility=0)):
            assert wf.available_each([obj], actor) == [WF.available(obj, actor)]
        assert wf.available_each(page, actor) == [WF.available(booking, actor) for booking in page]
        assert wf.available_each(page, actor, late=True) == [
            WF.available(booking, actor, late=True) for booking in page
        ]


def test_a_guard_made_of_a_test_builds_its_refusal_only_when_refused() -> None:
    """Guard.when: `refuses` (what available and available_each ask) calls the test alone; `refusal` (check,
    apply) builds the message, only when the test refuses. A guard without a test answers `refuses` from its
    check. Capacities bind both alike."""
    built: list[str] = []

    def message(obj: Any, step: Any) -> str:
        built.append(obj.name)
        return f"{obj.name} is late"

    late = Guard.when("late", lambda obj, step: obj.late, message, capacities=frozenset({actors.PATIENT}))
    plain = Guard("late", lambda obj, step: "late" if obj.late else None)
    step = SimpleNamespace(capacity=actors.PATIENT)
    on_time, overdue = SimpleNamespace(name="a", late=False), SimpleNamespace(name="b", late=True)
    assert [late.refuses(on_time, step), late.refuses(overdue, step)] == [False, True]
    assert built == []
    assert late.refusal(on_time, step) is None and late.refusal(overdue, step) == "b is late"
    assert built == ["b"]
    assert [plain.refuses(on_time, step), plain.refuses(overdue, step)] == [False, True]
    staff_step = SimpleNamespace(capacity=actors.STAFF)
    assert not late.refuses(overdue, staff_step) and late.refusal(overdue, staff_step) is None
    assert built == ["b"]


# The demo workflow with its guards declaring what they read: the cut-off reads nothing of the object (only the
# step's params), the open alerts its `alerts`. Its confirm may not be self-approved (the requester is read).
DECLARED = Workflow(
    "demo-declared",
    [
        Transition("requested", "confirm", "confirmed", DESK, self_approval=False),
        Transition(
            "requested",
            "cancel",
            "cancelled",
            DESK | {actors.PATIENT},
            guards=(Guard("cutoff_passed", _too_late, capacities=frozenset({actors.PATIENT}), reads=()),),
        ),
        Transition(
            "confirmed",
            "cancel",
            "cancelled",
            DESK | {actors.PATIENT},
            guards=(Guard("cutoff_passed", _too_late, capacities=frozenset({actors.PATIENT}), reads=()),),
        ),
        Transition(
            "confirmed",
            "complete",
            "completed",
            DESK,
            guards=(Guard("open_alerts", _open_alerts, error=Conflict, reads=("alerts",)),),
        ),
        Transition("requested", "expire", "cancelled", frozenset({actors.SYSTEM})),
    ],
    authorize=_TruthOnly(),
    requester=lambda obj: getattr(obj, "requested_by", None),
    authorize_reads=_reads,
)
ROW_KEYS = {"owner.pk": "owner_pk"}


def _page_of_rows() -> tuple[list[Any], list[dict[str, Any]]]:
    """Objects in both states, at two facilities, of several owners, with and without alerts, one requested by
    the desk member itself; and each one's row (its values, the owner's id under `owner_pk`)."""
    owners = [SimpleNamespace(pk=pk, is_authenticated=True) for pk in range(10, 16)]
    objs = [
        SimpleNamespace(
            status=status,
            owner=owner,
            requested_by=_staff() if n == 3 else None,
            facility=n % 2,
            alerts=n % 3 == 0,
        )
        for status in ("requested", "confirmed", "completed")
        for n, owner in enumerate(owners)
    ]
    rows = [
        {"status": o.status, "facility": o.facility, "owner_pk": o.owner.pk, "alerts": o.alerts} for o in objs
    ]
    return objs, rows


def test_rows_are_answered_as_their_objects() -> None:
    """available_rows answers for each row what available answers for its object, for the desk, an owner, a
    stranger and the system, with and without the step's params; it builds an object only where the object
    itself is asked: the capacity for a key not asked yet, and the rows of a state whose answer reads what is
    not declared (requested: confirm's self-approval check reads the requester)."""
    objs, rows = _page_of_rows()
    index = {id(row): n for n, row in enumerate(rows)}
    built: list[int] = []

    def instance(row: dict[str, Any]) -> Any:
        built.append(index[id(row)])
        return objs[index[id(row)]]

    requested = [n for n, obj in enumerate(objs) if obj.status == "requested"]
    for actor in (_staff(), objs[0].owner, SimpleNamespace(pk=99, is_authenticated=True), None):
        for params in ({}, {"late": True}):
            built.clear()
            answer = DECLARED.available_rows(rows, actor, instance=instance, columns=ROW_KEYS, **params)
            assert answer == [DECLARED.available(obj, actor, **params) for obj in objs]
            assert answer == DECLARED.available_each(objs, actor, **params)
            assert set(requested) <= set(built)
            # the confirmed and completed rows: an object per key asked (two facilities; an owner each)
            others = [n for n in built if n not in requested]
            assert len(others) <= 2 + len({obj.owner.pk for obj in objs}), (actor, others)
    desk = DECLARED.available_rows(rows, _staff(), instance=instance, columns=ROW_KEYS)
    assert ["cancel", "complete"] in desk[6:12] and ["cancel"] in desk[6:12]  # the alerts guard decides
    assert desk[3] == ["cancel"] and desk[0] == ["confirm", "cancel"]  # its own request: no self-approval


def _screened_page() -> tuple[Workflow, list[Any], list[dict[str, Any]], list[tuple[str, int]]]:
    """A workflow whose "unpaid" guard reads the object's kind and id and is screened by its kind (only a "paid"
    kind may refuse), with a walk-in guard beside it on a second transition; objects of both kinds at two
    facilities, walk-in or not, the paid ones refused for odd ids; and the calls of both tests, as (test, id)."""
    asked: list[tuple[str, int]] = []

    def unpaid(obj: Any, step: Any) -> bool:
        asked.append(("unpaid", obj.pk))
        return obj.kind == "paid" and obj.pk % 2 == 1

    def walk_in(obj: Any, step: Any) -> bool:
        asked.append(("walk_in", getattr(obj, "pk", -1)))
        return bool(obj.walk_in)

    screened = Guard.when(
        "unpaid",
        unpaid,
        lambda obj, step: "unpaid",
        reads=("kind", "pk"),
        screen=(("kind",), lambda obj, step: obj.kind == "paid"),
    )
    flow = Workflow(
        "demo-screened",
        [
            Transition("requested", "confirm", "confirmed", DESK, guards=(screened,)),
            Transition(
                "requested",
                "move",
                "requested",
                DESK,
                guards=(Guard.when("walk_in", walk_in, str, reads=("walk_in",)),),
            ),
            Transition("requested", "check_in", "arrived", DESK, guards=(screened,)),
        ],
        authorize=_TruthOnly(),
        authorize_reads=_reads,
    )
    objs = [
        SimpleNamespace(status="requested", pk=pk, kind=kind, facility=pk % 2, walk_in=pk % 3 == 0)
        for pk, kind in enumerate(["free"] * 30 + ["paid"] * 6)
    ]
    rows = [
        {"status": o.status, "pk": o.pk, "kind": o.kind, "facility": o.facility, "walk_in": o.walk_in}
        for o in objs
    ]
    return flow, objs, rows, asked


def test_rows_a_guards_screen_clears_are_answered_once_per_key() -> None:
    """Where a screened guard's screen clears it (Guard.screen), available_rows answers the rows that agree on
    what decides (the screen's paths and the other guards' reads) once: 30 rows of the free kind at two
    facilities, walk-in or not, ask each test once per such key, not once a row, and the paid rows (the screen
    does not clear them) are asked one by one. The answers are `available`'s for each object, each row its own
    list."""
    flow, objs, rows, asked = _screened_page()
    expected = [flow.available(obj, _staff()) for obj in objs]
    assert ["move"] in expected and ["confirm", "move", "check_in"] in expected  # both kinds decide
    asked.clear()
    answer = flow.available_rows(rows, _staff(), instance=lambda row: objs[row["pk"]])
    assert answer == expected
    assert len({id(actions) for actions in answer}) == len(answer)
    # one plan for both facilities (the same capacities); the free rows' keys are (kind, walk_in): two of them
    assert [pk for test, pk in asked if test == "unpaid" and pk < 30] == [0, 1], asked
    assert sorted(pk for test, pk in asked if test == "unpaid" and pk >= 30) == list(range(30, 36)), asked
    assert len([test for test, _pk in asked if test == "walk_in"]) == 2 + 6, asked


def test_rows_of_unhashable_values_are_answered_one_by_one() -> None:
    """A value a memo cannot key (a list) leaves its row to be answered alone, as available answers it."""
    flow, objs, rows, asked = _screened_page()
    for obj, row in zip(objs, rows, strict=True):
        obj.walk_in = row["walk_in"] = [1] if obj.walk_in else []
    answer = flow.available_rows(rows, _staff(), instance=lambda row: objs[row["pk"]])
    assert answer == [flow.available(obj, _staff()) for obj in objs]


def test_a_declared_guard_that_reads_more_fails_on_a_row() -> None:
    """A guard's test is asked of an object holding only the values the guard declared: a test that reads
    anything else raises instead of answering from a value that is not there."""
    sloppy = Workflow(
        "demo-sloppy",
        [
            Transition(
                "confirmed",
                "complete",
                "completed",
                DESK,
                guards=(Guard("open_alerts", lambda obj, step: obj.alerts or obj.other, reads=("alerts",)),),
            )
        ],
        authorize=_TruthOnly(),
        authorize_reads=_reads,
    )
    obj = SimpleNamespace(status="confirmed", facility=0, alerts=False, other=True)
    assert sloppy.available(obj, _staff()) == []
    with pytest.raises(AttributeError):
        sloppy.available_rows(
            [{"status": "confirmed", "facility": 0, "alerts": False}], _staff(), instance=lambda row: obj
        )


def test_rows_of_a_workflow_that_does_not_say_what_its_authorizer_reads_are_asked_as_objects() -> None:
    """Without authorize_reads nothing can be keyed from a row: every row is built and asked as available_each
    asks its object."""
    objs, rows = _page_of_rows()
    index = {id(row): n for n, row in enumerate(rows)}
    built: list[int] = []

    def instance(row: dict[str, Any]) -> Any:
        built.append(index[id(row)])
        return objs[index[id(row)]]

    for actor in (_staff(), objs[0].owner, None):
        built.clear()
        assert WF.available_rows(rows, actor, instance=instance) == [WF.available(obj, actor) for obj in objs]
        assert sorted(built) == list(range(len(rows)))


def test_the_compiled_row_readings_are_bounded_and_hold_no_rows_values() -> None:
    """available_rows keeps, per columns mapping, how to read rows (column names and getters), never a row's
    values; at most 16 mappings are kept (core.memo.Memo)."""
    from health_f0.core.workflow import _RowReading, _StateReading

    objs, rows = _page_of_rows()
    flow = Workflow("demo-memo", DECLARED.transitions, authorize=_TruthOnly(), authorize_reads=_reads)
    flow.available_rows(rows, _staff(), instance=lambda row: objs[rows.index(row)], columns=ROW_KEYS)
    (reading,) = flow._row_readings.values()
    assert isinstance(reading, _RowReading) and reading.columns is ROW_KEYS
    assert all(state is None or isinstance(state, _StateReading) for state in reading.states.values())
    assert set(reading.states) == {"requested", "confirmed", "completed"}
    assert all(isinstance(paths, frozenset) and callable(read) for paths, read in reading._values.items())
    for n in range(40):
        flow.available_rows(rows[6:7], _staff(), instance=lambda row: objs[6], columns={"owner.pk": f"k{n}"})
    assert len(flow._row_readings) <= 16


def _staff_at(roles: frozenset[str], actor: Any, facility: Any) -> bool:
    """A stand-in staff rule that reads the facility: the actor holds one of the roles there (`at`: the facilities
    it acts at; everywhere without it)."""
    return bool(getattr(actor, "roles", frozenset()) & roles) and facility in getattr(
        actor, "at", (facility,)
    )


class _AtFacilities(_TruthOnly):
    """`_authorize` with staff only at the actor's facilities (`_staff_at`), each object it is asked about
    counted."""

    def __call__(self, obj: Any, roles: frozenset[str], actor: Any) -> str:
        self.asked.append(roles)
        if actor is not None and roles - actors.PSEUDO_ROLES and not _staff_at(roles, actor, obj.facility):
            if actors.PATIENT in roles and getattr(obj, "owner", None) is actor:
                return actors.PATIENT
            raise PermissionDenied("not here")
        return _authorize(obj, roles, actor)

    def or_none(self, obj: Any, roles: frozenset[str], actor: Any) -> str | None:
        try:
            return self(obj, roles, actor)
        except PermissionDenied:
            return None


def _by_facility(roles: frozenset[str]) -> Any:
    """capacity_by_key for `_AtFacilities`: roles the patient does not hold are decided by the facility alone."""
    if actors.PATIENT in roles:
        return None

    def of_actor(actor: Any) -> Any:
        def of_key(facility: Any) -> str | None:
            if actor is None:
                return actors.SYSTEM if actors.SYSTEM in roles else None
            return actors.STAFF if roles - actors.PSEUDO_ROLES and _staff_at(roles, actor, facility) else None

        return of_key

    return of_actor


def test_a_capacity_the_key_decides_is_asked_by_key_and_equal_capacities_share_a_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With `capacity_by_key`, the capacity for roles the key alone decides is asked by the key (no object built,
    `authorize` not asked), and a page's plans are one per state and capacities, not per key: a desk member at
    every facility has one plan per state on a page of six facilities, a member at two of them two. The answers
    stay what `check` answers for each object, for those two, an owner, a stranger and the system."""
    from health_f0.core.workflow import _Page

    transitions = [t for t in DECLARED.transitions if t.self_approval]
    authorize = _AtFacilities()
    wf = Workflow(
        "demo-by-key",
        transitions,
        authorize=authorize,
        authorize_reads=_reads,
        capacity_by_key=_by_facility,
    )
    planned: list[str] = []
    plan = _Page.plan
    monkeypatch.setattr(
        _Page, "plan", lambda page, state, found: planned.append(state) or plan(page, state, found)
    )
    owners = [SimpleNamespace(pk=pk, is_authenticated=True) for pk in range(10, 16)]
    objs = [
        SimpleNamespace(status=status, owner=owners[n % 6], facility=n % 6, alerts=n % 4 == 0)
        for status in ("requested", "confirmed", "completed")
        for n in range(24)
    ]
    rows = [
        {"status": o.status, "facility": o.facility, "owner_pk": o.owner.pk, "alerts": o.alerts} for o in objs
    ]
    built: list[int] = []

    def instance(row: dict[str, Any]) -> Any:
        built.append(rows.index(row))
        return objs[rows.index(row)]

    def checked(obj: Any, actor: Any) -> list[str]:
        answer = []
        for action in wf.actions_from(obj.status):
            try:
                wf.check(obj, action, actor)
            except (PermissionDenied, GuardRefused, Conflict):
                continue
            answer.append(action)
        return answer

    everywhere, two = _staff(), SimpleNamespace(pk=2, is_authenticated=True, roles=DESK, at=(0, 1))
    for actor in (everywhere, two, owners[1], SimpleNamespace(pk=99, is_authenticated=True), None):
        expected = [checked(obj, actor) for obj in objs]
        for answer in (
            wf.available_rows(rows, actor, instance=instance, columns=ROW_KEYS),
            wf.available_each(objs, actor),
        ):
            assert answer == expected, actor
        if actor in (everywhere, two):
            assert any(expected) and not all(expected)
    planned.clear(), built.clear(), authorize.asked.clear()
    wf.available_rows(rows, everywhere, instance=instance, columns=ROW_KEYS)
    assert sorted(planned) == ["completed", "confirmed", "requested"]  # one plan a state, six facilities
    assert built == [] and authorize.asked == []  # every capacity asked by key
    planned.clear()
    answer = wf.available_rows(rows, two, instance=instance, columns=ROW_KEYS)
    assert sorted(planned) == ["completed", "confirmed", "confirmed", "requested", "requested"]
    assert answer[0] == ["cancel"] and answer[2] == []  # facility 0 is theirs, 2 is not
