"""The profile's canonical URLs, identifier systems and fixed values (published in `profiles/`)."""

from __future__ import annotations

from gateway.codes import CANONICAL_BASE
from gateway.codes import INSTITUTION_NAMES as INSTITUTION_NAMES  # published data, re-exported

_SD = f"{CANONICAL_BASE}/StructureDefinition/"
_SID = f"{CANONICAL_BASE}/sid/"
_CS = f"{CANONICAL_BASE}/CodeSystem/"

PROFILE_BUNDLE = _SD + "case-notification-bundle"
PROFILE_HEADER = _SD + "case-notification-header"
PROFILE_ORGANIZATION = _SD + "reporting-institution"
PROFILE_OBSERVATION = _SD + "case-notification-observation"
PROFILE_PATIENT = _SD + "notified-child"
PROFILE_PROVENANCE = _SD + "notification-provenance"

EXT_WARNING = _SD + "data-quality-warning"
EXT_MAPPING_VERSION = _SD + "mapping-version"
EXT_PLACE = _SD + "place"
EXT_SOURCE_CODE = _SD + "source-code"
EXT_CHILD_AGE = _SD + "child-age"
EXT_CHILD_AGE_BAND = _SD + "child-age-band"
EXT_ADAPTER = _SD + "adapter"

SID_INSTITUTION = _SID + "institution"
SID_CASE_KEY = _SID + "case-key"
SID_INCIDENT_REFERENCE = _SID + "incident-reference"
SID_REFERENCE = _SID + "reference/"  # + institution slug
SID_PSEUDONYM = _SID + "child-pseudonym/"  # + linkage key id
SID_RAW_SHA256 = _SID + "raw-message-sha256"

CS_EVENT = _CS + "notification-event"
CS_ELEMENT = _CS + "notification-element"
CS_TYPE = _CS + "case-notification-type"
CASE_NOTIFICATION_TYPE = "child-violence-case"
UCUM = "http://unitsofmeasure.org"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

GATEWAY_NAME = "child-violence-gateway"
GATEWAY_ENDPOINT = "urn:bg:child-gateway"
REGISTER_ENDPOINT = "urn:bg:child-register"


# Observation.component codes (CodeSystem notification-element): element -> (min, max).
_MANY = 99
COMPONENTS: dict[str, tuple[int, int]] = {
    "violence-form": (1, _MANY),
    "outcome": (1, 1),
    "attempted": (1, 1),
    "perpetrator-relationship": (1, _MANY),
    "setting": (1, 1),
    "case-stage": (0, 1),
}
