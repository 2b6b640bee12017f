"""The health facilities (НЗИС) adapter: FHIR R4 message Bundles of suspected maltreatment."""

from adapters.health.adapter import HealthAdapter

__all__ = ["HealthAdapter"]
