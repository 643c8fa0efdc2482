"""The station approval workflow: (state, action) -> (next state, roles)."""

from __future__ import annotations

from health_f0.core.workflow import Transition, Workflow
from health_f0.facilities.models import Role

ACTING_ROLES: frozenset[str] = frozenset(
    {Role.STATION_STAFF, Role.STATION_HEAD, Role.TREATMENT_DOCTOR, Role.ADMINISTRATOR}
)

REGISTRATION_WORKFLOW = Workflow(
    "registration",
    [
        Transition("submitted", "accept", "accepted", ACTING_ROLES),
        Transition("submitted", "reject", "rejected", ACTING_ROLES),
        Transition("submitted", "transfer", "submitted", ACTING_ROLES),
    ],
)
