"""The outbox list shows its backlog: the oldest waiting SMS, its age and how many wait, and the red label
an administrator sees on every desk page while the outbox alert is open (issue 14)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from health_f0.facilities.models import Facility, FacilityKind
from health_f0.notifications.models import OutboxMessage
from health_f0.notifications.services import outbox_age_check
from tests.browser.test_desk_journeys import desk_session

pytestmark = pytest.mark.browser


def test_administrator_sees_the_late_outbox(browser: Any, live_server: Any, seeded: None, shoot: Any) -> None:
    station = Facility.objects.filter(kind=FacilityKind.STATION).order_by("path").first()
    stuck = OutboxMessage.objects.create(
        kind="reminder",
        to="+84912345678",
        body="Nhac khai bao",
        facility=station,
        next_attempt_at=timezone.now(),
    )
    OutboxMessage.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(minutes=95))
    for n in range(3):
        OutboxMessage.objects.create(
            kind="generic", to=f"+8491234560{n}", body="x", facility=station, next_attempt_at=timezone.now()
        )
    assert outbox_age_check() == "raised"

    with desk_session(browser, live_server.url, "admin") as page:
        page.goto(live_server.url + "/desk/notifications/outboxmessage/")
        box = page.get_by_test_id("outbox-backlog")
        expect(box).to_contain_text("Tin chờ gửi lâu nhất đã chờ 1 giờ 35 phút")
        expect(box).to_contain_text("Quá ngưỡng cảnh báo 10 phút")
        expect(page.get_by_text("SMS chậm: tin chờ lâu nhất 95 phút")).to_be_visible()
        shoot(page, "desk-outbox-backlog")
        box.get_by_role("link").click()
        expect(page).to_have_url(f"{live_server.url}/desk/notifications/outboxmessage/{stuck.pk}/change/")
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(live_server.url + "/desk/notifications/outboxmessage/")
        shoot(page, "desk-outbox-backlog-phone")
