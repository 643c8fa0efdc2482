"""Error pages are Vietnamese and helpful, even for a bad link from an SMS."""

from __future__ import annotations

from typing import Any


def test_404_page_is_vietnamese(client: Any, settings: Any, db: Any) -> None:
    settings.DEBUG = False
    response = client.get("/khong-co-trang-nay")
    assert response.status_code == 404
    assert "Không tìm thấy trang" in response.content.decode()


def test_404_page_names_the_province_and_its_hotline(client: Any, settings: Any, demo: Any) -> None:
    settings.DEBUG = False
    page = client.get("/lich-hen/khong-phai-ma").content.decode()
    assert "Sở Y tế thành phố Hải Phòng" in page and 'href="tel:02253842000"' in page
