"""The API's JSON renderer (api/renderers.py) writes the bytes DRF's JSONRenderer writes: by pydantic_core for
plain data, by DRF itself for anything else (issue 11)."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections import OrderedDict
from typing import Any

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import renderers as drf_renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from health_f0.api import renderers

FAST = renderers.JSONRenderer()
DRF = drf_renderers.JSONRenderer()

# Text as the API carries it: Vietnamese with diacritics, quotes, backslashes, control characters, U+2028/9,
# characters outside the BMP.
TEXT = st.text(
    alphabet=st.sampled_from(
        list("aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯ ạảãáàặẳẵắằậẩẫấầẹẻẽéèệểễếềịỉĩíìọỏõóò")
        + ['"', "\\", "/", "\n", "\t", "\x00", "\x1f", "\x7f", "\u2028", "\u2029", "😷", "<", ">", "&"]
        + ["≤", "≥", "–", "…", "€"]  # other characters whose UTF-8 starts with the byte E2, as U+2028/9 do
    ),
    max_size=30,
)
# Floats as the API carries them (readings, amounts, coordinates): zero or 1e-4 and more.
FLOATS = st.one_of(
    st.just(0.0),
    st.just(-0.0),
    st.floats(min_value=1e-4, max_value=1e15, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e15, max_value=-1e-4, allow_nan=False, allow_infinity=False),
)
LEAVES = st.one_of(TEXT, st.integers(min_value=-(2**70), max_value=2**70), st.booleans(), st.none(), FLOATS)
PLAIN = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(TEXT, children, max_size=6),
        st.lists(children, max_size=4).map(tuple),
    ),
    max_leaves=60,
)


def both(data: Any, media_type: str = "application/json") -> tuple[bytes, bytes]:
    return FAST.render(data, media_type, {}), DRF.render(data, media_type, {})


@settings(max_examples=400, deadline=None)
@given(PLAIN)
def test_plain_data_is_written_as_drf_writes_it(data: Any) -> None:
    fast, drf = both(data)
    assert fast == drf


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(TEXT, LEAVES, max_size=8), max_size=20))
def test_serializer_output_is_written_as_drf_writes_it(rows: list[dict[str, Any]]) -> None:
    """ReturnList/ReturnDict (what serializer.data gives) at the top or one level down, as a page carries them."""
    serializer = object()
    listed = ReturnList(rows, serializer=serializer)
    assert both(listed)[0] == both(listed)[1]
    page = {"next": None, "previous": "http://testserver/api/v2/x?cursor=abc", "results": listed}
    assert both(page)[0] == both(page)[1]
    one = ReturnDict(rows[0] if rows else {}, serializer=serializer)
    assert both(one)[0] == both(one)[1]


def test_plain_data_takes_the_fast_path() -> None:
    data = {
        "results": ReturnList([{"id": "1", "tên": "Nguyễn Văn A", "spo2": 97, "t": 37.5}], serializer=None)
    }
    assert renderers.plain_data(data) is not None


# Rows as a hand-written row builder answers them (PlainRows): texts, ints, bools, None, dicts keyed by texts and
# lists, no float or tuple.
VOUCHED = st.recursive(
    st.one_of(TEXT, st.integers(min_value=-(2**70), max_value=2**70), st.booleans(), st.none()),
    lambda children: st.one_of(st.lists(children, max_size=6), st.dictionaries(TEXT, children, max_size=6)),
    max_leaves=60,
)


def assert_plain_rows(rows: Any) -> None:
    """`rows` is a PlainRows holding only what it vouches for: texts, ints, bools, None, lists and dicts keyed by
    texts, of those exact types (a row builder's tests walk its answer with this)."""
    assert type(rows) is renderers.PlainRows
    stack: list[Any] = list(rows)
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is dict:
            assert set(map(type, value)) <= {str}, value
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
        else:
            assert kind in (str, int, bool, type(None)), (kind, value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(TEXT, VOUCHED, max_size=8), max_size=20), st.integers(min_value=0))
