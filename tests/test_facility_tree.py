"""The facility tree's closure (facilities.tree, models.FacilityClosure) is the paths' own prefix relation after
every writer of a path, the token look-up reads its subtrees from it, and `manage.py facility_tree` finds and mends
a closure written around the application."""

from __future__ import annotations

import random
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health_f0.facilities import tree
from health_f0.facilities.models import Facility, FacilityClosure, FacilityKind, Membership, Role
from health_f0.facilities.services import facility_save

pytestmark = pytest.mark.django_db


def _orm_pairs() -> set[tuple[int, int]]:
    """The relation as the ORM's `path__startswith` reads it (access._subtree_ids's rule), facility by facility."""
    pairs = set()
    for ancestor, path in Facility.objects.values_list("pk", "path"):
        pairs |= {
            (ancestor, d) for d in Facility.objects.filter(path__startswith=path).values_list("pk", flat=True)
        }
    return pairs


def _kept() -> set[tuple[int, int]]:
    return set(FacilityClosure.objects.values_list("ancestor_id", "descendant_id"))


def _assert_agrees() -> None:
    assert _kept() == _orm_pairs()
    assert tree.drift(Facility, FacilityClosure, connection.alias) == (set(), set())


def _station(parent: Facility, code: str) -> Facility:
    return facility_save(
        facility=Facility(kind=FacilityKind.STATION, code=code, name=code, parent=parent, province_code=31)
    )


def test_pairs_of_is_the_prefix_relation() -> None:
    """Against the plain definition, on paths with shared prefixes, duplicates, LIKE's wildcards and an empty
    path (which every path starts with)."""
    rng = random.Random(11)
    parts = ["1", "12", "2", "_", "%", "a"]
    for _ in range(200):
        rows = [
            (i, "".join(f"/{rng.choice(parts)}" for _ in range(rng.randint(0, 3))) + "/") for i in range(12)
        ]
        rows.append((99, ""))
        expected = {(a, d) for a, pa in rows for d, pd in rows if pd.startswith(pa)}
        assert tree.pairs_of(rows) == expected


def test_the_demo_tree_is_closed(demo: Any) -> None:
    assert FacilityClosure.objects.exists()
    _assert_agrees()


def test_each_writer_of_a_path_keeps_the_closure(demo: Any) -> None:
    """Created (its path written by a second save), moved with its subtree, by a full save, by update_fields, by
    the queryset's update, bulk_update and bulk_create, deleted: after each, the closure is the paths'."""
    centre = Facility.objects.get(code="TTYT-HD")
    root = Facility.objects.get(kind=FacilityKind.DEPARTMENT_OF_HEALTH)
    station = _station(centre, "TYT-NEW-1")
    child = _station(station, "TYT-NEW-2")
    _assert_agrees()
    # Moved with its subtree: the service rewrites the descendants' paths one save at a time.
    station.parent = root
    facility_save(facility=station)
    child.refresh_from_db()
    assert child.path == f"{root.path}{station.pk}/{child.pk}/"
    _assert_agrees()
    # A plain full save, and one naming the path.
    station.path = f"{centre.path}{station.pk}/"
    station.save()
    _assert_agrees()
    child.path = f"{centre.path}{child.pk}/"
    child.save(update_fields=["path", "name"])
    _assert_agrees()
    # The queryset's writers.
    Facility.objects.filter(pk=child.pk).update(path=f"{station.path}{child.pk}/")
    _assert_agrees()
    station.path = f"{root.path}{station.pk}/"
    child.path = f"{station.path}{child.pk}/"
    Facility.objects.bulk_update([station, child], ["path"])
    _assert_agrees()
    made = Facility.objects.bulk_create(
        [
            Facility(
                kind=FacilityKind.STATION,
                code="TYT-NEW-3",
                name="x",
                province_code=31,
                path=child.path + "9/",
            )
        ]
    )
    assert made
    _assert_agrees()
    # Deleted: its rows go with it.
    Facility.objects.filter(code="TYT-NEW-3").delete()
    child.delete()
    _assert_agrees()


def test_a_save_that_leaves_the_path_alone_does_not_touch_the_tree(demo: Any) -> None:
    station = Facility.objects.get(code="TYT-10510")
    with CaptureQueriesContext(connection) as queries:
        station.save(update_fields=["name"])
    assert len(queries) == 1
    assert "facilityclosure" not in queries[0]["sql"]


def test_a_path_writer_takes_the_trees_lock_first(demo: Any) -> None:
    """Two writers at once each read the other's committed paths (read committed), so neither computes the
    closure from an old path: the lock comes before the write."""
    station = Facility.objects.get(code="TYT-10510")
    with CaptureQueriesContext(connection) as queries:
        station.save(update_fields=["path"])
    sqls = [q["sql"] for q in queries]
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in sqls[0]
    assert any(sql.startswith("UPDATE") and "facilities_facility" in sql for sql in sqls[1:])


def test_the_token_reads_the_subtree_after_a_move(demo: Any, persona: Any) -> None:
    """A station moved out from under a TTYT leaves the TTYT manager's scope told with the token at once; moved
    back, it is in it again."""
    from health_f0.api.models import hash_token
    from health_f0.api.services import api_token_issue
    from health_f0.api.sql.tokens import token_with_user
    from health_f0.facilities import access

    manager = persona("ttyt.lanhdao")
    centre = Membership.objects.filter(user=manager, role=Role.MANAGER).first().facility
    station = Facility.objects.filter(path__startswith=centre.path).exclude(pk=centre.pk).first()
    root = Facility.objects.get(kind=FacilityKind.DEPARTMENT_OF_HEALTH)
    raw, _ = api_token_issue(user=manager)

    def told() -> frozenset[int]:
        token = token_with_user(hash_token(raw))
        assert token is not None
        assert "subtrees" in access._cache(token.user)
        return access.visible_facility_ids(token.user)

    assert station.pk in told()
    station.parent = root
    facility_save(facility=station)
    assert station.pk not in told()
    assert told() == frozenset(
        Facility.objects.filter(path__startswith=centre.path).values_list("pk", flat=True)
    )
    station.parent = centre
    facility_save(facility=station)
    assert station.pk in told()


def test_a_surplus_row_would_widen_a_scope_and_the_command_finds_it(demo: Any) -> None:
    """A pair written around the application (raw SQL) is reported (exit status 1) and removed by --fix; a
    missing one is added back."""
    station = Facility.objects.get(code="TYT-10510")
    other = Facility.objects.get(code="TYT-10532")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FacilityClosure._meta.db_table} (ancestor_id, descendant_id) VALUES (%s, %s)",  # noqa: S608
            [station.pk, other.pk],
        )
        cursor.execute(
            f"DELETE FROM {FacilityClosure._meta.db_table} WHERE ancestor_id = %s AND descendant_id = %s",  # noqa: S608
            [other.pk, other.pk],
        )
    out = StringIO()
    with pytest.raises(CommandError, match="1 pair\\(s\\) missing, 1 surplus"):
        call_command("facility_tree", stdout=out)
    assert f"facility {other.pk} under {station.pk}: surplus" in out.getvalue()
    call_command("facility_tree", "--fix", stdout=out)
    assert "1 pair(s) added, 1 removed" in out.getvalue()
    _assert_agrees()
    out = StringIO()
    call_command("facility_tree", stdout=out)
    assert "matches" in out.getvalue()
