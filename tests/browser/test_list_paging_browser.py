"""The portal's keyset pages in a real browser (issue 11): the declaration history goes to page 2 by "Trang sau"
and back by "Trang trước" on a phone-sized screen; the links are reachable and accessible (axe), and a mangled
page link shows the first page with a notice."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from health_f0.monitoring.models import Declaration, Episode
from health_f0.monitoring.services import declaration_submit, reset_caches
from health_f0.patients.models import Patient
from health_f0.www import monitoring_views

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    reset_caches()


def login(page: Any, base: str, username: str = "bn0000001", password: str = "demo-2026") -> None:
    page.goto(base + "/dang-nhap")
    page.get_by_label("Tên tài khoản").fill(username)
    page.get_by_label(re.compile(r"^Mật khẩu")).fill(password)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.wait_for_url("**/ca-nhan")


def long_history(count: int) -> list[str]:
    """`count` declarations of hung's episode, 8 hours apart; their times as the history shows them."""
    hung = Patient.objects.get(account__username="bn0000001")
    episode = Episode.objects.get(patient=hung)
    newest, _ = declaration_submit(patient=hung, actor=None, answers={"temperature": "37,2", "spo2": "97"})
    rows = []
    for i in range(1, count):
        at = newest.submitted_at - timedelta(hours=8 * i)
        rows.append(
            Declaration(
                episode=episode,
                patient=hung,
                questionnaire_id=newest.questionnaire_id,
                submitted_at=at,
                local_date=timezone.localdate(at),
                answers={**newest.answers, "temperature": "36.9" if i % 5 else "38.4"},
                temperature=Decimal("36.9") if i % 5 else Decimal("38.4"),
                spo2=newest.spo2,
                alert_level=newest.alert_level,
                reasons=newest.reasons,
                idempotency_key=f"browser-list-{i}",
            )
        )
    Declaration.objects.bulk_create(rows)
    times = [newest.submitted_at] + [r.submitted_at for r in rows]
    return [timezone.localtime(t).strftime("%d/%m/%Y %H:%M") for t in times]


def shown_times(page: Any) -> list[str]:
    return [re.sub(r"\s+", " ", t.strip()) for t in page.locator(".history-item h3").all_inner_texts()]


def test_history_page_two_and_back(
    page: Any, live_server: Any, axe: Any, shoot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The live server runs in this process: a small page makes three pages of 12 declarations.
    monkeypatch.setattr(monitoring_views, "HISTORY_PER_PAGE", 5)
    times = long_history(12)
    base = live_server.url
    login(page, base)
    page.goto(base + "/lich-su")
    assert shown_times(page) == times[:5]
    assert page.locator("svg[role=img]").count() == 2
    pager = page.get_by_role("navigation", name="Chuyển trang")
    assert pager.is_visible() and pager.get_by_role("link", name=re.compile("Trang trước")).count() == 0
    assert axe(page) == []
    shoot(page, "list-01-history-page1")

    pager.get_by_role("link", name=re.compile("Trang sau")).click()
    page.wait_for_url("**/lich-su?trang=**")
    assert shown_times(page) == times[5:10]
    assert page.locator("svg[role=img]").count() == 0  # the charts stay on the first page
    assert page.get_by_role("link", name="Về trang đầu").is_visible()
    assert axe(page) == []
    shoot(page, "list-02-history-page2")

    pager = page.get_by_role("navigation", name="Chuyển trang")
    pager.get_by_role("link", name=re.compile("Trang sau")).click()
    page.wait_for_url("**/lich-su?trang=**")
    assert shown_times(page) == times[10:]
    assert pager.get_by_role("link", name=re.compile("Trang sau")).count() == 0

    page.get_by_role("navigation", name="Chuyển trang").get_by_role(
        "link", name=re.compile("Trang trước")
    ).click()
    assert shown_times(page) == times[5:10]
    page.get_by_role("navigation", name="Chuyển trang").get_by_role(
        "link", name=re.compile("Trang trước")
    ).click()
    assert shown_times(page) == times[:5]
    assert page.locator("svg[role=img]").count() == 2
    shoot(page, "list-03-history-back-to-page1")

    # A link cut short (or from an old bookmark) opens the first page with a notice.
    page.goto(base + "/lich-su?trang=eyJrIjpbIngi")
    notice = page.locator(".notice[role=status]")
    assert "Không mở được trang đã chọn" in notice.inner_text()
    assert shown_times(page) == times[:5]
    assert axe(page) == []
    shoot(page, "list-04-history-mangled-link")
