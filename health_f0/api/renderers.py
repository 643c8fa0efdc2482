"""The API's JSON renderer: DRF's JSONRenderer, the same bytes, encoded by pydantic_core (Rust) when the answer
is plain data (issue 11).

DRF's renderer encodes with the standard library (`json.dumps`, C), which with `ensure_ascii=False` turns a
100-row page of Vietnamese text into bytes at about 170 MB/s: 0.39 ms of worker CPU for a 66 kB alerts page,
a tenth of a list's budget. `pydantic_core.to_json` writes the same bytes in a third of that. The two agree
byte for byte on plain data — dicts, lists, tuples, strings, ints, bools, None and finite floats of 1e-4 and
more — and differ on what DRF's encoder (rest_framework.utils.encoders.JSONEncoder) converts its own way:
datetimes (cut to milliseconds), times, timedeltas (seconds as a string), Decimals (a number), bytes, lazy
translations, UUIDs, querysets, tiny floats (`1e-05` against `0.00001`), NaN and infinities (refused). (Bytes,
sets and frozensets both write as DRF does: text, lists.)

So an answer takes the fast path only when
- `marshal.dumps` takes it (C): marshal knows only the exact built-in types (no subclass, no datetime, Decimal,
  UUID, lazy string, ErrorDetail), so a refusal means "not plain"; the serializers' wrappers
  (ReturnDict/ReturnList) at the top and one level down are unwrapped first, as serializers give plain
  dicts and lists below them;
- the bytes written hold no `NaN` or `Infinity` (DRF refuses those: STRICT_JSON);
- the media type asks no indent.
A page whose rows are a `PlainRows` (a hand-written row builder's answer, which vouches for plain data with no
float) skips both checks when the rest of the answer is plain scalars: the marshal pass and the NaN scan cost
0.25–0.3 ms of the booking desk's 100-row page, half of its JSON's cost.
Anything else is DRF's own render, unchanged. What still differs: a float under 1e-4 (not zero) is written
`0.00001` / `7e-8` where DRF writes `1e-05` / `7e-08` — the same number, valid JSON, the same schema (no
reading the API gives is that small); and what no serializer gives, which both refuse or mangle: a `None` or a
tuple as a dict key, a complex number. Serializers give plain data (datetimes, decimals and UUIDs
already strings), so the list pages take the fast path. Tests: tests/api/test_renderers.py.

pydantic_core is installed with pydantic (a dependency of payos); pyproject.toml names it (same version).
"""

from __future__ import annotations

import marshal
import re
from typing import Any

import pydantic_core
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

# NaN and infinities, which DRF refuses (STRICT_JSON); the same letters in a text only send that answer down
# DRF's path.
_NOT_FINITE = (b"NaN", b"Infinity")
_LS, _PS = b"\xe2\x80\xa8", b"\xe2\x80\xa9"  # U+2028, U+2029 in UTF-8
_E2 = b"\xe2"  # their first byte
_SEPARATORS = re.compile(b"\xe2\x80[\xa8\xa9]")  # either of them


_WRAPPERS: frozenset[type] = frozenset({ReturnDict, ReturnList})


class PlainRows(list[Any]):
    """A page's rows, vouched by the code that builds them to be plain data with no float: dicts keyed by texts,
    lists, texts, ints, bools and None, of those exact types (no subclass, datetime, date, UUID, Decimal, lazy
    translation, bytes, tuple or float). pydantic_core writes such data byte for byte as DRF does and it holds no
    NaN or infinity, so the renderer writes an answer of these rows and plain scalars (the paginator's count and
    links) without checking it (module docstring). Only a builder whose output types are fixed by its own code
    answers one, and its tests walk its output (tests/api/test_renderers.py, `assert_plain_rows`)."""

    __slots__ = ()


# The scalars of a page's envelope around its PlainRows (count, next, previous).
_ENVELOPE: frozenset[type] = frozenset({PlainRows, str, int, bool, type(None)})
_TEXT_KEYS: frozenset[type] = frozenset({str})


def _unwrap(value: Any) -> Any:
    kind = type(value)
    if kind is ReturnDict:
        return dict(value)
    if kind is ReturnList:
        return list(value)
    return value


def plain_data(data: Any) -> Any:
    """`data` with the serializers' wrappers taken off its top two levels, or None when it is not plain
    (module docstring)."""
    data = _unwrap(data)
    if type(data) is dict and not _WRAPPERS.isdisjoint(map(type, data.values())):
        data = {key: _unwrap(value) for key, value in data.items()}
    elif type(data) is list and not _WRAPPERS.isdisjoint(map(type, data)):
        data = [_unwrap(value) for value in data]
    try:
        marshal.dumps(data)
    except ValueError:
        return None
    return data


class JSONRenderer(renderers.JSONRenderer):
    """rest_framework.renderers.JSONRenderer with the same output, faster on plain data (module docstring)."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        fast = self._render_plain(data, accepted_media_type, renderer_context)
        if fast is not None:
            return fast
        return super().render(data, accepted_media_type, renderer_context)  # type: ignore[no-any-return]

    def _render_plain(
        self, data: Any, accepted_media_type: str | None, renderer_context: Any
    ) -> bytes | None:
        """pydantic_core's bytes for plain data; None when DRF's own render must answer."""
        if data is None or not self.compact or self.ensure_ascii or not self.strict:
            return None
        if self.get_indent(accepted_media_type or "", renderer_context or {}) is not None:
            return None
        if (
            type(data) is dict
            and type(data.get("results")) is PlainRows
            and _ENVELOPE.issuperset(map(type, data.values()))
            and _TEXT_KEYS.issuperset(map(type, data))
        ):
            # Vouched plain, no float anywhere (PlainRows): nothing to check, no NaN to look for.
            ret = pydantic_core.to_json(data)
        else:
            plain = plain_data(data)
            if plain is None:
                return None
            ret = pydantic_core.to_json(plain, inf_nan_mode="constants")
            if any(mark in ret for mark in _NOT_FINITE):
                return None
        # As DRF does: U+2028 and U+2029 are valid JSON but not valid JavaScript. Both start with the byte E2,
        # which Vietnamese text hardly holds: a one-byte search (memchr) rules them out in ~2 µs where the
        # two three-byte searches took ~0.15 ms of a 94 kB booking desk page (issue 11). Where E2 is there
        # (an alert's reasons: "≤", "≥"), one pass of a compiled pattern: 26-57 µs on a 65 kB alerts page, where
        # the two searches took 168 µs.
        if _E2 in ret and _SEPARATORS.search(ret) is not None:
            ret = ret.replace(_LS, b"\\u2028").replace(_PS, b"\\u2029")
        return ret
