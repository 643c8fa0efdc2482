from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class DeskConfig(AppConfig):
    """The back-office desk: the admin site, its navigation, shared widgets and the action helper. Each domain's
    pages live in `<app>/desk/` and register their sidebar group here."""

    name = "health_f0.desk"
    label = "desk"

    def ready(self) -> None:
        # The desk's own sidebar group, then each installed app's `<app>/desk/nav.py` (it calls
        # navigation.register_group / register_items), found by Django's discovery: the desk names no domain.
        import health_f0.desk.nav  # noqa: F401

        autodiscover_modules("desk.nav")
