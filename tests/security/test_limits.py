"""Issue 8, items 4 and 5 (passwords), issue 14 item 3 (rate limits): client addresses that cannot be forged,
lockouts that cannot be turned against a user, limits that hold across processes without Redis, an OTP
design for carrier-grade NAT with a province-wide SMS budget, throttled password-change guessing, password
changes that revoke every other credential, 12-character staff passwords, and rate limits that neither
crash nor open when Redis is down."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.db import connections
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from health_f0.api.models import ApiToken
from health_f0.core.counters import counter_add, counter_delete, window_count
from health_f0.core.exceptions import RateLimited
from health_f0.core.models import AuditLog
from health_f0.core.request_context import axes_client_ip, client_ip
from health_f0.notifications.models import MessageKind, OutboxMessage
from health_f0.patients.models import OtpChallenge
from health_f0.patients.otp import _resend_key, otp_request

pytestmark = pytest.mark.django_db

STAFF, STAFF_PASSWORD = "thanhdong.nv", "demo-2026"
PATIENT = "bn0000001"
OTP_URL = "/api/v1/otp"
NO_REDIS = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "limits"}}


def _otp_api(phone: str, **headers: str) -> Any:
    return APIClient().post(OTP_URL, {"phone": phone, "purpose": "registration"}, format="json", **headers)


# --- One client address, never from a forged header ------------------------------------------------------


def test_forged_forwarding_headers_are_ignored_from_an_untrusted_peer(settings: Any) -> None:
    settings.TRUSTED_PROXIES = []
    request = RequestFactory().get(
        "/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="198.51.100.1", HTTP_X_REAL_IP="198.51.100.2"
    )
    assert client_ip(request) == "203.0.113.5"
    assert axes_client_ip(request) == "203.0.113.5"
    # Through a real surface: rotating forged headers does not escape the per-address OTP cap.
    settings.OTP_MAX_PER_IP_PER_HOUR = 2
    codes = [
        _otp_api(
            f"09770050{i:02d}",
            REMOTE_ADDR="203.0.113.5",
            HTTP_X_REAL_IP=f"198.51.100.{i}",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        ).status_code
        for i in range(3)
    ]
    assert codes == [202, 202, 429]
    assert set(OtpChallenge.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}


def test_forwarding_headers_are_honoured_from_a_trusted_proxy(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8:ffff::/48"]
    factory = RequestFactory()
    # The right-most address that is not one of our proxies is the client; anything left of it is the
    # client's own claim.
    chain = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7, 10.0.0.1")
    assert client_ip(chain) == "198.51.100.7"
    assert (
        client_ip(factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="198.51.100.8")) == "198.51.100.8"
    )
    v6 = factory.get("/", REMOTE_ADDR="2001:db8:ffff::1", HTTP_X_FORWARDED_FOR="[2001:db8:1:2::7]:4431")
    assert client_ip(v6) == "2001:db8:1:2::7"
    assert axes_client_ip(v6) == "2001:db8:1:2::"  # an IPv6 subscriber's /64 counts as one address
    # Distinct clients behind the proxy each have their own OTP cap.
    settings.OTP_MAX_PER_IP_PER_HOUR = 2
    codes = [
        _otp_api(f"09770060{i:02d}", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 10.0.0.1")
        for i in range(3)
    ]
    assert [c.status_code for c in codes] == [202, 202, 202]
    assert OtpChallenge.objects.filter(ip_address="198.51.100.2").exists()


# --- Lockout per username + address, back-off per username -------------------------------------------------


def _login(surface: str, ip: str, password: str, username: str = STAFF) -> int:
    if surface == "api":
        return (
            APIClient()
            .post(
                "/api/v1/auth/token",
                {"username": username, "password": password},
                format="json",
                REMOTE_ADDR=ip,
            )
            .status_code
        )
    url = "/dang-nhap" if surface == "portal" else "/desk/login/"
    data = {"username": username, "password": password}
    if surface == "desk":
        data["next"] = "/desk/"
    return Client(REMOTE_ADDR=ip).post(url, data).status_code


OK = {"portal": 302, "desk": 302, "api": 200}
WRONG = {"portal": 400, "desk": 200, "api": 400}


@pytest.mark.parametrize("surface", ["portal", "desk", "api"])
def test_an_attacker_cannot_lock_the_user_out_but_a_distributed_attack_is_slowed(
    demo: Any, settings: Any, surface: str
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_USERNAME_BACKOFF_AFTER = 4
    settings.AXES_USERNAME_BACKOFF_BASE_SECONDS = 120
    home, attacker = "203.0.113.10", "198.51.100.66"
    assert _login(surface, home, STAFF_PASSWORD) == OK[surface]  # the user's usual address
    # One address: locked after 3 wrong passwords, then refused even with the right password or with a
    # forged X-Forwarded-For.
    assert [_login(surface, attacker, f"wrong-{i}") for i in range(3)] == [WRONG[surface]] * 2 + [429]
    assert _login(surface, attacker, STAFF_PASSWORD) == 429
    forged = Client(REMOTE_ADDR=attacker, HTTP_X_FORWARDED_FOR="192.0.2.1", HTTP_X_REAL_IP="192.0.2.2")
    assert forged.post("/dang-nhap", {"username": STAFF, "password": STAFF_PASSWORD}).status_code == 429
    # ... but the user, from another address, is not locked out.
    assert _login(surface, "203.0.113.11", STAFF_PASSWORD) == OK[surface]
    # Many addresses, each under the limit: past 4 failures of the username, each further try waits.
    for i in range(5):
        for _ in range(2):
            assert _login(surface, f"192.0.2.{100 + i}", "guess") in {WRONG[surface], 429}
    failures = sum(
        AccessAttempt.objects.filter(username=STAFF).values_list("failures_since_start", flat=True)
    )
    assert failures == 4  # the other 9 guesses were refused unchecked
    assert _login(surface, "192.0.2.200", STAFF_PASSWORD) == 429
    response = APIClient().post(
        "/api/v1/auth/token",
        {"username": STAFF, "password": STAFF_PASSWORD},
        format="json",
        REMOTE_ADDR="192.0.2.201",
    )
    assert response.status_code == 429 and response.json()["code"] == "locked_out"
    assert 0 < int(response["Retry-After"]) <= 120
    assert "nhiều nơi" in response.json()["detail"]
    # The refused tries were not counted against those addresses.
    assert not AccessAttempt.objects.filter(ip_address__in=["192.0.2.200", "192.0.2.201"]).exists()
    # Where the user has logged in before, the back-off does not apply.
    assert _login(surface, home, STAFF_PASSWORD) == OK[surface]


def test_the_lockout_page_says_how_long_to_wait(demo: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    client = Client(REMOTE_ADDR="198.51.100.70")
    client.post("/dang-nhap", {"username": STAFF, "password": "x"})
    locked = client.post("/dang-nhap", {"username": STAFF, "password": "y"})
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Vui lòng thử lại sau 15 phút" in page and int(locked["Retry-After"]) > 800
    assert "Sở Y tế thành phố Hải Phòng" in page  # the portal's own header, like every other page


# --- Counters shared by processes, without Redis -----------------------------------------------------------


def _count_in_child(queue: Any, name: str, times: int) -> None:
    connections.close_all()
    try:
        queue.put([window_count(name, window_seconds=3600) for _ in range(times)])
        queue.put([counter_add(f"{name}:guard", timeout=60)])
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_a_cap_of_five_holds_across_two_processes_on_the_database_counter() -> None:
    """Two worker processes without Redis (each with its own local-memory cache) count in the database:
    10 simultaneous events get the counts 1..10, so a cap of 5 lets exactly 5 through."""
    name = f"cap-test:{uuid.uuid4().hex}"
    with override_settings(RATE_LIMIT_STORE="database", CACHES=NO_REDIS):
        connections.close_all()
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        children = [context.Process(target=_count_in_child, args=(queue, name, 5)) for _ in range(2)]
        for child in children:
            child.start()
        results = [queue.get(timeout=60) for _ in range(4)]
        for child in children:
            child.join(timeout=60)
    counts = sorted(n for r in results if len(r) == 5 for n in r)
    guards = [g for r in results if len(r) == 1 for g in r]
    assert counts == list(range(1, 11))
    assert len([n for n in counts if n <= 5]) == 5
    assert sorted(guards) == [False, True]


def test_the_database_counter_restarts_after_its_window(settings: Any) -> None:
    settings.RATE_LIMIT_STORE = "database"
    assert [counter_add("guard:x", timeout=60) for _ in range(2)] == [True, False]
    later = timezone.now() + timedelta(seconds=61)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert counter_add("guard:x", timeout=60) is True
    counter_delete("guard:x")
    assert counter_add("guard:x", timeout=60) is True


# --- The appointment OTP gate keeps its lockout -----------------------------------------------------------


def test_the_appointment_gates_wrong_codes_survive_the_rollback(
    demo: Any, settings: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Without Redis every worker has its own memory: only the database can remember wrong codes, and the
    gate used to roll its count back with the failed verification."""
    from tests.www.test_appointments_portal import GUEST_E164, book_url, guest_data, make_service, open_day

    settings.RATE_LIMIT_STORE = "database"
    settings.CACHES = NO_REDIS
    service = make_service()
    url = book_url(service, open_day(service), "08:00")
    guest = Client()
    with django_capture_on_commit_callbacks(execute=True):
        guest.post(url, {**guest_data(), "action": "otp"})
    booked = guest.post(url, guest_data(otp=sms.last_otp(GUEST_E164)))
    assert booked.status_code == 302
    gate = booked["Location"]
    counter_delete(_resend_key(GUEST_E164, "booking"))
    OtpChallenge.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    stranger = Client()
    with django_capture_on_commit_callbacks(execute=True):
        assert stranger.post(gate, {"action": "otp"}).status_code == 200
    code = sms.last_otp(GUEST_E164)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert stranger.post(gate, {"action": "verify", "otp": wrong}).status_code == 400
        cache.clear()  # the next request lands on the other worker
    assert OtpChallenge.objects.filter(phone=GUEST_E164).latest("created_at").attempts == 5
    locked = stranger.post(gate, {"action": "verify", "otp": code})
    assert locked.status_code == 400 and "quá 5 lần" in locked.content.decode()


