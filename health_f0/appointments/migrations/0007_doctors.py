# Doctors: a practitioner model, their weekly rows, the doctor of a booking, seat counters per doctor.

import uuid

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def doctors_from_names(apps, schema_editor):
    """One Doctor per distinct free-text name a service's weekly rows carried (at the service's facility),
    linked to those rows. The name is kept whole as the doctor's name (the title is left for the manager)."""
    ScheduleTemplate = apps.get_model("appointments", "ScheduleTemplate")
    Doctor = apps.get_model("appointments", "Doctor")
    made = {}
    rows = ScheduleTemplate.objects.exclude(practitioner="").select_related("service").order_by("pk")
    for row in rows:
        name = " ".join(row.practitioner.split())
        if not name:
            continue
        key = (row.service.facility_id, name.casefold())
        if key not in made:
            made[key] = Doctor.objects.create(facility_id=row.service.facility_id, full_name=name[:120])
        row.doctor = made[key]
        row.save(update_fields=["doctor"])


def names_from_doctors(apps, schema_editor):
    ScheduleTemplate = apps.get_model("appointments", "ScheduleTemplate")
    for row in ScheduleTemplate.objects.exclude(doctor=None).select_related("doctor"):
        row.practitioner = f"{row.doctor.title} {row.doctor.full_name}".strip()[:120]
        row.save(update_fields=["practitioner"])


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0006_reception_priority"),
        ("facilities", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Doctor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "public_id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, unique=True, verbose_name="mã công khai"
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="tạo lúc"),
                ),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="cập nhật lúc")),
                (
                    "title",
                    models.CharField(
                        blank=True,
                        help_text="ví dụ: BS.CKI, ThS.BS, PGS.TS",
                        max_length=24,
                        verbose_name="học hàm, học vị",
                    ),
                ),
                ("full_name", models.CharField(max_length=120, verbose_name="họ và tên")),
                ("is_active", models.BooleanField(default=True, verbose_name="đang khám")),
            ],
            options={
                "verbose_name": "bác sĩ",
                "verbose_name_plural": "bác sĩ",
                "ordering": ["full_name", "id"],
            },
        ),
        migrations.AddField(
            model_name="slotcounter",
            name="doctor_key",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddConstraint(
            model_name="slotcounter",
            constraint=models.UniqueConstraint(
                fields=("service", "slot_start", "doctor_key"), name="uniq_slot_doctor_counter"
            ),
        ),
        migrations.RemoveConstraint(
            model_name="slotcounter",
            name="uniq_slot_counter",
        ),
        migrations.AddField(
            model_name="doctor",
            name="facility",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="doctors",
                to="facilities.facility",
                verbose_name="cơ sở/phòng khám",
            ),
        ),
        migrations.AddField(
            model_name="appointment",
            name="doctor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="appointments",
                to="appointments.doctor",
                verbose_name="bác sĩ",
            ),
        ),
        migrations.AddField(
            model_name="scheduletemplate",
            name="doctor",
            field=models.ForeignKey(
                blank=True,
                help_text="Để trống: chỗ của dịch vụ, không gắn với bác sĩ nào.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="templates",
                to="appointments.doctor",
                verbose_name="bác sĩ",
            ),
        ),
        migrations.AddIndex(
            model_name="doctor",
            index=models.Index(fields=["facility", "is_active"], name="appointment_facilit_aa4198_idx"),
        ),
        migrations.AddField(
            model_name="scheduleoverride",
            name="doctor",
            field=models.ForeignKey(
                blank=True,
                help_text="Để trống: cả dịch vụ. Chọn bác sĩ: chỉ lịch của bác sĩ đó (nghỉ hoặc giờ riêng).",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="overrides",
                to="appointments.doctor",
                verbose_name="bác sĩ",
            ),
        ),
        migrations.RunPython(doctors_from_names, names_from_doctors),
        migrations.RemoveField(
            model_name="scheduletemplate",
            name="practitioner",
        ),
    ]
