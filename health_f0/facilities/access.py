"""The ONE place that decides what a user may see and do.

Desk, API, portal and reports all scope their querysets through these functions. A staff role held at a
facility applies to that facility and everything under it (a TTYT manager sees all its stations; a station
nurse sees only that station). Patients see only their own records. "Not found" and "not yours" look the
same to callers: `get_scoped_or_404` raises NotFound for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sized
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections, models, router
from django.db.models import BooleanField, CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from health_f0.core import actors
from health_f0.core.exceptions import NotFound, PermissionDenied
from health_f0.facilities.models import Facility, Membership, Role

M = TypeVar("M", bound=models.Model)

ALL_STAFF_ROLES: frozenset[str] = frozenset(Role.values)
# Who works the home-care registration queue and sees its registrations (treatment doctors: at a treatment
# facility, which also receives registrations by transfer).
STATION_ROLES: frozenset[str] = frozenset(
    {Role.STATION_STAFF, Role.STATION_HEAD, Role.TREATMENT_DOCTOR, Role.MANAGER, Role.ADMINISTRATOR}
)


# --- Every role set of the product lives here (issue 10): a surface or a workflow names one of these. --------
ADMINISTRATOR_ROLES: frozenset[str] = frozenset({Role.ADMINISTRATOR})
# Who edits facilities, settings and catalogues, grants roles, and must use two-factor sign-in.
OVERSIGHT_ROLES: frozenset[str] = frozenset({Role.MANAGER, Role.ADMINISTRATOR})
AUDIT_READER_ROLES: frozenset[str] = OVERSIGHT_ROLES
# Who acts on the home-care registration queue and follows patients day to day (not managers: they read).
STATION_ACTING_ROLES: frozenset[str] = frozenset(
    {Role.STATION_STAFF, Role.STATION_HEAD, Role.TREATMENT_DOCTOR, Role.ADMINISTRATOR}
)
# Who may escalate or reassign an alert.
ESCALATION_ROLES: frozenset[str] = frozenset({Role.STATION_HEAD, Role.MANAGER, Role.ADMINISTRATOR})
# Who reads the home-care reports.
HOME_CARE_REPORT_ROLES: frozenset[str] = frozenset({Role.MANAGER, Role.ADMINISTRATOR, Role.STATION_HEAD})
# Appointments: the booking desk (confirm, decline, move, cancel), reception (check in), clinicians.
BOOKING_DESK_ROLES: frozenset[str] = frozenset({Role.BOOKING_DESK, Role.RECEPTION, Role.ADMINISTRATOR})
RECEPTION_ROLES: frozenset[str] = frozenset({Role.RECEPTION, Role.ADMINISTRATOR})
CLINICIAN_ROLES: frozenset[str] = frozenset({Role.TREATMENT_DOCTOR})
# Who may set a re-examination: clinicians and the desk.
REEXAM_ROLES: frozenset[str] = CLINICIAN_ROLES | BOOKING_DESK_ROLES
# The desk's read-only list of recurring re-exam plans: those who set re-exams, and managers.
REEXAM_PLAN_READER_ROLES: frozenset[str] = REEXAM_ROLES | {Role.MANAGER}
# Who records a visit as done, and who calls the queue.
COMPLETE_ROLES: frozenset[str] = RECEPTION_ROLES | CLINICIAN_ROLES
QUEUE_ROLES: frozenset[str] = RECEPTION_ROLES | CLINICIAN_ROLES
APPOINTMENT_REPORT_ROLES: frozenset[str] = frozenset({Role.MANAGER, Role.ADMINISTRATOR, Role.BOOKING_DESK})

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
        # Constant SQL: the ORM's filter and values_list cost ~0.35 ms of CPU to build, on every staff request
        # (issue 11); tests/security/test_access_sql.py checks it answers what the ORM query answers.
        with connections[router.db_for_read(Membership)].cursor() as cursor:
            cursor.execute(_MEMBERSHIPS_SQL, [user.pk])
            cache["memberships"] = [tuple(row) for row in cursor.fetchall()]
    result: list[tuple[int, str, str]] = cache["memberships"]
    return result


# Membership.objects.filter(user=user, is_active=True, facility__is_active=True)
#     .values_list("facility_id", "facility__path", "role"), as one constant statement.
_MEMBERSHIPS_SQL = (
    f"SELECT m.facility_id, f.path, m.role FROM {Membership._meta.db_table} m "  # noqa: S608
    f"INNER JOIN {Facility._meta.db_table} f ON f.id = m.facility_id "
    "WHERE m.user_id = %s AND m.is_active AND f.is_active"
)


def remember_memberships(
    user: Any,
    memberships: list[tuple[int, str, str]],
    subtrees: dict[str, frozenset[int]] | None = None,
) -> None:
    """The caller has just read `user`'s active memberships as _MEMBERSHIPS_SQL reads them, (facility id, path,
    role) each (api.sql.tokens does, in the token's own query): this request need not ask again. `subtrees`,
    if given: the ids _subtree_ids reads for each of their paths, read in the same statement, so the request's
    scopes (visible_facility_ids) ask nothing either. Kept on the user object of this request only."""
    cache = _cache(user)
    cache["memberships"] = memberships
    if subtrees is not None:
        cache["subtrees"] = subtrees


def remember_no_memberships(user: Any) -> None:
    """The caller has just read that `user` holds no active membership (api.sql.tokens does, in the token's
    own query): the staff checks of this request need not ask again."""
    _cache(user)["memberships"] = []


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
        paths = frozenset(path for _, path, role in _active_memberships(user) if role in role_set)
        # Role sets that reach the same memberships (the desk's roles, then one transition's) share one query.
        by_paths = ("visible_paths", paths)
        shared: frozenset[int] | None = cache.get(by_paths)
        if shared is None:
            shared = cache[by_paths] = _subtrees_of(cache, paths)
        ids = shared
    cache[key] = ids
    return ids


def _subtrees_of(cache: dict[Any, Any], paths: frozenset[str]) -> frozenset[int]:
    """The ids of the facilities at or under any of `paths`: from the subtrees read with the memberships
    (remember_memberships) when they hold every path, else asked (_subtree_ids)."""
    if not paths:
        return frozenset()
    told: dict[str, frozenset[int]] | None = cache.get("subtrees")
    if told is not None and paths <= told.keys():
        return frozenset().union(*[told[path] for path in paths])
    return _subtree_ids(sorted(paths))


def _subtree_ids(paths: list[str]) -> frozenset[int]:
    """Facility.objects.filter(Q(path__startswith=p) | ...).values_list("id", flat=True) as one constant
    statement (the backend's own `startswith` operator and LIKE escaping, as the ORM writes the lookup): the
    ORM's query cost ~0.3 ms of CPU to build on every staff request (issue 11)."""
    connection = connections[router.db_for_read(Facility)]
    operator = connection.operators["startswith"]
    condition = " OR ".join([f"path {operator}"] * len(paths))
    patterns = [f"{connection.ops.prep_for_like_query(path)}%" for path in paths]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Facility._meta.db_table} WHERE {condition}", patterns)  # noqa: S608
        return frozenset(row[0] for row in cursor.fetchall())


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


def facility_scope_sql(user: Any, column: str, roles: Iterable[str] | None = None) -> tuple[str, list[Any]]:
    """`scope_by_facility`'s rule as one SQL condition on `column` (a qualified facility id column, e.g.
    "a.facility_id") with its parameters, for the lists written as constant SQL (core/sqllist.py): the ids
    the user may see bound as parameters, nothing for a user who sees none, everything for a superuser."""
    ids = visible_facility_ids(user, roles)
    if not ids:
        return "1 = 0", []
    if getattr(user, "is_superuser", False):
        return "1 = 1", []
    return _in_ids(column, ids), []


def scope_size(user: Any, roles: Iterable[str], chosen: Sized | None = None) -> int | None:
    """How many facility ids a scope statement for `roles` names (`visible_facility_ids`: what
    `facility_scope_sql` and `scope_hiding_restricted_sql` write out, read once a request), or how many the
    caller's `chosen` filter names where that is fewer; None for a superuser with nothing chosen (every facility,
    no id written). For a list whose index hint depends on it (core.sqllist.ScopedFrom): only the plan depends
    on it, never the rows."""
    sizes = [] if chosen is None else [len(chosen)]
    if not (getattr(user, "is_superuser", False) and getattr(user, "is_authenticated", False)):
        sizes.append(len(visible_facility_ids(user, roles)))
    return min(sizes) if sizes else None


def _in_ids(column: str, ids: frozenset[int]) -> str:
    """`column IN (<ids>)` with the ids written in the statement, in order: the text MySQLdb would have
    written from one `%s` parameter each (an int's literal is its decimal form), without the driver's
    escaping call per parameter (about six Python calls an id: 130 a request for a TTYT's 22 facilities,
    460 for a province's 77; issue 11). int.__repr__ refuses anything but an int, so nothing else is
    ever written into the statement."""
    return f"{column} IN ({', '.join(map(int.__repr__, sorted(ids)))})"


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


# Who sees a patient's record through the facility that manages the patient (Patient.facility: the home-care
# station, or the health centre of a patient known only from bookings): home care's people, managers and
# administrators.
PATIENT_RECORD_ROLES: frozenset[str] = STATION_ROLES


def patients_for(user: Any) -> QuerySet[Any]:
    """Patients a user may see. Staff: those managed at a facility where they hold PATIENT_RECORD_ROLES, and
    those their own work brings to them at the facilities they serve — bookings and queue tickets
    (APPOINTMENT_READER_ROLES: the booking desk, reception, clinicians) and HIS link requests
    (HIS_LINKER_ROLES); a booking desk or reception at a TTYT never sees the home care of the stations below
    it. A patient under a processing restriction (privacy) is seen only through the roles that read
    restricted records (RESTRICTED_RECORD_READER_ROLES), not through the booking desk, reception or the HIS
    linker. A patient account: its own record and its family's (`own_patients_for`'s rule), restricted or
    not (the right of access)."""
    from health_f0.patients.models import Patient

    if is_staff_member(user):
        return _staff_patients(user)
    if getattr(user, "is_authenticated", False):
        return Patient.objects.filter(_own_or_family(user))
    return Patient.objects.none()


def account_patients_sql(user: Any) -> tuple[str, list[Any]] | None:
    """`patients_for`'s rule for a patient account (its own record and its family's) as one SQL condition on
    patients_patient's unqualified columns, with its parameters; None for anyone else (staff, superusers,
    anonymous users), whose patients are `patients_for`'s queryset. The staff test is is_staff_member's
    (its memberships read once per request)."""
    if not getattr(user, "is_authenticated", False) or is_staff_member(user):
        return None
    return own_or_family_sql(user)


def _staff_patients(user: Any) -> QuerySet[Any]:
    from health_f0.appointments.models import Appointment, ReexamPlan
    from health_f0.his.models import HisLinkRequest
    from health_f0.patients.models import Patient

    if user.is_superuser:
        return Patient.objects.all()

    def managed(ids: frozenset[int]) -> Q:
        return Q(facility__in=ids)

    def booked(ids: frozenset[int]) -> Q:
        # Walk-in queue tickets are appointments too (is_walk_in).
        return Q(pk__in=Appointment.objects.filter(facility__in=ids).values("patient_id")) | Q(
            pk__in=ReexamPlan.objects.filter(facility__in=ids).values("patient_id")
        )

    def linked(ids: frozenset[int]) -> Q:
        return Q(pk__in=HisLinkRequest.objects.filter(facility__in=ids).values("patient_id"))

    conditions: list[Q] = []
    for roles, through in (
        (PATIENT_RECORD_ROLES, managed),
        (APPOINTMENT_READER_ROLES, booked),
        (HIS_LINKER_ROLES, linked),
    ):
        readers, others = _restricted_split(user, roles)
        if readers:
            conditions.append(through(readers))
        if others:
            conditions.append(through(others) & _UNRESTRICTED)
    if not conditions:
        return Patient.objects.none()
    condition = conditions[0]
    for other in conditions[1:]:
        condition |= other
    return Patient.objects.filter(condition)


def audit_logs_for(user: Any) -> QuerySet[Any]:
    """Audit rows are for managers and administrators, for the facilities they oversee."""
    from health_f0.core.models import AuditLog

    return scope_by_facility(AuditLog.objects.all(), user, field="facility", roles=AUDIT_READER_ROLES)


# The outbox by the work a message belongs to (OutboxMessage.kind; "his_link" is the HIS domain's kind): each
# role sees the messages of its own work at the facilities where it holds the role. Managers and
# administrators see every message of their tree (and messages of no listed kind).
OUTBOX_WORK: tuple[tuple[frozenset[str], frozenset[str]], ...] = (
    (
        frozenset({Role.STATION_STAFF, Role.STATION_HEAD, Role.TREATMENT_DOCTOR}),
        frozenset(
            {"otp", "account", "registration_received", "registration_rejected", "reminder", "staff_alert"}
        ),
    ),
    (frozenset({Role.BOOKING_DESK, Role.RECEPTION}), frozenset({"appointment", "appointment_reminder"})),
    (frozenset({Role.HIS_LINKER}), frozenset({"his_link"})),
)
OUTBOX_ALL_ROLES: frozenset[str] = OVERSIGHT_ROLES
# Who has an outbox at all (the desk's menu item and list): a role with no work of its own in it, such as the
# accountant, is not offered an empty page.
OUTBOX_READER_ROLES: frozenset[str] = OUTBOX_ALL_ROLES.union(*(roles for roles, _kinds in OUTBOX_WORK))


def outbox_for(user: Any) -> QuerySet[Any]:
    """Outgoing messages of the staff member's own work (OUTBOX_WORK) at the facilities where they hold the
    role; all messages of their tree for managers and administrators (bodies of secrets are never shown)."""
    from health_f0.notifications.models import OutboxMessage

    if getattr(user, "is_superuser", False) and getattr(user, "is_authenticated", False):
        return OutboxMessage.objects.all()
    conditions: list[Q] = []
    everything = visible_facility_ids(user, OUTBOX_ALL_ROLES)
    if everything:
        conditions.append(Q(facility__in=everything))
    for roles, kinds in OUTBOX_WORK:
        ids = visible_facility_ids(user, roles)
        if ids:
            conditions.append(Q(facility__in=ids, kind__in=kinds))
    if not conditions:
        return OutboxMessage.objects.none()
    condition = conditions[0]
    for other in conditions[1:]:
        condition |= other
    return OutboxMessage.objects.filter(condition)


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
    family's. The family is a verified fact, never an editable field: the patients with an account of their
    own whose phone bond (Patient.verified_phone, made only by an OTP to the number: patients.bonds) is on
    the same number as the bond of this account's own patient. A phone corrected at the desk, or an edited
    account phone, changes nothing here. Staff accounts get none: they act on patients through the desk.
    One query for any user (the account's verified phone and the staff check are constant subqueries): this
    is on the hot path of the morning's declarations."""
    from health_f0.patients.models import Patient

    if not getattr(user, "is_authenticated", False) or user.is_superuser:
        return Patient.objects.none()
    not_staff = RawSQL(NOT_STAFF_SQL, (user.pk,), output_field=BooleanField())  # noqa: S611 - constant SQL
    return Patient.objects.filter(_own_or_family(user)).filter(not_staff)


def _own_or_family(user: Any) -> Q:
    verified = RawSQL(_VERIFIED_PHONE_SQL, (user.pk,), output_field=CharField())  # noqa: S611 - constant SQL
    return Q(account=user) | Q(account__isnull=False, verified_phone=verified)


def own_or_family_sql(user: Any) -> tuple[str, list[Any]]:
    """`own_patients_for`'s family rule as one SQL condition on patients_patient's unqualified columns, with
    its parameters, for the hand-written statement of the declaration hot path
    (monitoring.selectors.declaring_patient, which adds NOT_STAFF_SQL)."""
    return (
        f"(account_id = %s OR (account_id IS NOT NULL AND verified_phone = ({_VERIFIED_PHONE_SQL})))",
        [user.pk, user.pk],
    )


# The verified phone of the account's own patient (at most one: Patient.account is one-to-one), or no row when
# it has none proved. A constant, uncorrelated subquery on the unique account index: MariaDB evaluates it once,
# while optimising, so the family half of the rule is an index lookup on verified_phone like the phone lookup
# it replaced (docs/benchmarks.md, bench/declarations.sh).
_VERIFIED_PHONE_SQL = (
    "SELECT o.verified_phone FROM patients_patient o WHERE o.account_id = %s AND o.verified_phone <> ''"
)


# "Holds no active membership at an active facility": is_staff_member's test as one constant SQL condition
# with a bound parameter. Written out because building the ORM's Exists() costs ~0.4 ms of CPU per call,
# a sixth of a declaration's CPU budget at the morning peak (tests check it agrees with is_staff_member).
NOT_STAFF_SQL = (
    "NOT EXISTS (SELECT 1 FROM facilities_membership m INNER JOIN facilities_facility f "
    "ON f.id = m.facility_id WHERE m.user_id = %s AND m.is_active AND f.is_active)"
)


def not_staff_sql(user: Any) -> tuple[str, list[Any]]:
    """NOT_STAFF_SQL for `user` as a condition and its parameters, unless this request has already read the
    user's memberships (the token's or the session's own statement did: remember_memberships,
    remember_no_memberships): then the answer it found, as a constant ("1 = 1" for none, "1 = 0" for a staff
    role), and the server has no subquery to plan. The membership read is milliseconds old and of the same
    request, as is_staff_member's answer for the rest of it (issue 11: the subquery cost MariaDB 0.08-0.12 ms
    a declaration)."""
    memberships = _cache(user).get("memberships")
    if memberships is None:
        return NOT_STAFF_SQL, [user.pk]
    return ("1 = 0" if memberships else "1 = 1"), []


# Who follows home-care episodes (the board, the silent and call lists, the episode pages): the same people
# as the registration queue. Other roles held elsewhere (booking desk at the TTYT) add nothing here.
EPISODE_READER_ROLES: frozenset[str] = STATION_ROLES


def episodes_for(user: Any) -> QuerySet[Any]:
    """Home-care episodes at the facilities where the user follows home care (EPISODE_READER_ROLES)."""
    from health_f0.monitoring.models import Episode

    return scope_by_facility(Episode.objects.all(), user, field="facility", roles=EPISODE_READER_ROLES)


# Who watches danger-sign alerts: the station's staff and head, treatment doctors, managers, administrators.
ALERT_READER_ROLES: frozenset[str] = STATION_ROLES


# Who downloads a completed episode's certificate in the desk (each download audited): those who follow the
# episode. The portal's download is the patient's and the family's (own_patients_for).
CERTIFICATE_ROLES: frozenset[str] = EPISODE_READER_ROLES


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
    APPOINTMENT_READER_ROLES; see staff_appointments_for); a patient account its own and its family's (the
    `own_patients_for` rule)."""
    from health_f0.appointments.models import Appointment

    if is_staff_member(user):
        return staff_appointments_for(user, roles if roles is not None else APPOINTMENT_READER_ROLES)
    return Appointment.objects.filter(patient__in=own_patients_for(user))


def staff_appointments_for(user: Any, roles: Iterable[str] | None = None) -> QuerySet[Any]:
    """The desk's appointments: those at the facilities where the staff member holds one of `roles` (default:
    any staff role) and everything below, except the bookings of restricted patients where the role is not
    one that reads restricted records (booking desk, reception). None for anyone else."""
    from health_f0.appointments.models import Appointment

    return _scope_hiding_restricted(Appointment.objects.all(), user, roles=roles)


# HIS link (health_f0.his): the linker queue and imported HIS records.
HIS_LINKER_ROLES: frozenset[str] = frozenset({Role.HIS_LINKER, Role.ADMINISTRATOR})
# Who reaches any patient record (patients_for's three ways in): the desk's "Người bệnh" list and menu item.
PATIENT_LIST_ROLES: frozenset[str] = PATIENT_RECORD_ROLES | APPOINTMENT_READER_ROLES | HIS_LINKER_ROLES
# Imported HIS records (visits with their diagnoses, lab results) are for clinical roles, the HIS linker,
# managers and administrators; not for the booking desk or reception.
HIS_READER_ROLES: frozenset[str] = frozenset(
    {
        Role.HIS_LINKER,
        Role.ADMINISTRATOR,
        Role.MANAGER,
        Role.TREATMENT_DOCTOR,
    }
)
# Who may start a link request for a patient at the counter (and print the link form).
HIS_COUNTER_ROLES: frozenset[str] = frozenset({Role.RECEPTION, Role.HIS_LINKER, Role.ADMINISTRATOR})
# Who runs HIS imports and reads the HIS linking report.
HIS_RUN_ROLES: frozenset[str] = HIS_LINKER_ROLES | {Role.MANAGER}
HIS_REPORT_ROLES: frozenset[str] = frozenset({Role.MANAGER, Role.ADMINISTRATOR, Role.HIS_LINKER})


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
        if model is ImportRun:
            return scope_by_facility(
                model.objects.all(), user, field="facility", roles=HIS_LINKER_ROLES | {Role.MANAGER}
            )
        # A restricted patient's records stay with the clinical and oversight readers (not the linker).
        return _scope_hiding_restricted(model.objects.all(), user, roles=HIS_READER_ROLES)
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


# The ids of the patients an account acts for as a patient (own_patients_for), once a request has read them:
# owns_patient asks own_patients_for for them, the portal's patient choice reads them with their rows
# (remember_own_patients).
_OWN_PATIENT_IDS = "own_patient_ids"


def remember_own_patients(user: Any, patient_ids: Iterable[int]) -> None:
    """Keep, for the rest of the request, the ids of the patients `user` acts for as a patient, read by the
    caller with `account_patients_sql`'s rule (the portal's patient choice, monitoring.sql.patients
    .account_patients): `own_patients_sql` then binds them (no subquery for MariaDB to plan: the HIS pages'
    link and record statements, issue 11) and `owns_patient` reads no more. That rule is `own_patients_for`'s
    for every account it answers for (not for staff, whose `account_patients_sql` is None, and not for a
    superuser, who owns no patient here: neither is kept). The ids are milliseconds old and of the same
    request, as the memberships are (remember_memberships)."""
    if not getattr(user, "is_authenticated", False) or user.is_superuser or is_staff_member(user):
        return
    _cache(user)[_OWN_PATIENT_IDS] = frozenset(patient_ids)


def own_patients_sql(user: Any, patient_column: str) -> tuple[str, list[Any]]:
    """`own_patients_for`'s rule as one SQL condition on `patient_column` (a qualified patient id column), with
    its parameters, for the lists written as constant SQL (core/sqllist.py): the account's own and family
    patients (own_or_family_sql), never for a staff account (not_staff_sql: the subquery, or the answer this
    request has already read); nothing for anonymous users and superusers."""
    if not getattr(user, "is_authenticated", False) or user.is_superuser:
        return "1 = 0", []
    known = _cache(user).get(_OWN_PATIENT_IDS)
    if known is not None:
        # This request has read them (remember_own_patients): the ids, and the server plans no subquery.
        if not known:
            return "1 = 0", []
        return f"{patient_column} IN ({', '.join(['%s'] * len(known))})", sorted(known)
    own, params = own_or_family_sql(user)
    not_staff, not_staff_params = not_staff_sql(user)
    return (
        f"{patient_column} IN (SELECT id FROM patients_patient WHERE {own} AND {not_staff})",  # noqa: S608
        [*params, *not_staff_params],
    )


# A patient account's active-link pairs, once a request has read them with its patients
# (remember_his_active_pairs).
_HIS_ACTIVE_PAIRS = "his_active_pairs"
_HIS_ACTIVE_PAIRS_SQL = "SELECT patient_id, facility_id FROM his_hislink WHERE active AND "


def his_records_sql(user: Any, patient_column: str, facility_column: str) -> tuple[str, list[Any]]:
    """`his_records_for`'s rule for the imported records of a patient (HisVisit, HisLabResult, HisLabReport,
    HisReexamSlip; not HisLink nor ImportRun) as one SQL condition on the row's qualified patient and facility
    id columns, with its parameters, for the lists written as constant SQL (core/sqllist.py). Staff: the
    facilities where they read HIS data, a restricted patient's rows only where their role reads restricted
    records. A patient account: the (patient, facility) pairs of its own and family patients' active links,
    read in one constant statement (`his_active_pairs`; the ORM rule reads them too) and bound as parameters
    (`his_pairs_sql`), so the list's statement stays an index range of one patient's rows."""
    if is_staff_member(user):
        return scope_hiding_restricted_sql(
            user, HIS_READER_ROLES, facility_column=facility_column, patient_column=patient_column
        )
    return his_pairs_sql(his_active_pairs(user) or (), patient_column, facility_column)


def his_active_pairs(user: Any) -> tuple[tuple[int, int], ...] | None:
    """A patient account's (patient id, facility id) pairs of its own and family patients' active HIS links,
    sorted: what `his_records_sql` binds for that account (it calls this), for a page
    that also needs to know whether a patient has an active link (the portal's HIS pages read it once for
    both; his.selectors.RecordScope). None for a staff account, whose rule is by facility (his_records_sql
    itself); no pair for an anonymous user. tests/security/test_his_active_pairs.py checks both functions
    against his_records_sql and links_for for every role."""
    if is_staff_member(user):
        return None
    if not getattr(user, "is_authenticated", False):
        return ()
    known = _cache(user).get(_HIS_ACTIVE_PAIRS)
    if known is not None:
        return known  # type: ignore[no-any-return]
    from django.db import connection

    own, own_params = own_patients_sql(user, "patient_id")
    with connection.cursor() as cursor:
        cursor.execute(_HIS_ACTIVE_PAIRS_SQL + own, own_params)
        return tuple(sorted((int(p), int(f)) for p, f in cursor.fetchall()))


def remember_his_active_pairs(user: Any, pairs: Iterable[tuple[int, int]]) -> None:
    """Keep, for the rest of the request, `user`'s active-link pairs read by the caller with the patients it acts
    for (the portal's patient choice on the HIS pages: monitoring.sql.patients.account_patients(his_links=True)
    reads each patient's active links' facilities in its own statement): `his_active_pairs` then reads no more.
    Kept only when this request kept the account's patient ids (remember_own_patients: the rule those patients
    were read by is own_patients_for's, so their active links are his_active_pairs' answer), and only for those
    patients."""
    cache = _cache(user)
    own = cache.get(_OWN_PATIENT_IDS)
    if own is None:
        return
    cache[_HIS_ACTIVE_PAIRS] = tuple(sorted((int(p), int(f)) for p, f in pairs if int(p) in own))


def his_pairs_sql(
    pairs: tuple[tuple[int, int], ...], patient_column: str, facility_column: str
) -> tuple[str, list[Any]]:
    """`his_records_sql`'s condition for a patient account whose `his_active_pairs` are `pairs`: the rows of
    those (patient, facility) pairs only; none without a pair."""
    if not pairs:
        return "1 = 0", []
    term = f"({patient_column} = %s AND {facility_column} = %s)"
    return "(" + " OR ".join([term] * len(pairs)) + ")", [value for pair in pairs for value in pair]


# --- Personal-data rights (health_f0.privacy): requests, consents, exports, restricted records. ---------

# Who answers withdrawal and deletion requests: the head of the station managing the patient (home care), the
# managers of the TTYT or hospital (appointments, HIS), administrators.
PRIVACY_HANDLER_ROLES: frozenset[str] = frozenset({Role.STATION_HEAD, Role.MANAGER, Role.ADMINISTRATOR})
# Who may still read a patient whose processing is restricted (medical records kept for their legal period):
# clinical and oversight roles. The booking desk, reception and HIS linkers no longer see them.
RESTRICTED_RECORD_READER_ROLES: frozenset[str] = frozenset(
    {Role.STATION_STAFF, Role.STATION_HEAD, Role.TREATMENT_DOCTOR, Role.MANAGER, Role.ADMINISTRATOR}
)


def privacy_requests_for(user: Any) -> QuerySet[Any]:
    """Data-subject requests: handlers those of the facilities they oversee; a patient account those it
    sent and those about its own and its family's patients."""
    from health_f0.privacy.models import DataSubjectRequest

    if is_staff_member(user):
        return scope_by_facility(
            DataSubjectRequest.objects.all(), user, field="facility", roles=PRIVACY_HANDLER_ROLES
        )
    if not getattr(user, "is_authenticated", False):
        return DataSubjectRequest.objects.none()
    return DataSubjectRequest.objects.filter(Q(requested_by=user) | Q(patient__in=own_patients_for(user)))


