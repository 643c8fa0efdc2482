"""Small pieces every API module shares: UUID path ids, paging and their OpenAPI parameters, PDF downloads,
the account's patient named in a request, and a request body checked by its serializer."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from health_f0.api.schema import error_responses
from health_f0.core.exceptions import DomainError, NotFound
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
