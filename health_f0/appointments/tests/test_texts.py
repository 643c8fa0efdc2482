"""Issue 9, items 12 and 13: every appointment SMS keeps its link whole, and the link opens the booking (or
the walk-in's ticket); the service, the time and the facility stay readable; a text takes at most two
segments, and its segments and cost are counted.

Every template is rendered through the code the services and the reminder job use (`services._notify`,
`reminders.reminder_send`) with the longest real names of the fixtures, with names at the longest the
models allow, and with a 45-character portal address."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, resolve

from health_f0.appointments import reminders, selectors, services, texts
from health_f0.appointments.models import (
    Appointment,
    AppointmentReminder,
    Doctor,
    Service,
    ServiceKind,
    Status,
)
from health_f0.appointments.tests.conftest import MONDAY, NOW, local, make_patient, make_service
from health_f0.core.text import SMS_TWO_SEGMENTS, sms_segments, sms_text, unaccent
from health_f0.facilities.models import Facility
from health_f0.notifications.models import OutboxMessage

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
PORTAL_45 = "https://chamsocsuckhoe.soyte.quangninh.gov.vn"
# A province's own video service, on the same long domain as its portal.
VIDEO_45 = "https://tuvan.chamsocsuckhoe.soyte.quangninh.gov.vn"
LONG_REASON = (
    "Lịch khám chuyên khoa ngày này đã kín vì bác sĩ đi hội chẩn tại bệnh viện tỉnh; đề nghị người bệnh "
    "đặt lại vào tuần sau hoặc gọi đường dây nóng của trung tâm để được sắp xếp giờ khác phù hợp, xin lỗi vì "
    "sự bất tiện này và cảm ơn đã tin tưởng trung tâm y tế khu vực Hải Dương trong suốt thời gian qua."
)[:300]


def _fixture_names() -> tuple[dict[str, Any], dict[str, Any]]:
    """The fixtures' service and facility with the longest names."""
    services_ = json.loads((ROOT / "fixtures" / "appointments_demo.json").read_text(encoding="utf-8"))
    facilities = json.loads((ROOT / "fixtures" / "demo.json").read_text(encoding="utf-8"))
    longest_service = max(services_["services"], key=lambda row: len(row["name"]))
    longest_facility = max(facilities["facilities"], key=lambda row: len(row["name"]))
    return longest_service, longest_facility


def _facility(name: str, short_name: str, parent: Facility, code: str) -> Facility:
    facility = Facility.objects.create(
        kind="clinic_room", code=code, name=name, short_name=short_name, parent=parent, province_code=31
    )
    facility.path = f"{parent.path}{facility.pk}/"
    facility.save(update_fields=["path"])
    return facility


def _case(case: str) -> tuple[Facility, dict[str, str]]:
    """Where the service is and what it is called, per case:
    fixtures: the fixtures' longest service and facility names with their own short names;
    unnamed: the same names with no short name for the service or the room (the label comes from the TTYT);
    maxima: a service name and short names as long as the models allow for SMS."""
    service_row, facility_row = _fixture_names()
    centre = Facility.objects.get(code="TTYT-HD")
    if case == "fixtures":
        room = _facility(facility_row["name"], facility_row.get("short_name", ""), centre, "T-FIX")
        return room, {"name": service_row["name"], "short_name": service_row.get("short_name", "")}
    if case == "unnamed":
        room = _facility(facility_row["name"], "", centre, "T-UNN")
        return room, {"name": service_row["name"], "short_name": ""}
    room = _facility(
        facility_row["name"],
        "Phong kham Da khoa khu vuc Hai Duong - Co so 2 Thanh Dong"[:60],
        centre,
        "T-MAX",
    )
    return room, {
        "name": "Khám và tư vấn dinh dưỡng cho người bệnh đái tháo đường type 2",
        "short_name": "Kham tu van dinh duong dai thao duong"[:40],
    }


