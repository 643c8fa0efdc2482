"""The ONE place that decides what a user may see and do.

Desk, API, portal and reports all scope their querysets through these functions. A staff role held at a
facility applies to that facility and everything under it (a TTYT manager sees all its stations; a station
nurse sees only that station). Patients see only their own records. "Not found" and "not yours" look the
same to callers: `get_scoped_or_404` raises NotFound for both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from health_f0.core.exceptions import NotFound, PermissionDenied
from health_f0.facilities.models import Facility, Membership, Role

M = TypeVar("M", bound=models.Model)

ALL_STAFF_ROLES: frozenset[str] = frozenset(Role.values)
# Who works the home-care registration queue and sees its registrations (treatment doctors: at a treatment
# facility, which also receives registrations by transfer).
STATION_ROLES: frozenset[str] = frozenset(
    {Role.STATION_STAFF, Role.STATION_HEAD, Role.TREATMENT_DOCTOR, Role.MANAGER, Role.ADMINISTRATOR}
)
AUDIT_READER_ROLES: frozenset[str] = frozenset({Role.MANAGER, Role.ADMINISTRATOR})

_CACHE_ATTR = "_hf0_access_cache"


def _cache(user: Any) -> dict[Any, Any]:
    cache = getattr(user, _CACHE_ATTR, None)
    if cache is None:
        cache = {}
        setattr(user, _CACHE_ATTR, cache)
    return cache


def _active_memberships(user: Any) -> list[tuple[int, str, str]]:
    """(facility id, facility path, role) for the user's active memberships, read once per user object."""
    cache = _cache(user)
    if "memberships" not in cache:
        cache["memberships"] = list(
            Membership.objects.filter(user=user, is_active=True, facility__is_active=True).values_list(
                "facility_id", "facility__path", "role"
            )
        )
    result: list[tuple[int, str, str]] = cache["memberships"]
    return result


def is_staff_member(user: Any) -> bool:
    """True for a logged-in user who holds any staff role (or is a superuser)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or _active_memberships(user))


def roles_of(user: Any) -> frozenset[str]:
    return frozenset(role for _, _, role in _active_memberships(user))


def holds_role_at_kind(user: Any, roles: Iterable[str], kinds: Iterable[str]) -> bool:
    """Whether the user holds one of `roles` at an active facility of one of `kinds` (e.g. a manager at the
    provincial Department of Health, for province-wide settings). Superusers: yes."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    key = ("role_at_kind", frozenset(roles), frozenset(kinds))
    cache = _cache(user)
    if key not in cache:
        cache[key] = Membership.objects.filter(
            user=user, is_active=True, role__in=key[1], facility__is_active=True, facility__kind__in=key[2]
        ).exists()
    result: bool = cache[key]
    return result


