"""The access matrix: every persona against every kind of record, on every surface (desk, API, portal).

A row says which records a persona may see; each surface must agree with it. "Not found" and "not yours"
look the same to the caller (404, or the desk's redirect away from a record it will not show).

The rows follow the role sets of health_f0/facilities/access.py (STATION_ROLES, ALERT_READER_ROLES,
APPOINTMENT_READER_ROLES, HIS_LINKER_ROLES, HIS_READER_ROLES) and the demo memberships (fixtures/demo.json):
a role held at a facility covers that facility and everything under it. They are written out, not derived:
the table is the spec.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from health_f0.accounting.models import Reconciliation, ReconciliationState
from health_f0.api.services import api_token_issue
from health_f0.facilities.models import Facility
from health_f0.his.models import HisLink
from health_f0.monitoring.models import Alert
from health_f0.registration.models import Registration
from health_f0.registration.services import registration_accept
from tests import access_records

# Records (A / B):
#   reg_         a waiting registration at TYT Thành Đông / at TYT Lê Thanh Nghị
#   pat_         the patient of Thành Đông (bn0000001) / of Lê Thanh Nghị (accepted in the fixture)
#   appt_        a booking request of patient A at Phòng khám Nội 1 (under TTYT-HD) / of patient B at
#                Bệnh viện Đa khoa Kiến An (BV-KA, directly under the Sở Y tế, outside the TTYT)
#   ep_, alert_  the home-care episode and an open danger-sign alert of patient A at Thành Đông / of B at
#                Lê Thanh Nghị
#   decl_        the declaration that raised the alert (shown on the episode's desk page)
#   cert_        the certificate of the episode once completed (desk download; the portal's is the patient's)
#   link_        a HIS link request (approved) of patient A at TTYT-HD / of patient B at BV-KA
#   visit_, lab_ an imported HIS visit and lab result of patient A at TTYT-HD / of patient B at BV-KA
SEES = {
    "admin": {
        *("reg_a", "reg_b", "pat_a", "pat_b", "appt_a", "appt_b", "ep_a", "ep_b", "alert_a", "alert_b"),
        *("decl_a", "decl_b", "cert_a", "cert_b", "link_a", "link_b", "visit_a", "visit_b", "lab_a", "lab_b"),
    },
    # Leadership reads everything in its tree, but the HIS link queue is the linkers' (HIS_LINKER_ROLES).
    "syt.lanhdao": {
        *("reg_a", "reg_b", "pat_a", "pat_b", "appt_a", "appt_b", "ep_a", "ep_b", "alert_a", "alert_b"),
        *("decl_a", "decl_b", "cert_a", "cert_b", "visit_a", "visit_b", "lab_a", "lab_b"),
    },
    "ttyt.lanhdao": {
        *("reg_a", "reg_b", "pat_a", "pat_b", "appt_a", "ep_a", "ep_b", "alert_a", "alert_b"),
        *("decl_a", "decl_b", "cert_a", "cert_b", "visit_a", "lab_a"),
    },
    # Station staff: their station's home care only (no appointments, no HIS data).
    "thanhdong.nv": {"reg_a", "pat_a", "ep_a", "alert_a", "decl_a", "cert_a"},
    "thanhdong.truong": {"reg_a", "pat_a", "ep_a", "alert_a", "decl_a", "cert_a"},
    "lethanhnghi.nv": {"reg_b", "pat_b", "ep_b", "alert_b", "decl_b", "cert_b"},
    "tanhung.nv": set(),
    # A treatment doctor at the treatment facility: none of these records is there.
    "bacsi.dieutri": set(),
    # Hospital-side roles at the TTYT see none of the home-care records of the stations below it
    # (registrations, patients, episodes, declarations, alerts, certificates). They see a patient only through
    # their own work (PATIENTS_THROUGH_WORK below): the desk and reception the TTYT's bookings, the linker its
    # link requests. Lab results and diagnoses (visits) are for clinical roles and the linker.
    "datlich": {"appt_a"},
    "tiepdon": {"appt_a"},
    "lienket.his": {"link_a", "visit_a", "lab_a"},
    # The accountant at the TTYT: payments only (PAYMENTS_SEES below), no patient, booking or HIS record.
    "ketoan": set(),
}
PERSONAS = sorted(SEES)


@pytest.fixture
def records(demo: Any, persona: Any) -> dict[str, Any]:
    reg_a = Registration.objects.filter(facility__code="TYT-10510", status="submitted").order_by("id").first()
    reg_b = Registration.objects.filter(facility__code="TYT-10532", status="submitted").order_by("id").first()
    assert reg_a and reg_b
    patient_b = registration_accept(
        registration=Registration.objects.filter(facility__code="TYT-10532", status="submitted").last(),
        actor=persona("lethanhnghi.nv"),
    ).patient
    reg_b = Registration.objects.filter(facility__code="TYT-10532", status="submitted").first() or reg_b
    patient_a = Registration.objects.get(patient__account__username="bn0000001").patient
    return {"reg_a": reg_a, "reg_b": reg_b, "pat_a": patient_a, "pat_b": patient_b}


def _desk(persona: Any, username: str) -> Client:
    client = Client()
    client.force_login(persona(username))
    return client


def _api(persona: Any, username: str) -> APIClient:
    raw, _ = api_token_issue(user=persona(username))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.parametrize("username", PERSONAS)
def test_desk_detail_pages(username: str, records: dict[str, Any], persona: Any) -> None:
    client = _desk(persona, username)
    for key, record in records.items():
        model = "registration_registration" if key.startswith("reg") else "patients_patient"
        response = client.get(reverse(f"admin:{model}_change", args=[record.pk]))
        visible = response.status_code == 200 and record.full_name in response.content.decode()
        assert visible == (key in SEES[username]), (username, key, response.status_code)


@pytest.mark.parametrize("username", PERSONAS)
def test_desk_lists(username: str, records: dict[str, Any], persona: Any) -> None:
    client = _desk(persona, username)
    for key, url in (
        ("reg", "admin:registration_registration_changelist"),
        ("pat", "admin:patients_patient_changelist"),
    ):
        response = client.get(reverse(url))
        html = response.content.decode() if response.status_code == 200 else ""
        for suffix in ("_a", "_b"):
            record = records[key + suffix]
            assert (record.full_name in html) == (key + suffix in SEES[username]), (username, key + suffix)


@pytest.mark.parametrize("username", PERSONAS)
def test_api_registration_detail_and_list(username: str, records: dict[str, Any], persona: Any) -> None:
    client = _api(persona, username)
    listed = client.get("/api/v1/registrations?limit=200")
    listed_ids = (
        {row["id"] for row in listed.json().get("results", [])} if listed.status_code == 200 else set()
    )
    for key in ("reg_a", "reg_b"):
        record = records[key]
        response = client.get(f"/api/v1/registrations/{record.public_id}")
        expected = key in SEES[username]
        assert (response.status_code == 200) == expected, (username, key, response.status_code)
        assert response.status_code in (200, 403, 404)
        assert (str(record.public_id) in listed_ids) == expected


def test_patient_sees_only_own_record_everywhere(records: dict[str, Any], persona: Any) -> None:
    own, other = records["pat_a"], records["pat_b"]
    portal = Client()
    portal.force_login(own.account)
    page = portal.get("/ca-nhan").content.decode()
    assert own.full_name in page and other.full_name not in page
    desk = portal.get(reverse("admin:patients_patient_change", args=[other.pk]))
    assert desk.status_code == 302 and "/desk/login/" in desk["Location"]
    api = _api(persona, own.account.username)
    me = api.get("/api/v1/me").json()
    assert [p["full_name"] for p in me["patients"]] == [own.full_name]
    assert [(p["full_name"], p["relation"]) for p in me["acting_for"]] == [(own.full_name, "self")]
    assert api.get(f"/api/v1/registrations/{records['reg_a'].public_id}").status_code in (403, 404)
    assert api.get("/api/v1/registrations").status_code == 403


def test_anonymous_sees_nothing(records: dict[str, Any], client: Client) -> None:
    assert client.get("/ca-nhan").status_code == 302
    assert client.get(reverse("admin:registration_registration_changelist")).status_code == 302
    response = APIClient().get(f"/api/v1/registrations/{records['reg_a'].public_id}")
    assert response.status_code == 401


def test_family_on_one_phone_see_each_other_only(records: dict[str, Any], persona: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from health_f0.registration.services import RegistrationInput, _create, registration_validate

    own = records["pat_a"]
    child_input = registration_validate(
        RegistrationInput(
            full_name="Nguyễn Minh Khang",
            date_of_birth=own.date_of_birth.replace(year=2019),
            sex="male",
            phone=own.phone,
            province_code=31,
            ward_code=10510,
            test_type="rapid",
            positive_date=timezone.localdate() - timedelta(days=1),
            care="caregiver",
            consent=True,
            relation="relative",
            registrant_name="Nguyễn Văn Hùng",
        )
    )
    child_reg = _create(child_input, channel="web", facility=own.facility, actor=None)
    child = registration_accept(registration=child_reg, actor=persona("thanhdong.nv")).patient
    from health_f0.facilities import access

    assert set(access.patients_for(own.account)) == {own, child}
    assert set(access.patients_for(child.account)) == {own, child}
    assert records["pat_b"] not in set(access.patients_for(own.account))


def test_treatment_facility_sees_registrations_transferred_to_it(
    records: dict[str, Any], persona: Any
) -> None:
    from health_f0.facilities import access
    from health_f0.facilities.models import Facility
    from health_f0.registration.services import registration_transfer

    reg_a = records["reg_a"]
    assert reg_a not in set(access.registrations_for(persona("bacsi.dieutri")))
    registration_transfer(
        registration=reg_a, actor=persona("thanhdong.nv"), station=Facility.objects.get(code="CSTD-HD")
    )
    assert reg_a in set(access.registrations_for(persona("bacsi.dieutri")))
    assert reg_a not in set(access.registrations_for(persona("thanhdong.nv")))


# --- Appointments, home care (episodes, alerts), HIS data, reports ----------------------------------
# Records built by tests/access_records.py; the rows above say who sees them. Below: the surfaces narrower
# than reading, the patients' rows, and the reports.

# The booking desk's worklist API (/api/v1/staff/appointments: the desk's DESK_ROLES). Managers and
# clinicians read appointments in the desk only and get 403 there; so does everyone else.
STAFF_APPOINTMENT_API = {"admin", "datlich", "tiepdon"}

# The HIS link form PDF (admin:his_link_form_pdf): facilities.access.HIS_COUNTER_ROLES at the request's facility.
LINK_FORM = {"admin": {"link_a", "link_b"}, "tiepdon": {"link_a"}, "lienket.his": {"link_a"}}

# The two patient accounts (different phones: no family rule between them).
# alert_: the declaration that raised the alert, in the patient's own declaration history (the alert itself
# is for staff).
PATIENT_SEES = {
    "pat_a": {"appt_a", "ep_a", "alert_a", "decl_a", "link_a", "visit_a", "lab_a"},
    "pat_b": {"appt_b", "ep_b", "alert_b", "decl_b", "link_b", "visit_b", "lab_b"},
}

# Report pages and their XLSX exports: None = refused (403); otherwise the facilities whose figures the
# export holds (home care: the stations; appointments and HIS linking: TTYT-HD and Bệnh viện Kiến An).
# Who (reports/*selectors.py): home care for managers, administrators and station heads; appointments for
# managers, administrators and the booking desk; HIS linking for managers, administrators and HIS linkers;
# each for the facilities where they hold the role and everything under them.
STATIONS = {"TYT-10510", "TYT-10532", "TYT-10537"}
NO_REPORTS: dict[str, set[str] | None] = {
    "home_care": None,
    "appointments": None,
    "his": None,
    "payments": None,
}
EXPORTS: dict[str, dict[str, set[str] | None]] = {
    "admin": {
        "home_care": STATIONS,
        "appointments": {"TTYT-HD", "BV-KA"},
        "his": {"TTYT-HD", "BV-KA"},
        "payments": {"TTYT-HD", "BV-KA"},
    },
    "syt.lanhdao": {
        "home_care": STATIONS,
        "appointments": {"TTYT-HD", "BV-KA"},
        "his": {"TTYT-HD", "BV-KA"},
        "payments": {"TTYT-HD", "BV-KA"},
    },
    "ttyt.lanhdao": {
        "home_care": STATIONS,
        "appointments": {"TTYT-HD"},
        "his": {"TTYT-HD"},
        "payments": {"TTYT-HD"},
    },
    "thanhdong.nv": NO_REPORTS,
    "thanhdong.truong": {**NO_REPORTS, "home_care": {"TYT-10510"}},
    "lethanhnghi.nv": NO_REPORTS,
    "tanhung.nv": NO_REPORTS,
    "bacsi.dieutri": NO_REPORTS,
    "datlich": {**NO_REPORTS, "appointments": {"TTYT-HD"}},
    "tiepdon": NO_REPORTS,
    "lienket.his": {**NO_REPORTS, "his": {"TTYT-HD"}},
    "ketoan": {**NO_REPORTS, "payments": {"TTYT-HD"}},
}
REPORTS = {
    "home_care": ("/bao-cao/theo-doi-tai-nha/", "/bao-cao/theo-doi-tai-nha/xlsx/"),
    "appointments": ("/bao-cao/lich-hen/", "/bao-cao/lich-hen/xlsx/"),
    "his": ("/bao-cao/lien-ket-his/", "/bao-cao/lien-ket-his/xlsx/"),
    "payments": ("/bao-cao/thanh-toan/", "/bao-cao/thanh-toan/xlsx/"),
}
# How a facility shows in each export: a cell holding its station code, one of its service codes, its short
# name (its name when it has none).
EXPORT_MARKERS = {
    "home_care": {code: code for code in STATIONS},
    "appointments": {"kham-noi": "TTYT-HD", access_records.HOSPITAL_B_SERVICE: "BV-KA"},
    "his": {"TTYT Hai Duong": "TTYT-HD", "Bệnh viện Đa khoa Kiến An": "BV-KA"},
    "payments": {"TTYT-HD": "TTYT-HD", "BV-KA": "BV-KA"},
}
# The appointment report per clinical department (issue 12 §4): exactly the appointment report's scope for every
# persona. Its export names each department by its facility code (TTYT-HD's Khoa Khám bệnh: KKB-HD); a clinic
# directly under a hospital is in the hospital's "no department" row, under the hospital's code.
REPORTS["appointment_departments"] = ("/bao-cao/lich-hen/theo-khoa/", "/bao-cao/lich-hen/theo-khoa/xlsx/")
for _row in EXPORTS.values():
    _row["appointment_departments"] = _row["appointments"]
EXPORT_MARKERS["appointment_departments"] = {"KKB-HD": "TTYT-HD", access_records.HOSPITAL_B: "BV-KA"}


@pytest.fixture
def patients(records: dict[str, Any]) -> dict[str, Any]:
    """Patients A and B with portal accounts past the first-login password change."""
    return {key: access_records.portal_ready(records[key]) for key in ("pat_a", "pat_b")}


@pytest.fixture
def appointments(appointments_demo: Any, patients: dict[str, Any], persona: Any) -> dict[str, Any]:
    return access_records.appointment_records(patients, persona("admin"))


@pytest.fixture
def home_care(patients: dict[str, Any]) -> dict[str, Any]:
    return access_records.monitoring_records(patients)


@pytest.fixture
def his(patients: dict[str, Any], persona: Any) -> dict[str, Any]:
    return access_records.his_records(patients, persona("lienket.his"), persona("admin"))


def _ids(response: Any) -> set[str]:
    """The ids of a paginated API list (none when the list is refused)."""
    return {row["id"] for row in response.json()["results"]} if response.status_code == 200 else set()


def _desk_shows(
    client: Client, model: str, records: dict[str, Any], listed_as: Any
) -> dict[str, tuple[bool, bool]]:
    """For each record: (listed on the model's desk changelist, its change page opens and shows the patient).
    `listed_as(record)` is the text that marks the record's row (its link)."""
    response = client.get(reverse(f"admin:{model}_changelist"))
    html = response.content.decode() if response.status_code == 200 else ""
    out = {}
    for key, record in records.items():
        detail = client.get(reverse(f"admin:{model}_change", args=[record.pk]))
        opened = detail.status_code == 200 and record.patient.full_name in detail.content.decode()
        out[key] = (listed_as(record) in html, opened)
    return out


def _change_url(model: str) -> Any:
    return lambda record: reverse(f"admin:{model}_change", args=[record.pk])


def _workbook_cells(content: bytes) -> set[str]:
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    return {
        str(value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    }


def _check_report(client: Client, username: str, kind: str) -> None:
    """The report page and its XLSX export against the EXPORTS row."""
    page, export = REPORTS[kind]
    expected = EXPORTS[username][kind]
    page_status = client.get(page).status_code
    response = client.get(export)
    if expected is None:
        assert (page_status, response.status_code) == (403, 403), (username, kind)
        return
    assert (page_status, response.status_code) == (200, 200), (username, kind)
    cells = _workbook_cells(response.content)
    found = {code for marker, code in EXPORT_MARKERS[kind].items() if marker in cells}
    assert found == expected, (username, kind, found)
    # Asking for a facility outside one's scope is "not found" (400 with a message), never its figures.
    for code in set(EXPORT_MARKERS[kind].values()) - expected:
        facility = Facility.objects.get(code=code)
        for url in (page, export):
            response = client.get(url, {"facility": facility.pk})
            assert response.status_code == 400, (username, kind, code, url, response.status_code)


@pytest.mark.parametrize("username", PERSONAS)
def test_appointments(username: str, appointments: dict[str, Any], persona: Any) -> None:
    """Desk list and detail, the desk's worklist page and API, the patient endpoints and portal page (not for
    staff), the appointment report and its export."""
    desk = _desk(persona, username)
    model = "appointments_appointment"
    shown = _desk_shows(desk, model, appointments, _change_url(model))
    works_the_desk = username in STAFF_APPOINTMENT_API
    desk_worklist = desk.get(reverse("admin:appointments_worklist"))
    assert desk_worklist.status_code == (200 if works_the_desk else 403)
    api = _api(persona, username)
    worklist = api.get("/api/v1/staff/appointments?limit=200")
    assert worklist.status_code == (200 if works_the_desk else 403), worklist.status_code
    worklist_ids = _ids(worklist)
    assert api.get("/api/v1/appointments").status_code == 403
    for key, appointment in appointments.items():
        expected = key in SEES[username]
        assert shown[key] == (expected, expected), (username, key, shown[key])
        on_desk_worklist = appointment.patient.full_name in desk_worklist.content.decode()
        in_worklist = str(appointment.public_id) in worklist_ids
        assert (on_desk_worklist, in_worklist) == (expected and works_the_desk,) * 2, (username, key)
        assert api.get(f"/api/v1/appointments/{appointment.public_id}").status_code == 403
        assert desk.get(f"/lich-hen/{appointment.public_id}").status_code == 404
        # The calendar file: the patient's own only (staff: 403 in the API, 404 on the portal).
        assert api.get(f"/api/v1/appointments/{appointment.public_id}/calendar.ics").status_code == 403
        assert desk.get(f"/lich-hen/{appointment.public_id}/lich.ics").status_code == 404
        # The desk's calendar of the booking's service and day shows it exactly where the list does.
        calendar = desk.get(
            reverse("admin:appointments_calendar"),
            {
                "dich_vu": appointment.service_id,
                "ngay": f"{timezone.localtime(appointment.slot_start):%d/%m/%Y}",
            },
        )
        assert calendar.status_code in (200, 403), (username, calendar.status_code)
        if appointment.status != "cancelled" and not appointment.is_walk_in:
            on_calendar = appointment.patient.full_name in calendar.content.decode()
            assert on_calendar == (expected and calendar.status_code == 200), (username, key)
        if not expected:
            assert (
                calendar.status_code == 403 or appointment.patient.full_name not in calendar.content.decode()
            )
    _check_report(desk, username, "appointments")


@pytest.mark.parametrize("username", PERSONAS)
def test_appointment_department_report(username: str, appointments: dict[str, Any], persona: Any) -> None:
    """The appointment report per department and its export: the appointment report's scope, every persona."""
    _check_report(_desk(persona, username), username, "appointment_departments")


@pytest.mark.parametrize("username", PERSONAS)
def test_home_care_episodes_and_alerts(username: str, home_care: dict[str, Any], persona: Any) -> None:
    """Desk episode list and detail, the station board, desk alert list and detail, the alert API and its
    acknowledge (404 for an alert one may not see), the patients' endpoints (not for staff), the home-care
    report and its export."""
    desk = _desk(persona, username)
    episodes = {key: home_care[key] for key in ("ep_a", "ep_b")}
    alerts = {key: home_care[key] for key in ("alert_a", "alert_b")}
    shown = _desk_shows(desk, "monitoring_episode", episodes, _change_url("monitoring_episode"))
    alert_list = desk.get(reverse("admin:monitoring_alert_changelist"))
    alert_html = alert_list.content.decode() if alert_list.status_code == 200 else ""
    api = _api(persona, username)
    listed = _ids(api.get("/api/v1/alerts?limit=200"))
    # The patients' endpoints: staff read episodes and declarations in the desk.
    assert api.get("/api/v1/episodes").status_code == 403
    assert api.get("/api/v1/declarations").status_code == 403
    for key, episode in episodes.items():
        expected = key in SEES[username]
        assert shown[key] == (expected, expected), (username, key, shown[key])
        # The station's board (today's patients and open alerts) opens only for a station in scope.
        board = desk.get(reverse("admin:monitoring_board"), {"facility": episode.facility_id})
        on_board = board.status_code == 200 and episode.patient.full_name in board.content.decode()
        assert on_board == expected, (username, key, board.status_code)
        assert board.status_code in (200, 403, 404)
    for key, alert in alerts.items():
        expected = key in SEES[username]
        episode_url = reverse("admin:monitoring_episode_change", args=[alert.episode_id])
        assert (episode_url in alert_html) == expected, (username, key)
        # An alert's desk page is its episode's page.
        detail = desk.get(reverse("admin:monitoring_alert_change", args=[alert.pk]))
        assert (detail.status_code == 302 and detail["Location"] == episode_url) == expected, (username, key)
        assert (str(alert.declaration.public_id) in listed) == expected, (username, key)
        if not expected:
            acknowledged = api.post(
                f"/api/v1/alerts/{alert.declaration.public_id}/acknowledge",
                {"outcome": "stable"},
                format="json",
            )
            assert acknowledged.status_code == 404, (username, key, acknowledged.status_code)
            on_desk = desk.post(
                reverse("admin:monitoring_alert_acknowledge", args=[alert.pk]), {"outcome": "stable"}
            )
            assert on_desk.status_code in (403, 404), (username, key, on_desk.status_code)
    assert not Alert.objects.filter(pk__in=[a.pk for a in alerts.values()], acknowledged_at__isnull=False)
    for key in ("decl_a", "decl_b"):
        declaration = home_care[key]
        expected = key in SEES[username]
        # Staff read declarations on the episode's desk page (audited); the portal's page is the patient's.
        page = desk.get(reverse("admin:monitoring_episode_change", args=[declaration.episode_id]))
        shown = page.status_code == 200 and access_records.declaration_note(key[-1]) in page.content.decode()
        assert shown == expected, (username, key)
        result = desk.get(f"/khai-bao/ket-qua/{declaration.public_id}")
        assert result.status_code == 302 and result["Location"] == reverse("admin:index"), (username, key)
    _check_report(desk, username, "home_care")


def test_a_role_held_elsewhere_does_not_widen_home_care(home_care: dict[str, Any], persona: Any) -> None:
    """Station staff at Thành Đông who also work the booking desk at the TTYT: the booking-desk role opens
    the TTYT's appointments, not the episodes of every station under it."""
    from health_f0.facilities import access
    from health_f0.facilities.models import Membership

    user = persona("thanhdong.nv")
    Membership.objects.create(user=user, facility=Facility.objects.get(code="TTYT-HD"), role="booking_desk")
    user = persona("thanhdong.nv")  # a fresh object: access caches memberships per user object
    seen = set(access.episodes_for(user))
    assert home_care["ep_a"] in seen and home_care["ep_b"] not in seen
    desk = _desk(persona, "thanhdong.nv")
    shown = _desk_shows(
        desk, "monitoring_episode", {"ep_b": home_care["ep_b"]}, _change_url("monitoring_episode")
    )
    assert shown["ep_b"] == (False, False)
    board = desk.get(reverse("admin:monitoring_board"), {"facility": home_care["ep_b"].facility_id})
    assert home_care["ep_b"].patient.full_name not in board.content.decode()


@pytest.mark.parametrize("username", PERSONAS)
def test_his_link_requests_visits_and_lab_results(username: str, his: dict[str, Any], persona: Any) -> None:
    """Desk lists and details of link requests, links, visits and lab results; the patients' endpoints and
    pages (not for staff); the HIS linking report and its export."""
    desk = _desk(persona, username)
    requests = {key: record for key, record in his.items() if key.startswith("link_")}
    # The link a request made follows the request's row (the linkers' desk list of active links).
    links = {key: HisLink.objects.get(request=request) for key, request in requests.items()}
    for model, records in (
        ("his_hislinkrequest", requests),
        ("his_hislink", links),
        ("his_hisvisit", {key: record for key, record in his.items() if key.startswith("visit_")}),
        ("his_hislabresult", {key: record for key, record in his.items() if key.startswith("lab_")}),
    ):
        shown = _desk_shows(desk, model, records, _change_url(model))
        for key in records:
            expected = key in SEES[username]
            assert shown[key] == (expected, expected), (username, key, shown[key])
    # The printable link form (an export with the patient's identity): reception and linkers of the facility.
    for key, request in requests.items():
        response = desk.get(reverse("admin:his_link_form_pdf", args=[request.pk]))
        expected = key in LINK_FORM.get(username, set())
        assert (response.status_code == 200) == expected, (username, key, response.status_code)
        assert response.status_code in (200, 302, 403, 404)
    # The patients' endpoints and pages are not for staff (the desk is).
    api = _api(persona, username)
    for url in ("/api/v1/his-links", "/api/v1/visits", "/api/v1/lab-results"):
        assert api.get(url).status_code == 403, url
    for url in ("/lien-ket-ho-so", "/ho-so-kham", "/ket-qua-xet-nghiem"):
        response = desk.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/desk/"), url
    _check_report(desk, username, "his")


@pytest.mark.parametrize("owner", sorted(PATIENT_SEES))
def test_patient_sees_only_own_appointments_home_care_and_his_data(
    owner: str,
    patients: dict[str, Any],
    appointments: dict[str, Any],
    home_care: dict[str, Any],
    his: dict[str, Any],
    persona: Any,
) -> None:
    sees = PATIENT_SEES[owner]
    me = patients[owner]
    other = patients["pat_b" if owner == "pat_a" else "pat_a"]
    every = {**appointments, **home_care, **his}
    api = _api(persona, me.account.username)
    listed = {
        "appt_": _ids(api.get("/api/v1/appointments?limit=200")),
        "ep_": _ids(api.get("/api/v1/episodes?limit=200")),
        "link_": _ids(api.get("/api/v1/his-links")),
        "visit_": _ids(api.get("/api/v1/visits?limit=200")),
        "lab_": _ids(api.get("/api/v1/lab-results?limit=200")),
        # One's declarations (the alert's declaration is among them).
        "alert_": _ids(api.get("/api/v1/declarations?limit=200")),
    }
    listed["decl_"] = listed["alert_"]
    portal = Client()
    portal.force_login(me.account)
    pages = {
        "appt_": portal.get("/lich-hen"),
        "visit_": portal.get("/ho-so-kham"),
        "lab_": portal.get("/ket-qua-xet-nghiem"),
    }
    assert all(response.status_code == 200 for response in pages.values())
    on_page = {
        "appt_": lambda r: f"/lich-hen/{r.public_id}",
        "visit_": lambda r: r.diagnosis_text,
        "lab_": lambda r: r.name,
    }
    for key, record in every.items():
        prefix = key.split("_")[0] + "_"
        expected = key in sees
        public_id = record.declaration.public_id if prefix == "alert_" else record.public_id
        assert (str(public_id) in listed[prefix]) == expected, (owner, key)
        if prefix in pages:
            assert (on_page[prefix](record) in pages[prefix].content.decode()) == expected, (owner, key)
    for key in ("appt_a", "appt_b"):
        appointment = appointments[key]
        expected = key in sees
        assert (api.get(f"/api/v1/appointments/{appointment.public_id}").status_code == 200) == expected
        detail = portal.get(f"/lich-hen/{appointment.public_id}")
        assert detail.status_code == (200 if expected else 404), (owner, key, detail.status_code)
        ics = api.get(f"/api/v1/appointments/{appointment.public_id}/calendar.ics")
        assert ics.status_code == (200 if expected else 404), (owner, key, ics.status_code)
        portal_ics = portal.get(f"/lich-hen/{appointment.public_id}/lich.ics")
        assert portal_ics.status_code == (200 if expected else 404), (owner, key, portal_ics.status_code)
    assert portal.get(reverse("admin:appointments_calendar")).status_code == 302
    # Asking for the other patient's records by id is "not found", never their data.
    asked = api.get(f"/api/v1/visits?patient={other.public_id}")
    assert asked.status_code == 400 and asked.json()["errors"]["patient"][0]["code"] == "patient_not_found"
    for url in ("/ho-so-kham", "/ket-qua-xet-nghiem", "/lien-ket-ho-so", "/lich-su"):
        assert portal.get(url, {"nguoi-benh": str(other.public_id)}).status_code == 404, url
    other_request = his["link_b" if owner == "pat_a" else "link_a"]
    other_link = HisLink.objects.get(request=other_request)
    assert portal.get(f"/lien-ket-ho-so/{other_request.public_id}/phieu-lien-ket.pdf").status_code == 404
    assert portal.get(f"/lien-ket-ho-so/{other_link.public_id}/huy").status_code == 404
    # Staff surfaces: the alert queue, the desk and the reports refuse a patient.
    assert api.get("/api/v1/alerts").status_code == 403
    alert = home_care["alert_a"]
    assert api.post(
        f"/api/v1/alerts/{alert.declaration.public_id}/acknowledge", {"outcome": "stable"}, format="json"
    ).status_code in (403, 404)
    for model in ("appointments_appointment", "monitoring_episode", "monitoring_alert", "his_hisvisit"):
        response = portal.get(reverse(f"admin:{model}_changelist"))
        assert response.status_code == 302 and "/desk/login/" in response["Location"], model
    for page, export in REPORTS.values():
        assert portal.get(page).status_code == 403 and portal.get(export).status_code == 403


def test_anonymous_sees_no_appointment_home_care_his_or_report(
    appointments: dict[str, Any], home_care: dict[str, Any], client: Client
) -> None:
    for model in (
        "appointments_appointment",
        "monitoring_episode",
        "monitoring_alert",
        "his_hislinkrequest",
        "his_hisvisit",
        "his_hislabresult",
    ):
        response = client.get(reverse(f"admin:{model}_changelist"))
        assert response.status_code == 302 and "/desk/login/" in response["Location"], model
    for url in ("/lich-hen", "/lien-ket-ho-so", "/ho-so-kham", "/ket-qua-xet-nghiem"):
        response = client.get(url)
        assert response.status_code == 302 and "dang-nhap" in response["Location"], url
    # A booking's page (the SMS link) asks for an OTP sent to the booking's phone and shows nothing else.
    appointment = appointments["appt_a"]
    gate = client.get(f"/lich-hen/{appointment.public_id}")
    assert gate.status_code == 200 and appointment.patient.full_name not in gate.content.decode()
    # Its calendar file too: to the OTP gate, never the event.
    ics = client.get(f"/lich-hen/{appointment.public_id}/lich.ics")
    assert ics.status_code == 302 and ics["Location"] == f"/lich-hen/{appointment.public_id}"
    calendar = client.get(reverse("admin:appointments_calendar"))
    assert calendar.status_code == 302 and "/desk/login/" in calendar["Location"]
    for page, export in REPORTS.values():
        for url in (page, export):
            response = client.get(url)
            assert response.status_code == 302 and "/desk/login/" in response["Location"], url
    api = APIClient()
    alert = home_care["alert_a"]
    for url in (
        "/api/v1/appointments",
        f"/api/v1/appointments/{appointment.public_id}",
        f"/api/v1/appointments/{appointment.public_id}/calendar.ics",
        "/api/v1/staff/appointments",
        "/api/v1/alerts",
        "/api/v1/episodes",
        "/api/v1/his-links",
        "/api/v1/visits",
        "/api/v1/lab-results",
    ):
        assert api.get(url).status_code == 401, url
    acknowledge = f"/api/v1/alerts/{alert.declaration.public_id}/acknowledge"
    assert api.post(acknowledge, {"outcome": "stable"}, format="json").status_code == 401


# --- Patients seen through one's work, certificates, the outbox --------------------------------------

# Booking desk, reception and HIS linker see a patient through their own work at the facilities they serve:
# the desk and reception through the patient's bookings and queue tickets, the linker through HIS link
# requests; never through the home-care station that manages the patient (Patient.facility). The others see
# patients as in SEES. Rows: with only the bookings (appt_a at Phòng khám Nội 1 under the TTYT, appt_b at
# Bệnh viện Kiến An) / with only the link requests (link_a at the TTYT, link_b at Kiến An).
HOSPITAL_ROLES = ("datlich", "tiepdon", "lienket.his")
THROUGH_BOOKINGS = {"datlich": {"pat_a"}, "tiepdon": {"pat_a"}, "lienket.his": set()}
THROUGH_LINKS = {"datlich": set(), "tiepdon": set(), "lienket.his": {"pat_a"}}


def _patients_expected(username: str, hospital_row: dict[str, set[str]]) -> set[str]:
    if username in hospital_row:
        return hospital_row[username]
    return {key for key in ("pat_a", "pat_b") if key in SEES[username]}


def _patients_shown(client: Client, username: str, patients: dict[str, Any]) -> set[str]:
    """The patients the persona finds on every staff path: the desk's list, a search by phone, the record's
    page, access.patients_for and the booking forms' patient picker. All must agree."""
    from health_f0.appointments import selectors as appointment_selectors
    from health_f0.core.phone import display_phone
    from health_f0.facilities import access
    from health_f0.facilities.access import BOOKING_DESK_ROLES as DESK_ROLES

    url = reverse("admin:patients_patient_changelist")
    listed = client.get(url)
    html = listed.content.decode() if listed.status_code == 200 else ""
    user = type(patients["pat_a"].account).objects.get(username=username)
    scope = set(access.patients_for(user))
    shown = set()
    for key, patient in patients.items():
        detail = client.get(reverse("admin:patients_patient_change", args=[patient.pk]))
        opened = detail.status_code == 200 and patient.full_name in detail.content.decode()
        found = client.get(url, {"q": display_phone(patient.phone)})
        searched = found.status_code == 200 and patient.full_name in found.content.decode()
        picked = patient in appointment_selectors.patient_search(
            user=user, roles=DESK_ROLES, term=display_phone(patient.phone)
        )
        paths = (patient.full_name in html, opened, searched, patient in scope, picked)
        assert len(set(paths)) == 1, (username, key, paths)
        if opened:
            shown.add(key)
    return shown


@pytest.mark.parametrize("username", PERSONAS)
def test_patients_through_bookings_and_tickets(
    username: str, appointments: dict[str, Any], patients: dict[str, Any], persona: Any
) -> None:
    shown = _patients_shown(_desk(persona, username), username, patients)
    assert shown == _patients_expected(username, THROUGH_BOOKINGS), (username, shown)


@pytest.mark.parametrize("username", HOSPITAL_ROLES)
def test_a_queue_ticket_shows_the_patient_at_the_counter(
    username: str, appointments: dict[str, Any], patients: dict[str, Any], persona: Any
) -> None:
    """Patient B, booked only at Kiến An, comes to the TTYT's counter without a booking: the walk-in ticket
    shows B to the TTYT's booking desk and reception (not to the linker)."""
    from health_f0.appointments import services as appointment_services
    from health_f0.appointments.models import Service

    appointment_services.walk_in_register(
        patient=patients["pat_b"], service=Service.objects.get(code="kham-noi"), actor=persona("tiepdon")
    )
    shown = _patients_shown(_desk(persona, username), username, patients)
    expected = {"pat_a", "pat_b"} if username in ("datlich", "tiepdon") else set()
    assert shown == expected, (username, shown)


@pytest.mark.parametrize("username", PERSONAS)
def test_patients_through_link_requests(
    username: str, his: dict[str, Any], patients: dict[str, Any], persona: Any
) -> None:
    shown = _patients_shown(_desk(persona, username), username, patients)
    assert shown == _patients_expected(username, THROUGH_LINKS), (username, shown)


@pytest.mark.parametrize("username", HOSPITAL_ROLES)
def test_a_home_care_patient_is_not_found_by_the_hospital_roles(
    username: str, home_care: dict[str, Any], patients: dict[str, Any], persona: Any
) -> None:
    """With home care going on (episodes, declarations, alerts at the stations under the TTYT) and no booking or
    link request, the hospital-side roles find neither patient anywhere."""
    assert _patients_shown(_desk(persona, username), username, patients) == set()


@pytest.fixture
def certificates(home_care: dict[str, Any], persona: Any) -> dict[str, Any]:
    staff = {"a": persona("thanhdong.nv"), "b": persona("lethanhnghi.nv")}
    return access_records.certificate_records(home_care, staff)


@pytest.mark.parametrize("username", PERSONAS)
def test_certificates(username: str, certificates: dict[str, Any], persona: Any) -> None:
    """Staff get a certificate through the desk (a role at the episode's facility), and every staff download is
    audited; the portal's download is the patient's and the family's only: staff get "not found" there."""
    from health_f0.core.models import AuditLog

    desk = _desk(persona, username)
    user = persona(username)
    for key, episode in certificates.items():
        expected = key in SEES[username]
        audited = AuditLog.objects.filter(verb="certificate_pdf", target_id=str(episode.pk), actor=user)
        before = audited.count()
        response = desk.get(reverse("admin:monitoring_episode_certificate_action", args=[episode.pk]))
        got = response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert got == expected, (username, key, response.status_code)
        assert audited.count() - before == (1 if expected else 0), (username, key)
        portal = desk.get(f"/ca-nhan/giay-xac-nhan/{episode.public_id}.pdf")
        assert portal.status_code == 404, (username, key, portal.status_code)
        assert _api(persona, username).get(
            f"/api/v1/episodes/{episode.public_id}/certificate"
        ).status_code in (
            403,
            404,
        )


def test_a_patient_downloads_only_their_own_certificate(certificates: dict[str, Any], persona: Any) -> None:
    from health_f0.core.models import AuditLog

    own, other = certificates["cert_a"], certificates["cert_b"]
    portal = Client()
    portal.force_login(own.patient.account)
    response = portal.get(f"/ca-nhan/giay-xac-nhan/{own.public_id}.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert portal.get(f"/ca-nhan/giay-xac-nhan/{other.public_id}.pdf").status_code == 404
    # A patient's own download is not a staff read of someone's record.
    assert not AuditLog.objects.filter(verb="certificate_pdf", actor=own.patient.account).exists()


# The outbox: each role sees the messages of its own work at the facilities it serves — home care (accounts,
# reminders, registration notices, staff alerts) for the stations' people; appointments (confirmations,
# reminders) for the booking desk and reception; HIS linking for the linkers; managers and administrators all
# of their tree (and the rest: "generic").
HOME_A = {"sms_home_a", "sms_staff_a"}
OUTBOX_SEES = {
    "admin": set(access_records.OUTBOX),
    "syt.lanhdao": set(access_records.OUTBOX),
    "ttyt.lanhdao": {*HOME_A, "sms_home_b", "sms_appt_a", "sms_his_a", "sms_other_a"},
    "thanhdong.nv": HOME_A,
    "thanhdong.truong": HOME_A,
    "lethanhnghi.nv": {"sms_home_b"},
    "tanhung.nv": set(),
    "bacsi.dieutri": set(),
    "datlich": {"sms_appt_a"},
    "tiepdon": {"sms_appt_a"},
    "lienket.his": {"sms_his_a"},
    "ketoan": set(),
}


@pytest.mark.parametrize("username", PERSONAS)
def test_outbox(username: str, demo: Any, persona: Any) -> None:
    messages = access_records.outbox_records()
    desk = _desk(persona, username)
    listed = desk.get(reverse("admin:notifications_outboxmessage_changelist"))
    html = listed.content.decode() if listed.status_code == 200 else ""
    for key, message in messages.items():
        expected = key in OUTBOX_SEES[username]
        url = reverse("admin:notifications_outboxmessage_change", args=[message.pk])
        detail = desk.get(url)
        opened = detail.status_code == 200 and message.body in detail.content.decode()
        assert (url in html, opened) == (expected, expected), (username, key, detail.status_code)


# --- Personal-data rights: requests, consents, exports, policies, retention runs -----------------------------
# Records built by access_records.privacy_records / export_records (A / B):
#   req_      a withdrawal request patient A sent (queued at Thành Đông) / patient B (at Lê Thanh Nghị)
#   cons_     a consent patient A gave on the portal (at Thành Đông) / patient B (at Lê Thanh Nghị)
#   cons_ka   a consent given by phone at Bệnh viện Kiến An (outside the TTYT), with no patient record
#   export_   the readable PDF copy patient A's account asked for / patient B's
#   policy    a policy version published by the Sở Y tế (public: the portal shows every version's text)
#   run       a retention run (province-wide, no facility)
# Requests and consents are for PRIVACY_HANDLER_ROLES (station head, managers, administrators) at the facility
# or above; a consent is also seen through the patient it is about (consents_for). Exports are their
# requester's alone: no staff surface shows one. Policies: managers and administrators (view_roles); retention
# runs: managers and administrators of the Sở Y tế (RetentionRunAdmin.has_view_permission).
PRIVACY_ALL = {"req_a", "req_b", "cons_a", "cons_b", "cons_ka", "policy", "run"}
PRIVACY_SEES: dict[str, set[str]] = {
    "admin": PRIVACY_ALL,
    "syt.lanhdao": PRIVACY_ALL,
    "ttyt.lanhdao": {"req_a", "req_b", "cons_a", "cons_b", "policy"},
    "thanhdong.nv": set(),
    "thanhdong.truong": {"req_a", "cons_a"},
    "lethanhnghi.nv": set(),
    "tanhung.nv": set(),
    "bacsi.dieutri": set(),
    "datlich": set(),
    "tiepdon": set(),
    "lienket.his": set(),
    "ketoan": set(),
}
# The patients: their own request, consent and export (consent history and requests on the API and on
# "Dữ liệu cá nhân của tôi"); never the other's, never cons_ka (a number neither proved).
PATIENT_PRIVACY_SEES = {
    "pat_a": {"req_a", "cons_a", "export_a"},
    "pat_b": {"req_b", "cons_b", "export_b"},
}
PRIVACY_MODELS = {
    "req_": "privacy_datasubjectrequest",
    "cons_": "privacy_consentrecord",
    "policy": "privacy_privacypolicy",
    "run": "privacy_retentionrun",
}
# The patients' rights endpoints (RightsApi: patient accounts only).
RIGHTS_API = (
    "/api/v1/privacy/consent",
    "/api/v1/privacy/export",
    "/api/v1/privacy/requests",
)


@pytest.fixture
def privacy(patients: dict[str, Any], persona: Any) -> dict[str, Any]:
    return access_records.privacy_records(patients, persona("syt.lanhdao"))


@pytest.fixture
def data_exports(patients: dict[str, Any], django_capture_on_commit_callbacks: Any) -> dict[str, Any]:
    from health_f0.privacy.models import ExportStatus

    with django_capture_on_commit_callbacks(execute=True):
        made = access_records.export_records(patients)
    for export in made.values():
        export.refresh_from_db()
        assert export.status == ExportStatus.READY, export.status
    return made


def _privacy_marker(key: str, record: Any) -> str:
    """The text a record's desk page shows: the patient's name, the phone of a consent without a patient, the
    policy's version, the retention run's kind."""
    from health_f0.core.phone import display_phone

    if key == "policy":
        return str(record.version)
    if key == "run":
        return str(record.get_kind_display()) if hasattr(record, "get_kind_display") else str(record.kind)
    if getattr(record, "patient_id", None):
        return str(record.patient.full_name)
    return str(display_phone(record.phone))


def _privacy_model(key: str) -> str:
    return next(model for prefix, model in PRIVACY_MODELS.items() if key.startswith(prefix))


@pytest.mark.parametrize("username", PERSONAS)
def test_privacy_desk_lists_and_details(username: str, privacy: dict[str, Any], persona: Any) -> None:
    """The desk's lists and detail pages of data-subject requests, consents, policies and retention runs."""
    from health_f0.facilities import access

    desk = _desk(persona, username)
    user = persona(username)
    lists: dict[str, str] = {}
    for model in PRIVACY_MODELS.values():
        response = desk.get(reverse(f"admin:{model}_changelist"))
        assert response.status_code in (200, 302, 403), (username, model, response.status_code)
        lists[model] = response.content.decode() if response.status_code == 200 else ""
    for key, record in privacy.items():
        model = _privacy_model(key)
        expected = key in PRIVACY_SEES[username]
        url = reverse(f"admin:{model}_change", args=[record.pk])
        detail = desk.get(url)
        opened = detail.status_code == 200 and _privacy_marker(key, record) in detail.content.decode()
        assert (url in lists[model], opened) == (expected, expected), (username, key, detail.status_code)
    # The access functions agree with the desk.
    requests = set(access.privacy_requests_for(user))
    consents = set(access.consents_for(user))
    for key, record in privacy.items():
        if key.startswith("req_"):
            assert (record in requests) == (key in PRIVACY_SEES[username]), (username, key)
        if key.startswith("cons_"):
            assert (record in consents) == (key in PRIVACY_SEES[username]), (username, key)
    # Publishing a policy is the Sở Y tế's (province-wide).
    publish = desk.get(reverse("admin:privacy_privacypolicy_add"))
    assert (publish.status_code == 200) == (username in ("admin", "syt.lanhdao")), (
        username,
        publish.status_code,
    )
    # Deciding a request one may not see is "not found", never a decision.
    for key in ("req_a", "req_b"):
        if key in PRIVACY_SEES[username]:
            continue
        record = privacy[key]
        for action in ("reject_action", "approve_action"):
            response = desk.post(
                reverse(f"admin:privacy_datasubjectrequest_{action}", args=[record.pk]),
                {"note": "Không đủ căn cứ ma trận", "_form_submitted": "on"},
            )
            assert response.status_code in (302, 403, 404), (username, key, action, response.status_code)
        record.refresh_from_db()
        assert record.status == "submitted", (username, key, record.status)


def test_the_station_head_decides_its_own_stations_request_in_the_desk(
    privacy: dict[str, Any], persona: Any
) -> None:
    """The control for the refusals above: the same POST by the handler of the station decides."""
    desk = _desk(persona, "thanhdong.truong")
    record = privacy["req_a"]
    response = desk.post(
        reverse("admin:privacy_datasubjectrequest_reject_action", args=[record.pk]),
        {"note": "Đang có khiếu nại cần giữ hồ sơ", "_form_submitted": "on"},
    )
    record.refresh_from_db()
    assert response.status_code == 302 and record.status == "rejected", (response.status_code, record.status)


@pytest.mark.parametrize("username", PERSONAS)
def test_privacy_rights_are_the_patients_not_staff(
    username: str, privacy: dict[str, Any], data_exports: dict[str, Any], persona: Any
) -> None:
    """The rights endpoints and portal pages are the data subject's: staff get 403 on the API (whatever the
    record), the desk instead of "Dữ liệu cá nhân của tôi", and "not found" for an export's file or a request's
    cancellation. Nobody on the staff side reads an export. The policy in force is public."""
    from health_f0.facilities import access

    api = _api(persona, username)
    for url in RIGHTS_API:
        assert api.get(url).status_code == 403, (username, url)
    assert api.post("/api/v1/privacy/exports").status_code == 403
    for key, export in data_exports.items():
        for url in (
            f"/api/v1/privacy/exports/{export.public_id}",
            f"/api/v1/privacy/exports/{export.public_id}/file",
        ):
            assert api.get(url).status_code == 403, (username, key, url)
    for key in ("req_a", "req_b"):
        cancel = api.post(f"/api/v1/privacy/requests/{privacy[key].public_id}/cancel")
        assert cancel.status_code == 403, (username, key)
    assert api.get("/api/v1/privacy/policy").status_code == 200
    desk = _desk(persona, username)
    page = desk.get("/du-lieu-cua-toi")
    assert page.status_code == 302 and page["Location"] == reverse("admin:index"), username
    assert desk.get("/du-lieu-cua-toi/du-lieu.json").status_code == 404
    for key, export in data_exports.items():
        assert desk.get(f"/du-lieu-cua-toi/ban-pdf/{export.public_id}.pdf").status_code == 404, (
            username,
            key,
        )
    for key in ("req_a", "req_b"):
        record = privacy[key]
        assert desk.post(f"/du-lieu-cua-toi/yeu-cau/{record.public_id}/huy").status_code == 404, (
            username,
            key,
        )
        record.refresh_from_db()
        assert record.status == "submitted", (username, key)
    assert not set(access.data_exports_for(persona(username))) & set(data_exports.values())


@pytest.mark.parametrize("owner", sorted(PATIENT_PRIVACY_SEES))
def test_patient_sees_only_own_privacy_records(
    owner: str, privacy: dict[str, Any], data_exports: dict[str, Any], persona: Any
) -> None:
    sees = PATIENT_PRIVACY_SEES[owner]
    me = privacy[f"req_{owner[-1]}"].patient
    other_key = "b" if owner == "pat_a" else "a"
    other = privacy[f"req_{other_key}"].patient
    api = _api(persona, me.account.username)
    requests = api.get("/api/v1/privacy/requests")
    assert requests.status_code == 200
    listed = {row["id"] for row in requests.json()}
    consent = api.get("/api/v1/privacy/consent")
    assert consent.status_code == 200
    history = consent.json()["history"]
    assert {row["patient"] for row in history} <= {str(me.public_id), None}, owner
    assert "phone_booking" not in {row["channel"] for row in history}, owner
    for key in ("req_a", "req_b"):
        assert (str(privacy[key].public_id) in listed) == (key in sees), (owner, key)
    for key in ("cons_a", "cons_b"):
        patient = privacy[key].patient
        assert (str(patient.public_id) in {row["patient"] for row in history}) == (key in sees), (owner, key)
    for key, export in data_exports.items():
        expected = key in sees
        status = api.get(f"/api/v1/privacy/exports/{export.public_id}")
        assert status.status_code == (200 if expected else 404), (owner, key, status.status_code)
        file = api.get(f"/api/v1/privacy/exports/{export.public_id}/file")
        assert file.status_code == (200 if expected else 404), (owner, key, file.status_code)
    # The JSON copy holds the account's own patient, not the other.
    copy = api.get("/api/v1/privacy/export")
    text = b"".join(copy.streaming_content).decode()  # type: ignore[attr-defined]
    assert copy.status_code == 200 and me.full_name in text and other.full_name not in text
    assert access_records.privacy_reason(other_key) not in text
    # Another's request cannot be cancelled: "not found".
    other_request = privacy[f"req_{other_key}"]
    assert api.post(f"/api/v1/privacy/requests/{other_request.public_id}/cancel").status_code == 404
    portal = Client()
    portal.force_login(me.account)
    page = portal.get("/du-lieu-cua-toi")
    html = page.content.decode()
    assert page.status_code == 200 and me.full_name in html and other.full_name not in html, owner
    for key in ("req_a", "req_b"):
        cancel_url = f"/du-lieu-cua-toi/yeu-cau/{privacy[key].public_id}/huy"
        assert (cancel_url in html) == (key in sees), (owner, key)
    for key, export in data_exports.items():
        download = portal.get(f"/du-lieu-cua-toi/ban-pdf/{export.public_id}.pdf")
        assert download.status_code == (200 if key in sees else 404), (owner, key, download.status_code)
    assert portal.post(f"/du-lieu-cua-toi/yeu-cau/{other_request.public_id}/huy").status_code == 404
    other_request.refresh_from_db()
    assert other_request.status == "submitted"
    # The desk's privacy pages refuse a patient.
    for model in PRIVACY_MODELS.values():
        response = portal.get(reverse(f"admin:{model}_changelist"))
        assert response.status_code == 302 and "/desk/login/" in response["Location"], model


def test_anonymous_sees_no_privacy_record(
    privacy: dict[str, Any], data_exports: dict[str, Any], client: Client
) -> None:
    for key, record in privacy.items():
        model = _privacy_model(key)
        for url in (reverse(f"admin:{model}_changelist"), reverse(f"admin:{model}_change", args=[record.pk])):
            response = client.get(url)
            assert response.status_code == 302 and "/desk/login/" in response["Location"], (key, url)
    for url in ("/du-lieu-cua-toi", "/du-lieu-cua-toi/du-lieu.json"):
        response = client.get(url)
        assert response.status_code == 302 and "dang-nhap" in response["Location"], url
    api = APIClient()
    for key, export in data_exports.items():
        assert client.get(f"/du-lieu-cua-toi/ban-pdf/{export.public_id}.pdf").status_code == 302, key
        for url in (
            f"/api/v1/privacy/exports/{export.public_id}",
            f"/api/v1/privacy/exports/{export.public_id}/file",
        ):
            assert api.get(url).status_code == 401, (key, url)
    for url in RIGHTS_API:
        assert api.get(url).status_code == 401, url
    for key in ("req_a", "req_b"):
        assert api.post(f"/api/v1/privacy/requests/{privacy[key].public_id}/cancel").status_code == 401
        assert client.post(f"/du-lieu-cua-toi/yeu-cau/{privacy[key].public_id}/huy").status_code == 302
        privacy[key].refresh_from_db()
        assert privacy[key].status == "submitted"
    # The policy in force is public.
    assert api.get("/api/v1/privacy/policy").status_code == 200


# --- Transfer targets (GET /api/v1/stations), the family page, public walk-in pages ---------------------------

# access.transfer_stations_for: the active stations and treatment facilities of the provinces where the persona
# works (or oversees) the registration queue (STATION_ROLES); hospital-side roles have no queue: none.
PROVINCE_31_TARGETS = {"TYT-10510", "TYT-10532", "TYT-10537", "CSTD-HD"}
TRANSFER_TARGETS = {
    "admin": PROVINCE_31_TARGETS,
    "syt.lanhdao": PROVINCE_31_TARGETS,
    "ttyt.lanhdao": PROVINCE_31_TARGETS,
    "thanhdong.nv": PROVINCE_31_TARGETS,
    "thanhdong.truong": PROVINCE_31_TARGETS,
    "lethanhnghi.nv": PROVINCE_31_TARGETS,
    "tanhung.nv": PROVINCE_31_TARGETS,
    "bacsi.dieutri": PROVINCE_31_TARGETS,
    "datlich": set(),
    "tiepdon": set(),
    "lienket.his": set(),
    "ketoan": set(),
}


@pytest.mark.parametrize("username", PERSONAS)
def test_transfer_stations(username: str, demo: Any, persona: Any) -> None:
    from health_f0.facilities import access

    access_records.hospital_b()  # a hospital is never a transfer target
    response = _api(persona, username).get("/api/v1/stations")
    assert response.status_code == 200, (username, response.status_code)
    codes = {row["code"] for row in response.json()}
    assert codes == TRANSFER_TARGETS[username], (username, codes)
    assert {f.code for f in access.transfer_stations_for(persona(username))} == codes


def test_transfer_stations_refuse_patients_and_anonymous(patients: dict[str, Any], persona: Any) -> None:
    for key, patient in patients.items():
        assert _api(persona, patient.account.username).get("/api/v1/stations").status_code == 403, key
    assert APIClient().get("/api/v1/stations").status_code == 401


@pytest.mark.parametrize("username", PERSONAS)
def test_family_page_is_not_for_staff(username: str, patients: dict[str, Any], persona: Any) -> None:
    response = _desk(persona, username).get("/ca-nhan/nguoi-thay-mat")
    assert response.status_code == 302 and response["Location"] == reverse("admin:index"), username


@pytest.mark.parametrize("owner", ("pat_a", "pat_b"))
def test_family_page_shows_only_ones_own_family(owner: str, patients: dict[str, Any]) -> None:
    from health_f0.patients import bonds

    me = patients[owner]
    other = patients["pat_b" if owner == "pat_a" else "pat_a"]
    portal = Client()
    portal.force_login(me.account)
    response = portal.get("/ca-nhan/nguoi-thay-mat")
    html = response.content.decode()
    assert response.status_code == 200 and me.full_name in html and other.full_name not in html, owner
    view = bonds.family_view(user=me.account)
    assert view is not None and view.patient == me
    assert other not in {getattr(member, "patient", member) for member in view.members}


def test_family_page_asks_anonymous_to_log_in(demo: Any, client: Client) -> None:
    response = client.get("/ca-nhan/nguoi-thay-mat")
    assert response.status_code == 302 and "dang-nhap" in response["Location"]


@pytest.mark.parametrize("username", [*PERSONAS, "pat_a", "anonymous"])
def test_walk_in_ticket_and_short_links_are_public_and_hold_no_personal_data(
    username: str, appointments: dict[str, Any], patients: dict[str, Any], persona: Any
) -> None:
    """Public by design: the ticket page and the short links carry no personal data, so every caller (staff,
    a patient who is not the walk-in, anonymous) gets the same page; a booking's link leads to its page, which
    keeps the OTP gate (and "not found" for staff: test_appointments)."""
    from health_f0.appointments import services as appointment_services
    from health_f0.appointments.models import Service

    walk_in = patients["pat_b"]
    ticket = appointment_services.walk_in_register(
        patient=walk_in, service=Service.objects.get(code="kham-noi"), actor=persona("tiepdon")
    )
    client = Client()
    if username in patients:
        client.force_login(patients[username].account)
    elif username != "anonymous":
        client.force_login(persona(username))
    link = client.get(f"/h/{ticket.link_code}")
    assert link.status_code == 302 and link["Location"] == f"/so-thu-tu/{ticket.public_id}", username
    page = client.get(link["Location"])
    html = page.content.decode()
    assert page.status_code == 200, (username, page.status_code)
    assert walk_in.full_name not in html and walk_in.phone[-9:] not in html, username
    assert ticket.check_in_code not in html, username
    booking = appointments["appt_a"]
    link = client.get(f"/h/{booking.link_code}")
    assert link.status_code == 302 and link["Location"] == f"/lich-hen/{booking.public_id}", username
    assert booking.patient.full_name not in link.content.decode()


# --- An account that is not an F0 patient (issue 12, section 1: sign-up) ---------------------------------
# The resident's record is managed by the Sở Y tế (accounts.signup.signup_facility): those who hold a
# patient-record role there (the administrator, the Sở's leadership) see it; no station, TTYT, booking desk,
# reception or linker does until their own work brings the resident to them (a booking, a link request).
RESIDENT_SEEN_BY = {"admin", "syt.lanhdao"}


@pytest.fixture
def resident(records: dict[str, Any]) -> Any:
    return access_records.resident_account()


@pytest.mark.parametrize("username", PERSONAS)
def test_resident_record_on_the_desk(username: str, resident: Any, persona: Any) -> None:
    client = _desk(persona, username)
    detail = client.get(reverse("admin:patients_patient_change", args=[resident.pk]))
    opened = detail.status_code == 200 and resident.full_name in detail.content.decode()
    listing = client.get(reverse("admin:patients_patient_changelist"))
    listed = listing.status_code == 200 and resident.full_name in listing.content.decode()
    search = client.get(reverse("admin:patients_patient_changelist"), {"q": "0986 555 444"})
    found = search.status_code == 200 and resident.full_name in search.content.decode()
    expected = username in RESIDENT_SEEN_BY
    assert (opened, listed, found) == (expected, expected, expected), (username, detail.status_code)


def test_resident_account_sees_only_its_own_record(
    resident: Any,
    patients: dict[str, Any],
    appointments: dict[str, Any],
    home_care: dict[str, Any],
    his: dict[str, Any],
    persona: Any,
) -> None:
    account = resident.account
    every = {**appointments, **home_care, **his}
    api = _api(persona, account.username)
    me = api.get("/api/v1/me").json()
    assert me["kind"] == "patient"
    assert [(p["full_name"], p["relation"]) for p in me["acting_for"]] == [(resident.full_name, "self")]
    seen: set[str] = set()
    for url in ("/api/v1/appointments", "/api/v1/his-links", "/api/v1/visits", "/api/v1/lab-results"):
        response = api.get(url)
        assert response.status_code in (200, 403), url
        seen |= (
            {str(row["id"]) for row in response.json().get("results", [])}
            if response.status_code == 200
            else set()
        )
    assert api.get("/api/v1/registrations").status_code == 403
    for key, record in every.items():
        public_id = record.declaration.public_id if key.startswith("alert_") else record.public_id
        assert str(public_id) not in seen, key
    portal = Client()
    portal.force_login(account)
    page = portal.get("/ca-nhan").content.decode()
    assert resident.full_name in page
    assert all(p.full_name not in page for p in patients.values())
    for key in ("appt_a", "appt_b"):
        assert portal.get(f"/lich-hen/{appointments[key].public_id}").status_code == 404
        assert api.get(f"/api/v1/appointments/{appointments[key].public_id}").status_code == 404
    desk = portal.get(reverse("admin:patients_patient_change", args=[patients["pat_a"].pk]))
    assert desk.status_code == 302 and "/desk/login/" in desk["Location"]
    # Nobody acts for the resident but the resident (a different number from A's and B's).
    from health_f0.facilities import access

    assert all(resident not in access.own_patients_for(p.account) for p in patients.values())


# --- Issue 11/12 endpoints: v2 lists, the account's family and notice channel -----------------------------

V2_PATIENT_LISTS = ["declarations", "episodes", "appointments", "his-links", "visits", "lab-results"]


@pytest.mark.parametrize("username", PERSONAS)
def test_account_endpoints_are_the_patients_not_staff(
    username: str, records: dict[str, Any], persona: Any
) -> None:
    """Every staff role: the patient-side v2 lists answer 403 (v1's rule, the same views), the account's
    family and notice-channel endpoints add or change nothing for a staff account."""
    from health_f0.patients.models import Patient

    api = _api(persona, username)
    for name in V2_PATIENT_LISTS:
        assert api.get(f"/api/v2/{name}").status_code == 403, (username, name)
    before = Patient.objects.count()
    child = {"otp": "123456", "full_name": "Nguyễn Minh An", "date_of_birth": "2021-03-02", "sex": "male"}
    assert api.post("/api/v1/me/family", {**child, "consent": True}, format="json").status_code == 403
    assert Patient.objects.count() == before
    assert api.get("/api/v1/me/notification-channel").status_code in (403, 404), username
    assert api.put("/api/v1/me/notification-channel", {"channel": "sms"}, format="json").status_code in (
        403,
        404,
    )


def test_v2_lists_show_the_patient_only_their_own(records: dict[str, Any], persona: Any) -> None:
    """The demo patient's v2 declarations and episodes are their own, like v1's."""
    api = _api(persona, "bn0000001")
    for name in ("declarations", "episodes"):
        v1 = api.get(f"/api/v1/{name}", {"limit": 200}).json()["results"]
        v2 = api.get(f"/api/v2/{name}", {"limit": 200}).json()["results"]
        assert v1 == v2, name
    other = records["pat_b"]
    assert api.get("/api/v2/declarations", {"patient": str(other.public_id)}).status_code in (400, 404)


# --- Scheduled report e-mails (issue 13 §5): a manager sees their own subscriptions, an administrator (here the
# superuser) all of their scope; no other role opens the pages or sends one. -----------------------------------
#   sub_ttyt  the morning report seed_demo made for ttyt.lanhdao (TTYT-HD)
#   sub_syt   an appointment report of syt.lanhdao for the Sở Y tế
SUBSCRIPTIONS_SEE = {
    **{username: set() for username in PERSONAS},
    "admin": {"sub_ttyt", "sub_syt"},
    "syt.lanhdao": {"sub_syt"},
    "ttyt.lanhdao": {"sub_ttyt"},
}


@pytest.fixture
def report_subscriptions(demo: Any, persona: Any) -> dict[str, Any]:
    from health_f0.reports.subscriptions.models import ReportSubscription
    from health_f0.reports.subscriptions.services import subscription_save

    owner = persona("syt.lanhdao")
    sub_syt = subscription_save(
        subscription=ReportSubscription(
            owner=owner,
            name="Lịch hẹn toàn tỉnh",
            report="appointments",
            facility=Facility.objects.get(code="SYT-31"),
        ),
        actor=owner,
    )
    sub_ttyt = ReportSubscription.objects.get(owner=persona("ttyt.lanhdao"), report="morning")
    return {"sub_ttyt": sub_ttyt, "sub_syt": sub_syt}


@pytest.mark.parametrize("username", PERSONAS)
def test_report_subscriptions(username: str, report_subscriptions: dict[str, Any], persona: Any) -> None:
    from health_f0.reports.subscriptions.models import ReportDelivery

    client = _desk(persona, username)
    expected = SUBSCRIPTIONS_SEE[username]
    listing = client.get(reverse("admin:subscriptions_reportsubscription_changelist"))
    deliveries = client.get(reverse("admin:subscriptions_reportdelivery_changelist"))
    if not expected and username != "admin":
        assert listing.status_code == 403 and deliveries.status_code == 403, username
    html = listing.content.decode() if listing.status_code == 200 else ""
    for key, subscription in report_subscriptions.items():
        shown_in_list = f"/{subscription.pk}/change/" in html
        detail = client.get(reverse("admin:subscriptions_reportsubscription_change", args=[subscription.pk]))
        shown = detail.status_code == 200 and subscription.name in detail.content.decode()
        assert shown_in_list == shown == (key in expected), (username, key, detail.status_code)
        send = client.post(
            reverse("admin:subscriptions_reportsubscription_send_now_action", args=[subscription.pk]),
            {"_form_submitted": "True"},
        )
        sent = ReportDelivery.objects.filter(subscription=subscription).exists()
        assert sent == (key in expected), (username, key, send.status_code)
        if key not in expected:
            assert send.status_code in (403, 404), (username, key, send.status_code)
        delivery = ReportDelivery.objects.filter(subscription=subscription).first()
        if delivery is not None:
            page = client.get(reverse("admin:subscriptions_reportdelivery_change", args=[delivery.pk]))
            assert page.status_code == 200, (username, key)


# --- Reception's queue steps and the waiting-hall display (issue 12 §3) ------------------------------------
# Marking a priority group, recalling and skipping a called number are POST steps for those who work the queue
# (access.QUEUE_ROLES: reception, clinicians, the administrator) at the ticket's facility: at Khám Nội (under
# the TTYT) that is tiepdon and admin. The queue page opens for anyone holding a queue role somewhere (the
# treatment doctor sees no service of the TTYT there). The waiting-hall display and its JSON state are public
# by design and hold queue numbers only, for every caller.
QUEUE_WORKERS = {"admin", "tiepdon"}
QUEUE_PAGE = {"admin", "tiepdon", "bacsi.dieutri"}


@pytest.mark.parametrize("username", [*PERSONAS, "pat_a", "anonymous"])
def test_queue_steps_and_hall_display(
    username: str, appointments: dict[str, Any], patients: dict[str, Any], persona: Any
) -> None:
    from health_f0.appointments import services as appointment_services
    from health_f0.appointments.models import Appointment, Service

    service = Service.objects.get(code="kham-noi")
    reception = persona("tiepdon")
    called = appointment_services.walk_in_register(
        patient=patients["pat_b"], service=service, actor=reception
    )
    waiting = appointment_services.walk_in_register(
        patient=patients["pat_a"], service=service, actor=reception
    )
    appointment_services.queue_call_next(service=service, actor=reception)
    client = Client()
    if username in patients:
        client.force_login(patients[username].account)
    elif username != "anonymous":
        client.force_login(persona(username))
    staff = username in SEES
    page = client.get(reverse("admin:appointments_queue"))
    if staff:
        assert page.status_code == (200 if username in QUEUE_PAGE else 403), (username, page.status_code)
    else:
        assert page.status_code == 302 and "/desk/login/" in page["Location"], username
    works = username in QUEUE_WORKERS
    steps = (
        ("appointments_queue_priority", waiting, {"group": "merit", "note": "Thẻ người có công"}),
        ("appointments_queue_recall", called, {}),
        ("appointments_queue_skip", called, {}),
    )
    for name, ticket, data in steps:
        url = reverse(f"admin:{name}", args=[ticket.pk])
        assert client.get(url).status_code in ((405,) if staff else (302,)), (username, name)
        response = client.post(url, data)
        if works:
            assert response.status_code == 302, (username, name, response.status_code)
        elif staff:
            assert response.status_code in (403, 404), (username, name, response.status_code)
        else:
            assert response.status_code == 302 and "/desk/login/" in response["Location"], (username, name)
    after = {t.pk: t for t in Appointment.objects.filter(pk__in=[called.pk, waiting.pk])}
    assert (after[waiting.pk].priority_group == "merit") == works, username
    assert (after[called.pk].recall_count, after[called.pk].skip_count) == ((1, 1) if works else (0, 0)), (
        username
    )
    for url in ("/hang-doi/KKB-HD/", "/hang-doi/KKB-HD/trang-thai/"):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 200, (username, url)
        for patient in (patients["pat_a"], patients["pat_b"]):
            assert patient.full_name not in body and patient.phone[-9:] not in body, (username, url)


# --- Payments (issue 13): the desk's payments list and detail, the gateways' log, the patient API ---------

# pay_a: a paid booking fee of appt_a (Phòng khám Nội 1, under TTYT-HD); pay_b: of appt_b (BV-KA, outside it).
# PAYMENT_READER_ROLES (booking desk, reception, managers, administrators) see their facilities' payments;
# the gateways' log (PAYMENT_LOG_ROLES) is for managers and administrators. Patients see theirs in the API.
PAYMENT_SEES: dict[str, set[str]] = {
    "admin": {"pay_a", "pay_b"},
    "syt.lanhdao": {"pay_a", "pay_b"},
    "ttyt.lanhdao": {"pay_a"},
    "thanhdong.nv": set(),
    "thanhdong.truong": set(),
    "lethanhnghi.nv": set(),
    "tanhung.nv": set(),
    "bacsi.dieutri": set(),
    "datlich": {"pay_a"},
    "tiepdon": {"pay_a"},
    "ketoan": {"pay_a"},
    "lienket.his": set(),
}
PAYMENT_LOG_SEES: dict[str, set[str]] = {
    name: (seen if name in {"admin", "syt.lanhdao", "ttyt.lanhdao", "ketoan"} else set())
    for name, seen in PAYMENT_SEES.items()
}


@pytest.fixture
def payments(appointments: dict[str, Any]) -> dict[str, Any]:
    return access_records.payment_records(appointments)


@pytest.mark.parametrize("username", PERSONAS)
def test_payments(username: str, payments: dict[str, Any], persona: Any) -> None:
    assert set(PAYMENT_SEES) == set(PERSONAS)
    desk = _desk(persona, username)
    model = "payments_payment"
    shown = _desk_shows(desk, model, payments, lambda p: p.reference)
    log = desk.get(reverse("admin:payments_paymentevent_changelist"))
    log_html = log.content.decode() if log.status_code == 200 else ""
    api = _api(persona, username)
    for key, payment in payments.items():
        expected = key in PAYMENT_SEES[username]
        assert shown[key] == (expected, expected), (username, key, shown[key])
        assert (payment.reference in log_html) == (key in PAYMENT_LOG_SEES[username]), (username, key)
        # The patient API is for patients: staff are refused whatever the payment.
        assert api.get(f"/api/v1/payments/{payment.public_id}").status_code == 403
        assert desk.get(f"/thanh-toan/lich-hen/{payment.appointment.public_id}").status_code == 404
        # The result page's status poll is the paying patient's own: staff get 404 whatever their scope.
        assert desk.get(f"/thanh-toan/trang-thai/{payment.public_id}").status_code == 404


def test_a_patient_reads_only_own_payments(payments: dict[str, Any], persona: Any) -> None:
    for owner, own_key, other_key in (("a", "pay_a", "pay_b"), ("b", "pay_b", "pay_a")):
        account = payments[own_key].patient.account
        api = APIClient()
        raw, _token = api_token_issue(user=access_records.portal_ready(payments[own_key].patient).account)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert api.get(f"/api/v1/payments/{payments[own_key].public_id}").status_code == 200, owner
        assert api.get(f"/api/v1/payments/{payments[other_key].public_id}").status_code == 404, owner
        portal = Client()
        portal.force_login(account)
        assert (
            portal.get(f"/thanh-toan/lich-hen/{payments[other_key].appointment.public_id}").status_code == 404
        )
        assert portal.get(reverse("admin:payments_payment_changelist")).status_code == 302
        assert portal.get(f"/thanh-toan/trang-thai/{payments[own_key].public_id}").status_code == 200, owner
        assert portal.get(f"/thanh-toan/trang-thai/{payments[other_key].public_id}").status_code == 404, owner


def test_anonymous_sees_no_payment(payments: dict[str, Any]) -> None:
    assert APIClient().get(f"/api/v1/payments/{payments['pay_a'].public_id}").status_code == 401
    assert Client().get(f"/thanh-toan/lich-hen/{payments['pay_a'].appointment.public_id}").status_code == 302
    assert Client().get(f"/thanh-toan/trang-thai/{payments['pay_a'].public_id}").status_code == 404


# --- Payments and accounting (issue 13 §4) ------------------------------------------------------------------
# Records built by access_records.accounting_records (A / B): pay_ a paid payment whose gateway refund failed, at
# TTYT-HD / at Bệnh viện Kiến An; rec_ today's VNPay reconciliation of that facility. Readers
# (ACCOUNTING_READER_ROLES): accountants, managers, administrators, for their tree; acting (upload a settlement
# file, resolve, close, mark a refund done by hand): ACCOUNTANT_ROLES only. The portal's receipt: the patient's
# own payments only.
PAYMENTS_SEES: dict[str, set[str]] = {
    "admin": {"a", "b"},
    "syt.lanhdao": {"a", "b"},
    "ttyt.lanhdao": {"a"},
    "ketoan": {"a"},
}
RECONCILERS = {"admin", "ketoan"}


@pytest.fixture
def accounting_payments(patients: dict[str, Any], persona: Any) -> dict[str, Any]:
    return access_records.accounting_records(patients, persona("admin"))


@pytest.mark.parametrize("username", PERSONAS)
def test_payments_reconciliations_receipts_and_report(
    username: str, accounting_payments: dict[str, Any], persona: Any
) -> None:
    """The reconciliation list and day page, the settlement upload, the refund worklist, the desk's receipt,
    the payments report and its export."""
    desk = _desk(persona, username)
    sees = PAYMENTS_SEES.get(username, set())
    listed = desk.get(reverse("admin:accounting_reconciliation_changelist"))
    html = listed.content.decode() if listed.status_code == 200 else ""
    refunds = desk.get(reverse("admin:accounting_refunds"))
    refunds_html = refunds.content.decode() if refunds.status_code == 200 else ""
    for suffix in ("a", "b"):
        rec, payment = accounting_payments[f"rec_{suffix}"], accounting_payments[f"pay_{suffix}"]
        expected = suffix in sees
        url = reverse("admin:accounting_reconciliation_change", args=[rec.pk])
        detail = desk.get(url)
        opened = detail.status_code == 200 and payment.reference in detail.content.decode()
        assert (url in html, opened) == (expected, expected), (username, suffix, detail.status_code)
        assert (payment.reference in refunds_html) == expected, (username, suffix)
        receipt = desk.get(reverse("admin:accounting_receipt", args=[payment.public_id]))
        assert (receipt.status_code == 200) == expected, (username, suffix, receipt.status_code)
        assert receipt.status_code in (200, 403, 404)
    if not sees:
        assert (listed.status_code, refunds.status_code) == (403, 403), username
    upload = desk.get(reverse("admin:accounting_upload"))
    assert upload.status_code == (200 if username in RECONCILERS else 403), (username, upload.status_code)
    _check_report(desk, username, "payments")


def test_a_patient_downloads_only_their_own_receipt(
    accounting_payments: dict[str, Any], patients: dict[str, Any]
) -> None:
    for owner, other in (("a", "b"), ("b", "a")):
        client = Client()
        client.force_login(patients[f"pat_{owner}"].account)
        own = client.get(reverse("www:payment_receipt", args=[accounting_payments[f"pay_{owner}"].public_id]))
        assert own.status_code == 200 and own["Content-Type"] == "application/pdf"
        theirs = client.get(
            reverse("www:payment_receipt", args=[accounting_payments[f"pay_{other}"].public_id])
        )
        assert theirs.status_code == 404
        # The desk's pages are not for patients.
        assert client.get(reverse("admin:accounting_reconciliation_changelist")).status_code == 302
    anonymous = Client().get(reverse("www:payment_receipt", args=[accounting_payments["pay_a"].public_id]))
    assert anonymous.status_code == 302


@pytest.mark.parametrize("username", PERSONAS)
def test_receipt_action_reopen_and_the_api_receipt(
    username: str, accounting_payments: dict[str, Any], persona: Any
) -> None:
    """The desk payment page's "Biên lai (PDF)" (offered and answered only where the desk receipt is), reopening a
    closed day (ACCOUNTANT_ROLES at the day's facility, POST), and the API's receipt (patients' own only)."""
    desk = _desk(persona, username)
    sees = PAYMENTS_SEES.get(username, set())
    for suffix in ("a", "b"):
        payment, rec = accounting_payments[f"pay_{suffix}"], accounting_payments[f"rec_{suffix}"]
        expected = suffix in sees
        page = desk.get(reverse("admin:payments_payment_change", args=[payment.pk]))
        action = reverse("admin:payments_payment_receipt_action", args=[payment.pk])
        offered = page.status_code == 200 and action in page.content.decode()
        assert offered == expected, (username, suffix, page.status_code)
        assert (desk.get(action).status_code == 302) == expected, (username, suffix)
        Reconciliation.objects.filter(pk=rec.pk).update(state=ReconciliationState.CLOSED)
        desk.post(reverse("admin:accounting_reopen", args=[rec.pk]), {"reason": "Kiểm tra quyền mở lại"})
        rec.refresh_from_db()
        may_reopen = expected and username in RECONCILERS
        assert (rec.state == ReconciliationState.OPEN) == may_reopen, (username, suffix)
        # Staff tokens never get a receipt through the patient API.
        api = _api(persona, username).get(f"/api/v1/payments/{payment.public_id}/receipt.pdf")
        assert api.status_code in (403, 404), (username, suffix, api.status_code)


def test_the_api_receipt_is_the_patients_own(
    accounting_payments: dict[str, Any], patients: dict[str, Any]
) -> None:
    for owner, other in (("a", "b"), ("b", "a")):
        raw, _token = api_token_issue(user=access_records.portal_ready(patients[f"pat_{owner}"]).account)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        own = api.get(f"/api/v1/payments/{accounting_payments[f'pay_{owner}'].public_id}/receipt.pdf")
        assert own.status_code == 200 and own["Content-Type"] == "application/pdf"
        theirs = api.get(f"/api/v1/payments/{accounting_payments[f'pay_{other}'].public_id}/receipt.pdf")
        assert theirs.status_code == 404
    assert (
        APIClient().get(f"/api/v1/payments/{accounting_payments['pay_a'].public_id}/receipt.pdf").status_code
        == 401
    )
