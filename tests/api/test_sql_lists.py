"""The lists written as constant SQL (core/sqllist.py; issue 11) give exactly the rows of the ORM queries they
replace, for every kind of account: station staff and head, TTYT and provincial managers, the administrator,
roles that must see nothing (the TTYT's booking desk, a station of another commune, the accountant), a patient
account; with a restricted patient (privacy) among the records and every filter the API takes. Pages walked by
keyset give the same rows and the same cursors as the ORM's Keyset, and v1's count and slices agree.

- registrations: registration/sql/registrations.py (selectors.registration_queue_rows) vs
  selectors.registration_queue;
- alerts: monitoring/sql/alerts.py (selectors.alert_list_rows) vs selectors.alert_list;
- the account's episodes: monitoring/sql/episodes.py (selectors.own_episode_rows) vs selectors.own_episodes,
  for the own patient, a family member, another family, staff and the superuser;
- a patient's declarations: monitoring/sql/declarations.py (selectors.declaration_rows) vs the API's `.values()`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from health_f0.api.apis import monitoring as monitoring_api
from health_f0.api.apis import registrations as registrations_api
from health_f0.api.fast import uuid_text
from health_f0.core.keyset import Keyset
from health_f0.facilities.models import Facility
from health_f0.monitoring import selectors as monitoring_selectors
from health_f0.monitoring.models import LEVEL_RANK, Alert
from health_f0.monitoring.sql import alerts as alerts_sql
from health_f0.privacy.models import ProcessingRestriction
from health_f0.registration import selectors as registration_selectors
from health_f0.registration.models import Registration
from health_f0.registration.services import registration_accept
from health_f0.registration.sql import registrations as registration_sql
from tests import access_records
from tests.test_access_matrix import PERSONAS, SEES

pytestmark = pytest.mark.django_db

# Every persona of the access matrix, and a patient account.
ACCOUNTS = [*PERSONAS, "bn0000001"]
# Who must see some rows of each list, by the access matrix (the test would prove nothing if all were empty).
SEES_REGISTRATIONS = {name for name, keys in SEES.items() if keys & {"reg_a", "reg_b"}}
SEES_ALERTS = {name for name, keys in SEES.items() if keys & {"alert_a", "alert_b"}}


def _fresh(username: str) -> Any:
    """A new user object (access caches memberships per object)."""
    return get_user_model().objects.get(username=username)


@pytest.fixture
def records(demo: Any, persona: Any) -> dict[str, Any]:
    """The access matrix's patients A (Thành Đông, under a processing restriction) and B (Lê Thanh Nghị), each
    with an active episode and an open danger-sign alert; one more alert of A acknowledged."""
    registration_b = Registration.objects.filter(facility__code="TYT-10532", status="submitted").last()
    patient_b = registration_accept(registration=registration_b, actor=persona("lethanhnghi.nv")).patient
    patient_a = Registration.objects.get(patient__account__username="bn0000001").patient
    patients = {
        "pat_a": access_records.portal_ready(patient_a),
        "pat_b": access_records.portal_ready(patient_b),
    }
    home_care = access_records.monitoring_records(patients)
    ProcessingRestriction.objects.create(
        patient=patient_a,
        retain_until=timezone.localdate() + timedelta(days=3650),
        reason="Hồ sơ y tế lưu trữ 10 năm theo Luật Khám bệnh, chữa bệnh",
    )
    return {**patients, **home_care}


def _walk(keyset: Keyset, page: Any, size: int) -> tuple[list[Any], list[Any]]:
    """Every row of a list page after page by `page(cursor)`, and the cursors met (next and previous)."""
    rows: list[Any] = []
    cursors: list[Any] = []
    cursor = None
    while True:
        result = page(cursor)
        assert len(result.items) <= size
        rows.extend(result.items)
        cursors.append((result.next_cursor, result.previous_cursor))
        if not result.has_next:
            return rows, cursors
        cursor = result.next_cursor


def _text_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their public ids as the API's text: the staff lists read them as text (api.fast.uuid_text), the
    ORM's `.values()` as UUIDs."""
    return [
        {key: uuid_text(value) if key.endswith("public_id") else value for key, value in row.items()}
        for row in rows
    ]