def verified_phones_for(user: Any) -> QuerySet[Any]:
    """The phone numbers proved by OTP (PhoneBond) of the patients the account acts for (`own_patients_for`:
    one number, the family's), as a one-column subquery. What was given "by phone" (a consent before the
    account existed) belongs to the account only through such a number, never through User.phone, which is
    not verified."""
    return own_patients_for(user).exclude(verified_phone="").values("verified_phone")


def consents_for(user: Any) -> QuerySet[Any]:
    """Consent records: handlers those given at (or for patients of) the facilities they oversee; a patient
    account its own (by account, or given through its verified phone: `verified_phones_for`) and its
    family's."""
    from health_f0.privacy.models import ConsentRecord

    if is_staff_member(user):
        ids = visible_facility_ids(user, PRIVACY_HANDLER_ROLES)
        if not ids:
            return ConsentRecord.objects.none()
        if user.is_superuser:
            return ConsentRecord.objects.all()
        return ConsentRecord.objects.filter(Q(facility__in=ids) | Q(patient__facility__in=ids))
    if not getattr(user, "is_authenticated", False):
        return ConsentRecord.objects.none()
    # A record about a patient is that patient's; the number matters only for what was given before any
    # patient record existed (a registration's consent).
    by_phone = Q(patient__isnull=True, phone__in=verified_phones_for(user))
    own = Q(user=user) | Q(patient__in=own_patients_for(user)) | by_phone
    return ConsentRecord.objects.filter(own)


