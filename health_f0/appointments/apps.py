from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppointmentsConfig(AppConfig):
    name = "health_f0.appointments"
    label = "appointments"
    verbose_name = _("Lịch hẹn khám")
    default_auto_field = "django.db.models.BigAutoField"