def _agree(orm: Any, sql: Any, ordering: tuple[str, ...]) -> list[Any]:
    """The SQL list gives the ORM queryset's rows (v1: count and slices; v2: keyset pages and cursors)."""
    expected = _text_ids(list(orm.order_by(*ordering)))
    listing = sql.order_by(*ordering)
    assert listing.count() == len(expected)
    assert _text_ids(listing[0:1000]) == expected
    assert _text_ids(listing[1:3]) == expected[1:3]
    keyset = Keyset(ordering)
    for size in (1, 2, 50):
        orm_rows, orm_cursors = _walk(
            keyset, lambda c, size=size: keyset.page(orm, size=size, cursor=c), size
        )
        sql_rows, sql_cursors = _walk(
            keyset, lambda c, size=size: sql.keyset_page(keyset, size=size, cursor=c), size
        )
        assert _text_ids(sql_rows) == _text_ids(orm_rows) == expected
        assert sql_cursors == orm_cursors
        # Back from the last page by `previous`.
        for _next, previous in sql_cursors[1:]:
            assert _text_ids(sql.keyset_page(keyset, size=size, cursor=previous).items) == _text_ids(
                keyset.page(orm, size=size, cursor=previous).items
            )
    return expected


@pytest.mark.parametrize(
    "value",
    # Fixed values: xdist workers must collect the same test ids.
    [
        UUID("e516bc7a-2489-443a-a822-0c7d4d08d1ae"),
        "33921e77-eda7-4713-b111-cbe9a590b5ac",
        "001fad2e56cf4a5495fb9d6972ae7cab",
        None,
    ],
)
def test_uuid_text_is_what_str_of_the_uuid_is(value: Any) -> None:
    from uuid import UUID

    expected = None if value is None else str(value if isinstance(value, UUID) else UUID(value))
    assert uuid_text(value) == expected


# --- Registrations ---------------------------------------------------------------------------------------


def _registration_filters() -> list[dict[str, Any]]:
    station = Facility.objects.get(code="TYT-10510").public_id
    ttyt = Facility.objects.get(code="TTYT-HD").public_id
    return [
        {},
        {"status": "submitted"},
        {"status": "accepted"},
        {"facility": station},
        {"facility": ttyt},
        {"facility": uuid4()},
        {"status": "submitted", "facility": station},
    ]


@pytest.mark.parametrize("username", ACCOUNTS)
def test_registration_rows_are_the_orm_queue(username: str, records: dict[str, Any]) -> None:
    seen = 0
    for params in _registration_filters():
        orm = (
            registration_selectors.registration_queue(user=_fresh(username), **params)
            .prefetch_related(None)
            .values(*registrations_api.REGISTRATION_COLUMNS)
        )
        sql = registration_selectors.registration_queue_rows(user=_fresh(username), **params)
        seen += len(_agree(orm, sql, registration_selectors.QUEUE_ORDER))
    assert bool(seen) == (username in SEES_REGISTRATIONS), username


def test_registration_rows_of_a_decided_and_a_transferred_registration(
    records: dict[str, Any], persona: Any
) -> None:
    """Decided registrations (decided_sort is the decision time) sort after the waiting ones, newest first."""
    from health_f0.registration.services import registration_reject

    waiting = Registration.objects.filter(facility__code="TYT-10510", status="submitted").order_by("id")
    registration_reject(registration=waiting[0], actor=persona("thanhdong.nv"), reason="Không liên lạc được")
    orm = (
        registration_selectors.registration_queue(user=_fresh("ttyt.lanhdao"))
        .prefetch_related(None)
        .values(*registrations_api.REGISTRATION_COLUMNS)
    )
    sql = registration_selectors.registration_queue_rows(user=_fresh("ttyt.lanhdao"))
    rows = _agree(orm, sql, registration_selectors.QUEUE_ORDER)
    assert {row["status"] for row in rows} >= {"submitted", "accepted", "rejected"}


def test_a_forged_registration_cursor_is_refused(records: dict[str, Any], as_user: Any) -> None:
    client = as_user("thanhdong.nv")
    keyset = Keyset(registration_selectors.QUEUE_ORDER)
    forged = keyset.cursor_for({"queue_rank": 0, "decided_sort": "not a time", "created_at": "x", "id": 1})
    response = client.get("/api/v2/registrations", {"cursor": forged})
    assert response.status_code == 400
    assert "invalid_cursor" in response.content.decode()


# --- Alerts ----------------------------------------------------------------------------------------------


