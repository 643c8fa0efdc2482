"""Portal test fixtures shared with the HIS domain's tests: the real FHIR server (sekmet) and its helpers."""

from health_f0.his.tests.conftest import fhir, fhir_base_url, linker, ttyt  # noqa: F401 - pytest fixtures
