"""Constant SQL of the patient's HIS lists (issue 11), one module per table (like monitoring/sql). Each module
holds its statements and the functions that run them, with the benchmark that justified leaving the ORM in its
docstring. his.selectors builds the lists from these; nothing else in his writes SQL by hand for them.

- `visits`: his_hisvisit — the patient's visits (API /visits), and the lab results of one page of visits (all of
  them for v1, the first few of each with their total for v2).
- `lab_results`: his_hislabresult — the patient's lab results (API /lab-results).
- `link_requests`: his_hislinkrequest — the patient's link requests (API /his-links).

The scope rules stay facilities.access's (his_records_sql, own_patients_sql): these modules only put them in
their statements. Rows are dicts whose keys are the ORM `.values()` names the API's row builders read
(api/apis/his.py: visit_rows, lab_result_rows), each value converted as the ORM converts its field
(core/sqllist.py); tests/api/test_his_sql.py checks every list against the ORM query it replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Field, Model

# The patient's and facility's columns every list of this package answers with (api.apis.his's *_COLUMNS).
PATIENT_REF = ("public_id", "full_name")
FACILITY_REF = ("public_id", "code", "name", "hotline")
REPORT_REF = ("public_id", "name", "status", "issued_at", "conclusion")


def field_of(model: type[Model]) -> Callable[[str], Field[Any, Any]]:
    """`name -> model's concrete field` (a column's converters and cursor type, core.sqllist.Col)."""

    def get(name: str) -> Field[Any, Any]:
        found = model._meta.get_field(name)
        if not isinstance(found, Field):
            raise TypeError(f"{model.__name__}.{name} is not a concrete field")
        return found

    return get
