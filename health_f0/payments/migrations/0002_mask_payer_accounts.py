"""Mask the payer's bank account in the callbacks already logged (payments.services._payload masks new ones)."""

from typing import Any

from django.db import migrations

from health_f0.core.text import mask_account_number, mask_name

ACCOUNT_KEYS = ("counterAccountNumber",)
NAME_KEYS = ("counterAccountName",)


def _masked(payload: Any) -> Any:
    if not isinstance(payload, dict):
        return payload
    out = {}
    for key, value in payload.items():
        if isinstance(value, dict):
            out[key] = _masked(value)
        elif key in ACCOUNT_KEYS and value and not str(value).startswith("••••"):
            out[key] = mask_account_number(str(value))
        elif key in NAME_KEYS and value and "*" not in str(value):
            out[key] = mask_name(str(value))
        else:
            out[key] = value
    return out


def mask(apps: Any, schema_editor: Any) -> None:
    PaymentEvent = apps.get_model("payments", "PaymentEvent")
    rows = PaymentEvent.objects.filter(payload__icontains="counterAccount").only("id", "payload")
    for event in rows.iterator(chunk_size=500):
        masked = _masked(event.payload)
        if masked != event.payload:
            PaymentEvent.objects.filter(pk=event.pk).update(payload=masked)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [migrations.RunPython(mask, migrations.RunPython.noop)]