def _alert_filters() -> list[dict[str, Any]]:
    return [
        {},
        {"level": "emergency"},
        {"level": "urgent"},
        {"facility": Facility.objects.get(code="TTYT-HD").public_id},
        {"facility": Facility.objects.get(code="TYT-10532").public_id},
        {"facility": uuid4()},
    ]


@pytest.mark.parametrize("username", ACCOUNTS)
def test_alert_rows_are_the_orm_list(username: str, records: dict[str, Any], persona: Any) -> None:
    # One of A's alerts acknowledged (it leaves the list), a second one open.
    declaration = access_records.declaration_note("a2")
    from health_f0.monitoring.services import declaration_submit

    patient = records["pat_a"]
    declaration_submit(
        patient=patient,
        actor=patient.account,
        answers={**access_records.DANGER, "note": declaration},
        idempotency_key="sql-lists-a2",
    )
    Alert.objects.filter(pk=records["alert_a"].pk).update(
        acknowledged_at=timezone.now(), acknowledged_by=persona("thanhdong.nv"), outcome="stable"
    )
    seen = 0
    for params in _alert_filters():
        orm = (
            monitoring_selectors.alert_list(user=_fresh(username), **params)
            .prefetch_related(None)
            .values(*monitoring_api.ALERT_COLUMNS, "level_rank")
        )
        # The stored rank is the level's rank (the order "most severe first" the list always had).
        assert all(row["level_rank"] == LEVEL_RANK[row["level"]] for row in orm)
        sql = monitoring_selectors.alert_list_rows(user=_fresh(username), **params)
        seen += len(_agree(orm, sql, monitoring_selectors.ALERT_ORDER))
        # The API's page reads the same rows as tuples of OPEN_ALERTS' columns (SqlList.as_tuples).
        names = alerts_sql.OPEN_ALERTS.names
        as_dicts = sql.order_by(*monitoring_selectors.ALERT_ORDER)[0:1000]
        as_tuples = sql.as_tuples().order_by(*monitoring_selectors.ALERT_ORDER)[0:1000]
        assert [dict(zip(names, row, strict=True)) for row in as_tuples] == as_dicts
    assert bool(seen) == (username in SEES_ALERTS), username


def test_tuple_rows_page_by_their_columns_attributes() -> None:
    """A tuple row's columns are its attributes (core.keyset reads a cursor's values so); a keyset on a name the
    row cannot answer so (a tuple's own attribute, `count`) is refused rather than given a wrong cursor."""
    from health_f0.core.sqllist import Col, SqlColumns

    pk = Alert._meta.pk
    assert pk is not None
    columns = SqlColumns({"id": Col("a.id", pk), "count": Col("a.id", pk)})
    row = columns.row_type((7, 8))
    assert (row.id, row[1], tuple(row)) == (7, 8, (7, 8))
    assert row.count(7) == 1  # the tuple's own method, not the column
    listing = columns.rows("monitoring_alert a", "1 = 1", [], model=Alert, tuples=True)
    with pytest.raises(TypeError):
        listing.keyset_page(Keyset(("count",)), size=1, cursor=None)


# --- The account's episodes ------------------------------------------------------------------------------


@pytest.fixture
def families(records: dict[str, Any], persona: Any) -> dict[str, Any]:
    """Patient A's child on the same verified phone (a family: own_patients_for), with an active episode;
    A's and B's episodes completed with a certificate (the `certificate` action)."""
    from health_f0.registration.services import RegistrationInput, _create, registration_validate

    own = records["pat_a"]
    child_input = registration_validate(
        RegistrationInput(
            full_name="Nguyễn Minh Khang",
            date_of_birth=own.date_of_birth.replace(year=2019),
            sex="male",
            phone=own.phone,
            province_code=31,
            ward_code=10510,
            test_type="rapid",
            positive_date=timezone.localdate() - timedelta(days=1),
            care="caregiver",
            consent=True,
            relation="relative",
            registrant_name="Nguyễn Văn Hùng",
        )
    )
    child_reg = _create(child_input, channel="web", facility=own.facility, actor=None)
    child = access_records.portal_ready(
        registration_accept(registration=child_reg, actor=persona("thanhdong.nv")).patient
    )
    access_records.certificate_records(
        records, {"a": persona("thanhdong.nv"), "b": persona("lethanhnghi.nv")}
    )
    return {**records, "child": child}


