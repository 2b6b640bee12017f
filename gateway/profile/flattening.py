"""Read a rendered Bundle back as one flat dict of its canonical elements."""

from __future__ import annotations

from typing import Any

from gateway.profile.dicts import as_dict, as_list, sub_value
from gateway.profile.rendering import EXT_SOURCE_EVENT_DATE
from gateway.profile.urls import (
    EXT_ADAPTER,
    EXT_CHILD_AGE,
    EXT_CHILD_AGE_BAND,
    EXT_MAPPING_VERSION,
    EXT_PLACE,
    EXT_SOURCE_CODE,
    EXT_WARNING,
    SID_CASE_KEY,
    SID_INCIDENT_REFERENCE,
    SID_INSTITUTION,
    SID_PSEUDONYM,
    SID_RAW_SHA256,
    SID_REFERENCE,
)

_FLAT = """notification_id case_key event institution incident_reference incident_date
    child_pseudonyms birth_date age age_band sex forms outcome attempted relationships setting
    case_stage event_date place_kind ekatte region references source_codes warnings
    mapping_version adapter adapter_version raw_sha256 received_at"""
#: The keys of `flatten`'s answer, in this order.
FLAT_KEYS = tuple(_FLAT.split())


def flatten(bundle: dict[str, Any]) -> dict[str, Any]:
    """The canonical elements of a rendered Bundle as one flat dict (None, [] or {} when absent)."""
    res = _resources(bundle)
    header, org = res.get("MessageHeader", {}), res.get("Organization", {})
    obs, patient, prov = (
        res.get("Observation", {}),
        res.get("Patient", {}),
        res.get("Provenance", {}),
    )

    flat: dict[str, Any] = dict.fromkeys(FLAT_KEYS)
    flat.update(child_pseudonyms=[], forms=[], relationships=[], references={}, source_codes=[])
    flat["warnings"] = []
    flat["notification_id"] = header.get("id", bundle.get("id"))
    flat["event"] = as_dict(header.get("eventCoding")).get("code")
    flat["incident_date"] = obs.get("effectiveDateTime")
    flat["birth_date"], flat["sex"] = patient.get("birthDate"), patient.get("gender")
    flat["received_at"] = prov.get("recorded")
    for ident in as_list(org.get("identifier")):
        if as_dict(ident).get("system") == SID_INSTITUTION:
            flat["institution"] = ident.get("value")
    for ident in as_list(obs.get("identifier")):
        system, value = as_dict(ident).get("system"), as_dict(ident).get("value")
        if system == SID_CASE_KEY:
            flat["case_key"] = value
        elif system == SID_INCIDENT_REFERENCE:
            flat["incident_reference"] = value
        elif isinstance(system, str) and system.startswith(SID_REFERENCE):
            flat["references"][system[len(SID_REFERENCE) :]] = value
    for ext in as_list(obs.get("extension")):
        ext = as_dict(ext)
        if ext.get("url") == EXT_PLACE:
            flat["place_kind"] = sub_value(ext, "kind")
            flat["ekatte"] = sub_value(ext, "ekatte")
            flat["region"] = sub_value(ext, "region")
        elif ext.get("url") == EXT_SOURCE_EVENT_DATE:
            flat["event_date"] = ext.get("valueDate")
        elif ext.get("url") == EXT_SOURCE_CODE:
            coding = as_dict(ext.get("valueCoding"))
            flat["source_codes"].append(
                {"system": coding.get("system"), "code": coding.get("code")}
            )
    for comp in as_list(obs.get("component")):
        comp = as_dict(comp)
        element = _code(comp.get("code"))
        if element == "attempted":
            flat["attempted"] = comp.get("valueBoolean")
            continue
        value = _code(comp.get("valueCodeableConcept"))
        if element == "violence-form":
            flat["forms"].append(value)
        elif element == "perpetrator-relationship":
            flat["relationships"].append(value)
        elif element in ("outcome", "setting", "case-stage"):
            flat[element.replace("-", "_")] = value
    for ident in as_list(patient.get("identifier")):
        system = as_dict(ident).get("system")
        if isinstance(system, str) and system.startswith(SID_PSEUDONYM):
            key_id = system[len(SID_PSEUDONYM) :]
            flat["child_pseudonyms"].append({"key_id": key_id, "value": ident.get("value")})
    for ext in as_list(patient.get("extension")):
        ext = as_dict(ext)
        if ext.get("url") == EXT_CHILD_AGE:
            flat["age"] = as_dict(ext.get("valueAge")).get("value")
        elif ext.get("url") == EXT_CHILD_AGE_BAND:
            flat["age_band"] = ext.get("valueString")
    for ext in as_list(header.get("extension")):
        ext = as_dict(ext)
        if ext.get("url") == EXT_WARNING:
            flat["warnings"].append(
                {"code": sub_value(ext, "code"), "path": sub_value(ext, "path")}
            )
    for ext in as_list(prov.get("extension")):
        if as_dict(ext).get("url") == EXT_MAPPING_VERSION:
            flat["mapping_version"] = ext.get("valueString")
    agents = as_list(prov.get("agent"))
    for ext in as_list(as_dict(agents[0]).get("extension") if agents else None):
        if as_dict(ext).get("url") == EXT_ADAPTER:
            flat["adapter"] = sub_value(ext, "name")
            flat["adapter_version"] = sub_value(ext, "version")
    for entity in as_list(prov.get("entity")):
        ident = as_dict(as_dict(as_dict(entity).get("what")).get("identifier"))
        if ident.get("system") == SID_RAW_SHA256:
            flat["raw_sha256"] = ident.get("value")
    return flat


def _resources(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The first resource of each type in the Bundle."""
    found: dict[str, dict[str, Any]] = {}
    for entry in as_list(bundle.get("entry")):
        resource = as_dict(as_dict(entry).get("resource"))
        found.setdefault(str(resource.get("resourceType")), resource)
    return found


def _code(concept: Any) -> Any:
    """The code of a CodeableConcept's first coding, or None."""
    codings = as_list(as_dict(concept).get("coding"))
    return as_dict(codings[0]).get("code") if codings else None
