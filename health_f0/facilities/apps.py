from django.apps import AppConfig


class FacilitiesConfig(AppConfig):
    name = "health_f0.facilities"
    label = "facilities"
    verbose_name = "Cơ sở y tế và nhân viên"