def _episode_view(episode: Any, user: Any) -> tuple[Any, ...]:
    """What the API reads of an episode instance: its fields, its patient's and station's, its actions."""
    from health_f0.monitoring.transitions import EPISODE_WORKFLOW

    patient, station = episode.patient, episode.facility
    return (
        {field.attname: getattr(episode, field.attname) for field in episode._meta.concrete_fields},
        (patient.pk, patient.public_id, patient.full_name, patient.account_id),
        (station.pk, station.public_id, station.code, station.name, station.hotline),
        EPISODE_WORKFLOW.available(episode, user),
    )


@pytest.mark.parametrize(
    ("username", "count"),
    [("bn0000001", 2), ("child", 2), ("pat_b", 1), ("thanhdong.nv", 0), ("admin", 0), ("datlich", 0)],
)
def test_episode_rows_are_the_orm_list(username: str, count: int, families: dict[str, Any]) -> None:
    """Own patient (under a processing restriction: the right of access stays), a family member on the same
    phone, another family, staff and the superuser (none)."""
    from health_f0.monitoring.sql import episodes as episodes_sql

    if username in families:
        username = families[username].account.username
    orm = monitoring_selectors.own_episodes(user=_fresh(username)).values(*episodes_sql.OWN_EPISODES.columns)
    sql = monitoring_selectors.own_episode_rows(user=_fresh(username))
    rows = _agree(orm, sql, monitoring_selectors.OWN_EPISODE_ORDER)
    assert len(rows) == count
    user = _fresh(username)
    instances = list(monitoring_selectors.own_episodes(user=user))
    built = episodes_sql.episode_instances(sql[0:100])
    assert [_episode_view(e, user) for e in built] == [_episode_view(e, user) for e in instances]
    if count:
        assert "certificate" in {action for e in built for action in _episode_view(e, user)[3]}


# --- The plans: the lists' statements name their order's indexes on MariaDB/MySQL --------------------------
# (issue 11, ninth round: weighing every index on facility_id and the cursor's columns cost MariaDB more than
# reading the page, 3 ms of 6 for a TTYT's next page). The rows are the ORM's whatever the hint (tests above).

ALERT_HINT = "monitoring_alert a USE INDEX (alert_open_order, alert_open_order_all) "
ALERT_FORCED = "monitoring_alert a FORCE INDEX (alert_open_order_all) "
QUEUE_HINT = "registration_registration r USE INDEX (reg_queue_order, reg_queue_order_all) "
QUEUE_FORCED = "registration_registration r FORCE INDEX (reg_queue_order_all) "
QUEUE_RANGE = "WHERE r.queue_rank >= 0 AND ("
QUEUE_STATUS_HINT = (
    "registration_registration r USE INDEX (reg_queue_order, reg_queue_order_all, "
    f"{registration_sql.BY_STATUS_INDEX}) "
)


def _list_statements(client: Any, path: str, table: str, **filters: str) -> list[str]:
    """The statements on `table` of a v2 first page, its next page and v1's count and page (limit 1)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        first = client.get(f"/api/v2/{path}", {"limit": 1, **filters})
        assert first.status_code == 200
        assert first.json()["next"], "the test needs a second page"
        assert client.get(first.json()["next"]).status_code == 200
        assert client.get(f"/api/v1/{path}", {"limit": 1, **filters}).status_code == 200
    return [query["sql"] for query in queries.captured_queries if f"FROM {table} " in query["sql"]]


def _explained(statement: str, alias: str) -> list[dict[str, Any]]:
    """EXPLAIN's rows of the table `alias` of `statement`."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return [row for row in rows if row["table"] == alias]


def _index_condition(statement: str, alias: str) -> str:
    """The condition MariaDB tests in the index it reads the table `alias` of `statement` with (EXPLAIN
    FORMAT=JSON's index_condition: index condition pushdown), "" if none."""
    import json

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN FORMAT=JSON {statement}")
        plan = json.loads(cursor.fetchone()[0])
    tables = [step["table"] for step in plan["query_block"]["nested_loop"] if "table" in step]
    return next(str(table.get("index_condition", "")) for table in tables if table["table_name"] == alias)


def _explained_keys(statement: str, alias: str) -> set[Any]:
    """The index MariaDB reads the table `alias` of `statement` with (EXPLAIN)."""
    return {row["key"] for row in _explained(statement, alias)}


