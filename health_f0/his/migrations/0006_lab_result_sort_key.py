"""Issue 11: a lab result's place in the lists stored on the row (`sort_at`: its report's time, else its own;
`sort_report`: its report's id, 0 for none) with the index the lists read in order, filled for the existing rows
in batches of primary keys (each batch its own transaction: the migration is not atomic); and the index a
patient's link requests are read newest first by."""

import datetime

from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce

NO_TIME = datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.UTC)
BATCH = 5000


def fill_sort_key(apps, schema_editor):
    result_model = apps.get_model("his", "HisLabResult")
    report_model = apps.get_model("his", "HisLabReport")
    report = report_model.objects.filter(pk=OuterRef("report_id"))
    sort_at = Coalesce(
        Subquery(report.values("effective_at")[:1]),
        Subquery(report.values("issued_at")[:1]),
        F("observed_at"),
        Cast(Value(NO_TIME), output_field=models.DateTimeField()),
        output_field=models.DateTimeField(),
    )
    ids = result_model.objects.order_by("pk").values_list("pk", flat=True)
    start = ids.first()
    while start is not None:
        # The batch's upper bound: the BATCH-th id from `start` (ids may have gaps).
        end = ids.filter(pk__gte=start)[BATCH : BATCH + 1].first()
        batch = result_model.objects.filter(pk__gte=start)
        if end is not None:
            batch = batch.filter(pk__lt=end)
        batch.update(sort_at=sort_at, sort_report=Coalesce(F("report_id"), Value(0)))
        start = end


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("his", "0005_visit_bill"),
    ]

    operations = [
        migrations.AddField(
            model_name="hislabresult",
            name="sort_at",
            field=models.DateTimeField(default=NO_TIME, editable=False),
        ),
        migrations.AddField(
            model_name="hislabresult",
            name="sort_report",
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(fill_sort_key, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="hislabresult",
            index=models.Index(
                fields=["patient", "-sort_at", "sort_report", "name", "id"], name="his_labresult_patient_sort"
            ),
        ),
        migrations.AddIndex(
            model_name="hislinkrequest",
            index=models.Index(fields=["patient", "created_at"], name="his_linkreq_patient_created"),
        ),
    ]
