"""Django's autodiscover imports this module: it registers the patients desk (health_f0.patients.desk)."""

from health_f0.patients import desk  # noqa: F401
