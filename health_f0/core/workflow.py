"""Workflows as data, and the only writer of a status (model: Frappe's `frappe/model/workflow.py`).

A workflow is a table of `Transition`s declared in its app's `transitions.py`: from which state, by which action,
to which state, who may take it (staff roles plus the pseudo-roles of `core.actors`), the named guards that must
hold, and whether the actor may approve their own request. Two calls use the table:

- `available(obj, actor)` — the actions open to this actor on this object now (roles and guards checked): the
  desk's buttons, the portal's flags and the API's `actions` field come from here, so no surface re-derives a
  permission or a cut-off;
- `apply(obj, action, actor, fields=..., audit=..., on_commit=...)` — checks the same things, writes the new
  status (and the fields the step sets) on the row, writes the audit row and queues the side effects to run after
  the transaction commits. Services call it inside their own transaction, after locking the row.

Who the actor is at the object's facility is not decided here (core imports no domain app): each workflow is
built with an `authorize(obj, roles, actor) -> capacity` callable, in practice `facilities.access.authorizer`.
An `authorize` that also has `or_none(obj, roles, actor) -> capacity | None` (the same rule, None where
`authorize` refuses; access.authorizer's does) is asked that where only the truth is wanted (`available`,
`available_each`), so a refused capacity builds no translated refusal.
A guard is a named check `(obj, step) -> refusal message | None`; its name is the error code a refused call
carries, so the API and the tests can tell guards apart. What only asks whether an action is open (`available`,
`available_each`: the desk's buttons, a list's `actions`) asks `Guard.refuses`, which builds no message for a
guard made by `Guard.when(name, refuses, message)` (the refusal's text is built only where it is shown).

A list read as rows rather than model instances (core.sqllist) asks `available_rows`: where the workflow knows
all that decides an action — the state, what `authorize` reads (`authorize_reads`) and what each guard reads
(`Guard.reads`) — it answers from the rows' values, each guard's test asked of an object holding only what the
guard declared; an instance is built only where the object itself is asked (the access rules, once per key,
where `capacity_by_key` does not answer from the key; a state with an undeclared guard or a self-approval
check). Its answer is `available_each`'s for the instances.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from operator import attrgetter, itemgetter
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.actors import PSEUDO_ROLES, STAFF, actor_id
from health_f0.core.exceptions import DomainError, InvalidTransition, PermissionDenied
from health_f0.core.memo import Memo


@dataclass(frozen=True)
class Step:
    """What a guard sees: who acts, in which capacity, when, and the action's own parameters."""

    action: str
    actor: Any
    capacity: str
    now: datetime
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Guard:
    """A named rule a transition needs: `check(obj, step)` returns None when it holds, else the refusal."""

    name: str
    check: Callable[[Any, Step], Any]
    # Capacities the guard applies to (empty: every capacity). The cancel cut-off binds the patient, not the desk.
    capacities: frozenset[str] = frozenset()
    # The error a refusal raises (default GuardRefused, a 400); e.g. Conflict for a state of other records.
    error: type[DomainError] | None = None
    # Whether the guard refuses, without building the refusal: `bool(check(obj, step))`. None: `refuses` tests
    # check's answer. Set by `Guard.when`, whose `check` is built from this same test, so the two agree.
    test: Callable[[Any, Step], Any] | None = None
    # The attributes (dotted paths) of the object the guard reads, when it declares them: its answer is then a
    # function of their values and of what a page shares (the step's `now`, actor and params; not its action or
    # capacity), so a list answers it from its rows (`Workflow.available_rows`), asking the test of an object
    # that holds those values alone. None: the guard is asked of the object itself.
    reads: tuple[str, ...] | None = None
    # For a guard that declares `reads`: (some of those paths, a test of them) where the test's false answer means
    # the guard holds whatever the rest reads (the prepayment's guard holds for a service that asks none, whatever
    # the booking). `available_rows` then answers rows that agree on the screen's paths and the other guards'
    # reads once for all of them, where the screen clears the guard; the test must be true wherever `test` is.
    screen: tuple[tuple[str, ...], Callable[[Any, Step], Any]] | None = None

    @classmethod
    def when(
        cls,
        name: str,
        refuses: Callable[[Any, Step], Any],
        message: Callable[[Any, Step], Any],
        **options: Any,
    ) -> Guard:
        """A guard that refuses when `refuses(obj, step)` is true, its refusal `message(obj, step)` built only
        then: `refusal` (the check, apply) answers the message, `refuses` (available, available_each) only the
        test, so a page of 100 bookings builds no translated sentence to throw away."""

        def check(obj: Any, step: Step) -> Any:
            return message(obj, step) if refuses(obj, step) else None

        return cls(name, check, test=refuses, **options)

    def refusal(self, obj: Any, step: Step) -> Any:
        if self.capacities and step.capacity not in self.capacities:
            return None
        return self.check(obj, step)

    def refuses(self, obj: Any, step: Step) -> bool:
        """Whether `refusal(obj, step)` is a refusal, without building its message where the guard has a test."""
        if self.capacities and step.capacity not in self.capacities:
            return False
        if self.test is not None:
            return bool(self.test(obj, step))
        return bool(self.check(obj, step))


