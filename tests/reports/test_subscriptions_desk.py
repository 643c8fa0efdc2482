# ruff: noqa: F811  (the smtp_server fixture is imported, then taken as an argument)
"""The desk pages of scheduled report e-mails: create (with the form's refusals), the one-click morning report,
"Gửi thử ngay" as a POST dialog over SMTP, the preview, and the deliveries list."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from health_f0.facilities.models import Facility
from health_f0.reports.subscriptions.models import DeliveryState, ReportDelivery, ReportSubscription
from tests.standins.smtp import SmtpStandIn, smtp_server  # noqa: F401  (fixture)

ADD = "admin:subscriptions_reportsubscription_add"
LIST = "admin:subscriptions_reportsubscription_changelist"


def desk(persona: Any, username: str) -> Client:
    client = Client()
    client.force_login(persona(username))
    return client


def _form(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Lịch hẹn hằng tuần",
        "report": "appointments",
        "facility": Facility.objects.get(code="TTYT-HD").pk,
        "period": "weekly",
        "format": "xlsx",
        "send_time": "06:30",
        "recipients": "",
        "is_active": "on",
        **fields,
    }


def test_a_manager_creates_a_subscription(demo: Any, persona: Any) -> None:
    client = desk(persona, "ttyt.lanhdao")
    assert client.get(reverse(ADD)).status_code == 200
    response = client.post(reverse(ADD), _form())
    assert response.status_code == 302, response.content.decode()[:3000]
    created = ReportSubscription.objects.get(name="Lịch hẹn hằng tuần")
    assert created.owner == persona("ttyt.lanhdao") and created.send_time.strftime("%H:%M") == "06:30"


def test_the_form_explains_a_refusal(demo: Any, persona: Any) -> None:
    client = desk(persona, "ttyt.lanhdao")
    response = client.post(reverse(ADD), _form(recipients="ai.do@gmail.com"))
    assert response.status_code == 200
    assert "Không gửi báo cáo ra ngoài" in response.content.decode()
    # A facility outside the owner's lead is not even a choice.
    response = client.post(reverse(ADD), _form(facility=Facility.objects.get(code="SYT-31").pk))
    assert (
        response.status_code == 200
        and not ReportSubscription.objects.filter(name="Lịch hẹn hằng tuần").exists()
    )


def test_one_click_morning_report(demo: Any, persona: Any) -> None:
    ReportSubscription.objects.all().delete()
    client = desk(persona, "ttyt.lanhdao")
    url = reverse("admin:subscriptions_reportsubscription_default_action")
    assert client.get(url).status_code == 200  # the dialog; nothing created by a GET
    assert not ReportSubscription.objects.exists()
    response = client.post(url, {"_form_submitted": "True"})
    assert response.status_code in (200, 302)
    morning = ReportSubscription.objects.get(owner=persona("ttyt.lanhdao"))
    assert (morning.report, morning.facility.code, morning.send_time.strftime("%H:%M")) == (
        "morning",
        "TTYT-HD",
        "07:00",
    )


def test_send_now_is_a_post_and_shows_the_delivery(demo: Any, persona: Any, smtp_server: SmtpStandIn) -> None:
    morning = ReportSubscription.objects.get(owner=persona("ttyt.lanhdao"), report="morning")
    client = desk(persona, "ttyt.lanhdao")
    url = reverse("admin:subscriptions_reportsubscription_send_now_action", args=[morning.pk])
    client.get(url)
    assert not ReportDelivery.objects.exists() and smtp_server.envelopes == []
    client.post(url, {"_form_submitted": "True"})
    delivery = ReportDelivery.objects.get(subscription=morning)
    assert delivery.state == DeliveryState.SENT and delivery.requested_by == persona("ttyt.lanhdao")
    assert len(smtp_server.envelopes) == 1
    page = client.get(
        reverse("admin:subscriptions_reportsubscription_change", args=[morning.pk])
    ).content.decode()
    assert "Đã gửi" in page and "Gửi thử bởi ttyt.lanhdao" in page
    listing = client.get(reverse("admin:subscriptions_reportdelivery_changelist")).content.decode()
    assert "Đã gửi" in listing and "Gửi thử ngay (ttyt.lanhdao)" in listing
    preview = client.get(reverse("admin:subscriptions_reportsubscription_preview_action", args=[morning.pk]))
    assert preview.status_code == 200 and "Đặt lịch khám" in preview.content.decode()
    assert len(smtp_server.envelopes) == 1  # the preview sends nothing


def test_deleting_is_audited_and_reads_in_words(demo: Any, persona: Any) -> None:
    from health_f0.core.audit import audit_describe
    from health_f0.core.models import AuditLog

    morning = ReportSubscription.objects.get(owner=persona("ttyt.lanhdao"), report="morning")
    client = desk(persona, "ttyt.lanhdao")
    url = reverse("admin:subscriptions_reportsubscription_delete", args=[morning.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not ReportSubscription.objects.filter(pk=morning.pk).exists()
    row = AuditLog.objects.get(verb="report_subscription_delete", target_id=str(morning.pk))
    assert audit_describe(row).verb == "Xoá đăng ký nhận báo cáo"
