"""Autodiscovery's entry: the desk pages live in health_f0/facilities/desk/."""

from health_f0.facilities.desk import pages  # noqa: F401  (registers on the desk site)
