"""A GET never changes anything (issue 8, item 5): every desk and portal URL, walked with GET.

A forged cross-site link (an <img> or a link in a message) makes the victim's browser send a GET with the
victim's cookies and no CSRF token. "Xác nhận" (`.../xac-nhan-lich/`) and "Khám xong" (`.../kham-xong/`)
used to change an appointment on such a GET, and a forged link confirmed a booking and texted the patient.

The walk takes every URL pattern the resolver knows outside the API (the desk under /desk/, the portal,
reports, the queue screen, the SMS hook), fills each path parameter with real rows of the demo data (the
demo province, its appointments, a registration, a home-care episode with an alert, a completed episode
with a certificate, a booking in each state, a HIS link request), and GETs each URL as the superuser,
every demo staff persona and two patients. After each GET it asserts that:

- no SQL statement wrote to a domain table (INSERT/UPDATE/DELETE, django_session and django-axes' logs
  aside; audit rows are checked next);
- no audit row other than a read ("view", "export") was added;
- a fingerprint of every table (row count, highest id, latest `updated_at`) is unchanged;
- no SMS was sent and the user is still logged in (a GET that logs out is a state change too).

A pattern the walk cannot fill fails the test: a new URL must be taught to the walk, not skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessFailureLog
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone

from health_f0.appointments import services as appointment_services
from health_f0.appointments.models import Appointment, ReexamPlan, ScheduleOverride, Service
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.his import services as his_services
from health_f0.his.adapters import NoLookupAdapter
from health_f0.his.models import HisLabResult, HisVisit, ImportRun
from health_f0.monitoring.models import Alert, Episode, ProvincePolicy, ReminderLog
from health_f0.monitoring.services import declaration_submit, episode_complete
from health_f0.patients.models import Patient
from health_f0.registration.models import Registration
from health_f0.registration.services import registration_accept
from tests import access_records

pytestmark = pytest.mark.django_db

STAFF = [
    "admin",
    "syt.lanhdao",
    "ttyt.lanhdao",
    "thanhdong.nv",
    "thanhdong.truong",
    "lethanhnghi.nv",
    "tanhung.nv",
    "bacsi.dieutri",
    "bacsi.noi",
    "datlich",
    "tiepdon",
    "lienket.his",
    "ketoan",
]
PATIENT_A = "bn0000001"
PATIENT_B = "patient_b"  # a key of the world: the account made when B's registration is accepted
ESMS_TOKEN = "walk-hook-token"

# Tables a GET may write: the session, django-axes' own logs. Audit rows are checked by action instead.
WRITABLE_TABLES = ("django_session", "axes_")
READ_AUDIT_ACTIONS = (AuditLog.Action.VIEW, AuditLog.Action.EXPORT)
WRITE_SQL = re.compile(
    r"^\s*(?:INSERT\s+(?:IGNORE\s+)?INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+[`\"]?(\w+)", re.I
)

# Patterns the walk does not GET, with the reason.
SKIPPED = {
    # The desk's catch-all: unknown desk paths answer 404 (Django's final_catch_all_view).
    r"desk/(?P<url>.*)$": "catch-all 404",
    # Guidance PDFs are files on disk served as they are; no database behind them.
    r"^media/guidance/(?P<path>[\w.-]+\.pdf)$": "static file",
}

# Path parameters of the desk's model pages that are not the page's own model.
DESK_PARAM_MODELS: dict[tuple[str, str], str] = {
    ("appointments_reexam_plan_rebook", "pk"): "appointments.ReexamPlan",
    ("appointments_call_next", "service_id"): "appointments.Service",
    ("monitoring_alert_acknowledge", "alert_id"): "monitoring.Alert",
    ("monitoring_record_call", "reminder_id"): "monitoring.ReminderLog",
    ("auth_user_password_change", "id"): "core.User",
    ("accounting_resolve", "item_id"): "accounting.ReconciliationItem",
}
# Path parameters of the other pages: (url name, parameter) -> (model, field).
PAGE_PARAMS: dict[tuple[str, str], tuple[str, str]] = {
    ("www:register_done", "public_id"): ("registration.Registration", "public_id"),
    ("www:declare_result", "public_id"): ("monitoring.Declaration", "public_id"),
    ("www:guidance_detail", "public_id"): ("monitoring.GuidanceDocument", "public_id"),
    ("www:certificate_download", "public_id"): ("monitoring.Episode", "public_id"),
    ("www:certificate_verify", "code"): ("monitoring.Episode", "certificate_code"),
    ("www:appointment", "public_id"): ("appointments.Appointment", "public_id"),
    ("www:appointment_cancel", "public_id"): ("appointments.Appointment", "public_id"),
    ("www:appointment_reschedule", "public_id"): ("appointments.Appointment", "public_id"),
    ("www:his_link_form", "public_id"): ("his.HisLinkRequest", "public_id"),
    ("www:his_unlink", "public_id"): ("his.HisLink", "public_id"),
    ("appointments:queue_display", "code"): ("facilities.Facility", "code"),
    ("appointments:queue_display_state", "code"): ("facilities.Facility", "code"),
    ("appointments:queue_display_speech", "code"): ("facilities.Facility", "code"),
    ("www:my_data_pdf", "public_id"): ("privacy.DataExport", "public_id"),
    ("www:my_data_request_cancel", "public_id"): ("privacy.DataSubjectRequest", "public_id"),
    ("www:short_link", "code"): ("appointments.Appointment", "link_code"),
    ("www:ticket", "public_id"): ("appointments.Appointment", "public_id"),
    ("payments:pay_booking", "public_id"): ("appointments.Appointment", "public_id"),
    ("payments:pay_visit", "public_id"): ("his.HisVisit", "public_id"),
    ("payments:result", "public_id"): ("payments.Payment", "public_id"),
    ("www:payment_receipt", "public_id"): ("payments.Payment", "public_id"),
    ("admin:accounting_receipt", "public_id"): ("payments.Payment", "public_id"),
    ("admin:accounting_refund_manual", "public_id"): ("payments.Payment", "public_id"),
    ("payments:status", "public_id"): ("payments.Payment", "public_id"),
    ("www:appointment_ics", "public_id"): ("appointments.Appointment", "public_id"),
}

PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


# --- The data -----------------------------------------------------------------------------------------


@pytest.fixture
def world(appointments_demo: Any, persona: Any, settings: Any) -> dict[str, Any]:
    """The demo province and its appointments, plus a record in every state the desk and portal show."""
    settings.ESMS_CALLBACK_TOKEN = ESMS_TOKEN
    admin, datlich, tiepdon = persona("admin"), persona("datlich"), persona("tiepdon")
    patient_a = access_records.portal_ready(Patient.objects.get(account__username=PATIENT_A))
    # Patient B: accepted at Lê Thanh Nghị (a registration of each state stays in the queue).
    accepted = registration_accept(
        registration=Registration.objects.filter(facility__code="TYT-10532", status="submitted").last(),
        actor=persona("lethanhnghi.nv"),
    )
    patient_b = access_records.portal_ready(accepted.patient)
    # Home care: A declares danger signs (an active episode with an open alert and a reminder row);
    # B's episode is completed (a certificate to download and verify).
    declaration_submit(
        patient=patient_a, actor=patient_a.account, answers=access_records.DANGER, idempotency_key="walk-a"
    )
    declaration_submit(
        patient=patient_b,
        actor=patient_b.account,
        answers={"temperature": "36.8", "spo2": "98", "symptoms": []},
        idempotency_key="walk-b",
    )
    episode_b = Episode.objects.get(patient=patient_b, status="active")
    Episode.objects.filter(pk=episode_b.pk).update(
        start_date=timezone.localdate() - timedelta(days=12),
        positive_date=timezone.localdate() - timedelta(days=12),
    )
    episode_b.refresh_from_db()
    episode_complete(
        episode=episode_b,
        actor=persona("lethanhnghi.nv"),
        negative_test_date=timezone.localdate(),
        negative_test_type="rapid",
    )
    if not ReminderLog.objects.exists():
        ReminderLog.objects.create(
            episode=Episode.objects.get(patient=patient_a, status="active"),
            local_date=timezone.localdate(),
            kind=ReminderLog.Kind.CALL_LIST,
        )
    # Appointments of patient A in every state (the demo's request is "requested"): five bookings of one
    # service, more than a patient's limits allow (appointments.services._check_limits), so the limits are off.
    from health_f0.appointments.models import AppointmentPolicy

    AppointmentPolicy.objects.filter(facility__code="TTYT-HD").update(
        max_live_per_service=0, max_per_day=0, max_per_week=0
    )
    service = Service.objects.get(code="kham-noi")
    slots = _free_slots(service)

    def book(index: int) -> Appointment:
        return appointment_services.appointment_book(
            patient=patient_a, service=service, slot_start=slots[index].start, channel="phone", actor=datlich
        )

    book(0)  # confirmed
    checked_in = _today(book(1))
    appointment_services.appointment_check_in(code=checked_in.check_in_code, actor=tiepdon)
    completed = _today(book(2))
    appointment_services.appointment_check_in(code=completed.check_in_code, actor=tiepdon)
    appointment_services.appointment_complete(appointment=completed, actor=tiepdon)
    cancelled = book(3)
    appointment_services.appointment_cancel(appointment=cancelled, actor=datlich, reason="Người bệnh báo bận")
    no_show = book(4)
    Appointment.objects.filter(pk=no_show.pk).update(
        slot_start=timezone.now() - timedelta(days=1), slot_end=timezone.now() - timedelta(days=1)
    )
    no_show.refresh_from_db()
    appointment_services.appointment_mark_no_show(appointment=no_show, actor=datlich)
    # HIS: one request waiting for the linker, one approved (an active link).
    his_services.link_request_create(
        patient=patient_a,
        identifier_type="his_code",
        identifier="BN-WALK-1",
        channel="portal",
        actor=patient_a.account,
        adapter=NoLookupAdapter(),
    )
    approved = his_services.link_request_create(
        patient=patient_b,
        identifier_type="his_code",
        identifier="BN-WALK-2",
        channel="portal",
        actor=patient_b.account,
        adapter=NoLookupAdapter(),
    )
    from health_f0.his.tests.conftest import xml_patient

    xml_patient(approved.facility, "BN-WALK-2", patient_b)  # a HIS code must resolve (issue 8, identity)
    his_services.link_request_approve(request=approved, actor=admin, his_patient_id="BN-WALK-2")
    # HIS data imported for B, a finished import run; a date override and a province policy; a failed login
    # (django-axes' attempt and failure log).
    ttyt = Facility.objects.get(code="TTYT-HD")
    visit = HisVisit.objects.create(
        patient=patient_b,
        facility=ttyt,
        source="xml",
        external_id="LK-WALK-1",
        admitted_at=timezone.now() - timedelta(days=3),
        icd10="I10",
        diagnosis_text="Tăng huyết áp",
    )
    HisLabResult.objects.create(
        patient=patient_b,
        facility=ttyt,
        source="xml",
        external_id="LK-WALK-1:1",
        visit=visit,
        visit_ref=visit.external_id,
        name="Glucose",
        value="7.8",
        flag="H",
        observed_at=timezone.now() - timedelta(days=3),
    )
    ImportRun.objects.create(
        facility=ttyt,
        source="xml",
        kind="upload",
        started_by=persona("lienket.his"),
        started_at=timezone.now(),
    )
    ScheduleOverride.objects.create(
        service=service, date=timezone.localdate() + timedelta(days=20), is_closed=True, reason="Bảo trì"
    )
    ProvincePolicy.objects.get_or_create(province_code=31)
    Client().post("/dang-nhap", {"username": "datlich", "password": "sai-mat-khau"})
    AccessFailureLog.objects.create(
        username="datlich",
        ip_address="127.0.0.1",
        user_agent="walk",
        http_accept="*/*",
        path_info="/desk/login/",
    )
    # Personal-data rights (health_f0.privacy): B's deletion request, A's PDF copy, a retention run.
    from health_f0.privacy.exports import export_pdf_request
    from health_f0.privacy.models import RetentionRun
    from health_f0.privacy.services import request_submit

    request_submit(user=patient_b.account, patient=patient_b, kind="delete", reason="Không dùng dịch vụ nữa")
    export_pdf_request(user=patient_a.account)
    RetentionRun.objects.create(kind="walk", counts={"rows": 0})
    # The baseline policy version comes from a data migration, which a transactional test run earlier in
    # this worker may have flushed.
    from health_f0.privacy.models import PrivacyPolicy

    PrivacyPolicy.objects.get_or_create(
        version=settings.PRIVACY_POLICY_VERSION,
        defaults={"effective_from": timezone.now() - timedelta(days=365), "summary": "Phiên bản đầu tiên."},
    )
    # A payment of a booking's fee (the payment result page and the gateways' callbacks, GET by protocol:
    # without a gateway's signed parameters they change nothing).
    from health_f0.payments.crypto import encrypt
    from health_f0.payments.models import (
        GatewayAccount,
        Payment,
        PaymentEvent,
        ServicePaymentPolicy,
        new_reference,
    )

    booked = Appointment.objects.filter(status="confirmed").first()
    assert booked is not None
    GatewayAccount.objects.create(
        facility=ttyt, gateway="vnpay", merchant_code="WALK", secret_encrypted=encrypt("walk-secret")
    )
    ServicePaymentPolicy.objects.create(service=service, price=150_000, prepayment="optional")
    payment = Payment.objects.create(
        facility=booked.facility,
        patient=booked.patient,
        purpose="booking_fee",
        appointment=booked,
        amount=150_000,
        gateway="vnpay",
        reference=new_reference(),
        status="pending",
        expires_at=timezone.now() + timedelta(minutes=30),
    )
    PaymentEvent.objects.create(
        gateway="vnpay",
        kind="ipn",
        reference=payment.reference,
        payment=payment,
        facility=payment.facility,
        result="bad_signature",
    )
    # A scheduled report e-mail that went out (its delivery page is a desk page like any other).
    from health_f0.reports.subscriptions.models import ReportDelivery, ReportSubscription

    morning = ReportSubscription.objects.filter(report="morning").first()
    assert morning is not None
    ReportDelivery.objects.create(
        subscription=morning,
        period_start=timezone.localdate() - timedelta(days=1),
        period_end=timezone.localdate() - timedelta(days=1),
        state="sent",
        sent_at=timezone.now(),
    )
    # Payments (accounting): a paid one, one whose refund failed, and the day's reconciliation with a
    # matched line, an amount mismatch and a line missing on our side.
    from health_f0.accounting.services import reconciliation_run
    from health_f0.accounting.settlement import SettlementLine
    from health_f0.accounting.tests.builders import paid_payment

    paid = paid_payment(patient=patient_a, facility=ttyt, amount=150_000)
    off = paid_payment(patient=patient_b, facility=ttyt, amount=90_000)
    paid_payment(patient=patient_a, facility=ttyt, status="refund_failed")
    reconciliation_run(
        facility=ttyt,
        gateway="vnpay",
        day=timezone.localdate(),
        lines=[
            SettlementLine(1, paid.reference, "1", 150_000, None, True),
            SettlementLine(2, off.reference, "2", 95_000, None, True),
            SettlementLine(3, "999", "3", 10_000, None, True),
        ],
        actor=admin,
    )
    statuses = set(Appointment.objects.values_list("status", flat=True))
    assert statuses >= {"requested", "confirmed", "checked_in", "completed", "cancelled", "no_show"}, statuses
    assert Alert.objects.exists() and ReexamPlan.objects.exists()
    return {PATIENT_B: patient_b.account}


def _free_slots(service: Service) -> list[Any]:
    from health_f0.appointments import selectors

    first = timezone.localdate() + timedelta(days=1)
    return [
        slot
        for slot in selectors.slots_free(
            service=service, start=first, end=first + timedelta(days=10), for_staff=True
        )
        if slot.free > 0
    ]


def _today(appointment: Appointment) -> Appointment:
    """Move a booking to now: reception checks in on the day of the visit."""
    now = timezone.now()
    Appointment.objects.filter(pk=appointment.pk).update(slot_start=now, slot_end=now + timedelta(minutes=15))
    appointment.refresh_from_db()
    return appointment


# --- The URLs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    pattern: str  # the full pattern text, for reports and SKIPPED
    regex: bool
    name: str  # namespaced url name ("admin:appointments_worklist", "www:home"), "" when unnamed


def _routes(patterns: list[Any] | None = None, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner_ns = namespace
            if entry.namespace:
                inner_ns = f"{namespace}{entry.namespace}:"
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern), inner_ns)
        elif isinstance(entry, URLPattern):
            text = prefix + str(entry.pattern)
            yield Route(
                pattern=text,
                regex=isinstance(entry.pattern, RegexPattern) and not isinstance(entry.pattern, RoutePattern),
                name=f"{namespace}{entry.name}" if entry.name else "",
            )


def _samples(model: type[models.Model], field: str = "pk") -> list[str]:
    """A few rows of a model: one per status where it has one, else the first and the last."""
    qs = model._default_manager.order_by("pk")
    values: list[Any] = []
    if any(f.name == "status" for f in model._meta.concrete_fields):
        for status in sorted(set(qs.values_list("status", flat=True))):
            row = qs.filter(status=status).values_list(field, flat=True).first()
            values.append(row)
    else:
        values += [qs.values_list(field, flat=True).first(), qs.values_list(field, flat=True).last()]
    out = [str(value) for value in values if value not in (None, "")]
    return list(dict.fromkeys(out))


def _desk_model(route: Route) -> type[models.Model] | None:
    match = re.match(r"desk/(\w+)/(\w+)/", route.pattern)
    if not match:
        return None
    try:
        return apps.get_model(match.group(1), match.group(2))
    except LookupError:
        return None


def urls_to_walk() -> tuple[list[tuple[Route, str]], list[str]]:
    """(route, concrete URL) pairs, and the patterns the walk could not fill (a failure)."""
    out: list[tuple[Route, str]] = []
    unfilled: list[str] = []
    for route in _routes():
        if route.pattern.startswith("api/") or route.pattern in SKIPPED:
            continue
        if route.regex:
            if route.name == "admin:app_list":
                labels = sorted({model._meta.app_label for model in _registered_models()})
                out += [(route, f"/desk/{label}/") for label in labels]
            elif not PARAM.search(route.pattern) and "(?P<" not in route.pattern:
                out.append((route, "/" + route.pattern.lstrip("^").rstrip("$")))
            else:
                unfilled.append(route.pattern)
            continue
        params = [m.group("name") for m in PARAM.finditer(route.pattern)]
        if not params:
            out.append((route, "/" + route.pattern))
            continue
        choices: dict[str, list[str]] = {}
        for param in params:
            values = _param_values(route, param)
            if not values:
                unfilled.append(f"{route.pattern} ({param})")
                break
            choices[param] = values
        else:
            for combination in _combinations(choices):
                url = PARAM.sub(lambda m, c=combination: c[m.group("name")], route.pattern)
                out.append((route, "/" + url))
    return out, unfilled


def _registered_models() -> list[type[models.Model]]:
    from health_f0.desk.site import desk_site

    return list(desk_site._registry)


def _param_values(route: Route, param: str) -> list[str]:
    short_name = route.name.split(":", 1)[-1]
    if (route.name, param) in PAGE_PARAMS:
        label, field = PAGE_PARAMS[(route.name, param)]
        return _samples(apps.get_model(label), field)
    if route.name == "hooks:esms-callback" and param == "token":
        return [ESMS_TOKEN]
    if route.name == "appointments:queue_display_speech" and param == "key":
        return ["0" * 32]  # a spoken call's cache key (hall.speech_key): only the current calls' are served

    if route.name.startswith("payments:") and param == "gateway":  # the gateways' callbacks
        return ["vnpay"]
    if route.name == "admin:view_on_site":
        ct = ContentType.objects.get_for_model(Appointment)
        return {"content_type_id": [str(ct.pk)], "object_id": _samples(Appointment)[:1]}.get(param, [])
    if (short_name, param) in DESK_PARAM_MODELS:
        return _samples(apps.get_model(DESK_PARAM_MODELS[(short_name, param)]))
    model = _desk_model(route)
    if model is not None and param in ("object_id", "pk"):
        return _samples(model)
    return []


def _combinations(choices: dict[str, list[str]]) -> list[dict[str, str]]:
    combos: list[dict[str, str]] = [{}]
    for name, values in choices.items():
        combos = [{**combo, name: value} for combo in combos for value in values]
    return combos


# --- What a GET may not change ------------------------------------------------------------------------


def _fingerprint_sql() -> str:
    parts = []
    for model in apps.get_models():
        table = model._meta.db_table
        if model._meta.proxy or not model._meta.managed or table.startswith(WRITABLE_TABLES):
            continue
        if model is AuditLog:
            continue
        names = {f.column for f in model._meta.concrete_fields}
        pk = connection.ops.quote_name(model._meta.pk.column)
        updated = connection.ops.quote_name("updated_at") if "updated_at" in names else "NULL"
        parts.append(
            # Table and column names come from the models, not from input.
            f"SELECT '{table}', COUNT(*), MAX({pk}), MAX({updated}) FROM {connection.ops.quote_name(table)}"  # noqa: S608
        )
    return " UNION ALL ".join(parts)


def fingerprint(sql: str) -> dict[str, tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        tables = {row[0]: tuple(str(value) for value in row[1:]) for row in cursor.fetchall()}
    tables["core_auditlog (not reads)"] = (
        str(AuditLog.objects.exclude(action__in=READ_AUDIT_ACTIONS).count()),
    )
    return tables


def _writes(queries: list[dict[str, Any]]) -> list[str]:
    found = []
    for query in queries:
        match = WRITE_SQL.match(query["sql"])
        if match and not match.group(1).startswith(WRITABLE_TABLES + ("core_auditlog",)):
            found.append(query["sql"][:160])
    return found


def _client(user: Any) -> Client:
    # A page that fails (500) is another test's business; whatever it wrote before failing is this one's.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def walk(client: Client, user: Any, sms: Any, on_commit: Any) -> tuple[list[str], dict[str, int]]:
    """GET every URL; returns the violations and the status of each URL (for coverage checks)."""
    sql = _fingerprint_sql()
    walked, unfilled = urls_to_walk()
    assert not unfilled, f"the walk cannot fill these URL patterns; teach it: {unfilled}"
    problems: list[str] = []
    seen: dict[str, int] = {}
    for _route, url in walked:
        before, messages = fingerprint(sql), len(sms.messages())
        # Side effects queued on commit (SMS, HIS calls) run as they would after a real request.
        with CaptureQueriesContext(connection) as ctx, on_commit(execute=True):
            response = client.get(url)
        seen[url] = response.status_code
        after = fingerprint(sql)
        who = user.get_username()
        writes = _writes(ctx.captured_queries)
        if writes:
            problems.append(f"GET {url} as {who} wrote: {writes}")
        changed = sorted(table for table in after if after[table] != before.get(table))
        if changed:
            problems.append(f"GET {url} as {who} changed {changed}")
        if len(sms.messages()) != messages:
            problems.append(f"GET {url} as {who} sent an SMS: {sms.messages()[messages:]}")
        if "_auth_user_id" not in client.session:
            problems.append(f"GET {url} as {who} logged the user out")
            client.force_login(user)
    return problems, seen


# --- The tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", [*STAFF, PATIENT_A, PATIENT_B])
def test_every_get_leaves_the_data_alone(
    username: str,
    world: dict[str, Any],
    persona: Any,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = world.get(username) or persona(username)
    problems, seen = walk(_client(user), user, sms, django_capture_on_commit_callbacks)
    assert not problems, "\n".join(problems)
    # Never a 500 either: each of these was a defect (axes logs on MariaDB, read-only policy forms, privacy add).
    failing = sorted(url for url, code in seen.items() if code >= 500)
    assert not failing, f"GET as {username} answered 500: {failing}"
    assert len(seen) > 200  # the walk reached the desk's model pages, not just a handful of URLs


def test_the_walk_reaches_the_buttons_that_used_to_change_state_on_get(
    world: dict[str, Any], persona: Any, sms: Any
) -> None:
    """The walk GETs "Xác nhận" on a waiting booking as the booking desk and "Khám xong" on a checked-in one
    as reception, both reachable (not refused before the action runs): the defect's exact shape."""
    requested = Appointment.objects.filter(status="requested").order_by("pk").first()
    checked_in = Appointment.objects.filter(status="checked_in").order_by("pk").first()
    assert requested and checked_in
    confirm = f"/desk/appointments/appointment/{requested.pk}/xac-nhan-lich/"
    complete = f"/desk/appointments/appointment/{checked_in.pk}/kham-xong/"
    walked = {url for _route, url in urls_to_walk()[0]}
    assert {confirm, complete} <= walked
    texts = len(sms.messages())
    for username, url in (("datlich", confirm), ("tiepdon", complete)):
        client = _client(persona(username))
        response = client.get(url)
        assert response.status_code in (200, 302, 405)
        requested.refresh_from_db()
        checked_in.refresh_from_db()
        assert (requested.status, checked_in.status) == ("requested", "checked_in"), url
    assert len(sms.messages()) == texts
