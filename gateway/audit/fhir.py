"""An audit record as a FHIR R4 `AuditEvent`, after IHE Basic Audit Log Patterns (BALP).

Intake steps are *imports* at the gateway (DICOM 110107, the institution the source, the gateway
the destination), the forwarder's steps are *exports* to the register (110106, BALP's privacy
disclosure at the source), and a read of the audit is a RESTful query (`rest`). ISO 21089
lifecycle codes and the gateway's own step code refine each. Entities are identifiers only:
receipt, notifications, the raw message's digest, and the child as the gateway's internal
pseudonym; never a personal number or a name. The purpose of use is the legal basis configured
for the institution (or for the register, or for the officer's reads).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.audit.chain import Record
from gateway.tls import GATEWAY_URI, URN_PREFIX

DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
URI = "urn:ietf:rfc:3986"

SITE = "https://child-register.bg"
STEP = f"{SITE}/fhir/CodeSystem/gateway-audit-step"
CERTIFICATE = f"{SITE}/sid/certificate-sha256"
INSTITUTION = f"{SITE}/fhir/CodeSystem/institution"
RECEIPT = f"{SITE}/sid/receipt"
RAW_SHA256 = f"{SITE}/sid/raw-message-sha256"
CHILD = f"{SITE}/sid/child-internal-pseudonym"
REGISTER_URI = f"{URN_PREFIX}:register"
OPERATOR_URI = f"{URN_PREFIX}:operator-cli"

#: The legal-basis keys of the officer's reads, disclosures to the register, and the gateway's
#: own steps (retention); institutions are keyed by their slug.
OFFICER, REGISTER, RETENTION = "security-officer", "register", "retention"


@dataclass(frozen=True, slots=True)
class Step:
    type: tuple[str, str, str]
    lifecycle: str
    action: str
    direction: str  # "in": institution → gateway; "out": gateway → register; "read"; "self"


_IMPORT = (DCM, "110107", "Import")
_EXPORT = (DCM, "110106", "Export")
_REST = (EVENT_TYPE, "rest", "RESTful Operation")
_ACTIVITY = (DCM, "110100", "Application Activity")

STEPS: Mapping[str, Step] = {
    "received": Step(_IMPORT, "receive", "C", "in"),
    "rejected": Step(_IMPORT, "receive", "C", "in"),
    "duplicate": Step(_IMPORT, "receive", "C", "in"),
    "out-of-scope": Step(_IMPORT, "receive", "C", "in"),
    "accepted": Step(_IMPORT, "originate", "C", "in"),
    "translated": Step(_IMPORT, "transform", "C", "in"),
    "forwarded": Step(_EXPORT, "transmit", "R", "out"),
    "delivered": Step(_EXPORT, "disclose", "R", "out"),
    "retried": Step(_EXPORT, "transmit", "R", "out"),
    "dead-lettered": Step(_EXPORT, "transmit", "R", "out"),
    "read": Step(_REST, "access", "E", "read"),
    # Retention: a month's raw messages shredded by the gateway itself.
    "purged": Step(_ACTIVITY, "destroy", "D", "self"),
}
#: A kind added later still exports, as an activity of the gateway's own.
_OTHER = Step(_ACTIVITY, "access", "E", "self")

# 0 success, 4 minor failure (the sender's or a passing fault), 8 serious failure.
_FAILED = {"rejected": "4", "retried": "4", "dead-lettered": "8"}


def outcome_code(rec: Record) -> str:
    if rec.entry.kind == "read":
        return "0" if rec.entry.outcome == "ok" else "4"
    return _FAILED.get(rec.entry.kind, "0")


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _purpose(legal_basis: Mapping[str, str], who: str) -> list[dict[str, Any]]:
    text = legal_basis.get(who)
    return [{"text": text}] if text else []


def _gateway(role: tuple[str, str], requestor: bool) -> dict[str, Any]:
    return {
        "type": {"coding": [_coding(DCM, *role)]},
        "who": {"identifier": {"system": URI, "value": GATEWAY_URI}, "display": "gateway"},
        "requestor": requestor,
    }


_SOURCE_ROLE = ("110153", "Source Role ID")
_DESTINATION_ROLE = ("110152", "Destination Role ID")


def _caller(rec: Record, role: tuple[str, str], purpose: list[dict[str, Any]]) -> dict[str, Any]:
    """The institution (or officer) by the certificate it used; by slug when none was shown;
    a read without a certificate is the operator's command line on the gateway's host."""
    e = rec.entry
    if e.cert_fp:
        who: dict[str, Any] = {"identifier": {"system": CERTIFICATE, "value": e.cert_fp}}
        who["display"] = e.institution or OFFICER
    elif e.kind == "read":
        who = {"identifier": {"system": URI, "value": OPERATOR_URI}, "display": "operator (CLI)"}
    else:
        who = {"identifier": {"system": INSTITUTION, "value": e.institution or "unknown"}}
        who["display"] = e.institution or "unknown"
    agent: dict[str, Any] = {
        "type": {"coding": [_coding(DCM, *role)]},
        "who": who,
        "requestor": True,
    }
    if e.institution:
        agent["altId"] = e.institution
    if purpose:
        agent["purposeOfUse"] = purpose
    return agent


def _agents(rec: Record, legal_basis: Mapping[str, str]) -> list[dict[str, Any]]:
    step = STEPS.get(rec.entry.kind, _OTHER)
    if step.direction == "self":
        return [_gateway(_SOURCE_ROLE, True)]
    if step.direction == "out":
        register = {
            "type": {"coding": [_coding(DCM, *_DESTINATION_ROLE)]},
            "who": {"identifier": {"system": URI, "value": REGISTER_URI}, "display": "register"},
            "requestor": False,
        }
        origin = {
            "type": {"coding": [_coding(PARTICIPATION, "AUT", "author (originator)")]},
            "who": {
                "identifier": {"system": INSTITUTION, "value": rec.entry.institution},
                "display": rec.entry.institution,
            },
            "requestor": False,
        }
        gateway = _gateway(_SOURCE_ROLE, True)
        purpose = _purpose(legal_basis, REGISTER)
        if purpose:
            gateway["purposeOfUse"] = purpose
        return [gateway, register, origin]
    basis = OFFICER if step.direction == "read" else rec.entry.institution
    return [
        _caller(rec, _SOURCE_ROLE, _purpose(legal_basis, basis)),
        _gateway(_DESTINATION_ROLE, False),
    ]


def _entity(system: str, value: str, kind: str, role: str) -> dict[str, Any]:
    return {
        "what": {"identifier": {"system": system, "value": value}},
        "type": _coding(ENTITY_TYPE, kind),
        "role": _coding(OBJECT_ROLE, role),
    }


def _entities(rec: Record) -> list[dict[str, Any]]:
    e = rec.entry
    out: list[dict[str, Any]] = []
    if e.receipt_id:
        out.append(_entity(RECEIPT, e.receipt_id, "2", "3"))  # system object, report
    if e.raw_sha256:
        out.append(_entity(RAW_SHA256, e.raw_sha256, "2", "4"))  # the message as received
    out += [_entity(URI, f"urn:uuid:{n}", "2", "4") for n in e.notification_ids]
    out += [_entity(CHILD, c, "1", "1") for c in e.children]  # person, patient
    if e.kind == "read":
        out.append(
            {
                "type": _coding(ENTITY_TYPE, "2"),
                "role": _coding(OBJECT_ROLE, "24"),  # query
                "description": e.detail,
                "query": base64.b64encode(e.detail.encode()).decode(),
            }
        )
    return out


def render(rec: Record, legal_basis: Mapping[str, str]) -> dict[str, Any]:
    """The AuditEvent of one record; its id is the record's chain hash, so it names the record
    and changes if the record does."""
    e = rec.entry
    step = STEPS.get(e.kind, _OTHER)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": rec.hash,
        "type": _coding(*step.type),
        "subtype": [
            _coding(LIFECYCLE, step.lifecycle),
            *([_coding(RESTFUL, "search-type")] if step.direction == "read" else []),
            _coding(STEP, e.kind),
        ],
        "action": step.action,
        "recorded": rec.at,
        "outcome": outcome_code(rec),
    }
    description = "; ".join(x for x in (e.outcome, e.detail) if x)
    if description:
        event["outcomeDesc"] = description
    purpose = _purpose(
        legal_basis,
        {"out": REGISTER, "read": OFFICER, "self": RETENTION}.get(step.direction, e.institution),
    )
    if purpose:
        event["purposeOfEvent"] = purpose
    event["agent"] = _agents(rec, legal_basis)
    event["source"] = {
        "site": "child-violence-notification-gateway",
        "observer": {"identifier": {"system": URI, "value": GATEWAY_URI}, "display": "gateway"},
        "type": [_coding(SOURCE_TYPE, "4", "Application Server")],
    }
    entities = _entities(rec)
    if entities:
        event["entity"] = entities
    return event
