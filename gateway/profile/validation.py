"""Check the profile's rules on a Bundle: its shape and entries, the MessageHeader, the
Organization and the Provenance; the case itself is checked by `case_rules`."""

from __future__ import annotations

from typing import Any

from gateway.codes import CODE_SYSTEMS, INSTITUTIONS
from gateway.errors import Problem
from gateway.facts import WARNING_CODES
from gateway.profile.case_rules import check_observation, check_patient
from gateway.profile.checker import ALLOWED, HEX64, INSTANT, UUID, Checker, member
from gateway.profile.dicts import as_dict, as_list, sub_value
from gateway.profile.urls import (
    CS_EVENT,
    EXT_ADAPTER,
    EXT_MAPPING_VERSION,
    EXT_WARNING,
    GATEWAY_ENDPOINT,
    GATEWAY_NAME,
    PROFILE_BUNDLE,
    REGISTER_ENDPOINT,
    SID_INSTITUTION,
    SID_RAW_SHA256,
)


def validate(bundle: dict[str, Any]) -> list[Problem]:
    """Check the profile's rules on a Bundle as plain dicts; [] when it conforms. Never raises:
    a value of the wrong JSON type anywhere is one more located problem."""
    c = Checker()
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return [Problem("Bundle", "format", "not a Bundle")]
    c.only("Bundle", bundle, ALLOWED["Bundle"])
    c.fixed("Bundle.type", bundle.get("type"), "message")
    nid = bundle.get("id")
    c.text("Bundle.id", nid, UUID)
    if PROFILE_BUNDLE not in as_list(as_dict(bundle.get("meta")).get("profile")):
        c.add("Bundle.meta.profile", "required", f"must list {PROFILE_BUNDLE}")
    c.text("Bundle.timestamp", bundle.get("timestamp"), INSTANT)

    found: dict[str, list[tuple[str, dict[str, Any]]]] = {t: [] for t in ALLOWED if t != "Bundle"}
    for i, entry in enumerate(as_list(bundle.get("entry"))):
        path, entry = f"Bundle.entry[{i}]", as_dict(entry)
        c.only(path, entry, {"fullUrl", "resource"})
        resource = as_dict(entry.get("resource"))
        kind = resource.get("resourceType")
        if member(kind, found) is None:
            c.add(f"{path}.resource.resourceType", "format", "must be a resource type name")
            continue
        if kind not in found:
            c.add(f"{path}.resource", "closed-list", "resource type not allowed in the message")
            continue
        found[kind].append((f"{path}.resource", resource))
        if c.text(f"{path}.resource.id", resource.get("id"), UUID):
            url = f"urn:uuid:{resource['id']}"
            if entry.get("fullUrl") != url:
                c.add(f"{path}.fullUrl", "format", "must be urn:uuid: and the resource id")
            c.urls[url] = kind

    entries = as_list(bundle.get("entry"))
    first = as_dict(as_dict(entries[0]).get("resource")) if entries else {}
    if first.get("resourceType") != "MessageHeader":
        c.add("Bundle.entry[0]", "required", "the first entry must be the MessageHeader")
        return c.problems
    event = as_dict(first.get("eventCoding")).get("code")
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
        check_observation(c, path, resource, event, institution)
    for path, resource in found["Patient"][:1]:
        check_patient(c, path, resource)
    for path, resource in found["Provenance"][:1]:
        _provenance(c, path, resource)
    return c.problems


