# Issue 9, item 12: every booking and walk-in ticket gets its SMS short link's code.

import secrets

from django.db import migrations, models

import health_f0.appointments.models

# Kept here as it was when the migration was written (services.LINK_CODE_ALPHABET may change later).
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8


def give_every_appointment_a_link_code(apps, schema_editor):
    """Existing bookings (their SMS carried the long link, which keeps working) get a code for later texts."""
    Appointment = apps.get_model("appointments", "Appointment")
    taken = set(Appointment.objects.exclude(link_code=None).values_list("link_code", flat=True))
    for pk in Appointment.objects.filter(link_code=None).values_list("pk", flat=True).iterator():
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        while code in taken:
            code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        taken.add(code)
        Appointment.objects.filter(pk=pk).update(link_code=code)


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0003_private_consultation_rooms"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="link_code",
            field=models.CharField(editable=False, max_length=8, null=True, verbose_name="mã đường dẫn ngắn"),
        ),
        migrations.RunPython(give_every_appointment_a_link_code, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="appointment",
            name="link_code",
            field=models.CharField(
                default=health_f0.appointments.models.new_link_code,
                editable=False,
                max_length=8,
                unique=True,
                verbose_name="mã đường dẫn ngắn",
            ),
        ),
    ]