@dataclass(frozen=True)
class Transition:
    source: str
    action: str
    target: str
    roles: frozenset[str]
    guards: tuple[Guard, ...] = ()
    # False: the account that made the request (the workflow's `requester`) may not take this action on it.
    self_approval: bool = True


Authorize = Callable[[Any, frozenset[str], Any], str]
# actor -> (an object's key for some roles -> the actor's capacity for them, None where refused): Workflow's
# capacity_by_key.
KeyCapacities = Callable[[Any], Callable[[Hashable], str | None]]
_UNKNOWN: Any = object()  # a capacity not worked out yet (None: refused)
# One transition of an `available_each` plan: the transition, the actor's step and the tests of the guards that
# bind its capacity (step None: the capacity is asked per object).
_Tests = tuple[Callable[[Any, Step], Any], ...]
_Planned = tuple[Transition, Step | None, _Tests]


def _no_key(obj: Any) -> None:
    return None


def _reader(names: Sequence[str]) -> Callable[[Any], Hashable]:
    """obj -> the values of the attributes `names` (one value for one name, a tuple for more; None for none)."""
    return attrgetter(*names) if names else _no_key


class GuardRefused(DomainError):
    """A transition's guard does not hold; `code` is the guard's name."""


class Workflow:
    def __init__(
        self,
        name: str,
        transitions: Iterable[Transition],
        *,
        authorize: Authorize | None = None,
        state_field: str = "status",
        facility: Callable[[Any], Any] = lambda obj: getattr(obj, "facility", None),
        requester: Callable[[Any], Any] | None = None,
        refusal: Callable[[Any, str, datetime], str] | None = None,
        authorize_reads: Callable[[frozenset[str]], Sequence[str]] | None = None,
        capacity_by_key: Callable[[frozenset[str]], KeyCapacities | None] | None = None,
    ):
        self.name = name
        self._table = {(t.source, t.action): t for t in transitions}
        self._from_state: dict[str, list[Transition]] = {}
        for transition in self._table.values():
            self._from_state.setdefault(transition.source, []).append(transition)
        self._authorize = authorize
        # The truth-only form of `authorize` (module docstring), when it has one.
        self._authorize_or_none: Callable[[Any, frozenset[str], Any], str | None] | None = getattr(
            authorize, "or_none", None
        )
        self.state_field = state_field
        self._facility = facility
        self._requester = requester
        self._refusal = refusal
        # The staff roles of each transition open to staff and to a pseudo-role too (e.g. the desk or the
        # patient may cancel): `available_each` first asks for the staff capacity alone, whose key leaves out
        # what only the pseudo-roles read (the patient).
        self._staff_part = {
            t.roles: t.roles - PSEUDO_ROLES
            for t in self._table.values()
            if t.roles & PSEUDO_ROLES and t.roles - PSEUDO_ROLES
        }
        # The roles `available_each` first asks about an object in each state (each transition's staff part, else
        # its roles): the object's keys for them decide its plan.
        self._keyed_roles: dict[str, tuple[frozenset[str], ...]] = {}
        for state, from_state in self._from_state.items():
            asked: list[frozenset[str]] = []
            for transition in from_state:
                roles = self._staff_part.get(transition.roles, transition.roles)
                if roles not in asked:
                    asked.append(roles)
            self._keyed_roles[state] = tuple(asked)
        # `authorize_reads(roles)`: the attributes (dotted paths) of an object `authorize` reads for those roles
        # (e.g. its facility id, and its patient id when a patient may act): objects with equal values get the
        # same capacity for the same roles, so `available_each` asks once per values and roles. The key of an
        # object for a transition's roles is one C call (operator.attrgetter) and its plan's key for its state
        # the attributes all the state's keyed roles read, one call too. Worked out here for every roles of the
        # table. Without it, `available_each` asks per object.
        self._role_keys: dict[frozenset[str], Callable[[Any], Hashable]] | None = None
        self._authorize_reads: dict[frozenset[str], tuple[str, ...]] | None = None
        # available_rows' compiled readings, per columns mapping (lists pass a module constant: a few at most). A
        # reading holds column names and getters, never a row's values: nothing of anyone's data is kept.
        self._row_readings: Memo[int, _RowReading] = Memo(16)
        self._plan_keys: dict[str, Callable[[Any], Hashable]] = {}
        # `capacity_by_key(roles)`: where the values `authorize_reads(roles)` names decide the capacity without the
        # object (e.g. the facility's id for staff roles), `actor -> (key -> capacity or None)`, the answer
        # `authorize` gives the actor on every object of that key; None where the object must be asked (a patient's
        # ownership). Worked out here for every roles of the table; a page asks it once per roles, then each key is
        # one call: it builds no object to ask the access rules (available_rows) where only a key decides.
        self._key_capacities: dict[frozenset[str], KeyCapacities] = {}
        if authorize_reads is not None:
            every = {t.roles for t in self._table.values()} | set(self._staff_part.values())
            reads = {roles: tuple(authorize_reads(roles)) for roles in every}
            self._authorize_reads = reads
            self._role_keys = {roles: _reader(names) for roles, names in reads.items()}
            for state, keyed in self._keyed_roles.items():
                self._plan_keys[state] = _reader(sorted({name for roles in keyed for name in reads[roles]}))
            if capacity_by_key is not None:
                for roles in every:
                    by_key = capacity_by_key(roles)
                    if by_key is not None:
                        self._key_capacities[roles] = by_key

    # --- The table -----------------------------------------------------------------------------------

    @property
    def transitions(self) -> list[Transition]:
        return list(self._table.values())

    def get(self, state: str, action: str) -> Transition:
        """The transition for (state, action), or InvalidTransition (message in the active language)."""
        try:
            return self._table[(state, action)]
        except KeyError:
            raise InvalidTransition(
                _("Không thể thực hiện thao tác này khi hồ sơ đang ở trạng thái hiện tại (%(state)s).")
                % {"state": state},
                code="invalid_transition",
                state=state,
                action=action,
            ) from None

    def actions_from(self, state: str) -> list[str]:
        return [action for (source, action) in self._table if source == state]

    def roles_for(self, action: str) -> frozenset[str]:
        roles: set[str] = set()
        for (_source, act), t in self._table.items():
            if act == action:
                roles |= t.roles
        return frozenset(roles)

    # --- Checking --------------------------------------------------------------------------------------

    def state_of(self, obj: Any) -> str:
        return str(getattr(obj, self.state_field))

    def check(self, obj: Any, action: str, actor: Any, *, now: datetime | None = None, **params: Any) -> Step:
        """The step `actor` would take, or the refusal: InvalidTransition (not from this state), PermissionDenied
        (not this actor), GuardRefused (a guard does not hold)."""
        now = now or timezone.now()
        try:
            transition = self.get(self.state_of(obj), action)
        except InvalidTransition as exc:
            if self._refusal is None:
                raise
            raise InvalidTransition(
                self._refusal(obj, action, now), code=exc.code, field=exc.field, **exc.extra
            ) from None
        if self._authorize is None:
            raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))
        capacity = self._authorize(obj, transition.roles, actor)
        if not transition.self_approval and self._requester is not None:
            requester = self._requester(obj)
            requester_pk = getattr(requester, "pk", requester)
            if requester_pk is not None and requester_pk == actor_id(actor):
                raise PermissionDenied(
                    _("Bạn không thể tự duyệt yêu cầu do chính mình gửi."), code="self_approval"
                )
        step = Step(action=action, actor=actor, capacity=capacity, now=now, params=params)
        for guard in transition.guards:
            message = guard.refusal(obj, step)
            if message:
                raise (guard.error or GuardRefused)(str(message), code=guard.name)
        return step

    def available(self, obj: Any, actor: Any, *, now: datetime | None = None, **params: Any) -> list[str]:
        """The actions `actor` may take on `obj` now, in the table's order: those whose `check` passes."""
        return self.available_each([obj], actor, now=now, **params)[0]

    def available_each(
        self, objs: Sequence[Any], actor: Any, *, now: datetime | None = None, **params: Any
    ) -> list[list[str]]:
        """`available(obj, actor)` for each of a page of objects, as `check` decides it (the same capacity,
        self-approval and guards), with one `now` for the page. The actor's capacity for a transition's roles
        is worked out once per the values `authorize_reads` names (once per object without it): a worklist of
        100 bookings at three facilities asks the access rules a few times, not six hundred.

        A transition open to staff and to a pseudo-role (the patient) is asked first for its staff roles alone,
        keyed without the patient: `authorize` answers STAFF for the whole roles whenever it answers STAFF for
        their staff part (access.actor_capacity tries the staff roles first), so a desk member's capacity on a
        page of 100 patients' bookings is worked out once per facility, not once per patient. Only where that
        is refused is the capacity asked for the whole roles, keyed per patient.

        What an object's state and its capacities for the roles the state first asks decide (which transitions
        the actor holds a capacity for, their steps, the guards that bind that capacity) is one plan per (state,
        capacities), shared by the page's objects with equal capacities, whatever their keys (a TTYT desk's ten
        clinics: one plan); each object then runs only its self-approval checks and its guards' tests
        (`Guard.refuses`: no refusal message is built), and, for a transition whose staff part refused the
        actor, the capacity for its whole roles under its own key. Where `capacity_by_key` answers for roles,
        their capacity is asked of the key itself, no object (once per key still)."""
        return _Page(self, actor, now or timezone.now(), params).objects(objs)

    def available_rows(
        self,
        rows: Sequence[Any],
        actor: Any,
        *,
        instance: Callable[[Any], Any],
        columns: Mapping[str, Hashable] | None = None,
        now: datetime | None = None,
        **params: Any,
    ) -> list[list[str]]:
        """`available_each` of the objects a list's rows stand for (`instance(row)` builds one), answered from the
        rows where the workflow knows everything that decides: the state, what `authorize` reads for each roles
        (`authorize_reads`) and what each guard of the state's transitions reads (`Guard.reads`), each read from
        the row's key `columns[path]` (the path itself when not named; a tuple row names every path's position).
        A guard's test is asked of an object that
        holds only the values it declared (a test that reads anything else fails, it does not answer wrongly).
        `instance(row)` is built only where the object itself must be asked: the actor's capacity for a key not
        asked yet (once per key, as in available_each), and every row in a state where something is not declared
        (a guard without `reads`, a self-approval check, a workflow without `authorize_reads`), which is answered
        as available_each answers that instance."""
        reading = self._row_reading(columns or {})
        return _Page(self, actor, now or timezone.now(), params).rows(rows, reading, instance)

    def _row_reading(self, columns: Mapping[str, Hashable]) -> _RowReading:
        """The compiled reading of rows keyed by `columns` (kept per mapping: lists pass a module constant)."""
        found = self._row_readings.get(id(columns))
        if found is None or found.columns is not columns:
            found = self._row_readings.keep(id(columns), _RowReading(self, columns))
        return found

    def _capacity(self, obj: Any, roles: frozenset[str], actor: Any) -> str | None:
        """`check`'s capacity for a transition open to `roles`, or None where `check` refuses the actor."""
        if self._authorize is None:
            return None
        if self._authorize_or_none is not None:
            return self._authorize_or_none(obj, roles, actor)
        try:
            return self._authorize(obj, roles, actor)
        except DomainError:
            return None

    def _self_approval_refused(self, obj: Any, transition: Transition, actor: Any) -> bool:
        if transition.self_approval or self._requester is None:
            return False
        requester = self._requester(obj)
        requester_pk = getattr(requester, "pk", requester)
        return requester_pk is not None and requester_pk == actor_id(actor)

    def can(self, obj: Any, action: str, actor: Any, *, now: datetime | None = None, **params: Any) -> bool:
        return action in self.available(obj, actor, now=now, **params)

    # --- Writing ---------------------------------------------------------------------------------------

    def apply(
        self,
        obj: Any,
        action: str,
        actor: Any,
        *,
        now: datetime | None = None,
        fields: Mapping[str, Any] | None = None,
        audit: Mapping[str, Any] | None = None,
        verb: str | None = None,
        on_commit: Iterable[Callable[[], Any]] = (),
        params: Mapping[str, Any] | None = None,
        audit_action: str | None = None,
    ) -> Step:
        """Take `action` on `obj` (already locked by the caller, inside its transaction): check, write the new
        state and `fields`, audit (verb defaults to the action; `audit_action` overrides the audit row's
        action, e.g. "delete" for a step that erases data), queue `on_commit` callbacks. Returns the step
        (its `capacity` says whether the actor acted as staff, patient, requester or system)."""
        from health_f0.core.audit import audit_log
        from health_f0.core.models import AuditLog

        step = self.check(obj, action, actor, now=now, **(params or {}))
        source = self.state_of(obj)
        transition = self.get(source, action)
        setattr(obj, self.state_field, transition.target)
        updates = [self.state_field]
        for name, value in (fields or {}).items():
            setattr(obj, name, value)
            updates.append(name)
        if any(f.name == "updated_at" for f in obj._meta.concrete_fields):
            updates.append("updated_at")
        obj.save(update_fields=updates)
        data: dict[str, Any] = {"from": source, "to": transition.target}
        data.update(audit or {})
        audit_log(
            actor=actor if actor_id(actor) is not None else None,
            action=audit_action or AuditLog.Action.TRANSITION,
            verb=verb or action,
            target=obj,
            facility=self._facility(obj),
            data=data,
        )
        for callback in on_commit:
            transaction.on_commit(callback)
        return step


