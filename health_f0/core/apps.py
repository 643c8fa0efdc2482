from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "health_f0.core"
    label = "core"
    verbose_name = "Hệ thống"
