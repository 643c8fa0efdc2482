"""Autodiscovery's entry: the desk pages live in health_f0/notifications/desk/."""

from health_f0.notifications.desk import outbox  # noqa: F401  (registers on the desk site)
