"""Check the profile's rules on the case itself: the Observation (identifiers, components,
place) and the Patient (pseudonyms, sex, age)."""

from __future__ import annotations

from typing import Any

from gateway.codes import CODE_SYSTEMS, INSTITUTIONS, PLACE_KINDS, SEXES, code_system
from gateway.profile.checker import (
    AGE_BAND,
    ALLOWED,
    DATE,
    EKATTE,
    HEX64,
    PARTIAL_DATE,
    REGION,
    Checker,
)
from gateway.profile.dicts import as_dict, as_list, sub_value
from gateway.profile.rendering import EXT_SOURCE_EVENT_DATE
from gateway.profile.urls import (
    CASE_NOTIFICATION_TYPE,
    COMPONENTS,
    CS_ELEMENT,
    CS_TYPE,
    EXT_CHILD_AGE,
    EXT_CHILD_AGE_BAND,
    EXT_PLACE,
    EXT_SOURCE_CODE,
    SID_CASE_KEY,
    SID_INCIDENT_REFERENCE,
    SID_PSEUDONYM,
    SID_REFERENCE,
    UCUM,
)

# A set element whose catch-all code never stands beside another code.
_ALONE = {"violence-form": "unspecified", "perpetrator-relationship": "unknown"}
_CANCEL_OBSERVATION = {"resourceType", "id", "meta", "status", "code", "identifier"}


def check_observation(
    c: Checker, path: str, obs: dict[str, Any], event: Any, institution: Any
) -> None:
    cancel = event == "cancel"
    c.only(path, obs, _CANCEL_OBSERVATION if cancel else ALLOWED["Observation"])
    c.fixed(f"{path}.status", obs.get("status"), "cancelled" if cancel else "final")
    codings = as_list(as_dict(obs.get("code")).get("coding"))
    if not any(
        as_dict(x).get("system") == CS_TYPE and as_dict(x).get("code") == CASE_NOTIFICATION_TYPE
        for x in codings
    ):
        c.add(f"{path}.code", "required", f"must carry {CS_TYPE}#{CASE_NOTIFICATION_TYPE}")

    seen = {SID_CASE_KEY: 0, SID_INCIDENT_REFERENCE: 0}
    for i, ident in enumerate(as_list(obs.get("identifier"))):
        at, ident = f"{path}.identifier[{i}]", as_dict(ident)
        system, value = ident.get("system"), ident.get("value")
        if isinstance(system, str) and system in seen:
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
    c.text(f"{path}.effectiveDateTime", obs.get("effectiveDateTime"), DATE)
    values: dict[str, list[tuple[str, Any]]] = {element: [] for element in COMPONENTS}
    for i, comp in enumerate(as_list(obs.get("component"))):
        at, comp = f"{path}.component[{i}]", as_dict(comp)
        coding = as_dict((as_list(as_dict(comp.get("code")).get("coding")) or [None])[0])
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
        codings = as_list(as_dict(comp.get("valueCodeableConcept")).get("coding"))
        c.count(f"{at}.valueCodeableConcept.coding", codings, 1, 1, element)
        coding = as_dict(codings[0]) if codings else {}
        c.fixed(
            f"{at}.valueCodeableConcept.coding[0].system",
            coding.get("system"),
            code_system(element),
        )
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

    places = event_dates = 0
    for i, ext in enumerate(as_list(obs.get("extension"))):
        at, ext = f"{path}.extension[{i}]", as_dict(ext)
        if ext.get("url") == EXT_SOURCE_CODE:
            coding = as_dict(ext.get("valueCoding"))
            c.text(f"{at}.valueCoding.system", coding.get("system"))
            c.text(f"{at}.valueCoding.code", coding.get("code"))
        elif ext.get("url") == EXT_PLACE:
            places += 1
            _place(c, at, ext)
        elif ext.get("url") == EXT_SOURCE_EVENT_DATE:
            event_dates += 1
            c.only(at, ext, {"url", "valueDate"})
            c.text(f"{at}.valueDate", ext.get("valueDate"), DATE)
        else:
            c.add(at, "format", "extension not allowed by the profile")
    if places > 1:
        c.add(f"{path}.extension", "format", "at most one place")
    if event_dates > 1:
        c.add(f"{path}.extension", "format", "at most one source event date")


def _place(c: Checker, at: str, ext: dict[str, Any]) -> None:
    for j, part in enumerate(as_list(ext.get("extension"))):
        if as_dict(part).get("url") not in ("kind", "ekatte", "region"):
            c.add(f"{at}.extension[{j}]", "format", "sub-extension not allowed")
    c.code(f"{at}.extension('kind').valueCode", sub_value(ext, "kind"), PLACE_KINDS, "place kinds")
    ekatte, region = sub_value(ext, "ekatte"), sub_value(ext, "region")
    if ekatte is None and region is None:
        c.add(at, "required", "a place needs an EKATTE code, a region or both")
    if ekatte is not None:
        c.text(f"{at}.extension('ekatte').valueCode", ekatte, EKATTE)
    if region is not None:
        c.text(f"{at}.extension('region').valueCode", region, REGION)


def check_patient(c: Checker, path: str, patient: dict[str, Any]) -> None:
    c.only(path, patient, ALLOWED["Patient"])
    c.code(f"{path}.gender", patient.get("gender"), SEXES, "administrative-gender")
    identifiers = as_list(patient.get("identifier"))
    c.count(f"{path}.identifier", identifiers, 0, 2, "pseudonyms")
    key_ids: set[str] = set()
    for i, ident in enumerate(identifiers):
        at, ident = f"{path}.identifier[{i}]", as_dict(ident)
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
        c.text(f"{at}.value", ident.get("value"), HEX64)
    ages = 0
    if "birthDate" in patient:
        ages += 1
        c.text(f"{path}.birthDate", patient["birthDate"], PARTIAL_DATE)
    for i, ext in enumerate(as_list(patient.get("extension"))):
        at, ext = f"{path}.extension[{i}]", as_dict(ext)
        if ext.get("url") == EXT_CHILD_AGE:
            ages += 1
            age = as_dict(ext.get("valueAge"))
            value = age.get("value")
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                c.add(f"{at}.valueAge.value", "format", "whole years, 0 or more")
            c.fixed(f"{at}.valueAge.system", age.get("system"), UCUM)
            c.fixed(f"{at}.valueAge.code", age.get("code"), "a")
        elif ext.get("url") == EXT_CHILD_AGE_BAND:
            ages += 1
            c.text(f"{at}.valueString", ext.get("valueString"), AGE_BAND)
        else:
            c.add(at, "format", "extension not allowed by the profile")
    if ages > 1:
        c.add(path, "conflict", "at most one of birthDate, child-age and child-age-band")