def _sms_name(service: Service) -> str:
    return service.short_name or sms_text(service.name)


def _lands_on(appointment: Appointment, url: str) -> None:
    """A portal link opens this appointment's own page (or its ticket): the path resolves and the page (or
    the page it redirects to) answers, naming the appointment."""
    path = urlsplit(url).path
    try:
        resolve(path)
    except Resolver404:
        raise AssertionError(f"broken link {url!r}")
    response = Client().get(path)
    if response.status_code == 302:
        path = response["Location"]
        response = Client().get(path)
    assert response.status_code == 200, (url, response.status_code)
    assert str(appointment.public_id) in path, (url, path)


def _check(body: str, appointment: Appointment, *, timed: bool, room: str = "") -> None:
    service = appointment.service
    assert len(body) <= SMS_TWO_SEGMENTS and sms_text(body) == body, body
    links = re.findall(r"https?://\S+", body)
    portal = [link for link in links if link.startswith(settings.PORTAL_URL + "/")]
    assert portal, f"no link in {body!r}"
    for link in portal:
        _lands_on(appointment, link)
    if room:
        assert room in links, (room, body)
    assert set(links) <= {*portal, room}, body
    assert _sms_name(service) in body, (_sms_name(service), body)
    assert selectors.facility_label(appointment.facility) in body, body
    if timed:
        assert texts.when_text(appointment.slot_start) in body, body


TIMELESS = {"checked_in", "turn_soon", "turn_next"}
EVENTS = (
    "requested",
    "unpaid",
    "confirmed",
    "declined",
    "cancelled",
    "rescheduled",
    "checked_in",
    "turn_soon",
    "turn_next",
    "no_show",
    "expired",
    "reexam",
)
REMINDER_EVENTS = {False: ("reminder",), True: ("reminder_online", "room_open")}


@pytest.mark.parametrize("case", ["fixtures", "unnamed", "maxima"])
@pytest.mark.parametrize("kind", [ServiceKind.EXAMINATION, ServiceKind.ONLINE])
@pytest.mark.parametrize("video", ["https://meet.jit.si", VIDEO_45])
def test_every_template_keeps_link_names_and_time_whole_in_two_segments(
    demo: Any, persona: Any, settings: Any, case: str, kind: str, video: str
) -> None:
    settings.PORTAL_URL = PORTAL_45
    settings.VIDEO_MEETING_BASE_URL = video
    settings.SMS_COST_PER_SEGMENT_VND = 750
    assert len(PORTAL_45) == 45
    room, names = _case(case)
    service = make_service(room, kind=kind, turn_notice_ahead=3, **names)
    patient = make_patient(Facility.objects.get(code="TYT-10510"), "Nguyễn Thị Phương Thảo")
    appointment = services.appointment_book(
        patient=patient,
        service=service,
        slot_start=local(MONDAY, 8),
        channel="phone",
        actor=persona("datlich"),
        now=NOW,
    )
    # The longest title and a long name: the doctor is named whole after the time in every case but the
    # maxima (where they may be left out, never cut).
    doctor = Doctor.objects.create(facility=room, title="PGS.TS.BS.CKII", full_name="Nguyễn Thị Phương Thảo")
    Appointment.objects.filter(pk=appointment.pk).update(doctor=doctor)
    appointment.refresh_from_db()
    online = kind == ServiceKind.ONLINE
    room_url = selectors.meeting_url(appointment)
    assert bool(room_url) == online
    extras: dict[str, dict[str, Any]] = {
        "declined": {"reason": LONG_REASON},
        "cancelled": {"reason": "Co so da huy lich."},
        "checked_in": {"number": 128},
        "turn_soon": {"number": 128, "ahead": 3},
        "turn_next": {"number": 128, "ahead": 0},
    }
    seen: set[str] = set()
    for event in EVENTS:
        extra = extras.get(event, {})
        before = OutboxMessage.objects.count()
        services._notify(appointment, event, **extra)
        message = OutboxMessage.objects.order_by("pk").last()
        assert message is not None and OutboxMessage.objects.count() == before + 1
        _check(message.body, appointment, timed=event not in TIMELESS)
        if "{doctor}" in texts.TEMPLATES[texts.event_for(event, online=online)] and case != "maxima":
            assert f"({doctor.sms_name})" in message.body, message.body
        assert "(PGS" not in message.body or f"({doctor.sms_name})" in message.body, message.body
        assert message.segments == sms_segments(message.body) <= 2
        assert message.cost_vnd == texts.cost_vnd(message.body) == message.segments * 750
        if event == "declined":
            assert sms_text(LONG_REASON)[:40] in message.body
        assert ".Xem" not in message.body and "  " not in message.body
        seen.add(texts.event_for(event, online=online))
    # The reminders, sent by the job: d1 for every booking, "room" as an online consultation's room opens.
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.CONFIRMED)
    appointment.refresh_from_db()
    kinds = ["d1", reminders.ROOM_OPEN] if online else ["d1"]
    for kind_ in kinds:
        reminder, _ = AppointmentReminder.objects.update_or_create(
            appointment=appointment,
            kind=kind_,
            slot_start=appointment.slot_start,
            defaults={"due_at": appointment.slot_start - timedelta(minutes=10), "status": "scheduled"},
        )
        sent = reminders.reminder_send(
            reminder_id=reminder.pk, now=appointment.slot_start - timedelta(minutes=5)
        )
        assert sent is not None and sent.message is not None, kind_
        _check(sent.message.body, appointment, timed=True, room=room_url)
        seen.add(texts.event_for("room_open" if kind_ == reminders.ROOM_OPEN else "reminder", online=online))
    assert seen == {texts.event_for(event, online=online) for event in EVENTS} | set(REMINDER_EVENTS[online])


