"""The station approval workflow: (state, action) -> (next state, roles)."""

from __future__ import annotations

from health_f0.core.workflow import Transition, Workflow
from health_f0.facilities import access

ACTING_ROLES: frozenset[str] = access.STATION_ACTING_ROLES

REGISTRATION_WORKFLOW = Workflow(
    "registration",
    [
        Transition("submitted", "accept", "accepted", ACTING_ROLES),
        Transition("submitted", "reject", "rejected", ACTING_ROLES),
        Transition("submitted", "transfer", "submitted", ACTING_ROLES),
    ],
)
