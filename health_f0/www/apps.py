from django.apps import AppConfig


class WwwConfig(AppConfig):
    name = "health_f0.www"
    label = "www"
