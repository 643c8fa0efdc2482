# ruff: noqa: F811  (the smtp_server fixture is imported, then taken as an argument)
"""Scheduled report e-mails (issue 13 §5): periods, validation of scope and recipients, and sending over a real
SMTP conversation with a local server (tests/standins/smtp.py): the XLSX attachment opened with openpyxl, the
PDF, the morning report's HTML body, retries, a lost right, and two workers sending once."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from itertools import count
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import load_workbook

from health_f0.appointments.models import Appointment, ScheduleTemplate, Service
from health_f0.core.exceptions import DomainError, PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility, Membership
from health_f0.patients.models import Patient
from health_f0.reports.subscriptions import periods, services, tasks
from health_f0.reports.subscriptions.models import DeliveryState, ReportDelivery, ReportSubscription
from tests.standins.smtp import SmtpStandIn, smtp_server  # noqa: F401  (fixture)
from tests.standins.threads import run_together

_numbers = count(1)
OWNER_EMAIL = "ttyt.lanhdao@demo.health-f0.vn"


# --- Periods (local days) ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "today", "expected"),
    [
        ("daily", date(2026, 12, 6), (date(2026, 12, 5), date(2026, 12, 5))),
        ("daily", date(2026, 1, 1), (date(2025, 12, 31), date(2025, 12, 31))),
        ("weekly", date(2026, 12, 7), (date(2026, 11, 30), date(2026, 12, 6))),  # a Monday
        ("weekly", date(2026, 12, 6), (date(2026, 11, 23), date(2026, 11, 29))),  # a Sunday
        ("monthly", date(2026, 3, 1), (date(2026, 2, 1), date(2026, 2, 28))),
        ("monthly", date(2026, 1, 15), (date(2025, 12, 1), date(2025, 12, 31))),
    ],
)
def test_last_complete_period(period: str, today: date, expected: tuple[date, date]) -> None:
    assert periods.last_period(period, today) == expected


def test_due_time_is_local_time() -> None:
    due = periods.due_at(date(2026, 12, 5), time(7, 0))
    assert timezone.localtime(due).strftime("%d/%m/%Y %H:%M") == "06/12/2026 07:00"
    assert due.astimezone(timezone.get_fixed_timezone(0)).hour == 0  # 07:00 in Hanoi is midnight UTC
    # 06:30 local on the 6th: yesterday's figures are not due yet; 23:30 UTC on the 5th is 06:30 local.
    now = timezone.make_aware(datetime(2026, 12, 6, 6, 30))
    start, end, due = periods.due_period("daily", time(7, 0), now)
    assert (start, end) == (date(2026, 12, 5), date(2026, 12, 5)) and now < due


# --- Data ---------------------------------------------------------------------------------------------------------


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hh, mm)))


def _book(service: Service, *, made: datetime, slot: datetime, channel: str, status: str) -> Appointment:
    n = next(_numbers)
    patient = Patient.objects.create(
        full_name=f"Người bệnh {n}",
        date_of_birth=date(1970, 1, 1),
        sex="male",
        phone=f"+8491{n:07d}",
        province_code=31,
        ward_code=10510,
        facility=Facility.objects.get(code="TYT-10510"),
    )
    appointment = Appointment.objects.create(
        patient=patient,
        service=service,
        facility=service.facility,
        slot_start=slot,
        slot_end=slot + timedelta(minutes=15),
        channel=channel,
        status=status,
        check_in_code=f"S{n:07d}",
    )
    Appointment.objects.filter(pk=appointment.pk).update(created_at=made)
    return appointment


@pytest.fixture
def yesterday() -> date:
    return timezone.localdate() - timedelta(days=1)


@pytest.fixture
def bookings(demo: Any, yesterday: date) -> Service:
    """Yesterday at the TTYT's Khám Nội: three bookings through the app, one by phone; one app booking was a
    no-show."""
    call_command("load_appointments_demo", verbosity=0)
    service = Service.objects.create(
        facility=Facility.objects.get(code="PK-NOI1"),
        code="sub-noi",
        name="Khám Nội (e-mail)",
        capacity_per_slot=5,
    )
    ScheduleTemplate.objects.create(service=service, weekday=0, start_time=time(7), end_time=time(11))
    for hour, channel, status in ((8, "app", "requested"), (9, "app", "no_show"), (10, "app", "requested")):
        _book(
            service,
            made=local(yesterday, hour),
            slot=local(yesterday, hour + 1),
            channel=channel,
            status=status,
        )
    _book(service, made=local(yesterday, 11), slot=local(yesterday, 14), channel="phone", status="requested")
    return service


def subscribe(
    persona: Any, *, report: str = "appointments", fmt: str = "xlsx", **fields: Any
) -> ReportSubscription:
    owner = persona(fields.pop("owner", "ttyt.lanhdao"))
    subscription = ReportSubscription(
        owner=owner,
        name=fields.pop("name", "Lịch hẹn hằng ngày"),
        report=report,
        facility=Facility.objects.get(code=fields.pop("facility", "TTYT-HD")),
        period=fields.pop("period", "daily"),
        format=fmt,
        send_time=time(7, 0),
        **fields,
    )
    subscription = services.subscription_save(subscription=subscription, actor=owner)
    # Made well before this morning's 07:00, so yesterday's period is the scheduler's to send.
    ReportSubscription.objects.filter(pk=subscription.pk).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    subscription.refresh_from_db()
    return subscription


def morning_now() -> datetime:
    """Today 07:05 local: yesterday's period is due."""
    return local(timezone.localdate(), 7, 5)


