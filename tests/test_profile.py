"""The canonical profile: render, validate (ours and R4B models), flatten, the published files."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from gateway import profile
from gateway.codes import CANONICAL_BASE, CODE_SYSTEMS, code_system, source_system
from gateway.errors import PROBLEM_CODES
from gateway.facts import (
    WARNING_CODES,
    Child,
    DataWarning,
    Notification,
    Place,
    Provenance,
    Pseudonym,
    SourceCode,
)
from gateway.profile import flatten, render, validate
from gateway.profile.rendering import EXT_SOURCE_EVENT_DATE

PROFILES = Path(__file__).resolve().parents[1] / "profiles"
SOFIA = timezone(timedelta(hours=3))
RECEIVED = datetime(2021, 6, 2, 16, 5, 11, tzinfo=SOFIA)
NID = "0f8fad5b-d9cb-469f-a165-70867728950e"
CASE = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
HEX_A, HEX_B, SHA = "a" * 64, "0123456789abcdef" * 4, "f" * 64
VICTIM = "/m:IncidentReport/m:Victim[1]"

PROVENANCE = Provenance("mvr", "1.2.0", "2026.11.1", SHA, RECEIVED)
FULL = Notification(
    notification_id=NID,
    case_key=CASE,
    event="new",
    institution="mvr",
    incident_reference="mvr:ЗМ-1234/2021",
    provenance=PROVENANCE,
    warnings=(
        DataWarning("sex-mismatch", f"{VICTIM}/m:Sex", child=0),
        DataWarning("source-event-mismatch", "/m:IncidentReport/m:ReportType"),
    ),
    incident_date=date(2021, 6, 1),
    child=Child(
        path=VICTIM,
        sex="female",
        pseudonyms=(Pseudonym("k2021", HEX_A),),
        internal_id="internal",
        birth_date="2010-03-14",
    ),
    place=Place("incident", ekatte="68134", region="BG-22"),
    forms=("physical", "psychological"),
    attempted=False,
    outcome="injured",
    relationships=("parent", "other-relative"),
    setting="family",
    case_stage="criminal-proceedings",
    references=(("prosecution", "1234/2021"), ("ozd", "ОЗД-ПД-2021-000311")),
    source_codes=(
        SourceCode(source_system("mvr", "article"), "130"),
        SourceCode("http://hl7.org/fhir/sid/icd-10", "T74.1"),
    ),
)

FULL_FLAT: dict[str, Any] = {
    "notification_id": NID,
    "case_key": CASE,
    "event": "new",
    "institution": "mvr",
    "incident_reference": "mvr:ЗМ-1234/2021",
    "incident_date": "2021-06-01",
    "child_pseudonyms": [{"key_id": "k2021", "value": HEX_A}],
    "birth_date": "2010-03-14",
    "age": None,
    "age_band": None,
    "sex": "female",
    "forms": ["physical", "psychological"],
    "outcome": "injured",
    "attempted": False,
    "relationships": ["parent", "other-relative"],
    "setting": "family",
    "case_stage": "criminal-proceedings",
    "event_date": None,
    "place_kind": "incident",
    "ekatte": "68134",
    "region": "BG-22",
    "references": {"prosecution": "1234/2021", "ozd": "ОЗД-ПД-2021-000311"},
    "source_codes": [
        {"system": f"{CANONICAL_BASE}/source/mvr/article", "code": "130"},
        {"system": "http://hl7.org/fhir/sid/icd-10", "code": "T74.1"},
    ],
    "warnings": [
        {"code": "sex-mismatch", "path": f"{VICTIM}/m:Sex"},
        {"code": "source-event-mismatch", "path": "/m:IncidentReport/m:ReportType"},
    ],
    "mapping_version": "2026.11.1",
    "adapter": "mvr",
    "adapter_version": "1.2.0",
    "raw_sha256": SHA,
    "received_at": "2021-06-02T16:05:11+03:00",
}

assert FULL.child is not None
HELPLINE_CHILD = Child(path="/child", sex="male", age=13, age_band="12-14")
CANCEL = Notification(
    notification_id=NID,
    case_key=CASE,
    event="cancel",
    institution="mvr",
    incident_reference="mvr:ЗМ-1234/2021",
    provenance=PROVENANCE,
    warnings=(),
)
CANCEL_FLAT = {
    **FULL_FLAT,
    "event": "cancel",
    "incident_date": None,
    "child_pseudonyms": [],
    "birth_date": None,
    "sex": None,
    "forms": [],
    "outcome": None,
    "attempted": None,
    "relationships": [],
    "setting": None,
    "case_stage": None,
    "place_kind": None,
    "ekatte": None,
    "region": None,
    "references": {},
    "source_codes": [],
    "warnings": [],
}

# (notification, expected flat dict): every shape the gateway sends.
CASES: dict[str, tuple[Notification, dict[str, Any]]] = {
    "new-full": (FULL, FULL_FLAT),
    "birth-year-only": (
        replace(FULL, child=replace(FULL.child, birth_date="2010")),
        {**FULL_FLAT, "birth_date": "2010"},
    ),
    "birth-year-month": (
        replace(FULL, child=replace(FULL.child, birth_date="2010-03")),
        {**FULL_FLAT, "birth_date": "2010-03"},
    ),
    "age-only": (
        replace(
            FULL,
            institution="helpline",
            incident_reference="helpline:HL-2021-0004417",
            child=HELPLINE_CHILD,
            place=Place("residence", region="BG-16"),
            forms=("unspecified",),
            relationships=("unknown",),
            setting="unknown",
            outcome="unknown",
            case_stage=None,
            references=(),
            source_codes=(),
            warnings=(DataWarning("ageband-mismatch", "#/child/ageBand"),),
        ),
        {
            **FULL_FLAT,
            "institution": "helpline",
            "incident_reference": "helpline:HL-2021-0004417",
            "child_pseudonyms": [],
            "birth_date": None,
            "age": 13,
            "sex": "male",
            "forms": ["unspecified"],
            "relationships": ["unknown"],
            "setting": "unknown",
            "outcome": "unknown",
            "case_stage": None,
            "place_kind": "residence",
            "ekatte": None,
            "region": "BG-16",
            "references": {},
            "source_codes": [],
            "warnings": [{"code": "ageband-mismatch", "path": "#/child/ageBand"}],
        },
    ),
    "age-band-only": (
        replace(FULL, child=Child(path="/child", sex="unknown", age_band="15-17"), place=None),
        {
            **FULL_FLAT,
            "child_pseudonyms": [],
            "birth_date": None,
            "age_band": "15-17",
            "sex": "unknown",
            "place_kind": None,
            "ekatte": None,
            "region": None,
        },
    ),
    "update-no-warnings": (
        replace(FULL, event="update", warnings=(), attempted=True, case_stage="indicted"),
        {
            **FULL_FLAT,
            "event": "update",
            "warnings": [],
            "attempted": True,
            "case_stage": "indicted",
        },
    ),
    "source-event-date": (
        replace(
            FULL,
            institution="prosecution",
            incident_reference="prosecution:ДП 437/2021 РП-Пловдив",
            event_date=date(2021, 5, 8),
        ),
        {
            **FULL_FLAT,
            "institution": "prosecution",
            "incident_reference": "prosecution:ДП 437/2021 РП-Пловдив",
            "event_date": "2021-05-08",
        },
    ),
    "cancel": (CANCEL, CANCEL_FLAT),
    "cancel-with-warning": (
        replace(CANCEL, warnings=(DataWarning("child-key-changed", ""),)),
        {**CANCEL_FLAT, "warnings": [{"code": "child-key-changed", "path": None}]},
    ),
    "key-rotation": (
        replace(
            FULL,
            child=replace(
                FULL.child, pseudonyms=(Pseudonym("k2021", HEX_A), Pseudonym("k2022", HEX_B))
            ),
        ),
        {
            **FULL_FLAT,
            "child_pseudonyms": [
                {"key_id": "k2021", "value": HEX_A},
                {"key_id": "k2022", "value": HEX_B},
            ],
        },
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_render_validates_and_round_trips(name: str) -> None:
    notification, expected = CASES[name]
    bundle = render(notification)
    assert validate(bundle) == []
    Bundle.model_validate(bundle)  # structurally valid FHIR R4 (R4B models)
    assert flatten(bundle) == expected
    assert list(flatten(bundle)) == list(FULL_FLAT)
    # plain JSON types only, and the same bytes on a replay
    assert orjson.loads(orjson.dumps(bundle)) == bundle
    assert orjson.dumps(render(notification)) == orjson.dumps(bundle)


def test_shape_of_a_new_notification() -> None:
    bundle = render(FULL)
    assert bundle["id"] == NID and bundle["type"] == "message"
    assert bundle["timestamp"] == "2021-06-02T16:05:11+03:00"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["MessageHeader", "Organization", "Observation", "Patient", "Provenance"]
    header, org, obs, patient, prov = (e["resource"] for e in bundle["entry"])
    assert header["id"] == NID and bundle["entry"][0]["fullUrl"] == f"urn:uuid:{NID}"
    assert header["eventCoding"] == {"system": code_system("notification-event"), "code": "new"}
    assert header["sender"]["reference"] == bundle["entry"][1]["fullUrl"]
    assert header["focus"] == [{"reference": bundle["entry"][2]["fullUrl"]}]
    assert org["name"].startswith("Ministry of Interior")
    assert obs["subject"]["reference"] == bundle["entry"][3]["fullUrl"]
    assert obs["effectiveDateTime"] == "2021-06-01"
    assert set(patient) == {"resourceType", "id", "meta", "identifier", "gender", "birthDate"}
    assert prov["target"] == [{"reference": bundle["entry"][2]["fullUrl"]}]
    assert prov["agent"][0]["onBehalfOf"]["reference"] == bundle["entry"][1]["fullUrl"]
    assert len({e["fullUrl"] for e in bundle["entry"]}) == 5


def test_cancel_carries_only_what_readme_5_lists() -> None:
    bundle = render(replace(FULL, event="cancel"))  # facts present but not sent
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["MessageHeader", "Organization", "Observation", "Provenance"]
    obs = bundle["entry"][2]["resource"]
    assert obs["status"] == "cancelled"
    assert set(obs) == {"resourceType", "id", "meta", "status", "code", "identifier"}
    assert [i["system"].rsplit("/", 1)[1] for i in obs["identifier"]] == [
        "case-key",
        "incident-reference",
    ]
    assert validate(bundle) == []
    assert flatten(bundle) == {**CANCEL_FLAT, "warnings": FULL_FLAT["warnings"]}


def test_age_wins_over_band_and_birth_date_wins_over_both() -> None:
    helpline = replace(FULL, child=HELPLINE_CHILD)
    assert flatten(render(helpline))["age_band"] is None
    both = replace(FULL, child=replace(HELPLINE_CHILD, birth_date="2008"))
    flat = flatten(render(both))
    assert (flat["birth_date"], flat["age"], flat["age_band"]) == ("2008", None, None)


def test_ids_are_deterministic_and_generated_at_is_used() -> None:
    later = datetime(2021, 6, 3, 8, 0, tzinfo=UTC)
    a, b = render(FULL), render(FULL, generated_at=later)
    assert b["timestamp"] == "2021-06-03T08:00:00+00:00"
    assert [e["fullUrl"] for e in a["entry"]] == [e["fullUrl"] for e in b["entry"]]
    other = render(replace(FULL, notification_id="1b4e28ba-2fa1-11d2-883f-0016d3cca427"))
    assert not {e["fullUrl"] for e in a["entry"]} & {e["fullUrl"] for e in other["entry"]}


# -- negative: each profile rule, broken once, gives a located problem --------------------------

HEADER, ORG, OBS, PATIENT, PROV = (f"Bundle.entry[{i}].resource" for i in range(5))
Mutation = Callable[[dict[str, Any]], Any]


def _res(b: dict[str, Any], i: int) -> dict[str, Any]:
    resource: dict[str, Any] = b["entry"][i]["resource"]
    return resource


def _comp(b: dict[str, Any], element: str) -> list[dict[str, Any]]:
    return [c for c in _res(b, 2)["component"] if c["code"]["coding"][0]["code"] == element]


def _set_codes(b: dict[str, Any], element: str, codes: list[str]) -> None:
    obs = _res(b, 2)
    obs["component"] = [c for c in obs["component"] if c not in _comp(b, element)]
    obs["component"] += [
        {
            "code": {"coding": [{"system": profile.CS_ELEMENT, "code": element}]},
            "valueCodeableConcept": {"coding": [{"system": code_system(element), "code": c}]},
        }
        for c in codes
    ]


NEGATIVE: dict[str, tuple[Mutation, str, str]] = {
    "bundle type": (lambda b: b.update(type="collection"), "Bundle.type", "closed-list"),
    "bundle id": (lambda b: b.update(id="not-a-uuid"), "Bundle.id", "format"),
    "bundle profile": (lambda b: b.pop("meta"), "Bundle.meta.profile", "required"),
    "timestamp offset": (
        lambda b: b.update(timestamp="2021-06-02T16:05:11"),
        "Bundle.timestamp",
        "format",
    ),
    "first entry": (
        lambda b: b["entry"].append(b["entry"].pop(0)),
        "Bundle.entry[0]",
        "required",
    ),
    "header id": (
        lambda b: _res(b, 0).update(id="1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
        f"{HEADER}.id",
        "conflict",
    ),
    "event code": (
        lambda b: _res(b, 0)["eventCoding"].update(code="delete"),
        f"{HEADER}.eventCoding.code",
        "closed-list",
    ),
    "event system": (
        lambda b: _res(b, 0)["eventCoding"].update(system="urn:x"),
        f"{HEADER}.eventCoding.system",
        "closed-list",
    ),
    "destination": (
        lambda b: _res(b, 0).update(destination=[{"endpoint": "urn:x"}]),
        f"{HEADER}.destination[0].endpoint",
        "closed-list",
    ),
    "sender": (lambda b: _res(b, 0).pop("sender"), f"{HEADER}.sender", "required"),
    "focus target": (
        lambda b: _res(b, 0).update(focus=[_res(b, 0)["sender"]]),
        f"{HEADER}.focus[0]",
        "format",
    ),
    "warning code": (
        lambda b: _res(b, 0)["extension"][0]["extension"][0].update(valueCode="bogus"),
        f"{HEADER}.extension[0].extension('code').valueCode",
        "closed-list",
    ),
    "header extension": (
        lambda b: _res(b, 0)["extension"].append({"url": "urn:x", "valueString": "x"}),
        f"{HEADER}.extension[2]",
        "format",
    ),
    "institution": (
        lambda b: _res(b, 1)["identifier"][0].update(value="army"),
        f"{ORG}.identifier[0].value",
        "closed-list",
    ),
    "institution name": (lambda b: _res(b, 1).pop("name"), f"{ORG}.name", "required"),
    "observation status": (
        lambda b: _res(b, 2).update(status="cancelled"),
        f"{OBS}.status",
        "closed-list",
    ),
    "observation code": (lambda b: _res(b, 2).pop("code"), f"{OBS}.code", "required"),
    "case key missing": (
        lambda b: _res(b, 2)["identifier"].pop(0),
        f"{OBS}.identifier",
        "required",
    ),
    "incident reference prefix": (
        lambda b: _res(b, 2)["identifier"][1].update(value="ozd:123"),
        f"{OBS}.identifier[1].value",
        "format",
    ),
    "foreign identifier": (
        lambda b: _res(b, 2)["identifier"].append({"system": "urn:egn", "value": "x"}),
        f"{OBS}.identifier[4]",
        "format",
    ),
    "reference slug": (
        lambda b: _res(b, 2)["identifier"][2].update(system=profile.SID_REFERENCE + "army"),
        f"{OBS}.identifier[2].system",
        "closed-list",
    ),
    "incident date missing": (
        lambda b: _res(b, 2).pop("effectiveDateTime"),
        f"{OBS}.effectiveDateTime",
        "required",
    ),
    "incident date with time": (
        lambda b: _res(b, 2).update(effectiveDateTime="2021-06-01T10:00:00+03:00"),
        f"{OBS}.effectiveDateTime",
        "format",
    ),
    "subject": (lambda b: _res(b, 2).pop("subject"), f"{OBS}.subject", "required"),
    "unknown form": (
        lambda b: _comp(b, "violence-form")[0]["valueCodeableConcept"]["coding"][0].update(
            code="verbal"
        ),
        f"{OBS}.component[0].valueCodeableConcept.coding[0].code",
        "closed-list",
    ),
    "form in another system": (
        lambda b: _comp(b, "violence-form")[0]["valueCodeableConcept"]["coding"][0].update(
            system=code_system("setting")
        ),
        f"{OBS}.component[0].valueCodeableConcept.coding[0].system",
        "closed-list",
    ),
    "forms out of order": (
        lambda b: _set_codes(b, "violence-form", ["sexual", "physical"]),
        f"{OBS}.component",
        "format",
    ),
    "forms repeated": (
        lambda b: _set_codes(b, "violence-form", ["physical", "physical"]),
        f"{OBS}.component",
        "format",
    ),
    "unspecified beside a form": (
        lambda b: _set_codes(b, "violence-form", ["physical", "unspecified"]),
        f"{OBS}.component",
        "conflict",
    ),
    "no form": (lambda b: _set_codes(b, "violence-form", []), f"{OBS}.component", "required"),
    "unknown beside a relationship": (
        lambda b: _set_codes(b, "perpetrator-relationship", ["parent", "unknown"]),
        f"{OBS}.component",
        "conflict",
    ),
    "two outcomes": (
        lambda b: _set_codes(b, "outcome", ["fatal", "injured"]),
        f"{OBS}.component",
        "format",
    ),
    "no setting": (lambda b: _set_codes(b, "setting", []), f"{OBS}.component", "required"),
    "bad case stage": (
        lambda b: _set_codes(b, "case-stage", ["sentenced"]),
        f"{OBS}.component[7].valueCodeableConcept.coding[0].code",
        "closed-list",
    ),
    "attempted not boolean": (
        lambda b: _comp(b, "attempted")[0].update(valueBoolean="no"),
        f"{OBS}.component[3].valueBoolean",
        "required",
    ),
    "unknown element": (
        lambda b: _comp(b, "setting")[0]["code"]["coding"][0].update(code="weapon"),
        f"{OBS}.component[6].code.coding[0].code",
        "closed-list",
    ),
    "place kind": (
        lambda b: _res(b, 2)["extension"][0]["extension"][0].update(valueCode="hospital"),
        f"{OBS}.extension[0].extension('kind').valueCode",
        "closed-list",
    ),
    "ekatte format": (
        lambda b: _res(b, 2)["extension"][0]["extension"][1].update(valueCode="6813"),
        f"{OBS}.extension[0].extension('ekatte').valueCode",
        "format",
    ),
    "region format": (
        lambda b: _res(b, 2)["extension"][0]["extension"][2].update(valueCode="BG-29"),
        f"{OBS}.extension[0].extension('region').valueCode",
        "format",
    ),
    "place without ekatte or region": (
        lambda b: _res(b, 2)["extension"][0].update(
            extension=[{"url": "kind", "valueCode": "school"}]
        ),
        f"{OBS}.extension[0]",
        "required",
    ),
    "source code without code": (
        lambda b: _res(b, 2)["extension"][1]["valueCoding"].pop("code"),
        f"{OBS}.extension[1].valueCoding.code",
        "required",
    ),
    "observation narrative": (
        lambda b: _res(b, 2).update(text={"status": "generated", "div": "<div>x</div>"}),
        f"{OBS}.text",
        "format",
    ),
    "patient name": (
        lambda b: _res(b, 3).update(name=[{"family": "Иванова"}]),
        f"{PATIENT}.name",
        "format",
    ),
    "patient address": (
        lambda b: _res(b, 3).update(address=[{"city": "София"}]),
        f"{PATIENT}.address",
        "format",
    ),
    "patient non-pseudonym identifier": (
        lambda b: _res(b, 3)["identifier"].append({"system": "urn:bg:egn", "value": "1"}),
        f"{PATIENT}.identifier[1].system",
        "format",
    ),
    "pseudonym uppercase": (
        lambda b: _res(b, 3)["identifier"][0].update(value="A" * 64),
        f"{PATIENT}.identifier[0].value",
        "format",
    ),
    "pseudonym short": (
        lambda b: _res(b, 3)["identifier"][0].update(value="a" * 63),
        f"{PATIENT}.identifier[0].value",
        "format",
    ),
    "three pseudonyms": (
        lambda b: _res(b, 3)["identifier"].extend(
            [
                {"system": profile.SID_PSEUDONYM + "k2", "value": HEX_B},
                {"system": profile.SID_PSEUDONYM + "k3", "value": HEX_B},
            ]
        ),
        f"{PATIENT}.identifier",
        "format",
    ),
    "two pseudonyms under one key": (
        lambda b: _res(b, 3)["identifier"].append(dict(_res(b, 3)["identifier"][0])),
        f"{PATIENT}.identifier[1].system",
        "conflict",
    ),
    "gender": (lambda b: _res(b, 3).update(gender="f"), f"{PATIENT}.gender", "closed-list"),
    "no gender": (lambda b: _res(b, 3).pop("gender"), f"{PATIENT}.gender", "required"),
    "birth date format": (
        lambda b: _res(b, 3).update(birthDate="14.03.2010"),
        f"{PATIENT}.birthDate",
        "format",
    ),
    "birth date and age": (
        lambda b: _res(b, 3).update(
            extension=[
                {
                    "url": profile.EXT_CHILD_AGE,
                    "valueAge": {"value": 11, "system": profile.UCUM, "code": "a"},
                }
            ]
        ),
        PATIENT,
        "conflict",
    ),
    "patient on a cancel": (
        lambda b: _res(b, 0)["eventCoding"].update(code="cancel"),
        PATIENT,
        "format",
    ),
    "provenance target": (
        lambda b: _res(b, 4).update(target=[_res(b, 0)["sender"]]),
        f"{PROV}.target[0]",
        "format",
    ),
    "recorded without offset": (
        lambda b: _res(b, 4).update(recorded="2021-06-02T16:05:11"),
        f"{PROV}.recorded",
        "format",
    ),
    "mapping version": (
        lambda b: _res(b, 4).pop("extension"),
        f"{PROV}.extension",
        "required",
    ),
    "adapter version": (
        lambda b: _res(b, 4)["agent"][0]["extension"][0]["extension"].pop(1),
        f"{PROV}.agent[0].extension('adapter').extension('version')",
        "required",
    ),
    "on behalf of": (
        lambda b: _res(b, 4)["agent"][0].pop("onBehalfOf"),
        f"{PROV}.agent[0].onBehalfOf",
        "required",
    ),
    "raw sha256": (
        lambda b: _res(b, 4)["entity"][0]["what"]["identifier"].update(value="xyz"),
        f"{PROV}.entity[0].what.identifier.value",
        "format",
    ),
    "unknown resource": (
        lambda b: b["entry"].append({"resource": {"resourceType": "Condition", "id": NID}}),
        "Bundle.entry[5].resource",
        "closed-list",
    ),
    "second observation": (
        lambda b: b["entry"].append(copy.deepcopy(b["entry"][2])),
        "Bundle.entry[5].resource",
        "format",
    ),
    "missing provenance": (lambda b: b["entry"].pop(4), "Bundle.entry", "required"),
    "fullUrl": (
        lambda b: b["entry"][1].update(fullUrl="urn:uuid:" + NID),
        "Bundle.entry[1].fullUrl",
        "format",
    ),
}


@pytest.mark.parametrize("name", NEGATIVE)
def test_each_rule_gives_a_located_problem(name: str) -> None:
    mutate, path, code = NEGATIVE[name]
    bundle = render(FULL)
    mutate(bundle)
    problems = validate(bundle)
    assert (path, code) in {(p.path, p.code) for p in problems}, problems
    assert all(p.code in PROBLEM_CODES and p.message for p in problems)


@pytest.mark.parametrize(
    ("mutate", "path", "code"),
    [
        (lambda b: _res(b, 2).update(subject={"reference": "urn:x"}), f"{OBS}.subject", "format"),
        (lambda b: _res(b, 2).update(component=[]), f"{OBS}.component", "format"),
        (lambda b: _res(b, 2).update(status="final"), f"{OBS}.status", "closed-list"),
        (
            lambda b: _res(b, 2)["identifier"].append(
                {"system": profile.SID_REFERENCE + "ozd", "value": "1"}
            ),
            f"{OBS}.identifier[2]",
            "format",
        ),
    ],
)
def test_cancel_rules(mutate: Mutation, path: str, code: str) -> None:
    bundle = render(CANCEL)
    mutate(bundle)
    assert (path, code) in {(p.path, p.code) for p in validate(bundle)}


# -- the source event date (prosecution `EventDate`) -------------------------------------------

EVENT_DATED = replace(FULL, event_date=date(2021, 5, 8))


def test_the_source_event_date_is_an_observation_extension_absent_on_a_cancel() -> None:
    obs = render(EVENT_DATED)["entry"][2]["resource"]
    assert obs["extension"][-1] == {"url": EXT_SOURCE_EVENT_DATE, "valueDate": "2021-05-08"}
    cancel = render(replace(EVENT_DATED, event="cancel"))
    assert "extension" not in cancel["entry"][2]["resource"]
    assert validate(cancel) == [] and flatten(cancel)["event_date"] is None
    assert flatten(render(FULL))["event_date"] is None


@pytest.mark.parametrize(
    ("mutate", "path", "code"),
    [
        (
            lambda b: _res(b, 2)["extension"][-1].update(valueDate="08.05.2021"),
            f"{OBS}.extension[3].valueDate",
            "format",
        ),
        (
            lambda b: _res(b, 2)["extension"][-1].update(valueDate="2021-05-08T10:00:00Z"),
            f"{OBS}.extension[3].valueDate",
            "format",
        ),
        (
            lambda b: _res(b, 2)["extension"][-1].pop("valueDate"),
            f"{OBS}.extension[3].valueDate",
            "required",
        ),
        (
            lambda b: _res(b, 2)["extension"][-1].update(valueString="2021-05-08"),
            f"{OBS}.extension[3].valueString",
            "format",
        ),
        (
            lambda b: _res(b, 2)["extension"].append(dict(_res(b, 2)["extension"][-1])),
            f"{OBS}.extension",
            "format",
        ),
    ],
)
def test_source_event_date_rules(mutate: Mutation, path: str, code: str) -> None:
    bundle = render(EVENT_DATED)
    mutate(bundle)
    assert (path, code) in {(p.path, p.code) for p in validate(bundle)}


def test_the_source_event_date_extension_is_published_and_sliced() -> None:
    sd = _load("StructureDefinition-source-event-date.json")
    assert sd["url"] == EXT_SOURCE_EVENT_DATE
    assert sd["context"] == [{"type": "element", "expression": "Observation"}]
    values = [e for e in sd["differential"]["element"] if e["id"] == "Extension.value[x]"]
    assert values[0]["type"] == [{"code": "date"}]
    obs = _load("StructureDefinition-case-notification-observation.json")
    profiles = [
        p
        for e in obs["differential"]["element"]
        for t in e.get("type", [])
        for p in t.get("profile", [])
    ]
    assert EXT_SOURCE_EVENT_DATE in profiles


@pytest.mark.parametrize(
    "junk",
    [{}, {"resourceType": "Bundle"}, {"resourceType": "Bundle", "entry": [1, None, {"x": []}]}],
)
def test_validate_never_raises_on_junk(junk: dict[str, Any]) -> None:
    assert validate(junk)
    assert set(flatten(junk)) == set(FULL_FLAT)


def _places(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every member of every object and every item of every array, depth first."""
    if isinstance(node, dict | list):
        for key, value in node.items() if isinstance(node, dict) else enumerate(node):
            yield (*path, key)
            yield from _places(value, (*path, key))


