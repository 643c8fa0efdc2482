"""API hardening: no CDN in the docs page, issued passwords must be changed, token use recorded."""

from __future__ import annotations

from health_f0.api.models import ApiToken


def test_docs_page_uses_no_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    assert "/static/drf_spectacular_sidecar/" in html


def test_staff_on_issued_password_is_refused(as_user, persona):
    user = persona("thanhdong.nv")
    user.must_change_password = True
    user.save()
    response = as_user("thanhdong.nv").get("/api/v1/registrations")
    assert response.status_code == 403
    assert "đổi mật khẩu" in response.json()["detail"]


def test_token_last_used_is_recorded(as_user):
    client = as_user("thanhdong.nv")
    assert client.get("/api/v1/me").status_code == 200
    assert ApiToken.objects.get().last_used_at is not None


def test_bad_uuid_is_not_found(as_user):
    assert as_user("thanhdong.nv").get("/api/v1/registrations/not-a-uuid").status_code == 404
