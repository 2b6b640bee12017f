"""The canonical profile: render a notification as a FHIR message Bundle, check it, read it back.

`render` (in `rendering`) writes the Bundle, `validate` (in `validation` and `case_rules`, with
the `checker`) checks the profile's rules on any plain-dict Bundle and never raises, `flatten`
(in `flattening`) reads one back; `urls` holds the canonical URLs and fixed values.
"""

from __future__ import annotations

from gateway.profile.flattening import FLAT_KEYS, flatten
from gateway.profile.rendering import render
from gateway.profile.urls import (
    CASE_NOTIFICATION_TYPE,
    COMPONENTS,
    CS_ELEMENT,
    CS_EVENT,
    CS_TYPE,
    EXT_ADAPTER,
    EXT_CHILD_AGE,
    EXT_CHILD_AGE_BAND,
    EXT_MAPPING_VERSION,
    EXT_PLACE,
    EXT_SOURCE_CODE,
    EXT_WARNING,
    GATEWAY_ENDPOINT,
    GATEWAY_NAME,
    INSTITUTION_NAMES,
    PARTICIPANT_TYPE,
    PROFILE_BUNDLE,
    PROFILE_HEADER,
    PROFILE_OBSERVATION,
    PROFILE_ORGANIZATION,
    PROFILE_PATIENT,
    PROFILE_PROVENANCE,
    REGISTER_ENDPOINT,
    SID_CASE_KEY,
    SID_INCIDENT_REFERENCE,
    SID_INSTITUTION,
    SID_PSEUDONYM,
    SID_RAW_SHA256,
    SID_REFERENCE,
    UCUM,
)
from gateway.profile.validation import validate

__all__ = [
    "CASE_NOTIFICATION_TYPE",
    "COMPONENTS",
    "CS_ELEMENT",
    "CS_EVENT",
    "CS_TYPE",
    "EXT_ADAPTER",
    "EXT_CHILD_AGE",
    "EXT_CHILD_AGE_BAND",
    "EXT_MAPPING_VERSION",
    "EXT_PLACE",
    "EXT_SOURCE_CODE",
    "EXT_WARNING",
    "FLAT_KEYS",
    "GATEWAY_ENDPOINT",
    "GATEWAY_NAME",
    "INSTITUTION_NAMES",
    "PARTICIPANT_TYPE",
    "PROFILE_BUNDLE",
    "PROFILE_HEADER",
    "PROFILE_OBSERVATION",
    "PROFILE_ORGANIZATION",
    "PROFILE_PATIENT",
    "PROFILE_PROVENANCE",
    "REGISTER_ENDPOINT",
    "SID_CASE_KEY",
    "SID_INCIDENT_REFERENCE",
    "SID_INSTITUTION",
    "SID_PSEUDONYM",
    "SID_RAW_SHA256",
    "SID_REFERENCE",
    "UCUM",
    "flatten",
    "render",
    "validate",
]
