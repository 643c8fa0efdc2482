"""Session lifetimes (issue 8, item 5): staff sessions end after 30 minutes idle and 12 hours in all; patients
keep a longer session (14 days idle, 30 days in all). All four limits are settings.

Time passes by moving the clock the session policy reads (`time.time`), never by waiting. A timed-out staff
member lands on the desk login, which says why in Vietnamese.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from health_f0.facilities.models import Facility, Membership
from tests import access_records

pytestmark = pytest.mark.django_db

MINUTE, HOUR, DAY = 60, 3600, 86400
DESK_PAGE = "/desk/appointments/appointment/dat-lich/"
IDLE_TEXT = "Phiên làm việc đã kết thúc vì không có thao tác nào trong 30 phút"
ABSOLUTE_TEXT = "Phiên làm việc đã kết thúc vì đã quá 12 giờ kể từ khi đăng nhập"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """clock(seconds) moves `time.time()` forward by that many seconds (cumulative)."""
    real = time.time
    offset = {"seconds": 0.0}
    monkeypatch.setattr(time, "time", lambda: real() + offset["seconds"])

    def advance(seconds: float) -> None:
        offset["seconds"] += seconds

    return advance


def _login(persona: Any, username: str) -> Client:
    client = Client()
    client.force_login(persona(username))
    return client


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _patient_client(persona: Any) -> Client:
    from health_f0.patients.models import Patient

    patient = access_records.portal_ready(Patient.objects.get(account__username="bn0000001"))
    client = Client()
    client.force_login(patient.account)
    return client


# --- Staff ---------------------------------------------------------------------------------------------


def test_staff_session_ends_after_30_idle_minutes_and_the_desk_says_why(
    demo: Any, persona: Any, clock: Callable[[float], None]
) -> None:
    client = _login(persona, "datlich")
    assert client.get(DESK_PAGE).status_code == 200
    clock(29 * MINUTE)
    assert client.get(DESK_PAGE).status_code == 200  # still within the limit: the request renews it
    clock(29 * MINUTE)
    assert client.get(DESK_PAGE).status_code == 200
    clock(30 * MINUTE + 1)
    response = client.get(DESK_PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not _logged_in(client)
    page = client.get(response["Location"]).content.decode()
    assert IDLE_TEXT in page and "Vui lòng đăng nhập lại." in page


def test_staff_session_ends_12_hours_after_login_however_active(
    demo: Any, persona: Any, clock: Callable[[float], None]
) -> None:
    client = _login(persona, "thanhdong.nv")
    board = reverse("admin:monitoring_board")
    for _ in range(24):  # a request every 29 minutes for 11.6 hours
        clock(29 * MINUTE)
        assert client.get(board).status_code == 200
    clock(25 * MINUTE)  # 12 h 1 min after the login
    response = client.get(board)
    assert response.status_code == 302 and not _logged_in(client)
    assert ABSOLUTE_TEXT in client.get(response["Location"]).content.decode()


def test_superuser_and_reports_are_staff_sessions_too(
    demo: Any, persona: Any, clock: Callable[[float], None]
) -> None:
    admin = _login(persona, "admin")
    manager = _login(persona, "syt.lanhdao")
    clock(31 * MINUTE)
    assert admin.get("/desk/").status_code == 302 and not _logged_in(admin)
    response = manager.get("/bao-cao/")
    assert response.status_code == 302 and not _logged_in(manager)


def test_limits_come_from_settings(
    demo: Any, persona: Any, settings: Any, clock: Callable[[float], None]
) -> None:
    settings.STAFF_SESSION_IDLE_MINUTES = 5
    client = _login(persona, "datlich")
    clock(4 * MINUTE)
    assert client.get(DESK_PAGE).status_code == 200
    clock(5 * MINUTE + 1)
    response = client.get(DESK_PAGE)
    assert response.status_code == 302 and not _logged_in(client)
    assert "không có thao tác nào trong 5 phút" in client.get(response["Location"]).content.decode()


def test_staff_session_cookie_does_not_outlive_the_idle_limit_by_much(demo: Any, persona: Any) -> None:
    """The cookie and the session row expire too (35 minutes), not after the patients' 14 days."""
    client = _login(persona, "datlich")
    client.get(DESK_PAGE)
    assert client.session.get_expiry_age() <= 35 * MINUTE


def test_a_timed_out_desk_dialog_reloads_the_whole_page_on_the_login(
    demo: Any, persona: Any, clock: Callable[[float], None]
) -> None:
    client = _login(persona, "datlich")
    clock(31 * MINUTE)
    response = client.get(DESK_PAGE, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"].startswith(reverse("admin:login"))
    assert not _logged_in(client)


def test_a_role_granted_after_a_patient_login_brings_the_staff_limits_to_the_desk(
    demo: Any, persona: Any, clock: Callable[[float], None]
) -> None:
    client = _patient_client(persona)
    patient_user = client.session["_auth_user_id"]
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=patient_user)
    # What granting a role does (facilities.services): a membership, and the desk's is_staff flag.
    Membership.objects.create(
        user=user, facility=Facility.objects.get(code="TYT-10510"), role="station_staff"
    )
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    clock(31 * MINUTE)
    response = client.get(reverse("admin:monitoring_board"))
    assert response.status_code == 302 and not _logged_in(client)


# --- Patients ------------------------------------------------------------------------------------------


def test_patient_session_lasts_14_idle_days(demo: Any, persona: Any, clock: Callable[[float], None]) -> None:
    client = _patient_client(persona)
    assert client.get(reverse("www:me")).status_code == 200
    clock(13 * DAY)
    assert client.get(reverse("www:me")).status_code == 200
    clock(14 * DAY + 1)
    response = client.get(reverse("www:me"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("www:login"))
    assert not _logged_in(client)


def test_patient_session_ends_30_days_after_login(
    demo: Any, persona: Any, clock: Callable[[float], None]
) -> None:
    client = _patient_client(persona)
    for _ in range(3):
        clock(9 * DAY)
        assert client.get(reverse("www:me")).status_code == 200
    clock(3 * DAY + 1)  # 30 days and a second after the login, 3 days after the last request
    response = client.get(reverse("www:me"))
    assert response.status_code == 302 and not _logged_in(client)


def test_a_bearer_token_is_not_a_session(demo: Any, as_user: Any, clock: Callable[[float], None]) -> None:
    """API tokens keep their own 30-day lifetime; the session policy does not touch token requests."""
    api = as_user("datlich")
    clock(2 * HOUR)
    assert api.get("/api/v1/me").status_code == 200
