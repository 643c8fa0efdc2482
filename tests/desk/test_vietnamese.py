"""The desk is in Vietnamese, including django-unfold's own labels (which ship without a Vietnamese catalogue)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse


def test_login_page_in_vietnamese(client: Any, demo: Any) -> None:
    html = client.get("/desk/login/", HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert "Chào mừng bạn trở lại" in html and "Welcome back" not in html


def test_changelist_labels_in_vietnamese(desk: Any) -> None:
    html = desk("thanhdong.nv").get(reverse("admin:registration_registration_changelist")).content.decode()
    assert "Tìm chức năng..." in html and "Search apps and models" not in html
