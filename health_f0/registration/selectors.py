"""Reads of the registration journey: the station's queue (sickest first), its priority count, where a
registration may go (served provinces, transfer targets). Staff reads are scoped through facilities.access."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID, uuid4

from django.db.models import Case, F, IntegerField, OrderBy, Prefetch, QuerySet, Value, When
from django.utils.translation import gettext as _

from health_f0.core.exceptions import DomainError
from health_f0.core.safe_cache import cache_get, cache_set, cached
from health_f0.core.sqllist import SqlList
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind, StationWard
from health_f0.patients import address
from health_f0.registration.eligibility import BY_SEVERITY, NEEDS_CONFIRMATION
from health_f0.registration.models import Registration, RegistrationStatus
from health_f0.registration.sql import registrations as registrations_sql

SERVED_PROVINCES_CACHE_KEY = "registration:served_provinces"
PRIORITY_VERSION_KEY = "registration:priority:version"
# Bounds how stale the desk's count can be after a change made outside the registration services.
PRIORITY_COUNT_SECONDS = 600


def queue_rank() -> Case:
    """0, 1, 2 for waiting registrations by severity (should go to hospital, needs a doctor's review, eligible);
    3 for decided ones, which come after every waiting one."""
    return Case(
        *(
            When(status=RegistrationStatus.SUBMITTED, eligibility=outcome, then=Value(rank))
            for rank, outcome in enumerate(BY_SEVERITY)
        ),
        default=Value(len(BY_SEVERITY)),
        output_field=IntegerField(),
    )


# The queue's order on its stored columns (Registration.queue_rank, .decided_sort: queue_rank() and the decision
# time, undecided as 1900), every one NOT NULL and the last unique: an index order (reg_queue_order) that a
# keyset page (core.keyset) can also seek on.
QUEUE_ORDER: tuple[str, ...] = ("queue_rank", "-decided_sort", "created_at", "id")


def queue_ordering() -> tuple[Any, ...]:
    """The queue's order: waiting ones by severity, then the one waiting longest first; decided ones after
    them, the most recently decided first. The desk's list and the API use the same order."""
    return (
        OrderBy(F("queue_rank")),
        OrderBy(F("decided_sort"), descending=True),
        OrderBy(F("created_at")),
        OrderBy(F("id")),
    )


def registration_queue(
    *, user: Any, status: str | None = None, facility: UUID | None = None
) -> QuerySet[Registration]:
    """The registrations the staff member may see, in the queue's order, optionally filtered."""
    # The facility is fetched apart (one query for the page's few facilities): joined, it let MariaDB start from
    # the facility table and sort a TTYT's every registration in a temporary table (76,000 rows read for a page
    # of 100 at the largest TTYT of the 100k data, 38,000 without).
    queryset = access.registrations_for(user).prefetch_related("facility")
    if status:
        queryset = queryset.filter(status=status)
    if facility is not None:
        queryset = queryset.filter(facility__public_id=facility)
    return queryset.order_by(*QUEUE_ORDER)


def registration_queue_rows(*, user: Any, status: str | None = None, facility: UUID | None = None) -> SqlList:
    """`registration_queue` as constant SQL (registration/sql/registrations.py), for the API's list: rows are
    dicts of the list's columns and the facility's reference, in the same order, paged with the same cursors."""
    return registrations_sql.queue(user, status=status, facility=facility, ordering=QUEUE_ORDER)


def needs_confirmation(registration: Registration) -> bool:
    """Whether accepting this registration into home care must be confirmed on purpose."""
    return registration.eligibility in NEEDS_CONFIRMATION


def priority_waiting_count(*, user: Any) -> int:
    """Waiting registrations the staff member sees whose screening says "needs a doctor's review" or "should
    go to a treatment facility". No query for a user with no registration queue."""
    if not access.visible_facility_ids(user, access.STATION_ROLES):
        return 0
    return (
        access.registrations_for(user)
        .filter(status=RegistrationStatus.SUBMITTED, eligibility__in=NEEDS_CONFIRMATION)
        .count()
    )


def priority_badge_count(*, user: Any) -> int:
    """priority_waiting_count for the desk's sidebar, on every desk page: cached per scope and per version of
    the queue, so a page costs no query for it while no registration changed. Every registration write bumps
    the version (priority_counts_changed, called by registration.services)."""
    ids = access.visible_facility_ids(user, access.STATION_ROLES)
    if not ids:
        return 0
    version = cache_get(PRIORITY_VERSION_KEY)
    if version is None:
        version = uuid4().hex
        cache_set(PRIORITY_VERSION_KEY, version, None)
    scope = hashlib.sha256(",".join(str(i) for i in sorted(ids)).encode()).hexdigest()[:24]
    return cached(
        f"registration:priority:{version}:{scope}",
        lambda: priority_waiting_count(user=user),
        timeout=PRIORITY_COUNT_SECONDS,
    )


def priority_counts_changed() -> None:
    """A registration was created or decided or moved: the cached priority counts are stale."""
    cache_set(PRIORITY_VERSION_KEY, uuid4().hex, None)


# --- Where registrations are taken -------------------------------------------------------------------------


def served_province_codes() -> frozenset[int]:
    """Provinces where a registration can be queued (registration.services.facility_for_ward): those with an
    active Department of Health (the fallback queue) or with an active station serving one of their wards.
    Cached 5 minutes: it changes when a province is set up, not during a day."""
    return cached(SERVED_PROVINCES_CACHE_KEY, _served_province_codes, timeout=300)


def _served_province_codes() -> frozenset[int]:
    departments = Facility.objects.filter(kind=FacilityKind.DEPARTMENT_OF_HEALTH, is_active=True).values_list(
        "province_code", flat=True
    )
    stations = StationWard.objects.filter(station__is_active=True).values_list(
        "station__province_code", flat=True
    )
    return frozenset(code for code in (*departments, *stations) if code)


def province_served(province_code: int | None) -> bool:
    return province_code is not None and province_code in served_province_codes()


def served_province_names() -> list[str]:
    """The served provinces' names, in Vietnamese alphabetical order."""
    served = served_province_codes()
    return [name for code, name in address.provinces() if code in served]


# --- Transfer --------------------------------------------------------------------------------------------


def transfer_stations(*, user: Any) -> QuerySet[Facility]:
    """Stations and treatment facilities the user may transfer registrations to (facilities.access), with
    the wards each station serves. Ordered in Python by the caller (Vietnamese collation)."""
    return access.transfer_stations_for(user).prefetch_related(
        Prefetch("wards", queryset=StationWard.objects.order_by("ward_code"))
    )


def transfer_target(*, ref: str) -> Facility:
    """The facility a registration is being transferred to, by its public UUID or its code (any active one;
    the service checks the kind and the province)."""
    ref = (ref or "").strip()
    try:
        lookup: dict[str, Any] = {"public_id": UUID(ref)}
    except ValueError:
        lookup = {"code__iexact": ref}
    facility = Facility.objects.filter(is_active=True, **lookup).first() if ref else None
    if facility is None:
        raise DomainError(
            _("Không tìm thấy trạm y tế nhận chuyển (mã hoặc mã công khai không đúng)."),
            code="station_not_found",
            field="station",
        )
    return facility


def registration_of_session(*, session_ids: list[str], public_id: str) -> Registration | None:
    """A registration the current browser session submitted (the portal keeps their public ids in the
    session); any other public id reads as missing."""
    if str(public_id) not in {str(i) for i in session_ids}:
        return None
    return Registration.objects.select_related("facility").filter(public_id=public_id).first()
