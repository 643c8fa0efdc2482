"""The desk pages of the registration domain (see docs/architecture.md): the station's queue (`queue`), its
columns (`columns`). Importing the package registers them on the desk site."""

from health_f0.registration.desk import queue  # noqa: F401
