"""Health (НЗИС) suspected-maltreatment messages: FHIR R4 message Bundles, one per encounter
version. A withdrawal is a later message marking the diagnoses refuted."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import orjson

from registry.simulate.kinds import PLACES
from registry.simulate.render import Message, Phase, Unit, details, message_id
from registry.simulate.world import Report, World

PATH = "/fhir/$process-message"
HEADERS = {"content-type": "application/fhir+json"}
BASE = "https://nhis.bg/fhir"
ICD = "http://hl7.org/fhir/sid/icd-10"


def render(world: World, reports: Sequence[Report], phase: Phase) -> list[Message]:
    return [
        Message("health", PATH, HEADERS, document(world, r, phase), (Unit(r),)) for r in reports
    ]


def document(world: World, report: Report, phase: Phase) -> bytes:
    rng = details(report, phase)
    incident = world.incidents[report.incident]
    child, view = world.child(report, 0), report.views[0]
    rzi, encounter_id = report.number.split("/", 1)
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "p1", "gender": child.sex}
    if view.carries_number:
        system = f"{BASE}/sid/{'egn' if child.number_kind == 'egn' else 'lnch'}"
        patient["identifier"] = [{"system": system, "value": child.number}]
    if view.birth:
        patient["birthDate"] = view.birth.isoformat()
    if incident.kind.fatal:
        patient["deceasedBoolean"] = True
    home = PLACES[child.home]
    patient["address"] = [{"district": home[1], "city": home[0]}]
    codes = list(incident.kind.icd)
    if phase == "update":
        codes.append("Z04.5")
    conditions = [
        _condition(i, code, refuted=phase == "cancel" and not code.startswith(("S", "Z")))
        for i, code in enumerate(codes)
    ]
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
        "identifier": [{"system": f"{BASE}/sid/encounter", "value": encounter_id}],
        "subject": {"reference": "Patient/p1"},
        "serviceProvider": {"reference": "Organization/o1"},
        "period": {"start": f"{report.day.isoformat()}T{rng.randrange(24):02d}:20:00+02:00"},
    }
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": message_id(rng),
        "eventCoding": {"system": f"{BASE}/CodeSystem/events", "code": "suspected-maltreatment"},
        "source": {"endpoint": BASE},
        "sender": {"reference": "Organization/o1"},
        "focus": [{"reference": "Encounter/e1"}],
    }
    organization: dict[str, Any] = {
        "resourceType": "Organization",
        "id": "o1",
        "identifier": [{"system": f"{BASE}/sid/rzi", "value": rzi}],
        "name": f"МБАЛ {home[2]}",
    }
    resources: list[dict[str, Any]] = [header, organization, patient, encounter, *conditions]
    bundle = {
        "resourceType": "Bundle",
        "id": message_id(random.Random(rng.random())),
        "type": "message",
        "timestamp": f"{report.day.isoformat()}T23:00:00+02:00",
        "entry": [
            {"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }
    return orjson.dumps(bundle)


def _condition(index: int, code: str, *, refuted: bool) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"c{index}",
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "code": {"coding": [{"system": ICD, "code": code}]},
    }
    if refuted:
        status = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
        condition["verificationStatus"] = {"coding": [{"system": status, "code": "refuted"}]}
    return condition
