from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared kernel: the user and audit models, the workflow engine, actors, locks, counters and request
    plumbing. It imports no domain app (tests/test_architecture.py)."""

    name = "health_f0.core"
    label = "core"
    verbose_name = "Hệ thống"
