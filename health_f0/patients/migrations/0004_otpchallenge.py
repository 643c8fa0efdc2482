# The OTP challenge model, moved here from the registration app (state only: the table
# registration_otpchallenge and its indexes stay as they are).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0003_phone_changed_at"),
        ("registration", "0002_otpchallenge_to_patients"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OtpChallenge",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        ("phone", models.CharField(db_index=True, max_length=16)),
                        ("purpose", models.CharField(max_length=32)),
                        ("code_hash", models.CharField(max_length=64)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("expires_at", models.DateTimeField()),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("verified_at", models.DateTimeField(blank=True, null=True)),
                        ("consumed_at", models.DateTimeField(blank=True, null=True)),
                        ("ip_address", models.GenericIPAddressField(blank=True, db_index=True, null=True)),
                    ],
                    options={
                        "verbose_name": "mã OTP",
                        "verbose_name_plural": "mã OTP",
                        "db_table": "registration_otpchallenge",
                        "indexes": [
                            models.Index(fields=["phone", "purpose", "created_at"], name="registratio_phone_068cef_idx")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
