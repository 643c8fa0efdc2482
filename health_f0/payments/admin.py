"""Autodiscovery's entry: the desk pages live in health_f0/payments/desk/."""

from health_f0.payments import desk  # noqa: F401  (registers on the desk site)
