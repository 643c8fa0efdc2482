"""Duplicate submissions racing each other: the unique open_key lets exactly one through."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from health_f0.core.exceptions import Conflict
from health_f0.facilities.models import Facility
from health_f0.registration.models import Channel, Registration
from health_f0.registration.services import RegistrationInput, _create, registration_validate
from tests.standins.threads import run_together


@pytest.mark.django_db(transaction=True)
def test_simultaneous_duplicates_create_one_row(demo: Any) -> None:
    station = Facility.objects.get(code="TYT-10510")

    def submit(name: str) -> Registration:
        data = registration_validate(
            RegistrationInput(
                full_name=name,
                date_of_birth=date(1979, 12, 30),
                sex="male",
                phone="0988 111 222",
                province_code=31,
                ward_code=10510,
                test_type="rt_pcr",
                positive_date=timezone.localdate(),
                care="caregiver",
                consent=True,
            )
        )
        return _create(data, channel=Channel.WEB, facility=station, actor=None)

    names = ["Phạm Văn Đức", "pham van duc", "PHẠM VĂN ĐỨC", "Phạm  Văn Đức"]
    results = run_together(*[lambda n=n: submit(n) for n in names])
    created = [r for r in results if isinstance(r, Registration)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(created) == 1 and len(conflicts) == 3, results
    assert Registration.objects.filter(phone="+84988111222").count() == 1
