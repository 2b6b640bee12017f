"""From the world's records to each institution's native messages, one renderer per institution.

A renderer is a module with `render(world, reports, phase) -> list[Message]`: the messages that
institution sends in that phase of the year (`first` reports, then `update`s, then `cancel`s),
in its own format. Every `Message` lists its `units` (the whole message, or each line or row
of a batch) in the order the gateway answers them, so that receipts map back onto the truth.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from registry.simulate.world import Report, World

Phase = Literal["first", "update", "cancel"]
PHASES: tuple[Phase, ...] = ("first", "update", "cancel")


@dataclass(frozen=True, slots=True)
class Unit:
    """One answered item: a record's version (None: a contact out of scope by design), whose
    notifications are its children from `first_child` on, in order."""

    report: Report | None
    first_child: int = 0


@dataclass(frozen=True, slots=True)
class Message:
    slug: str
    path: str
    headers: dict[str, str]
    body: bytes
    units: tuple[Unit, ...]
    soap: bool = False


Renderer = Callable[[World, Sequence[Report], Phase], list[Message]]


def due(reports: Sequence[Report], phase: Phase) -> list[Report]:
    """The records that send a message in `phase`."""
    if phase == "first":
        return list(reports)
    if phase == "update":
        return [r for r in reports if r.updated]
    return [r for r in reports if r.cancelled]


def version(report: Report, phase: Phase) -> int:
    return {"first": 1, "update": 2, "cancel": 3 if report.updated else 2}[phase]


def details(report: Report, phase: Phase) -> random.Random:
    """The incidental details of one message (ids, times), the same on every run."""
    return random.Random(report.seed * 4 + PHASES.index(phase))


def message_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def renderers() -> dict[str, Renderer]:
    from registry.simulate.render import health, helpline, mvr, ozd, prosecution, schools

    return {
        "mvr": mvr.render,
        "prosecution": prosecution.render,
        "ozd": ozd.render,
        "helpline": helpline.render,
        "schools": schools.render,
        "health": health.render,
    }


def render_phase(world: World, phase: Phase) -> dict[str, list[Message]]:
    """Every institution's messages of one phase."""
    out: dict[str, list[Message]] = {}
    for slug, render in renderers().items():
        reports = [r for r in world.reports if r.slug == slug]
        out[slug] = render(world, due(reports, phase), phase)
    return out