class _Values:
    """What a declared guard's test is asked about on a row (Workflow.available_rows): the values of the attributes
    the guards declared (`Guard.reads`; a dotted path as nested _Values) and nothing else, so a test that reads
    more than it declared fails instead of answering from a value that is not there."""

    def __repr__(self) -> str:
        return f"_Values({self.__dict__!r})"


def _values_of(paths: Sequence[str], columns: Mapping[str, Hashable]) -> Callable[[Any], _Values]:
    """row -> a _Values holding the attribute `paths`, each read from the row's key `columns[path]` (the path
    itself when not named)."""
    names = tuple(sorted({path for path in paths if "." not in path}))
    nested: dict[str, list[str]] = {}
    for path in paths:
        if "." in path:
            head, rest = path.split(".", 1)
            nested.setdefault(head, []).append(rest)
    pick = _reader_of_keys(tuple(columns.get(name, name) for name in names))
    single = len(names) == 1
    inner = tuple(
        (
            head,
            _values_of(rests, {rest: columns.get(f"{head}.{rest}", f"{head}.{rest}") for rest in rests}),
        )
        for head, rests in sorted(nested.items())
    )

    def values_of(row: Mapping[str, Any]) -> _Values:
        values = _Values()
        if names:
            got = pick(row)
            values.__dict__ = dict(zip(names, (got,) if single else got, strict=True))  # type: ignore[call-overload]
        for head, part in inner:
            values.__dict__[head] = part(row)
        return values

    return values_of


