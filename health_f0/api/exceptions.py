"""Every API error answers `{"detail", "code", "errors": {field: [{"code", "message"}]}}`, never a 500 page.

Messages are in the request's language (Accept-Language: vi by default, or en); codes and field names are
the same in every language.
"""

from __future__ import annotations

import math
import re
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from health_f0.api.parsers import JsonTooLarge
from health_f0.core.exceptions import DomainError

# DRF's own messages are English (its Vietnamese catalogue is partial): give Vietnamese ones by code. These two
# tables apply only when Vietnamese is active (in English DRF's own text already reads well), so they are not
# translated.
_VI_BY_PREFIX = [
    ("Date has wrong format", "Ngày không hợp lệ: dùng định dạng YYYY-MM-DD."),
    ("Datetime has wrong format", "Thời điểm không hợp lệ: dùng định dạng ISO 8601."),
    ("Expected a date but got a datetime", "Cần một ngày (YYYY-MM-DD), không kèm giờ."),
    ("A valid integer is required", "Cần một số nguyên."),
    ("A valid number is required", "Cần một số."),
    ("Must be a valid boolean", "Cần giá trị true hoặc false."),
    ("Must be a valid UUID", "Mã không hợp lệ."),
    ("Not a valid string", "Cần một chuỗi ký tự."),
    ("Invalid data. Expected a dictionary", "Dữ liệu gửi lên phải là một đối tượng JSON."),
    ("Expected a list of items", "Cần một danh sách."),
    ("Expected a dictionary of items", "Cần một đối tượng JSON."),
]
_VI_BY_CODE = {
    "required": "Vui lòng nhập thông tin này.",
    "null": "Thông tin này không được để trống.",
    "blank": "Thông tin này không được để trống.",
    "invalid": "Giá trị không hợp lệ.",
    "invalid_choice": "Lựa chọn không hợp lệ.",
    "not_a_list": "Cần một danh sách.",
    "empty": "Danh sách không được để trống.",
    "max_length": "Quá dài: tối đa {n}.",
    "min_length": "Quá ngắn: tối thiểu {n}.",
    "max_value": "Giá trị phải nhỏ hơn hoặc bằng {n}.",
    "min_value": "Giá trị phải lớn hơn hoặc bằng {n}.",
    "max_string_length": "Số quá lớn.",
    "null_characters_not_allowed": "Có ký tự không hợp lệ.",
    "surrogate_characters_not_allowed": "Có ký tự không hợp lệ.",
    "date": "Cần một ngày (YYYY-MM-DD), không kèm giờ.",
    "datetime": "Thời điểm không hợp lệ.",
}
_VI_EXCEPTIONS: dict[type[exceptions.APIException], Any] = {
    exceptions.NotAuthenticated: gettext_lazy(
        "Vui lòng đăng nhập (gửi tiêu đề Authorization: Bearer <mã truy cập>)."
    ),
    exceptions.AuthenticationFailed: gettext_lazy("Thông tin xác thực không đúng."),
    exceptions.ParseError: gettext_lazy("Dữ liệu gửi lên không đúng định dạng JSON."),
    exceptions.UnsupportedMediaType: gettext_lazy(
        "Định dạng dữ liệu không được hỗ trợ: hãy gửi application/json."
    ),
    exceptions.NotAcceptable: gettext_lazy(
        "Không trả được dữ liệu theo tiêu đề Accept đã gửi (API chỉ trả JSON)."
    ),
}


def _vietnamese_active() -> bool:
    return (get_language() or "vi").startswith("vi")


def _vietnamese(code: str, message: str) -> str:
    """Our own messages pass through; with Vietnamese active, DRF's English defaults become Vietnamese."""
    if not message.isascii() or not _vietnamese_active():
        return message
    for prefix, vi in _VI_BY_PREFIX:
        if message.startswith(prefix):
            return vi
    template = _VI_BY_CODE.get(code)
    if template is None:
        return message
    number = re.search(r"-?\d+(?:\.\d+)?", message)
    return template.format(n=number.group(0) if number else "")


def _flatten(detail: Any) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list):
            for sub in value:
                walk(prefix, sub)
        else:
            code = getattr(value, "code", "invalid") or "invalid"
            out.setdefault(prefix or "non_field_errors", []).append(
                {"code": str(code), "message": _vietnamese(str(code), str(value))}
            )

    walk("", detail)
    return out


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    from health_f0.registration.services import ValidationErrors

    if isinstance(exc, ValidationErrors):
        errors = {f: [{"code": c, "message": m} for c, m in items] for f, items in exc.errors.items()}
        return Response({"detail": exc.message, "code": exc.code, "errors": errors}, status=400)
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body["errors"] = {exc.field: [{"code": exc.code, "message": exc.message}]}
        headers = {}
        if "retry_after" in exc.extra:
            body["retry_after"] = exc.extra["retry_after"]
            headers["Retry-After"] = str(exc.extra["retry_after"])
        # consent_required, policy_version_outdated: the version to agree to.
        if "policy_version" in exc.extra:
            body["policy_version"] = exc.extra["policy_version"]
        return Response(body, status=exc.status_code, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Không tìm thấy."))
    if isinstance(exc, RequestDataTooBig):
        # DRF reads a JSON or form body through request.body: past DATA_UPLOAD_MAX_MEMORY_SIZE, a 400 in our body.
        exc = JsonTooLarge(_("Dữ liệu gửi lên quá lớn."), code="json_too_large")
    if isinstance(exc, DjangoValidationError):
        # A model's full_clean() inside a service: still the user's input, so a 400, never a 500.
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(messages)
    if isinstance(exc, exceptions.Throttled):
        wait = max(math.ceil(wait_s), 1) if (wait_s := getattr(exc, "wait", None)) is not None else 60
        return Response(
            {
                "detail": ngettext(
                    "Bạn thao tác quá nhanh. Vui lòng thử lại sau %(seconds)s giây.",
                    "Bạn thao tác quá nhanh. Vui lòng thử lại sau %(seconds)s giây.",
                    wait,
                )
                % {"seconds": wait},
                "code": "throttled",
                "retry_after": wait,
            },
            status=429,
            headers={"Retry-After": str(wait)},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": _("Thông tin chưa hợp lệ."),
            "code": "validation_error",
            "errors": _flatten(exc.detail),
        }
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else _("Yêu cầu không hợp lệ.")
        ours = _VI_EXCEPTIONS.get(type(exc))
        # DRF's default text (in whatever language DRF has it) becomes ours; a message we raised stays.
        if ours is not None and (
            message == str(type(exc).default_detail) or (message.isascii() and _vietnamese_active())
        ):
            message = str(ours)
        response.data = {
            "detail": message,
            "code": exc.get_codes() if isinstance(exc.get_codes(), str) else "error",
        }
        if response.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            response.data["code"] = "method_not_allowed"
    return response
