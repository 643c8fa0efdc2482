"""The alert list's JSON columns and their answer (issue 11): monitoring/sql/alerts.py decodes the alert's reasons
and the declaration's answers with json's C scanner alone (core.sqllist.json_column, a column at a time), and
api.fast.text_dict / text_list return a decoded JSON object or list of texts as they are; both give what the ORM's
JSONField and DRF's fields give. (No database: the alerts' rows against the ORM's are tests/api/test_sql_lists.py's.)"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    "text",
    [
        '{"sot": true, "nhiet_do": 38.5, "ho": "c\\u00f3", "spo2": 97}',
        '["Sốt cao", "SpO2 thấp"]',
        "[]",
        "{}",
        '{"a": 1, "a": 2}',
        "1e400",
        " {}",
        "{} ",
        '{"a": 1} x',
        "",
        "khong phai JSON",
        "\ufeff{}",
        "NaN",
        '"text"',
        "null",
        "[1, 2",
        '"abc',
        '{"a": }',
        '{"a": "\\ud800"}',
    ],
)
def test_alert_json_columns_decode_as_jsonfield(text: str) -> None:
    """monitoring/sql/alerts.py decodes the alert's reasons and the declaration's answers with the C scanner
    alone; the answer is JSONField.from_db_value's for any stored text (the same value, or the text itself when
    it is not JSON)."""
    from django.db import connection
    from django.db.models import JSONField

    from health_f0.core.sqllist import ScannedJSONField
    from health_f0.monitoring.sql import alerts as alerts_sql

    scanned = alerts_sql.OPEN_ALERTS.columns["declaration__answers"].field
    assert isinstance(scanned, ScannedJSONField)
    got = scanned.from_db_value(text, None, connection)
    expected = JSONField().from_db_value(text, None, connection)
    assert got == expected or (got != got and expected != expected)  # NaN is not equal to itself
    assert type(got) is type(expected)


@pytest.mark.parametrize("odd", [None, "", " {}", "{} ", "[1, 2", '{"a": }', "khong phai JSON", "NaN"])
def test_a_json_column_is_decoded_a_column_at_a_time_as_jsonfield(odd: Any) -> None:
    """core.sqllist decodes a json_column's values by C loops over the column; a column holding anything but texts
    that are each one JSON value and nothing else is decoded value by value, as JSONField decodes each."""
    from django.db import connection
    from django.db.models import JSONField

    from health_f0.core.sqllist import SqlColumns
    from health_f0.monitoring.sql import alerts as alerts_sql

    columns = SqlColumns({"answers": alerts_sql.OPEN_ALERTS.columns["declaration__answers"]})
    (_select, plan) = columns.statement(connection)
    ((_index, convert),) = plan
    usual = ['{"spo2": "93", "symptoms": ["ho"]}', "[]", '{"t": 38.5, "n": null, "b": true}', '"x"', "1e400"]
    for column in (usual, [*usual, odd], [odd, *usual], [odd]):
        expected = [JSONField().from_db_value(value, None, connection) for value in column]
        assert convert(column, connection) == expected, column


@given(
    st.dictionaries(st.text(), st.one_of(st.none(), st.integers(), st.text(), st.lists(st.text()))),
    st.lists(st.one_of(st.none(), st.text(), st.integers())),
)
def test_text_dict_and_text_list_answer_as_drf(answers: dict[str, Any], reasons: list[Any]) -> None:
    """api.fast.text_dict / text_list return a JSON object or a list of texts as they are: the same answer as
    DictField() and ListField(child=CharField()) give."""
    from rest_framework import serializers

    from health_f0.api.fast import text_dict, text_list

    assert text_dict(answers) == serializers.DictField().to_representation(answers)
    assert text_list(reasons) == serializers.ListField(child=serializers.CharField()).to_representation(
        reasons
    )
    assert text_dict({1: "x"}) == {"1": "x"}
