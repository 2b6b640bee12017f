"""An audit record as a FHIR R4 `AuditEvent`, after IHE Basic Audit Log Patterns (BALP).

Intake steps are *imports* at the gateway (DICOM 110107, the institution the source, the gateway
the destination), the forwarder's steps are *exports* to the register (110106, BALP's privacy
disclosure at the source), and a read of the audit is a RESTful query (`rest`). ISO 21089
lifecycle codes and the gateway's own step code refine each. Entities are identifiers only:
receipt, notifications, the raw message's digest, and the child as the gateway's internal
pseudonym; never a personal number or a name. The purpose of use is the legal basis configured
for the institution (or for the register, or for the officer's reads).

An exported event also carries its evidence in two extensions (`with_evidence`): the record's
canonical bytes (the chain hash and the RFC 6962 leaf are over them) and, against a signed
checkpoint, the leaf's inclusion proof. `offline` re-renders the event from those bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.audit.chain import Record
from gateway.codes import CANONICAL_BASE
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


def basis_key(rec: Record) -> str:
    """Whose legal basis is the event's purpose: the register's, the officer's, the gateway's
    own (retention), or the institution's."""
    direction = STEPS.get(rec.entry.kind, _OTHER).direction
    return {"out": REGISTER, "read": OFFICER, "self": RETENTION}.get(
        direction, rec.entry.institution
    )


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
    purpose = _purpose(legal_basis, basis_key(rec))
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


# -- evidence: what lets an inspector check an exported event offline -----------------------

EXT_RECORD = f"{CANONICAL_BASE}/StructureDefinition/audit-record"
EXT_INCLUSION = f"{CANONICAL_BASE}/StructureDefinition/audit-inclusion-proof"
EVIDENCE = frozenset({EXT_RECORD, EXT_INCLUSION})


@dataclass(frozen=True, slots=True)
class Inclusion:
    """RFC 6962 PATH(leaf_index, D[tree_size]), bottom-up: the leaf is in the signed tree."""

    tree_size: int
    leaf_index: int
    path: tuple[bytes, ...]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def with_evidence(event: dict[str, Any], rec: Record, proof: Inclusion | None) -> dict[str, Any]:
    """`event` with the record's canonical bytes and (when exported against a checkpoint) its
    inclusion proof as extensions; the readable content is left exactly as rendered."""
    extensions: list[dict[str, Any]] = [
        {"url": EXT_RECORD, "valueBase64Binary": _b64(rec.canonical())}
    ]
    if proof is not None:
        parts: list[dict[str, Any]] = [
            {"url": "tree-size", "valueInteger": proof.tree_size},
            {"url": "leaf-index", "valueInteger": proof.leaf_index},
            *({"url": "path", "valueBase64Binary": _b64(h)} for h in proof.path),
        ]
        extensions.append({"url": EXT_INCLUSION, "extension": parts})
    rest = {k: v for k, v in event.items() if k not in ("resourceType", "id")}
    return {
        "resourceType": event["resourceType"],
        "id": event["id"],
        "extension": extensions,
        **rest,
    }


def without_evidence(event: Mapping[str, Any]) -> dict[str, Any]:
    """The readable part: `event` less the evidence extensions (what `render` produces)."""
    out = dict(event)
    rest = [
        x
        for x in out.pop("extension", [])
        if not (isinstance(x, dict) and x.get("url") in EVIDENCE)
    ]
    if rest:
        out["extension"] = rest
    return out


class EvidenceError(ValueError):
    """An event whose evidence extensions are missing or malformed."""


def evidence(event: Mapping[str, Any]) -> tuple[bytes, Inclusion | None]:
    """The record bytes and the inclusion proof (None when the export had no checkpoint)."""
    listed = event.get("extension", [])
    if not isinstance(listed, list):
        raise EvidenceError("it carries no record bytes")
    found = {x.get("url"): x for x in listed if isinstance(x, dict)}
    record = found.get(EXT_RECORD, {}).get("valueBase64Binary")
    if not isinstance(record, str):
        raise EvidenceError("it carries no record bytes")
    try:
        raw = base64.b64decode(record, validate=True)
        inclusion = found.get(EXT_INCLUSION)
        if inclusion is None:
            return raw, None
        parts = inclusion["extension"]
        values = {p["url"]: p for p in parts if p["url"] in ("tree-size", "leaf-index")}
        path = tuple(
            base64.b64decode(p["valueBase64Binary"], validate=True)
            for p in parts
            if p["url"] == "path"
        )
        size, index = values["tree-size"]["valueInteger"], values["leaf-index"]["valueInteger"]
    except (ValueError, KeyError, TypeError) as exc:  # binascii.Error is a ValueError
        raise EvidenceError("its record bytes or its inclusion proof are malformed") from exc
    if not isinstance(size, int) or not isinstance(index, int) or any(len(h) != 32 for h in path):
        raise EvidenceError("its inclusion proof is malformed")
    return raw, Inclusion(size, index, path)