def data_exports_for(user: Any) -> QuerySet[Any]:
    """Data exports are the requesting account's alone (staff included: nobody reads another's export)."""
    from health_f0.privacy.models import DataExport

    if not getattr(user, "is_authenticated", False):
        return DataExport.objects.none()
    return DataExport.objects.filter(requested_by=user)


def can_read_restricted(user: Any, facility: Facility | None) -> bool:
    """Whether a staff member may read a restricted patient managed at `facility`."""
    return can_act_at(user, facility, RESTRICTED_RECORD_READER_ROLES)


# "The patient is under no processing restriction", for Patient rows.
_UNRESTRICTED = Q(processing_restriction__isnull=True)


def _restricted_split(user: Any, roles: Iterable[str]) -> tuple[frozenset[int], frozenset[int]]:
    """The facilities where the user holds one of `roles`, split in two: those where one of the roles held
    reads restricted records (RESTRICTED_RECORD_READER_ROLES), and the rest (booking desk, reception, HIS
    linker only), where restricted patients are left out."""
    role_set = frozenset(roles)
    readers = visible_facility_ids(user, role_set & RESTRICTED_RECORD_READER_ROLES)
    others = visible_facility_ids(user, role_set - RESTRICTED_RECORD_READER_ROLES) - readers
    return readers, others