def _reader_of_keys(keys: Sequence[Hashable]) -> Callable[[Any], Hashable]:
    """row -> the values of its `keys` (one value for one key, a tuple for more; None for none): what `_reader`
    answers for the same names of the object the row stands for."""
    return itemgetter(*keys) if keys else _no_key


@dataclass(frozen=True)
class _StateReading:
    """How `available_rows` reads a row in one state: its plan's key (what the access rules read for the roles
    the state's transitions first ask) and its key for each roles."""

    plan_key: Callable[[Mapping[str, Any]], Hashable]
    role_keys: Mapping[frozenset[str], Callable[[Mapping[str, Any]], Hashable]]


class _RowReading:
    """A workflow's reading of rows keyed by `columns` ({attribute path: row key}), compiled per state on first
    use; a state whose answer depends on what is not declared reads None (its rows are asked as instances)."""

    def __init__(self, workflow: Workflow, columns: Mapping[str, Hashable]) -> None:
        self.workflow, self.columns = workflow, columns
        self.states: dict[str, _StateReading | None] = {}
        self._values: dict[frozenset[str], Callable[[Mapping[str, Any]], _Values]] = {}

    def of(self, state: str) -> _StateReading | None:
        if state in self.states:
            return self.states[state]
        found = self.states[state] = self._compile(state)
        return found

    def _compile(self, state: str) -> _StateReading | None:
        workflow, columns = self.workflow, self.columns
        reads = workflow._authorize_reads
        transitions = workflow._from_state.get(state, [])
        if reads is None:
            return None
        for transition in transitions:
            if not transition.self_approval and workflow._requester is not None:
                return None
            if any(guard.reads is None for guard in transition.guards):
                return None

        def keys(names: Sequence[str]) -> Callable[[Mapping[str, Any]], Hashable]:
            return _reader_of_keys(tuple(columns.get(name, name) for name in names))

        plan_names = sorted({name for roles in workflow._keyed_roles.get(state, ()) for name in reads[roles]})
        return _StateReading(
            plan_key=keys(plan_names),
            role_keys={roles: keys(names) for roles, names in reads.items()},
        )

    def values(self, plan: list[_Planned]) -> Callable[[Mapping[str, Any]], _Values] | None:
        """row -> the values the guards of `plan` read (for a transition left to each row, all its guards'), or
        None where no guard is asked."""
        paths: set[str] = set()
        for transition, step, _tests in plan:
            for guard in transition.guards:
                if step is None or not guard.capacities or step.capacity in guard.capacities:
                    paths.update(guard.reads or ())
        if not paths:
            return None
        return self.values_for(paths)

    def values_for(self, paths: Iterable[str]) -> Callable[[Mapping[str, Any]], _Values]:
        """row -> a _Values holding `paths` (compiled once per set of paths)."""
        key = frozenset(paths)
        found = self._values.get(key)
        if found is None:
            found = self._values[key] = _values_of(sorted(key), self.columns)
        return found


