from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "health_f0.patients"
    label = "patients"
    verbose_name = "Người bệnh"
