"""Render a notification as the canonical FHIR message Bundle, as plain dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.codes import CANONICAL_BASE, code_system
from gateway.facts import Notification
from gateway.methodology import name_uuid
from gateway.profile.urls import (
    CASE_NOTIFICATION_TYPE,
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

#: Observation extension: the date of the source's own event (prosecution `EventDate`).
EXT_SOURCE_EVENT_DATE = f"{CANONICAL_BASE}/StructureDefinition/source-event-date"


def render(n: Notification, generated_at: datetime | None = None) -> dict[str, Any]:
    """The message Bundle of `n` as plain dicts; `generated_at` defaults to the receipt time, so
    the same inputs always give the same output."""
    nid, p = n.notification_id, n.provenance
    org_id, obs_id, pat_id, prov_id = (
        _rid(nid, kind) for kind in ("organization", "observation", "patient", "provenance")
    )
    org_url, obs_url, pat_url = f"urn:uuid:{org_id}", f"urn:uuid:{obs_id}", f"urn:uuid:{pat_id}"
    cancel = n.event == "cancel"
    child = None if cancel else n.child

    header: dict[str, Any] = {"resourceType": "MessageHeader", "id": nid}
    header["meta"] = {"profile": [PROFILE_HEADER]}
    if n.warnings:
        header["extension"] = [_warning(w.code, w.path) for w in n.warnings]
    header["eventCoding"] = {"system": CS_EVENT, "code": n.event}
    header["destination"] = [{"endpoint": REGISTER_ENDPOINT}]
    header["sender"] = {"reference": org_url}
    header["source"] = {"name": GATEWAY_NAME, "endpoint": GATEWAY_ENDPOINT}
    header["focus"] = [{"reference": obs_url}]

    organization = {
        "resourceType": "Organization",
        "id": org_id,
        "meta": {"profile": [PROFILE_ORGANIZATION]},
        "identifier": [{"system": SID_INSTITUTION, "value": n.institution}],
        "name": INSTITUTION_NAMES.get(n.institution, n.institution),
    }

    observation: dict[str, Any] = {"resourceType": "Observation", "id": obs_id}
    observation["meta"] = {"profile": [PROFILE_OBSERVATION]}
    identifiers = [
        {"system": SID_CASE_KEY, "value": n.case_key},
        {"system": SID_INCIDENT_REFERENCE, "value": n.incident_reference},
    ]
    if not cancel:
        extensions: list[dict[str, Any]] = []
        if n.place is not None:
            parts = [{"url": "kind", "valueCode": n.place.kind}]
            if n.place.ekatte:
                parts.append({"url": "ekatte", "valueCode": n.place.ekatte})
            if n.place.region:
                parts.append({"url": "region", "valueCode": n.place.region})
            extensions.append({"url": EXT_PLACE, "extension": parts})
        for sc in n.source_codes:
            coding = {"system": sc.system, "code": sc.code}
            extensions.append({"url": EXT_SOURCE_CODE, "valueCoding": coding})
        if n.event_date is not None:
            extensions.append({"url": EXT_SOURCE_EVENT_DATE, "valueDate": n.event_date.isoformat()})
        if extensions:
            observation["extension"] = extensions
        identifiers += [{"system": SID_REFERENCE + s, "value": v} for s, v in n.references]
    observation["status"] = "cancelled" if cancel else "final"
    observation["code"] = {
        "coding": [
            {"system": CS_TYPE, "code": CASE_NOTIFICATION_TYPE, "display": "Child violence case"}
        ]
    }
    observation["identifier"] = identifiers
    if not cancel:
        if child is not None:
            observation["subject"] = {"reference": pat_url}
        if n.incident_date is not None:
            observation["effectiveDateTime"] = n.incident_date.isoformat()
        components = [_coded("violence-form", f) for f in n.forms]
        if n.outcome is not None:
            components.append(_coded("outcome", n.outcome))
        if n.attempted is not None:
            components.append(
                {
                    "code": {"coding": [{"system": CS_ELEMENT, "code": "attempted"}]},
                    "valueBoolean": n.attempted,
                }
            )
        components += [_coded("perpetrator-relationship", r) for r in n.relationships]
        if n.setting is not None:
            components.append(_coded("setting", n.setting))
        if n.case_stage is not None:
            components.append(_coded("case-stage", n.case_stage))
        if components:
            observation["component"] = components

    provenance = {
        "resourceType": "Provenance",
        "id": prov_id,
        "meta": {"profile": [PROFILE_PROVENANCE]},
        "extension": [{"url": EXT_MAPPING_VERSION, "valueString": p.mapping_version}],
        "target": [{"reference": obs_url}],
        "recorded": p.received_at.isoformat(),
        "agent": [
            {
                "extension": [
                    {
                        "url": EXT_ADAPTER,
                        "extension": [
                            {"url": "name", "valueString": p.adapter},
                            {"url": "version", "valueString": p.adapter_version},
                        ],
                    }
                ],
                "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "assembler"}]},
                "who": {"display": GATEWAY_NAME},
                "onBehalfOf": {"reference": org_url},
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {"identifier": {"system": SID_RAW_SHA256, "value": p.raw_sha256}},
            }
        ],
    }

    entries: list[dict[str, Any]] = [
        {"fullUrl": f"urn:uuid:{nid}", "resource": header},
        {"fullUrl": org_url, "resource": organization},
        {"fullUrl": obs_url, "resource": observation},
    ]
    if child is not None:
        patient: dict[str, Any] = {"resourceType": "Patient", "id": pat_id}
        patient["meta"] = {"profile": [PROFILE_PATIENT]}
        if not child.birth_date and child.age is not None:
            age = {"value": child.age, "unit": "a", "system": UCUM, "code": "a"}
            patient["extension"] = [{"url": EXT_CHILD_AGE, "valueAge": age}]
        elif not child.birth_date and child.age_band:
            patient["extension"] = [{"url": EXT_CHILD_AGE_BAND, "valueString": child.age_band}]
        if child.pseudonyms:
            patient["identifier"] = [
                {"system": SID_PSEUDONYM + ps.key_id, "value": ps.value} for ps in child.pseudonyms
            ]
        patient["gender"] = child.sex
        if child.birth_date:
            patient["birthDate"] = child.birth_date
        entries.append({"fullUrl": pat_url, "resource": patient})
    entries.append({"fullUrl": f"urn:uuid:{prov_id}", "resource": provenance})

    return {
        "resourceType": "Bundle",
        "id": nid,
        "meta": {"profile": [PROFILE_BUNDLE]},
        "type": "message",
        "timestamp": (generated_at or p.received_at).isoformat(),
        "entry": entries,
    }


def _warning(code: str, path: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "code", "valueCode": code}]
    if path:
        parts.append({"url": "path", "valueString": path})
    return {"url": EXT_WARNING, "extension": parts}


def _rid(notification_id: str, kind: str) -> str:
    return name_uuid(f"{notification_id}|{kind}")


def _coded(element: str, code: str) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": CS_ELEMENT, "code": element}]},
        "valueCodeableConcept": {"coding": [{"system": code_system(element), "code": code}]},
    }