def test_vouched_rows_are_written_as_drf_writes_them_unchecked(
    rows: list[dict[str, Any]], count: int
) -> None:
    """A page of PlainRows in an envelope of plain scalars is written without the marshal check and the NaN scan,
    byte for byte as DRF writes it (texts holding "NaN" and U+2028 included)."""
    vouched = renderers.PlainRows(rows)
    assert_plain_rows(vouched)
    for page in (
        {"next": None, "previous": "http://testserver/api/v2/x?cursor=abc", "results": vouched},
        {"count": count, "next": None, "previous": None, "results": vouched},
    ):
        assert both(page)[0] == both(page)[1]


def test_vouched_rows_skip_the_checks_only_in_a_plain_envelope(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks are skipped for PlainRows under `results` beside plain scalars with text keys; a float, a
    datetime or a list of rows that is not vouched beside them is checked (and written as DRF writes it)."""
    checked: list[Any] = []
    plain_data = renderers.plain_data

    def counting(data: Any) -> Any:
        checked.append(data)
        return plain_data(data)

    monkeypatch.setattr(renderers, "plain_data", counting)
    rows = renderers.PlainRows([{"id": "a", "tên": "Nguyễn Văn A NaN", "n": 1, "x": [True, None]}])
    both({"next": None, "previous": None, "results": rows})
    assert checked == []
    for page in (
        {"count": 1.5, "results": rows},
        {"count": datetime.date(2026, 12, 6), "results": rows},
        {"count": 1, "results": list(rows)},
        {1: 1, "results": rows},
        [rows],
    ):
        checked.clear()
        fast, drf = both(page)
        assert fast == drf and len(checked) == 1, page


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2026, 12, 6, 7, 30, 15, 123456, tzinfo=datetime.UTC),
        datetime.datetime(2026, 12, 6, 7, 30, 15, 123456),
        datetime.date(2026, 12, 6),
        datetime.time(7, 30, 15, 123456),
        datetime.timedelta(hours=1, microseconds=5),
        decimal.Decimal("12.50"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        gettext_lazy("Không tìm thấy."),
        ErrorDetail("Mã truy cập không hợp lệ.", code="authentication_failed"),
        OrderedDict([("a", 1), ("b", [1, 2])]),
        {1: "a", 2.5: "b", False: "c"},
        {"deep": [{"deeper": ReturnList([1, 2], serializer=None)}]},
        b"bytes",
        {"set": {3}},
        "\u2028\u2029 NaN Infinity",
    ],
)
def test_anything_else_is_written_by_drf(value: Any) -> None:
    data = {"value": value, "list": [value], "text": "Đã ghi nhận"}
    fast, drf = both(data)
    assert fast == drf


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused_as_drf_refuses_them(value: float) -> None:
    with pytest.raises(ValueError):
        DRF.render({"x": value}, "application/json", {})
    with pytest.raises(ValueError):
        FAST.render({"x": value}, "application/json", {})


def test_tiny_floats_are_the_same_numbers() -> None:
    """The one difference left (module docstring): the notation of a float under 1e-4, not its value."""
    data = {"x": 1e-05, "y": [7e-08, 0.00012]}
    fast, drf = both(data)
    assert json.loads(fast) == json.loads(drf) == data


def test_an_indent_asked_for_is_given() -> None:
    data = {"results": [{"a": 1}]}
    fast, drf = both(data, "application/json; indent=4")
    assert fast == drf
    assert b"\n" in fast


def test_none_renders_nothing() -> None:
    assert FAST.render(None) == DRF.render(None) == b""


def test_the_api_answers_with_the_fast_renderer(as_user: Any) -> None:
    """Settings name it, and a list page's body is what DRF's renderer makes of its data."""
    client = as_user("bn0000001")
    for path in ("/api/v2/episodes", "/api/v1/episodes", "/api/v1/me"):
        response = client.get(path)
        assert response.status_code == 200
        assert isinstance(response.accepted_renderer, renderers.JSONRenderer)
        assert response.content == DRF.render(response.data, "application/json", {})
    # An error body (ErrorDetail, lazy text) too.
    response = client.get("/api/v2/episodes?cursor=not-a-cursor")
    assert response.content == DRF.render(response.data, "application/json", {})
