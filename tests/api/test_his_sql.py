"""The patient's HIS lists written as constant SQL (his/sql, issue 11) give exactly the rows of the ORM queries
they replace — visits, their lab results (v1 every one, v2 the first few with their total), lab results with
each filter, link requests with their actions — and page with the same cursors, for the account's own
patient, a family member's account, another family's account (never the first family's rows) and a patient
under a processing restriction (a patient keeps access to their own records). Staff tokens answer 403
(tests/api/test_his_api.py); the scope rule written as SQL agrees with the ORM's for every persona
(tests/security/test_his_records_sql.py)."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from health_f0.api.apis.his import (
    LAB_RESULT_COLUMNS,
    VISIT_COLUMNS,
    VISIT_LAB_RESULT_COLUMNS,
    HisLinkRequestSerializer,
)
from health_f0.core.keyset import Keyset, time_key
from health_f0.core.sqllist import SqlList
from health_f0.facilities.models import Facility
from health_f0.his import selectors
from health_f0.his.models import HisLabReport, HisLabResult, HisLink, HisLinkRequest, HisVisit
from health_f0.his.sql import lab_results as sql_lab_results
from health_f0.his.sql import link_requests as sql_link_requests
from health_f0.his.sql import visits as sql_visits
from health_f0.his.tests.conftest import make_patient
from health_f0.patients.models import Patient
from health_f0.privacy.models import ProcessingRestriction
from health_f0.www.his_rows import portal_visits
from tests.api.test_his_api import hung, records, relative  # noqa: F401 - the fixture
from tests.api.test_sql_lists import _text_ids

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def families(hung: Patient, ttyt: Facility) -> dict[str, Any]:  # noqa: F811 - the fixture
    """Hung and his child (one family, the child restricted), a stranger with an account (another family);
    visits with results, a visit without a time, a report withdrawn, a result of no visit, link requests in
    every state."""
    hd = Facility.objects.get(code="TTYT-HD")
    child = relative(hung)
    stranger = make_patient(name="Trần Văn Lạ", account=User.objects.create_user(username="bn-la"))
    for n in range(4):
        records(hung, ttyt, f"H{n}", days_ago=n + 1)
    visit = records(child, ttyt, "CON", days_ago=2)
    records(stranger, ttyt, "LA", days_ago=1)
    HisVisit.objects.create(patient=hung, facility=ttyt, source="fhir", external_id="NO-TIME")
    same_time = HisVisit.objects.get(external_id="MALK-H0").admitted_at
    HisVisit.objects.create(
        patient=hung, facility=ttyt, source="fhir", external_id="TIE", admitted_at=same_time
    )
    report = HisLabReport.objects.create(
        patient=hung,
        facility=ttyt,
        source="fhir",
        external_id="DR-1",
        name="Sinh hoá máu",
        status="final",
        conclusion="Đường huyết cao.",
        issued_at=timezone.now() - timedelta(days=4),
    )
    withdrawn = HisLabReport.objects.create(
        patient=hung, facility=ttyt, source="fhir", external_id="DR-2", name="Huỷ", status="cancelled"
    )
    first = HisVisit.objects.get(external_id="MALK-H3")
    for n, (name, rep) in enumerate([("HbA1c", report), ("Ure máu", report), ("Glucose huỷ", withdrawn)]):
        HisLabResult.objects.create(
            patient=hung,
            facility=ttyt,
            source="fhir",
            external_id=f"O-{n}",
            name=name,
            visit=first if n else None,
            value_number=Decimal("100") if n else None,
            value="Âm tính" if not n else "",
            reference_high=Decimal("7.1234"),
            flag="L" if n == 1 else "",
            report=rep,
        )
    for n in range(6):
        HisLabResult.objects.create(
            patient=child,
            facility=ttyt,
            source="xml",
            external_id=f"MALK-CON:x{n}",
            visit=visit,
            name=f"Chỉ số {n}",
            value=str(n),
            flag="H" if n % 2 else "N",
            observed_at=visit.admitted_at,
        )
    # A hospital Hung's family is not linked with: its records never show.
    other = Facility.objects.exclude(pk=ttyt.pk).filter(kind=ttyt.kind).first() or hd
    if other.pk != ttyt.pk:
        HisVisit.objects.create(patient=hung, facility=other, source="xml", external_id="UNLINKED")
    ProcessingRestriction.objects.create(
        patient=child, retain_until=timezone.localdate() + timedelta(days=3650), reason="Lưu trữ hồ sơ"
    )
    link = HisLink.objects.get(patient=child)
    statuses = ["linked", "needs_review", "rejected", "unlinked"]
    for n, (patient, status) in enumerate(
        [(hung, s) for s in statuses] + [(child, "linked"), (stranger, "linked")]
    ):
        request = HisLinkRequest.objects.create(
            patient=patient,
            facility=ttyt,
            identifier_type="his_code",
            identifier=f"BN-{n}",
            status=status,
            channel="app",
            reason="Không khớp" if status == "rejected" else "",
        )
        if patient == child:
            link.request = request
            link.save(update_fields=["request"])
        elif status == "linked" and patient == hung:
            HisLink.objects.filter(patient=hung, facility=ttyt).update(request=request)
    return {"hung": hung, "child": child, "stranger": stranger}


def _users(families: dict[str, Any]) -> list[Any]:
    return [User.objects.get(pk=families[name].account_id) for name in ("hung", "child", "stranger")]


def _patients(families: dict[str, Any]) -> list[Any]:
    return [None, families["hung"], families["child"]]


def _stored_text(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`.values()` rows with a result's time and range as his.sql.visits reads them: MariaDB's text of the
    DATETIME(6) (UTC) and of the DECIMAL(14, 4)."""

    def text(key: str, value: Any) -> Any:
        if value is None:
            return None
        if key in ("observed_at", "report__issued_at"):
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if key in ("reference_low", "reference_high"):
            return f"{value:f}"
        return value

    return [{key: text(key, value) for key, value in row.items()} for row in rows]