def _scope_hiding_restricted(
    queryset: QuerySet[M],
    user: Any,
    *,
    roles: Iterable[str] | None,
    field: str = "facility",
    patient: str = "patient",
) -> QuerySet[M]:
    """scope_by_facility for rows that belong to a patient (`patient` is the lookup path to it), leaving out
    the rows of restricted patients at the facilities where the user's role in `roles` does not read
    restricted records. The facility is the row's own (where the booking or the HIS record is), so a doctor
    of a hospital still reads the restricted record of a patient managed by a station elsewhere."""
    if getattr(user, "is_superuser", False) and getattr(user, "is_authenticated", False):
        return queryset
    readers, others = _restricted_split(user, roles if roles is not None else ALL_STAFF_ROLES)
    condition = Q()
    if readers:
        condition |= Q(**{f"{field}__in": readers})
    if others:
        condition |= Q(Q(**{f"{field}__in": others}), ~restricted_patient(patient))
    if not condition:
        return queryset.none()
    return queryset.filter(condition)


def restricted_patient(patient: str = "patient") -> Exists:
    """Whether the row's patient is under a processing restriction, as a correlated EXISTS on the restriction's
    unique patient index (`patient`: the lookup path to the patient; "" when rows are patients). Negated, it
    is one index probe per row (MariaDB: an anti-join, "Not exists") that needs neither the patient row nor
    a join: `patient__processing_restriction__isnull=True` joined the patient table for every row of the
    scope, and `exclude()` of it over a join made MariaDB read the restriction through the patient."""
    from health_f0.privacy.models import ProcessingRestriction

    return Exists(ProcessingRestriction.objects.filter(patient_id=OuterRef(patient or "pk")))


