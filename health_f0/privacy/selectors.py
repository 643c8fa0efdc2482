"""Reads for personal-data rights: the policy in force, whether an account must consent again, the patient's
requests and consents, deadlines. The consent check runs on every patient request (portal and API), so its
answer is cached per account and policy version and dropped whenever that account's consent changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import caches
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core import safe_cache
from health_f0.core.exceptions import DomainError
from health_f0.core.safe_cache import cache_delete, cache_get, cache_set
from health_f0.facilities import access
from health_f0.privacy.models import (
    ConsentAction,
    ConsentRecord,
    DataExport,
    DataSubjectRequest,
    PrivacyPolicy,
    RequestStatus,
)

POLICY_CACHE_KEY = "privacy:policy-current"
POLICY_CACHE_SECONDS = 60
CONSENT_CACHE_SECONDS = 6 * 3600


@dataclass(frozen=True)
class PolicyInfo:
    version: str
    effective_from: datetime | None
    summary: str
    body: str


def policy_current(*, now: datetime | None = None) -> PolicyInfo:
    """The policy in force: the newest published version whose date has come. Before any row exists (a fresh
    database) the baseline `settings.PRIVACY_POLICY_VERSION` with the product's standard text."""
    if now is None:
        cached = cache_get(POLICY_CACHE_KEY)
        if isinstance(cached, PolicyInfo):
            return cached
    moment = now or timezone.now()
    row = PrivacyPolicy.objects.filter(effective_from__lte=moment).order_by("-effective_from", "-id").first()
    info = (
        PolicyInfo(row.version, row.effective_from, row.summary, row.body)
        if row is not None
        else PolicyInfo(settings.PRIVACY_POLICY_VERSION, None, "", "")
    )
    if now is None:
        # A version published to take effect later is picked up within POLICY_CACHE_SECONDS of its time.
        cache_set(POLICY_CACHE_KEY, info, POLICY_CACHE_SECONDS)
    return info


def policy_upcoming(*, now: datetime | None = None) -> PrivacyPolicy | None:
    """A version already published that takes effect later (shown in the desk, announced on the portal)."""
    return (
        PrivacyPolicy.objects.filter(effective_from__gt=now or timezone.now())
        .order_by("effective_from")
        .first()
    )


def _consent_key(user_id: int) -> str:
    """Holds the policy version this account was last found to need nothing for (agreed, or staff)."""
    return f"privacy:consent-ok:{user_id}"


def forget_consent(*, user_ids: list[int]) -> None:
    """Drop the cached answer for these accounts (their consent just changed)."""
    cache_delete([_consent_key(pk) for pk in user_ids])


def agreed_version(user: Any) -> str | None:
    """The policy version this account stands agreed to: its newest consent given after its last withdrawal
    (by the account itself, or by whoever holds its verified phone), the baseline version when it has no
    record at all (every account made before consents were recorded came through the registration form, which
    asked consent to that version), None after a withdrawal not followed by a new consent."""
    condition = Q(user=user) | Q(phone__in=access.verified_phones_for(user))
    rows = list(
        ConsentRecord.objects.filter(condition)
        .order_by("-created_at", "-id")
        .values_list("action", "policy_version")[:50]
    )
    if not rows:
        return str(settings.PRIVACY_POLICY_VERSION)
    action, version = rows[0]
    return None if action == ConsentAction.WITHDRAWN else str(version)


def _cache_get_many(keys: list[str]) -> dict[str, Any]:
    """safe_cache.cache_get for several keys in one round trip: {} when the cache cannot be reached."""
    if not safe_cache._usable("default"):
        return {}
    try:
        return dict(caches["default"].get_many(keys))
    except safe_cache.CACHE_ERRORS as exc:
        safe_cache._failed("default", "get", exc)
        return {}


def consent_required_version(user: Any) -> str | None:
    """The version a patient account must agree to before going on, or None (agreed, staff, anonymous).
    Costs no query once answered for this account and version."""
    return consent_check(user).required


class ConsentCheck(NamedTuple):
    """consent_check's answer: the version to agree to first (None: nothing to agree to), the cached values of
    the other keys it was asked to read, and the policy in force it compared with (None for an anonymous
    user, for whom nothing is read)."""

    required: str | None
    found: dict[str, Any]
    policy: PolicyInfo | None


