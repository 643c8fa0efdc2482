"""The staff lists built from `.values()` rows (issue 11: no model instance per row) answer exactly what their
DRF serializers answer over model instances: the serializers stay what the OpenAPI schema documents, and these
tests keep the two from drifting apart, field by field, for v1 and v2 pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import IntegerField, Value
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer

from health_f0.api.apis import monitoring as monitoring_api
from health_f0.api.apis import registrations as registrations_api
from health_f0.appointments.models import Appointment
from health_f0.facilities.models import Facility
from health_f0.monitoring import selectors as monitoring_selectors
from health_f0.monitoring.models import Alert, Declaration
from health_f0.monitoring.services import reset_caches
from health_f0.patients.models import Patient
from health_f0.registration import selectors as registration_selectors
from tests.api.test_appointments import at, desk_book, make_account_patient, make_service
from tests.api.test_renderers import assert_plain_rows

V1 = "/api/v1"
V2 = "/api/v2"


def as_json(data: Any) -> Any:
    """What the API's renderer makes of a serializer's answer, read back."""
    import json

    return json.loads(JSONRenderer().render(data))


def every_row(client: Any, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of a v2 list, page after page through `next`."""
    rows: list[dict[str, Any]] = []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows.extend(body["results"])
        if body["next"] is None:
            return rows
        response = client.get(body["next"])


@pytest.fixture(autouse=True)
def _fresh_caches() -> Any:
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def alerted(as_user: Any) -> Any:
    """The demo patient's declarations with danger signs: open alerts at the station."""
    client = as_user("bn0000001")
    for i in range(4):
        answers: dict[str, Any] = {
            "temperature": 38.5 + i / 10,
            "spo2": 92,
            "symptoms": ["shortness_of_breath"],
        }
        if i == 2:
            answers = {"temperature": 37.9, "spo2": 95, "breathing_rate": 16}
        assert client.post(f"{V1}/declarations", {"answers": answers}, format="json").status_code == 201
    return client


# --- Alerts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["thanhdong.nv"])
def test_alert_list_answers_what_the_serializer_answers(
    alerted: Any, as_user: Any, persona: Any, username: str
) -> None:
    client = as_user(username)
    expected = as_json(
        monitoring_api.AlertSerializer(
            list(monitoring_selectors.alert_list(user=persona(username))), many=True
        ).data
    )
    assert expected, "no open alert: the test would prove nothing"
    assert client.get(f"{V1}/alerts", {"limit": 200}).json()["results"] == expected
    assert every_row(client, f"{V2}/alerts", {"limit": 2}) == expected


def test_alert_rows_of_acknowledged_alerts_equal_the_serializer(
    alerted: Any, as_user: Any, persona: Any
) -> None:
    """Acknowledged alerts (a user, a time, an outcome and a note) and every level, in English too."""
    staff = persona("thanhdong.nv")
    alerts = list(Alert.objects.order_by("id"))
    assert len(alerts) >= 2
    Alert.objects.filter(pk=alerts[0].pk).update(
        acknowledged_at=timezone.now(), acknowledged_by=staff, outcome="stable", note="Đã gọi, ổn định"
    )
    queryset = Alert.objects.annotate(severity=Value(0, output_field=IntegerField())).order_by("id")
    instances = list(
        queryset.select_related("episode__patient", "declaration", "acknowledged_by", "facility")
    )
    rows = list(queryset.values(*monitoring_api.ALERT_COLUMNS))
    for language in ("vi", "en"):
        from django.utils import translation

        with translation.override(language):
            expected = as_json(monitoring_api.AlertSerializer(instances, many=True).data)
            assert as_json(monitoring_api.alert_rows(rows)) == expected
    assert expected[0]["acknowledged_by"] == staff.username


