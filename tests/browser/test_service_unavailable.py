"""The page a patient sees while the database is away (issue 14 item 5): Vietnamese, calm, the emergency
number, a retry link; readable on a 390 px phone and at 200 % zoom; served as 503 with Retry-After."""

from __future__ import annotations

from typing import Any

from django.db import connection


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert width <= 1, width


def test_the_503_page_while_the_database_is_away(page: Any, live_server: Any, axe: Any, shoot: Any) -> None:
    # The live server's threads open their connections from this same settings dictionary: point it at a
    # port where nothing listens, so every request finds the database away.
    connection.close()
    saved = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = "1"
    try:
        response = page.goto(f"{live_server.url}/huong-dan")
        assert response is not None and response.status == 503
        assert int(response.headers["retry-after"]) > 0
        assert page.get_by_role("heading", name="Hệ thống tạm thời gián đoạn", level=1).is_visible()
        assert page.get_by_text("gọi ngay 115").is_visible()
        assert page.get_by_role("link", name="Thử lại").get_attribute("href") == "/huong-dan"
        assert axe(page) == []
        _no_sideways_scroll(page)
        shoot(page, "service-unavailable-503")
        page.set_viewport_size({"width": 195, "height": 844})  # a 390 px phone at 200 % zoom
        _no_sideways_scroll(page)
        shoot(page, "service-unavailable-503-zoom200")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved
