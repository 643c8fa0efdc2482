"""Django's autodiscover imports this module: it registers the registration desk (health_f0.registration.desk)."""

from health_f0.registration import desk  # noqa: F401