def hide_restricted(queryset: QuerySet[M], user: Any, *, field: str = "patient") -> QuerySet[M]:
    """Drop rows of patients under a processing restriction unless the staff member reads restricted records
    at the patient's facility (`field` is the lookup path to the patient; "" when rows are patients): the rows
    whose patient has no restriction (a correlated NOT EXISTS: `restricted_patient`), or is managed at a
    facility where the user reads restricted records."""
    if getattr(user, "is_superuser", False):
        return queryset
    prefix = f"{field}__" if field else ""
    allowed = visible_facility_ids(user, RESTRICTED_RECORD_READER_ROLES)
    kept: Any = ~restricted_patient(field)
    if allowed:
        kept = Q(kept) | Q(**{f"{prefix}facility__in": allowed})
    return queryset.filter(kept)


def scope_hiding_restricted_sql(
    user: Any, roles: Iterable[str] | None, *, facility_column: str, patient_column: str
) -> tuple[str, list[Any]]:
    """`_scope_hiding_restricted`'s rule (staff_appointments_for, his_records_for) as one SQL condition with
    its parameters, for the lists written as constant SQL: `facility_column` is the row's own facility id,
    `patient_column` its patient id. The same split of the user's facilities (_restricted_split) and the same
    correlated NOT EXISTS on the restriction's unique patient index."""
    if getattr(user, "is_superuser", False) and getattr(user, "is_authenticated", False):
        return "1 = 1", []
    from health_f0.privacy.models import ProcessingRestriction

    readers, others = _restricted_split(user, roles if roles is not None else ALL_STAFF_ROLES)
    parts: list[str] = []
    if readers:
        parts.append(_in_ids(facility_column, readers))
    if others:
        table = ProcessingRestriction._meta.db_table
        parts.append(
            f"({_in_ids(facility_column, others)} AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {table} pr WHERE pr.patient_id = {patient_column}))"
        )
    if not parts:
        return "1 = 0", []
    return f"({' OR '.join(parts)})", []


