# ruff: noqa: F811  (the smtp_server fixture is imported, then taken as an argument)
"""Scheduled report e-mails in the desk (issue 13 §5): a TTYT director creates a subscription, sends it now,
and sees the delivery as sent — the local SMTP server got it; the e-mail's HTML body and the desk pages are
screenshotted (var/screenshots/subscriptions-*.png)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from health_f0.reports.subscriptions.models import DeliveryState, ReportDelivery, ReportSubscription
from tests.browser.test_desk_journeys import desk_session
from tests.standins.smtp import SmtpStandIn, smtp_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def test_subscribe_send_now_and_see_it_sent(
    browser: Any, live_server: Any, seeded: None, shoot: Any, smtp_server: SmtpStandIn
) -> None:
    base = live_server.url
    with desk_session(browser, base, "ttyt.lanhdao") as page:
        page.goto(base + "/desk/subscriptions/reportsubscription/")
        expect(page.get_by_text("Báo cáo sáng — Trung tâm Y tế khu vực Hải Dương")).to_be_visible()
        shoot(page, "subscriptions-01-list")

        page.goto(base + "/desk/subscriptions/reportsubscription/add/")
        page.get_by_label("Tên").fill("Lịch hẹn hằng tuần")
        page.get_by_label("Báo cáo").select_option(label="Báo cáo lịch hẹn khám")
        page.get_by_label("Phạm vi (cơ sở)").select_option(label="Trung tâm Y tế khu vực Hải Dương")
        page.get_by_label("Chu kỳ").select_option("weekly")
        page.get_by_label("Định dạng").select_option("xlsx")
        page.get_by_label("Giờ gửi").fill("06:30")
        shoot(page, "subscriptions-02-add")
        page.get_by_role("button", name=re.compile("^Lưu$")).first.click()
        page.wait_for_url(re.compile(r"/desk/subscriptions/reportsubscription/(\?.*)?$"))
        subscription = ReportSubscription.objects.get(name="Lịch hẹn hằng tuần")

        page.goto(base + f"/desk/subscriptions/reportsubscription/{subscription.pk}/change/")
        page.get_by_role("link", name=re.compile("Gửi thử ngay")).first.click()
        dialog = page.locator("#dialog")
        dialog.wait_for()
        shoot(page, "subscriptions-03-send-now-dialog")
        dialog.get_by_role("button", name="Gửi ngay").click()
        expect(page.get_by_text(re.compile("Đã gửi báo cáo tới ttyt.lanhdao@"))).to_be_visible()
        expect(page.get_by_text("Gửi thử bởi ttyt.lanhdao")).to_be_visible()
        shoot(page, "subscriptions-04-sent")

        assert len(smtp_server.envelopes) == 1
        delivery = ReportDelivery.objects.get(subscription=subscription)
        assert delivery.state == DeliveryState.SENT
        assert next(smtp_server.messages[0].iter_attachments()).get_filename().endswith(".xlsx")

        page.goto(base + "/desk/subscriptions/reportdelivery/")
        expect(page.get_by_text("Gửi thử ngay (ttyt.lanhdao)")).to_be_visible()
        shoot(page, "subscriptions-05-deliveries")

        morning = ReportSubscription.objects.get(owner__username="ttyt.lanhdao", report="morning")
        page.goto(base + f"/desk/subscriptions/reportsubscription/{morning.pk}/change/")
        shoot(page, "subscriptions-06-morning")
        page.get_by_role("link", name=re.compile("Xem trước e-mail")).first.click()
        page.wait_for_url(re.compile("xem-truoc"))
        shoot(page, "subscriptions-07-preview")

        # The morning report sent for real, its HTML body rendered as a mail client would.
        page.goto(base + f"/desk/subscriptions/reportsubscription/{morning.pk}/change/")
        page.get_by_role("link", name=re.compile("Gửi thử ngay")).first.click()
        page.locator("#dialog").get_by_role("button", name="Gửi ngay").click()
        expect(page.get_by_text(re.compile("Đã gửi báo cáo tới"))).to_be_visible()
        html = smtp_server.messages[-1].get_body(("html",)).get_content()
        assert "Báo cáo sáng" in html and "Liên kết tài khoản với HIS" in html
        page.set_viewport_size({"width": 720, "height": 900})
        page.set_content(html)
        shoot(page, "subscriptions-08-morning-email")
