"""Desk pages that answered 500 on a GET: never a 500, every page a 200 or a clear 4xx.

- django-axes' login logs (/desk/axes/...) on MariaDB without time-zone tables: the admin's date hierarchy
  used CONVERT_TZ, which gives NULL there. The desk's copy has no date hierarchy, is read-only and is for
  superusers and administrators only.
- The province policy and guidance detail pages for a manager who may read but not change them (the form
  lost its fields, a KeyError).
- The privacy "add request" page for the superuser: requests are made by patients in the portal.
"""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from health_f0.facilities.models import Facility, Membership, Role
from health_f0.monitoring.models import GuidanceDocument, ProvincePolicy

pytestmark = pytest.mark.django_db

AXES_MODELS = (AccessAttempt, AccessLog, AccessFailureLog)


@pytest.fixture
def login_rows(demo: Any) -> dict[type, Any]:
    """One row of each django-axes log."""
    common = {
        "user_agent": "Mozilla/5.0",
        "ip_address": "203.0.113.7",
        "username": "thanhdong.nv",
        "http_accept": "text/html",
        "path_info": "/desk/login/",
    }
    return {
        AccessAttempt: AccessAttempt.objects.create(
            **common, get_data="", post_data="username=thanhdong.nv", failures_since_start=2
        ),
        AccessLog: AccessLog.objects.create(**common),
        AccessFailureLog: AccessFailureLog.objects.create(**common, locked_out=False),
    }


@pytest.fixture
def province_config(demo: Any) -> tuple[ProvincePolicy, GuidanceDocument]:
    """The demo province's policy and one guidance document."""
    policy, _ = ProvincePolicy.objects.get_or_create(province_code=31, defaults={"reminder_times": ["08:00"]})
    document = GuidanceDocument.objects.create(
        title="Hướng dẫn tự theo dõi tại nhà", summary="Đo SpO2 hai lần mỗi ngày.", body="Nội dung.", order=1
    )
    return policy, document


def _url(model: type, view: str, *args: Any) -> str:
    return reverse(f"admin:axes_{model._meta.model_name}_{view}", args=args)


def test_superuser_reads_the_login_logs(desk: Any, login_rows: dict[type, Any]) -> None:
    client = desk("admin")
    for model, row in login_rows.items():
        response = client.get(_url(model, "changelist"))
        assert response.status_code == 200, model
        assert "203.0.113.7" in response.content.decode()
        response = client.get(_url(model, "change", row.pk))
        assert response.status_code == 200, model
        assert "203.0.113.7" in response.content.decode()
        # A date-hierarchy link (year/month drill-down) answers as well (it used CONVERT_TZ too).
        year = row.attempt_time.year
        assert client.get(_url(model, "changelist"), {"attempt_time__year": year}).status_code in (200, 302)


def test_login_logs_are_read_only(desk: Any, login_rows: dict[type, Any]) -> None:
    client = desk("admin")
    for model, row in login_rows.items():
        assert client.get(_url(model, "add")).status_code == 403, model
        assert client.get(_url(model, "delete", row.pk)).status_code == 403, model
        html = client.get(_url(model, "change", row.pk)).content.decode()
        assert 'name="_save"' not in html, model
        response = client.post(_url(model, "change", row.pk), {"username": "x", "path_info": "/"})
        assert response.status_code == 403, model
        row.refresh_from_db()
        assert row.username == "thanhdong.nv"
        # No bulk action (django-axes' "clean up expired attempts") either.
        response = client.post(
            _url(model, "changelist"), {"action": "delete_selected", "_selected_action": [row.pk]}
        )
        assert response.status_code in (200, 302, 403)
        assert model.objects.filter(pk=row.pk).exists()


def test_login_logs_are_for_administrators_only(desk: Any, persona: Any, login_rows: dict[type, Any]) -> None:
    for username in ("syt.lanhdao", "ttyt.lanhdao", "thanhdong.nv"):
        client = desk(username)
        for model, row in login_rows.items():
            assert client.get(_url(model, "changelist")).status_code == 403, (username, model)
            assert client.get(_url(model, "change", row.pk)).status_code == 403, (username, model)
    # An administrator who is not a superuser reads them.
    user = get_user_model().objects.create_user(username="quantri.tinh", password="x", is_staff=True)
    Membership.objects.create(
        user=user, facility=Facility.objects.get(code="SYT-31"), role=Role.ADMINISTRATOR
    )
    client = desk("quantri.tinh")
    for model, row in login_rows.items():
        assert client.get(_url(model, "changelist")).status_code == 200, model
        assert client.get(_url(model, "change", row.pk)).status_code == 200, model


def test_manager_reads_province_policy_and_guidance(
    desk: Any, province_config: tuple[ProvincePolicy, GuidanceDocument]
) -> None:
    client = desk("ttyt.lanhdao")
    policy, document = province_config
    url = reverse("admin:monitoring_provincepolicy_change", args=[policy.pk])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert policy.declaration_deadline.strftime("%H:%M") in html
    # The reminder times as typed, not as the stored JSON list.
    assert "08:00" in html and "&quot;08:00&quot;" not in html and '"08:00"' not in html
    assert 'name="_save"' not in html
    # Reading is not changing.
    assert client.post(url, {"province_code": policy.province_code}).status_code == 403

    url = reverse("admin:monitoring_guidancedocument_change", args=[document.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert document.title in response.content.decode()
    assert 'name="_save"' not in response.content.decode()
    assert client.post(url, {"title": "x"}).status_code == 403


def test_department_staff_still_edit_province_policy(
    desk: Any, province_config: tuple[ProvincePolicy, GuidanceDocument]
) -> None:
    policy, _ = province_config
    for username in ("admin", "syt.lanhdao"):
        response = desk(username).get(reverse("admin:monitoring_provincepolicy_change", args=[policy.pk]))
        assert response.status_code == 200
        assert 'name="_save"' in response.content.decode()


def test_privacy_requests_are_not_added_in_the_desk(desk: Any) -> None:
    for username in ("admin", "syt.lanhdao", "thanhdong.truong"):
        client = desk(username)
        assert client.get(reverse("admin:privacy_datasubjectrequest_add")).status_code == 403, username
        response = client.get(reverse("admin:privacy_datasubjectrequest_changelist"))
        assert response.status_code in (200, 403), username
        assert reverse("admin:privacy_datasubjectrequest_add") not in response.content.decode()


@pytest.mark.parametrize("model", ["hislink", "importrun"])
def test_his_links_and_import_runs_have_no_add_form_even_for_the_superuser(model: str, persona: Any) -> None:
    """Links are made through the link queue and imports through the upload page: the desk offered a superuser
    an "Add" form whose every field was read-only."""
    client = Client()
    client.force_login(persona("admin"))
    assert client.get(f"/desk/his/{model}/add/").status_code == 403
