"""Workflows as data: (state, action) -> (next state, roles allowed). One helper applies them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from health_f0.core.exceptions import InvalidTransition


@dataclass(frozen=True)
class Transition:
    source: str
    action: str
    target: str
    roles: frozenset[str]


class Workflow:
    def __init__(self, name: str, transitions: Iterable[Transition]):
        self.name = name
        self._table = {(t.source, t.action): t for t in transitions}

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
            )

    def actions_from(self, state: str) -> list[str]:
        return [action for (source, action) in self._table if source == state]

    def roles_for(self, action: str) -> frozenset[str]:
        roles: set[str] = set()
        for (_source, act), t in self._table.items():
            if act == action:
                roles |= t.roles
        return frozenset(roles)
