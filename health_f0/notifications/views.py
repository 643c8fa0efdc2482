"""Gateway webhooks: delivery reports. Thin: check the secret, parse, call the outbox service."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from health_f0.notifications.gateways import ZnsWebhookError, parse_esms_callback, parse_zns_webhook
from health_f0.notifications.services import outbox_mark_delivered, zns_report_apply

logger = logging.getLogger(__name__)


@csrf_exempt  # called by eSMS's servers, authenticated by the secret token in the path
@require_http_methods(["GET", "POST"])
def esms_callback(request: HttpRequest, token: str) -> JsonResponse:
    """eSMS delivery report (HTTP GET with query parameters; POST form accepted too). Always 2xx once
    understood, so eSMS stops retrying; 400 for a request that is not a report; 404 for a wrong token."""
    expected = settings.ESMS_CALLBACK_TOKEN
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return JsonResponse({"detail": _("Không tìm thấy."), "code": "not_found"}, status=404)
    params = request.GET if request.method == "GET" else request.POST
    try:
        report = parse_esms_callback(params)
    except ValueError as exc:
        logger.warning("bad eSMS callback: %s", exc)
        return JsonResponse(
            {"detail": _("Báo cáo gửi tin không hợp lệ."), "code": "invalid_callback"}, status=400
        )
    if report is None:  # still on its way: nothing to record yet
        return JsonResponse({"matched": 0, "final": False})
    matched = outbox_mark_delivered(
        provider_message_id=report.provider_message_id,
        delivered=report.delivered,
        error=report.error,
        reference=report.reference,
    )
    return JsonResponse({"matched": matched, "final": True})


# A webhook body is a small JSON event; anything bigger is not Zalo's.
ZNS_WEBHOOK_MAX_BYTES = 64 * 1024


@csrf_exempt  # called by Zalo's servers, authenticated by the X-ZEvent-Signature MAC over the body
@require_http_methods(["POST"])
def zns_webhook(request: HttpRequest) -> JsonResponse:
    """Zalo OA webhook: `user_received_message` for a ZNS message marks it delivered (once; repeats are
    acknowledged and change nothing). Other events are acknowledged and ignored. 403 for a wrong signature
    or another app's event, 400 for a body that is not an event."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > ZNS_WEBHOOK_MAX_BYTES:
        return JsonResponse({"detail": _("Yêu cầu quá lớn."), "code": "too_large"}, status=413)
    body = request.body
    try:
        event = parse_zns_webhook(body, request.headers.get("X-ZEvent-Signature", ""))
    except ZnsWebhookError as exc:
        logger.warning("bad ZNS webhook: %s", exc)
        if exc.forbidden:
            return JsonResponse(
                {"detail": _("Chữ ký không hợp lệ."), "code": "invalid_signature"}, status=403
            )
        return JsonResponse({"detail": _("Sự kiện Zalo không hợp lệ."), "code": "invalid_event"}, status=400)
    if event is None:
        return JsonResponse({"matched": 0, "handled": False})
    return JsonResponse({"matched": zns_report_apply(event=event), "handled": True})
