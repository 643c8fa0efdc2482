from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppointmentsConfig(AppConfig):
    name = "health_f0.appointments"
    label = "appointments"
    verbose_name = _("Lịch hẹn khám")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from health_f0.appointments.audit_labels import APPOINTMENT_VOCABULARY
        from health_f0.core.audit import audit_vocabulary_register

        audit_vocabulary_register(self.label, APPOINTMENT_VOCABULARY)
