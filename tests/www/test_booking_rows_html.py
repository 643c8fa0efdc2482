"""/lich-hen's rows are written in Python (www.appointment_views.booking_items_writer, issue 11), no longer by
appt_list_item.html: the markup is what that template drew, byte for byte, in Vietnamese and English, for a
family's list and a single patient's, escaping and the acknowledge form's CSRF field included (the template is
kept below as it was, rendered by the portal's own Jinja2 environment)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import pytest
from django.utils import timezone, translation
from jinja2 import DictLoader
from markupsafe import Markup

from health_f0.appointments.models import Appointment, CancelSource, Doctor, Status
from health_f0.appointments.slots import LOCAL_TZ, local_date_of
from health_f0.appointments.sql.bookings import booking_instances
from health_f0.appointments.transitions import may
from health_f0.patients.models import Patient
from health_f0.www import selectors
from health_f0.www.appointment_views import STATUS_BADGES, STATUS_LABELS, BookingItems, booking_items_writer
from health_f0.www.jinja import environment
from tests.www.test_list_pages import add_bookings, hung, portal  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

# appt_list_item.html as it was before it became Python (commit 591f846), and its loop in appt_list.html.
OLD_ITEM = """{% set a = row.appointment %}<li class="card appt-item{% if a.is_reexam %} appt-reexam{% endif %}">
  <h3><a href="{{ url('www:appointment', a.public_id) }}">{{ row.day }} <span class="time">{{ row.time }}</span> \
— {{ a.service.name }}</a></h3>
  <p class="appt-flags"><span class="badge {{ row.badge }}">{{ row.status_label }}</span>{% if a.is_reexam %} \
<span class="badge badge-reexam">{{ _("Tái khám") }}</span>{% endif %}{% if a.status == "checked_in" and \
a.queue_number %} <span class="muted">{{ _("số thứ tự %(number)s")|fmt(number=a.queue_number) }}</span>\
{% endif %}</p>
  <p class="muted">{{ a.facility.name }}{% if a.doctor %} · {{ a.doctor.display_name }}{% endif %}\
{% if family %} · {{ a.patient.full_name }}{% endif %}</p>
  {% if row.can_acknowledge %}<form method="post" action="{{ url('www:appointment', a.public_id) }}">\
{{ csrf_input }}<input type="hidden" name="next" value="list"><button type="submit" name="action" \
value="acknowledge" class="button button-primary">{{ _("Tôi sẽ đến") }}<span class="visually-hidden"> — \
{{ row.day }} {{ row.time }}</span></button></form>{% endif %}
</li>
"""
OLD_LIST = '<ul class="appt-list">{% for row in rows %}{% include "item.html" %}{% endfor %}</ul>'
OLD = environment(loader=DictLoader({"item.html": OLD_ITEM, "list.html": OLD_LIST}))
ODD = "<b>\"Tom\" & 'Jerry'</b>"


class Csrf:
    """The page's CSRF field (jinja.CsrfInput): counts how often it is drawn."""

    def __init__(self) -> None:
        self.drawn = 0

    def __html__(self) -> str:
        self.drawn += 1
        return '<input type="hidden" name="csrfmiddlewaretoken" value="t0k3n">'