def _walk(listing: Any, ordering: tuple[str, ...], size: int) -> list[tuple[Any, str | None]]:
    keyset, cursor, seen = Keyset(ordering), None, []
    while True:
        if isinstance(listing, SqlList):
            page = listing.keyset_page(keyset, size=size, cursor=cursor)
        else:
            page = keyset.page(listing, size=size, cursor=cursor)
        seen.append(([row["id"] for row in page.items], page.next_cursor))
        if not page.has_next:
            return seen
        cursor = page.next_cursor


def test_the_columns_are_the_api_rows(families: dict[str, Any]) -> None:
    assert set(sql_visits.VISITS.columns) == {*VISIT_COLUMNS, "admitted_sort"}
    assert set(sql_visits.ALL_RESULTS.columns) == set(VISIT_LAB_RESULT_COLUMNS)
    assert set(sql_visits.FIRST_RESULTS.columns) == {*VISIT_LAB_RESULT_COLUMNS, "visit_total"}
    assert set(sql_lab_results.LAB_RESULTS.columns) == set(LAB_RESULT_COLUMNS)


def test_visits_and_their_lab_results_equal_the_orm(families: dict[str, Any]) -> None:
    shown_any = False
    for user in _users(families):
        scope = selectors.RecordScope.of(user)
        for patient in _patients(families):
            orm = (
                selectors.visits_for(user=user, patient=patient)
                .annotate(admitted_sort=time_key("admitted_at"))
                .values(*VISIT_COLUMNS, "admitted_sort")
                .order_by(*sql_visits.VISIT_ORDER)
            )
            sql = selectors.visit_rows_for(scope=scope, patient=patient)
            # The visits' rows read their public ids as text (api.fast.uuid_text writes them), the ORM as UUIDs.
            expected = _text_ids(list(orm))
            assert sql[0:1000] == expected, (user, patient)
            assert sql.count() == len(expected)
            assert sql[1:3] == expected[1:3]
            assert _walk(sql, sql_visits.VISIT_ORDER, 2) == _walk(orm, sql_visits.VISIT_ORDER, 2)
            ids = [row["id"] for row in expected]
            shown_any = shown_any or bool(ids)
            v1 = (
                HisLabResult.objects.filter(visit_id__in=ids)
                .exclude(report__status__in=selectors.WITHDRAWN_REPORT_STATUSES)
                .order_by("visit_id", "name", "id")
            )
            v1_rows = selectors.visit_lab_result_rows(visit_ids=ids)
            assert v1_rows == _stored_text(_text_ids(list(v1.values(*VISIT_LAB_RESULT_COLUMNS))))
            # A withdrawn report's result ("Glucose huỷ") is never shown, in v1 as in v2.
            assert "Glucose huỷ" not in {row["name"] for row in v1_rows}
            for per_visit in (1, 3, 20):
                v2 = selectors.first_lab_results_of(user=user, visit_ids=ids, per_visit=per_visit)
                rows = selectors.first_lab_result_rows_of(scope=scope, visit_ids=ids, per_visit=per_visit)
                expected_v2 = _stored_text(
                    _text_ids(list(v2.values(*VISIT_LAB_RESULT_COLUMNS, "visit_total")))
                )
                assert rows == expected_v2, (user, per_visit)
    assert shown_any
    # Another family's account sees only its own visit.
    stranger = _users(families)[2]
    rows = selectors.visit_rows_for(scope=selectors.RecordScope.of(stranger))[0:100]
    assert [row["diagnosis_text"] for row in rows] == ["Chẩn đoán LA"]


