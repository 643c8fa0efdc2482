"""Links made before identities were verified stored the identifier the requester typed; rebuild them from
what the HIS returned (his/identity.py; also `manage.py his_rederive_link_identifiers`). The typed value
stays on the request as the requester's claim. Irreversible by design: the typed values are not put back."""

from django.db import migrations


def forwards(apps, schema_editor):
    from health_f0.his.identity import rederive_link_identifiers

    rederive_link_identifiers(apps.get_model("his", "HisLink"), apps.get_model("core", "AuditLog"))


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_initial"),
        ("his", "0003_link_identity_verified"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