@pytest.mark.parametrize("notification", [FULL, CANCEL], ids=["new", "cancel"])
def test_validate_never_raises_when_any_value_has_another_json_type(
    notification: Notification,
) -> None:
    """Each value of a valid Bundle (scalar, object or array), replaced in turn by a list, an
    object, a number or null, gives a list of located problems, never an exception."""
    bundle = render(notification)
    tried = 0
    for path in list(_places(bundle)):
        for junk in (["x"], [], {"a": 1}, {}, 7, None):
            mutated = copy.deepcopy(bundle)
            *parents, last = path
            node = mutated
            for key in parents:
                node = node[key]
            node[last] = junk
            problems = validate(mutated)
            assert isinstance(problems, list), (path, junk)
            assert all(p.code in PROBLEM_CODES and p.message for p in problems), (path, junk)
            assert all(p.path.startswith("Bundle") for p in problems), (path, junk)
            assert set(flatten(mutated)) == set(FULL_FLAT)
            tried += 1
    assert tried > 500


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (
            lambda b: _res(b, 0).update(resourceType=["MessageHeader"]),
            "Bundle.entry[0].resource.resourceType",
        ),
        (
            lambda b: _res(b, 0)["sender"].update(reference=[b["entry"][1]["fullUrl"]]),
            f"{HEADER}.sender",
        ),
        (lambda b: _res(b, 2)["subject"].update(reference={}), f"{OBS}.subject"),
        (lambda b: _res(b, 2)["identifier"][0].update(system=[]), f"{OBS}.identifier[0]"),
        (
            lambda b: _res(b, 2)["component"][0]["code"]["coding"][0].update(code=[]),
            f"{OBS}.component[0].code.coding[0].code",
        ),
        (
            lambda b: _res(b, 0)["extension"][0]["extension"][0].update(valueCode={}),
            f"{HEADER}.extension[0].extension('code').valueCode",
        ),
    ],
)
def test_a_list_or_an_object_where_a_string_belongs_is_a_format_problem(
    mutate: Mutation, path: str
) -> None:
    bundle = render(FULL)
    mutate(bundle)
    assert (path, "format") in {(p.path, p.code) for p in validate(bundle)}


