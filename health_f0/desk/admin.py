"""Autodiscovered first among the project's admin modules (the desk follows core in INSTALLED_APPS): makes the
desk the default admin site, then registers the desk's own pages (users, audit log, login logs)."""

from health_f0.desk.site import install_desk_site

install_desk_site()

from health_f0.desk import users  # noqa: E402, F401  (registers on the desk site)
