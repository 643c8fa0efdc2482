from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="declaration",
            index=models.Index(fields=["episode", "local_date", "late"], name="decl_episode_day_late"),
        ),
    ]
