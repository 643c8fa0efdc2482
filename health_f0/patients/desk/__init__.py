"""The desk pages of the patients domain (see docs/architecture.md): the patient record (`records`).
Importing the package registers them on the desk site."""

from health_f0.patients.desk import records  # noqa: F401