def visible_facility_ids(user: Any, roles: Iterable[str] | None = None) -> frozenset[int]:
    """Ids of the facilities the user may see: where they hold one of `roles`, and everything below."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    role_set = frozenset(roles) if roles is not None else ALL_STAFF_ROLES
    key = ("visible", role_set)
    cache = _cache(user)
    if key in cache:
        result: frozenset[int] = cache[key]
        return result
    if user.is_superuser:
        ids = frozenset(Facility.objects.values_list("id", flat=True))
    else:
        paths = {path for _, path, role in _active_memberships(user) if role in role_set}
        if not paths:
            ids = frozenset()
        else:
            condition = Q()
            for path in paths:
                condition |= Q(path__startswith=path)
            ids = frozenset(Facility.objects.filter(condition).values_list("id", flat=True))
    cache[key] = ids
    return ids


def facilities_for(user: Any, roles: Iterable[str] | None = None) -> QuerySet[Facility]:
    return Facility.objects.filter(id__in=visible_facility_ids(user, roles))


def scope_by_facility(
    queryset: QuerySet[M], user: Any, *, field: str = "facility", roles: Iterable[str] | None = None
) -> QuerySet[M]:
    """Keep only rows whose `field` (a Facility FK, may be a lookup path) the user may see as staff."""
    ids = visible_facility_ids(user, roles)
    if not ids:
        return queryset.none()
    if getattr(user, "is_superuser", False):
        return queryset
    return queryset.filter(**{f"{field}__in": ids})


def can_act_at(user: Any, facility: Facility | None, roles: Iterable[str]) -> bool:
    """Whether the user holds one of `roles` at this facility or above it."""
    if facility is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    return facility.pk in visible_facility_ids(user, roles)


def require_role_at(user: Any, facility: Facility | None, roles: Iterable[str]) -> None:
    if not can_act_at(user, facility, roles):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))


def get_scoped_or_404(queryset: QuerySet[M], **lookup: Any) -> M:
    """Fetch one row from an already-scoped queryset; missing and forbidden both raise NotFound."""
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError, DjangoValidationError):  # type: ignore[attr-defined]
        raise NotFound(_("Không tìm thấy hồ sơ."))
    except queryset.model.MultipleObjectsReturned:  # type: ignore[attr-defined]
        raise NotFound(_("Không tìm thấy hồ sơ."))


# --- Domain scopes: one function per kind of record, used by desk, API, portal and reports. ------


def registrations_for(user: Any) -> QuerySet[Any]:
    """Registrations a staff member may see: those queued at a facility they can see."""
    from health_f0.registration.models import Registration

    return scope_by_facility(Registration.objects.all(), user, field="facility", roles=STATION_ROLES)


def patients_for(user: Any) -> QuerySet[Any]:
    """Patients a user may see: staff by the managing facility; a patient account its own and its family's
    (patients registered with the same phone)."""
    from health_f0.patients.models import Patient

    if is_staff_member(user):
        return scope_by_facility(Patient.objects.all(), user, field="facility")
    if getattr(user, "is_authenticated", False):
        # A family shares one phone: whoever holds an account on that verified phone may act for every
        # patient registered with it (a parent for the children, a relative for an elderly patient).
        own = Q(account=user)
        if getattr(user, "phone", ""):
            own |= Q(phone=user.phone, account__isnull=False)
        return Patient.objects.filter(own)
    return Patient.objects.none()


def audit_logs_for(user: Any) -> QuerySet[Any]:
    """Audit rows are for managers and administrators, for the facilities they oversee."""
    from health_f0.core.models import AuditLog

    return scope_by_facility(AuditLog.objects.all(), user, field="facility", roles=AUDIT_READER_ROLES)


def outbox_for(user: Any) -> QuerySet[Any]:
    """Outgoing messages of the facilities the staff member can see (bodies of secrets are never shown)."""
    from health_f0.notifications.models import OutboxMessage

    return scope_by_facility(OutboxMessage.objects.all(), user, field="facility")


def memberships_for(user: Any) -> QuerySet[Membership]:
    return scope_by_facility(
        Membership.objects.select_related("user", "facility"),
        user,
        field="facility",
        roles={Role.ADMINISTRATOR, Role.MANAGER},
    )


def station_wards_for(user: Any) -> QuerySet[Any]:
    """Ward assignments of the stations the staff member can see."""
    from health_f0.facilities.models import StationWard

    return scope_by_facility(StationWard.objects.select_related("station"), user, field="station")


def users_for(user: Any) -> QuerySet[Any]:
    """Accounts an administrator manages: staff with a membership, or patients, under their facilities."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    if getattr(user, "is_superuser", False):
        return user_model.objects.all()
    ids = visible_facility_ids(user, {Role.ADMINISTRATOR})
    if not ids:
        return user_model.objects.none()
    return user_model.objects.filter(
        Q(memberships__facility__in=ids) | Q(patient__facility__in=ids)
    ).distinct()


def own_patients_for(user: Any) -> QuerySet[Any]:
    """Patients an account acts for as a patient (declares for, reads the history of): its own record and its
    family's, by the same phone rule as `patients_for`. Staff accounts get none: they act on patients
    through the desk. One query for any user (the staff check is a subquery): this is on the hot path of
    the morning's declarations."""
    from health_f0.patients.models import Patient

    if not getattr(user, "is_authenticated", False) or user.is_superuser:
        return Patient.objects.none()
    own = Q(account=user)
    if getattr(user, "phone", ""):
        own |= Q(phone=user.phone, account__isnull=False)
    not_staff = RawSQL(_NOT_STAFF_SQL, (user.pk,), output_field=BooleanField())  # noqa: S611 - constant SQL
    return Patient.objects.filter(own).filter(not_staff)


# "Holds no active membership at an active facility": is_staff_member's test as one constant SQL condition
# with a bound parameter. Written out because building the ORM's Exists() costs ~0.4 ms of CPU per call,
# a sixth of a declaration's CPU budget at the morning peak (tests check it agrees with is_staff_member).
_NOT_STAFF_SQL = (
    "NOT EXISTS (SELECT 1 FROM facilities_membership m INNER JOIN facilities_facility f "
    "ON f.id = m.facility_id WHERE m.user_id = %s AND m.is_active AND f.is_active)"
)


