# The patient appended to the booking desk's (facility, status, created_at) index (issue 11, fourteenth round): v1's
# count of the worklist reads the index alone. The new index is built before the old one is dropped, so the
# worklist's statements always have one of them (two online ALTERs on MariaDB; ~2 s for 150,000 bookings).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0010_patient_visit_tally"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                fields=["facility", "status", "created_at", "patient"], name="appt_facility_status_created"
            ),
        ),
        migrations.RemoveIndex(
            model_name="appointment",
            name="appointment_facilit_51cab3_idx",
        ),
    ]