# Who asks, which subtree they choose, and how many facilities that leaves: one station's, or many (the TTYT's
# 8 facilities of the demo, a superuser's every facility).
ALERT_SCOPES = [
    ("thanhdong.nv", None, "one"),
    ("ttyt.lanhdao", None, "many"),
    ("admin", None, "many"),
    ("ttyt.lanhdao", "TYT-10510", "one"),
    ("thanhdong.nv", "TTYT-HD", "one"),
]


@pytest.mark.parametrize(("username", "code", "scope"), ALERT_SCOPES)
def test_the_alert_list_names_its_order_indexes(
    username: str, code: str | None, scope: str, records: dict[str, Any], persona: Any, as_user: Any
) -> None:
    """One station's alerts are read in alert_open_order or alert_open_order_all, MariaDB's choice; many
    facilities' in alert_open_order_all named with FORCE INDEX, which ends with the facility: MariaDB tests it in
    the index (101 rows read for a page of 101 at the largest TTYT of the 100k data, 262 left to choose). v1's
    count keeps the choice (forced, it walks every open alert). The rows are the ORM's (tests above)."""
    from django.db import connection

    from health_f0.monitoring.services import declaration_submit

    patient = records["pat_a"]
    declaration_submit(
        patient=patient,
        actor=patient.account,
        answers={**access_records.DANGER, "note": access_records.declaration_note("a3")},
        idempotency_key="sql-lists-a3",
    )
    filters = {} if code is None else {"facility": str(Facility.objects.get(code=code).public_id)}
    statements = _list_statements(as_user(username), "alerts", "monitoring_alert", **filters)
    assert len(statements) == 4, statements  # first page, next page, v1's count and page
    mysql = connection.vendor == "mysql"
    for statement in statements:
        counts = statement.startswith("SELECT COUNT(*)")
        hint = ALERT_FORCED if scope == "many" and not counts else ALERT_HINT
        assert (hint in statement) == mysql, statement
        if mysql:
            keys = _explained_keys(statement, "a")
            if hint == ALERT_FORCED:
                assert keys == {"alert_open_order_all"}, keys
            else:
                assert keys <= {"alert_open_order", "alert_open_order_all", None}, keys
        else:
            assert "INDEX" not in statement, statement
    assert mysql or "USE INDEX" not in alerts_sql.FROM


@pytest.mark.parametrize(
    ("username", "scope"), [("thanhdong.nv", "one"), ("ttyt.lanhdao", "many"), ("admin", "many")]
)
@pytest.mark.parametrize("status", [None, "submitted"])
def test_the_registration_queue_names_its_order_indexes(
    username: str, scope: str, status: str | None, records: dict[str, Any], as_user: Any
) -> None:
    """One station's queue is read in reg_queue_order or reg_queue_order_all, MariaDB's choice, and so is a
    status's (or in the (facility, status, created_at) index); many facilities' unfiltered queue in
    reg_queue_order_all named with FORCE INDEX, read as a range (`queue_rank >= 0`, every row) so that MariaDB
    tests the facility, the index's last column, in the index (index condition pushdown; issue 11, twelfth round:
    the smallest TTYT of the 100k data 2.1 -> 0.64 ms of MariaDB's CPU). v1's count keeps the choice and no range
    (with it, the largest TTYT's count read the forced index's range: 6.6 -> 20 ms)."""
    from django.db import connection

    filters = {} if status is None else {"status": status}
    statements = _list_statements(as_user(username), "registrations", "registration_registration", **filters)
    assert len(statements) == 4, statements
    mysql = connection.vendor == "mysql"
    for statement in statements:
        counts = statement.startswith("SELECT COUNT(*)")
        forced = scope == "many" and status is None and not counts
        hint = QUEUE_FORCED if forced else QUEUE_HINT if status is None else QUEUE_STATUS_HINT
        assert (hint in statement) == mysql, statement
        assert (QUEUE_RANGE in statement) == (mysql and forced), statement
        if mysql and forced:
            (row,) = _explained(statement, "r")
            assert row["key"] == "reg_queue_order_all" and row["type"] == "range", row
            # A superuser's scope names no facility (every one): nothing to test.
            scoped = "r.facility_id IN (" in statement
            assert scoped == (username != "admin"), statement
            assert ("r.facility_id" in _index_condition(statement, "r")) == scoped, "not tested in the index"
        elif mysql:
            allowed = {"reg_queue_order", "reg_queue_order_all", None}
            if status:
                allowed.add(registration_sql.BY_STATUS_INDEX)
            assert _explained_keys(statement, "r") <= allowed
        else:
            assert "INDEX" not in statement and QUEUE_RANGE not in statement, statement
    assert mysql or "USE INDEX" not in registration_sql.FROM


