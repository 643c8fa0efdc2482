from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "health_f0.core"
    label = "core"
    verbose_name = "Hệ thống"

    def ready(self) -> None:
        # Login receivers: the session's kind and start (session_policy), whether it needs a code (two_factor).
        from health_f0.core import session_policy, two_factor  # noqa: F401
