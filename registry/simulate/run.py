"""One simulated year end to end: build the world, send it through a running gateway, wait for
the register, link its active cases, and score them against the truth."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from gateway.devstack import Stack
from registry.estimated import estimate
from registry.linking import Linkage
from registry.simulate.score import (
    CaseTruth,
    Count,
    Estimated,
    Fatal,
    LinkageLike,
    Score,
    score,
    stranded,
)
from registry.simulate.send import Delivery, send_world, wait_until_delivered
from registry.simulate.world import World, build_world
from registry.stats import statistics

Linker = Callable[[Iterable[Mapping[str, Any]]], LinkageLike]


def run_simulation(
    stack: Stack,
    *,
    children: int = 5000,
    seed: int = 2021,
    year: int = 2021,
    linker: Linker | None = None,
) -> Score:
    """Send a synthetic year to `stack` (register and gateway running) and score the register.

    `linker` defaults to `registry.linking.link`.
    """
    if linker is None:
        from registry.linking import link

        linker = link
    timings: dict[str, float] = {}
    started = time.monotonic()
    world = build_world(children, seed=seed, year=year)
    timings["build world"] = time.monotonic() - started
    delivery = send_world(stack, world)
    timings.update(delivery.seconds)
    started = time.monotonic()
    queue = wait_until_delivered(stack)
    timings["drain the gateway's queue"] = time.monotonic() - started
    with stack.register_client() as client:
        client.timeout = 300
        notifications = client.get("/api/v1/notifications").raise_for_status().json()
        cases = client.get("/api/v1/cases").raise_for_status().json()
    active = [c for c in cases if c["status"] == "active"]
    truth = case_truth(delivery, notifications)
    active_keys = {c["case_key"] for c in active}
    started = time.monotonic()
    linkage = linker(c["latest"] for c in active)
    timings["link"] = time.monotonic() - started
    scored = {k: t for k, t in truth.items() if k in active_keys}
    result = score(scored, linkage)
    if isinstance(linkage, Linkage):
        result.fatal = fatal(world, [c["latest"] for c in active], linkage)
        result.estimated = estimated(result, linkage, scored.keys())
        result.extra["repeat_shares"] = {k: tuple(s) for k, s in linkage.shares.items()}
    institution = {c["case_key"]: c["institution"] for c in active}
    result.extra.update(
        world=describe(world),
        messages=delivery.messages,
        unexpected_answers=len(delivery.unexpected()),
        unexpected=[
            f"{a.unit.report.slug if a.unit.report else 'helpline'} {a.status}"
            f" {a.unit.report.number if a.unit.report else '(out-of-scope contact)'}"
            for a in delivery.unexpected()[:10]
        ],
        queue=queue,
        register_notifications=len(notifications),
        register_cases=len(cases),
        register_active=len(active),
        active_without_truth=len(active_keys - truth.keys()),
        left_alone_by_institution=stranded(scored, linkage, institution),
        truth_not_active=len(truth.keys() - active_keys),
        seconds={k: round(v, 1) for k, v in timings.items()},
    )
    return result


def simulate_in_new_stack(
    root: Path, *, children: int = 5000, seed: int = 2021, year: int = 2021
) -> Score:
    """Start a register and a gateway under `root`, run the year through them, stop them."""
    with Stack.create(root) as stack:
        stack.start_register()
        stack.start_gateway()
        return run_simulation(stack, children=children, seed=seed, year=year)


def case_truth(delivery: Delivery, notifications: list[dict[str, Any]]) -> dict[str, CaseTruth]:
    """Case key -> truth for every case of a live record (withdrawn records are not reported)."""
    case_of = {n["notification_id"]: n["case_key"] for n in notifications}
    truth: dict[str, CaseTruth] = {}
    for notification_id, (report, index) in delivery.notifications.items():
        key = case_of.get(notification_id)
        if key is not None and report.live:
            view = report.views[index]
            truth[key] = CaseTruth(report.children[index], report.incident, view.carries_number)
    return truth


def fatal(world: World, cases: list[Mapping[str, Any]], linkage: Linkage) -> Fatal:
    """Children killed in the world's year (a live record of a fatal incident) against the
    register's `outcome fatal` row and each institution's notifications of it."""
    row = next(
        r
        for r in statistics(cases, linkage, world.year).rows
        if (r.dimension, r.value) == ("outcome", "fatal")
    )
    killed = {
        child
        for r in world.reports
        if r.live and world.incidents[r.incident].kind.fatal
        for child in r.children
    }
    return Fatal(world.year, Count(len(killed), row.children), dict(row.notifications))


def estimated(
    result: Score, linkage: Linkage, scored: Collection[str]
) -> tuple[Estimated, Estimated]:
    """The linkage's estimate over the scored cases (the year's; a register may hold others,
    as the demo's samples) against their truth: the scored counts less what the queries among
    them are expected to repeat."""
    found = estimate(
        result.overall.children.found,
        result.overall.incidents.found,
        [expected for key, expected in linkage.expected.items() if key in scored],
    )
    return (
        Estimated(
            result.overall.children.truth,
            found.estimated_children,
            found.children_sd,
            *found.children_range,
        ),
        Estimated(
            result.overall.incidents.truth,
            found.estimated_incidents,
            found.incidents_sd,
            *found.incidents_range,
        ),
    )


def describe(world: World) -> dict[str, Any]:
    """The world's size and its truth in numbers (live records only)."""
    live = [r for r in world.reports if r.live]
    per_slug = {
        slug: sum(1 for r in live if r.slug == slug) for slug in sorted({r.slug for r in live})
    }
    return {
        "children": len({c for r in live for c in r.children}),
        "incidents": len({(c, r.incident) for r in live for c in r.children}),
        "events": len({r.incident for r in live}),
        "records": len(world.reports),
        "live_records": per_slug,
        "updated": sum(r.updated for r in world.reports),
        "withdrawn": sum(r.cancelled for r in world.reports),
        "birth_date_typos": sum(v.typo for r in world.reports for v in r.views),
        "helpline_out_of_scope": world.noise_contacts,
    }
