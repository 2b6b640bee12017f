"""The Fellegi–Sunter step on hand-made cases: what it links, what it only proposes, what it
never merges, and the reason it records."""

from __future__ import annotations

from typing import Any

import pytest

from registry import blocking, probabilistic
from registry.linking import Linkage, link
from registry.stats import for_year
from tests.registry.cases import case


def one_child(linkage: Linkage, *keys: str) -> bool:
    return len({linkage.child_of[k] for k in keys}) == 1


def others() -> list[dict[str, Any]]:
    """Unrelated identified children around the cases under test (a little background)."""
    return [
        case(
            f"other{n}",
            f"mvr:O{n}",
            f"2021-0{1 + n % 9}-1{n % 10}",
            f"k1:o{n}",
            birth=f"20{10 + n % 7}-0{1 + n % 9}-2{n % 8}",
            sex=("male", "female")[n % 2],
            ekatte=("68134", "56784", "10135")[n % 3],
        )
        for n in range(30)
    ]


def test_ozd_case_without_pseudonym_joins_the_child_the_police_reported() -> None:
    linkage = link(
        [
            *others(),
            case("police", "mvr:F1", "2021-03-01", "k1:aa", birth="2014-05-06", ekatte="72624"),
            # No ЕГН written, no reference to the police file: only what the child looks like.
            case("ozd", "ozd:S1", "2021-03-02", birth="2014-05-06", ekatte="72624"),
        ]
    )
    assert one_child(linkage, "police", "ozd")
    assert linkage.incident_of["police"] == linkage.incident_of["ozd"]  # the incident rules
    assert "ozd" not in linkage.unlinked
    [reason] = [r for r in linkage.reasons_for("ozd") if r.rule == "probabilistic"]
    assert {reason.a, reason.b} == {"police", "ozd"}
    # The reason names its weight and every field's part, so an analyst can challenge it.
    assert reason.evidence.startswith("match weight ")
    weight = float(reason.evidence.split()[2].rstrip(":"))
    assert weight >= probabilistic.UPPER
    for level in ("prior", "birth-exact", "sex-agree", "same-ekatte", "date-0-1", "forms-shared"):
        assert level in reason.evidence


def test_two_cases_without_pseudonym_can_be_one_child() -> None:
    linkage = link(
        [
            *others(),
            case("ozd", "ozd:S1", "2021-03-02", birth="2014-05-06", ekatte="72624"),
            case("health", "health:E1", "2021-03-03", birth="2014-05-06", ekatte="72624"),
        ]
    )
    assert one_child(linkage, "ozd", "health")
    assert linkage.unlinked & {"ozd", "health"} == set()


PLOVDIV: dict[str, Any] = {"ekatte": "56784", "region": None}  # region from the classifier
SOFIA: dict[str, Any] = {"ekatte": "68134", "region": None}


def test_police_at_the_scene_and_ozd_at_home_are_compared_across_places() -> None:
    # The police write where it happened (Plovdiv), ОЗД where the child lives (Sofia): no place
    # is shared, so only the *moved* block (birth date, sex, dates) brings them together.
    cases = [
        *others(),
        case("police", "mvr:F1", "2021-03-01", "k1:aa", birth="2014-05-06", **PLOVDIV),
        case("ozd", "ozd:S1", "2021-03-02", birth="2014-05-06", **SOFIA),
    ]
    linkage = link(cases)
    listed = {frozenset((p.a, p.b)) for p in linkage.possible}
    assert one_child(linkage, "police", "ozd") or frozenset(("police", "ozd")) in listed
    for reason in linkage.reasons_for("ozd"):
        assert reason.rule != "probabilistic" or "other-ekatte" in reason.evidence
    # A child born a day apart is not in the block (and an exact birth date is what it keys on).
    cases[-1] = case("ozd", "ozd:S1", "2021-03-02", birth="2014-05-07", **SOFIA)
    later = link(cases)
    assert not one_child(later, "police", "ozd")
    assert frozenset(("police", "ozd")) not in {frozenset((p.a, p.b)) for p in later.possible}