def consent_check(user: Any, *, also: tuple[str, ...] = ()) -> ConsentCheck:
    """`consent_required_version`, and the cached values of the keys `also` read in the same round trip (a
    key absent from `found`: not in the cache, or the cache away; nothing is read for an anonymous user), and
    the policy in force. The portal's pages read the site's name this way, and keep the policy for their view
    (privacy.middleware, keep_policy_for_request)."""
    if not getattr(user, "is_authenticated", False):
        return ConsentCheck(None, {}, None)
    key = _consent_key(user.pk)
    # The policy in force and this account's cached answer in one round trip: this runs on every patient
    # request (the declaration POST of the morning peak among them).
    hits = _cache_get_many([POLICY_CACHE_KEY, key, *also])
    policy = hits.get(POLICY_CACHE_KEY)
    if not isinstance(policy, PolicyInfo):
        policy = policy_current()
    current = policy.version
    others = {name: hits[name] for name in also if name in hits}
    if hits.get(key) == current:
        return ConsentCheck(None, others, policy)
    if access.is_staff_member(user) or agreed_version(user) == current:
        cache_set(key, current, CONSENT_CACHE_SECONDS)
        return ConsentCheck(None, others, policy)
    return ConsentCheck(current, others, policy)


# The policy in force as the consent check of this request found it (privacy.middleware): a page that shows its
# version (/lien-ket-ho-so, next to the button) reads it from here instead of asking the cache again. The policy
# is everyone's (no personal data) and the copy lives on the request object only.
_REQUEST_POLICY = "_hf0_privacy_policy"


def keep_policy_for_request(request: HttpRequest, policy: PolicyInfo | None) -> None:
    """Keep the policy the middleware's consent check read (None: it read none; the page reads it itself)."""
    if isinstance(policy, PolicyInfo):
        request.__dict__[_REQUEST_POLICY] = policy


def policy_of_request(request: HttpRequest) -> PolicyInfo:
    """policy_current(), as this request's consent check found it when it ran (one cache read a page)."""
    found = request.__dict__.get(_REQUEST_POLICY)
    if isinstance(found, PolicyInfo):
        return found
    return policy_current()


class ConsentRequired(DomainError):
    status_code = 403
    code = "consent_required"


def consent_gate(*, user: Any) -> None:
    """Raise ConsentRequired (403 `consent_required`, with `policy_version`) if the account must agree to the
    policy in force first (POST /api/v1/privacy/consent)."""
    version = consent_required_version(user)
    if version is not None:
        raise ConsentRequired(
            _(
                "Chính sách bảo vệ dữ liệu cá nhân đã có phiên bản mới (%(version)s). Vui lòng đọc và đồng ý "
                "trước khi tiếp tục."
            )
            % {"version": version},
            policy_version=version,
        )


def add_working_days(start: datetime, days: int) -> datetime:
    """The end (23:59:59, Vietnam time) of the `days`-th working day (Monday to Friday) after the day of
    `start`. Public holidays are not counted out: the deadline may come early around Tết, never late."""
    local = timezone.localtime(start)
    moved = 0
    while moved < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            moved += 1
    return local.replace(hour=23, minute=59, second=59, microsecond=0)


def request_due_at(submitted_at: datetime) -> datetime:
    return add_working_days(submitted_at, settings.PRIVACY_REQUEST_RESPONSE_WORKING_DAYS)


def requests_for_account(*, user: Any) -> QuerySet[DataSubjectRequest]:
    return access.privacy_requests_for(user).select_related("patient", "facility").order_by("-created_at")


def consents_for_account(*, user: Any, limit: int = 30) -> list[ConsentRecord]:
    return list(access.consents_for(user).select_related("patient").order_by("-created_at", "-id")[:limit])


def open_request(*, patient: Any, kind: str) -> DataSubjectRequest | None:
    return DataSubjectRequest.objects.filter(
        patient=patient, kind=kind, status=RequestStatus.SUBMITTED
    ).first()


def latest_export(*, user: Any) -> DataExport | None:
    return access.data_exports_for(user).filter(expires_at__gt=timezone.now()).order_by("-created_at").first()


def worklist(*, user: Any) -> QuerySet[DataSubjectRequest]:
    """The handler's open requests, the nearest deadline first."""
    return (
        access.privacy_requests_for(user)
        .filter(status=RequestStatus.SUBMITTED)
        .select_related("patient", "facility")
        .order_by("due_at", "id")
    )