def test_each_template_is_exercised_above() -> None:
    """A template added later must be added to the matrix above."""
    exercised = {texts.event_for(event, online=online) for event in EVENTS for online in (False, True)}
    assert exercised | set(REMINDER_EVENTS[False]) | set(REMINDER_EVENTS[True]) == set(texts.TEMPLATES)


def test_the_label_is_a_defined_short_name_or_the_whole_name(demo: Any) -> None:
    """No facility label is cut: the nearest short name up the tree, else the whole name with the defined
    abbreviations only (Trung tâm Y tế -> TTYT, Bệnh viện -> BV, khu vực -> KV, ...)."""
    root = Facility.objects.create(kind="doh", code="SYT-XX", name="Sở Y tế tỉnh Thử", province_code=31)
    root.path = f"/{root.pk}/"
    root.save(update_fields=["path"])
    hospital = Facility.objects.create(
        kind="hospital",
        code="BV-XX",
        name="Bệnh viện Đa khoa khu vực Cẩm Giàng",
        parent=root,
        province_code=31,
    )
    hospital.path = f"{root.path}{hospital.pk}/"
    hospital.save(update_fields=["path"])
    assert selectors.facility_label(hospital) == "BV Da khoa KV Cam Giang"
    centre = Facility.objects.create(
        kind="ttyt", code="TT-XX", name="Trung tâm Y tế khu vực Hải Dương", parent=root, province_code=31
    )
    centre.path = f"{root.path}{centre.pk}/"
    centre.save(update_fields=["path"])
    assert selectors.facility_label(centre) == "TTYT KV Hai Duong"
    centre.short_name = "TTYT Hai Duong"
    centre.save(update_fields=["short_name"])
    room = _facility("Phòng khám Nội 1", "", centre, "PK-XX")
    assert selectors.facility_label(room) == "TTYT Hai Duong"
    assert unaccent("Phòng khám Nội 1") not in selectors.facility_label(room)


