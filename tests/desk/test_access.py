"""Who may enter the desk and what each persona sees there."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from tests.desk.conftest import change_url, pending

pytestmark = pytest.mark.django_db

QUEUE = "/desk/registration/registration/"


def test_station_staff_sees_only_their_station(desk: Any) -> None:
    client = desk("thanhdong.nv")
    html = client.get(QUEUE).content.decode()
    assert "Trần Thị Bích" in html and "Phạm Văn Cường" in html
    assert "Lê Thị Dung" not in html  # TYT-10532's registration

    other = pending("TYT-10532")
    response = client.get(change_url(other))
    assert response.status_code in (302, 404)
    assert "Lê Thị Dung" not in response.content.decode()
    # Nor can they act on it.
    response = client.post(
        reverse("admin:registration_registration_accept_action", args=[other.pk]), {"_form_submitted": "on"}
    )
    assert response.status_code in (302, 403, 404)
    other.refresh_from_db()
    assert other.status == "submitted"


def test_health_centre_manager_sees_all_its_stations(desk: Any) -> None:
    html = desk("ttyt.lanhdao").get(QUEUE).content.decode()
    assert "Trần Thị Bích" in html and "Lê Thị Dung" in html


def test_manager_sees_no_action_buttons(desk: Any) -> None:
    html = desk("ttyt.lanhdao").get(change_url(pending("TYT-10510"))).content.decode()
    assert "Trần Thị Bích" in html
    assert "tiep-nhan/" not in html and "tu-choi/" not in html


def test_patient_account_cannot_enter_the_desk(desk: Any) -> None:
    client = desk("bn0000001")
    for url in ("/desk/", QUEUE, "/desk/patients/patient/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/desk/login/")


def test_anonymous_is_sent_to_login(client: Any, demo: Any) -> None:
    response = client.get(QUEUE)
    assert response.status_code == 302 and "/desk/login/" in response["Location"]


def test_station_staff_cannot_open_the_audit_log(desk: Any) -> None:
    client = desk("thanhdong.nv")
    assert client.get("/desk/core/auditlog/").status_code == 403
    assert "Nhật ký truy cập" not in client.get(QUEUE).content.decode()  # not in the sidebar either


def test_manager_sees_only_the_audit_rows_of_their_subtree(desk: Any, persona: Any) -> None:
    def row(code: str, label: str) -> None:
        facility = Facility.objects.get(code=code)
        AuditLog.objects.create(
            actor_label="x",
            action="view",
            verb="view",
            target_type="t.t",
            target_id="1",
            target_repr=label,
            facility=facility,
        )

    row("SYT-31", "dong-cua-so-y-te")
    row("TYT-10532", "dong-cua-tram-le-thanh-nghi")
    html = desk("ttyt.lanhdao").get("/desk/core/auditlog/").content.decode()
    assert "dong-cua-tram-le-thanh-nghi" in html
    assert "dong-cua-so-y-te" not in html
    html = desk("syt.lanhdao").get("/desk/core/auditlog/").content.decode()
    assert "dong-cua-so-y-te" in html


def test_audit_log_is_read_only_even_for_superusers(desk: Any) -> None:
    client = desk("admin")
    row = AuditLog.objects.first()
    assert row is not None
    assert client.get("/desk/core/auditlog/add/").status_code == 403
    assert client.get(f"/desk/core/auditlog/{row.pk}/delete/").status_code == 403
    response = client.post(f"/desk/core/auditlog/{row.pk}/change/", {"verb": "tampered"})
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.verb != "tampered"


def test_users_are_for_administrators_only_and_hashes_never_shown(desk: Any, persona: Any) -> None:
    assert desk("ttyt.lanhdao").get("/desk/core/user/").status_code == 403
    assert desk("thanhdong.nv").get("/desk/core/user/").status_code == 403
    user = persona("thanhdong.nv")
    html = desk("admin").get(f"/desk/core/user/{user.pk}/change/").content.decode()
    assert "thanhdong.nv" in html
    assert "argon2" not in html and user.password not in html


def test_memberships_hidden_from_station_staff(desk: Any) -> None:
    assert desk("thanhdong.nv").get("/desk/facilities/membership/").status_code == 403
    html = desk("ttyt.lanhdao").get("/desk/facilities/membership/").content.decode()
    assert "lethanhnghi.nv" in html and "syt.lanhdao" not in html
