"""The receipt PDF of a paid payment, for the patient and the family (accounting.receipts.own_receipt_payment:
a staff account gets "not found" here and downloads receipts in the desk, where each download is audited)."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from health_f0.accounting import receipts
from health_f0.core.exceptions import NotFound
from health_f0.www.caching import never_cache


@never_cache
@login_required
@require_GET
def receipt_download(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """/ca-nhan/bien-lai/<payment>.pdf"""
    try:
        payment = receipts.own_receipt_payment(user=request.user, public_id=public_id)
    except NotFound:
        raise Http404(_("Không tìm thấy biên lai.")) from None
    response = HttpResponse(receipts.receipt_pdf(payment=payment), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{receipts.receipt_filename(payment)}"'
    response["Cache-Control"] = "private, no-store"
    return response
