"""The canonical profile: render a notification as a FHIR message Bundle, check it, read it back."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from gateway.codes import CANONICAL_BASE, CODE_SYSTEMS, INSTITUTIONS, PLACE_KINDS, SEXES
from gateway.errors import Problem
from gateway.facts import WARNING_CODES, Notification
from gateway.methodology import NAMESPACE

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

INSTITUTION_NAMES = {
    "mvr": "Ministry of Interior, police (МВР)",
    "prosecution": "Prosecutor's Office of the Republic of Bulgaria (Прокуратура)",
    "ozd": "Child Protection Departments (ОЗД)",
    "helpline": "National Child Helpline 116 111 (ДАЗД)",
    "schools": "Schools, Ministry of Education and Science (МОН)",
    "health": "Health facilities, National Health Information System (НЗИС)",
}

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
# A set element whose catch-all code never stands beside another code.
_ALONE = {"violence-form": "unspecified", "perpetrator-relationship": "unknown"}


def _rid(notification_id: str, kind: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{notification_id}|{kind}"))


def _coded(element: str, code: str) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": CS_ELEMENT, "code": element}]},
        "valueCodeableConcept": {"coding": [{"system": _CS + element, "code": code}]},
    }


# -- render ---------------------------------------------------------------------------------------


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


# -- flatten --------------------------------------------------------------------------------------


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _code(concept: Any) -> Any:
    """The code of a CodeableConcept's first coding, or None."""
    codings = _l(_d(concept).get("coding"))
    return _d(codings[0]).get("code") if codings else None


def _sub(extension: dict[str, Any], url: str) -> Any:
    """The value of the sub-extension `url` of a complex extension, or None."""
    for part in _l(extension.get("extension")):
        part = _d(part)
        if part.get("url") == url:
            return next((v for k, v in part.items() if k.startswith("value")), None)
    return None