def test_the_package_exports_exactly_its_public_names() -> None:
    exported = {
        name
        for name, value in vars(profile).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }
    assert exported == set(profile.__all__)
    assert {"render", "validate", "flatten", "FLAT_KEYS", "COMPONENTS"} <= exported


# -- the published profile ------------------------------------------------------------------------

PROFILE_FILES = sorted(PROFILES.glob("*.json"))


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PROFILES / name).read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: p.name)
def test_profile_file_is_valid_r4(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    get_fhir_model_class(data["resourceType"]).model_validate(data)
    assert path.name == f"{data['resourceType']}-{data['id']}.json"
    assert data["url"] == f"{CANONICAL_BASE}/{data['resourceType']}/{data['id']}"


@pytest.mark.parametrize("name", CODE_SYSTEMS)
def test_every_canonical_code_is_in_its_code_system(name: str) -> None:
    cs = _load(f"CodeSystem-{name}.json")
    assert cs["url"] == code_system(name)
    assert tuple(c["code"] for c in cs["concept"]) == CODE_SYSTEMS[name]  # §7 order
    assert all(c["display"] and c["definition"] for c in cs["concept"])
    assert _load(f"ValueSet-{name}.json")["compose"]["include"] == [{"system": code_system(name)}]


def test_the_other_code_systems_match_the_code() -> None:
    def codes(name: str) -> list[str]:
        return [c["code"] for c in _load(f"CodeSystem-{name}.json")["concept"]]

    assert codes("notification-element") == list(profile.COMPONENTS)
    assert set(codes("data-quality-warning")) == WARNING_CODES
    assert set(codes("institution")) == set(profile.INSTITUTION_NAMES)
    assert codes("case-notification-type") == [profile.CASE_NOTIFICATION_TYPE]


def test_every_url_the_renderer_uses_is_published() -> None:
    published = {json.loads(p.read_text(encoding="utf-8"))["url"] for p in PROFILE_FILES}
    used = {
        value
        for name, value in vars(profile).items()
        if name.startswith(("PROFILE_", "EXT_", "CS_")) and isinstance(value, str)
    }
    assert used and used <= published, used - published
