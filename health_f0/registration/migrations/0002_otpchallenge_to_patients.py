# The OTP challenge model moved to the patients app (the one OTP service of every domain, patients.otp); its
# table keeps its name, so this only changes Django's state: no SQL runs.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("registration", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="OtpChallenge")],
            database_operations=[],
        ),
    ]
