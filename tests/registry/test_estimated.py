"""The estimated counts: each query's chance of being a child counted before, the shares
estimated by expectation-maximisation, and the estimate on hand-made linkages."""

from __future__ import annotations

import random

import pytest

from registry import estimated, probabilistic, report
from registry.estimated import Agreement, Evidence, Expected, expect, rates, reach
from registry.linking import link
from registry.stats import statistics
from tests.registry.cases import case
from tests.registry.test_probabilistic import others

M = {level: m for level, (_, m, _) in probabilistic.LEVELS.items()}


def test_expectation_maximisation_recovers_each_kinds_share() -> None:
    rng = random.Random(1)
    evidence = []
    for kind, share in (("helpline", 0.8), ("ozd", 0.3)):
        for n in range(2000):
            repeated = rng.random() < share
            # A child counted before shows a strong agreement with it; a new one shows none.
            ratio = rng.uniform(20, 200) if repeated else rng.uniform(0.0, 0.05)
            evidence.append(Evidence(n, kind, ratio, ratio / 2))
    expected, shares = expect(evidence)
    assert shares["helpline"].share == pytest.approx(0.8, abs=0.03)
    assert shares["ozd"].share == pytest.approx(0.3, abs=0.03)
    # Two thousand queries this clear pin each share within a few points, the truth inside.
    for kind, truth in (("helpline", 0.8), ("ozd", 0.3)):
        low, high = shares[kind].low, shares[kind].high
        assert low < truth < high and high - low < 0.06
    assert sum(e.duplicate for e in expected) == pytest.approx(0.55 * 4000, rel=0.03)


def test_a_query_with_nothing_compared_keeps_its_kinds_share() -> None:
    evidence = [Evidence(n, "helpline", 100.0 if n % 4 else 0.0, 0.0) for n in range(400)]
    evidence.append(Evidence(400, "helpline", 1.0, 0.5))  # no block: the mean factor is 1
    expected, shares = expect(evidence)
    assert expected[-1].duplicate == pytest.approx(shares["helpline"].share, abs=1e-4)
    assert expected[-1].merged == pytest.approx(shares["helpline"].share / 2, abs=1e-4)
    assert shares["helpline"].share == pytest.approx(0.75, abs=0.01)
    assert expected[-1].duplicate_range == pytest.approx(shares["helpline"][1:], abs=1e-4)


def test_a_small_kind_leans_on_the_average_share() -> None:
    evidence = [Evidence(n, "ozd", 100.0 if n % 2 else 0.0, 0.0) for n in range(400)]
    evidence += [Evidence(400, "prosecution", 100.0, 0.0)]  # one query, surely a repeat
    _, shares = expect(evidence)
    assert 0.5 < shares["prosecution"].share < 0.6  # not 1.0: ten pseudo-queries at the mean


def test_a_kind_whose_queries_carry_no_evidence_has_a_share_anywhere_in_0_to_1() -> None:
    # Anonymous contacts among many look-alikes: every one's comparisons average to 1.
    evidence = [Evidence(n, "ozd", 100.0 if n % 2 else 0.0, 0.0) for n in range(400)]
    evidence += [Evidence(400 + n, "helpline", 1.0, 0.5) for n in range(300)]
    expected, shares = expect(evidence)
    assert (shares["helpline"].low, shares["helpline"].high) == (0.0, 1.0)
    assert shares["ozd"].high - shares["ozd"].low < 0.15
    found = estimated.estimate(1000, 1000, expected)
    low, high = found.children_range
    assert low < found.estimated_children < high
    # The contacts may all be repeats, or none: 300 children either way, and a little more.
    assert high - low > 300


def test_no_evidence_no_estimate() -> None:
    assert expect([]) == ([], {})
    assert estimated.estimate(5, 7, []) == estimated.Estimate(
        5, 7, 5.0, 7.0, 0.0, 0.0, (5, 5), (7, 7)
    )


def test_the_estimate_takes_the_expected_repeats_off_the_counts() -> None:
    found = estimated.estimate(
        10,
        12,
        [Expected(0.5, 0.25, (0.2, 0.7), (0.1, 0.4)), Expected(1.0, 1.0, (1.0, 1.0), (1.0, 1.0))],
    )
    assert found.children_range == pytest.approx((8.3, 8.8))
    assert found.incidents_range == pytest.approx((10.6, 10.9))
    assert found.estimated_children == 8.5
    assert found.estimated_incidents == 10.75
    assert found.children_sd == pytest.approx(0.5)
    assert found.incidents_sd == pytest.approx((0.25 * 0.75) ** 0.5)


