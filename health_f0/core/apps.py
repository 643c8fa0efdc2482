from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared kernel: the user and audit models, the workflow engine, actors, locks, counters and request
    plumbing. It imports no domain app (tests/test_architecture.py)."""

    name = "health_f0.core"
    label = "core"
    verbose_name = "Hệ thống"

    def ready(self) -> None:
        # The deploy check that stands in for Django's security.W003 (core/lean_stack.py).
        from health_f0.core import lean_stack, url_memo  # noqa: F401

        # The root URL resolver keeps resolutions by path (core/url_memo.py).
        url_memo.install()
