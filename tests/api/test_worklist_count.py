"""v1's count of the booking desk's worklist reads the bookings alone (appointments/sql/worklist.py COUNT_FROM;
issue 11): the page's LEFT JOINs on primary keys neither drop nor repeat a booking, so the count is the same
(tests/api/test_appointment_sql_lists.py compares it with the selector's for every persona and status), but
joined, MariaDB weighed five joins it then eliminated, and could not count from an index holding every column
the condition reads."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health_f0.appointments import selectors
from health_f0.appointments.models import Status
from health_f0.facilities.models import Facility
from tests.api.test_appointment_sql_lists import DESK_ROLES, STATUSES
from tests.security.test_restricted import _fresh, matrix, restricted  # noqa: F401 - the fixtures

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("username", ["datlich", "ttyt.lanhdao", "admin"])
def test_the_count_reads_the_bookings_alone(username: str, request: Any) -> None:
    request.getfixturevalue("restricted")
    user = _fresh(username)
    facilities = [None, *Facility.objects.filter(code="PK-NOI1").values_list("public_id", flat=True)]
    for status in STATUSES:
        for facility in facilities:
            listing = selectors.staff_appointment_list(
                user=user, roles=DESK_ROLES, status=status, facility=facility
            )
            with CaptureQueriesContext(connection) as queries:
                total = listing.count()
            (count,) = (q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"])
            assert " JOIN " not in count, count
            orm = selectors.staff_appointments(user=user, roles=DESK_ROLES, status=status)
            if facility is None:
                assert total == orm.count(), (username, status)
    assert Status.REQUESTED in STATUSES
