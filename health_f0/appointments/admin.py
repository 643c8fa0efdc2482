"""The desk's appointment pages live in appointments/desk/; importing the package registers them (Django's
admin autodiscover imports this module)."""

from health_f0.appointments import desk  # noqa: F401
