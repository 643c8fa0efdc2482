"""The station approval workflow (core.workflow): who may accept, reject or transfer a waiting registration,
and the rules an acceptance needs (guards).

- accept: the registration is at a station or treatment facility (not a Department of Health's queue:
  `transfer_first`), and a registration screened "needs a doctor's review" or "should go to a treatment
  facility" is accepted only when the actor confirms it on purpose (`risk_confirmation_required`; the step's
  `confirm_risk` parameter). The desk's buttons ask `available(..., confirm_risk=True)`: the dialog asks for
  the tick.
- reject: with a reason (checked by the service, it is the dialog's field).
- transfer: to another station of the province; the state stays "submitted".
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from health_f0.core.exceptions import DomainError
from health_f0.core.workflow import Guard, Step, Transition, Workflow
from health_f0.facilities import access
from health_f0.facilities.models import FacilityKind
from health_f0.registration.eligibility import NEEDS_CONFIRMATION
from health_f0.registration.models import RegistrationStatus

ACTING_ROLES: frozenset[str] = access.STATION_ACTING_ROLES
# Where a registration may be accepted into home care (and transferred to).
ACCEPTING_KINDS: frozenset[str] = frozenset({FacilityKind.STATION, FacilityKind.TREATMENT})


class RiskConfirmationRequired(DomainError):
    """A review/hospital case accepted without the explicit tick: the error names the form's field."""

    def __init__(self, message: str, **kwargs: Any):
        kwargs.setdefault("field", "confirm_risk")
        super().__init__(message, **kwargs)


def needs_risk_confirmation(*, eligibility: str, confirm_risk: bool) -> bool:
    """Whether accepting a case of this eligibility without (or with) the tick is refused (issue 9)."""
    return eligibility in NEEDS_CONFIRMATION and not confirm_risk


def risk_confirmation_refusal(*, eligibility: str, label: str, reasons: list[str], confirm_risk: bool) -> str:
    """The refusal for accepting a review/hospital case without `confirm_risk`, or "" (issue 9)."""
    if not needs_risk_confirmation(eligibility=eligibility, confirm_risk=confirm_risk):
        return ""
    return _(
        "Hồ sơ được đánh giá “%(outcome)s”: %(reasons)s. Hãy xem lại và đánh dấu xác nhận nếu vẫn tiếp nhận "
        "chăm sóc tại nhà."
    ) % {"outcome": label, "reasons": "; ".join(reasons) or "—"}


def _above_accepting_facility(registration: Any, step: Step) -> bool:
    return registration.facility.kind not in ACCEPTING_KINDS


def _transfer_first_message(registration: Any, step: Step) -> str:
    return _("Hồ sơ đang ở hàng chờ của tuyến trên: hãy chuyển cho trạm y tế phụ trách trước khi tiếp nhận.")


def _risk_unconfirmed(registration: Any, step: Step) -> bool:
    return needs_risk_confirmation(
        eligibility=registration.eligibility, confirm_risk=bool(step.params.get("confirm_risk"))
    )


def _risk_message(registration: Any, step: Step) -> str:
    return risk_confirmation_refusal(
        eligibility=registration.eligibility,
        label=registration.get_eligibility_display(),
        reasons=list(registration.eligibility_reasons),
        confirm_risk=bool(step.params.get("confirm_risk")),
    )


# Tests and messages apart (core.workflow.Guard.when): a TTYT's queue of registrations, all refused "transfer
# first", asks the test per row and builds no sentence.
TRANSFER_FIRST = Guard.when("transfer_first", _above_accepting_facility, _transfer_first_message)
RISK_CONFIRMED = Guard.when(
    "risk_confirmation_required", _risk_unconfirmed, _risk_message, error=RiskConfirmationRequired
)

_S, _A, _R = RegistrationStatus.SUBMITTED, RegistrationStatus.ACCEPTED, RegistrationStatus.REJECTED

REGISTRATION_WORKFLOW = Workflow(
    "registration",
    [
        Transition(_S, "accept", _A, ACTING_ROLES, guards=(TRANSFER_FIRST, RISK_CONFIRMED)),
        Transition(_S, "reject", _R, ACTING_ROLES),
        Transition(_S, "transfer", _S, ACTING_ROLES),
    ],
    authorize=access.authorizer(patient=lambda registration: None),
)
