"""Django's autodiscover imports this module: it registers the monitoring desk (health_f0.monitoring.desk)."""

from health_f0.monitoring import desk  # noqa: F401
