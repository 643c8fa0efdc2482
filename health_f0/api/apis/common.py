"""Small pieces every API module shares: UUID path ids, paging and their OpenAPI parameters."""

from __future__ import annotations

from uuid import UUID

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import LimitOffsetPagination

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
