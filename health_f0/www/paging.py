"""Keyset pages for the portal's lists (issue 11): "Trang trước" / "Trang sau" links carrying the cursor of
core.keyset in ?trang=…, so page 50 of a long history reads what page 1 reads and no COUNT(*) runs.

A cursor that cannot be read (mangled, forged, from an old bookmark with a page number, or past the end of
a list that has since shrunk) shows the first page with a polite notice, never an error page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _

from health_f0.core.keyset import InvalidCursor, Keyset
from health_f0.core.sqllist import SqlList

PAGE_PARAM = "trang"
# A cursor holds a few sort keys (a date, an id, a name): anything much longer was not made by us.
MAX_CURSOR_LENGTH = 600


@dataclass(frozen=True)
class PortalPage:
    """One page of a portal list and the links around it (None: no such page)."""

    items: list[Any]
    next_url: str | None
    previous_url: str | None
    first_url: str | None
    notice: str

    @property
    def has_other_pages(self) -> bool:
        return self.next_url is not None or self.previous_url is not None


def _url(request: HttpRequest, cursor: str | None, param: str) -> str:
    query = request.GET.copy()
    query.pop(param, None)
    if cursor is not None:
        query[param] = cursor
    encoded = query.urlencode()
    return f"{request.path}?{encoded}" if encoded else request.path


def keyset_page(
    request: HttpRequest,
    queryset: QuerySet[Any] | SqlList,
    keyset: Keyset,
    *,
    size: int,
    param: str = PAGE_PARAM,
) -> PortalPage:
    """`size` rows of `queryset` from the request's cursor (one query of `size + 1` rows; a second one only
    when the cursor is refused and the first page is read instead). `queryset` may be a core.sqllist.SqlList
    (rows as dicts, the same cursors)."""
    cursor = request.GET.get(param) or None
    refused = False
    if cursor is not None and len(cursor) > MAX_CURSOR_LENGTH:
        cursor, refused = None, True

    def read(cursor: str | None) -> Any:
        if isinstance(queryset, SqlList):
            return queryset.keyset_page(keyset, size=size, cursor=cursor)
        return keyset.page(queryset, size=size, cursor=cursor)

    try:
        page = read(cursor)
    except InvalidCursor:
        page, refused = None, True
    if page is not None and cursor is not None and not page.items:
        page, refused = None, True  # past the end: the rows after (or before) it are gone
    if page is None:
        page = read(None)
    return PortalPage(
        items=page.items,
        next_url=_url(request, page.next_cursor, param) if page.next_cursor else None,
        previous_url=_url(request, page.previous_cursor, param) if page.previous_cursor else None,
        first_url=_url(request, None, param) if page.previous_cursor else None,
        notice=_("Không mở được trang đã chọn (đường dẫn có thể đã cũ). Đang hiện trang đầu.")
        if refused
        else "",
    )