# --- Carrier-grade NAT and the SMS budget ----------------------------------------------------------------


def test_many_phones_behind_one_carrier_address_are_not_blocked_below_the_cap(settings: Any) -> None:
    """A district's phones share one public address during an outbreak: the documented default cap (300 an
    hour, docs/operations.md) lets them all through, while each phone keeps its strict cap."""
    assert settings.OTP_MAX_PER_IP_PER_HOUR >= 300
    assert settings.OTP_MAX_PER_PHONE_PER_HOUR == 5
    for i in range(60):
        otp_request(phone=f"+8497100{i:04d}", purpose="registration", ip="113.160.0.1")
    assert OtpChallenge.objects.filter(ip_address="113.160.0.1").count() == 60


def test_sms_budget_exceeded_stops_otp_and_alerts_the_administrators_once(
    persona: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.OTP_SMS_BUDGET_PER_HOUR = 3
    admin = persona("admin")
    admin.phone = "+84912000999"
    admin.save(update_fields=["phone"])
    now = timezone.now()
    mid_hour = datetime.fromtimestamp(int(now.timestamp()) // 3600 * 3600 + 1800, tz=now.tzinfo)
    with mock.patch("django.utils.timezone.now", return_value=mid_hour):
        for i in range(3):
            otp_request(phone=f"+8497200{i:04d}", purpose="registration", ip=f"198.51.100.{i}")
        refused = []
        for i in range(3, 6):
            with pytest.raises(RateLimited) as exc:
                otp_request(phone=f"+8497200{i:04d}", purpose="registration", ip=f"198.51.100.{i}")
            refused.append(exc.value)
    assert {e.code for e in refused} == {"otp_budget_exceeded"}
    assert all(e.extra["retry_after"] == 1800 for e in refused)
    assert "tạm ngừng gửi mã OTP" in refused[0].message
    assert OtpChallenge.objects.count() == 3
    alerts = AuditLog.objects.filter(verb="otp_sms_budget_exceeded")
    assert alerts.count() == 1 and alerts.get().action == AuditLog.Action.ALERT
    assert alerts.get().facility is not None and alerts.get().facility.kind == "doh"
    texts = OutboxMessage.objects.filter(kind=MessageKind.STAFF_ALERT, to="+84912000999")
    assert texts.count() == 1 and "OTP" in texts.get().body


# --- Password-change guessing is throttled like login -----------------------------------------------------


def _change_portal(client: Client, old: str, new: str) -> int:
    data = {"old_password": old, "new_password1": new, "new_password2": new}
    return client.post("/tai-khoan/doi-mat-khau", data).status_code


def _change_desk(client: Client, old: str, new: str) -> int:
    data = {"old_password": old, "new_password1": new, "new_password2": new}
    return client.post("/desk/password_change/", data).status_code


NEW_PASSWORD = "Cay-bang-truoc-ngo-2026"


@pytest.mark.parametrize("surface", ["portal", "desk", "api"])
def test_guessing_the_current_password_is_locked_out_like_login(
    persona: Any, settings: Any, as_user: Any, surface: str
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    user = persona(STAFF)
    if surface == "api":
        api = as_user(STAFF)

        def change(old: str) -> int:
            body = {"old_password": old, "new_password": NEW_PASSWORD}
            return api.post("/api/v1/auth/password", body, format="json").status_code
    else:
        client = Client()
        client.force_login(user)
        submit = _change_portal if surface == "portal" else _change_desk

        def change(old: str) -> int:
            return submit(client, old, NEW_PASSWORD)

    assert [change(f"guess-{i}") for i in range(3)][-1] == 429
    assert change(STAFF_PASSWORD) == 429  # the right one is refused too while locked
    user.refresh_from_db()
    assert user.check_password(STAFF_PASSWORD)
    # The lock is the login's: the same username + address cannot log in either.
    assert _login("api", "127.0.0.1", STAFF_PASSWORD) == 429


# --- A password change revokes every other credential -----------------------------------------------------


def _logged_in(client: Client) -> bool:
    """The session still authenticates (the API accepts the portal's and the desk's sessions)."""
    return client.get("/api/v1/me").status_code == 200


def test_portal_password_change_revokes_tokens_and_other_sessions(persona: Any, as_user: Any) -> None:
    user = persona(PATIENT)
    phone_app = as_user(PATIENT)
    here, elsewhere = Client(), Client()
    here.force_login(user)
    elsewhere.force_login(user)
    assert phone_app.get("/api/v1/me").status_code == 200 and _logged_in(elsewhere)
    assert _change_portal(here, "demo-2026", NEW_PASSWORD) == 302
    assert phone_app.get("/api/v1/me").status_code == 401
    assert not ApiToken.objects.filter(user=user).exists()
    assert not _logged_in(elsewhere)
    assert _logged_in(here)
    change = AuditLog.objects.get(verb="change_password", target_id=str(user.pk))
    assert change.data["tokens_revoked"] == 1


def test_desk_password_change_and_reset_revoke_tokens_and_sessions(persona: Any, as_user: Any) -> None:
    user = persona(STAFF)
    desk, elsewhere = Client(), Client()
    desk.force_login(user)
    elsewhere.force_login(user)
    app = as_user(STAFF)
    assert _change_desk(desk, STAFF_PASSWORD, NEW_PASSWORD) == 302
    assert app.get("/api/v1/me").status_code == 401
    assert _logged_in(desk)
    assert not _logged_in(elsewhere)
    # An administrator resets the password: the user's tokens stop working too.
    app = as_user(STAFF)
    admin = Client()
    admin.force_login(persona("admin"))
    reset = admin.post(
        f"/desk/core/user/{user.pk}/password/",
        {"usable_password": "true", "password1": "Mat-khau-tam-2026", "password2": "Mat-khau-tam-2026"},
    )
    assert reset.status_code == 302
    assert app.get("/api/v1/me").status_code == 401
    assert not _logged_in(desk)
    assert AuditLog.objects.filter(
        verb="reset_password", target_id=str(user.pk), actor__username="admin"
    ).exists()


# --- Staff passwords: 12 characters ----------------------------------------------------------------------


def test_staff_passwords_need_twelve_characters_patients_eight(persona: Any, as_user: Any) -> None:
    short = "Rau-muong-7"  # 11 characters
    staff = as_user(STAFF)
    refused = staff.post(
        "/api/v1/auth/password", {"old_password": STAFF_PASSWORD, "new_password": short}, format="json"
    )
    assert refused.status_code == 400
    assert "12 ký tự" in refused.json()["errors"]["new_password"][0]["message"]
    desk = Client()
    desk.force_login(persona(STAFF))
    assert _change_desk(desk, STAFF_PASSWORD, short) == 200
    assert _change_portal(desk, STAFF_PASSWORD, short) == 400
    assert persona(STAFF).check_password(STAFF_PASSWORD)
    # Patients keep 8 characters (with the common-password check).
    patient = as_user(PATIENT)
    weak = patient.post(
        "/api/v1/auth/password", {"old_password": "demo-2026", "new_password": "password1"}, format="json"
    )
    assert weak.status_code == 400
    ok = patient.post(
        "/api/v1/auth/password", {"old_password": "demo-2026", "new_password": short}, format="json"
    )
    assert ok.status_code == 204


# --- Redis down: fail closed for OTP, open (on the database) elsewhere, never a 500 ------------------------

DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


def _with_dead_redis(action: Callable[[], Any]) -> Any:
    with override_settings(CACHES=DEAD_REDIS, RATE_LIMIT_STORE="cache"):
        return action()


def test_redis_down_otp_is_refused_politely_and_logins_still_work_and_are_throttled(demo: Any) -> None:
    otp = _with_dead_redis(lambda: _otp_api("0977007001", REMOTE_ADDR="198.51.100.90"))
    assert otp.status_code == 429
    assert otp.json()["code"] == "otp_unavailable" and "thử lại sau ít phút" in otp.json()["detail"]
    assert not OtpChallenge.objects.exists()

    def logins() -> list[int]:
        ok = _login("api", "198.51.100.91", STAFF_PASSWORD)
        wrong = [_login("api", "198.51.100.92", "x", username=f"user{i}") for i in range(21)]
        return [ok, *wrong]

    codes = _with_dead_redis(logins)
    assert codes[0] == 200
    assert codes[1:21] == [400] * 20 and codes[21] == 429  # the throttle now counts in the database