# Who follows home-care episodes (the board, the silent and call lists, the episode pages): the same people
# as the registration queue. Other roles held elsewhere (booking desk at the TTYT) add nothing here.
EPISODE_READER_ROLES: frozenset[str] = STATION_ROLES


def episodes_for(user: Any) -> QuerySet[Any]:
    """Home-care episodes at the facilities where the user follows home care (EPISODE_READER_ROLES)."""
    from health_f0.monitoring.models import Episode

    return scope_by_facility(Episode.objects.all(), user, field="facility", roles=EPISODE_READER_ROLES)


# Who watches danger-sign alerts: the station's staff and head, treatment doctors, managers, administrators.
ALERT_READER_ROLES: frozenset[str] = STATION_ROLES


def alerts_for(user: Any) -> QuerySet[Any]:
    """Danger-sign alerts of the facilities the staff member watches over (not booking desk or reception)."""
    from health_f0.monitoring.models import Alert

    return scope_by_facility(Alert.objects.all(), user, field="facility", roles=ALERT_READER_ROLES)


# Who works with appointments at a facility: the booking desk, reception, clinicians, managers, administrators.
APPOINTMENT_READER_ROLES: frozenset[str] = frozenset(
    {Role.BOOKING_DESK, Role.RECEPTION, Role.TREATMENT_DOCTOR, Role.MANAGER, Role.ADMINISTRATOR}
)


def appointments_for(user: Any, roles: Iterable[str] | None = None) -> QuerySet[Any]:
    """Appointments a user may see: staff those of the facilities they oversee in one of `roles` (default:
    APPOINTMENT_READER_ROLES); a patient account its own and its family's (the `own_patients_for` rule)."""
    from health_f0.appointments.models import Appointment

    if is_staff_member(user):
        return scope_by_facility(
            Appointment.objects.all(),
            user,
            field="facility",
            roles=roles if roles is not None else APPOINTMENT_READER_ROLES,
        )
    return Appointment.objects.filter(patient__in=own_patients_for(user))


# HIS link (health_f0.his): the linker queue and imported HIS records.
HIS_LINKER_ROLES: frozenset[str] = frozenset({Role.HIS_LINKER, Role.ADMINISTRATOR})
HIS_READER_ROLES: frozenset[str] = frozenset(
    {
        Role.HIS_LINKER,
        Role.ADMINISTRATOR,
        Role.MANAGER,
        Role.TREATMENT_DOCTOR,
        Role.RECEPTION,
        Role.BOOKING_DESK,
    }
)


def his_link_requests_for(user: Any) -> QuerySet[Any]:
    """HIS link requests: a linker/administrator sees those of the hospitals/TTYT they work for; a patient
    account its own and its family's."""
    from health_f0.his.models import HisLinkRequest

    if is_staff_member(user):
        return scope_by_facility(HisLinkRequest.objects.all(), user, field="facility", roles=HIS_LINKER_ROLES)
    return HisLinkRequest.objects.filter(patient__in=own_patients_for(user))


def his_records_for(user: Any, model: Any = None) -> QuerySet[Any]:
    """Imported HIS rows (HisVisit by default; HisLabResult, HisReexamSlip, HisLink, ImportRun too): staff
    who read HIS data at the facility; a patient account only rows of its own (and family) patients that
    come from an active link. ImportRun is for linkers, administrators and managers only."""
    from health_f0.his.models import HisLink, HisVisit, ImportRun

    model = model or HisVisit
    if is_staff_member(user):
        roles = HIS_LINKER_ROLES | {Role.MANAGER} if model is ImportRun else HIS_READER_ROLES
        return scope_by_facility(model.objects.all(), user, field="facility", roles=roles)
    if model is ImportRun or not getattr(user, "is_authenticated", False):
        return model.objects.none()
    patients = own_patients_for(user)
    if model is HisLink:
        return HisLink.objects.filter(patient__in=patients)
    active = HisLink.objects.filter(patient__in=patients, active=True).values_list(
        "patient_id", "facility_id"
    )
    pairs = Q()
    for patient_id, facility_id in active:
        pairs |= Q(patient_id=patient_id, facility_id=facility_id)
    if not pairs:
        return model.objects.none()
    return model.objects.filter(pairs)