def test_lab_results_equal_the_orm_with_every_filter(families: dict[str, Any]) -> None:
    visit = HisVisit.objects.get(external_id="MALK-CON")
    for user in _users(families):
        for patient in _patients(families):
            for out_of_range in (False, True):
                for visit_id in (None, visit.public_id):
                    orm = selectors.lab_results_for(
                        user=user, patient=patient, out_of_range_only=out_of_range
                    )
                    if visit_id is not None:
                        orm = orm.filter(visit__public_id=visit_id)
                    orm = orm.values(*LAB_RESULT_COLUMNS).order_by(*selectors.LAB_ORDER)
                    sql = selectors.lab_result_rows_for(
                        user=user, patient=patient, out_of_range_only=out_of_range, visit_public_id=visit_id
                    )
                    expected = list(orm)
                    assert sql[0:1000] == expected, (user, patient, out_of_range, visit_id)
                    assert sql.count() == len(expected)
                    assert _walk(sql, selectors.LAB_ORDER, 3) == _walk(orm, selectors.LAB_ORDER, 3)
    hung_rows = selectors.lab_result_rows_for(user=_users(families)[0])[0:1000]
    names = {row["name"] for row in hung_rows}
    assert "Glucose huỷ" not in names and {"HbA1c", "Chỉ số 1", "Glucose H0"} <= names
    assert not {"Glucose LA", "Ure LA"} & names


def test_the_portal_lab_results_equal_the_orm(families: dict[str, Any]) -> None:
    """/ket-qua-xet-nghiem's constant SQL (his.selectors.portal_lab_result_rows) gives the rows of the queryset
    it replaced (portal_lab_results) with every column the page reads, and pages with the same cursors."""
    columns = list(sql_lab_results.PORTAL_LAB_RESULTS.columns)
    shown = set()
    for user in _users(families):
        for patient in (families["hung"], families["child"], families["stranger"]):
            for out_of_range in (False, True):
                orm = selectors.portal_lab_results(user=user, patient=patient, out_of_range_only=out_of_range)
                sql = selectors.portal_lab_result_rows(
                    user=user, patient=patient, out_of_range_only=out_of_range
                )
                expected = list(orm.values(*columns))
                assert sql[0:1000] == expected, (user, patient, out_of_range)
                walked = _walk(orm.values(*columns), selectors.PORTAL_LAB_ORDER, 2)
                assert _walk(sql, selectors.PORTAL_LAB_ORDER, 2) == walked
                shown |= {row["name"] for row in expected}
    # A report's, a visit's department and an out-of-range flag were compared, not only empty lists.
    assert {"HbA1c", "Ure máu", "Chỉ số 1"} <= shown and "Glucose huỷ" not in shown


