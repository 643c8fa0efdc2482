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
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.actors import PSEUDO_ROLES, STAFF, actor_id
from health_f0.core.exceptions import DomainError, InvalidTransition, PermissionDenied


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
        authorize_key: Callable[[Any, frozenset[str]], Hashable] | None = None,
        authorize_reads: Callable[[frozenset[str]], Sequence[str]] | None = None,
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
        # What `authorize(obj, roles, actor)` reads of an object for those roles (e.g. its facility id, and its
        # patient id when a patient may act): objects with equal keys get the same capacity for the same roles,
        # so `available_each` asks once per key and roles.
        self._authorize_key = authorize_key
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
        # `authorize_reads(roles)`: the attributes (dotted paths) of an object `authorize` reads for those roles,
        # the form of `authorize_key` the workflow reads itself: the key of an object for a transition's roles
        # is one C call (operator.attrgetter) and its plan's key for its state the attributes all the state's
        # keyed roles read, one call too (`authorize_key` is asked per object and roles). Worked out here for
        # every roles of the table.
        self._role_keys: dict[frozenset[str], Callable[[Any], Hashable]] | None = None
        self._plan_keys: dict[str, Callable[[Any], Hashable]] = {}
        if authorize_reads is not None:
            every = {t.roles for t in self._table.values()} | set(self._staff_part.values())
            reads = {roles: tuple(authorize_reads(roles)) for roles in every}
            self._role_keys = {roles: _reader(names) for roles, names in reads.items()}
            for state, keyed in self._keyed_roles.items():
                self._plan_keys[state] = _reader(sorted({name for roles in keyed for name in reads[roles]}))

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
        is worked out once per `authorize_key` (once per object without one): a worklist of 100 bookings at
        three facilities asks the access rules a few times, not six hundred.

        A transition open to staff and to a pseudo-role (the patient) is asked first for its staff roles alone,
        keyed without the patient: `authorize` answers STAFF for the whole roles whenever it answers STAFF for
        their staff part (access.actor_capacity tries the staff roles first), so a desk member's capacity on a
        page of 100 patients' bookings is worked out once per facility, not once per patient. Only where that
        is refused is the capacity asked for the whole roles, keyed per patient.

        What an object's state and its keys for the staff roles decide (which transitions the actor holds a
        capacity for, their steps, the guards that bind that capacity) is one plan per (state, keys), shared by
        the page's objects with equal keys; each object then runs only its self-approval checks and its guards'
        tests (`Guard.refuses`: no refusal message is built), and, for a transition whose staff part refused
        the actor, the capacity for its whole roles under its own key."""
        now = now or timezone.now()
        role_keys, plan_keys, keyed_roles = self._role_keys, self._plan_keys, self._keyed_roles
        key_of: Callable[[Any, frozenset[str]], Hashable]
        if role_keys is not None:
            key_of = lambda obj, roles: role_keys[roles](obj)  # noqa: E731
        else:
            key_of = self._authorize_key or (lambda obj, roles: id(obj))
        state_field = self.state_field
        capacities: dict[tuple[frozenset[str], Hashable], str | None] = {}
        planned: dict[tuple[str, str], tuple[Step, _Tests]] = {}
        plans: dict[tuple[str, Hashable], list[_Planned]] = {}

        def capacity_for(obj: Any, roles: frozenset[str]) -> str | None:
            memo = (roles, key_of(obj, roles))
            capacity = capacities.get(memo, _UNKNOWN)
            if capacity is _UNKNOWN:
                capacity = capacities[memo] = self._capacity(obj, roles, actor)
            return capacity  # type: ignore[no-any-return]

        def step_for(transition: Transition, capacity: str) -> tuple[Step, _Tests]:
            found = planned.get((transition.action, capacity))
            if found is None:
                step = Step(action=transition.action, actor=actor, capacity=capacity, now=now, params=params)
                tests = tuple(
                    guard.test if guard.test is not None else guard.check
                    for guard in transition.guards
                    if not guard.capacities or capacity in guard.capacities
                )
                found = planned[(transition.action, capacity)] = (step, tests)
            return found

        answers: list[list[str]] = []
        for obj in objs:
            state = getattr(obj, state_field)
            if type(state) is not str:
                state = str(state)  # as state_of
            if role_keys is not None:
                plan_reader = plan_keys.get(state)
                plan_key = (state, None if plan_reader is None else plan_reader(obj))
            else:
                plan_key = (state, tuple([key_of(obj, roles) for roles in keyed_roles.get(state, ())]))
            plan = plans.get(plan_key)
            if plan is None:
                plan = plans[plan_key] = []
                for transition in self._from_state.get(state, ()):
                    staff_roles = self._staff_part.get(transition.roles)
                    if staff_roles is not None:
                        if capacity_for(obj, staff_roles) == STAFF:
                            plan.append((transition, *step_for(transition, STAFF)))
                        else:  # asked per object, for the whole roles (below)
                            plan.append((transition, None, ()))
                        continue
                    capacity = capacity_for(obj, transition.roles)
                    if capacity is not None:
                        plan.append((transition, *step_for(transition, capacity)))
            open_actions = []
            for transition, step, tests in plan:
                if step is None:
                    capacity = capacity_for(obj, transition.roles)
                    if capacity is None:
                        continue
                    step, tests = step_for(transition, capacity)
                if not transition.self_approval and self._self_approval_refused(obj, transition, actor):
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
