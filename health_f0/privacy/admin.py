"""Django's autodiscover imports this module: it registers the personal-data desk (health_f0.privacy.desk)."""

from health_f0.privacy import desk  # noqa: F401
