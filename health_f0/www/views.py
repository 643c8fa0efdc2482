"""The public portal: home, self-registration with OTP, login, password change, personal details.

Views parse input with forms, call one service or selector, and render. Domain errors become messages
next to the fields they concern; nothing a person can type produces a 500.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.shortcuts import render as django_render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from health_f0.core.exceptions import Conflict, DomainError, NotFound, RateLimited
from health_f0.core.memo import Memo
from health_f0.core.middleware import loaded_user
from health_f0.core.phone import display_phone, mask_phone, normalize_mobile
from health_f0.core.request_context import client_ip
from health_f0.facilities import access, portal
from health_f0.monitoring import selectors as monitoring_selectors
from health_f0.monitoring.certificates import may_download_certificate
from health_f0.monitoring.models import AlertLevel, EpisodeStatus
from health_f0.patients import address
from health_f0.patients.otp import otp_request
from health_f0.patients.services import password_change as password_change_service
from health_f0.patients.services import patient_confirm_details
from health_f0.registration import screening
from health_f0.registration import selectors as registration_selectors
from health_f0.registration.models import Eligibility
from health_f0.registration.services import ValidationErrors, registration_submit
from health_f0.www import notification_views, selectors
from health_f0.www.forms import ChangePasswordForm, LoginForm, NewPasswordForm, RegistrationForm
from health_f0.www.jinja import choice_labels

# The order fields appear on the page, so the error summary lists them top to bottom.
FIELD_ORDER = list(RegistrationForm.base_fields)


# The template engine that holds each page's template, by its name: the Django engine's for its own templates,
# the Jinja2 engine's for the others (the portal's lists and layout), as django.template.loader.get_template finds
# them (the Django engine first). Asking the Django engine for a Jinja2 page's name first cost its loaders' miss and
# two exceptions on every page. Keyed by the views' template names only (constants: nothing of a request), so
# bounded and shared by every account; not used under DEBUG, where templates may appear while the process runs.
_page_engines: Memo[str, Any] = Memo(256)


def render(
    request: HttpRequest, template_name: str, context: dict[str, Any] | None = None, status: int | None = None
) -> HttpResponse:
    """django.shortcuts.render(request, template_name, context, status=status) for the portal's pages: the same
    template, drawn the same way, found without asking the Django engine for a Jinja2 template's name."""
    if settings.DEBUG:
        return django_render(request, template_name, context, status=status)
    engine = _page_engines.get(template_name)
    template: Any = None
    if engine is not None:
        try:
            template = engine.get_template(template_name)
        except TemplateDoesNotExist:
            template = None
    if template is None:
        template = get_template(template_name)
        _page_engines.keep(template_name, template.backend)
    # The charset given (the one HttpResponse would work out from its Content-Type: DEFAULT_CHARSET, the same
    # header and bytes): the response then does not parse its own header back, twice (about a dozen calls).
    charset = settings.DEFAULT_CHARSET
    return HttpResponse(template.render(context, request), status=status, charset=charset)


@receiver(setting_changed, dispatch_uid="health_f0.www.views.page_engines")
def _forget_page_engines(**kwargs: Any) -> None:
    """The template settings may have changed (tests)."""
    _page_engines.clear()


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    site = selectors.site_info(request)
    base = {
        "site": site,
        "site_hotline": selectors.display_hotline(site.hotline),
        "is_staff_member": access.is_staff_member(request.user),
    }
    return render(request, template, {**base, **context}, status=status)


