"""Issue 9 item 7: the station's queue puts the sickest first and accepting them into home care is a decision
made on purpose.

The rule lives in the selector (order: severity, then the oldest first) and in the service (an accept of a
"needs a doctor's review" or "should go to a treatment facility" registration needs an explicit confirmation);
the desk, the bulk action, the API and the sidebar count only show it."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from health_f0.api.services import api_token_issue
from health_f0.core.exceptions import DomainError
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.registration import selectors
from health_f0.registration.models import Channel, Registration
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    registration_accept,
    registration_bulk_accept,
    registration_create_by_staff,
    registration_validate,
)
from tests.desk.conftest import action_url

pytestmark = pytest.mark.django_db

QUEUE = "/desk/registration/registration/"


def _input(**overrides: Any) -> RegistrationInput:
    values: dict[str, Any] = {
        "full_name": "Nguyễn Thị Mai",
        "date_of_birth": date(1992, 5, 1),
        "sex": "female",
        "phone": "0977 000 333",
        "province_code": 31,
        "ward_code": 10510,
        "test_type": "rapid",
        "positive_date": timezone.localdate() - timedelta(days=1),
        "care": "self_care",
        "consent": True,
        "spo2": 98,
        "breathing_rate": 16,
        "vaccine_doses": 2,
    }
    values.update(overrides)
    return RegistrationInput(**values)


def _queued(name: str, phone: str, *, hours_ago: float, **screening: Any) -> Registration:
    data = registration_validate(_input(full_name=name, phone=phone, **screening))
    registration = _create(
        data, channel=Channel.WEB, facility=Facility.objects.get(code="TYT-10510"), actor=None
    )
    Registration.objects.filter(pk=registration.pk).update(
        created_at=timezone.now() - timedelta(hours=hours_ago)
    )
    registration.refresh_from_db()
    return registration


@pytest.fixture
def queue(demo: Any) -> dict[str, Registration]:
    """At Thành Đông: a well person waiting 5 hours, a moderate case 3 hours, a SpO2 92 case 1 hour."""
    return {
        "eligible": _queued("Trần Văn Khoẻ", "0977 000 401", hours_ago=5),
        "review": _queued("Lê Thị Vừa", "0977 000 402", hours_ago=3, spo2=95),
        "hospital": _queued("Phạm Văn Nặng", "0977 000 403", hours_ago=1, spo2=92),
    }


# --- the selector -----------------------------------------------------------------------------------------


def test_the_queue_is_ordered_by_severity_then_oldest_first(
    queue: dict[str, Registration], persona: Any
) -> None:
    assert queue["hospital"].eligibility == "hospital" and queue["review"].eligibility == "review"
    rows = list(selectors.registration_queue(user=persona("thanhdong.nv"), status="submitted"))
    order = [r.pk for r in rows]
    assert (
        order.index(queue["hospital"].pk)
        < order.index(queue["review"].pk)
        < order.index(queue["eligible"].pk)
    )
    # Within one severity, the one waiting longest comes first (the demo's review case waits less than 3 h).
    severities = [r.eligibility for r in rows]
    assert severities == sorted(severities, key=["hospital", "review", "eligible"].index)
    for severity in ("hospital", "review", "eligible"):
        same = [r.created_at for r in rows if r.eligibility == severity]
        assert same == sorted(same)


def test_waiting_registrations_come_before_decided_ones(queue: dict[str, Registration], persona: Any) -> None:
    nurse = persona("thanhdong.nv")
    registration_accept(registration=queue["eligible"], actor=nurse)
    rows = list(selectors.registration_queue(user=nurse))
    statuses = [r.status for r in rows]
    assert statuses.index("accepted") > max(i for i, s in enumerate(statuses) if s == "submitted")


def test_the_priority_count_is_scoped_and_counts_only_waiting_review_and_hospital_cases(
    queue: dict[str, Registration], persona: Any
) -> None:
    nurse = persona("thanhdong.nv")
    # The demo queue of Thành Đông has one review case already (SpO2 95, 78 years old).
    assert selectors.priority_waiting_count(user=nurse) == 3
    assert selectors.priority_waiting_count(user=persona("lethanhnghi.nv")) == 0
    assert selectors.priority_waiting_count(user=persona("ttyt.lanhdao")) == 3
    assert selectors.priority_waiting_count(user=persona("datlich")) == 0
    registration_accept(registration=queue["hospital"], actor=nurse, confirm_risk=True)
    assert selectors.priority_waiting_count(user=nurse) == 2


def test_the_desk_badge_costs_no_query_until_a_registration_changes(
    queue: dict[str, Registration], persona: Any, django_assert_num_queries: Any
) -> None:
    nurse = persona("thanhdong.nv")
    assert selectors.priority_badge_count(user=nurse) == 3
    with django_assert_num_queries(0):
        assert selectors.priority_badge_count(user=nurse) == 3
    registration_accept(registration=queue["review"], actor=nurse, confirm_risk=True)
    assert selectors.priority_badge_count(user=nurse) == 2
    # Another scope has its own count.
    assert selectors.priority_badge_count(user=persona("lethanhnghi.nv")) == 0
    _queued("Vũ Thị Sốt", "0977 000 404", hours_ago=0, spo2=90)
    assert selectors.priority_badge_count(user=nurse) == 3


# --- the service ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("severity", ["review", "hospital"])
def test_accepting_a_review_or_hospital_case_needs_an_explicit_confirmation(
    queue: dict[str, Registration], persona: Any, severity: str
) -> None:
    registration = queue[severity]
    with pytest.raises(DomainError) as exc:
        registration_accept(registration=registration, actor=persona("thanhdong.nv"))
    assert exc.value.code == "risk_confirmation_required" and exc.value.field == "confirm_risk"
    assert exc.value.status_code == 400
    assert registration.get_eligibility_display() in exc.value.message
    assert registration.eligibility_reasons[0] in exc.value.message
    registration.refresh_from_db()
    assert registration.status == "submitted" and registration.patient_id is None

    accepted = registration_accept(
        registration=registration, actor=persona("thanhdong.nv"), confirm_risk=True
    )
    assert accepted.status == "accepted"
    row = AuditLog.objects.get(verb="accept", target_id=str(registration.pk))
    assert row.data["risk_confirmed"] == severity


def test_an_eligible_case_needs_no_confirmation(queue: dict[str, Registration], persona: Any) -> None:
    accepted = registration_accept(registration=queue["eligible"], actor=persona("thanhdong.nv"))
    assert accepted.status == "accepted"
    assert "risk_confirmed" not in AuditLog.objects.get(verb="accept", target_id=str(accepted.pk)).data


def test_bulk_accept_without_confirmation_accepts_only_the_eligible(
    queue: dict[str, Registration], persona: Any
) -> None:
    accepted, errors = registration_bulk_accept(
        registrations=list(queue.values()), actor=persona("thanhdong.nv")
    )
    assert accepted == 1 and len(errors) == 2
    assert all("xác nhận" in error for error in errors)
    statuses = dict(
        Registration.objects.filter(pk__in=[r.pk for r in queue.values()]).values_list("pk", "status")
    )
    assert statuses[queue["eligible"].pk] == "accepted"
    assert statuses[queue["hospital"].pk] == statuses[queue["review"].pk] == "submitted"
    accepted, errors = registration_bulk_accept(
        registrations=[queue["hospital"], queue["review"]], actor=persona("thanhdong.nv"), confirm_risk=True
    )
    assert (accepted, errors) == (2, [])


def test_direct_entry_of_a_hospital_case_needs_the_confirmation_too(demo: Any, persona: Any) -> None:
    station = Facility.objects.get(code="TYT-10510")
    with pytest.raises(DomainError) as exc:
        registration_create_by_staff(data=_input(spo2=91), actor=persona("thanhdong.nv"), station=station)
    assert exc.value.code == "risk_confirmation_required"
    assert not Registration.objects.filter(phone="+84977000333").exists()
    registration = registration_create_by_staff(
        data=_input(spo2=91), actor=persona("thanhdong.nv"), station=station, confirm_risk=True
    )
    assert registration.status == "accepted" and registration.eligibility == "hospital"


# --- the desk ---------------------------------------------------------------------------------------------


def _desk(persona: Any, username: str) -> Client:
    client = Client()
    client.force_login(persona(username))
    return client


def test_the_desk_queue_shows_the_sickest_first_and_marks_them(
    queue: dict[str, Registration], persona: Any
) -> None:
    html = _desk(persona, "thanhdong.nv").get(QUEUE, {"status__exact": "submitted"}).content.decode()
    positions = [html.index(queue[k].full_name) for k in ("hospital", "review", "eligible")]
    assert positions == sorted(positions)
    # The marker the row highlight hangs on, and words for those who do not see colours.
    assert html.count('data-priority="hospital">') == 1 and html.count('data-priority="review">') == 2
    assert "Ưu tiên" in html
    assert 'tr.data-row:has([data-priority="hospital"])' in html  # the row style


def test_the_accept_dialog_warns_and_refuses_without_the_tick(
    queue: dict[str, Registration], persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = _desk(persona, "thanhdong.nv")
    registration = queue["hospital"]
    dialog = client.get(action_url(registration, "accept_action")).content.decode()
    assert "Nên chuyển cơ sở điều trị" in dialog and "SpO2 92%" in dialog
    assert 'name="confirm_risk"' in dialog
    response = client.post(action_url(registration, "accept_action"), {"_form_submitted": "on"})
    assert response.status_code == 200  # the dialog again, with the error next to the tick box
    assert "Hãy xem lại và đánh dấu xác nhận" in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == "submitted"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            action_url(registration, "accept_action"), {"_form_submitted": "on", "confirm_risk": "on"}
        )
    registration.refresh_from_db()
    assert registration.status == "accepted"
    assert sms.last(to=registration.phone, kind="account")


def test_the_accept_dialog_of_an_eligible_case_has_no_tick_box(
    queue: dict[str, Registration], persona: Any
) -> None:
    dialog = (
        _desk(persona, "thanhdong.nv").get(action_url(queue["eligible"], "accept_action")).content.decode()
    )
    assert 'name="confirm_risk"' not in dialog


def test_bulk_accept_asks_first_when_a_review_or_hospital_case_is_selected(
    queue: dict[str, Registration], persona: Any
) -> None:
    client = _desk(persona, "thanhdong.nv")
    ids = [r.pk for r in queue.values()]
    page = client.post(QUEUE, {"action": "bulk_accept", "_selected_action": ids, "index": 0})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Xác nhận tiếp nhận" in html
    assert queue["hospital"].full_name in html and "Nên chuyển cơ sở điều trị" in html
    assert Registration.objects.filter(pk__in=ids, status="submitted").count() == 3  # nothing done yet
    # Sent again without the tick: still the question, nothing done.
    again = client.post(
        QUEUE, {"action": "bulk_accept", "_selected_action": ids, "index": 0, "confirming": "1"}
    )
    assert "Hãy đánh dấu xác nhận" in again.content.decode()
    assert Registration.objects.filter(pk__in=ids, status="submitted").count() == 3
    done = client.post(
        QUEUE,
        {
            "action": "bulk_accept",
            "_selected_action": ids,
            "index": 0,
            "confirming": "1",
            "confirm_risk": "on",
        },
        follow=True,
    )
    assert "Đã tiếp nhận 3 hồ sơ" in done.content.decode()


def test_every_desk_page_shows_station_staff_the_count_of_priority_cases(
    queue: dict[str, Registration], persona: Any
) -> None:
    for url in (QUEUE, "/desk/patients/patient/", "/desk/monitoring/episode/"):
        response = _desk(persona, "thanhdong.nv").get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        item = re.search(r"Ca cần ưu tiên.{0,1200}", html, re.S)
        assert item is not None, url
        assert re.search(r">\s*3\s*<", item.group(0)), url
    # No queue, no count (and no query for one).
    assert "Ca cần ưu tiên" not in _desk(persona, "datlich").get("/desk/", follow=True).content.decode()


# --- the API ----------------------------------------------------------------------------------------------


def test_the_api_lists_by_severity_and_accepts_with_the_flag(
    queue: dict[str, Registration], persona: Any
) -> None:
    raw, _ = api_token_issue(user=persona("thanhdong.nv"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    rows = client.get("/api/v1/registrations", {"status": "submitted"}).json()["results"]
    assert [row["eligibility"] for row in rows][:2] == ["hospital", "review"]
    url = f"/api/v1/registrations/{queue['hospital'].public_id}/accept"
    refused = client.post(url, {}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "risk_confirmation_required"
    assert client.post(url, {"confirm_risk": "maybe"}, format="json").status_code == 400
    accepted = client.post(url, {"confirm_risk": True}, format="json")
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["status"] == "accepted"
    # An eligible case still accepts with no body at all.
    assert client.post(f"/api/v1/registrations/{queue['eligible'].public_id}/accept").status_code == 200


def test_direct_entry_at_the_desk_asks_for_the_tick_next_to_it(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = _desk(persona, "thanhdong.nv")
    data = {
        "station": Facility.objects.get(code="TYT-10510").pk,
        "relation": "self",
        "full_name": "Đỗ Văn Nặng",
        "date_of_birth": "02/03/1961",
        "sex": "male",
        "phone": "0355 111 999",
        "province_code": 31,
        "ward_code": 10510,
        "test_type": "rt_pcr",
        "positive_date": timezone.localdate().strftime("%d/%m/%Y"),
        "spo2": 91,
        "breathing_rate": 18,
        "vaccine_doses": 3,
        "care": "self_care",
        "can_phone": "on",
        "conditions_stable": "on",
        "consent": "on",
    }
    response = client.post("/desk/registration/registration/add/", data)
    assert response.status_code == 200
    assert "Hãy xem lại và đánh dấu xác nhận" in response.content.decode()
    assert not Registration.objects.filter(full_name="Đỗ Văn Nặng").exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/desk/registration/registration/add/", {**data, "confirm_risk": "on"})
    assert response.status_code == 302
    assert Registration.objects.get(full_name="Đỗ Văn Nặng").status == "accepted"


def test_the_stored_queue_columns_follow_status_eligibility_and_decision(
    queue: dict[str, Registration], persona: Any
) -> None:
    """Registration.queue_rank and .decided_sort are generated by MariaDB from the row: they must say what
    selectors.queue_rank() and "decided most recently first, undecided last" say, before and after a decision,
    so the queue read from the index (reg_queue_order) is the queue's order."""
    from health_f0.core.keyset import NO_TIME, time_key
    from health_f0.registration.eligibility import BY_SEVERITY
    from health_f0.registration.models import QUEUE_SEVERITY

    assert QUEUE_SEVERITY == BY_SEVERITY

    nurse = persona("thanhdong.nv")
    registration_accept(registration=queue["eligible"], actor=nurse)
    rows = Registration.objects.annotate(
        expected_rank=selectors.queue_rank(), expected_sort=time_key("decided_at")
    ).values_list("queue_rank", "expected_rank", "decided_sort", "expected_sort", "status")
    assert rows and {status for *_, status in rows} >= {"submitted", "accepted"}
    for rank, expected_rank, decided_sort, expected_sort, _status in rows:
        assert (rank, decided_sort) == (expected_rank, expected_sort)
    accepted = Registration.objects.get(pk=queue["eligible"].pk)
    assert accepted.queue_rank == 3 and accepted.decided_sort == accepted.decided_at
    assert Registration.objects.get(pk=queue["hospital"].pk).decided_sort == NO_TIME
