"""core/middleware's OTPMiddleware and SessionMiddleware against django_otp's and Django's (issue 11): the same
verified device (or none), the same session changes and the same response headers, for every kind of account."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.middleware import OTPMiddleware as DjangoOTPMiddleware
from django_otp.plugins.otp_totp.models import TOTPDevice

from health_f0.accounts.sql import AuthenticationMiddleware
from health_f0.core import lean_stack
from health_f0.core.middleware import OTPMiddleware, SessionMiddleware


def _session(user: Any | None, device: Any | None) -> str:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    if user is not None:
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if device is not None:
        store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store.save()
    return str(store.session_key)


def _seen(otp_class: Any, rf: RequestFactory, session_key: str) -> tuple[Any, ...]:
    """What the view sees through `otp_class`: (user, its device, is_verified(), the session's device key)."""
    request: Any = rf.get("/ca-nhan")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    seen: list[Any] = []

    def view(req: Any) -> HttpResponse:
        assert isinstance(req.user, SimpleLazyObject)
        user = req.user
        seen.extend([user.pk, user.is_authenticated, user.otp_device, user.is_verified()])
        seen.append(req.session.get(DEVICE_ID_SESSION_KEY))
        return HttpResponse()

    otp_class(view)(request)
    return tuple(seen)


@pytest.mark.django_db
def test_the_verified_device_is_django_otps(rf: RequestFactory) -> None:
    users = get_user_model()
    staff = users.objects.create_user(username="otp-staff", is_staff=True)
    other = users.objects.create_user(username="otp-other", is_staff=True)
    plain = users.objects.create_user(username="otp-plain")
    confirmed = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    unconfirmed = TOTPDevice.objects.create(user=other, name="app", confirmed=False)
    someone_elses = TOTPDevice.objects.create(user=plain, name="app", confirmed=True)
    cases = [
        (None, None),
        (plain, None),
        (staff, confirmed),
        (staff, someone_elses),
        (other, unconfirmed),
    ]
    for user, device in cases:
        ours = _seen(OTPMiddleware, rf, _session(user, device))
        theirs = _seen(DjangoOTPMiddleware, rf, _session(user, device))
        assert ours == theirs, (user, device)
    assert _seen(OTPMiddleware, rf, _session(staff, confirmed))[2:4] == (confirmed, True)
    assert _seen(OTPMiddleware, rf, _session(staff, someone_elses))[2:] == (None, False, None)


@pytest.mark.django_db
def test_a_loaded_user_goes_through_django_otp(rf: RequestFactory) -> None:
    user = get_user_model().objects.create_user(username="otp-loaded")
    request: Any = rf.get("/")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    request.user = user
    OTPMiddleware(lambda r: HttpResponse())(request)
    assert request.user.otp_device is None and request.user.is_verified() is False


def test_the_web_only_variants_are_ours() -> None:
    assert issubclass(lean_stack.OTPMiddleware, OTPMiddleware)
    assert issubclass(lean_stack.SessionMiddleware, SessionMiddleware)
    assert issubclass(lean_stack.SessionMiddleware, DjangoSessionMiddleware)


def _answer(
    middleware_class: Any, rf: RequestFactory, cookie: str | None, work: Any, vary: str | None
) -> Any:
    request: Any = rf.get("/", HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}={cookie}" if cookie else "")
    middleware = middleware_class(lambda r: HttpResponse())
    middleware.process_request(request)
    work(request.session)
    response = HttpResponse()
    if vary is not None:
        response["Vary"] = vary
    middleware.process_response(request, response)
    cookies = [(k, dict(m)) for k, m in response.cookies.items()]
    return [(k, v) for k, v in response.items() if k != "Expires"], cookies, request.session.is_empty()


@pytest.mark.django_db
@pytest.mark.parametrize("vary", [None, "Accept-Language"])
def test_the_session_answer_is_djangos(rf: RequestFactory, vary: str | None) -> None:
    works = [
        lambda s: None,  # not read
        lambda s: s.get("x"),  # read
        lambda s: s.__setitem__("x", 1),  # written
        lambda s: s.flush(),  # emptied
    ]
    for index, work in enumerate(works):
        for with_cookie in (False, True):
            answers = []
            for middleware_class in (SessionMiddleware, DjangoSessionMiddleware):
                cookie = _session(None, None) if with_cookie else None
                if cookie:
                    store = import_module(settings.SESSION_ENGINE).SessionStore(cookie)
                    store["y"] = 2
                    store.save()
                answer = _answer(middleware_class, rf, cookie, work, vary)
                # The session key differs from one run to the other: compare the cookies' names and attributes.
                answers.append(
                    (
                        answer[0],
                        [(k, {a: v for a, v in m.items() if a != "expires"}) for k, m in answer[1]],
                        answer[2],
                    )
                )
            assert answers[0] == answers[1], (index, with_cookie)
