from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "health_f0.monitoring"
    label = "monitoring"
    verbose_name = "Theo dõi sức khoẻ tại nhà"