def test_anonymous_helpline_contact_a_week_away_stays_separate() -> None:
    linkage = link(
        [
            *others(),
            case("ozd", "ozd:S1", "2021-03-01", "k1:aa", birth="2014-05-06", region="BG-22"),
            case(
                "helpline",
                "helpline:H1",
                "2021-03-08",
                band="6-11",
                region="BG-22",
                relationships=["unknown"],
            ),
        ]
    )
    assert not one_child(linkage, "ozd", "helpline")
    assert "helpline" in linkage.unlinked
    assert not [r for r in linkage.reasons if r.rule == "probabilistic"]


def test_different_pseudonyms_are_never_merged_even_through_a_case_matching_both() -> None:
    alike = {"birth": "2014-05-06", "ekatte": "72624"}
    linkage = link(
        [
            *others(),
            case("police", "mvr:F1", "2021-03-01", "k1:aa", **alike),
            case("health", "health:E1", "2021-03-01", "k1:bb", **alike),
            # Matches both equally well: it may be either, so it joins neither.
            case("ozd", "ozd:S1", "2021-03-01", **alike),
        ]
    )
    assert not one_child(linkage, "police", "health")
    assert "ozd" in linkage.unlinked
    listed = {frozenset((p.a, p.b)) for p in linkage.possible}
    assert listed == {frozenset(("ozd", "police")), frozenset(("ozd", "health"))}
    assert all("runner-up" in p.evidence for p in linkage.possible)


def test_twins_of_one_incident_stay_two_children() -> None:
    twin = {"birth": "2014-05-06", "ekatte": "72624", "sex": "male"}
    linkage = link(
        [
            *others(),
            # One police file lists both twins, nobody has their ЕГН.
            case("police-1", "mvr:F1", "2021-03-01", **twin),
            case("police-2", "mvr:F1", "2021-03-01", **twin),
            # ОЗД opens one signal per child.
            case("ozd-1", "ozd:S1", "2021-03-02", **twin),
            case("ozd-2", "ozd:S2", "2021-03-02", **twin),
        ]
    )
    assert not one_child(linkage, "police-1", "police-2")
    assert not one_child(linkage, "ozd-1", "ozd-2")
    # Either twin of the police file could be either signal's child: proposed, never merged.
    assert linkage.children() == len(others()) + 4
    assert {frozenset((p.a, p.b)) for p in linkage.possible} == {
        frozenset((police, ozd))
        for police in ("police-1", "police-2")
        for ozd in ("ozd-1", "ozd-2")
    }


def test_twins_with_pseudonyms_keep_a_case_without_one_apart() -> None:
    twin = {"birth": "2014-05-06", "ekatte": "72624", "sex": "female"}
    linkage = link(
        [
            *others(),
            case("police-1", "mvr:F1", "2021-03-01", "k1:aa", **twin),
            case("police-2", "mvr:F1", "2021-03-01", "k1:bb", **twin),
            case("ozd", "ozd:S1", "2021-03-02", **twin),
        ]
    )
    assert linkage.children() == len(others()) + 3
    assert {frozenset((p.a, p.b)) for p in linkage.possible} == {
        frozenset(("ozd", "police-1")),
        frozenset(("ozd", "police-2")),
    }


def test_a_known_sex_conflict_is_never_linked() -> None:
    linkage = link(
        [
            *others(),
            case("police", "mvr:F1", "2021-03-01", "k1:aa", birth="2014-05-06", sex="male"),
            case("ozd", "ozd:S1", "2021-03-01", birth="2014-05-06", sex="female"),
        ]
    )
    assert not one_child(linkage, "police", "ozd")
    assert linkage.possible == []


def test_deterministic_rules_only_on_request() -> None:
    cases = [
        *others(),
        case("police", "mvr:F1", "2021-03-01", "k1:aa", birth="2014-05-06", ekatte="72624"),
        case("ozd", "ozd:S1", "2021-03-02", birth="2014-05-06", ekatte="72624"),
    ]
    assert not one_child(link(cases, probabilistic=False), "police", "ozd")
    assert one_child(link(cases), "police", "ozd")