def _resources(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The first resource of each type in the Bundle."""
    found: dict[str, dict[str, Any]] = {}
    for entry in _l(bundle.get("entry")):
        resource = _d(_d(entry).get("resource"))
        found.setdefault(str(resource.get("resourceType")), resource)
    return found


_FLAT = """notification_id case_key event institution incident_reference incident_date
    child_pseudonyms birth_date age age_band sex forms outcome attempted relationships setting
    case_stage place_kind ekatte region references source_codes warnings mapping_version adapter
    adapter_version raw_sha256 received_at"""
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
    flat["event"] = _d(header.get("eventCoding")).get("code")
    flat["incident_date"] = obs.get("effectiveDateTime")
    flat["birth_date"], flat["sex"] = patient.get("birthDate"), patient.get("gender")
    flat["received_at"] = prov.get("recorded")
    for ident in _l(org.get("identifier")):
        if _d(ident).get("system") == SID_INSTITUTION:
            flat["institution"] = ident.get("value")
    for ident in _l(obs.get("identifier")):
        system, value = _d(ident).get("system"), _d(ident).get("value")
        if system == SID_CASE_KEY:
            flat["case_key"] = value
        elif system == SID_INCIDENT_REFERENCE:
            flat["incident_reference"] = value
        elif isinstance(system, str) and system.startswith(SID_REFERENCE):
            flat["references"][system[len(SID_REFERENCE) :]] = value
    for ext in _l(obs.get("extension")):
        ext = _d(ext)
        if ext.get("url") == EXT_PLACE:
            flat["place_kind"] = _sub(ext, "kind")
            flat["ekatte"] = _sub(ext, "ekatte")
            flat["region"] = _sub(ext, "region")
        elif ext.get("url") == EXT_SOURCE_CODE:
            coding = _d(ext.get("valueCoding"))
            flat["source_codes"].append(
                {"system": coding.get("system"), "code": coding.get("code")}
            )
    for comp in _l(obs.get("component")):
        comp = _d(comp)
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
    for ident in _l(patient.get("identifier")):
        system = _d(ident).get("system")
        if isinstance(system, str) and system.startswith(SID_PSEUDONYM):
            key_id = system[len(SID_PSEUDONYM) :]
            flat["child_pseudonyms"].append({"key_id": key_id, "value": ident.get("value")})
    for ext in _l(patient.get("extension")):
        ext = _d(ext)
        if ext.get("url") == EXT_CHILD_AGE:
            flat["age"] = _d(ext.get("valueAge")).get("value")
        elif ext.get("url") == EXT_CHILD_AGE_BAND:
            flat["age_band"] = ext.get("valueString")
    for ext in _l(header.get("extension")):
        ext = _d(ext)
        if ext.get("url") == EXT_WARNING:
            flat["warnings"].append({"code": _sub(ext, "code"), "path": _sub(ext, "path")})
    for ext in _l(prov.get("extension")):
        if _d(ext).get("url") == EXT_MAPPING_VERSION:
            flat["mapping_version"] = ext.get("valueString")
    agents = _l(prov.get("agent"))
    for ext in _l(_d(agents[0]).get("extension") if agents else None):
        if _d(ext).get("url") == EXT_ADAPTER:
            flat["adapter"] = _sub(ext, "name")
            flat["adapter_version"] = _sub(ext, "version")
    for entity in _l(prov.get("entity")):
        ident = _d(_d(_d(entity).get("what")).get("identifier"))
        if ident.get("system") == SID_RAW_SHA256:
            flat["raw_sha256"] = ident.get("value")
    return flat


# -- validate -------------------------------------------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)")
_DATE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_PARTIAL_DATE = re.compile(r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?")
_EKATTE = re.compile(r"\d{5}")
_REGION = re.compile(r"BG-(0[1-9]|1\d|2[0-8])")
_AGE_BAND = re.compile(r"\d{1,3}-\d{1,3}")

# Top-level elements each resource may carry; anything else is not allowed by the profile.
_ALLOWED = {
    "Bundle": {"resourceType", "id", "meta", "type", "timestamp", "entry"},
    "MessageHeader": {"resourceType", "id", "meta", "extension", "eventCoding", "destination"}
    | {"sender", "source", "focus"},
    "Organization": {"resourceType", "id", "meta", "identifier", "name"},
    "Observation": {"resourceType", "id", "meta", "extension", "status", "code", "identifier"}
    | {"subject", "effectiveDateTime", "component"},
    "Patient": {"resourceType", "id", "meta", "extension", "identifier", "gender", "birthDate"},
    "Provenance": {"resourceType", "id", "meta", "extension", "target", "recorded", "agent"}
    | {"entity"},
}
_CANCEL_OBSERVATION = {"resourceType", "id", "meta", "status", "code", "identifier"}


class _Checker:
    """Collects the problems of one Bundle; `urls` maps each entry's fullUrl to its type."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.urls: dict[str, str] = {}

    def add(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def only(self, path: str, resource: dict[str, Any], allowed: set[str]) -> None:
        for key in resource:
            if key not in allowed:
                self.add(f"{path}.{key}", "format", f"{key} is not allowed by the profile")

    def text(self, path: str, value: Any, pattern: re.Pattern[str] | None = None) -> bool:
        """A required non-empty string, matching `pattern` when given."""
        if value is None or value == "":
            self.add(path, "required", "required")
        elif not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            self.add(path, "format", "wrong format" if pattern else "must be a string")
        else:
            return True
        return False

    def fixed(self, path: str, value: Any, expected: str) -> None:
        if value is None:
            self.add(path, "required", f"required, must be {expected!r}")
        elif value != expected:
            self.add(path, "closed-list", f"must be {expected!r}")

    def code(self, path: str, value: Any, allowed: Any, name: str) -> bool:
        if value is None:
            self.add(path, "required", f"required ({name})")
        elif value not in allowed:
            self.add(path, "closed-list", f"not a code of {name}")
        else:
            return True
        return False

    def ref(self, path: str, value: Any, target: str) -> None:
        reference = _d(value).get("reference")
        if reference is None:
            self.add(path, "required", f"a reference to the {target} entry is required")
        elif self.urls.get(reference) != target:
            self.add(path, "format", f"must reference the {target} entry of the Bundle")

    def count(self, path: str, items: list[Any], low: int, high: int, what: str) -> None:
        if len(items) < low:
            self.add(path, "required", f"{what}: at least {low} required")
        elif len(items) > high:
            self.add(path, "format", f"{what}: at most {high} allowed")


def validate(bundle: dict[str, Any]) -> list[Problem]:
    """Check the profile's rules on a Bundle as plain dicts; [] when it conforms."""
    c = _Checker()
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return [Problem("Bundle", "format", "not a Bundle")]
    c.only("Bundle", bundle, _ALLOWED["Bundle"])
    c.fixed("Bundle.type", bundle.get("type"), "message")
    nid = bundle.get("id")
    c.text("Bundle.id", nid, _UUID)
    if PROFILE_BUNDLE not in _l(_d(bundle.get("meta")).get("profile")):
        c.add("Bundle.meta.profile", "required", f"must list {PROFILE_BUNDLE}")
    c.text("Bundle.timestamp", bundle.get("timestamp"), _INSTANT)

    found: dict[str, list[tuple[str, dict[str, Any]]]] = {t: [] for t in _ALLOWED if t != "Bundle"}
    for i, entry in enumerate(_l(bundle.get("entry"))):
        path, entry = f"Bundle.entry[{i}]", _d(entry)
        c.only(path, entry, {"fullUrl", "resource"})
        resource = _d(entry.get("resource"))
        kind = resource.get("resourceType")
        if kind not in found:
            c.add(f"{path}.resource", "closed-list", "resource type not allowed in the message")
            continue
        found[kind].append((f"{path}.resource", resource))
        if c.text(f"{path}.resource.id", resource.get("id"), _UUID):
            url = f"urn:uuid:{resource['id']}"
            if entry.get("fullUrl") != url:
                c.add(f"{path}.fullUrl", "format", "must be urn:uuid: and the resource id")
            c.urls[url] = kind

    entries = _l(bundle.get("entry"))
    first = _d(_d(entries[0]).get("resource")) if entries else {}
    if first.get("resourceType") != "MessageHeader":
        c.add("Bundle.entry[0]", "required", "the first entry must be the MessageHeader")
        return c.problems
    event = _d(first.get("eventCoding")).get("code")
    expected = {"MessageHeader": 1, "Organization": 1, "Observation": 1, "Provenance": 1}
    expected["Patient"] = 0 if event == "cancel" else 1
    for kind, n in expected.items():
        if len(found[kind]) < n:
            c.add("Bundle.entry", "required", f"a {kind} entry is required")
        for path, _ in found[kind][n:]:
            c.add(path, "format", f"{'no' if n == 0 else 'only one'} {kind} entry allowed")

    _header(c, "Bundle.entry[0].resource", first, nid)
    institution = None
    for path, resource in found["Organization"][:1]:
        institution = _organization(c, path, resource)
    for path, resource in found["Observation"][:1]:
        _observation(c, path, resource, event, institution)
    for path, resource in found["Patient"][:1]:
        _patient(c, path, resource)
    for path, resource in found["Provenance"][:1]:
        _provenance(c, path, resource)
    return c.problems


def _header(c: _Checker, path: str, header: dict[str, Any], nid: Any) -> None:
    c.only(path, header, _ALLOWED["MessageHeader"])
    if header.get("id") != nid:
        c.add(f"{path}.id", "conflict", "the MessageHeader id must be the notification id")
    coding = _d(header.get("eventCoding"))
    c.fixed(f"{path}.eventCoding.system", coding.get("system"), CS_EVENT)
    c.code(
        f"{path}.eventCoding.code",
        coding.get("code"),
        CODE_SYSTEMS["notification-event"],
        "notification-event",
    )
    source = _d(header.get("source"))
    c.fixed(f"{path}.source.name", source.get("name"), GATEWAY_NAME)
    c.fixed(f"{path}.source.endpoint", source.get("endpoint"), GATEWAY_ENDPOINT)
    destinations = _l(header.get("destination"))
    c.count(f"{path}.destination", destinations, 1, 1, "destination")
    for i, destination in enumerate(destinations[:1]):
        endpoint = _d(destination).get("endpoint")
        c.fixed(f"{path}.destination[{i}].endpoint", endpoint, REGISTER_ENDPOINT)
    c.ref(f"{path}.sender", header.get("sender"), "Organization")
    focus = _l(header.get("focus"))
    c.count(f"{path}.focus", focus, 1, 1, "focus")
    for i, ref in enumerate(focus[:1]):
        c.ref(f"{path}.focus[{i}]", ref, "Observation")
    for i, ext in enumerate(_l(header.get("extension"))):
        ext, at = _d(ext), f"{path}.extension[{i}]"
        if ext.get("url") != EXT_WARNING:
            c.add(at, "format", "extension not allowed by the profile")
            continue
        for j, part in enumerate(_l(ext.get("extension"))):
            if _d(part).get("url") not in ("code", "path"):
                c.add(f"{at}.extension[{j}]", "format", "sub-extension not allowed")
        c.code(f"{at}.extension('code').valueCode", _sub(ext, "code"), WARNING_CODES, "warnings")
        warning_path = _sub(ext, "path")
        if warning_path is not None:
            c.text(f"{at}.extension('path').valueString", warning_path)


def _organization(c: _Checker, path: str, org: dict[str, Any]) -> Any:
    c.only(path, org, _ALLOWED["Organization"])
    identifiers = _l(org.get("identifier"))
    c.count(f"{path}.identifier", identifiers, 1, 1, "institution identifier")
    c.text(f"{path}.name", org.get("name"))
    if not identifiers:
        return None
    ident = _d(identifiers[0])
    c.fixed(f"{path}.identifier[0].system", ident.get("system"), SID_INSTITUTION)
    slug = ident.get("value")
    return (
        slug if c.code(f"{path}.identifier[0].value", slug, INSTITUTIONS, "institutions") else None
    )


def _observation(c: _Checker, path: str, obs: dict[str, Any], event: Any, institution: Any) -> None:
    cancel = event == "cancel"
    c.only(path, obs, _CANCEL_OBSERVATION if cancel else _ALLOWED["Observation"])
    c.fixed(f"{path}.status", obs.get("status"), "cancelled" if cancel else "final")
    codings = _l(_d(obs.get("code")).get("coding"))
    if not any(
        _d(x).get("system") == CS_TYPE and _d(x).get("code") == CASE_NOTIFICATION_TYPE
        for x in codings
    ):
        c.add(f"{path}.code", "required", f"must carry {CS_TYPE}#{CASE_NOTIFICATION_TYPE}")

    seen = {SID_CASE_KEY: 0, SID_INCIDENT_REFERENCE: 0}
    for i, ident in enumerate(_l(obs.get("identifier"))):
        at, ident = f"{path}.identifier[{i}]", _d(ident)
        system, value = ident.get("system"), ident.get("value")
        if system in seen:
            seen[system] += 1
            prefix = f"{institution}:"
            if (
                c.text(f"{at}.value", value)
                and system == SID_INCIDENT_REFERENCE
                and institution
                and (not str(value).startswith(prefix) or value == prefix)
            ):
                c.add(f"{at}.value", "format", "must be <institution slug>:<record key>")
        elif isinstance(system, str) and system.startswith(SID_REFERENCE) and not cancel:
            c.code(f"{at}.system", system[len(SID_REFERENCE) :], INSTITUTIONS, "institutions")
            c.text(f"{at}.value", value)
        else:
            c.add(at, "format", "identifier not allowed by the profile")
    for system, n in seen.items():
        if n != 1:
            c.add(
                f"{path}.identifier",
                "required" if n == 0 else "format",
                f"exactly one {system} identifier",
            )
    if cancel:
        return

    c.ref(f"{path}.subject", obs.get("subject"), "Patient")
    c.text(f"{path}.effectiveDateTime", obs.get("effectiveDateTime"), _DATE)
    values: dict[str, list[tuple[str, Any]]] = {element: [] for element in COMPONENTS}
    for i, comp in enumerate(_l(obs.get("component"))):
        at, comp = f"{path}.component[{i}]", _d(comp)
        coding = _d((_l(_d(comp.get("code")).get("coding")) or [None])[0])
        c.fixed(f"{at}.code.coding[0].system", coding.get("system"), CS_ELEMENT)
        element = coding.get("code")
        if not c.code(f"{at}.code.coding[0].code", element, COMPONENTS, "notification-element"):
            continue
        element = str(element)
        if element == "attempted":
            if not isinstance(comp.get("valueBoolean"), bool):
                c.add(f"{at}.valueBoolean", "required", "attempted needs a valueBoolean")
            values[element].append((at, True))
            continue
        codings = _l(_d(comp.get("valueCodeableConcept")).get("coding"))
        c.count(f"{at}.valueCodeableConcept.coding", codings, 1, 1, element)
        coding = _d(codings[0]) if codings else {}
        c.fixed(f"{at}.valueCodeableConcept.coding[0].system", coding.get("system"), _CS + element)
        code = coding.get("code")
        if c.code(
            f"{at}.valueCodeableConcept.coding[0].code", code, CODE_SYSTEMS[element], element
        ):
            values[element].append((at, code))
    for element, (low, high) in COMPONENTS.items():
        c.count(f"{path}.component", values[element], low, high, element)
    for element, alone in _ALONE.items():
        codes = [code for _, code in values[element]]
        order = CODE_SYSTEMS[element]
        if codes != sorted(set(codes), key=order.index):
            c.add(f"{path}.component", "format", f"{element}: repeated or not in §7 order")
        if alone in codes and len(codes) > 1:
            c.add(f"{path}.component", "conflict", f"{element} {alone!r} must stand alone")

    places = 0
    for i, ext in enumerate(_l(obs.get("extension"))):
        at, ext = f"{path}.extension[{i}]", _d(ext)
        if ext.get("url") == EXT_SOURCE_CODE:
            coding = _d(ext.get("valueCoding"))
            c.text(f"{at}.valueCoding.system", coding.get("system"))
            c.text(f"{at}.valueCoding.code", coding.get("code"))
        elif ext.get("url") == EXT_PLACE:
            places += 1
            _place(c, at, ext)
        else:
            c.add(at, "format", "extension not allowed by the profile")
    if places > 1:
        c.add(f"{path}.extension", "format", "at most one place")


def _place(c: _Checker, at: str, ext: dict[str, Any]) -> None:
    for j, part in enumerate(_l(ext.get("extension"))):
        if _d(part).get("url") not in ("kind", "ekatte", "region"):
            c.add(f"{at}.extension[{j}]", "format", "sub-extension not allowed")
    c.code(f"{at}.extension('kind').valueCode", _sub(ext, "kind"), PLACE_KINDS, "place kinds")
    ekatte, region = _sub(ext, "ekatte"), _sub(ext, "region")
    if ekatte is None and region is None:
        c.add(at, "required", "a place needs an EKATTE code, a region or both")
    if ekatte is not None:
        c.text(f"{at}.extension('ekatte').valueCode", ekatte, _EKATTE)
    if region is not None:
        c.text(f"{at}.extension('region').valueCode", region, _REGION)


def _patient(c: _Checker, path: str, patient: dict[str, Any]) -> None:
    c.only(path, patient, _ALLOWED["Patient"])
    c.code(f"{path}.gender", patient.get("gender"), SEXES, "administrative-gender")
    identifiers = _l(patient.get("identifier"))
    c.count(f"{path}.identifier", identifiers, 0, 2, "pseudonyms")
    key_ids: set[str] = set()
    for i, ident in enumerate(identifiers):
        at, ident = f"{path}.identifier[{i}]", _d(ident)
        system = ident.get("system")
        c.only(at, ident, {"system", "value"})
        if not (
            isinstance(system, str)
            and len(system) > len(SID_PSEUDONYM)
            and system.startswith(SID_PSEUDONYM)
        ):
            c.add(f"{at}.system", "format", "only child pseudonyms are allowed")
            continue
        if system in key_ids:
            c.add(f"{at}.system", "conflict", "two pseudonyms under one key")
        key_ids.add(system)
        c.text(f"{at}.value", ident.get("value"), _HEX64)
    ages = 0
    if "birthDate" in patient:
        ages += 1
        c.text(f"{path}.birthDate", patient["birthDate"], _PARTIAL_DATE)
    for i, ext in enumerate(_l(patient.get("extension"))):
        at, ext = f"{path}.extension[{i}]", _d(ext)
        if ext.get("url") == EXT_CHILD_AGE:
            ages += 1
            age = _d(ext.get("valueAge"))
            value = age.get("value")
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                c.add(f"{at}.valueAge.value", "format", "whole years, 0 or more")
            c.fixed(f"{at}.valueAge.system", age.get("system"), UCUM)
            c.fixed(f"{at}.valueAge.code", age.get("code"), "a")
        elif ext.get("url") == EXT_CHILD_AGE_BAND:
            ages += 1
            c.text(f"{at}.valueString", ext.get("valueString"), _AGE_BAND)
        else:
            c.add(at, "format", "extension not allowed by the profile")
    if ages > 1:
        c.add(path, "conflict", "at most one of birthDate, child-age and child-age-band")


def _provenance(c: _Checker, path: str, prov: dict[str, Any]) -> None:
    c.only(path, prov, _ALLOWED["Provenance"])
    targets = _l(prov.get("target"))
    c.count(f"{path}.target", targets, 1, 1, "target")
    for i, target in enumerate(targets[:1]):
        c.ref(f"{path}.target[{i}]", target, "Observation")
    c.text(f"{path}.recorded", prov.get("recorded"), _INSTANT)
    versions = 0
    for i, ext in enumerate(_l(prov.get("extension"))):
        at, ext = f"{path}.extension[{i}]", _d(ext)
        if ext.get("url") == EXT_MAPPING_VERSION:
            versions += 1
            c.text(f"{at}.valueString", ext.get("valueString"))
        else:
            c.add(at, "format", "extension not allowed by the profile")
    c.count(f"{path}.extension", [None] * versions, 1, 1, "mapping-version")
    agents = _l(prov.get("agent"))
    c.count(f"{path}.agent", agents, 1, 1, "agent")
    for i, agent in enumerate(agents[:1]):
        at, agent = f"{path}.agent[{i}]", _d(agent)
        adapters = [e for e in _l(agent.get("extension")) if _d(e).get("url") == EXT_ADAPTER]
        c.count(f"{at}.extension", adapters, 1, 1, "adapter")
        for ext in adapters[:1]:
            c.text(f"{at}.extension('adapter').extension('name')", _sub(ext, "name"))
            c.text(f"{at}.extension('adapter').extension('version')", _sub(ext, "version"))
        c.fixed(f"{at}.who.display", _d(agent.get("who")).get("display"), GATEWAY_NAME)
        c.ref(f"{at}.onBehalfOf", agent.get("onBehalfOf"), "Organization")
    entities = _l(prov.get("entity"))
    c.count(f"{path}.entity", entities, 1, 1, "source entity")
    for i, entity in enumerate(entities[:1]):
        at, entity = f"{path}.entity[{i}]", _d(entity)
        c.fixed(f"{at}.role", entity.get("role"), "source")
        ident = _d(_d(entity.get("what")).get("identifier"))
        c.fixed(f"{at}.what.identifier.system", ident.get("system"), SID_RAW_SHA256)
        c.text(f"{at}.what.identifier.value", ident.get("value"), _HEX64)