def _alert_rows_one_by_one(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """alert_rows as it was written before it read a page a column at a time (issue 11): each row through the
    helpers, value by value. The column-wise builder must answer what this answers for any rows."""
    from health_f0.api.fast import choice_labels, dates, datetimes, display, text_dict, text_list, uuid_text
    from health_f0.core.phone import display_phone

    iso, iso_day, levels = datetimes(), dates(), choice_labels(Alert, "level")
    patient = "episode__patient__"
    return [
        {
            "id": uuid_text(row["declaration__public_id"]),
            "level": row["level"],
            "level_label": display(levels, row["level"]),
            "reasons": text_list(row["reasons"]),
            "created_at": iso(row["created_at"]),
            "facility": {
                "id": uuid_text(row["facility__public_id"]),
                "code": row["facility__code"],
                "name": row["facility__name"],
            },
            "patient": {
                "id": uuid_text(row[f"{patient}public_id"]),
                "full_name": row[f"{patient}full_name"],
                "date_of_birth": iso_day(row[f"{patient}date_of_birth"]),
                "phone": display_phone(row[f"{patient}phone"]),
                "ward_name": row[f"{patient}ward_name"],
            },
            "answers": text_dict(row["declaration__answers"]),
            "acknowledged_at": None if row["acknowledged_at"] is None else iso(row["acknowledged_at"]),
            "acknowledged_by": row["acknowledged_by__username"],
            "outcome": row["outcome"],
            "note": row["note"],
        }
        for row in rows
    ]


def _usual_alert_row(**changes: Any) -> dict[str, Any]:
    from datetime import UTC, date, datetime

    row = {
        "id": 7,
        "level_rank": 3,
        "facility_id": 2,
        "declaration__public_id": "33921e77-eda7-4713-b111-cbe9a590b5ac",
        "level": "emergency",
        "reasons": ["SpO2 93% ≤ 96%", "Nhịp thở 21 lần/phút (người lớn ≥ 20)"],
        "created_at": datetime(2026, 12, 5, 23, 11, 25, 123456, tzinfo=UTC),
        "facility__public_id": "e516bc7a-2489-443a-a822-0c7d4d08d1ae",
        "facility__code": "TYT-10532",
        "facility__name": "Trạm Y tế xã Gia Lộc",
        "episode__patient__public_id": "001fad2e-56cf-4a54-95fb-9d6972ae7cab",
        "episode__patient__full_name": "Nguyễn Văn A",
        "episode__patient__date_of_birth": date(1980, 2, 29),
        "episode__patient__phone": "+84912345678",
        "episode__patient__ward_name": "Xã Gia Lộc",
        "declaration__answers": {"spo2": "93", "symptoms": ["chest_pain"], "nested": {"a": [None, True, 3]}},
        "acknowledged_at": None,
        "acknowledged_by__username": None,
        "outcome": "",
        "note": "",
    }
    row.update(changes)
    return row


def _odd_alert_rows() -> list[dict[str, Any]]:
    """Rows with each column's unusual values, one column at a time."""
    from datetime import UTC, date, datetime, timedelta, timezone
    from uuid import UUID

    return [
        _usual_alert_row(declaration__public_id=UUID("33921e77-eda7-4713-b111-cbe9a590b5ac")),
        _usual_alert_row(facility__public_id="e516bc7a2489443aa8220c7d4d08d1ae"),
        _usual_alert_row(episode__patient__public_id=None),
        _usual_alert_row(level="not-a-level"),
        _usual_alert_row(level=None),
        _usual_alert_row(reasons=[1, None, "x"]),
        _usual_alert_row(reasons=None),
        _usual_alert_row(reasons="[1]"),
        _usual_alert_row(declaration__answers={"t": 38.5}),
        _usual_alert_row(declaration__answers=None),
        _usual_alert_row(declaration__answers={1: "x"}),
        _usual_alert_row(declaration__answers={"n": float("nan")}),
        _usual_alert_row(created_at=datetime(2026, 1, 1, 3, tzinfo=timezone(timedelta(hours=7)))),
        _usual_alert_row(episode__patient__date_of_birth=None),
        _usual_alert_row(episode__patient__phone=""),
        _usual_alert_row(episode__patient__phone=None),
        _usual_alert_row(episode__patient__phone="0912345678"),
        _usual_alert_row(episode__patient__phone="+6591234567x"),
        _usual_alert_row(episode__patient__phone="+8491234567"),
        _usual_alert_row(
            acknowledged_at=datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC), acknowledged_by__username="u"
        ),
        _usual_alert_row(note="Đã gọi", outcome="stable"),
        _usual_alert_row(episode__patient__date_of_birth=date(2000, 1, 1)),
    ]


