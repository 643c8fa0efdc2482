from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "health_f0.reports"
    label = "reports"
