"""Write audit rows. Every state change and every staff read of a patient record calls this.

Reading them back: `audit_describe(row)` says a row in the active language — the verb, and each data key
with its value — through one vocabulary per domain (app label), registered by the domain itself
(`audit_vocabulary_register`, from its AppConfig.ready). Keys or values no vocabulary knows are shown as
stored, so nothing recorded is ever hidden."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from health_f0.core.models import AuditLog
from health_f0.core.request_context import current_ip


def audit_log(
    *,
    actor: Any,
    action: str,
    verb: str,
    target: models.Model,
    facility: Any = None,
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Record one action. `actor` may be None (the public, or the system)."""
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditLog.objects.create(
        actor=actor if is_user else None,
        actor_label=(actor.get_username() if is_user else "hệ thống/công chúng")[:150],
        action=action,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:255],
        facility=facility,
        data=data or {},
        ip_address=current_ip(),
    )


def audit_list_view(
    *, actor: Any, model: type[models.Model], data: dict[str, Any], facility: Any = None
) -> AuditLog:
    """Record one staff view of a page of a list of `model` rows (one row per page, not per record shown),
    with what narrowed it in `data` (search term, filters, page). A search term is personal data (a name, a
    phone, a CCCD): it is kept here, in the audit log, and never written to any other log."""
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditLog.objects.create(
        actor=actor if is_user else None,
        actor_label=(actor.get_username() if is_user else "hệ thống/công chúng")[:150],
        action=AuditLog.Action.VIEW,
        verb="view_list",
        target_type=model._meta.label_lower,
        target_id="list",
        target_repr=str(model._meta.verbose_name_plural)[:255],
        facility=facility,
        data=data,
        ip_address=current_ip(),
    )


# --- Reading rows back -------------------------------------------------------------------------------

ValueLabel = Mapping[str, Any] | Callable[[Any], str]


@dataclass(frozen=True)
class AuditVocabulary:
    """How one domain's audit rows read: verb -> label, data key -> label (in display order), and per key
    either the labels of its stored values (a TextChoices' choices) or a function that formats a value."""

    verbs: Mapping[str, Any] = field(default_factory=dict)
    keys: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, ValueLabel] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    verb: str
    details: list[tuple[str, str]]


def audit_moment(value: Any) -> str:
    """A stored ISO date-time as the desk shows times: '08:00 23/11/2026' (local)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if timezone.is_naive(moment):
        return f"{moment:%H:%M %d/%m/%Y}"
    return f"{timezone.localtime(moment):%H:%M %d/%m/%Y}"


# Keys and verbs written by the platform itself for any record (desk reads, deletions, configuration).
COMMON_VOCABULARY = AuditVocabulary(
    verbs={
        "view": _("Xem hồ sơ"),
        "view_list": _("Xem danh sách"),
        "delete": _("Xoá"),
        "configure": _("Cấu hình"),
    },
    keys={
        "reason": _("Lý do"),
        "note": _("Ghi chú"),
        "changed": _("Mục đã sửa"),
        "search": _("Tìm kiếm"),
        "filters": _("Bộ lọc"),
        "page": _("Trang"),
        "count": _("Số bản ghi"),
        "shown": _("Số dòng hiển thị"),
    },
)
_VOCABULARIES: dict[str, AuditVocabulary] = {}


def audit_vocabulary_register(app_label: str, vocabulary: AuditVocabulary) -> None:
    """Register how the rows of `app_label`'s records read (call it from the domain's AppConfig.ready)."""
    _VOCABULARIES[app_label] = vocabulary


def _value_text(value: Any, label: ValueLabel | None) -> str:
    if callable(label):
        return label(value)
    if isinstance(value, bool):
        return str(_("Có") if value else _("Không"))
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(item, label) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_value_text(item, None)}" for key, item in value.items()) or "—"
    if label is not None and str(value) in label:
        return str(label[str(value)])
    return "—" if value in (None, "") else str(value)


def audit_describe(row: Any) -> AuditEntry:
    """One audit row in words: the verb's label, then each data key's label and value, known keys first in
    the vocabulary's order. Unknown verbs read 'Action · verb'; unknown keys and values are kept as stored."""
    domain = _VOCABULARIES.get(str(row.target_type).split(".", 1)[0], AuditVocabulary())
    verbs = {**COMMON_VOCABULARY.verbs, **domain.verbs}
    keys = {**COMMON_VOCABULARY.keys, **domain.keys}
    values = {**COMMON_VOCABULARY.values, **domain.values}
    verb = verbs.get(row.verb)
    verb_text = str(verb) if verb is not None else f"{row.get_action_display()} · {row.verb}"
    data = row.data if isinstance(row.data, dict) else {"": row.data}
    if data.get("from") is not None and data.get("from") == data.get("to"):
        # A workflow step that keeps the state (a booking moved, a re-exam acknowledged): nothing to say.
        data = {key: value for key, value in data.items() if key not in ("from", "to")}
    order = {key: index for index, key in enumerate(keys)}
    details = [
        (str(keys.get(key, key)), _value_text(value, values.get(key)))
        for key, value in sorted(data.items(), key=lambda item: order.get(item[0], len(order)))
        if value not in (None, "")
    ]
    return AuditEntry(verb=verb_text, details=details)
