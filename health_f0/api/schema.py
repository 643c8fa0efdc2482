"""OpenAPI pieces shared by every endpoint: the bearer scheme, the error body, pagination envelopes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "health_f0.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Mã truy cập lấy từ POST /api/v1/auth/token; gửi `Authorization: Bearer <token>`.",
        }


class ErrorItemSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Mã lỗi ổn định (tiếng Anh)")
    message = serializers.CharField(help_text="Thông báo cho người dùng (tiếng Việt)")


class ErrorSerializer(serializers.Serializer):
    """The one error body of the API (see health_f0/api/exceptions.py)."""

    detail = serializers.CharField(help_text="Thông báo chung (tiếng Việt)")
    code = serializers.CharField(help_text="Mã lỗi ổn định (tiếng Anh)")
    errors = serializers.DictField(  # type: ignore[assignment]
        child=ErrorItemSerializer(many=True), required=False, help_text="Lỗi theo từng trường"
    )
    retry_after = serializers.IntegerField(required=False, help_text="Số giây cần chờ (khi bị giới hạn)")


_DESCRIPTIONS = {
    400: "Dữ liệu không hợp lệ (lỗi theo từng trường trong `errors`).",
    401: "Chưa đăng nhập hoặc mã truy cập không hợp lệ/hết hạn.",
    403: "Không có quyền.",
    404: "Không tìm thấy (hoặc không thuộc phạm vi của bạn).",
    409: "Xung đột trạng thái (đã xử lý, trùng hồ sơ...).",
    422: "Mâu thuẫn với một yêu cầu trước (ví dụ Idempotency-Key đã dùng cho câu trả lời khác); không lưu gì.",
    429: "Quá nhiều yêu cầu; xem tiêu đề Retry-After.",
    503: "Dịch vụ bên ngoài (ví dụ cổng thanh toán) tạm thời không kết nối được; thử lại sau.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status]) for status in statuses
    }


def paginated(name: str, item: serializers.Serializer) -> serializers.Serializer:
    """The LimitOffsetPagination envelope around a list of `item`."""
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item,
        },
    )


def cursor_paginated(name: str, item: serializers.Serializer) -> serializers.Serializer:
    """The v2 keyset envelope around a list of `item` (no count; `next`/`previous` carry the cursor)."""
    return inline_serializer(
        name=name,
        fields={
            "next": serializers.URLField(allow_null=True, help_text="Trang sau; null: hết danh sách"),
            "previous": serializers.URLField(allow_null=True, help_text="Trang trước; null: trang đầu"),
            "results": item,
        },
    )
