"""Helpline 116 111 contacts: NDJSON batches, anonymous (an age at most, never a number)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson

from registry.simulate.kinds import PLACES
from registry.simulate.render import Message, Phase, Unit, details, version
from registry.simulate.world import Report, World

PATH = "/api/v1/helpline/contacts"
HEADERS = {"content-type": "application/x-ndjson"}
BATCH = 500
SEX = {"male": "m", "female": "f"}
BANDS = ((5, "0-5"), (11, "6-11"), (14, "12-14"), (17, "15-17"))


def render(world: World, reports: Sequence[Report], phase: Phase) -> list[Message]:
    lines: list[tuple[bytes, Unit]] = [(line(world, r, phase), Unit(r)) for r in reports]
    if phase == "first":  # contacts about other worries, out of scope by design
        lines += [(noise(world, n), Unit(None)) for n in range(world.noise_contacts)]
    return [
        Message(
            "helpline",
            PATH,
            HEADERS,
            b"".join(body + b"\n" for body, _ in lines[start : start + BATCH]),
            tuple(unit for _, unit in lines[start : start + BATCH]),
        )
        for start in range(0, len(lines), BATCH)
    ]


def age(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def line(world: World, report: Report, phase: Phase) -> bytes:
    rng = details(report, phase)
    incident = world.incidents[report.incident]
    child = world.child(report, 0)
    years = age(child.birth, report.day)
    written: dict[str, Any] = {"sex": SEX[child.sex], "region": PLACES[child.home][1]}
    roll = rng.random()
    if roll < 0.8:
        written["age"] = years
    elif roll < 0.9:
        written["ageBand"] = next(band for top, band in BANDS if years <= top)
    else:
        written = {}  # the caller would not say
    categories = list(incident.kind.helpline)
    if phase == "update":
        categories.append("FR.REL")
    elif phase == "cancel":  # a later revision finds no violence after all
        categories = ["FR.REL"]
    body: dict[str, Any] = {
        "contactId": report.number,
        "revision": version(report, phase),
        "startedAt": f"{report.day.isoformat()}T{rng.randrange(8, 23):02d}:05:11+02:00",
        "channel": rng.choice(("phone", "phone", "chat", "email", "sms")),
        "caller": rng.choice(("child", "parent", "relative", "anonymous", "other")),
        "categories": categories,
    }
    if written:
        body["child"] = written
    if "ozd" in report.references:
        body["referral"] = {"ozdSignalNumber": report.references["ozd"]}
    return orjson.dumps(body)


def noise(world: World, n: int) -> bytes:
    body = {
        "contactId": f"HL-{world.year}-N{n:06d}",
        "startedAt": f"{world.year}-{n % 12 + 1:02d}-{n % 28 + 1:02d}T19:30:00+02:00",
        "channel": "chat",
        "caller": "child",
        "child": {"age": 10 + n % 8},
        "categories": ["MH.ANX", "INF.GEN"],
    }
    return orjson.dumps(body)