# --- Validation ---------------------------------------------------------------------------------------------------


def test_a_manager_subscribes_for_a_facility_they_lead(demo: Any, persona: Any) -> None:
    subscription = subscribe(
        persona, recipients="syt.lanhdao@demo.health-f0.vn"
    )  # a leadership colleague above
    assert subscription.pk and subscription.extra_recipients == ["syt.lanhdao@demo.health-f0.vn"]
    assert AuditLog.objects.filter(verb="report_subscription_save", target_id=str(subscription.pk)).exists()


def test_scope_outside_the_owner_is_refused(demo: Any, persona: Any) -> None:
    with pytest.raises(DomainError) as refused:
        subscribe(persona, facility="SYT-31")  # the TTYT manager does not lead the province
    assert refused.value.field == "facility"


def test_non_managers_may_not_subscribe(demo: Any, persona: Any) -> None:
    with pytest.raises(PermissionDenied):
        subscribe(persona, owner="datlich")  # the booking desk sees the appointment report, but reads it only


@pytest.mark.parametrize(
    ("recipients", "allowed"),
    [
        ("someone@gmail.com", False),  # outside the health department: refused
        ("not-an-address", False),
        ("lienket.his@demo.health-f0.vn", False),  # not an account's e-mail of a manager here
        ("bao-cao@soyte.haiphong.gov.vn", True),  # an allowed domain (settings)
    ],
)
def test_recipients_stay_inside(
    demo: Any, persona: Any, settings: Any, recipients: str, allowed: bool
) -> None:
    settings.REPORT_EMAIL_ALLOWED_DOMAINS = ["soyte.haiphong.gov.vn"]
    if allowed:
        assert subscribe(persona, recipients=recipients).extra_recipients == [recipients]
        return
    with pytest.raises(DomainError) as refused:
        subscribe(persona, recipients=recipients)
    assert refused.value.field == "recipients"


def test_seed_demo_gives_the_ttyt_director_the_morning_report(demo: Any, persona: Any) -> None:
    morning = ReportSubscription.objects.get(owner=persona("ttyt.lanhdao"), report="morning")
    assert (morning.facility.code, morning.period, morning.format) == ("TTYT-HD", "daily", "html")
    assert morning.send_time == time(7, 0) and morning.is_active
    # The province's manager leads no TTYT: no default for them.
    assert not ReportSubscription.objects.filter(owner=persona("syt.lanhdao")).exists()
    # The one-click default is idempotent.
    again = services.subscription_default_create(owner=persona("ttyt.lanhdao"), actor=persona("ttyt.lanhdao"))
    assert again.pk == morning.pk


# --- Sending over SMTP -------------------------------------------------------------------------------------------