def _repeats(plan: list[_Planned]) -> bool:
    """Whether a test may be asked twice on one object by `plan`: two of its transitions share one, or one is left
    to each object (step None: its tests are known only then)."""
    seen: set[Callable[[Any, Step], Any]] = set()
    for _transition, step, tests in plan:
        if step is None or seen.intersection(tests):
            return True
        seen.update(tests)
    return False


# A memo key whose rows are answered one by one (a guard's screen did not clear it).
_PER_ROW: Any = object()


class _PlanRows:
    """How `available_rows` answers the rows of one plan on a page: what its guards read (`values_of`), whether a
    test may be asked twice (`repeats`), and, where every transition's capacity is the plan's (no step left to
    each row), the page's answers by what decides them (`memo`, keyed by `key_of(row)`): the values every guard
    reads, a screened guard's (Guard.screen) only its screen's paths. A guard's answer is a function of what it
    reads and of what the page shares, so rows with equal keys have one answer, once each screened guard's screen
    has cleared it (else that key's rows are answered one by one: `_PER_ROW`). The booking desk's 100 requests
    hold a few keys (service, walk-in): 100 rows' values and guards' tests were ~0.25 ms of the page's CPU."""

    __slots__ = ("key_of", "memo", "plan", "repeats", "screens", "values_of")

    def __init__(self, plan: list[_Planned], reading: _RowReading) -> None:
        self.plan = plan
        self.values_of = reading.values(plan)
        self.repeats = _repeats(plan)
        self.memo: dict[Hashable, Any] | None = None
        self.key_of: Callable[[Mapping[str, Any]], Hashable] = _no_key
        # (a screen's test, row -> the values it reads, the step it is asked with), one per screened guard
        self.screens: tuple[
            tuple[Callable[[Any, Step], Any], Callable[[Mapping[str, Any]], _Values], Step], ...
        ]
        self.screens = ()
        if any(step is None for _transition, step, _tests in plan):
            return
        paths: set[str] = set()
        screens: dict[Callable[[Any, Step], Any], tuple[Any, ...]] = {}
        for transition, step, _tests in plan:
            assert step is not None
            for guard in transition.guards:
                if guard.capacities and step.capacity not in guard.capacities:
                    continue  # not one of the step's tests (step_for)
                if guard.screen is None:
                    paths.update(guard.reads or ())
                    continue
                screen_paths, screen_test = guard.screen
                paths.update(screen_paths)
                if screen_test not in screens:
                    screens[screen_test] = (screen_test, reading.values_for(screen_paths), step)
        columns = reading.columns
        self.key_of = _reader_of_keys(tuple(columns.get(path, path) for path in sorted(paths)))
        self.memo = {}
        self.screens = tuple(screens.values())