@pytest.fixture
def bookings(hung: Patient) -> list[Appointment]:  # noqa: F811
    """Bookings in every state the list shows: requested, confirmed with a doctor, checked in with a place in
    the queue, declined and cancelled, done, a re-exam to acknowledge, names with markup in them."""
    add_bookings(hung, 3, status=Status.CONFIRMED, days=3, first=900, reexam=True)
    add_bookings(hung, 2, status=Status.REQUESTED, days=2, first=800)
    add_bookings(hung, 6, status=Status.CANCELLED, days=-2, first=0)
    add_bookings(hung, 2, status=Status.CHECKED_IN, days=0, first=700)
    rows = list(Appointment.objects.filter(patient=hung, reason__startswith="R").order_by("reason"))
    doctor = Doctor.objects.create(facility=rows[0].facility, title=" BS.CKI ", full_name=ODD)
    for i, a in enumerate(rows):
        if a.status == Status.CANCELLED:
            a.cancel_source = [CancelSource.DECLINED, CancelSource.PATIENT, ""][i % 3]
            a.status = [Status.CANCELLED, Status.COMPLETED, Status.NO_SHOW, Status.CANCELLED][i % 4]
        if a.status == Status.CHECKED_IN:
            a.queue_number = [None, 12][i % 2]
        a.doctor = doctor if i % 2 else None
    Appointment.objects.bulk_update(rows, ["cancel_source", "status", "queue_number", "doctor"])
    rows[0].service.name = ODD
    rows[0].service.save()
    hung.full_name = f"Hùng {ODD}"
    hung.save()
    assert hung.account is not None
    start_of_today = datetime.combine(local_date_of(timezone.now()), time.min, tzinfo=LOCAL_TZ)
    upcoming = selectors.upcoming_bookings(user=hung.account, since=start_of_today, limit=50)
    past = selectors.past_bookings(user=hung.account, since=start_of_today).fetch(
        ordering=selectors.PAST_ORDER, limit=50
    )
    return upcoming + booking_instances(past)


def old_rows(bookings: list[Appointment], user: Any) -> list[dict[str, Any]]:
    """What the view handed appt_list_item.html."""
    now = timezone.now()
    rows = []
    for a in bookings:
        declined = a.status == Status.CANCELLED and a.cancel_source == CancelSource.DECLINED
        start = timezone.localtime(a.slot_start)
        rows.append(
            {
                "appointment": a,
                "day": f"{start:%d/%m/%Y}",
                "time": f"{start:%H:%M}",
                "status_label": translation.gettext("Không được xác nhận")
                if declined
                else STATUS_LABELS.get(a.status, ""),
                "badge": STATUS_BADGES.get(a.status, "badge-muted"),
                "can_acknowledge": a.is_reexam
                and a.patient_confirmed_at is None
                and may(a, "acknowledge", user, now=now),
            }
        )
    return rows


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("family", [False, True])
def test_booking_items_are_what_the_template_drew(
    bookings: list[Appointment],
    hung: Patient,  # noqa: F811
    language: str,
    family: bool,
) -> None:
    assert len(bookings) == 13
    with translation.override(language):
        rows = old_rows(bookings, hung.account)
        assert sum(row["can_acknowledge"] for row in rows) == 3
        old_csrf, new_csrf = Csrf(), Csrf()
        old = OLD.get_template("list.html").render({"rows": rows, "family": family, "csrf_input": old_csrf})
        write = booking_items_writer(family=family)
        items = BookingItems([write(row["appointment"], row["can_acknowledge"]) for row in rows])
        new = f'<ul class="appt-list">{items.markup(new_csrf)}</ul>'
    assert new == old
    assert new_csrf.drawn == 1  # once a page, as jinja.CsrfInput draws it
    for shown in (
        "&lt;b&gt;&#34;Tom&#34; &amp; &#39;Jerry&#39;&lt;/b&gt;",
        "badge-reexam",
        "csrfmiddlewaretoken",
    ):
        assert shown in new
    assert ("Hùng &lt;b&gt;" in new) is family


def test_a_list_without_acknowledge_forms_draws_no_csrf_field(bookings: list[Appointment]) -> None:
    write = booking_items_writer(family=False)
    csrf = Csrf()
    markup = BookingItems([write(a, False) for a in bookings]).markup(csrf)
    assert isinstance(markup, Markup) and csrf.drawn == 0 and "<form" not in markup
    assert len(BookingItems([])) == 0 and not BookingItems([])


def test_the_list_page_shows_the_rows(portal: Any, bookings: list[Appointment]) -> None:  # noqa: F811
    page = portal.get("/lich-hen").content.decode()
    assert page.count('class="card appt-item') == 13 and page.count('name="csrfmiddlewaretoken"') >= 3
    assert (
        '<ul class="appt-list"><li class="card appt-item' in page
        and '<li class="card appt-item appt-reexam">' in page
    )