def _header(c: Checker, path: str, header: dict[str, Any], nid: Any) -> None:
    c.only(path, header, ALLOWED["MessageHeader"])
    if header.get("id") != nid:
        c.add(f"{path}.id", "conflict", "the MessageHeader id must be the notification id")
    coding = as_dict(header.get("eventCoding"))
    c.fixed(f"{path}.eventCoding.system", coding.get("system"), CS_EVENT)
    c.code(
        f"{path}.eventCoding.code",
        coding.get("code"),
        CODE_SYSTEMS["notification-event"],
        "notification-event",
    )
    source = as_dict(header.get("source"))
    c.fixed(f"{path}.source.name", source.get("name"), GATEWAY_NAME)
    c.fixed(f"{path}.source.endpoint", source.get("endpoint"), GATEWAY_ENDPOINT)
    destinations = as_list(header.get("destination"))
    c.count(f"{path}.destination", destinations, 1, 1, "destination")
    for i, destination in enumerate(destinations[:1]):
        endpoint = as_dict(destination).get("endpoint")
        c.fixed(f"{path}.destination[{i}].endpoint", endpoint, REGISTER_ENDPOINT)
    c.ref(f"{path}.sender", header.get("sender"), "Organization")
    focus = as_list(header.get("focus"))
    c.count(f"{path}.focus", focus, 1, 1, "focus")
    for i, ref in enumerate(focus[:1]):
        c.ref(f"{path}.focus[{i}]", ref, "Observation")
    for i, ext in enumerate(as_list(header.get("extension"))):
        ext, at = as_dict(ext), f"{path}.extension[{i}]"
        if ext.get("url") != EXT_WARNING:
            c.add(at, "format", "extension not allowed by the profile")
            continue
        for j, part in enumerate(as_list(ext.get("extension"))):
            if as_dict(part).get("url") not in ("code", "path"):
                c.add(f"{at}.extension[{j}]", "format", "sub-extension not allowed")
        c.code(
            f"{at}.extension('code').valueCode", sub_value(ext, "code"), WARNING_CODES, "warnings"
        )
        warning_path = sub_value(ext, "path")
        if warning_path is not None:
            c.text(f"{at}.extension('path').valueString", warning_path)


def _organization(c: Checker, path: str, org: dict[str, Any]) -> Any:
    c.only(path, org, ALLOWED["Organization"])
    identifiers = as_list(org.get("identifier"))
    c.count(f"{path}.identifier", identifiers, 1, 1, "institution identifier")
    c.text(f"{path}.name", org.get("name"))
    if not identifiers:
        return None
    ident = as_dict(identifiers[0])
    c.fixed(f"{path}.identifier[0].system", ident.get("system"), SID_INSTITUTION)
    slug = ident.get("value")
    return (
        slug if c.code(f"{path}.identifier[0].value", slug, INSTITUTIONS, "institutions") else None
    )


def _provenance(c: Checker, path: str, prov: dict[str, Any]) -> None:
    c.only(path, prov, ALLOWED["Provenance"])
    targets = as_list(prov.get("target"))
    c.count(f"{path}.target", targets, 1, 1, "target")
    for i, target in enumerate(targets[:1]):
        c.ref(f"{path}.target[{i}]", target, "Observation")
    c.text(f"{path}.recorded", prov.get("recorded"), INSTANT)
    versions = 0
    for i, ext in enumerate(as_list(prov.get("extension"))):
        at, ext = f"{path}.extension[{i}]", as_dict(ext)
        if ext.get("url") == EXT_MAPPING_VERSION:
            versions += 1
            c.text(f"{at}.valueString", ext.get("valueString"))
        else:
            c.add(at, "format", "extension not allowed by the profile")
    c.count(f"{path}.extension", [None] * versions, 1, 1, "mapping-version")
    agents = as_list(prov.get("agent"))
    c.count(f"{path}.agent", agents, 1, 1, "agent")
    for i, agent in enumerate(agents[:1]):
        at, agent = f"{path}.agent[{i}]", as_dict(agent)
        adapters = [
            e for e in as_list(agent.get("extension")) if as_dict(e).get("url") == EXT_ADAPTER
        ]
        c.count(f"{at}.extension", adapters, 1, 1, "adapter")
        for ext in adapters[:1]:
            c.text(f"{at}.extension('adapter').extension('name')", sub_value(ext, "name"))
            c.text(f"{at}.extension('adapter').extension('version')", sub_value(ext, "version"))
        c.fixed(f"{at}.who.display", as_dict(agent.get("who")).get("display"), GATEWAY_NAME)
        c.ref(f"{at}.onBehalfOf", agent.get("onBehalfOf"), "Organization")
    entities = as_list(prov.get("entity"))
    c.count(f"{path}.entity", entities, 1, 1, "source entity")
    for i, entity in enumerate(entities[:1]):
        at, entity = f"{path}.entity[{i}]", as_dict(entity)
        c.fixed(f"{at}.role", entity.get("role"), "source")
        ident = as_dict(as_dict(entity.get("what")).get("identifier"))
        c.fixed(f"{at}.what.identifier.system", ident.get("system"), SID_RAW_SHA256)
        c.text(f"{at}.what.identifier.value", ident.get("value"), HEX64)
