"""Doors into a hospital information system: FHIR R4 (fhir.py) and insurance XML files (xml_4750.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from health_f0.his.adapters.base import HisAdapter, HisPatient, HisUnavailable, NoLookupAdapter


def adapter_for(facility: Any) -> HisAdapter:
    """The adapter that looks patients up in this facility's HIS: FHIR when HIS_FHIR_BASE_URL is set,
    otherwise none (requests then go to the HIS linker, who types the HIS patient code)."""
    if settings.HIS_FHIR_BASE_URL:
        from health_f0.his.adapters.fhir import FhirAdapter

        return FhirAdapter(base_url=settings.HIS_FHIR_BASE_URL)
    return NoLookupAdapter()


__all__ = ["HisAdapter", "HisPatient", "HisUnavailable", "NoLookupAdapter", "adapter_for"]
