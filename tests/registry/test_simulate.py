"""`registry simulate`: the synthetic world's truth, its messages through the real gateway, and
the scoring of a register's linkage."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from stdnum.bg import egn

from gateway.devstack import Stack
from gateway.kit.local import LocalGateway
from gateway.profile.flattening import flatten
from registry.estimated import Expected
from registry.linking import Linkage, link
from registry.simulate import run_simulation
from registry.simulate.numbers import valid_number
from registry.simulate.render import PHASES, render_phase
from registry.simulate.run import describe, estimated, fatal
from registry.simulate.score import CaseTruth, pairs, render_fatal, score, stranded
from registry.simulate.send import answers_of
from registry.simulate.world import ONE_CHILD, SLUGS, World, build_world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(400, seed=3)


def test_the_world_is_the_size_asked_and_the_same_for_a_seed(world: World) -> None:
    assert 400 <= len(world.children) <= 401  # a pair of twins may overshoot by one
    assert 1.1 <= len(world.incidents) / len(world.children) <= 1.3
    again = build_world(400, seed=3)
    assert [r.number for r in again.reports] == [r.number for r in world.reports]
    assert [r.number for r in build_world(400, seed=4).reports] != [r.number for r in world.reports]


def test_every_personal_number_is_valid_and_matches_the_child(world: World) -> None:
    numbers = [c.number for c in world.children.values() if c.number]
    assert len(numbers) == len(set(numbers))
    for child in world.children.values():
        if child.number_kind is None:
            assert child.number is None
            continue
        assert child.number is not None
        assert valid_number(child.number_kind, child.number)
        if child.number_kind == "egn":
            assert egn.get_birth_date(child.number) == child.birth
            assert (int(child.number[8]) % 2 == 0) == (child.sex == "male")
    kinds = Counter(c.number_kind for c in world.children.values())
    assert kinds["egn"] > kinds["lnch"] > 0 and kinds[None] > 0


def test_every_record_knows_its_children_and_incident(world: World) -> None:
    reported = set()
    for report in world.reports:
        incident = world.incidents[report.incident]
        assert report.slug in SLUGS
        assert set(report.children) <= set(incident.children)
        assert len(report.views) == len(report.children) >= 1
        if report.slug in ONE_CHILD:
            assert len(report.children) == 1
        assert report.day >= incident.day
        for index, view in enumerate(report.views):
            child = world.child(report, index)
            assert not view.carries_number or child.number is not None
            if not view.carries_number or child.number_kind == "lnch":
                assert view.birth is not None or report.slug == "helpline"
            if view.birth is not None:
                assert view.birth <= report.day
                assert (view.birth != child.birth) == view.typo
        reported.add(report.incident)
    assert reported == set(world.incidents)
    slugs = Counter(r.slug for r in world.reports)
    assert set(slugs) == set(SLUGS)
    assert any(r.cancelled for r in world.reports) and any(r.updated for r in world.reports)
    assert any(v.typo for r in world.reports for v in r.views)
    assert any(r.references for r in world.reports)
    rows = [
        (
            r.number,
            world.child(r, i).number if v.carries_number else (v.birth, world.child(r, i).sex),
        )
        for r in world.reports
        if r.slug == "schools"
        for i, v in enumerate(r.views)
    ]
    assert len(rows) == len(set(rows))  # a school register cannot tell two such rows apart
    twins = [i for i in world.incidents.values() if len(i.children) == 2]
    assert twins and all(i.children[0] != i.children[1] for i in twins)
    assert describe(world)["children"] <= len(world.children)


def test_every_rendered_message_is_accepted_by_the_gateway() -> None:
    small = build_world(80, seed=5)
    gateways = {slug: LocalGateway(slug) for slug in SLUGS}
    try:
        statuses: Counter[tuple[str, str, str]] = Counter()
        for phase in PHASES:
            for slug, messages in render_phase(small, phase).items():
                for message in messages:
                    answer = gateways[slug].send(message.body, message.headers)
                    for a in answers_of(message, answer):
                        expected = "accepted" if a.unit.report else "out-of-scope"
                        assert a.status == expected, (slug, phase, answer.text)
                        statuses[(slug, phase, a.status)] += 1
        firsts = sum(len(r.children) for r in small.reports)
        canonical = [n for g in gateways.values() for n in g.canonical()]
        assert len(canonical) >= firsts
        written = "".join(str(n) for n in canonical)
        for child in small.children.values():  # pseudonyms only, never the number or name
            assert child.number is None or child.number not in written
        assert {slug for slug, _, _ in statuses} == set(SLUGS)
    finally:
        for gateway in gateways.values():
            gateway.close()


def test_a_homicide_is_fatal_in_every_institution_that_says_so() -> None:
    big = build_world(3000, seed=11)
    deadly = {i.id for i in big.incidents.values() if i.kind.fatal}
    assert 2 <= len(deadly) <= 30  # 0.3 % of incidents: the register's homicide question
    killed = {c for i in deadly for c in big.incidents[i].children}
    later = [i for i in big.incidents.values() if set(i.children) & killed and i.id not in deadly]
    assert all(
        i.day < big.incidents[f].day
        for i in later
        for f in deadly
        if set(big.incidents[f].children) & set(i.children)
    )  # nothing happens to a child after death
    reports = [r for r in big.reports if r.incident in deadly]
    assert not [r for r in reports if r.slug == "helpline"]
    small = World(big.year, big.children, big.incidents, reports, 0)
    gateways = {slug: LocalGateway(slug) for slug in SLUGS}
    try:
        for slug, messages in render_phase(small, "first").items():
            for message in messages:
                answer = gateways[slug].send(message.body, message.headers)
                assert all(a.status == "accepted" for a in answers_of(message, answer))
        flats = {slug: [flatten(b) for b in g.canonical()] for slug, g in gateways.items()}
    finally:
        for gateway in gateways.values():
            gateway.close()
    # Police (InjuryCode 4), prosecution (Deceased) and hospitals (a deceased patient) know the
    # child died; a Child Protection Department does not record an outcome.
    outcomes = {slug: {f["outcome"] for f in found} for slug, found in flats.items()}
    for slug in ("mvr", "prosecution", "health"):
        assert outcomes[slug] == {"fatal"}, slug
    assert outcomes["ozd"] <= {"unknown"}
    # The register's answer to the homicide question, scored: one child per killed child (the
    # police, the prosecution and the hospital notified each), against each institution's count.
    cases = [f for found in flats.values() for f in found]
    answer = fatal(small, cases, link(cases))
    assert answer.children.truth == len(killed)
    assert answer.children.found <= answer.children.truth  # linking never invents a child
    assert answer.children.found >= answer.children.truth - 2  # numberless ones may stay apart
    said = Counter(f["institution"] for f in cases if f["outcome"] == "fatal")
    assert answer.notifications == {slug: said[slug] for slug in answer.notifications}
    assert sum(said.values()) > answer.children.found  # institutions count one child repeatedly
    lines = render_fatal(answer)
    assert "children killed (fatal)" in lines[-1]
    assert lines[-1].split()[3:5] == [str(answer.children.truth), str(answer.children.found)]


def test_pairwise_precision_and_recall_on_a_hand_checked_case() -> None:
    # Truth: a, b, c are child 1 and d is child 2. Found: {a, b} and {c, d}.
    truth = {"a": 1, "b": 1, "c": 1, "d": 2}
    found = {"a": "x", "b": "x", "c": "y", "d": "y"}
    result = pairs(truth, found)
    assert (result.true, result.found, result.common) == (3, 2, 1)
    assert result.precision == 0.5
    assert result.recall == pytest.approx(1 / 3)


def test_score_counts_and_the_personal_number_subset() -> None:
    # d is left out of child_of: a child of its own.
    found = Linkage(keys=["a", "b", "c"], children_at=["x", "x", "y"], incidents_at=["i"] * 3)

    truth = {
        "a": CaseTruth(1, 10, numbered=True),
        "b": CaseTruth(1, 10, numbered=True),
        "c": CaseTruth(1, 10, numbered=False),
        "d": CaseTruth(2, 11, numbered=False),
    }
    result = score(truth, found)
    assert (result.overall.children.truth, result.overall.children.found) == (2, 3)
    assert result.overall.children.error == 0.5
    assert (result.overall.incidents.truth, result.overall.incidents.found) == (2, 2)
    assert result.overall.child_pairs.recall == pytest.approx(1 / 3)
    assert result.overall.child_pairs.precision == 1.0
    assert result.numbered.cases == 2
    assert (result.numbered.child_pairs.precision, result.numbered.child_pairs.recall) == (1, 1)
    assert "distinct children" in result.table()
    institution = {"a": "mvr", "b": "ozd", "c": "helpline", "d": "schools"}
    assert stranded(truth, found, institution) == {"helpline": 1}  # d has no other case


def test_a_small_year_through_the_real_gateway_scores_consistently(tmp_path: Path) -> None:
    with Stack.create(tmp_path) as stack:
        stack.start_register()
        stack.start_gateway()
        result = run_simulation(stack, children=60, seed=9)
        with stack.register_client() as client:
            cases = client.get("/api/v1/cases").raise_for_status().json()
    extra = result.extra
    assert extra["unexpected_answers"] == 0
    assert set(extra["queue"]) == {"delivered"}  # nothing pending, nothing dead-lettered
    # The truth covers exactly the register's active cases, and the cancelled ones are out.
    active = [c for c in cases if c["status"] == "active"]
    assert extra["active_without_truth"] == extra["truth_not_active"] == 0
    assert result.overall.cases == len(active) == extra["register_active"]
    assert len(cases) > len(active)  # some records were withdrawn
    world = extra["world"]
    assert isinstance(world, dict)
    assert result.overall.children.truth == world["children"]
    assert result.overall.incidents.truth == world["incidents"]
    # Found counts are what the register's own linkage of those cases gives.
    linkage = link(c["latest"] for c in active)
    assert result.overall.children.found == linkage.children()
    assert result.overall.incidents.found == linkage.incidents()
    # The estimate beside the count is the register's own, scored against the same truth
    # (here the register holds the year's cases only).
    assert result.estimated is not None
    children, incidents = result.estimated
    guess = linkage.estimate()
    assert children.found == pytest.approx(guess.estimated_children)
    assert incidents.found == pytest.approx(guess.estimated_incidents)
    assert children.truth == world["children"]
    assert "estimated children" in result.table()
    assert extra["repeat_shares"] == {k: tuple(s) for k, s in linkage.shares.items()}
    assert children.low <= children.found <= children.high
    for part in (result.overall, result.numbered):
        for p in (part.child_pairs, part.incident_pairs):
            assert 0 <= p.common <= min(p.true, p.found)


def test_the_cli_runs_a_year_on_its_own_stack(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "registry", "simulate", "--children", "20", "--seed", "1",
         "--root", str(tmp_path)],
        capture_output=True, text=True, timeout=240, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "distinct children" in done.stdout
    assert "unexpected_answers: 0" in done.stdout


def test_the_estimate_is_scored_over_the_years_cases_only() -> None:
    # The demo's register also holds the samples' cases ("x"): not the year's, not scored.
    sure = Expected(1.0, 1.0, (1.0, 1.0), (1.0, 1.0))
    found = Linkage(
        keys=["a", "b", "x"],
        children_at=["c1", "c2", "c3"],
        incidents_at=["i1", "i2", "i3"],
        expected={"b": sure, "x": sure},
    )
    truth = {"a": CaseTruth(1, 10, numbered=True), "b": CaseTruth(1, 10, numbered=False)}
    result = score(truth, found)
    children, incidents = estimated(result, found, truth.keys())
    assert (children.truth, children.found) == (1, 1.0)  # two counted, b surely repeats a
    assert (incidents.truth, incidents.found) == (1, 1.0)
    assert found.estimate().estimated_children == 1.0  # all three cases: x taken off too