def test_the_portal_visits_lab_results_equal_the_orm(families: dict[str, Any]) -> None:
    """/ho-so-kham's tables by constant SQL (his.selectors.portal_visit_lab_result_rows) give the rows of the
    window query they replaced (visit_lab_results with per_visit), with every column the table reads."""
    columns = list(sql_visits.PORTAL_RESULTS.columns)
    shown = set()
    for user in _users(families):
        for patient in (families["hung"], families["child"], families["stranger"]):
            visits = list(HisVisit.objects.filter(patient=patient))
            ids = [v.pk for v in visits]
            for per_visit in (1, 2, 41):
                orm = selectors.visit_lab_results(
                    user=user, patient=patient, visits=visits, per_visit=per_visit
                )
                sql = selectors.portal_visit_lab_result_rows(
                    user=user, patient=patient, visit_ids=ids, per_visit=per_visit
                )
                assert sql == list(orm.values(*columns)), (user, patient, per_visit)
                shown |= {row["name"] for row in sql}
    # Another family's visits are never read, even by their ids.
    hung_visits = list(HisVisit.objects.filter(patient=families["hung"]).values_list("id", flat=True))
    stranger = _users(families)[2]
    assert not selectors.portal_visit_lab_result_rows(
        user=stranger, patient=families["hung"], visit_ids=hung_visits, per_visit=40
    )
    assert {"Ure máu", "Chỉ số 1"} <= shown and "Glucose huỷ" not in shown


def _read(call: Any) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        found = call()
    return found, [query["sql"] for query in ctx.captured_queries]