@pytest.mark.parametrize("language", ["vi", "en"])
def test_alert_rows_a_column_at_a_time_answer_what_each_row_answered(language: str) -> None:
    """alert_rows' C loops over a column take only the column's usual values; a page with any unusual value in a
    column answers what the row-by-row builder answered, alone and among usual rows."""
    from django.utils import translation

    from health_f0.api.renderers import PlainRows

    usual = [_usual_alert_row(), _usual_alert_row(level="watch")]
    with translation.override(language):
        assert monitoring_api.alert_rows(usual) == _alert_rows_one_by_one(usual)
        assert type(monitoring_api.alert_rows(usual)) is PlainRows
        assert_plain_rows(monitoring_api.alert_rows(usual))
        assert monitoring_api.alert_rows([]) == []
        for odd in _odd_alert_rows():
            for page in ([odd], [*usual, odd], [odd, *usual]):
                assert monitoring_api.alert_rows(page) == _alert_rows_one_by_one(page), odd
        everything = [*usual, *_odd_alert_rows()]
        assert monitoring_api.alert_rows(everything) == _alert_rows_one_by_one(everything)


def test_alert_rows_vouch_for_plain_rows_only_without_a_float() -> None:
    """A page is vouched plain (api.renderers.PlainRows: written without the renderer's checks) only when the
    declarations' answers hold no float and nothing but JSON's plain types; otherwise the renderer checks it."""
    from health_f0.api.renderers import PlainRows

    assert type(monitoring_api.alert_rows([_usual_alert_row()])) is PlainRows
    for answers in ({"t": 38.5}, {"a": [1, {"b": [float("inf")]}]}, {"n": float("nan")}, {"d": (1, 2)}):
        answer = monitoring_api.alert_rows(
            [_usual_alert_row(), _usual_alert_row(declaration__answers=answers)]
        )
        assert type(answer) is list, answers
    deep: Any = "x"
    for _ in range(20):
        deep = [deep]
    assert type(monitoring_api.alert_rows([_usual_alert_row(declaration__answers={"d": deep})])) is list


def _plain_and_depth(value: Any) -> tuple[bool, int]:
    """Whether `value` is plain data with no float (api.renderers.PlainRows), and how many levels deep it is."""
    kind = type(value)
    if kind is dict:
        inner = [_plain_and_depth(v) for v in value.values()]
        plain = set(map(type, value)) <= {str} and all(p for p, _ in inner)
        return plain, 1 + max((d for _, d in inner), default=0)
    if kind is list:
        inner = [_plain_and_depth(v) for v in value]
        return all(p for p, _ in inner), 1 + max((d for _, d in inner), default=0)
    return kind in (str, int, bool, type(None)), 1


JSON_VALUES = st.recursive(
    st.one_of(st.text(max_size=3), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=True)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), children, max_size=4),
        st.tuples(children),
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(JSON_VALUES, max_size=5))
def test_plain_json_is_the_walk_of_every_value(values: list[Any]) -> None:
    """alert_rows' check of the answers (a level at a time, by C loops) says plain exactly when every value is
    plain data with no float, down to its depth bound."""
    found = [_plain_and_depth(value) for value in values]
    expected = (
        all(p for p, _ in found) and max((d for _, d in found), default=0) <= monitoring_api._JSON_DEPTH
    )
    assert monitoring_api._plain_json(values) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=4), max_size=5))
def test_the_answers_walked_from_their_values_are_walked_alike(answers: list[dict[str, Any]]) -> None:
    """alert_rows checks the answers' own level (dicts keyed by texts) and walks their values a level down: the
    same verdict as the walk of the answers themselves."""
    nested = [value for answer in answers for value in answer.values()]
    assert monitoring_api._plain_json(nested, monitoring_api._JSON_DEPTH - 1) == monitoring_api._plain_json(
        answers
    )


def test_the_api_pages_alerts_as_tuple_rows(alerted: Any, persona: Any) -> None:
    """The API reads the list as tuple rows (SqlList.as_tuples); they hold the dict rows' values in OPEN_ALERTS'
    order, answer the same, and page with the same cursors."""
    from health_f0.core.keyset import Keyset

    dicts = monitoring_selectors.alert_list_rows(user=persona("thanhdong.nv"))
    tuples = dicts.as_tuples()
    names = monitoring_api.alerts_sql.OPEN_ALERTS.names
    as_dicts = dicts[0:200]
    as_tuples = tuples[0:200]
    assert as_dicts, "no open alert: the test would prove nothing"
    assert [dict(zip(names, row, strict=True)) for row in as_tuples] == as_dicts
    assert monitoring_api.alert_rows(as_tuples) == monitoring_api.alert_rows(as_dicts)
    keyset = Keyset(monitoring_selectors.ALERT_ORDER)
    cursor = None
    while True:
        by_dict = dicts.keyset_page(keyset, size=1, cursor=cursor)
        by_tuple = tuples.keyset_page(keyset, size=1, cursor=cursor)
        assert (by_tuple.next_cursor, by_tuple.previous_cursor) == (
            by_dict.next_cursor,
            by_dict.previous_cursor,
        )
        assert [dict(zip(names, row, strict=True)) for row in by_tuple.items] == by_dict.items
        if by_dict.next_cursor is None:
            break
        cursor = by_dict.next_cursor
    # The declarations' answers as the service stores them (texts): vouched plain. With a float in one of them,
    # the renderer checks the page.
    assert_plain_rows(monitoring_api.alert_rows(as_tuples))
    Declaration.objects.filter(alert__isnull=False).update(answers={"temperature": 38.5})
    # The list reads the alert's copy of the answers (monitoring.Alert), kept equal to its declaration's.
    Alert.objects.update(declaration_answers={"temperature": 38.5})
    assert type(monitoring_api.alert_rows(tuples[0:200])) is list