def _error_summary(form: Any) -> list[dict[str, str]]:
    """Each error as a link to its field (the first option of a radio/checkbox group)."""
    items = []
    names = [n for n in FIELD_ORDER if n in form.errors] + [n for n in form.errors if n not in FIELD_ORDER]
    for name in names:
        for message in form.errors[name]:
            if name == "__all__":
                items.append({"href": "", "message": message})
                continue
            field = form[name]
            anchor = field.auto_id
            if isinstance(field.field.widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
                anchor = f"{anchor}_0"
            items.append({"href": f"#{anchor}", "message": message})
    return items


PATIENT_PARAM = "nguoi-benh"


def patient_choice(request: HttpRequest, *, his_links: bool = False) -> selectors.PatientChoice:
    """Whom the account is acting for; ?nguoi-benh=<id> switches (and is remembered in the session). The page's
    user is the loaded object from here on (loaded_user). `his_links`: with the patients' active HIS links, in
    the same statement (the HIS pages' record scope: selectors.patient_choice)."""
    requested = request.GET.get(PATIENT_PARAM)
    try:
        choice = selectors.patient_choice(
            user=loaded_user(request),
            remembered=request.session.get(selectors.SESSION_PATIENT),
            requested=requested,
            his_links=his_links,
        )
    except NotFound:
        raise Http404(_("Không tìm thấy người bệnh."))
    if requested is not None and choice.current is not None:
        request.session[selectors.SESSION_PATIENT] = str(choice.current.public_id)
    return choice


# hotline_context's texts by the facility's hotline (a public body's number, never a person's): the same few
# numbers on every page. Bounded; a pure function of the key.
_hotline_texts: Memo[str, dict[str, str]] = Memo(256)


def hotline_context(facility: Any) -> dict[str, str]:
    hotline = getattr(facility, "hotline", "") or ""
    texts = _hotline_texts.get(hotline)
    if texts is None:
        shown = selectors.display_hotline(hotline)
        texts = {
            "facility_hotline": shown,
            "facility_hotline_tel": "".join(ch for ch in hotline if ch.isdigit()),
            # For call buttons: a phone number must not break over two lines.
            "facility_hotline_nowrap": shown.replace(" ", "\u00a0"),
        }
        _hotline_texts.keep(hotline, texts)
    return dict(texts)  # the caller's own copy


def home(request: HttpRequest) -> HttpResponse:
    """The province's health portal: booking, my appointments, my hospital records and the HIS link first;
    outbreak home care prominent only while a programme runs (settings.HOMECARE_PROGRAMME_ACTIVE)."""
    return _page(request, "www/home.html", {"homecare_active": portal.homecare_programme_active()})


def privacy(request: HttpRequest) -> HttpResponse:
    return _page(request, "www/privacy.html", {"policy_version": settings.PRIVACY_POLICY_VERSION})


@require_GET
@cache_control(public=True, max_age=3600)
def wards(request: HttpRequest) -> JsonResponse:
    """The wards of a province, for the registration form's ward list: ?tinh=<province code>."""
    raw = request.GET.get("tinh", "")
    try:
        code = int(raw)
    except ValueError:
        code = -1
    if code not in dict(address.provinces()):
        return JsonResponse(
            {"detail": _("Mã tỉnh/thành phố không hợp lệ."), "code": "province_invalid", "errors": {}},
            status=400,
        )
    return JsonResponse(
        {"province": code, "wards": [{"code": c, "name": n} for c, n in address.wards_of(code)]},
        json_dumps_params={"ensure_ascii": False},
    )


def _register_context(form: RegistrationForm, **extra: Any) -> dict[str, Any]:
    return {
        "form": form,
        "danger_codes": sorted(screening.DANGER_SYMPTOMS),
        "policy_version": settings.PRIVACY_POLICY_VERSION,
        "error_summary": _error_summary(form) if form.is_bound else [],
        **extra,
    }


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """One form, three buttons (all work without JS): update the ward list, get an OTP, submit."""
    if request.method == "GET":
        initial = {"province_code": selectors.site_info().province_code}
        return _page(request, "www/register.html", _register_context(RegistrationForm(initial=initial)))

    form = RegistrationForm(request.POST)
    action = request.POST.get("action", "submit")
    extra: dict[str, Any] = {}
    status = 200

    if action == "wards":
        form.keep_errors(set())
        form.fields["ward_code"].widget.attrs["autofocus"] = True
    elif action == "otp":
        form.keep_errors({"phone"})
        if "phone" not in form.errors:
            try:
                phone = normalize_mobile(form.cleaned_data["phone"])
                issued = otp_request(phone=phone, purpose="registration", ip=client_ip(request))
            except RateLimited as exc:
                retry = int(exc.extra.get("retry_after") or 0)
                extra["otp_error"] = exc.message
                extra["retry_after"] = retry
                extra["retry_minutes"] = (retry + 59) // 60
                status = 429
            except DomainError as exc:
                form.add_error("phone", exc.message)
                status = 400
            else:
                extra["otp_sent_to"] = display_phone(phone)
                form.fields["otp"].widget.attrs["autofocus"] = True
                extra["otp_minutes"] = issued.expires_in // 60
        else:
            status = 400
    else:
        status = 400
        if form.is_valid():
            try:
                registration = registration_submit(
                    data=form.to_input(), otp=form.cleaned_data.get("otp") or "", channel="web"
                )
            except ValidationErrors as exc:
                form.add_service_errors(exc.errors)
            except Conflict as exc:
                extra["page_error"] = exc.message
                status = 409
            except DomainError as exc:
                target = exc.field if exc.field in form.fields else None
                if target:
                    form.add_error(target, exc.message)
                else:
                    extra["page_error"] = exc.message
                status = exc.status_code
            else:
                ids = list(request.session.get(selectors.SESSION_REGISTRATIONS, []))
                ids = (ids + [str(registration.public_id)])[-10:]
                request.session[selectors.SESSION_REGISTRATIONS] = ids
                return redirect("www:register_done", public_id=registration.public_id)
    return _page(request, "www/register.html", _register_context(form, **extra), status=status)


def register_done(request: HttpRequest, public_id: str) -> HttpResponse:
    registration = registration_selectors.registration_of_session(
        session_ids=request.session.get(selectors.SESSION_REGISTRATIONS, []), public_id=public_id
    )
    if registration is None:
        raise Http404(_("Không tìm thấy hồ sơ."))
    facility = registration.facility
    return _page(
        request,
        "www/register_done.html",
        {
            "registration": registration,
            "facility": facility,
            "facility_hotline": selectors.display_hotline(facility.hotline),
            "facility_hotline_tel": "".join(ch for ch in facility.hotline if ch.isdigit()),
            "masked_phone": mask_phone(registration.phone),
            "urgent": registration.eligibility == Eligibility.HOSPITAL,
        },
    )


def _after_login_url(request: HttpRequest, user: Any) -> str:
    if access.is_staff_member(user):
        return reverse("admin:index")
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("www:me")


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_after_login_url(request, request.user))
    form = LoginForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        login(request, user)
        if getattr(user, "must_change_password", False):
            return redirect("www:password_change")
        return redirect(_after_login_url(request, user))
    status = 400 if form.is_bound else 200
    return _page(
        request,
        "www/login.html",
        {"form": form, "next": request.GET.get("next", ""), "error_summary": _error_summary(form)},
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("www:home")


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    forced = bool(getattr(user, "must_change_password", False))
    form_class = NewPasswordForm if forced else ChangePasswordForm
    form = form_class(user, data=request.POST if request.method == "POST" else None, request=request)
    if request.method == "POST" and form.is_valid():
        password_change_service(user=user, new_password=form.cleaned_data["new_password1"])
        update_session_auth_hash(request, user)
        request.session["www_password_changed"] = True
        if access.is_staff_member(user):
            return redirect("admin:index")
        return redirect("www:me")
    return _page(
        request,
        "www/password_change.html",
        {"form": form, "forced": forced, "error_summary": _error_summary(form) if form.is_bound else []},
        status=(429 if form.has_error("old_password", "locked_out") else 400) if form.is_bound else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def me(request: HttpRequest) -> HttpResponse:
    """The patient's own details (Phần 2, bước 3): check them, then continue to the declaration (to the bookings
    for a resident without home care)."""
    if access.is_staff_member(request.user):
        return redirect("admin:index")
    choice = patient_choice(request)
    patient = choice.current
    if patient is None:
        return _page(request, "www/me_missing.html", {}, status=404)
    if request.method == "POST" and "channel" in request.POST:  # the channel for notices (SMS or Zalo)
        return notification_views.channel_update(request, patient)
    if request.method == "POST":
        wanted = request.POST.get("patient") or str(patient.public_id)
        patient = next((p for p in choice.patients if str(p.public_id) == wanted), None)
        if patient is None:
            raise Http404(_("Không tìm thấy người bệnh."))
        patient_confirm_details(patient=patient, actor=request.user)
        request.session["www_confirmed"] = True
        request.session[selectors.SESSION_PATIENT] = str(patient.public_id)
        # A resident without home care (a sign-up account) has nothing to declare: their bookings come next.
        return redirect("www:declare" if patient.episodes.exists() else "www:appointments")
    password_changed = bool(request.session.pop("www_password_changed", False))
    facility = patient.facility
    address_parts = [patient.street, patient.ward_name, address.province_name(patient.province_code)]
    status = monitoring_selectors.declaration_status(patient=patient)
    episode = status.episode
    return _page(
        request,
        "www/me.html",
        {
            "choice": choice,
            "patient": patient,
            "sex_label": screening.label(screening.SEXES, patient.sex),
            "phone": display_phone(patient.phone),
            "address": ", ".join(p for p in address_parts if p),
            "facility": facility,
            **hotline_context(facility),
            "password_changed": password_changed,
            "status": status,
            # status.last.get_alert_level_display(), by the level's kept label (_today_card.html)
            "last_level_label": (
                choice_labels(AlertLevel).get(status.last.alert_level, status.last.alert_level)
                if status.last is not None
                else ""
            ),
            "episode": episode,
            # Shown only on a completed episode's card (_today_card.html): not asked for any other.
            "may_certificate": episode is not None
            and episode.status == EpisodeStatus.COMPLETED
            and may_download_certificate(episode=episode, actor=request.user),
            **notification_views.channel_context(request, patient),
        },
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 404 page with the province's name and hotline like every other page (Django's default handler
    renders it without them). If even that lookup fails, the plain page still answers."""
    try:
        return _page(request, "404.html", {}, status=404)
    except Exception:  # noqa: BLE001 - a 404 must never become a 500 (e.g. the database is away)
        return render(request, "404.html", {}, status=404)