def test_xlsx_report_over_smtp_once_per_period(
    bookings: Service, persona: Any, smtp_server: SmtpStandIn, yesterday: date
) -> None:
    ReportSubscription.objects.filter(report="morning").update(is_active=False)
    subscription = subscribe(persona)
    now = morning_now()
    assert services.deliveries_create_due(now=now - timedelta(minutes=10)) == []  # 06:55: not yet
    created = services.deliveries_create_due(now=now)
    assert len(created) == 1
    assert services.delivery_send(delivery_id=created[0], now=now) == DeliveryState.SENT

    assert len(smtp_server.envelopes) == 1
    assert smtp_server.envelopes[0].rcpt_tos == [OWNER_EMAIL]
    message = smtp_server.messages[0]
    assert "Báo cáo lịch hẹn khám" in message["Subject"] and f"{yesterday:%d/%m/%Y}" in message["Subject"]
    attachment = next(part for part in message.iter_attachments())
    assert attachment.get_filename() == f"bao-cao-lich-hen-{yesterday:%d%m%Y}-{yesterday:%d%m%Y}.xlsx"
    workbook = load_workbook(io.BytesIO(attachment.get_content()), read_only=True)
    rows = list(workbook["Dịch vụ cả kỳ"].iter_rows(values_only=True))
    header, ours = rows[0], next(row for row in rows if row[0] == "sub-noi")
    assert ours[header.index("Đặt qua ứng dụng")] == 3
    assert ours[header.index("Đặt qua điện thoại")] == 1
    assert ours[header.index("Tổng lượt đặt")] == 4
    body = message.get_body(("plain",)).get_content()
    assert "Lượt đặt lịch: 4" in body

    delivery = ReportDelivery.objects.get(pk=created[0])
    assert delivery.state == DeliveryState.SENT and delivery.attempts == 1 and delivery.sent_to == OWNER_EMAIL
    assert AuditLog.objects.filter(
        verb="email_report", target_id=str(delivery.pk), actor=subscription.owner
    ).exists()

    # The next runs, the same morning: nothing new is created or sent.
    assert services.deliveries_create_due(now=now + timedelta(minutes=5)) == []
    assert tasks.deliveries_run() == 0
    assert len(smtp_server.envelopes) == 1


