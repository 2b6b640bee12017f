"""The canonical code systems (README §7) and the one canonical base URL of the profile.

The order of each tuple is the methodology's listing order, used wherever a set is written out.
"""

from __future__ import annotations

import json

from gateway.resources import profiles_dir

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


def _published_institutions() -> dict[str, str]:
    """The institutions are data: the profile's published CodeSystem `institution` (slug →
    name). Adding an institution publishes a code there; no code changes."""
    system = json.loads((profiles_dir() / "CodeSystem-institution.json").read_text("utf-8"))
    return {c["code"]: c["display"] for c in system["concept"]}


INSTITUTION_NAMES = _published_institutions()
INSTITUTIONS = tuple(INSTITUTION_NAMES)

#: Every canonical code system, by the name used in its URL.
CODE_SYSTEMS: dict[str, tuple[str, ...]] = {
    "violence-form": VIOLENCE_FORMS,
    "outcome": OUTCOMES,
    "perpetrator-relationship": RELATIONSHIPS,
    "setting": SETTINGS,
    "case-stage": CASE_STAGES,
    "notification-event": NOTIFICATION_EVENTS,
}
