"""Small pieces every API module shares: UUID path ids, paging and their OpenAPI parameters, PDF downloads."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import BaseRenderer

from health_f0.api.schema import error_responses
from health_f0.core.exceptions import NotFound


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


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


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
