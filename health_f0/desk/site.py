"""The staff desk: Django admin themed with unfold, mounted at /desk/, scoped through facilities.access.

Who may enter: an active user with `is_staff` (the flag Django's admin login form checks) AND an active
staff membership (`access.is_staff_member`, or a superuser). Membership is the authority: ending a
membership shuts the desk even if `is_staff` was left on; `is_staff` alone (without a role) opens nothing.
Django model permissions are not used: what each page shows and allows comes from the user's roles and
the facility tree (ScopedModelAdmin below).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.admin import sites
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.sites import UnfoldAdminSite

from health_f0.desk import navigation
from health_f0.desk.formatting import fmt_datetime
from health_f0.facilities import access

if TYPE_CHECKING:
    from health_f0.facilities.models import Facility


def desk_site_header(request: HttpRequest) -> str:
    """The desk's header (unfold's SITE_HEADER): the province's Sở Y tế, short enough for the sidebar
    ("Sở Y tế Hải Phòng"; the page titles and the login page carry the full name)."""
    from health_f0.facilities.portal import site_info

    return site_info().short_authority


def desk_site_subheader(request: HttpRequest) -> str:
    """Under the header (unfold's SITE_SUBHEADER): which site this is."""
    return str(_("Bàn làm việc"))


def desk_site_title(request: HttpRequest) -> str:
    """The end of every desk page's <title> and the login page's heading (unfold's SITE_TITLE)."""
    from health_f0.facilities.portal import site_info

    return f"{_('Bàn làm việc')} — {site_info().authority}"


class DeskSite(UnfoldAdminSite):
    # unfold shows settings.UNFOLD's SITE_HEADER/SITE_TITLE (the callables above); these are Django's fallbacks.
    site_header = _("Bàn làm việc")
    site_title = _("Bàn làm việc")
    index_title = _("Bàn làm việc")

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff and access.is_staff_member(user)):
            return False
        # A session that still owes its two-factor code (TwoFactorMiddleware sends it to give it).
        from health_f0.accounts.two_factor import pending_step

        return pending_step(request) is None

    def get_urls(self) -> list[Any]:
        """The two-factor pages (desk/two_factor.py) before the admin's own (and its catch-all)."""
        from health_f0.desk.two_factor import desk_urls

        return desk_urls(self) + super().get_urls()

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """Land on the user's own worklist (`desk_landing`); the app list only for a user who may open none."""
        landing = desk_landing(request)
        if landing:
            return HttpResponseRedirect(landing)
        return super().index(request, extra_context)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The desk's login. Without a safe `next`, a staff member goes to the desk's index (which sends them
        on to their own worklist, after the two-factor code if owed), never to the portal's home
        (settings.LOGIN_REDIRECT_URL, the patients' login) nor to another site. unfold's login form carries
        no `next` field: a `next` is in the form's address (`app_path`) when the page was asked with one."""
        if request.method == "POST":
            # Django's LoginView reads `next` from the form first, then from the address.
            wanted = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or ""
            safe = wanted and url_has_allowed_host_and_scheme(
                wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            )
            if not safe:
                form = request.POST.copy()
                form[REDIRECT_FIELD_NAME] = reverse(f"{self.name}:index", current_app=self.name)
                request.POST = form  # type: ignore[assignment]  # a copy; the stubs want the immutable kind
        return super().login(request, extra_context)

    def permission_denied(self, request: HttpRequest) -> HttpResponse:
        """The desk's 403 page (handler403 for desk pages, core/db_health.py): in the desk's look, in
        Vietnamese, with the user's roles and a way back to their own worklist."""
        from django.shortcuts import render

        from health_f0.facilities.models import Membership

        request.current_app = self.name
        user: Any = request.user
        memberships = (
            Membership.objects.filter(user=user, is_active=True, facility__is_active=True)
            .select_related("facility")
            .order_by("facility__path", "role")
        )
        context = {
            **self.each_context(request),
            "title": _("Không có quyền"),
            "landing_url": desk_landing(request) or reverse(f"{self.name}:index", current_app=self.name),
            "held_roles": [f"{m.get_role_display()} — {m.facility.name}" for m in memberships],
        }
        return render(request, "desk/forbidden.html", context, status=403)

    def password_change(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The desk's own-password change: the current password is checked like a login and the change
        goes through the service (audit, every API token and other session revoked)."""
        from health_f0.accounts.passwords import DeskPasswordChangeView

        request.current_app = self.name
        return DeskPasswordChangeView.as_view(
            success_url=reverse(f"{self.name}:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )(request)


desk_site = DeskSite(name="admin")


def desk_forbidden(request: HttpRequest) -> HttpResponse | None:
    """The 403 handler's desk part (core/db_health.py, DESK_FORBIDDEN_VIEW): the desk's own page for someone
    who may use the desk, else None (the plain page)."""
    if desk_site.has_permission(request):
        return desk_site.permission_denied(request)
    return None


def install_desk_site() -> None:
    """Make the desk the default admin site, so `admin.site.urls` and `@admin.register` both use it.

    Called from health_f0.desk.admin, the first project admin module autodiscovery imports. Models that
    apps listed earlier registered on unfold's default site (django-axes' access logs) move over.
    """
    previous = sites.site
    if previous is desk_site:
        return
    for model, model_admin in list(getattr(previous, "_registry", {}).items()):
        # django-otp's device pages would show any user's TOTP secret as a QR code: devices are managed
        # only on the owner's own two-factor pages (desk/two_factor.py) and by `two_factor_reset`.
        if model._meta.app_label in ("otp_totp", "otp_static", "otp_hotp", "otp_email"):
            continue
        if not desk_site.is_registered(model):
            desk_site.register(model, type(model_admin))
    admin.site = desk_site
    sites.site = desk_site


# --- Scoped model admin ---------------------------------------------------------------------


def has_any_role(user: Any, roles: Iterable[str] | None) -> bool:
    """Superusers always; otherwise the user holds one of `roles` somewhere (None: any staff role)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    held = access.roles_of(user)
    return bool(held) if roles is None else bool(held & frozenset(roles))


# Rows of these models are patient data; so are rows pointing at one of them (ScopedModelAdmin's list audit).
PATIENT_DATA_MODELS = frozenset(
    {
        "patients.patient",
        "registration.registration",
        "notifications.outboxmessage",
        "monitoring.episode",
        "monitoring.declaration",
        "appointments.appointment",
        "his.hislink",
    }
)
# Django admin's scripts for prepopulated (slug) fields (ScopedModelAdmin.media).
SLUG_SCRIPTS = frozenset(
    {
        "admin/js/urlify.js",
        "admin/js/prepopulate.js",
        "admin/js/vendor/xregexp/xregexp.js",
        "admin/js/vendor/xregexp/xregexp.min.js",
    }
)
# Query parameters that only sort or page a desk list (not a filter).
LIST_NAVIGATION_PARAMS = frozenset({"q", "p", "o", "e", "_changelist_filters", "_popup", "_to_field"})


class ScopedModelAdmin(ModelAdmin):
    """A desk page whose rows come from an access.py scope function and whose rights come from roles.

    Subclasses set `scope()` and the role sets. Object-level rights check the role at the row's facility
    (`facility_field`, a dotted attribute path; "" means the row is a Facility itself; None means being in
    the scope is enough).
    """

    view_roles: frozenset[str] | None = None  # None: any staff role
    add_roles: frozenset[str] = frozenset()
    change_roles: frozenset[str] = frozenset()
    delete_roles: frozenset[str] = frozenset()
    facility_field: str | None = "facility"
    # A read-only page (the audit log, the outbox, records changed only through the page's buttons, i.e. the
    # services): nobody, not even a superuser, changes or deletes a row here, nor adds one unless
    # `read_only_allows_add` (then the add rights apply: a form that creates the record, read-only after).
    read_only = False
    read_only_allows_add = False
    # Each GET of a row's page is an audit row (audit_view; pages that show more call it themselves).
    audit_detail_views = False
    # Each page of the list is an audit row (None: when the model holds patient data, see holds_patient_data).
    audit_list_views: bool | None = None
    # A search term that reads as a mobile number finds the rows whose `phone_search_field` (a lookup path,
    # e.g. "patient__phone") is that number, in E.164; any other term goes to `search_fields`.
    phone_search_field: str | None = None
    list_per_page = 50
    compressed_fields = True
    warn_unsaved_form = True

    @property
    def media(self) -> forms.Media:
        """Django admin's scripts without its slug helpers (urlify.js, prepopulate.js and XRegExp, 160 KB of
        Unicode tables) when no form of the page prepopulates a field: none of the desk's does."""
        media = super().media
        if self.prepopulated_fields or any(inline.prepopulated_fields for inline in self.inlines):
            return media
        return forms.Media(css=media._css, js=[js for js in media._js if js not in SLUG_SCRIPTS])

    def scope(self, user: Any) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = self.scope(request.user)
        ordering = self.get_ordering(request)
        if ordering:
            qs = qs.order_by(*ordering)
        return qs

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        if self.phone_search_field:
            from health_f0.desk.formatting import search_phone

            phone = search_phone(search_term.strip())
            if phone:
                return queryset.filter(**{self.phone_search_field: phone}), False
        return super().get_search_results(request, queryset, search_term)

    def facility_of(self, obj: models.Model) -> Facility | None:
        from health_f0.facilities.models import Facility

        if not self.facility_field:
            return obj if isinstance(obj, Facility) else None
        value: Any = obj
        for part in self.facility_field.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value if isinstance(value, Facility) else None

    def _may(self, request: HttpRequest, roles: frozenset[str], obj: models.Model | None) -> bool:
        user = request.user
        if getattr(user, "is_superuser", False):
            return True
        if not roles or not has_any_role(user, roles):
            return False
        if obj is None or self.facility_field is None:
            return True
        return access.can_act_at(user, self.facility_of(obj), roles)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_any_role(request.user, self.view_roles)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if self.read_only and not self.read_only_allows_add:
            return False
        return self._may(request, self.add_roles, None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self.read_only and self._may(request, self.change_roles, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self.read_only and self._may(request, self.delete_roles, obj)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        if self.audit_detail_views:
            self.audit_view(request, self.scoped_object(request, object_id))
        return super().change_view(request, object_id, form_url, extra_context)

    def audit_view(self, request: HttpRequest, obj: Any) -> None:
        """Every staff read of a record's detail page (a GET) is an audit row, at the record's facility."""
        if obj is not None and request.method == "GET":
            from health_f0.core.audit import audit_log
            from health_f0.core.models import AuditLog

            audit_log(
                actor=request.user,
                action=AuditLog.Action.VIEW,
                verb="view",
                target=obj,
                facility=getattr(obj, "facility", None),
            )

    # --- audit of list pages and deletions -------------------------------------------------------

    def holds_patient_data(self) -> bool:
        """Whether this list shows patient data (`audit_list_views`, or decided from the model: a patient, a
        registration, an SMS, or a row pointing at one of them)."""
        if self.audit_list_views is not None:
            return self.audit_list_views
        labels = PATIENT_DATA_MODELS
        if self.model._meta.label_lower in labels:
            return True
        return any(
            field.concrete
            and field.related_model is not None
            and field.related_model._meta.label_lower in labels
            for field in self.model._meta.get_fields()
            if field.many_to_one or field.one_to_one
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """Every page of a patient-data list a staff member opens is one audit row (VIEW, verb "view_list")
        with its search term, filters and page; the search term is stored there only, never logged."""
        response = super().changelist_view(request, extra_context)
        if (
            request.method == "GET"
            and getattr(response, "status_code", None) == 200
            and self.holds_patient_data()
        ):
            changelist = (getattr(response, "context_data", None) or {}).get("cl")
            if changelist is not None:
                from health_f0.core.audit import audit_list_view

                filters = {
                    key: values[0] if len(values) == 1 else values
                    for key, values in request.GET.lists()
                    if key not in LIST_NAVIGATION_PARAMS
                }
                audit_list_view(
                    actor=request.user,
                    model=self.model,
                    data={
                        "search": changelist.query,
                        "filters": filters,
                        "page": changelist.page_num,
                        "count": changelist.result_count,
                        "shown": len(changelist.result_list),
                    },
                )
        return response

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.audit_delete(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.audit_delete(request, obj)
        super().delete_queryset(request, queryset)

    def audit_delete(self, request: HttpRequest, obj: Any) -> None:
        """A deletion in the desk (a user, a membership, a patient...) is an audit row, written in the same
        transaction before the row goes (its id and description stay in the audit log)."""
        from health_f0.core.audit import audit_log
        from health_f0.core.models import AuditLog

        audit_log(
            actor=request.user,
            action=AuditLog.Action.DELETE,
            verb="delete",
            target=obj,
            facility=self.facility_of(obj),
        )

    def scoped_object(self, request: HttpRequest, object_id: Any) -> Any:
        """The row if it is in the user's scope, else None (cached for the request)."""
        cache = request.__dict__.setdefault("_desk_objects", {})
        key = (self.model, str(object_id))
        if key not in cache:
            cache[key] = self.get_object(request, str(object_id)) if object_id is not None else None
        return cache[key]

    def scoped_object_or_404(self, request: HttpRequest, object_id: Any) -> Any:
        """The row for a detail action; 404 when it is missing or out of the user's scope (the same answer)."""
        obj = self.scoped_object(request, object_id)
        if obj is None:
            raise Http404
        return obj

    def history_context(self, obj: Any, title: Any, *, include_views: bool = False) -> dict[str, Any]:
        """Context for admin/audit_history.html (set it as `change_form_after_template`): the record's audit
        rows, oldest first, said in words by their domain's vocabulary (core.audit.audit_describe); staff
        reads of the page only when `include_views`."""
        from health_f0.core.audit import audit_describe
        from health_f0.core.models import AuditLog

        rows = AuditLog.objects.filter(target_type=self.model._meta.label_lower, target_id=str(obj.pk))
        if not include_views:
            rows = rows.exclude(action=AuditLog.Action.VIEW)
        history = []
        for row in rows.order_by("created_at", "id"):
            entry = audit_describe(row)
            history.append(
                {
                    "when": fmt_datetime(row.created_at),
                    "actor": row.actor_label,
                    "verb": entry.verb,
                    "action": row.get_action_display(),
                    "details": entry.details,
                }
            )
        return {"history_title": title, "history_rows": history}

    def page_context(self, request: HttpRequest, title: Any) -> dict[str, Any]:
        """The context of one of the page's own desk views (a worklist, a form): the site's, the title, and
        what unfold's layout reads of a model page."""
        request.current_app = self.admin_site.name
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "content_title": title,
            "subtitle": None,
            "opts": self.model._meta,
            "model_admin": self,
            "has_view_permission": True,
        }

    def change_url(self, object_id: Any) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[object_id])


# --- Sidebar (settings.UNFOLD["SIDEBAR"]["navigation"] points here) ---------------------------


def sidebar_navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """The desk menu, grouped by job: the groups each domain registers in its `<app>/desk/nav.py`
    (health_f0.desk.navigation). Items the user may not open are hidden by their permission."""
    return navigation.build(request)


# --- Landing: each role starts on its own worklist (issue 9) --------------------------------------

REGISTRATION_QUEUE = ("admin:registration_registration_changelist", "?status__exact=submitted")
# (role, facility kinds where the role must be held or None for any, URL name, query). A user holding
# several roles lands on the first entry that fits: a worklist before the reports and settings. A treatment
# doctor at a station or a COVID treatment facility works its registration queue (transfers arrive
# there); elsewhere (a clinic of the examination department) today's patient queue.
DESK_LANDINGS: tuple[tuple[str, frozenset[str] | None, str, str], ...] = (
    ("station_staff", None, *REGISTRATION_QUEUE),
    ("station_head", None, *REGISTRATION_QUEUE),
    ("treatment_doctor", frozenset({"station", "treatment"}), *REGISTRATION_QUEUE),
    ("treatment_doctor", None, "admin:appointments_queue", ""),
    ("reception", None, "admin:appointments_checkin", ""),
    ("booking_desk", None, "admin:appointments_worklist", ""),
    ("his_linker", None, "admin:his_link_queue", ""),
    ("accountant", None, "admin:accounting_reconciliation_changelist", ""),
    ("manager", None, "reports:index", ""),
    ("administrator", None, "admin:facilities_membership_changelist", ""),
)


def _landing_link(name: str, query: str) -> str:
    try:
        return reverse(name) + query
    except NoReverseMatch:  # an app not installed: no landing there
        return ""


def desk_landing(request: HttpRequest) -> str:
    """Where a staff member starts (the desk's index, a desk login without `next`, the 403 page's way
    back): their role's worklist (DESK_LANDINGS) if the sidebar lets them open it, else the first sidebar
    page they may open, else "" (no page at all)."""
    user = request.user
    items = [entry for group in sidebar_navigation(request) for entry in group["items"]]
    permission_of = {str(entry["link"]): entry["permission"] for entry in items}
    held = access.roles_of(user)
    for role, kinds, name, query in DESK_LANDINGS:
        if role not in held or (kinds is not None and not access.holds_role_at_kind(user, {role}, kinds)):
            continue
        link = _landing_link(name, query)
        check = permission_of.get(link)
        if check is not None and check(request):
            return link
    for entry in items:
        if entry["permission"](request):
            return str(entry["link"])
    return ""


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponse:
    """After a desk action: a full-page redirect, also when the action was posted from an htmx dialog."""
    target = fallback
    if request.headers.get("HX-Request"):
        response = HttpResponse()
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)
