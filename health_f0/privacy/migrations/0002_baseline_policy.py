"""The policy version every registration asked consent to before versions were data (2025-07), with the
product's standard text (empty body)."""

from datetime import datetime, timezone

from django.conf import settings
from django.db import migrations


def add_baseline(apps, schema_editor):
    PrivacyPolicy = apps.get_model("privacy", "PrivacyPolicy")
    if not PrivacyPolicy.objects.exists():
        PrivacyPolicy.objects.create(
            version=settings.PRIVACY_POLICY_VERSION,
            # 1 July 2025, 00:00 in Vietnam.
            effective_from=datetime(2025, 6, 30, 17, 0, tzinfo=timezone.utc),
            summary="Phiên bản đầu tiên.",
        )


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_privacy_rights")]

    operations = [migrations.RunPython(add_baseline, migrations.RunPython.noop)]
