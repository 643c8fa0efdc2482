"""The API's JSON parser: DRF's, with a size and a nesting limit checked before anything is parsed.

DRF reads the request stream itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE (which guards `request.body`
and forms) never applies to a JSON body: without a limit here a client could send hundreds of megabytes, or
a body nested deep enough to exhaust Python's recursion limit in `json.loads` (a 500). Both are a 400 with
the API's error body (`json_too_large`, `json_too_deep`). No body the mobile app sends comes near either
limit: its largest, a declaration, is a few kilobytes and four levels deep.

Settings (optional): API_JSON_MAX_BYTES (default 1 MiB), API_JSON_MAX_DEPTH (default 32).
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers
from rest_framework.utils import json

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 32
# JSON strings (with their escapes) are dropped before counting brackets: "[" inside a name is not nesting.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonTooLarge(exceptions.ParseError):
    default_code = "json_too_large"


class JsonTooDeep(exceptions.ParseError):
    default_code = "json_too_deep"


def max_bytes() -> int:
    return int(getattr(settings, "API_JSON_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_depth() -> int:
    return int(getattr(settings, "API_JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH))


def _too_large() -> JsonTooLarge:
    return JsonTooLarge(
        _("Dữ liệu gửi lên quá lớn (tối đa %(kb)s KB).") % {"kb": max_bytes() // 1024}, code="json_too_large"
    )


def check_depth(text: str, limit: int) -> None:
    """Raise JsonTooDeep when arrays/objects nest deeper than `limit` (counted without parsing)."""
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                raise JsonTooDeep(
                    _("Dữ liệu gửi lên lồng nhau quá sâu (tối đa %(n)s cấp).") % {"n": limit},
                    code="json_too_deep",
                )
        else:
            depth -= 1


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser after the size and depth checks (see the module docstring)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        limit = max_bytes()
        request = parser_context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise _too_large()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise _too_large()
        encoding = parsers.get_encoding(parser_context)  # type: ignore[attr-defined]  # (not in the stubs)
        try:
            text = codecs.decode(raw, encoding)
        except UnicodeError as exc:
            raise exceptions.ParseError(_("Dữ liệu gửi lên không đúng định dạng JSON.")) from exc
        check_depth(text, max_depth())
        try:
            parse_constant = json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
