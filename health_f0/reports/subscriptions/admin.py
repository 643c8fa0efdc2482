"""Autodiscovery's entry: the desk pages live in health_f0/reports/subscriptions/desk/."""

from health_f0.reports.subscriptions.desk import deliveries, subscriptions  # noqa: F401  (register on the desk)
