"""The registrations desk list renders its per-column work once a page, not once a row (issue 11): unfold works
out every column header again for each row it renders (unfold_list.items_for_result -> result_headers: the
labels, three sort links per column, the "select all" checkbox widget); QueueChangeList keeps the first."""

from __future__ import annotations

from typing import Any

import pytest
from unfold.templatetags import unfold_list

from health_f0.registration.models import Eligibility, Registration, RegistrationStatus
from tests.desk.test_worklist_queries import QUEUE, _registrations

pytestmark = pytest.mark.django_db


def test_queue_headers_are_worked_out_once_a_page(desk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _registrations(0, 7)
    client = desk("thanhdong.nv")
    asked: list[str] = []
    label_for_field = unfold_list.label_for_field

    def counting(name: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(name)
        return label_for_field(name, *args, **kwargs)

    monkeypatch.setattr(unfold_list, "label_for_field", counting)
    response = client.get(QUEUE)
    assert response.status_code == 200
    rows = len(response.context["cl"].result_list)
    assert rows >= 7
    assert asked.count("name_col") == 1  # unfold alone: once for the table head, once more per row
    html = response.content.decode()
    assert html.count('id="action-toggle"') == 1
    assert html.count('data-label="họ và tên"') == rows
    assert html.count('name="_selected_action"') == rows


def test_queue_badges_carry_each_rows_status_and_assessment(desk: Any) -> None:
    _registrations(0, 4)
    response = desk("thanhdong.nv").get(QUEUE)
    html = response.content.decode()
    shown = response.context["cl"].result_list
    for registration in shown:
        assert isinstance(registration, Registration)
    eligibilities = {r.eligibility for r in shown}
    assert {Eligibility.ELIGIBLE, Eligibility.HOSPITAL} <= eligibilities
    for value in eligibilities:
        assert str(Eligibility(value).label) in html
    assert html.count(str(RegistrationStatus.SUBMITTED.label)) >= len(shown)