# --- Registration transfer targets (issue 9: GET /api/v1/stations) -----------------------------------------


def transfer_stations_for(user: Any) -> QuerySet[Facility]:
    """Where a registration this user sees may be transferred: the active stations and treatment facilities of
    the provinces where the user holds a registration-queue role (STATION_ROLES) — the same choice the desk's
    transfer dialog offers (a transfer never leaves the province). Superusers: every active one. Hospital-side
    staff and patients: none."""
    from health_f0.facilities.models import FacilityKind

    if not getattr(user, "is_authenticated", False):
        return Facility.objects.none()
    accepting = Facility.objects.filter(
        is_active=True, kind__in=(FacilityKind.STATION, FacilityKind.TREATMENT)
    )
    if user.is_superuser:
        return accepting
    member_at = [facility_id for facility_id, _, role in _active_memberships(user) if role in STATION_ROLES]
    if not member_at:
        return Facility.objects.none()
    provinces = Facility.objects.filter(id__in=member_at).values("province_code")
    return accepting.filter(province_code__in=provinces)


# --- Actors and workflows (core.actors, core.workflow) ---------------------------------------------------


def phone_answering_for(patient: Any, booked_at: Any) -> str:
    """The number that answers for a booking of `patient` made at `booked_at` (the SMS link's OTP goes there,
    and only its holder becomes a PhoneHolder): the patient's verified phone (proved by OTP: the bond), else
    the phone the booking was made with — the current phone, unless staff changed it after the booking was
    made. A correction proves nothing: the new number's holder booked nothing, so they answer for nothing until
    the number is proved (the desk's or the portal's OTP). "" when no number answers."""
    if patient.verified_phone:
        return str(patient.verified_phone)
    changed = patient.phone_changed_at
    if not patient.phone or (changed is not None and changed > booked_at):
        return ""
    return str(patient.phone)