def test_reach_of_the_blocks_under_the_model() -> None:
    close = M["date-0-1"] + M["date-2-3"]
    assert reach(False, False, 0, False, M) == (0.0, pytest.approx(close * M["forms-shared"]))
    near, _ = reach(True, False, 3, False, M)
    assert near == pytest.approx(M["same-region"] * close)
    narrow, outside_close = reach(True, False, 1, False, M)
    assert narrow == pytest.approx(M["same-region"] * M["date-0-1"])
    # Outside a one-day window, dates 2-3 days apart at the same place would still join.
    assert outside_close > reach(True, False, 3, False, M)[1]
    every, _ = reach(True, True, 3, True, M)
    assert near < every <= 1.0  # a full birth date adds the born and moved blocks
    born_only, outside_close = reach(False, True, 3, True, M)
    assert born_only == pytest.approx(M["birth-exact"] * M["same-region"])
    assert outside_close == pytest.approx((1 - born_only) * close * M["forms-shared"])


def test_rates_of_an_institution_come_from_its_tied_records() -> None:
    tied = [Agreement("helpline", True, 0)] * 300 + [Agreement("ozd", None, None)]
    found = rates(tied, M)
    assert found["helpline"]["same-region"] > 0.95 > M["same-region"]
    assert found["helpline"]["date-0-1"] > 0.95 > M["date-0-1"]
    assert found["helpline"]["birth-exact"] == M["birth-exact"]
    # Nothing measured: the model's m.
    assert found["ozd"]["same-region"] == pytest.approx(M["same-region"])
    assert "schools" not in found


def test_forms_and_relationship_are_compared_only_for_close_dates() -> None:
    def prof(day: int, forms: str, relationship: str) -> probabilistic.Profile:
        return probabilistic.Profile(
            "ozd", f"ozd:{day}", day, "female", None, (2014, 5, 6), "72624", "BG-22",
            frozenset({forms}), frozenset({relationship}),
        )  # fmt: skip

    near = probabilistic.compare(prof(1, "physical", "parent"), prof(6, "sexual", "peer"))
    assert "forms-disjoint" in near and "relationship-disjoint" in near
    far = probabilistic.compare(prof(1, "physical", "parent"), prof(41, "sexual", "peer"))
    assert "date-31+" in far
    assert not [level for level in far if level.startswith(("forms", "relationship"))]


def reported_twice() -> list[dict[str, object]]:
    """The background children, each also in an ОЗД signal: a register where a child has two
    records on average, so that a contact's blocks are looked at whatever else is added."""
    return [
        *others(),
        *(
            {**c, "case_key": f"{c['case_key']}-ozd", "institution": "ozd",
             "incident_reference": f"ozd:{c['case_key']}"}
            for c in others()
        ),
    ]  # fmt: skip


def anonymous_contact(key: str, day: str, **more: object) -> dict[str, object]:
    return case(key, f"helpline:{key}", day, age=6, region="BG-22", forms=("physical",), **more)


def test_an_anonymous_contact_is_counted_apart_but_estimated_as_the_child_reported() -> None:
    linkage = link(
        [
            *reported_twice(),
            case("police", "mvr:F1", "2021-03-01", "k1:aa", birth="2014-05-06", ekatte="68134"),
            anonymous_contact("helpline", "2021-03-01"),
        ]
    )
    assert linkage.children() == 32  # counted apart: never merged on an age and a region
    assert "helpline" in linkage.expected
    found = linkage.estimate()
    assert found.children == 32
    assert found.estimated_children < 31.5  # but most likely the child the police reported
    assert found.estimated_incidents < found.incidents - 0.5


def test_a_contact_no_one_resembles_is_likely_a_child_of_its_own() -> None:
    def contact_on(day: str) -> float:
        linkage = link(
            [
                *reported_twice(),
                case("police", "mvr:F1", "2021-03-01", "k1:aa", birth="2014-05-06", ekatte="68134"),
                anonymous_contact("helpline", day),
            ]
        )
        return linkage.expected["helpline"].duplicate

    assert contact_on("2021-03-01") > 0.9
    assert contact_on("2021-11-25") < 0.5  # no one at all reported within weeks of it


