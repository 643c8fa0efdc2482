"""The reconciliation day's workflow: (state, action) -> (next state, who may take it).

    open ──close──> closed        (every difference resolved: guard open_items)
    closed ──reopen──> open       (with a reason, recorded by accounting.services.reconciliation_reopen)

`accounting.services` is the only caller of `apply()`, under the day's row lock. Only ACCOUNTANT_ROLES act;
managers read.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from health_f0.accounting.models import DIFFERENCE_KINDS, ReconciliationState
from health_f0.core.exceptions import Conflict
from health_f0.core.workflow import Guard, Step, Transition, Workflow
from health_f0.facilities import access

_OPEN, _CLOSED = ReconciliationState.OPEN, ReconciliationState.CLOSED


def _open_items(reconciliation: Any, step: Step) -> str | None:
    still_open = reconciliation.items.filter(kind__in=DIFFERENCE_KINDS, resolution="").count()
    if not still_open:
        return None
    return _("Còn %(n)s chênh lệch chưa xử lý; hãy xử lý hết trước khi chốt ngày.") % {"n": still_open}


def refusal_message(reconciliation: Any, action: str, now: Any = None) -> str:
    if action == "reopen":
        return _("Ngày này chưa chốt; không cần mở lại.")
    return _("Ngày này đã chốt đối soát.")


RECONCILIATION_WORKFLOW = Workflow(
    "reconciliation",
    [
        Transition(
            _OPEN,
            "close",
            _CLOSED,
            access.ACCOUNTANT_ROLES,
            guards=(Guard("open_items", _open_items, error=Conflict),),
        ),
        Transition(_CLOSED, "reopen", _OPEN, access.ACCOUNTANT_ROLES),
    ],
    state_field="state",
    authorize=access.authorizer(facility=lambda r: r.facility, patient=lambda r: None),
    refusal=refusal_message,
)