def owns_patient(actor: Any, patient: Any) -> bool:
    """The actor is the patient's own account or a family account allowed to act for them, or the holder of
    a number that answers for the patient (core.actors.PhoneHolder)."""
    if isinstance(actor, actors.PhoneHolder):
        if not actor.phone:
            return False
        if patient.verified_phone == actor.phone:
            return True
        booking = actor.booking
        return (
            booking is not None
            and booking.patient_id == patient.pk
            and phone_answering_for(patient, booking.created_at) == actor.phone
        )
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    if is_staff_member(actor):
        # A staff member's staff scope is not "their own": only their personal record counts.
        return bool(patient.account_id == actor.pk)
    if patient.account_id == actor.pk:
        return True
    # Read once per user object (one request): a list of 100 bookings asks for each row's actions.
    cache = _cache(actor)
    if _OWN_PATIENT_IDS not in cache:
        cache[_OWN_PATIENT_IDS] = frozenset(own_patients_for(actor).values_list("pk", flat=True))
    return patient.pk in cache[_OWN_PATIENT_IDS]


def actor_capacity_or_none(
    actor: Any,
    roles: frozenset[str],
    *,
    facility: Facility | None,
    patient: Any = None,
    requester: Any = None,
) -> str | None:
    """The capacity (core.actors STAFF, PATIENT, REQUESTER or SYSTEM) in which `actor` may take a step open to
    `roles` on a record of `facility` (and `patient`, sent by `requester`), or None where they may not: the
    rule itself, which `actor_capacity` raises on. Asking only whether an action is open (a list's `actions`:
    core.workflow's available_each) builds no translated refusal to throw away (issue 11)."""
    if actor is None:
        return actors.SYSTEM if actors.SYSTEM in roles else None
    staff_roles = roles - actors.PSEUDO_ROLES
    if staff_roles and not isinstance(actor, actors.PhoneHolder) and can_act_at(actor, facility, staff_roles):
        return actors.STAFF
    if actors.PATIENT in roles and patient is not None and owns_patient(actor, patient):
        return actors.PATIENT
    if actors.REQUESTER in roles and requester is not None:
        requester_pk = getattr(requester, "pk", requester)
        if requester_pk is not None and requester_pk == actors.actor_id(actor):
            return actors.REQUESTER
    return None


def capacities_at(actor: Any, roles: frozenset[str]) -> Callable[[int | None], str | None]:
    """facility id -> `actor_capacity_or_none(actor, roles, facility=<the facility of that id>)`, for `roles` that
    name neither the patient nor the requester (staff roles, the system): their answer is decided by the record's
    facility id alone (can_act_at reads nothing else of the facility; None: no facility), so a page of records at
    ten clinics is answered by its rows' facility ids, the actor's scope read once, without building a record or
    a facility (the appointment workflow's `capacity_by_key`; tests/api/test_appointment_sql_lists.py compares it
    with the authorizer for every persona). Roles the record's patient or requester may hold are refused
    (ValueError): only the record answers them."""
    if actors.PATIENT in roles or actors.REQUESTER in roles:
        raise ValueError(
            f"{sorted(roles)}: the patient's or the requester's capacity is decided by the record"
        )
    if actor is None:
        return _answer(actors.SYSTEM if actors.SYSTEM in roles else None)
    staff_roles = roles - actors.PSEUDO_ROLES
    if (
        not staff_roles
        or isinstance(actor, actors.PhoneHolder)
        or not getattr(actor, "is_authenticated", False)
    ):
        return _answer(None)
    if actor.is_superuser:  # can_act_at: every facility
        return lambda facility_id: None if facility_id is None else actors.STAFF
    ids = visible_facility_ids(actor, staff_roles)
    return lambda facility_id: actors.STAFF if facility_id in ids else None


def _answer(capacity: str | None) -> Callable[[int | None], str | None]:
    return lambda facility_id: capacity


def actor_capacity(
    actor: Any,
    roles: frozenset[str],
    *,
    facility: Facility | None,
    patient: Any = None,
    requester: Any = None,
) -> str:
    """`actor_capacity_or_none`'s capacity, or PermissionDenied where it answers None."""
    capacity = actor_capacity_or_none(actor, roles, facility=facility, patient=patient, requester=requester)
    if capacity is not None:
        return capacity
    if actor is None:
        raise PermissionDenied(_("Thao tác này cần người thực hiện."))
    raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))


class Authorizer:
    """The `authorize(obj, roles, actor)` a core.workflow.Workflow is built with (`access.authorizer`):
    `actor_capacity` with the record's facility, patient and requester read by the given accessors; its
    `or_none` is `actor_capacity_or_none` with the same accessors, which the workflow asks where it only wants
    to know whether an action is open."""

    __slots__ = ("facility", "patient", "requester")

    def __init__(self, facility: Any, patient: Any, requester: Any) -> None:
        self.facility, self.patient, self.requester = facility, patient, requester

    def __call__(self, obj: Any, roles: frozenset[str], actor: Any) -> str:
        return actor_capacity(
            actor,
            roles,
            facility=self.facility(obj),
            patient=self.patient(obj),
            requester=self.requester(obj),
        )

    def or_none(self, obj: Any, roles: frozenset[str], actor: Any) -> str | None:
        return actor_capacity_or_none(
            actor,
            roles,
            facility=self.facility(obj),
            patient=self.patient(obj),
            requester=self.requester(obj),
        )


def authorizer(
    *,
    facility: Any = lambda obj: obj.facility,
    patient: Any = lambda obj: getattr(obj, "patient", None),
    requester: Any = lambda obj: None,
) -> Authorizer:
    """The `authorize(obj, roles, actor)` a core.workflow.Workflow is built with: `actor_capacity` with the
    record's facility, patient and requester read by the given accessors (and its truth-only `or_none`)."""
    return Authorizer(facility, patient, requester)


