"""Reads about patients that several surfaces share: whom an account acts for, and the desk's patient search.

Scoping always comes from facilities.access; these functions only shape what it returns.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import models
from django.db.models import Case, CharField, Q, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from health_f0.core.exceptions import DomainError
from health_f0.facilities import access
from health_f0.patients.identifiers import clean_bhyt
from health_f0.patients.models import Patient


class ActingRelation(models.TextChoices):
    """How an account is related to a patient it may act for (access.own_patients_for)."""

    SELF = "self", _("Bản thân")
    FAMILY = "family", _("Người nhà (cùng số điện thoại đã xác thực)")


def acting_for(*, user: Any) -> QuerySet[Patient]:
    """Every patient the account may act for (declare for, book for, read the records of): exactly
    access.own_patients_for, its own record first, then its family by name. Each row carries `relation`
    (an ActingRelation value). Staff accounts act through the desk: none."""
    own = Q(account_id=getattr(user, "pk", None))
    return (
        access.own_patients_for(user)
        .select_related("facility")
        .annotate(
            relation=Case(
                When(own, then=Value(ActingRelation.SELF.value)),
                default=Value(ActingRelation.FAMILY.value),
                output_field=CharField(),
            )
        )
        .order_by(Case(When(own, then=Value(0)), default=Value(1)), "full_name", "id")
    )


def search_phone(term: str) -> str | None:
    """The term as a mobile number in E.164 when it reads as one ('0912 345 678', '+84912345678')."""
    from health_f0.core.phone import normalize_mobile

    if sum(ch.isdigit() for ch in term) < 9:
        return None
    try:
        return normalize_mobile(term)
    except DomainError:
        return None


def search_condition(term: str, prefix: str = "") -> Q:
    """The desk's patient search as one condition (`prefix` is the lookup path to the patient, e.g.
    "patient__"): by phone, CCCD (12 digits), BHYT number (10 digits, or an older card's 2 letters and 13
    digits), or part of the name. An identifier is looked up only when the term has its form; anything else
    is a name, whatever its length ("Trần Thị Mai" has 10 letters, as many as a BHYT number has digits)."""
    term = " ".join(term.split())
    compact = term.replace(" ", "")
    condition = Q()
    phone = search_phone(term)
    if phone:
        condition |= Q(**{f"{prefix}phone": phone})
    if re.fullmatch(r"\d{12}", compact):
        condition |= Q(**{f"{prefix}cccd": compact})
    try:
        bhyt = clean_bhyt(compact)
    except DomainError:
        bhyt = ""
    if bhyt:
        condition |= Q(**{f"{prefix}bhyt": bhyt})
    if not condition:
        condition = Q(**{f"{prefix}full_name__icontains": term})
    return condition
