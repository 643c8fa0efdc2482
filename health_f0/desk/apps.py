from django.apps import AppConfig


class DeskConfig(AppConfig):
    """The back-office desk: the admin site, its navigation, shared widgets and the action helper. Each domain's
    pages live in `<app>/desk/` and register their sidebar group here."""

    name = "health_f0.desk"
    label = "desk"