# --- A patient's declarations ----------------------------------------------------------------------------------


def test_declaration_rows_are_the_orm_list(records: dict[str, Any], persona: Any) -> None:
    """GET /api/v1|v2/declarations reads monitoring/sql/declarations.patient_list: the rows, counts, slices, keyset
    pages and cursors of the `.values()` query it replaced; declared by the account, by a station's staff and by
    no one (imported), ties on the time broken by id, reasons and answers of every shape; another patient's rows
    never among them."""
    from health_f0.monitoring.models import Declaration, Episode
    from health_f0.monitoring.services import active_questionnaire

    patients = [records["pat_a"], records["pat_b"]]
    now = timezone.now().replace(microsecond=123456)
    submitters = [patients[0].account, persona("thanhdong.nv"), None]
    for p_index, patient in enumerate(patients):
        episode = Episode.objects.filter(patient=patient).latest("id")
        template = Declaration.objects.filter(episode=episode).first()
        questionnaire_id = template.questionnaire_id if template else active_questionnaire()[0].pk
        rows = []
        for i in range(7):
            rows.append(
                Declaration(
                    episode=episode,
                    patient=patient,
                    questionnaire_id=questionnaire_id,
                    submitted_by=submitters[i % 3],
                    submitted_at=now - timedelta(hours=5 * (i // 2)),  # pairs on the same time
                    local_date=timezone.localdate(now - timedelta(hours=5 * (i // 2))),
                    late=bool(i % 2),
                    answers={
                        "spo2": 95 + i % 3,
                        "temperature": "37,5",
                        "symptoms": ["cough"],
                        "note": "<b>&</b>",
                    }
                    if i % 2
                    else {},
                    alert_level=["none", "watch", "urgent"][i % 3],
                    reasons=[f"Lý do {i}", "SpO2 ≤ 96%"] if i % 3 else [],
                    idempotency_key=f"sql-list-{p_index}-{i}",
                )
            )
        Declaration.objects.bulk_create(rows)
    for patient in patients:
        orm = Declaration.objects.filter(patient_id=patient.pk).values(*monitoring_api.DECLARATION_COLUMNS)
        sql = monitoring_selectors.declaration_rows(patient_id=patient.pk)
        expected = _agree(orm, sql, ("-submitted_at", "-id"))
        assert len(expected) >= 7
        assert {row["submitted_by__username"] for row in expected} >= {None, "thanhdong.nv"}


def test_a_scoped_from_is_chosen_by_the_scopes_size() -> None:
    """core.sqllist.ScopedFrom: MariaDB/MySQL read `many` from MANY_FACILITIES facility ids on (and for every
    facility, None), `few` below; v1's count always `few`; other databases `plain`."""
    from types import SimpleNamespace

    from health_f0.core.sqllist import MANY_FACILITIES, ScopedFrom

    scoped = ScopedFrom(plain="t", few="t USE INDEX (a, b)", many="t FORCE INDEX (b)")
    mysql, other = SimpleNamespace(vendor="mysql"), SimpleNamespace(vendor="sqlite")
    assert MANY_FACILITIES == 2
    for size in (0, 1):
        assert scoped.choose(mysql, size) == ("t USE INDEX (a, b)", "t USE INDEX (a, b)")
    for size in (2, 22, None):
        assert scoped.choose(mysql, size) == ("t FORCE INDEX (b)", "t USE INDEX (a, b)")
    for size in (0, 1, 2, None):
        assert scoped.choose(other, size) == ("t", "t")
    ranged = ScopedFrom(plain="t", few="t USE INDEX (a, b)", many="t FORCE INDEX (b)", many_where="t.b >= 0")
    assert ranged.choose_page(mysql, 1) == ("t USE INDEX (a, b)", "t USE INDEX (a, b)", "")
    for size in (2, None):
        assert ranged.choose_page(mysql, size) == ("t FORCE INDEX (b)", "t USE INDEX (a, b)", "t.b >= 0")
        assert ranged.choose_page(other, size) == ("t", "t", "")
