"""Small pieces every API module shares: UUID path ids, paging and their OpenAPI parameters, PDF downloads,
the account's patient named in a request, and a request body checked by its serializer."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote_plus
from uuid import UUID

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from health_f0.api.renderers import JSONRenderer
from health_f0.api.schema import cursor_paginated, error_responses, paginated
from health_f0.api.versioning import V1, V2
from health_f0.api.views import APIView
from health_f0.core.exceptions import DomainError, NotFound
from health_f0.core.keyset import InvalidCursor, Keyset
from health_f0.core.middleware import validated_host
from health_f0.core.sqllist import SqlList
from health_f0.facilities import access
from health_f0.patients.models import Patient


def uuid_or_404(value: str, message: str | None = None) -> UUID:
    """A public id from the path; anything that is not a UUID is simply not found (404, never a 500)."""
    try:
        return UUID(value)
    except (ValueError, TypeError):
        raise NotFound(message or _("Không tìm thấy."))


def id_parameter(description: str) -> OpenApiParameter:
    return OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description=description)


def limit_offset() -> list[OpenApiParameter]:
    return [
        OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY),
        OpenApiParameter("offset", OpenApiTypes.INT, OpenApiParameter.QUERY),
    ]


def limit_cursor() -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "limit", OpenApiTypes.INT, OpenApiParameter.QUERY, description="Số dòng mỗi trang (tối đa 200)"
        ),
        OpenApiParameter(
            "cursor",
            OpenApiTypes.STR,
            OpenApiParameter.QUERY,
            description="Vị trí trang, lấy từ `next`/`previous`",
        ),
    ]


# --- Paging: v1 by limit/offset with a count, v2 by keyset cursor ---------------------------------------


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class KeysetPagination:
    """v2 lists (core/keyset.py): the next page starts after the last row's sort key, so a page deep in a long
    list reads what the first one reads, and no COUNT(*) runs. `limit` as in v1 (default 50, at most 200),
    `cursor` from `next`/`previous`."""

    default_limit = 50
    max_limit = 200

    def __init__(self, ordering: Sequence[str]) -> None:
        self.keyset = Keyset(ordering)

    def limit(self, request: Request) -> int:
        try:
            limit = int(request.query_params.get("limit", self.default_limit))
        except (TypeError, ValueError):
            return self.default_limit
        return min(limit, self.max_limit) if limit > 0 else self.default_limit

    def paginate(self, queryset: Any, request: Request) -> tuple[list[Any], str | None, str | None]:
        try:
            cursor = request.query_params.get("cursor") or None
            if isinstance(queryset, SqlList):
                page = queryset.keyset_page(self.keyset, size=self.limit(request), cursor=cursor)
            else:
                page = self.keyset.page(queryset, size=self.limit(request), cursor=cursor)
        except InvalidCursor:
            raise DomainError(
                _("Vị trí trang không hợp lệ; hãy tải lại từ trang đầu."),
                code="invalid_cursor",
                field="cursor",
            )

        if page.next_cursor is None and page.previous_cursor is None:
            return page.items, None, None
        link = cursor_link(request)
        return page.items, link(page.next_cursor), link(page.previous_cursor)


# The request's URL in the plain form most API calls have (http(s), a host name or address, a path and a query of
# `key=value` pairs of unreserved characters): every step of `build_absolute_uri` and of `replace_query_param`'s
# unquoting and quoting leaves such text as it is, so the link is the same text put together directly.
_PLAIN_SCHEME_HOST = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?")
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9_.~/-]*")
_PLAIN_QUERY = re.compile(r"(?:[A-Za-z0-9_.~-]+=[A-Za-z0-9_.~-]*(?:&[A-Za-z0-9_.~-]+=[A-Za-z0-9_.~-]*)*)?")
CURSOR = "cursor"


def cursor_link(request: Request) -> Callable[[str | None], str | None]:
    """`link(cursor)`: `replace_query_param(request.build_absolute_uri(), "cursor", cursor)` (DRF's next-page link:
    the query's pairs grouped by key, sorted by key, re-encoded, `cursor` set), None for None. The request's part
    of it is worked out once for both links, and for a plain URL (above) without parsing and re-encoding it:
    about 180 Python calls a page (issue 11). Any other URL takes DRF's own functions."""
    http_request: Any = request._request
    path = http_request.path
    query = http_request.META.get("QUERY_STRING", "")
    scheme_host = http_request.__dict__.get("_current_scheme_host")
    if scheme_host is None:
        # HttpRequest._current_scheme_host (a cached property: build_absolute_uri reads the same), its
        # get_host() answered by validated_host's memo (the host CommonMiddleware checked; DisallowedHost alike).
        scheme_host = http_request.__dict__["_current_scheme_host"] = (
            f"{http_request.scheme}://{validated_host(http_request)}"
        )
    if not (
        _PLAIN_SCHEME_HOST.fullmatch(scheme_host)
        and _PLAIN_PATH.fullmatch(path)
        and _PLAIN_QUERY.fullmatch(query)
        and "/./" not in path
        and "/../" not in path
        and not path.startswith("//")
    ):
        uri = http_request.build_absolute_uri()
        return lambda cursor: None if cursor is None else replace_query_param(uri, CURSOR, cursor)
    groups: dict[str, list[str]] = {}
    if query:
        for pair in query.split("&"):
            groups.setdefault(pair.partition("=")[0], []).append(pair)
    keys = sorted(groups)
    before = "".join([f"{pair}&" for key in keys if key < CURSOR for pair in groups[key]])
    after = "".join([f"&{pair}" for key in keys if key > CURSOR for pair in groups[key]])
    start = f"{scheme_host}{path}?{before}{CURSOR}="

    def link(cursor: str | None) -> str | None:
        return None if cursor is None else f"{start}{quote_plus(cursor, safe='')}{after}"

    return link


_FILTER_DEFAULTS: dict[type[serializers.Serializer], dict[str, Any] | None] = {}


def query_filters(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """`serializer_class(data=request.query_params)`'s validated data (its 400 raised as
    `is_valid(raise_exception=True)` raises it). A query that names none of the serializer's fields (a list's
    plain first and next pages) gets the answer of an empty query, worked out once per class: DRF would build and
    deep-copy every field on each request to say the same (issue 11). Only for a serializer without a
    `validate` of its own and without callable defaults, whose empty answer cannot change between requests."""
    params = request.query_params
    defaults = _FILTER_DEFAULTS.get(serializer_class, _UNSET)
    if defaults is _UNSET:
        defaults = _FILTER_DEFAULTS[serializer_class] = _empty_filters(serializer_class)
    if defaults is not None and not any(name in params for name in defaults["__names__"]):
        return {name: value for name, value in defaults.items() if name != "__names__"}
    filters = serializer_class(data=params)
    filters.is_valid(raise_exception=True)
    return dict(filters.validated_data)


_UNSET: Any = object()


def _empty_filters(serializer_class: type[serializers.Serializer]) -> dict[str, Any] | None:
    """The validated data of an empty query (plus the field names under "__names__"), or None where it may
    not be reused."""
    from django.http import QueryDict

    probe = serializer_class(data=QueryDict())
    if type(probe).validate is not serializers.Serializer.validate:
        return None
    fields = probe.fields
    # DRF marks "no default" with the class `empty` (callable, as every class is): not a callable default.
    if any(field.default is not empty and callable(field.default) for field in fields.values()):
        return None
    if not probe.is_valid():
        return None
    return {**probe.validated_data, "__names__": tuple(fields)}


def paginate(
    request: Request,
    view: APIView,
    queryset: Any,
    *,
    serialize: Callable[[list[Any]], Any],
    ordering: Sequence[str] | None = None,
) -> Response:
    """One page of `queryset` (or of a `core.sqllist.SqlList`) as the request's API version pages it (v1: limit/offset and a count; v2: keyset
    cursor), its rows turned into JSON-ready items by `serialize`. `ordering`: column names (`-` for
    descending, NOT NULL, the last one unique); by default the queryset's own `order_by` of such names."""
    if ordering is None and isinstance(queryset, SqlList):
        ordering = queryset.ordering
    if ordering is None:
        ordering = tuple(queryset.query.order_by)
        if not ordering or not all(isinstance(item, str) for item in ordering):
            raise TypeError("paginate() needs an ordering of column names")
    if request.version == V2:
        items, next_link, previous_link = KeysetPagination(ordering).paginate(queryset, request)
        return Response({"next": next_link, "previous": previous_link, "results": serialize(items)})
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset.order_by(*ordering), request, view=view)
    return paginator.get_paginated_response(serialize(list(page or [])))


def paginated_list(
    name: str, item: serializers.Serializer, *statuses: int, v2_item: serializers.Serializer | None = None
) -> Callable[[Any], Any]:
    """The OpenAPI side of `paginate`: v1's envelope `{count, next, previous, results}` with limit/offset, v2's
    `{next, previous, results}` with limit/cursor, plus the error bodies of `statuses`. Put it above the
    operation's own @extend_schema (which then carries no `responses` and no paging parameters). `v2_item`:
    the v2 row when it differs from v1's."""

    def decorate(view_method: Any) -> Any:
        view_method = extend_schema(
            versions=[V1],
            parameters=limit_offset(),
            responses={200: paginated(f"Paginated{name}List", item), **error_responses(*statuses)},
        )(view_method)
        return extend_schema(
            versions=[V2],
            parameters=limit_cursor(),
            responses={
                200: cursor_paginated(f"Cursor{name}List", v2_item or item),
                **error_responses(*statuses),
            },
        )(view_method)

    return decorate


class PdfRenderer(BaseRenderer):
    """Lets `Accept: application/pdf` through content negotiation; the PDF itself is a plain response."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return data if isinstance(data, bytes) else b""


def pdf_responses(*statuses: int) -> dict[Any, Any]:
    """The OpenAPI responses of a PDF download: the file on 200, the JSON error body on `statuses`."""
    return {
        (200, "application/pdf"): OpenApiTypes.BINARY,
        **{(code, "application/json"): body for code, body in error_responses(*statuses).items()},
    }


# A download that answers `application/pdf` on success; errors are always the JSON error body, whatever the client
# accepted. Put before the view's base: `class XApi(PdfDownloadMixin, PatientApi)`. (No docstring: the OpenAPI
# schema would take it as the operations' description.)
class PdfDownloadMixin(APIView):
    renderer_classes = [JSONRenderer, PdfRenderer]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(response, Response):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


# --- The account's patients (access.own_patients_for) --------------------------------------------


def own_patient(user: Any, public_id: UUID | None) -> Patient:
    """Whom a request is for: the account's own record when `public_id` is None, else the family member it
    names (access.own_patients_for); 400 on `patient` when there is none."""
    patients = access.own_patients_for(user)
    patient = (
        patients.filter(account=user).first()
        if public_id is None
        else patients.filter(public_id=public_id).first()
    )
    if patient is None:
        raise DomainError(
            _("Không tìm thấy người bệnh trong tài khoản của bạn."), code="patient_not_found", field="patient"
        )
    return patient


def own_patient_filter(user: Any, public_id: UUID | None) -> Patient | None:
    """The family member a list is narrowed to (None: no filter, every patient of the account); 400 on
    `patient` when the id is not one of the account's patients."""
    return None if public_id is None else own_patient(user, public_id)


# --- Request bodies --------------------------------------------------------------------------------


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """`data` (a request body) checked by `serializer_class`: its validated data, else 400 with every field's
    error."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    result: dict[str, Any] = serializer.validated_data
    return result