def test_pdf_report(bookings: Service, persona: Any, smtp_server: SmtpStandIn) -> None:
    subscription = subscribe(persona, fmt="pdf", name="Lịch hẹn PDF")
    delivery = services.delivery_send_now(subscription=subscription, actor=persona("ttyt.lanhdao"))
    assert delivery.state == DeliveryState.SENT and delivery.sequence == 1
    attachment = next(smtp_server.messages[-1].iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF")


def test_morning_report_html_body(bookings: Service, persona: Any, smtp_server: SmtpStandIn) -> None:
    morning = ReportSubscription.objects.get(owner=persona("ttyt.lanhdao"), report="morning")
    delivery = services.delivery_send_now(subscription=morning, actor=persona("ttyt.lanhdao"))
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    message = smtp_server.messages[-1]
    assert not list(message.iter_attachments())
    html = message.get_body(("html",)).get_content()
    assert "Báo cáo sáng" in html and "Đặt lịch khám" in html and "Liên kết tài khoản với HIS" in html
    assert "Lượt đặt lịch" in html and "Không đến khám" in html and "mục tiêu ≥ 80 %" in html
    # No home care was running yesterday in the demo (its patient's episode starts today).
    assert "Theo dõi F0 tại nhà" not in html


def test_a_lost_right_sends_nothing_and_says_why(
    bookings: Service, persona: Any, smtp_server: SmtpStandIn
) -> None:
    ReportSubscription.objects.filter(report="morning").update(is_active=False)
    subscription = subscribe(persona)
    Membership.objects.filter(user=subscription.owner).update(is_active=False)
    created = services.deliveries_create_due(now=morning_now())
    assert services.delivery_send(delivery_id=created[0], now=morning_now()) == DeliveryState.FAILED
    assert smtp_server.envelopes == []
    delivery = ReportDelivery.objects.get(pk=created[0])
    assert delivery.next_attempt_at is None and "không còn là lãnh đạo" in delivery.last_error
    subscription.refresh_from_db()
    assert "không còn là lãnh đạo" in subscription.blocked_reason


def test_a_failed_send_is_retried_with_back_off(
    bookings: Service, persona: Any, smtp_server: SmtpStandIn
) -> None:
    ReportSubscription.objects.filter(report="morning").update(is_active=False)
    subscribe(persona)
    smtp_server.fail_next(1)
    now = morning_now()
    [delivery_id] = services.deliveries_create_due(now=now)
    assert services.delivery_send(delivery_id=delivery_id, now=now) == DeliveryState.FAILED
    delivery = ReportDelivery.objects.get(pk=delivery_id)
    assert delivery.attempts == 1 and "451" in delivery.last_error
    assert delivery.next_attempt_at == now + services.BACKOFF[0]
    assert services.deliveries_due_ids(now=now + timedelta(minutes=1)) == []
    assert services.deliveries_due_ids(now=now + timedelta(minutes=6)) == [delivery_id]
    assert (
        services.delivery_send(delivery_id=delivery_id, now=now + timedelta(minutes=6)) == DeliveryState.SENT
    )
    assert len(smtp_server.envelopes) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_once(bookings: Service, persona: Any, smtp_server: SmtpStandIn) -> None:
    ReportSubscription.objects.filter(report="morning").update(is_active=False)
    subscribe(persona)
    now = morning_now()

    def worker() -> int:
        services.deliveries_create_due(now=now)
        return sum(
            services.delivery_send(delivery_id=pk, now=now) == DeliveryState.SENT
            for pk in services.deliveries_due_ids(now=now)
        )

    results = run_together(worker, worker)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 1
    assert ReportDelivery.objects.count() == 1
    assert len(smtp_server.envelopes) == 1


def test_the_next_scheduled_e_mail() -> None:
    now = timezone.make_aware(datetime(2026, 12, 6, 9, 0))  # a Sunday, 09:00 local
    assert periods.next_due("daily", time(7, 0), now)[:2] == (date(2026, 12, 6), date(2026, 12, 6))
    start, end, due = periods.next_due("weekly", time(6, 30), now)
    assert (start, end) == (date(2026, 11, 30), date(2026, 12, 6))
    assert timezone.localtime(due).strftime("%d/%m/%Y %H:%M") == "07/12/2026 06:30"


def test_morning_report_shows_home_care_only_while_it_runs(demo: Any, persona: Any) -> None:
    from health_f0.reports.subscriptions.families import morning_report

    owner, ttyt = persona("ttyt.lanhdao"), Facility.objects.get(code="TTYT-HD")
    today = timezone.localdate()
    # The demo patient's home care starts today: today's morning figures have a home-care section.
    titles = [
        s.title
        for s in morning_report(user=owner, date_from=today, date_to=today, facility_id=ttyt.pk).sections
    ]
    assert titles == ["Đặt lịch khám", "Liên kết tài khoản với HIS", "Theo dõi F0 tại nhà"]
    before = today - timedelta(days=30)
    titles = [
        s.title
        for s in morning_report(user=owner, date_from=before, date_to=before, facility_id=ttyt.pk).sections
    ]
    assert titles == ["Đặt lịch khám", "Liên kết tài khoản với HIS"]


def test_payments_report_and_the_morning_payments_section(
    bookings: Service, persona: Any, smtp_server: SmtpStandIn
) -> None:
    """The payments report (issue 13 §4) is one of the reports one may subscribe to, and the morning report
    carries yesterday's online payments once anything was paid."""
    from health_f0.accounting.tests.builders import paid_payment

    patient = Patient.objects.filter(account__isnull=False).first()
    paid_payment(
        patient=patient,
        facility=Facility.objects.get(code="TTYT-HD"),
        amount=150_000,
        paid_at=local(timezone.localdate() - timedelta(days=1), 9),
    )
    subscription = subscribe(persona, report="payments", fmt="html", name="Thanh toán hằng ngày")
    delivery = services.delivery_send_now(subscription=subscription, actor=persona("ttyt.lanhdao"))
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    html = smtp_server.messages[-1].get_body(("html",)).get_content()
    assert "Thanh toán trực tuyến" in html and "150.000 đ" in html and "VNPay" in html
    morning = ReportSubscription.objects.get(owner=persona("ttyt.lanhdao"), report="morning")
    services.delivery_send_now(subscription=morning, actor=persona("ttyt.lanhdao"))
    html = smtp_server.messages[-1].get_body(("html",)).get_content()
    assert "Thanh toán trực tuyến" in html and "150.000 đ" in html
