"""Dates in the desk are dd/mm/yyyy (issue 9, item 14): every desk date field reads "01/12/2026" as
1 December and "20/12/2026" as 20 December, in Vietnamese and in English, and shows dates back the same
way; schedule overrides (lịch thay đổi theo ngày) are validated with Vietnamese messages."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from health_f0.appointments.forms import NewPatientForm, ReexamForm, ScheduleOverrideForm
from health_f0.appointments.models import ScheduleOverride, Service
from health_f0.desk.site import desk_site

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _appointments_demo(appointments_demo: Any) -> None:
    """The demo's services, schedules and managers."""


NEXT_YEAR = timezone.localdate().year + 1
FIRST_DEC = date(NEXT_YEAR, 12, 1)
TWENTIETH_DEC = date(NEXT_YEAR, 12, 20)
ADD_OVERRIDE = "/desk/appointments/scheduleoverride/add/"


def kham_noi() -> Service:
    return Service.objects.get(code="kham-noi")


def override_post(**fields: Any) -> dict[str, Any]:
    data = {
        "service": str(kham_noi().pk),
        "date": "",
        "start_time": "",
        "end_time": "",
        "reason": "Họp giao ban",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not False}


def _date_fields(form: forms.BaseForm) -> list[tuple[str, forms.DateField]]:
    return [(name, field) for name, field in form.fields.items() if isinstance(field, forms.DateField)]


def _desk_forms() -> list[tuple[str, forms.BaseForm]]:
    """An empty form of every desk page that edits something (model pages, their inlines) and of the
    desk's own pages, as a superuser opens them."""
    superuser = get_user_model().objects.get(username="admin")
    request = RequestFactory().get("/desk/")
    request.user = superuser
    found: list[tuple[str, forms.BaseForm]] = []
    for model, model_admin in desk_site._registry.items():
        label = model._meta.label
        found.append((label, model_admin.get_form(request)()))
        for inline in model_admin.get_inline_instances(request):
            found.append((f"{label}/{inline.model._meta.label}", inline.get_formset(request).form()))
    found.append(("ReexamForm", ReexamForm(services=[])))
    found.append(("NewPatientForm", NewPatientForm()))
    return found


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_desk_date_field_reads_day_month_year(language: str) -> None:
    checked = []
    with translation.override(language):
        for label, form in _desk_forms():
            for name, field in _date_fields(form):
                assert field.clean("01/12/2026") == date(2026, 12, 1), f"{label}.{name}"
                assert field.clean("20/12/2026") == date(2026, 12, 20), f"{label}.{name}"
                assert field.clean("2026-12-20") == date(2026, 12, 20), f"{label}.{name}"
                checked.append(f"{label}.{name}")
    # The schedule override page and its inline on the service page are among them.
    assert "appointments.ScheduleOverride.date" in checked
    assert "appointments.Service/appointments.ScheduleOverride.date" in checked


def test_an_override_typed_as_01_12_is_the_first_of_december(desk: Any) -> None:
    client = desk("ttyt.lanhdao")
    response = client.post(ADD_OVERRIDE, override_post(date=f"01/12/{NEXT_YEAR}", is_closed="on"))
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.post(ADD_OVERRIDE, override_post(date=f"20/12/{NEXT_YEAR}", is_closed="on"))
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = sorted(ScheduleOverride.objects.filter(service=kham_noi()).values_list("date", flat=True))
    assert saved[-2:] == [FIRST_DEC, TWENTIETH_DEC]
    # Shown back the same way, with the desk's date picker on the field.
    override = ScheduleOverride.objects.get(service=kham_noi(), date=FIRST_DEC)
    html = client.get(
        reverse("admin:appointments_scheduleoverride_change", args=[override.pk])
    ).content.decode()
    assert f'value="01/12/{NEXT_YEAR}"' in html
    assert "vDateField" in html and "admin/js/admin/DateTimeShortcuts.js" in html


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"is_closed": "on", "start_time": "07:00", "end_time": "11:00"}, "start_time", "Ngày nghỉ cả ngày"),
        ({"start_time": "", "end_time": ""}, "start_time", "Vui lòng nhập giờ bắt đầu"),
        ({"start_time": "07:00", "end_time": ""}, "end_time", "Vui lòng nhập giờ kết thúc"),
        ({"start_time": "11:00", "end_time": "07:00"}, "end_time", "Giờ kết thúc phải sau giờ bắt đầu"),
        ({"start_time": "07:00", "end_time": "07:00"}, "end_time", "Giờ kết thúc phải sau giờ bắt đầu"),
    ],
)
def test_override_form_refuses_what_makes_no_sense(fields: dict[str, str], field: str, message: str) -> None:
    data = override_post(date=f"20/12/{NEXT_YEAR}", **fields)
    form = ScheduleOverrideForm(data)
    assert not form.is_valid()
    assert message in " ".join(form.errors.get(field, [])), form.errors


def test_override_form_accepts_a_closed_day_and_an_opening_with_hours() -> None:
    closed = ScheduleOverrideForm(override_post(date=f"20/12/{NEXT_YEAR}", is_closed="on"))
    assert closed.is_valid(), closed.errors
    opening = ScheduleOverrideForm(
        override_post(date=f"20/12/{NEXT_YEAR}", start_time="7h30", end_time="11:00")
    )
    assert opening.is_valid(), opening.errors
    assert (opening.cleaned_data["start_time"], opening.cleaned_data["end_time"]) == (time(7, 30), time(11))


def test_override_on_a_past_day_is_refused() -> None:
    form = ScheduleOverrideForm(override_post(date="01/01/2020", is_closed="on"))
    assert not form.is_valid()
    assert "Ngày đã qua" in " ".join(form.errors["date"])


def test_the_desk_shows_override_errors_in_vietnamese(desk: Any) -> None:
    client = desk("ttyt.lanhdao")
    response = client.post(
        ADD_OVERRIDE, override_post(date=f"20/12/{NEXT_YEAR}", start_time="11:00", end_time="07:00")
    )
    html = response.content.decode()
    assert response.status_code == 200 and "Giờ kết thúc phải sau giờ bắt đầu" in html
    assert not ScheduleOverride.objects.filter(date=TWENTIETH_DEC).exists()


def test_the_service_page_validates_its_override_rows(desk: Any) -> None:
    """The overrides inline on the service page uses the same form (same rules, same messages)."""
    client = desk("ttyt.lanhdao")
    url = reverse("admin:appointments_service_change", args=[kham_noi().pk])
    html = client.get(url).content.decode()
    assert "vDateField" in html
    from health_f0.appointments.desk.config import ScheduleOverrideInline

    assert issubclass(ScheduleOverrideInline.form, ScheduleOverrideForm)
