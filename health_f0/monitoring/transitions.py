"""The home-care episode workflow: (state, action) -> (next state, who may take it, the named guards).

    active --complete--> completed      station staff; guards: too_early, test_type_invalid,
                                         negative_test_date_invalid, open_alerts
    active --transfer--> transferred    station staff; guard: reason_required
    active --close-----> closed         station staff; guard: reason_required
    completed --certificate--> completed  those who follow the episode, or the patient and family:
                                         guard no_certificate (a download, never applied: no status change)

Each guard is one of monitoring.rules' named checks; its name is the error code the rule raises (the rule
raises its own DomainError, so the field it names reaches the desk's form). The guards of a step judge the
step's input (the negative test, the alerts' outcomes, the completion day and the province's minimum, the
reason), given as `params` by monitoring.services; `available()` without that input lists what the actor may
open now — the desk's buttons and dialogs, the portal's flags, the API's `actions` — and the dialog's
submission is judged by every guard.

Alerts have no workflow table: an alert has no status column (it is open while `acknowledged_at` is empty),
and its one step (record an outcome) is written by monitoring.services._close_alert.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from health_f0.core.actors import PATIENT
from health_f0.core.workflow import Guard, Step, Transition, Workflow
from health_f0.facilities import access
from health_f0.monitoring import rules
from health_f0.monitoring.models import EpisodeStatus

# Who ends an episode: the station's acting staff (and those above it).
ENDING_ROLES: frozenset[str] = access.STATION_ACTING_ROLES
# Who prints a completed episode's certificate: those who follow the episode (desk, audited) and the
# patient and family (portal and app).
CERTIFICATE_ROLES: frozenset[str] = access.CERTIFICATE_ROLES | {PATIENT}

COMPLETE, TRANSFER, CLOSE, CERTIFICATE = "complete", "transfer", "close", "certificate"
# The action that ends an episode with each status other than completion.
CLOSE_ACTIONS: dict[str, str] = {EpisodeStatus.TRANSFERRED: TRANSFER, EpisodeStatus.CLOSED: CLOSE}


def _on_input(*keys: str) -> Callable[[Callable[[Any, Step], Any]], Callable[[Any, Step], Any]]:
    """A guard judging the step's input: it holds while the step carries none (available() without input)."""

    def wrap(check: Callable[[Any, Step], Any]) -> Callable[[Any, Step], Any]:
        def guarded(episode: Any, step: Step) -> Any:
            if any(key not in step.params for key in keys):
                return None
            return check(episode, step)

        return guarded

    return wrap


@_on_input("today", "minimum")
def _minimum_days(episode: Any, step: Step) -> None:
    rules.require_minimum_isolation_days(
        episode=episode, today=step.params["today"], minimum=step.params["minimum"]
    )


@_on_input("negative_test_type")
def _negative_test_type(episode: Any, step: Step) -> None:
    rules.require_negative_test_type(test_type=step.params["negative_test_type"])


@_on_input("negative_test_date", "today")
def _negative_test_date(episode: Any, step: Step) -> None:
    rules.require_negative_test_date(
        episode=episode, test_date=step.params["negative_test_date"], today=step.params["today"]
    )


@_on_input("open_alerts")
def _no_open_alerts(episode: Any, step: Step) -> None:
    handled = step.params.get("alert_outcomes") or {}
    rules.require_no_open_alerts(open_alerts=[a for a in step.params["open_alerts"] if a.pk not in handled])


@_on_input("reason")
def _reason(episode: Any, step: Step) -> None:
    rules.require_end_reason(reason=step.params["reason"])


def _no_certificate(episode: Any, step: Step) -> bool:
    from health_f0.monitoring.certificates import has_certificate

    return not has_certificate(episode)


def _no_certificate_message(episode: Any, step: Step) -> str:
    return _("Đợt chăm sóc này chưa hoàn thành nên chưa có giấy xác nhận.")


COMPLETE_GUARDS = (
    Guard("too_early", _minimum_days),
    Guard("test_type_invalid", _negative_test_type),
    Guard("negative_test_date_invalid", _negative_test_date),
    Guard("open_alerts", _no_open_alerts),
)
REASON_GUARDS = (Guard("reason_required", _reason),)


def _refusal(episode: Any, action: str, now: datetime) -> str:
    if action == CERTIFICATE:
        return _("Đợt chăm sóc này chưa hoàn thành nên chưa có giấy xác nhận.")
    return _("Đợt chăm sóc này đã kết thúc.")


_A, _D, _T, _C = (
    EpisodeStatus.ACTIVE,
    EpisodeStatus.COMPLETED,
    EpisodeStatus.TRANSFERRED,
    EpisodeStatus.CLOSED,
)

EPISODE_WORKFLOW = Workflow(
    "episode",
    [
        Transition(_A, COMPLETE, _D, ENDING_ROLES, guards=COMPLETE_GUARDS),
        Transition(_A, TRANSFER, _T, ENDING_ROLES, guards=REASON_GUARDS),
        Transition(_A, CLOSE, _C, ENDING_ROLES, guards=REASON_GUARDS),
        Transition(
            _D,
            CERTIFICATE,
            _D,
            CERTIFICATE_ROLES,
            guards=(Guard.when("no_certificate", _no_certificate, _no_certificate_message),),
        ),
    ],
    authorize=access.authorizer(),
    refusal=_refusal,
)
