"""Where staff land (issue 9, item 18): each role on its own worklist after the desk's login (with or without
the two-factor step), `next` kept when safe, and the desk's own Vietnamese 403 page for role-restricted pages.

Staff log in through the desk's real login form (password only: the root conftest turns the two-factor
requirement off, one test here turns it back on)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from health_f0.core.db_health import permission_denied
from health_f0.desk.site import DESK_LANDINGS

pytestmark = pytest.mark.django_db

PASSWORD = "demo-2026"
LOGIN = "/desk/login/"
DESK = "/desk/"
REGISTRATION_QUEUE = "/desk/registration/registration/?status__exact=submitted"

# Every seeded staff account (fixtures/demo.json, and the clinic doctor of fixtures/appointments_demo.json).
LANDINGS = {
    "admin": "admin:facilities_membership_changelist",  # superuser, administrator of the Sở Y tế
    "syt.lanhdao": "reports:index",  # manager at the Sở Y tế
    "ttyt.lanhdao": "reports:index",  # manager at the TTYT
    "thanhdong.nv": REGISTRATION_QUEUE,  # station staff
    "lethanhnghi.nv": REGISTRATION_QUEUE,
    "tanhung.nv": REGISTRATION_QUEUE,
    "thanhdong.truong": REGISTRATION_QUEUE,  # station head
    "bacsi.dieutri": REGISTRATION_QUEUE,  # treatment doctor at the COVID treatment facility
    "bacsi.noi": "admin:appointments_queue",  # internal-medicine doctor at the examination department
    "datlich": "admin:appointments_worklist",  # booking desk
    "tiepdon": "admin:appointments_checkin",  # reception
    "lienket.his": "admin:his_link_queue",  # HIS linker
    "ketoan": "admin:accounting_reconciliation_changelist",  # accountant
}


def landing_of(username: str) -> str:
    target = LANDINGS[username]
    return target if target.startswith("/") else reverse(target)


def login(username: str, query: str = "", **extra: str) -> tuple[Client, Any]:
    client = Client()
    response = client.post(LOGIN + query, {"username": username, "password": PASSWORD, **extra})
    assert response.status_code == 302, response.content.decode()[:500]
    return client, response


@pytest.mark.parametrize("username", sorted(LANDINGS))
def test_login_without_next_lands_on_the_roles_own_worklist(appointments_demo: Any, username: str) -> None:
    client, response = login(username)
    assert response["Location"] == DESK  # the desk, never the portal's home
    landing = client.get(DESK)
    assert landing.status_code == 302 and landing["Location"] == landing_of(username)
    page = client.get(landing_of(username))
    assert page.status_code == 200, (username, page.status_code)
    # Already logged in: the login page sends them on too.
    assert client.get(LOGIN)["Location"] == DESK


def test_every_role_has_a_landing(demo: Any) -> None:
    from health_f0.facilities.models import Role

    assert {role for role, *_ in DESK_LANDINGS} == set(Role.values)


def test_the_doctor_is_sent_by_where_they_work(appointments_demo: Any, persona: Any) -> None:
    """The same role, two jobs: a clinic doctor who also works a shift at the treatment facility works its
    registration queue first (transfers wait there)."""
    from health_f0.facilities.models import Facility, Membership

    Membership.objects.create(
        user=persona("bacsi.noi"), facility=Facility.objects.get(code="CSTD-HD"), role="treatment_doctor"
    )
    client, _ = login("bacsi.noi")
    assert client.get(DESK)["Location"] == REGISTRATION_QUEUE


def test_login_keeps_a_safe_next(demo: Any) -> None:
    _, response = login("tiepdon", "?next=/desk/patients/patient/")
    assert response["Location"] == "/desk/patients/patient/"
    _, response = login("tiepdon", "", next="/desk/appointments/appointment/")
    assert response["Location"] == "/desk/appointments/appointment/"


@pytest.mark.parametrize("unsafe", ["https://evil.example/desk/", "//evil.example/", "javascript:alert(1)"])
def test_login_with_an_unsafe_next_lands_on_the_desk(demo: Any, unsafe: str) -> None:
    client, response = login("datlich", "?next=" + unsafe)
    assert response["Location"] == DESK
    _, response = login("datlich", "", next=unsafe)
    assert response["Location"] == DESK
    assert client.get(DESK)["Location"] == reverse("admin:appointments_worklist")


def test_a_failed_login_stays_on_the_desks_login(demo: Any) -> None:
    response = Client().post(LOGIN, {"username": "tiepdon", "password": "wrong-password"})
    assert response.status_code == 200
    assert 'id="login-form"' in response.content.decode()


def _code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


@pytest.mark.parametrize("username", ["tiepdon", "ttyt.lanhdao"])
def test_after_the_two_factor_code_staff_land_on_their_worklist(
    demo: Any, settings: Any, persona: Any, username: str
) -> None:
    settings.STAFF_2FA_REQUIRED = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = TOTPDevice.objects.create(user=persona(username), name="default", confirmed=True)
    client, response = login(username)
    assert response["Location"] == DESK
    held = client.get(DESK)
    verify = reverse("admin:two_factor_verify")
    assert held.status_code == 302 and held["Location"].startswith(verify)
    done = client.post(held["Location"], {"code": _code(device)})
    assert done.status_code == 302 and done["Location"] == DESK
    assert client.get(DESK)["Location"] == landing_of(username)


# --- The 403 page -----------------------------------------------------------------------------------


FORBIDDEN = [
    ("tiepdon", "/desk/core/auditlog/"),  # a model page (Django admin's own PermissionDenied)
    ("datlich", "admin:appointments_checkin"),  # a desk page of another role
    ("thanhdong.nv", "admin:appointments_worklist"),
    ("lienket.his", "admin:appointments_queue"),
]


@pytest.mark.parametrize(("username", "page"), FORBIDDEN)
def test_role_restricted_pages_answer_the_desks_vietnamese_403(
    appointments_demo: Any, username: str, page: str
) -> None:
    client, _ = login(username)
    url = page if page.startswith("/") else reverse(page)
    response = client.get(url)
    assert response.status_code == 403
    html = response.content.decode()
    assert "403 Forbidden" not in html
    assert "Bạn không có quyền mở trang này" in html
    assert f'href="{landing_of(username)}"'.replace("&", "&amp;") in html  # the way back to their worklist
    assert "Về trang làm việc của bạn" in html
    assert 'id="nav-sidebar-inner"' in html  # the desk's own layout (its menu), not a bare page


def test_a_403_outside_the_desk_is_a_plain_vietnamese_page(demo: Any) -> None:
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied

    request = RequestFactory().get("/tai-khoan/")
    request.user = AnonymousUser()
    response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    html = response.content.decode()
    assert "403 Forbidden" not in html and "Không có quyền" in html and 'lang="vi"' in html