class _Page:
    """One `available_each` or `available_rows` call: the actor, `now` and params, and what its objects share —
    the capacities asked (by roles and key), the steps (by action and capacity), the plans (by state and keys, and
    by state and capacities: what decides them)."""

    def __init__(self, workflow: Workflow, actor: Any, now: datetime, params: Mapping[str, Any]) -> None:
        self.workflow, self.actor, self.now, self.params = workflow, actor, now, params
        self.capacities: dict[tuple[frozenset[str], Hashable], str | None] = {}
        # The actor's capacity by key, per roles the workflow answers by key (capacity_by_key), asked once a page.
        self.by_key: dict[frozenset[str], Callable[[Hashable], str | None]] = {}
        self.planned: dict[tuple[str, str], tuple[Step, _Tests]] = {}
        self.plans: dict[tuple[str, Hashable], list[_Planned]] = {}
        # The plans by what decides them: the state and the actor's capacity for each roles the state first asks
        # (Workflow._keyed_roles). A TTYT's booking desk holds the same capacities at each of its clinics: the
        # page's ten facility keys share one plan.
        self.decided: dict[tuple[str, tuple[str | None, ...]], list[_Planned]] = {}

    def step_for(self, transition: Transition, capacity: str) -> tuple[Step, _Tests]:
        """The actor's step for `transition` in `capacity` and the tests of the guards that bind it."""
        found = self.planned.get((transition.action, capacity))
        if found is None:
            step = Step(
                action=transition.action,
                actor=self.actor,
                capacity=capacity,
                now=self.now,
                params=self.params,
            )
            tests = tuple(
                guard.test if guard.test is not None else guard.check
                for guard in transition.guards
                if not guard.capacities or capacity in guard.capacities
            )
            found = self.planned[(transition.action, capacity)] = (step, tests)
        return found

    def capacity(self, roles: frozenset[str], key: Hashable, obj: Callable[[], Any]) -> str | None:
        """The actor's capacity for `roles` on objects whose key for them is `key`; `obj()` is the object asked
        the first time."""
        memo = (roles, key)
        capacity = self.capacities.get(memo, _UNKNOWN)
        if capacity is _UNKNOWN:
            by_key = self.by_key.get(roles)
            if by_key is None and roles in self.workflow._key_capacities:
                by_key = self.by_key[roles] = self.workflow._key_capacities[roles](self.actor)
            if by_key is not None:  # the key decides (Workflow's capacity_by_key): no object is built
                capacity = self.capacities[memo] = by_key(key)
            else:
                capacity = self.capacities[memo] = self.workflow._capacity(obj(), roles, self.actor)
        return capacity  # type: ignore[no-any-return]

    def plan_for(self, state: str, capacity_of: Callable[[frozenset[str]], str | None]) -> list[_Planned]:
        """The plan of an object in `state` whose capacities `capacity_of(roles)` answers: the one plan of its
        state and its capacities for the roles the state first asks (a plan is decided by nothing else), built
        the first time they are met."""
        keyed = self.workflow._keyed_roles.get(state, ())
        capacities = tuple([capacity_of(roles) for roles in keyed])
        decided = (state, capacities)
        plan = self.decided.get(decided)
        if plan is None:
            plan = self.decided[decided] = self.plan(state, dict(zip(keyed, capacities, strict=True)))
        return plan

    def plan(self, state: str, capacities: Mapping[frozenset[str], str | None]) -> list[_Planned]:
        """The transitions from `state` the actor holds a capacity for (`capacities[roles]`, for each roles the
        state first asks), with their steps and tests; a transition whose staff part refused the actor is left to
        each object (step None)."""
        workflow = self.workflow
        plan: list[_Planned] = []
        for transition in workflow._from_state.get(state, ()):
            staff_roles = workflow._staff_part.get(transition.roles)
            if staff_roles is not None:
                if capacities[staff_roles] == STAFF:
                    plan.append((transition, *self.step_for(transition, STAFF)))
                else:  # asked per object, for the whole roles
                    plan.append((transition, None, ()))
                continue
            capacity = capacities[transition.roles]
            if capacity is not None:
                plan.append((transition, *self.step_for(transition, capacity)))
        return plan

    def objects(self, objs: Sequence[Any]) -> list[list[str]]:
        """The open actions of each object (Workflow.available_each)."""
        workflow, actor, plans = self.workflow, self.actor, self.plans
        role_keys, plan_keys = workflow._role_keys, workflow._plan_keys
        state_field = workflow.state_field
        answers: list[list[str]] = []
        for obj in objs:
            state = getattr(obj, state_field)
            if type(state) is not str:
                state = str(state)  # as state_of
            if role_keys is not None:
                plan_reader = plan_keys.get(state)
                plan_key = (state, None if plan_reader is None else plan_reader(obj))
            else:  # asked per object
                plan_key = (state, id(obj))
            plan = plans.get(plan_key)
            if plan is None:
                plan = plans[plan_key] = self.plan_for(state, partial(self.object_capacity, obj))
            open_actions = []
            for transition, step, tests in plan:
                if step is None:
                    found = self.object_capacity(obj, transition.roles)
                    if found is None:
                        continue
                    step, tests = self.step_for(transition, found)
                if not transition.self_approval and workflow._self_approval_refused(obj, transition, actor):
                    continue
                try:
                    for test in tests:
                        if test(obj, step):
                            break
                    else:
                        open_actions.append(transition.action)
                except DomainError:
                    continue
            answers.append(open_actions)
        return answers

    def object_capacity(self, obj: Any, roles: frozenset[str]) -> str | None:
        """The actor's capacity for `roles` on `obj`, under its key for them (its id without authorize_reads)."""
        role_keys = self.workflow._role_keys
        key = role_keys[roles](obj) if role_keys is not None else id(obj)
        return self.capacity(roles, key, lambda: obj)

    def row_capacity(
        self,
        instance_of: Callable[[Mapping[str, Any]], Any],
        role_keys: Mapping[frozenset[str], Callable[[Mapping[str, Any]], Hashable]],
        row: Mapping[str, Any],
        roles: frozenset[str],
    ) -> str | None:
        """The actor's capacity for `roles` on the object `row` stands for, under the row's key for them."""
        return self.capacity(roles, role_keys[roles](row), partial(instance_of, row))

    def rows(
        self,
        rows: Sequence[Any],
        reading: _RowReading,
        instance: Callable[[Any], Any],
    ) -> list[list[str]]:
        """The open actions of the object each row stands for (Workflow.available_rows)."""
        state_key = reading.columns.get(self.workflow.state_field, self.workflow.state_field)
        states = reading.states
        built: dict[int, Any] = {}
        row_plans: dict[tuple[str, Hashable], _PlanRows] = {}
        # How each plan's rows are answered (_PlanRows), by the plan's identity: the page's plans live as long.
        plan_rows: dict[int, _PlanRows] = {}

        def instance_of(row: Mapping[str, Any]) -> Any:
            obj = built.get(id(row))
            if obj is None:
                obj = built[id(row)] = instance(row)
            return obj

        answers: list[list[str]] = []
        for row in rows:
            state = row[state_key]
            if type(state) is not str:
                state = str(state)  # as state_of
            shape = states[state] if state in states else reading.of(state)
            if shape is None:  # something undeclared decides: asked of the instance
                answers.extend(self.objects([instance_of(row)]))
                continue
            plan_key = (state, shape.plan_key(row))
            found = row_plans.get(plan_key)
            if found is None:
                plan = self.plan_for(state, partial(self.row_capacity, instance_of, shape.role_keys, row))
                found = plan_rows.get(id(plan))
                if found is None:
                    found = plan_rows[id(plan)] = _PlanRows(plan, reading)
                row_plans[plan_key] = found
            memo = found.memo
            if memo is not None:
                try:
                    known = memo.get(found.key_of(row))
                except TypeError:  # a value that is no key: the row is answered alone
                    known = None
                if known is not None and known is not _PER_ROW:
                    answers.append(known[:])  # each row its own list, as the objects' answers are
                    continue
            answers.append(self.row_answer(row, found, shape.role_keys, instance_of))
        return answers

    def row_answer(
        self,
        row: Mapping[str, Any],
        found: _PlanRows,
        role_keys: Mapping[frozenset[str], Callable[[Mapping[str, Any]], Hashable]],
        instance_of: Callable[[Mapping[str, Any]], Any],
    ) -> list[str]:
        """The open actions of the object `row` stands for, under its plan (`found`), kept in the plan's memo
        where the row's key decides them (_PlanRows)."""
        memo, key = found.memo, None
        if memo is not None:
            key = found.key_of(row)
            try:
                known = memo.get(key)
            except TypeError:
                memo = None
            else:
                if known is _PER_ROW:
                    memo = None
                elif any(test(values_of(row), step) for test, values_of, step in found.screens):
                    memo[key] = _PER_ROW  # a screened guard may refuse: its answer reads more than the key
                    memo = None
        plan, values_of, repeats = found.plan, found.values_of, found.repeats
        values = None if values_of is None else values_of(row)
        # A declared guard's answer depends on its values, not on the step's action or capacity (Guard.reads):
        # a guard of two transitions (the payment's, on confirm and check-in) is asked once a row.
        answered: dict[Callable[[Any, Step], Any], Any] | None = {} if repeats else None
        open_actions = []
        for transition, step, tests in plan:
            if step is None:
                capacity = self.row_capacity(instance_of, role_keys, row, transition.roles)
                if capacity is None:
                    continue
                step, tests = self.step_for(transition, capacity)
            try:
                for test in tests:
                    if answered is None:
                        refused = test(values, step)
                    elif test in answered:
                        refused = answered[test]
                    else:
                        refused = answered[test] = test(values, step)
                    if refused:
                        break
                else:
                    open_actions.append(transition.action)
            except DomainError:
                continue
        if memo is not None:
            memo[key] = open_actions
            return open_actions[:]
        return open_actions
