"""Migration operations the project's upgrades need beyond Django's own.

`ReplaceIndex`: an index redefined under the same name (more columns), which statements name to MariaDB
(`USE INDEX` / `FORCE INDEX`: core.sqllist). Django's RemoveIndex then AddIndex are two statements; between them
the index does not exist, and every running statement that names it fails (MariaDB error 1176, "Key ... doesn't
exist") until the second one ends — seconds to minutes of errors on a live desk during an upgrade. On MariaDB this
operation is one `ALTER TABLE ... DROP INDEX n, ADD INDEX n (...)`: InnoDB builds the new index in place, reads
and writes go on meanwhile, and the name is never missing. Other databases (SQLite, the embedded default) get the
two steps; nothing there names an index.

The project state is RemoveIndex's then AddIndex's, so `makemigrations` sees the model's Meta as it is.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.migrations.operations.base import Operation


class ReplaceIndex(Operation):
    """Replace `old` (a model's index as it was) by `new` (as it is now) under one ALTER TABLE on MariaDB.
    Reversible: backwards, `new` is replaced by `old` the same way."""

    reversible = True

    def __init__(self, model_name: str, old: models.Index, new: models.Index) -> None:
        if not old.name or not new.name:
            raise ValueError("ReplaceIndex needs named indexes")
        self.model_name, self.old, self.new = model_name, old, new

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__qualname__,
            [],
            {"model_name": self.model_name, "old": self.old, "new": self.new},
        )

    @property
    def model_name_lower(self) -> str:
        return self.model_name.lower()

    def state_forwards(self, app_label: str, state: Any) -> None:
        state.remove_index(app_label, self.model_name_lower, self.old.name)
        state.add_index(app_label, self.model_name_lower, self.new)

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._replace(app_label, schema_editor, to_state, drop=self.old, add=self.new)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._replace(app_label, schema_editor, to_state, drop=self.new, add=self.old)

    def _replace(
        self, app_label: str, schema_editor: Any, state: Any, *, drop: models.Index, add: models.Index
    ) -> None:
        model = state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor != "mysql":
            schema_editor.remove_index(model, drop)
            schema_editor.add_index(model, add)
            return
        # The new index's column list as Django writes it for CREATE INDEX (its orders included), in one ALTER.
        columns = add.create_sql(model, schema_editor).parts["columns"]
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {quote(model._meta.db_table)} DROP INDEX {quote(drop.name)}, "
            f"ADD INDEX {quote(add.name)} ({columns})"
        )

    def describe(self) -> str:
        return f"Replace index {self.old.name} on {self.model_name} by {self.new.name} in one step"

    @property
    def migration_name_fragment(self) -> str:
        return f"replace_{self.model_name_lower}_{self.new.name.lower()}"