# --- Registrations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "params"), [("thanhdong.nv", {}), ("thanhdong.nv", {"status": "submitted"})]
)
def test_registration_list_answers_what_the_serializer_answers(
    demo: Any, as_user: Any, persona: Any, username: str, params: dict[str, Any]
) -> None:
    client = as_user(username)
    queue = registration_selectors.registration_queue(user=persona(username), **params)
    expected = as_json(registrations_api.RegistrationSummarySerializer(list(queue), many=True).data)
    assert expected, "no registration: the test would prove nothing"
    assert client.get(f"{V1}/registrations", {"limit": 200, **params}).json()["results"] == expected
    assert every_row(client, f"{V2}/registrations", {"limit": 3, **params}) == expected
    # The rows the renderer writes unchecked (api.renderers.PlainRows) hold only what they vouch for.
    rows = registration_selectors.registration_queue_rows(user=persona(username), **params)
    assert_plain_rows(registrations_api.registration_rows(list(rows.order_by(*rows.ordering)[0:200])))


# --- The booking desk's list and the patient's bookings ---------------------------------------------


@pytest.fixture
def bookings(demo: Any, persona: Any) -> Any:
    """The demo's online bookings (waiting for the desk) plus a confirmed one by phone, with a doctor-less
    service, and a declined one: rows in three statuses, the actions of each."""
    from django.core.management import call_command

    from health_f0.appointments import services
    from health_f0.appointments.models import Holiday

    call_command("load_appointments_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    Holiday.objects.all().delete()
    clinic = make_service(Facility.objects.get(code="PK-NOI1"))
    me = Patient.objects.get(account__username="bn0000001")
    day = timezone.localdate() + timedelta(days=3)
    first = desk_book(persona, me, clinic, at(day, 5))
    second = desk_book(persona, me, clinic, at(day, 6))
    online = make_service(Facility.objects.get(code="PK-NOI1"), requires_confirmation=True)
    other = make_account_patient("Trần Thị Bích", "+84981000009")
    for offset in (1, 2):
        services.appointment_book(
            patient=other,
            service=online,
            slot_start=at(day + timedelta(days=offset), 5),
            channel="app",
            actor=other.account,
        )
    requested = Appointment.objects.filter(status="requested").order_by("id").first()
    assert requested is not None
    services.appointment_decline(appointment=requested, actor=persona("datlich"), reason="Hết chỗ rồi ạ")
    return first, second


@pytest.mark.parametrize("status", ["requested", "confirmed", "cancelled"])
def test_staff_appointment_list_answers_what_the_serializer_answers(
    bookings: Any, as_user: Any, persona: Any, status: str
) -> None:
    from health_f0.api.apis import appointments as appointments_api
    from health_f0.appointments import selectors as appointment_selectors

    desk = persona("datlich")
    client = as_user("datlich")
    queryset = appointment_selectors.staff_appointments(
        user=desk, roles=appointments_api.DeskApi.staff_roles, status=status
    )
    expected = as_json(
        appointments_api.StaffAppointmentListItemSerializer(
            list(queryset), many=True, context={"actor": desk}
        ).data
    )
    assert expected, f"no {status} booking: the test would prove nothing"
    assert (
        client.get(f"{V1}/staff/appointments", {"limit": 200, "status": status}).json()["results"] == expected
    )
    assert every_row(client, f"{V2}/staff/appointments", {"limit": 2, "status": status}) == expected


def test_staff_appointment_rows_ask_no_query_per_row(bookings: Any, as_user: Any, persona: Any) -> None:
    """The page's patients, services, rooms and doctors are read once, and the workflow's bare booking
    carries what the actions read: the same queries for 1 row as for every row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = as_user("datlich")
    client.get(f"{V2}/staff/appointments", {"status": "confirmed"})  # warm the per-process caches
    counts = []
    for limit in (1, 50):
        with CaptureQueriesContext(connection) as queries:
            body = client.get(f"{V2}/staff/appointments", {"status": "confirmed", "limit": limit}).json()
        counts.append(len(queries))
    assert len(body["results"]) >= 2
    assert counts[0] == counts[1]


def test_patient_appointment_list_answers_what_the_serializer_answers(
    bookings: Any, as_user: Any, persona: Any
) -> None:
    from health_f0.api.apis import appointments as appointments_api
    from health_f0.facilities import access

    user = persona("bn0000001")
    client = as_user("bn0000001")
    queryset = access.appointments_for(user).order_by("-slot_start", "-id")
    expected = as_json(
        appointments_api.AppointmentSerializer(list(queryset), many=True, context={"actor": user}).data
    )
    assert len(expected) >= 2
    assert client.get(f"{V1}/appointments", {"limit": 200}).json()["results"] == expected
    assert every_row(client, f"{V2}/appointments", {"limit": 1}) == expected


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "UTC"])
def test_a_pages_datetimes_are_drfs(zone: str) -> None:
    """fast.datetimes() reads the time zone once a page; its answer is DateTimeField's, `Z` for UTC included."""
    from datetime import UTC, datetime

    from health_f0.api import fast
    from health_f0.api.rows import iso_datetime

    values = [
        None,
        datetime(2026, 12, 6, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 12, 6, 23, 59, 59, 123456, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0),  # naive: DRF's own path
    ]
    with timezone.override(zone):
        iso = fast.datetimes()
        assert [iso(value) for value in values] == [iso_datetime(value) for value in values]


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "UTC", "Europe/London", "America/New_York"])
def test_a_pages_datetimes_are_drfs_on_a_grid_asked_twice(zone: str) -> None:
    """The kept texts (fast._iso_texts) are DateTimeField's, the first time and from the memo alike: UTC values
    on a grid of instants with and without microseconds (around midnight, the turn of a year, both DST turns of
    London and New York), the same instants in other tzinfos (unkept), naive values and None; and a memo kept
    in one zone answers nothing in another."""
    from datetime import UTC, datetime
    from datetime import timezone as dt_timezone
    from zoneinfo import ZoneInfo

    from health_f0.api import fast
    from health_f0.api.rows import iso_datetime

    starts = [
        datetime(2026, 12, 31, 16, 59, 59, tzinfo=UTC),  # 23:59:59 in Vietnam, the turn of the year
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # London springs forward at 01:00 UTC
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # London falls back at 01:00 UTC
        datetime(2026, 3, 8, 6, 30, tzinfo=UTC),  # New York springs forward at 07:00 UTC
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # New York falls back at 06:00 UTC
        datetime(1970, 1, 1, 0, 0, tzinfo=UTC),
    ]
    values: list[Any] = [None]
    for start in starts:
        for minutes in range(0, 91, 15):
            for micro in (0, 1, 500000, 999999):
                values.append(start + timedelta(minutes=minutes, microseconds=micro))
    others = [
        value.astimezone(tz)
        for value in values[1:]
        for tz in (ZoneInfo("Europe/London"), ZoneInfo("Asia/Ho_Chi_Minh"), dt_timezone(timedelta(hours=-3)))
    ]
    naive = [datetime(2026, 1, 1, 0, 0), datetime(2026, 6, 1, 12, 0, 0, 5)]
    grid = values + others + naive
    fast._iso_texts.clear()
    with timezone.override(zone):
        expected = [iso_datetime(value) for value in grid]
        first = fast.datetimes()
        assert [first(value) for value in grid] == expected
        again = fast.datetimes()  # the next page: its UTC values' texts come from the memo
        assert [again(value) for value in grid] == expected
        # a page's columns (fast.datetime_texts): the UTC values (and None) from the memo by one lookup each,
        # whatever is not kept, and a column with anything else in it, through iso
        column = fast.datetime_texts()
        assert column(grid) == expected
        assert column(values) == expected[: len(values)]
        assert column(values[::-1]) == expected[: len(values)][::-1]
        assert column([]) == []
    with timezone.override(zone):
        fast._iso_texts.clear()
        column = fast.datetime_texts()
        assert column(values) == expected[: len(values)]  # none kept yet: each formatted, then kept
        assert column(values) == expected[: len(values)]
        assert column(others) == [iso_datetime(value) for value in others]
        assert column(naive + values) == [iso_datetime(value) for value in naive + values]
        kept = fast._iso_texts[timezone.get_current_timezone()]
        assert len(kept) == len([value for value in values if value is not None])
    other_zone = "Asia/Tokyo" if zone != "Asia/Tokyo" else "UTC"
    with timezone.override(other_zone):
        iso = fast.datetimes()
        assert [iso(value) for value in grid] == [iso_datetime(value) for value in grid]


