"""core.schema_ops.ReplaceIndex: an index that statements name (USE INDEX / FORCE INDEX) is redefined in one
ALTER TABLE on MariaDB, so it is never missing while an upgrade runs (two statements, RemoveIndex then AddIndex,
left a window where every request naming it failed with error 1176); the project state is Django's own."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from health_f0.core.schema_ops import ReplaceIndex
from health_f0.monitoring.models import Alert

ALERT_MIGRATION = ("monitoring", "0009_alert_open_order_all_with_facility")


def _operation() -> ReplaceIndex:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    migration = loader.get_migration(*ALERT_MIGRATION)
    found = [op for op in migration.operations if isinstance(op, ReplaceIndex)]
    assert len(found) == 1
    return found[0]


def _states() -> tuple[Any, Any]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    before = loader.project_state(("monitoring", "0008_alert_level_rank_order"))
    after = loader.project_state(ALERT_MIGRATION)
    return before, after


def _index_columns(name: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW INDEX FROM {Alert._meta.db_table} WHERE Key_name = %s", [name])
        rows = cursor.fetchall()
        names = [column[0] for column in cursor.description]
    position, column = names.index("Seq_in_index"), names.index("Column_name")
    return [row[column] for row in sorted(rows, key=lambda row: row[position])]


def test_the_state_is_remove_then_add() -> None:
    before, after = _states()
    indexes = {index.name: index for index in after.models["monitoring", "alert"].options["indexes"]}
    assert indexes["alert_open_order_all"].fields == [
        "acknowledged_at",
        "-level_rank",
        "created_at",
        "id",
        "facility",
    ]
    old = {index.name: index for index in before.models["monitoring", "alert"].options["indexes"]}
    assert old["alert_open_order_all"].fields == ["acknowledged_at", "-level_rank", "created_at", "id"]


@pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB's one ALTER TABLE")
def test_on_mariadb_it_is_one_alter_table_each_way(db: Any) -> None:
    operation, (before, after) = _operation(), _states()
    with connection.schema_editor(collect_sql=True) as editor:
        operation.database_forwards("monitoring", editor, before, after)
    forwards = [sql for sql in editor.collected_sql if not sql.startswith("--")]
    with connection.schema_editor(collect_sql=True) as editor:
        operation.database_backwards("monitoring", editor, after, before)
    backwards = [sql for sql in editor.collected_sql if not sql.startswith("--")]
    assert forwards == [
        "ALTER TABLE `monitoring_alert` DROP INDEX `alert_open_order_all`, ADD INDEX `alert_open_order_all` "
        "(`acknowledged_at`, `level_rank` DESC, `created_at`, `id`, `facility_id`);"
    ]
    assert backwards == [
        "ALTER TABLE `monitoring_alert` DROP INDEX `alert_open_order_all`, ADD INDEX `alert_open_order_all` "
        "(`acknowledged_at`, `level_rank` DESC, `created_at`, `id`);"
    ]


@pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB's one ALTER TABLE")
def test_on_mariadb_the_index_is_redefined_both_ways(transactional_db: Any) -> None:
    operation, (before, after) = _operation(), _states()
    wide = ["acknowledged_at", "level_rank", "created_at", "id", "facility_id"]
    assert _index_columns("alert_open_order_all") == wide
    try:
        with connection.schema_editor() as editor:
            operation.database_backwards("monitoring", editor, after, before)
        assert _index_columns("alert_open_order_all") == wide[:-1]
    finally:
        with connection.schema_editor() as editor:
            operation.database_forwards("monitoring", editor, before, after)
    assert _index_columns("alert_open_order_all") == wide


def test_it_needs_named_indexes() -> None:
    from django.db import models

    with pytest.raises(ValueError):
        ReplaceIndex("alert", models.Index(fields=["id"]), models.Index(fields=["id"], name="x"))
