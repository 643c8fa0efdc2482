# Limits per patient on the facility's appointment policy (see services._check_limits).

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0007_doctors"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointmentpolicy",
            name="max_live_per_service",
            field=models.PositiveSmallIntegerField(
                default=2,
                help_text="Số lịch hẹn còn hiệu lực một người bệnh được giữ cho cùng một dịch vụ. 0: không giới hạn.",
                validators=[django.core.validators.MaxValueValidator(50)],
                verbose_name="số lịch chưa khám tối đa mỗi dịch vụ",
            ),
        ),
        migrations.AddField(
            model_name="appointmentpolicy",
            name="max_per_day",
            field=models.PositiveSmallIntegerField(
                default=2,
                help_text="Số lịch hẹn còn hiệu lực của một người bệnh trong cùng một ngày. 0: không giới hạn.",
                validators=[django.core.validators.MaxValueValidator(50)],
                verbose_name="số lịch tối đa mỗi ngày",
            ),
        ),
        migrations.AddField(
            model_name="appointmentpolicy",
            name="max_per_week",
            field=models.PositiveSmallIntegerField(
                default=4,
                help_text="Số lịch hẹn còn hiệu lực của một người bệnh trong một tuần (thứ Hai đến Chủ nhật). 0: không giới hạn.",
                validators=[django.core.validators.MaxValueValidator(100)],
                verbose_name="số lịch tối đa mỗi tuần",
            ),
        ),
    ]