def test_u_comes_from_the_data_and_m_of_dates_from_identified_pairs() -> None:
    def flat(n: int, day: str, region: str) -> probabilistic.Profile:
        return probabilistic.Profile(
            institution="mvr",
            record=f"mvr:{n}",
            day=int(day.replace("-", "")),
            sex="female",
            born=None,
            exact=None,
            ekatte=None,
            region=region,
            forms=frozenset({"physical"}),
            relationships=frozenset(),
        )

    # Everyone in one region: agreeing on it tells nothing, its weight falls to about zero.
    profiles = [flat(n, f"2021-01-{1 + n % 28:02d}", "BG-22") for n in range(3000)]
    model = probabilistic.estimate(profiles, list(range(len(profiles))), [])
    assert abs(model.weights["same-region"] - 0) < 0.3
    assert model.weights["same-region"] < probabilistic.estimate([], [], []).weights["same-region"]
    # Identified pairs weeks apart make a far date count less against a link.
    far = probabilistic.estimate(profiles, list(range(len(profiles))), [(0, 20)] * 2000)
    assert far.weights["date-8-30"] > model.weights["date-8-30"]


def test_statistics_report_possible_links_beside_unlinked_cases() -> None:
    twin = {"birth": "2014-05-06", "ekatte": "72624", "sex": "female"}
    figures = for_year(
        [
            *others(),
            case("police-1", "mvr:F1", "2021-03-01", "k1:aa", **twin),
            case("police-2", "mvr:F1", "2021-03-01", "k1:bb", **twin),
            case("ozd", "ozd:S1", "2021-03-02", **twin),
        ],
        2021,
    )
    body = figures.as_dict()
    assert (body["unlinked_cases"], body["possible_link_cases"]) == (1, 3)
    assert body["total"]["children"] == len(others()) + 3


def test_blocks_find_candidates_by_birth_year_age_band_or_no_age_at_all() -> None:
    from registry.ekatte import regions
    from registry.linking import _parse

    cases = [
        _parse(c)
        for c in (
            case("born", "mvr:1", "2021-05-10", "k1:a", birth="2012-03-04"),
            case("far", "mvr:2", "2021-05-10", "k1:b", birth="2001-03-04"),
            case("band", "helpline:1", "2021-05-11", band="6-11"),
            case("ageless", "helpline:2", "2021-05-11"),
            case("bad-birth", "ozd:1", "2021-05-10", birth="20xx-03-04"),
        )
    ]
    wanted = {2: (True, False, 3), 3: (True, False, 3)}
    found = blocking.Blocks(cases, regions(), wanted).found
    # A band of 6-11 in 2021 allows a 2012 birth, not a 2001 one, and any case without an age
    # (a birth date that is not one is none); a contact that says nothing of the age may be
    # any child. Each query finds itself too: linking skips its own group.
    assert {cases[i].key for i in found[2]} == {"born", "band", "ageless", "bad-birth"}
    assert {cases[i].key for i in found[3]} == {"born", "far", "band", "ageless", "bad-birth"}


@pytest.mark.parametrize(
    ("block", "query", "candidate"),
    [
        # near: a query without a birth date, candidates of the same place and birth year
        ("near", {"band": "6-11"}, {"birth": "2012-03-04"}),
        # moved: the same birth date in another region
        ("moved", {"birth": "2012-03-04"}, {"birth": "2012-03-04", "region": "BG-01"}),
    ],
)
def test_blocks_find_incident_dates_within_the_query_window_and_no_further(
    block: str, query: dict[str, Any], candidate: dict[str, Any]
) -> None:
    from datetime import date, timedelta

    from registry.ekatte import regions
    from registry.linking import _parse

    # Queries on sixteen consecutive days (every position of a day in an 8-day span), with
    # candidates 0-5 days either side; windows of 3 days and of 1.
    for days in (3, 1):
        for start in range(16):
            on = date(2021, 5, 1) + timedelta(days=start)
            offsets = range(-5, 6)
            cases = [
                _parse(case("query", "helpline:Q", on.isoformat(), **query)),
                *(
                    _parse(
                        case(
                            f"c{offset}",
                            f"ozd:{offset}",
                            (on + timedelta(days=offset)).isoformat(),
                            f"k1:{offset}",
                            **candidate,
                        )
                    )
                    for offset in offsets
                ),
            ]
            found = blocking.Blocks(cases, regions(), {0: (True, False, days)}).found[0]
            assert {cases[i].key for i in found} == {"query"} | {
                f"c{offset}" for offset in offsets if abs(offset) <= days
            }, (block, days, on)