def _plan(statement: str) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")
        names = [column[0].lower() for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _assert_read_in_the_visit_index(statement: str) -> None:
    """One plain statement (no window) that names (visit, name, id) on MariaDB, where its plan reads that index
    in the order asked: no sort, no temporary table (the window statements had both, on disk: issue 11)."""
    assert "OVER (" not in statement, statement
    hint = f"FORCE INDEX ({sql_visits.VISIT_NAME_INDEX})"
    assert (hint in statement) == (connection.vendor == "mysql"), statement
    assert "ORDER BY r.visit_id ASC, r.name ASC, r.id ASC LIMIT" in statement
    if connection.vendor != "mysql":
        return
    results = [row for row in _plan(statement) if row["table"] == "r"]
    assert [row["key"] for row in results] == [sql_visits.VISIT_NAME_INDEX], results
    for row in _plan(statement):
        assert "filesort" not in (row["extra"] or "") and "temporary" not in (row["extra"] or ""), row


def test_a_page_of_visits_reads_its_results_in_the_visit_index(families: dict[str, Any]) -> None:
    """/ho-so-kham's tables, its printed summary's and the API's v2 visits read their results with one statement
    in the order of the (visit, name, id) index when the visits hold fewer results than the page may show, and
    cut each visit's in Python: the window statements' rows (equal to the ORM's, above), a visit cut short with
    its total. The plan is pinned here: left to itself MariaDB entered by the patient's index and sorted."""
    owner = families["hung"]
    user = User.objects.get(pk=owner.account_id)
    scope = selectors.RecordScope.of(user)
    columns = list(sql_visits.PORTAL_RESULTS.columns)
    visits = list(HisVisit.objects.filter(patient=owner))
    ids = [v.pk for v in visits]
    # Hung's visits hold 9 results shown, MALK-H3 three of them: 2 a visit is 14 at most, so one statement.
    for per_visit in (2, 41, None):
        rows, statements = _read(
            lambda per_visit=per_visit: selectors.portal_visit_lab_result_rows(
                user=user, patient=owner, visit_ids=ids, per_visit=per_visit, scope=scope
            )
        )
        orm = selectors.visit_lab_results(user=user, patient=owner, visits=visits, per_visit=per_visit)
        assert rows == list(orm.values(*columns)), per_visit
        (statement,) = statements
        _assert_read_in_the_visit_index(statement)
    h3 = HisVisit.objects.get(external_id="MALK-H3").pk
    assert [row["name"] for row in rows if row["visit_id"] == h3] == ["Glucose H3", "Ure H3", "Ure máu"]
    # The API's v2 (3 a visit): the child's visit of 8 results is cut to 3, with its total.
    every = [row["id"] for row in selectors.visit_rows_for(scope=scope)[0:100]]
    rows, statements = _read(
        lambda: selectors.first_lab_result_rows_of(scope=scope, visit_ids=every, per_visit=3)
    )
    orm_v2 = selectors.first_lab_results_of(user=user, visit_ids=every, per_visit=3)
    assert rows == _stored_text(_text_ids(list(orm_v2.values(*VISIT_LAB_RESULT_COLUMNS, "visit_total"))))
    (statement,) = statements
    _assert_read_in_the_visit_index(statement)
    con = HisVisit.objects.get(external_id="MALK-CON").pk
    assert [row["visit_total"] for row in rows if row["visit_id"] == con] == [8, 8, 8]


def test_visits_holding_as_many_results_as_a_page_shows_are_numbered(families: dict[str, Any]) -> None:
    """When the page's visits hold `per_visit` results each or more (the plain read fills its LIMIT: a visit may
    have been cut before its turn), the first of each visit come from the window statement instead: the same
    rows as the ORM's, the plain read stopping at its LIMIT."""
    child = families["child"]
    user = User.objects.get(pk=families["hung"].account_id)
    scope = selectors.RecordScope.of(user)
    columns = list(sql_visits.PORTAL_RESULTS.columns)
    visits = list(HisVisit.objects.filter(patient=child))
    rows, statements = _read(
        lambda: selectors.portal_visit_lab_result_rows(
            user=user, patient=child, visit_ids=[v.pk for v in visits], per_visit=2, scope=scope
        )
    )
    orm = selectors.visit_lab_results(user=user, patient=child, visits=visits, per_visit=2)
    assert rows == list(orm.values(*columns)) and len(rows) == 2
    plain, numbered = statements
    assert "OVER (" not in plain and plain.endswith("LIMIT 2 OFFSET 0")
    assert "ROW_NUMBER() OVER (PARTITION BY r.visit_id ORDER BY r.name, r.id)" in numbered
    every = [row["id"] for row in selectors.visit_rows_for(scope=scope)[0:100]]
    rows, statements = _read(
        lambda: selectors.first_lab_result_rows_of(scope=scope, visit_ids=every, per_visit=1)
    )
    orm_v2 = selectors.first_lab_results_of(user=user, visit_ids=every, per_visit=1)
    assert rows == _stored_text(_text_ids(list(orm_v2.values(*VISIT_LAB_RESULT_COLUMNS, "visit_total"))))
    assert len(statements) == 2 and "COUNT(*) OVER (PARTITION BY r.visit_id)" in statements[1]
    if connection.vendor == "mysql":
        # Numbered on narrow columns and sorted on them: no temporary table on disk (the wide TEXT columns
        # put both statements' temporary tables on disk before).
        # (Counters read before and after: FLUSH STATUS would commit the test's transaction.)
        for statement in (numbered, statements[1]):
            with connection.cursor() as cursor:
                cursor.execute("SHOW SESSION STATUS LIKE 'Created_tmp_disk_tables'")
                before = int(cursor.fetchone()[1])
                cursor.execute(statement)
                cursor.fetchall()
                cursor.execute("SHOW SESSION STATUS LIKE 'Created_tmp_disk_tables'")
                assert int(cursor.fetchone()[1]) == before, statement


def test_the_portal_visits_equal_the_orm(families: dict[str, Any]) -> None:
    """/ho-so-kham's and its printed summary's visits by constant SQL (his.selectors.portal_visit_rows) give the
    rows of the querysets they replaced (portal_visits' two, visits_for's), with every column the pages and the
    bills read, and the timed ones page with the same cursors."""
    HisVisit.objects.filter(external_id="MALK-H1").update(
        bill_total=300_000, bill_insurance=240_000, bill_patient=60_000, department_code="K01"
    )
    columns = [name for name in sql_visits.PORTAL_VISITS.columns if name != "admitted_sort"]
    shown = set()
    for user in _users(families):
        scope = selectors.RecordScope.of(user)
        for patient in (families["hung"], families["child"], families["stranger"]):
            dated_orm, undated_orm = selectors.portal_visits(user=user, patient=patient)
            dated = selectors.portal_visit_rows(scope=scope, patient=patient, timed=True)
            undated = selectors.portal_visit_rows(scope=scope, patient=patient, timed=False)
            every = selectors.portal_visit_rows(scope=scope, patient=patient, timed=None)

            def plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return [{name: row[name] for name in columns} for row in rows]

            order = selectors.PORTAL_VISIT_ORDER
            expected = list(dated_orm.values(*columns).order_by(*order))
            assert plain(dated.fetch(ordering=order, limit=1000)) == expected, (user, patient)
            assert _walk(dated, order, 2) == _walk(dated_orm.values(*columns), order, 2)
            assert plain(undated.fetch(ordering=("-id",), limit=1000)) == list(undated_orm.values(*columns))
            all_orm = list(selectors.visits_for(user=user, patient=patient).values(*columns))
            assert plain(every.fetch(ordering=every.ordering, limit=1000)) == all_orm
            # The rows as the pages read them: HisVisit's attributes.
            by_id = {v.pk: v for v in selectors.visits_for(user=user, patient=patient)}
            for visit in portal_visits(every.fetch(ordering=every.ordering, limit=1000)):
                orm_visit = by_id[visit.pk]
                for name in ("public_id", "admitted_at", "bill_patient", "department_label", "facility_id"):
                    assert getattr(visit, name) == getattr(orm_visit, name), name
                assert (visit.facility.pk, visit.facility.name, visit.facility.path) == (
                    orm_visit.facility.pk,
                    orm_visit.facility.name,
                    orm_visit.facility.path,
                )
                shown.add(orm_visit.external_id)
    # A visit without a time, a bill, a family member's visit were compared; never the other hospital's visit.
    assert {"NO-TIME", "MALK-H1", "MALK-CON"} <= shown and "UNLINKED" not in shown


def test_a_page_of_dated_visits_brings_the_undated_ones(families: dict[str, Any]) -> None:
    """/ho-so-kham's dated visits (his.selectors.dated_portal_visit_rows): a page read forwards is the page of
    portal_visit_rows(timed=True) with the same cursors, and brings in the same statement (on MariaDB) the first
    undated visits, the rows of portal_visit_rows(timed=False) newest import first; a page read backwards does
    not."""
    no_time = HisVisit.objects.get(external_id="NO-TIME")
    HisVisit.objects.create(
        patient=no_time.patient, facility=no_time.facility, source="fhir", external_id="NO-TIME-2"
    )
    order = selectors.PORTAL_VISIT_ORDER
    keyset = Keyset(order)
    brought = 0
    for user in _users(families):
        scope = selectors.RecordScope.of(user)
        for patient in (families["hung"], families["child"], families["stranger"]):
            plain = selectors.portal_visit_rows(scope=scope, patient=patient, timed=True)
            undated = selectors.portal_visit_rows(scope=scope, patient=patient, timed=False)
            expected_undated = undated.fetch(ordering=("-id",), limit=2)
            for size in (1, 2, 20):
                dated = selectors.dated_portal_visit_rows(scope=scope, patient=patient, undated_limit=2)
                page, statements = _read(lambda d=dated, s=size: d.keyset_page(keyset, size=s, cursor=None))
                expected = plain.keyset_page(keyset, size=size, cursor=None)
                assert page == expected, (user, patient, size)
                assert len(statements) == 1
                assert ("UNION ALL" in statements[0]) == (connection.vendor == "mysql")
                if connection.vendor == "mysql":
                    assert dated.undated_rows == expected_undated
                    brought += len(expected_undated)
                if page.next_cursor is None:
                    continue
                after = dated.keyset_page(keyset, size=size, cursor=page.next_cursor)
                assert after == plain.keyset_page(keyset, size=size, cursor=page.next_cursor)
                back = selectors.dated_portal_visit_rows(scope=scope, patient=patient, undated_limit=2)
                previous, statements = _read(
                    lambda b=back, a=after, s=size: b.keyset_page(keyset, size=s, cursor=a.previous_cursor)
                )
                assert previous == plain.keyset_page(keyset, size=size, cursor=after.previous_cursor)
                assert back.undated_rows is None and "UNION" not in statements[0]
    # Hung's two undated visits were brought (newest import first: compared above).
    assert brought or connection.vendor != "mysql"


def test_the_printed_visits_lab_results_equal_the_orm(families: dict[str, Any]) -> None:
    """The printed summary's tables (portal_visit_lab_result_rows without per_visit): every result of the
    visits, the rows of visit_lab_results."""
    columns = list(sql_visits.PORTAL_RESULTS.columns)
    for user in _users(families):
        for patient in (families["hung"], families["child"], families["stranger"]):
            visits = list(HisVisit.objects.filter(patient=patient))
            orm = selectors.visit_lab_results(user=user, patient=patient, visits=visits)
            sql = selectors.portal_visit_lab_result_rows(
                user=user, patient=patient, visit_ids=[v.pk for v in visits], per_visit=None
            )
            assert sql == list(orm.values(*columns)), (user, patient)


def test_the_patient_links_equal_the_orm(families: dict[str, Any]) -> None:
    """The visits pages' links (his.selectors.patient_links_sql) are links_for's, with what the printed summary
    reads of them."""
    HisLink.objects.filter(patient=families["hung"]).update(his_code="MA-BN-1")
    seen_any = False
    for user in _users(families):
        for patient in (families["hung"], families["child"], families["stranger"]):
            orm = list(selectors.links_for(user=user, patient=patient))
            sql = selectors.patient_links_sql(user=user, patient=patient)
            bare = selectors.patient_links_sql(user=user, patient=patient, related=False)

            def seen(links: list[Any]) -> list[tuple[Any, ...]]:
                return [(link.pk, link.facility.name, link.linked_code, link.patient_id) for link in links]

            assert seen(sql) == seen(bare) == seen(orm), (user, patient)
            seen_any = seen_any or bool(orm)
    assert seen_any


def test_the_link_overview_equals_the_orm(
    families: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    """/lien-ket-ho-so's overview by constant SQL (his.selectors.link_overview_sql) gives link_overview's rows:
    the same hospitals in the same order, the same active link, latest request and actions, with the values the
    page reads; in three statements, however many links."""
    ttyt = HisLink.objects.get(patient=families["hung"]).facility
    # Another hospital of the province (listed before the TTYT: "Bệnh viện …" < "TTYT …").
    other = Facility.objects.create(
        kind="hospital",
        code="BV-KHAC",
        name="Bệnh viện Khác",
        parent=ttyt.parent,
        province_code=ttyt.province_code,
    )
    if other is not None:
        # A waiting request at another hospital, and an active link made without a request there.
        HisLinkRequest.objects.create(
            patient=families["hung"],
            facility=other,
            identifier_type="bhyt",
            identifier="X",
            status="needs_review",
        )
        HisLink.objects.create(
            patient=families["child"], facility=other, his_patient_id="BN-O", linked_at=timezone.now()
        )
    states = set()
    for user in _users(families):
        for patient in (families["hung"], families["child"], families["stranger"]):
            orm = selectors.link_overview(user=user, patient=patient)
            with django_assert_max_num_queries(4):
                sql = selectors.link_overview_sql(user=user, patient=patient)

            def seen(rows: list[Any]) -> list[tuple[Any, ...]]:
                return [
                    (
                        row.facility.pk,
                        row.facility.name,
                        row.facility.public_id,
                        row.state,
                        row.can_request,
                        row.actions,
                        row.link
                        and (row.link.pk, row.link.linked_at, row.link.linked_code, row.link.public_id),
                        row.link and (row.link.his_full_name, row.link.his_date_of_birth),
                        row.request
                        and (
                            row.request.pk,
                            row.request.created_at,
                            row.request.get_identifier_type_display(),
                        ),
                        row.request and (row.request.identifier, row.request.decided_at, row.request.reason),
                        row.request and row.request.public_id,
                    )
                    for row in rows
                ]

            assert seen(sql) == seen(orm), (user, patient)
            states |= {(row.state, row.actions) for row in orm}
    assert {("linked", ("unlink",)), ("waiting", ())} <= states


def test_link_requests_answer_as_the_serializer(
    families: dict[str, Any], client_api: Any, as_user: Any
) -> None:
    from health_f0.api.apis.his import link_request_rows

    for user in _users(families):
        for patient in _patients(families):
            orm = list(selectors.link_requests_for(user=user, patient=patient).order_by("-created_at", "-id"))
            expected = HisLinkRequestSerializer(
                orm, many=True, context={"request": SimpleNamespace(user=user)}
            ).data
            sql = selectors.link_request_rows_for(user=user, patient=patient)
            assert link_request_rows(sql[0:1000], user) == expected, (user, patient)
            assert _walk(sql, sql_link_requests.ORDER, 2) == _walk(
                selectors.link_requests_for(user=user, patient=patient).values("id", "created_at"),
                sql_link_requests.ORDER,
                2,
            )
    account = _users(families)[0]
    rows = link_request_rows(selectors.link_request_rows_for(user=account)[0:100], account)
    assert [row["actions"] for row in rows if row["status"] == "linked"] == [["unlink"], ["unlink"]]
    assert len(rows) == 5  # Hung's four and his child's; never the stranger's
    with pytest.raises(ValueError):
        selectors.link_request_rows_for(user=User.objects.get(username="lienket.his"))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_api_pages_the_same_rows(families: dict[str, Any], as_user: Any, version: str) -> None:
    """The API's pages follow one another over the whole list (v1 by offset, v2 by cursor)."""
    client = as_user("bn0000001")
    for path in ("visits", "lab-results", "his-links"):
        everything = client.get(f"/api/v1/{path}", {"limit": 200}).json()["results"]
        assert everything, path
        seen: list[Any] = []
        if version == "v1":
            for offset in range(0, len(everything), 3):
                seen += client.get(f"/api/v1/{path}", {"limit": 3, "offset": offset}).json()["results"]
        else:
            page = client.get(f"/api/v2/{path}", {"limit": 3}).json()
            seen += page["results"]
            while page["next"]:
                page = client.get(page["next"]).json()
                seen += page["results"]
            if path == "visits":
                everything = [{k: v for k, v in row.items() if k != "lab_results"} for row in everything]
                seen = [
                    {k: v for k, v in row.items() if k not in ("lab_results", "lab_results_total")}
                    for row in seen
                ]
        assert seen == everything, path


@pytest.mark.parametrize(
    "text",
    [
        "7.8000",
        "7.8",
        "100",
        "-0.0001",
        "0E-4",
        "12345678.1234",
        "1.23456",
        "1E+2",
        "-0.0000",
        "0.10000",
        "5E-4",
    ],
)
def test_decimals_answer_as_drf(text: str) -> None:
    from rest_framework import serializers

    from health_f0.api.apis.his import _decimal

    drf = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    assert _decimal(Decimal(text)) == drf.to_representation(Decimal(text))
    # As text (his.sql.visits reads a range as MariaDB's text of the DECIMAL(14, 4)): the same answer.
    assert _decimal(text) == drf.to_representation(Decimal(text))
    assert _decimal(None) is None
