"""The HIS link request workflow: (state, action) -> (next state, who may do it).

SYSTEM (actor None) decides right after the HIS lookup: an exact, single match is linked at once; anything
less certain goes to the HIS linker's queue. Linkers (and administrators) of the facility or above approve,
reject and unlink. Unlinking ends the link and moves its request to "unlinked"; the patient may unlink
their own account too.
"""

from __future__ import annotations

from health_f0.core.workflow import Transition, Workflow
from health_f0.facilities import access
from health_f0.his.models import LinkStatus

SYSTEM = "system"
PATIENT = "patient"

# The role sets that scope records live in facilities.access; the workflow uses the same ones.
LINKER_ROLES: frozenset[str] = access.HIS_LINKER_ROLES
# Who may start a request for a patient at the counter (and print the link form).
RECEPTION_ROLES: frozenset[str] = access.HIS_COUNTER_ROLES
# Who reads imported HIS data of the patients of their facilities, and the import runs.
HIS_READER_ROLES: frozenset[str] = access.HIS_READER_ROLES

_R, _V, _L, _X, _U = (
    LinkStatus.REQUESTED,
    LinkStatus.NEEDS_REVIEW,
    LinkStatus.LINKED,
    LinkStatus.REJECTED,
    LinkStatus.UNLINKED,
)

LINK_WORKFLOW = Workflow(
    "his_link",
    [
        Transition(_R, "auto_link", _L, frozenset({SYSTEM})),
        Transition(_R, "to_review", _V, frozenset({SYSTEM})),
        Transition(_V, "approve", _L, LINKER_ROLES),
        Transition(_V, "reject", _X, LINKER_ROLES),
        Transition(_V, "lookup", _V, LINKER_ROLES),
        Transition(_L, "unlink", _U, LINKER_ROLES | {PATIENT}),
    ],
)