def test_a_long_service_name_needs_an_sms_short_name(demo: Any) -> None:
    from django.core.exceptions import ValidationError

    service = Service(
        facility=Facility.objects.get(code="PK-NOI1"),
        code="dinh-duong",
        name="Khám và tư vấn dinh dưỡng cho người bệnh đái tháo đường type 2",
    )
    with pytest.raises(ValidationError) as exc:
        service.full_clean()
    assert "short_name" in exc.value.message_dict
    service.short_name = "Kham dinh duong DTD"
    service.full_clean()


def test_segments_and_cost_are_counted(settings: Any) -> None:
    settings.SMS_COST_PER_SEGMENT_VND = 750
    one, two = "a" * 160, "a" * 161
    assert (texts.segments(one), texts.cost_vnd(one)) == (1, 750)
    assert (texts.segments(two), texts.cost_vnd(two)) == (2, 1500)
    assert texts.segments("a" * 306) == 2


# --- Item 13: walk-ins -------------------------------------------------------------------------------


def test_walk_in_sms_links_open_its_ticket_with_the_queue_place(
    demo: Any, persona: Any, settings: Any
) -> None:
    settings.PORTAL_URL = PORTAL_45
    service = make_service(
        Facility.objects.get(code="PK-NOI1"), turn_notice_ahead=1, booked_priority="arrival"
    )
    station = Facility.objects.get(code="TYT-10510")
    reception = persona("tiepdon")
    first = services.walk_in_register(
        patient=make_patient(station, "Lê Văn An"), service=service, actor=reception
    )
    second = services.walk_in_register(
        patient=make_patient(station, "Trần Thị Bình"), service=service, actor=reception
    )
    third = services.walk_in_register(
        patient=make_patient(station, "Phạm Văn Cường"), service=service, actor=reception
    )
    checked_in = OutboxMessage.objects.filter(to=third.patient.phone).order_by("pk").first()
    assert checked_in is not None
    link = re.findall(r"https?://\S+", checked_in.body)[0]
    _lands_on(third, link)
    page = Client().get(urlsplit(link).path, follow=True)
    content = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.content.decode()))
    assert "Số thứ tự của bạn 3" in content and "Còn 2 người trước bạn" in content, content[:2000]
    assert third.patient.full_name not in content and third.patient.phone[-6:] not in content
    # Calling the first one makes the third "almost your turn": its SMS opens the ticket too.
    services.queue_call_next(service=service, actor=reception)
    soon = OutboxMessage.objects.filter(to=third.patient.phone).order_by("pk").last()
    assert soon is not None and soon.pk != checked_in.pk and "sap den luot" in soon.body
    _lands_on(third, re.findall(r"https?://\S+", soon.body)[0])
    assert first.pk != second.pk


def test_render_shortens_free_text_first_and_never_a_link() -> None:
    link = PORTAL_45 + "/h/K7M2QX9P"
    room = VIDEO_45 + "/tuvan-" + "a" * 26
    fields = {"service": "Kham Noi", "when": "08:00 23/11/2026", "link": link}
    # A reason too long for two segments is cut at a word boundary, with "...": the names stay whole.
    body = texts.render("declined", label="TTYT Hai Duong", reason=LONG_REASON + " " + LONG_REASON, **fields)
    assert len(body) <= SMS_TWO_SEGMENTS and body.endswith(link) and "TTYT Hai Duong: lich Kham Noi" in body
    assert re.search(r"\w\.\.\. Xem: ", body), body
    # Names longer than their fields allow (data older than the short-name rules) are the last resort.
    label = "Benh vien Da khoa " + "rat dai " * 30
    body = texts.render("reminder_online", label=label, days=1, room=room, **fields)
    assert len(body) <= SMS_TWO_SEGMENTS and room + " " in body and body.endswith(link)
    assert texts.shorten("Kham tai mui hong", 12) == "Kham tai..." and texts.shorten("abc", 2) == ""