def test_a_pages_dates_are_drfs() -> None:
    """fast.dates() writes a date as DateField does; anything else takes DRF's own field."""
    from datetime import UTC, date, datetime

    from health_f0.api import fast
    from health_f0.api.rows import iso_date

    iso_day = fast.dates()
    values: list[Any] = [None, date(1990, 2, 3), date(1, 1, 1), "2026-12-06"]
    assert [iso_day(value) for value in values] == [iso_date(value) for value in values]
    with pytest.raises(AssertionError):  # DRF refuses a datetime for a DateField; so does the fast path
        iso_day(datetime(2026, 1, 1, tzinfo=UTC))
    column = fast.date_texts()  # a page's column: plain dates by one C loop, anything else value by value
    assert column(values) == [iso_date(value) for value in values]
    assert column(values[1:3]) == ["1990-02-03", "0001-01-01"]
    assert column([]) == []


def test_texts_of_formats_each_value_once() -> None:
    from datetime import UTC, datetime

    from health_f0.api import fast

    calls: list[Any] = []

    def formatter(value: Any) -> Any:
        calls.append(value)
        return None if value is None else value.isoformat()

    moment = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    texts = fast.texts_of([moment, None, moment, moment + timedelta(minutes=15)], formatter)
    assert texts == {
        moment: moment.isoformat(),
        None: None,
        moment + timedelta(minutes=15): "2026-12-06T03:15:00+00:00",
    }
    assert len(calls) == 3


