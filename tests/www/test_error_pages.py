"""Error pages are Vietnamese and helpful, even for a bad link from an SMS."""

from __future__ import annotations

from typing import Any


def test_404_page_is_vietnamese(client: Any, settings: Any, db: Any) -> None:
    settings.DEBUG = False
    response = client.get("/khong-co-trang-nay")
    assert response.status_code == 404
    assert "Không tìm thấy trang" in response.content.decode()