# --- Scheduled report e-mails (health_f0.reports.subscriptions, issue 13 §5) ------------------------------------
# Who subscribes to a report e-mail: managers and administrators, for a facility where they hold the role (and
# may see the report). A manager sees and manages their own subscriptions; an administrator also those whose
# facility lies in their administrator scope. Everyone else: nothing.
REPORT_SUBSCRIPTION_ROLES: frozenset[str] = OVERSIGHT_ROLES
REPORT_SUBSCRIPTION_ADMIN_ROLES: frozenset[str] = ADMINISTRATOR_ROLES


def report_subscriptions_for(user: Any) -> QuerySet[Any]:
    """Report subscriptions the user may see and manage (own ones; an administrator's scope; superuser: all)."""
    from health_f0.reports.subscriptions.models import ReportSubscription

    queryset = ReportSubscription.objects.all()
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    if user.is_superuser:
        return queryset
    if not roles_of(user) & REPORT_SUBSCRIPTION_ROLES:
        return queryset.none()
    condition = Q(owner=user)
    administered = visible_facility_ids(user, REPORT_SUBSCRIPTION_ADMIN_ROLES)
    if administered:
        condition |= Q(facility_id__in=administered)
    return queryset.filter(condition)


def report_deliveries_for(user: Any) -> QuerySet[Any]:
    """Deliveries of the report subscriptions the user may see."""
    from health_f0.reports.subscriptions.models import ReportDelivery

    return ReportDelivery.objects.filter(subscription__in=report_subscriptions_for(user).values("id"))


# --- Payments (health_f0.payments): what patients paid online, refunds, the facilities' gateway accounts. ---

# Who sees a facility's payments in the desk (a booking's fee, a visit's bill): the booking desk and reception
# (they tell the patient whether it is paid), managers and administrators.
PAYMENT_READER_ROLES: frozenset[str] = frozenset(
    {Role.BOOKING_DESK, Role.RECEPTION, Role.MANAGER, Role.ADMINISTRATOR, Role.ACCOUNTANT}
)
# Who settles the gateways' money: reconciles a day, resolves its differences, closes it, gives money back or
# retries a failed refund, marks a refund done by hand — at the facilities where they hold the role and below.
ACCOUNTANT_ROLES: frozenset[str] = frozenset({Role.ACCOUNTANT, Role.ADMINISTRATOR})
# Who gives money back or retries a failed refund by hand.
PAYMENT_REFUND_ROLES: frozenset[str] = ACCOUNTANT_ROLES
# Who registers a facility's gateway accounts and their keys.
GATEWAY_ACCOUNT_ROLES: frozenset[str] = ADMINISTRATOR_ROLES


def payments_for(user: Any) -> QuerySet[Any]:
    """Payments a user may see: staff those of the facilities where they hold PAYMENT_READER_ROLES (and
    below); a patient account its own and its family's (the `own_patients_for` rule). None for anyone else."""
    from health_f0.payments.models import Payment

    if is_staff_member(user) or getattr(user, "is_superuser", False):
        return scope_by_facility(Payment.objects.all(), user, field="facility", roles=PAYMENT_READER_ROLES)
    if not getattr(user, "is_authenticated", False):
        return Payment.objects.none()
    return own_payments_for(user)


def gateway_accounts_for(user: Any) -> QuerySet[Any]:
    """Gateway accounts (merchant codes; the keys are never shown) of the facilities a user administers."""
    from health_f0.payments.models import GatewayAccount

    return scope_by_facility(
        GatewayAccount.objects.all(), user, field="facility", roles=GATEWAY_ACCOUNT_ROLES
    )


# The gateways' answers (PaymentEvent: callbacks applied or refused, queries, refunds): managers and administrators
# of the facility. Refused callbacks naming no known payment have no facility: superusers only.
PAYMENT_LOG_ROLES: frozenset[str] = OVERSIGHT_ROLES | {Role.ACCOUNTANT}
# Who must use a second factor at the desk (accounts.two_factor): those who see a whole facility's records, and
# the accountants, who move money (refunds).
TWO_FACTOR_REQUIRED_ROLES: frozenset[str] = OVERSIGHT_ROLES | {Role.ACCOUNTANT}


def payment_events_for(user: Any) -> QuerySet[Any]:
    from health_f0.payments.models import PaymentEvent

    return scope_by_facility(PaymentEvent.objects.all(), user, field="facility", roles=PAYMENT_LOG_ROLES)


# --- Payments and accounting (issue 13 §4): the accountant ("kế toán") ------------------------------------

# Who reads reconciliations and receipts in the desk: the accountants, and managers (read-only). (The desk's
# payment list, PAYMENT_READER_ROLES above, also serves the booking desk and reception.)
ACCOUNTING_READER_ROLES: frozenset[str] = ACCOUNTANT_ROLES | {Role.MANAGER}
# Who reads the payments report and exports it.
PAYMENT_REPORT_ROLES: frozenset[str] = ACCOUNTING_READER_ROLES


def payments_for_staff(user: Any, roles: Iterable[str] | None = None) -> QuerySet[Any]:
    """Payments at the facilities where the staff member holds one of `roles` (default ACCOUNTING_READER_ROLES:
    accountants, managers, administrators) and everything under them. A payment is a financial record the
    facility must keep: a processing restriction does not hide it from the accountant. None for anyone else."""
    from health_f0.payments.models import Payment

    return scope_by_facility(
        Payment.objects.all(),
        user,
        field="facility",
        roles=roles if roles is not None else ACCOUNTING_READER_ROLES,
    )


def own_payments_for(user: Any) -> QuerySet[Any]:
    """Payments of the patients a portal account acts for (its own and its family's: `own_patients_for`)."""
    from health_f0.payments.models import Payment

    return Payment.objects.filter(patient__in=own_patients_for(user))


def reconciliations_for(user: Any, roles: Iterable[str] | None = None) -> QuerySet[Any]:
    """Daily reconciliations (accounting) of the facilities where the staff member holds one of `roles`
    (default ACCOUNTING_READER_ROLES)."""
    from health_f0.accounting.models import Reconciliation

    return scope_by_facility(
        Reconciliation.objects.all(),
        user,
        field="facility",
        roles=roles if roles is not None else ACCOUNTING_READER_ROLES,
    )
