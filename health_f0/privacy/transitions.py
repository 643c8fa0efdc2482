"""The data-subject request workflow (core.workflow): (state, action) -> (next state, who may do it).

Handlers (facilities.access.PRIVACY_HANDLER_ROLES at the patient's managing facility or above) approve, which
carries the request out, or reject with a reason. The account that sent the request (REQUESTER), or an account
acting for the patient (PATIENT: the patient's own or its family's), may cancel it while it waits.
"""

from __future__ import annotations

from health_f0.core.actors import PATIENT, REQUESTER
from health_f0.core.workflow import Transition, Workflow
from health_f0.facilities import access
from health_f0.privacy.models import RequestStatus

HANDLER_ROLES: frozenset[str] = access.PRIVACY_HANDLER_ROLES

_S, _D, _R, _C = (
    RequestStatus.SUBMITTED,
    RequestStatus.COMPLETED,
    RequestStatus.REJECTED,
    RequestStatus.CANCELLED,
)

REQUEST_WORKFLOW = Workflow(
    "privacy_request",
    [
        Transition(_S, "approve", _D, HANDLER_ROLES),
        Transition(_S, "reject", _R, HANDLER_ROLES),
        Transition(_S, "cancel", _C, frozenset({REQUESTER, PATIENT})),
    ],
    authorize=access.authorizer(requester=lambda request: request.requested_by_id),
    requester=lambda request: request.requested_by_id,
)