def test_two_queries_of_one_child_repeat_it_once_not_twice() -> None:
    linkage = link(
        [
            *others(),
            # One child without a number, seen twice by two institutions two months apart:
            # too far apart to link for sure, so both stay (a possible link).
            case("ozd", "ozd:S1", "2021-03-01", birth="2015-02-03", ekatte="72624"),
            case("school", "schools:P1", "2021-05-03", birth="2015-02-03", ekatte="72624"),
        ]
    )
    assert not [r for r in linkage.reasons if r.rule == "probabilistic"]
    first, second = linkage.expected["ozd"], linkage.expected["school"]
    assert first.duplicate < 0.05  # nothing before it resembles it
    assert second.duplicate > 0.5  # the ozd case before it does
    assert first.duplicate + second.duplicate < 1.05
    # The same child, but two months later: another incident, not one counted already.
    assert second.merged < 0.2 * second.duplicate


def test_a_query_the_model_linked_is_not_expected_to_repeat_again() -> None:
    linkage = link(
        [
            *others(),
            case("police", "mvr:F1", "2021-03-01", "k1:aa", birth="2014-05-06", ekatte="72624"),
            case("ozd", "ozd:S1", "2021-03-02", birth="2014-05-06", ekatte="72624"),
        ]
    )
    assert linkage.child_of["ozd"] == linkage.child_of["police"]
    assert "ozd" not in linkage.expected
    found = linkage.estimate()
    assert found.estimated_children == found.children  # nothing left to estimate


def test_deterministic_rules_only_estimate_nothing() -> None:
    linkage = link([*others(), anonymous_contact("helpline", "2021-03-01")], probabilistic=False)
    assert linkage.expected == {}
    assert linkage.estimate().estimated_children == linkage.children()


def test_statistics_give_the_years_estimate_beside_its_count() -> None:
    cases = [
        *reported_twice(),
        case("police", "mvr:F1", "2021-03-01", "k1:aa", birth="2014-05-06", ekatte="68134"),
        anonymous_contact("helpline", "2021-03-01"),
        anonymous_contact("last-year", "2020-06-01", sex="male"),
    ]
    linkage = link(cases)
    assert {"helpline", "last-year"} <= linkage.expected.keys()
    figures = statistics(cases, linkage, 2021)
    assert figures.estimate is not None
    # Only the queries whose incident falls in the year are taken off the year's count.
    repeated = linkage.expected["helpline"]
    assert figures.estimate.estimated_children == figures.total.children - repeated.duplicate
    assert figures.estimate.estimated_incidents == figures.total.incidents - repeated.merged
    shown = figures.as_dict()["estimate"]
    assert shown["children"] == round(figures.total.children - repeated.duplicate, 1)
    assert shown["repeat_shares"] == {k: s._asdict() for k, s in linkage.shares.items()}
    assert shown["children_range"] == [round(x, 1) for x in figures.estimate.children_range]
    assert "Estimated: " in report.text_table(figures)


def test_statistics_without_the_model_have_no_estimate() -> None:
    cases = [*others(), anonymous_contact("helpline", "2021-03-01")]
    figures = statistics(cases, link(cases, probabilistic=False), 2021)
    assert figures.estimate is None
    assert figures.as_dict()["estimate"] is None
    assert "Estimated: " not in report.text_table(figures)
    assert "total (estimated)" not in report.to_csv(figures)


def test_a_contact_that_says_nothing_keeps_the_share_of_its_kind() -> None:
    cases = [
        *reported_twice(),
        case("police", "mvr:F1", "2021-03-01", "k1:aa", birth="2014-05-06", ekatte="68134"),
        anonymous_contact("helpline", "2021-03-01"),
        # No sex, no age, no region: no block reaches it, nothing is compared.
        case("silent", "helpline:S", "2021-05-01", sex="unknown", region=None, relationships=[]),
    ]
    linkage = link(cases)
    share = linkage.shares["helpline"].share
    assert 0.5 < share < 1.0
    assert linkage.expected["silent"].duplicate == pytest.approx(share, abs=1e-4)
