"""The HIS link request workflow (core.workflow): (state, action) -> next state, who may take it, and the
guards that must hold.

SYSTEM (actor None) decides right after the HIS lookup: an exact, single match is linked at once; anything
less certain goes to the HIS linker's queue. Linkers (and administrators) of the facility or above approve,
reject, look the request up again and unlink. Unlinking ends the link and moves its request to "unlinked";
the patient (their own account or a family account: facilities.access.owns_patient) may unlink too.

Guards (their name is the error code a refusal carries):
- `chosen_record` (approve): the HIS record to link is one the HIS returned, i.e. among the request's
  candidates (the service adds a record the linker named by HIS code once the HIS resolved it). Checked only
  when the call names one (`his_patient_id=`): the desk's button is open either way.
- `already_linked` (auto_link, approve): the patient has no active link at this facility yet.
- `his_record_taken` (auto_link, approve): no other account is linked to that HIS record at this facility.
- `already_unlinked` (unlink): the link being ended is still live.

Self-approval stays allowed (`self_approval=True`): the counter's HIS linker may start a request for a
patient (channel "reception") and decide it in the same sitting, and today's services and tests rely on it
(e.g. the same linker starting and approving a request for a record already taken gets the Conflict). The
request keeps `created_by` and the decision its `decided_by` and audit row, so both people are on record.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from health_f0.core.actors import PATIENT, SYSTEM
from health_f0.core.exceptions import Conflict
from health_f0.core.workflow import Guard, Step, Transition, Workflow
from health_f0.facilities import access
from health_f0.his.models import HisLink, HisLinkRequest, LinkStatus

_R, _V, _L, _X, _U = (
    LinkStatus.REQUESTED,
    LinkStatus.NEEDS_REVIEW,
    LinkStatus.LINKED,
    LinkStatus.REJECTED,
    LinkStatus.UNLINKED,
)


def chosen_candidate(request: HisLinkRequest, his_patient_id: str) -> dict[str, Any] | None:
    """The request's candidate with this HIS patient id, or None."""
    return next((c for c in request.candidates if c.get("his_patient_id") == his_patient_id), None)


def _chosen_record(request: HisLinkRequest, step: Step) -> Any:
    if "his_patient_id" not in step.params:
        return None
    if chosen_candidate(request, step.params["his_patient_id"]) is None:
        return _("Hồ sơ HIS đã chọn không còn trong yêu cầu; vui lòng tải lại trang.")
    return None


def _linked_here(request: HisLinkRequest, step: Step) -> bool:
    # The linker's queue reads it with each request (his.desk.requests annotates `patient_linked_here`).
    linked = getattr(request, "patient_linked_here", None)
    if linked is None:
        linked = HisLink.objects.filter(
            patient_id=request.patient_id, facility_id=request.facility_id, active=True
        ).exists()
    return bool(linked)


def _already_linked_message(request: HisLinkRequest, step: Step) -> str:
    return _("Người bệnh đã có liên kết HIS tại cơ sở này.")


def _record_free(request: HisLinkRequest, step: Step) -> Any:
    his_patient_id = step.params.get("his_patient_id")
    if not his_patient_id:
        return None
    taken = HisLink.objects.filter(
        facility_id=request.facility_id, his_patient_id=his_patient_id, active=True
    )
    if taken.exists():
        return _("Hồ sơ HIS này đã được liên kết với một tài khoản khác.")
    return None


def _live_link(request: HisLinkRequest, step: Step) -> Any:
    link = step.params.get("link")
    if link is None and request.pk is not None:
        link = request.links.filter(active=True).first()
    if link is None or not link.active:
        return _("Liên kết này đã được huỷ trước đó.")
    return None


CHOSEN_RECORD = Guard("chosen_record", _chosen_record, error=Conflict)
NOT_LINKED_YET = Guard.when("already_linked", _linked_here, _already_linked_message, error=Conflict)
RECORD_FREE = Guard("his_record_taken", _record_free, error=Conflict)
LIVE_LINK = Guard("already_unlinked", _live_link, error=Conflict)

LINK_WORKFLOW = Workflow(
    "his_link",
    [
        Transition(_R, "auto_link", _L, frozenset({SYSTEM}), guards=(NOT_LINKED_YET, RECORD_FREE)),
        Transition(_R, "to_review", _V, frozenset({SYSTEM})),
        Transition(
            _V, "approve", _L, access.HIS_LINKER_ROLES, guards=(CHOSEN_RECORD, NOT_LINKED_YET, RECORD_FREE)
        ),
        Transition(_V, "reject", _X, access.HIS_LINKER_ROLES),
        Transition(_V, "lookup", _V, access.HIS_LINKER_ROLES),
        Transition(_L, "unlink", _U, access.HIS_LINKER_ROLES | {PATIENT}, guards=(LIVE_LINK,)),
    ],
    authorize=access.authorizer(
        facility=lambda request: request.facility,
        patient=lambda request: request.patient,
        requester=lambda request: request.created_by_id,
    ),
    requester=lambda request: request.created_by_id,
)


def unlink_subject(link: HisLink) -> HisLinkRequest:
    """What the workflow's unlink is taken on: the live link's request; for a link made without one (older
    links) or already ended, an unsaved stand-in in the linked state, so the same roles and guards decide
    (an ended link is refused by `already_unlinked`, not by its request's state)."""
    if link.request_id and link.active:
        request: HisLinkRequest = link.request  # type: ignore[assignment]
        return request
    return HisLinkRequest(status=_L, patient=link.patient, facility=link.facility)


def link_actions(link: HisLink, actor: Any) -> list[str]:
    """The workflow actions open to `actor` on a link ("unlink" or none): the desk's and the portal's button."""
    return LINK_WORKFLOW.available(unlink_subject(link), actor, link=link)
