"""Who acts: the one actor model every workflow and service uses.

An actor is one of
- a **staff user** (a `core.User` with a facility membership: what they may do is decided by
  `facilities.access` from their roles at the record's facility);
- a **patient account** (a `core.User` without staff roles: acts for its own patient record and its family's);
- a **phone holder** (`PhoneHolder`): someone without an account who has just proved with an OTP that they
  hold a number (a booking's SMS link). Only code that verified such an OTP creates one; it is never a logged-in
  user, so every staff check sees nobody;
- the **system** (`None`): background jobs and the sweeps.

A transition names who may take it with staff roles plus pseudo-roles: PATIENT (the patient's own account, a
family account on the same verified phone, or a phone holder answering for the patient), REQUESTER (the account
that sent the request) and SYSTEM. `facilities.access.actor_capacity` resolves an actor against such a set to the
capacity it acts in (STAFF, PATIENT, REQUESTER or SYSTEM). This module imports no domain app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SYSTEM = "system"
PATIENT = "patient"
REQUESTER = "requester"
STAFF = "staff"
PSEUDO_ROLES: frozenset[str] = frozenset({SYSTEM, PATIENT, REQUESTER})


@dataclass(frozen=True)
class PhoneHolder:
    """Someone without an account who has just proved, with an OTP texted to `phone` (E.164), that they hold
    the number that answers for `booking` on its SMS link. They act as the patient of that booking — and for any
    patient whose verified phone is that number (the family bond)."""

    phone: str
    booking: Any = None
    is_authenticated: bool = False


def is_system(actor: Any) -> bool:
    return actor is None


def is_user(actor: Any) -> bool:
    """A signed-in account (staff or patient), not the system, the public or a phone holder."""
    return (
        actor is not None
        and not isinstance(actor, PhoneHolder)
        and bool(getattr(actor, "is_authenticated", False))
    )


def actor_id(actor: Any) -> int | None:
    """The account's primary key, or None for the system, the public and phone holders."""
    return actor.pk if is_user(actor) else None
