"""The facility tree's closure (models.FacilityClosure): one row (ancestor, descendant) for each pair of facilities
where the descendant's path starts with the ancestor's, each facility with itself included -- the subtree of a
facility as facilities.access reads it (`path__startswith`), kept as rows so that the token look-up
(api/sql/tokens.py) reads a role's subtree by its facility's key instead of matching every facility's path
with a computed LIKE pattern (issue 11, thirteenth round).

The relation is the paths' own, whatever they hold: a binary prefix, as MariaDB's `LIKE BINARY` and Python's
`str.startswith` compare (a path is ids and slashes; an empty path, a facility not yet placed, starts every
path). It depends on `path` alone, so it is written by every writer of `path`, in the writer's transaction:
Facility.save() and FacilityQuerySet.update / bulk_create / bulk_update (models.py), under the tree's lock
(`lock`); a deleted facility's rows go with it (ON DELETE CASCADE, the ORM's collector). Anything written
around the application (raw SQL, a restore of one table) is found and mended by `manage.py facility_tree
[--fix]`, which runs `drift` and `sync`.

A missing row narrows a scope, never widens it; a surplus row would widen one: `sync` computes the whole
relation from the paths read under the lock and writes the difference, so no writer reasons about which pairs
its change touches.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import Any


def pairs_of(rows: Iterable[tuple[int, str]]) -> set[tuple[int, int]]:
    """(ancestor id, descendant id) for every pair of (id, path) rows where the descendant's path starts with the
    ancestor's. Sorted by path, the paths that start with a given one follow it, in one run: n log n plus the
    pairs, not n squared."""
    ordered = sorted(rows, key=lambda row: row[1])
    paths = [path for _, path in ordered]
    pairs: set[tuple[int, int]] = set()
    for ancestor, path in ordered:
        index = bisect_left(paths, path)
        while index < len(paths) and paths[index].startswith(path):
            pairs.add((ancestor, ordered[index][0]))
            index += 1
    return pairs


def lock(facility_model: Any, using: str) -> None:
    """Lock every facility row (SELECT ... FOR UPDATE, in key order): the tree's lock, taken by every writer of
    a path before it writes, so two writers of the tree run one after the other and each reads the other's
    committed paths (read committed: a statement after the lock sees them). Without it, two moves at once could
    each compute the closure from the other's old path. A no-op on SQLite, which locks the whole database."""
    list(
        facility_model._base_manager.using(using)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def drift(
    facility_model: Any, closure_model: Any, using: str
) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(missing, surplus): the pairs the paths hold that the closure lacks, and the closure's pairs they do not
    hold."""
    wanted = pairs_of(facility_model._base_manager.using(using).values_list("pk", "path"))
    kept = set(closure_model._base_manager.using(using).values_list("ancestor_id", "descendant_id"))
    return wanted - kept, kept - wanted


def sync(facility_model: Any, closure_model: Any, using: str) -> tuple[int, int]:
    """Write the closure's difference from the paths (call it under `lock`, in the writer's transaction): the
    rows added and removed. A facility created, moved or renamed costs two reads (ids and paths, the closure)
    and a write of the rows that changed."""
    missing, surplus = drift(facility_model, closure_model, using)
    manager = closure_model._base_manager.using(using)
    if surplus:
        by_ancestor: dict[int, list[int]] = {}
        for ancestor, descendant in surplus:
            by_ancestor.setdefault(ancestor, []).append(descendant)
        for ancestor, descendants in by_ancestor.items():
            manager.filter(ancestor_id=ancestor, descendant_id__in=descendants).delete()
    if missing:
        manager.bulk_create(
            [
                closure_model(ancestor_id=ancestor, descendant_id=descendant)
                for ancestor, descendant in sorted(missing)
            ]
        )
    return len(missing), len(surplus)
