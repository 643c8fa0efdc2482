"""How accounting's audit rows read in the desk's history (core.audit.audit_describe)."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext_lazy as _

from health_f0.accounting.models import ItemKind, ReconciliationState, Resolution, Source
from health_f0.core.audit import AuditVocabulary
from health_f0.core.text import vnd
from health_f0.desk.formatting import fmt_datetime
from health_f0.payments.models import GatewayName


def _money(value: object) -> str:
    return vnd(int(str(value))) if str(value).lstrip("-").isdigit() else "—"


def _day(value: object) -> str:
    text = str(value)
    return f"{text[8:10]}/{text[5:7]}/{text[:4]}" if len(text) == 10 and text[4] == "-" else text


def _when(value: object) -> str:
    """An ISO timestamp stored in the audit data, shown dd/mm/yyyy HH:MM in Vietnam's time."""
    try:
        return fmt_datetime(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


ACCOUNTING_VOCABULARY = AuditVocabulary(
    verbs={
        "reconcile": _("Đối soát với tệp của cổng"),
        "resolve_item": _("Xử lý chênh lệch"),
        "close": _("Chốt ngày đối soát"),
        "reopen": _("Mở lại ngày đối soát"),
        "view": _("Xem"),
    },
    keys={
        "gateway": _("Cổng"),
        "day": _("Ngày"),
        "source": _("Nguồn"),
        "file": _("Tệp"),
        "our_total": _("Cơ sở ghi nhận"),
        "their_total": _("Cổng báo"),
        "matched": _("Khớp"),
        "mismatch": _("Lệch số tiền"),
        "missing_ours": _("Cổng có, cơ sở không có"),
        "missing_theirs": _("Cơ sở có, cổng không có"),
        "skipped": _("Dòng bỏ qua"),
        "reference": _("Mã thanh toán"),
        "kind": _("Loại chênh lệch"),
        "their_amount": _("Số tiền theo cổng"),
        "our_amount": _("Số tiền theo cơ sở"),
        "resolution": _("Cách xử lý"),
        "previous": _("Cách xử lý trước"),
        "reason": _("Lý do"),
        "from": _("Từ"),
        "to": _("Sang"),
        "closed_by": _("Người đã chốt"),
        "closed_at": _("Chốt lúc"),
    },
    values={
        "gateway": dict(GatewayName.choices),
        "day": _day,
        "source": dict(Source.choices),
        "kind": dict(ItemKind.choices),
        "resolution": dict(Resolution.choices),
        "previous": dict(Resolution.choices),
        "from": dict(ReconciliationState.choices),
        "to": dict(ReconciliationState.choices),
        "our_total": _money,
        "their_total": _money,
        "their_amount": _money,
        "our_amount": _money,
        "closed_at": _when,
    },
)
