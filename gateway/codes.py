"""The canonical code systems (README §7) and the one canonical base URL of the profile.

The order of each tuple is the methodology's listing order, used wherever a set is written out.
"""

from __future__ import annotations

CANONICAL_BASE = "https://child-register.bg/fhir"


def code_system(name: str) -> str:
    return f"{CANONICAL_BASE}/CodeSystem/{name}"


def source_system(slug: str, field: str) -> str:
    """The system of an institution's own code (kept as a source code)."""
    return f"{CANONICAL_BASE}/source/{slug}/{field}"


VIOLENCE_FORMS = (
    "physical",
    "psychological",
    "sexual",
    "neglect",
    "exploitation",
    "trafficking",
    "bullying",
    "online",
    "unspecified",
)
OUTCOMES = ("fatal", "injured", "not-injured", "unknown")
RELATIONSHIPS = (
    "parent",
    "step-parent",
    "other-relative",
    "intimate-partner",
    "caregiver-professional",
    "peer",
    "acquaintance",
    "stranger",
    "unknown",
)
SETTINGS = ("family", "school", "residential-care", "public-place", "online", "other", "unknown")
CASE_STAGES = (
    "reported",
    "under-assessment",
    "substantiated",
    "unsubstantiated",
    "criminal-proceedings",
    "indicted",
    "convicted",
    "closed",
)
NOTIFICATION_EVENTS = ("new", "update", "cancel")
SEXES = ("male", "female", "other", "unknown")
PLACE_KINDS = ("incident", "residence", "school")
INSTITUTIONS = ("mvr", "prosecution", "ozd", "helpline", "schools", "health")

#: Every canonical code system, by the name used in its URL.
CODE_SYSTEMS: dict[str, tuple[str, ...]] = {
    "violence-form": VIOLENCE_FORMS,
    "outcome": OUTCOMES,
    "perpetrator-relationship": RELATIONSHIPS,
    "setting": SETTINGS,
    "case-stage": CASE_STAGES,
    "notification-event": NOTIFICATION_EVENTS,
}