@pytest.mark.parametrize(
    "view", [monitoring_api.AlertListApi, registrations_api.RegistrationListApi, "staff-appointments"]
)
@pytest.mark.parametrize(
    "query",
    [
        "",
        "limit=5&cursor=abc&offset=3",
        "status=requested",
        "status=confirmed",
        "status=submitted",
        "level=urgent",
        "facility=5f0c3a49-7a43-4f7c-9bd8-d1b38b0a0e4c",
        "date=2026-12-06",
        "status=nope",
        "level=",
        "facility=x",
    ],
)
def test_query_filters_answer_what_the_filter_serializer_answers(view: Any, query: str) -> None:
    """api.apis.common.query_filters: the validated data of the list's FilterSerializer, or its 400, for any
    query; an empty query's answer is reused, and a caller changing it does not change the next one."""
    from django.http import QueryDict
    from rest_framework.exceptions import ValidationError
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from health_f0.api.apis import appointments as appointments_api
    from health_f0.api.apis.common import _FILTER_DEFAULTS, query_filters

    serializer_class = (
        appointments_api.StaffAppointmentListApi.FilterSerializer
        if view == "staff-appointments"
        else view.FilterSerializer
    )
    request = Request(APIRequestFactory().get(f"/api/v1/x?{query}"))
    serializer = serializer_class(data=QueryDict(query))
    if serializer.is_valid():
        expected = dict(serializer.validated_data)
        for _ in range(2):
            got = query_filters(serializer_class, request)
            assert got == expected
            assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}
            got["status"] = "changed"
    else:
        with pytest.raises(ValidationError) as refused:
            query_filters(serializer_class, request)
        assert refused.value.detail == serializer.errors
    # The staff lists' filters have no callable default (DRF's `empty` is none): their empty answer is reused.
    assert _FILTER_DEFAULTS.get(serializer_class) is not None


def test_display_phones_is_display_phone_of_each_number() -> None:
    """core.phone.display_phones (a list's column at once) answers what display_phone answers number by number,
    for a column of usual numbers and for columns holding anything else."""
    from health_f0.core.phone import display_phone, display_phones

    usual = ["+84912345678", "+84387654321"]
    odd: list[Any] = ["", None, "0912345678", "+8491234567", "+6591234567x", "+849123456789", "+85912345678"]
    assert list(display_phones(usual)) == ["0912 345 678", "0387 654 321"]
    assert list(display_phones([])) == []
    for value in odd:
        for column in ([value], [*usual, value], [value, *usual]):
            assert list(display_phones(column)) == [display_phone(number) for number in column], column
