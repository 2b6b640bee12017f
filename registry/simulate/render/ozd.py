"""Child Protection Department (ОЗД) signals: one JSON document per signal version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson

from registry.simulate.kinds import PLACES, RELATION
from registry.simulate.render import Message, Phase, Unit, details, message_id, version
from registry.simulate.world import Report, World

PATH = "/api/v1/ozd/signals"
HEADERS = {"content-type": "application/json"}
STATUS = {"first": "проучване", "update": "потвърден", "cancel": "анулиран"}
SOURCES = {"mvr": "police", "helpline": "helpline", "schools": "school", "health": "health"}


def render(world: World, reports: Sequence[Report], phase: Phase) -> list[Message]:
    return [Message("ozd", PATH, HEADERS, document(world, r, phase), (Unit(r),)) for r in reports]


def document(world: World, report: Report, phase: Phase) -> bytes:
    rng = details(report, phase)
    incident = world.incidents[report.incident]
    child, view = world.child(report, 0), report.views[0]
    written: dict[str, Any] = {
        "sex": child.sex,
        "firstName": child.first_name,
        "lastName": child.last_name,
    }
    if view.carries_number:
        written[child.number_kind or "egn"] = child.number
    if view.birth:
        written["birthDate"] = view.birth.isoformat()
    # Registered the day of the incident or a few days later; when `incidentDate` is left out
    # the world already moved the record's day to the day of registration.
    received = max(report.day, incident.day + timedelta(days=rng.randrange(4)))
    others = sorted(set(report.references) & set(SOURCES))
    source = SOURCES[others[0]] if others else rng.choice(("relative", "citizen", "anonymous"))
    references = {k: report.references.get(k) for k in ("mvr", "prosecution", "helpline")}
    body: dict[str, Any] = {
        "eventId": message_id(rng),
        "signalNumber": report.number,
        "version": version(report, phase),
        "directorate": f"ДСП {PLACES[child.home][2]}",
        "ekatte": PLACES[child.home][0],
        "receivedAt": f"{received.isoformat()}T{rng.randrange(8, 17):02d}:15:00+02:00",
        "source": source,
        "child": written,
        "violenceForms": list(incident.kind.ozd_forms),
        "perpetrator": RELATION[incident.relation][2],
        "status": STATUS[phase],
        "coordinationMechanism": rng.random() < 0.3,
        "references": references,
    }
    if report.day == incident.day:
        body["incidentDate"] = report.day.isoformat()
    else:
        body["receivedAt"] = f"{report.day.isoformat()}T10:15:00+02:00"
    return orjson.dumps(body)
