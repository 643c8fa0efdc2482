"""Who runs this install: the province's Department of Health (Sở Y tế) and the portal's name.

The portal and the desk both show the Sở's name and hotline (its `Facility` row, kind `doh`) and the portal's
title: settings.PORTAL_TITLE when set, else "Cổng sức khoẻ <tỉnh/thành phố …>" built from the Sở's name.
An install serving several provinces (or none yet) shows the plain "Sở Y tế" and "Cổng sức khoẻ".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext

from health_f0.core.safe_cache import cached
from health_f0.facilities.models import Facility, FacilityKind

DEFAULT_AUTHORITY = "Sở Y tế"
# "Sở Y tế thành phố Hải Phòng" -> the place "thành phố Hải Phòng".
AUTHORITY_PREFIXES = ("Sở Y tế ", "Sở Y Tế ", "SỞ Y TẾ ")
PLACE_KINDS = ("thành phố ", "tỉnh ", "tp. ", "tp ")


@dataclass(frozen=True)
class SiteInfo:
    """Who runs this portal: the Department of Health shown in the header and footer."""

    authority: str
    hotline: str
    province_code: int | None

    @property
    def place(self) -> str:
        """The province the Sở serves, as its name says it ("thành phố Hải Phòng"); empty if unknown."""
        for prefix in AUTHORITY_PREFIXES:
            if self.authority.startswith(prefix):
                return self.authority[len(prefix) :].strip()
        return ""

    @property
    def short_authority(self) -> str:
        """The Sở's name without "tỉnh"/"thành phố" ("Sở Y tế Hải Phòng"): for narrow places like the desk's
        sidebar header."""
        place = self.place
        for kind in PLACE_KINDS:
            if place.lower().startswith(kind):
                return f"{DEFAULT_AUTHORITY} {place[len(kind) :].strip()}"
        return self.authority

    @property
    def title(self) -> str:
        """The portal's name in the current language: settings.PORTAL_TITLE, else derived from the Sở's name.
        A property, not a cached field, so each request gets it in its own language."""
        configured = (getattr(settings, "PORTAL_TITLE", "") or "").strip()
        if configured:
            return configured
        if self.place:
            return gettext("Cổng sức khoẻ %(place)s") % {"place": self.place}
        return gettext("Cổng sức khoẻ")


SITE_INFO_KEY = "facilities:site_info"
_REQUEST_ATTRIBUTE = "_hf0_site_info"


def site_info(request: HttpRequest | None = None) -> SiteInfo:
    """The single active Department of Health, if the install serves one province (cached 5 minutes; read
    from the database while the cache is away, so every page still answers). With the request, the copy
    the consent check read from the cache in its own round trip (privacy.middleware), when it found one."""
    if request is not None:
        found = request.__dict__.get(_REQUEST_ATTRIBUTE)
        if found is not None:
            return found  # type: ignore[no-any-return]
    return cached(SITE_INFO_KEY, _site_info, timeout=300)


def keep_for_request(request: HttpRequest, found: object) -> None:
    """Keep the cached copy of site_info that a middleware read with its own keys (None: it found none, and
    site_info reads the cache itself)."""
    if isinstance(found, SiteInfo):
        request.__dict__[_REQUEST_ATTRIBUTE] = found


def _site_info() -> SiteInfo:
    departments = list(
        Facility.objects.filter(kind=FacilityKind.DEPARTMENT_OF_HEALTH, is_active=True)
        .order_by("id")
        .values_list("name", "hotline", "province_code")[:2]
    )
    if len(departments) == 1:
        name, hotline, province = departments[0]
        return SiteInfo(authority=name, hotline=hotline, province_code=province)
    return SiteInfo(authority=DEFAULT_AUTHORITY, hotline="", province_code=None)


def homecare_programme_active() -> bool:
    """Whether an outbreak home-care programme is running (settings.HOMECARE_PROGRAMME_ACTIVE): while it is, the
    portal's home page shows home-care registration and the daily declaration prominently; otherwise a small link.
    Enrolled patients keep their declaration card on /ca-nhan either way."""
    return bool(getattr(settings, "HOMECARE_PROGRAMME_ACTIVE", True))
