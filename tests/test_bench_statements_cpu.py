"""bench/statements_cpu.py's explain mode explains the statements a list sends, a `SET STATEMENT ... FOR` prefix
included (the booking desk's worklist is sent with one; explain skipped it: issue 11)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import statements_cpu  # noqa: E402


def test_a_select_is_analyzed() -> None:
    assert statements_cpu.analyzable("  SELECT 1 FROM t") == "ANALYZE FORMAT=JSON SELECT 1 FROM t"


def test_a_set_statement_prefix_is_kept_before_analyze() -> None:
    sql = (
        "SET STATEMENT optimizer_switch='subquery_cache=off' FOR SELECT a.id FROM appointments_appointment a"
    )
    assert statements_cpu.analyzable(sql) == (
        "SET STATEMENT optimizer_switch='subquery_cache=off' FOR "
        "ANALYZE FORMAT=JSON SELECT a.id FROM appointments_appointment a"
    )
    assert statements_cpu.analyzable("set statement max_statement_time=1, a=2 for\nselect 1") == (
        "set statement max_statement_time=1, a=2 for\nANALYZE FORMAT=JSON select 1"
    )


def test_anything_but_a_select_is_skipped() -> None:
    assert statements_cpu.analyzable("UPDATE t SET a = 1") is None
    assert statements_cpu.analyzable("SET STATEMENT a=1 FOR UPDATE t SET a = 1") is None
