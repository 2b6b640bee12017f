"""The register's EKATTE classifier: every settlement has one region, and statistics use it."""

from __future__ import annotations

from collections import Counter

from registry.ekatte import names, region_of, regions
from registry.simulate.kinds import PLACES
from registry.stats import for_year
from tests.registry.cases import case


def test_every_settlement_has_one_of_the_28_regions() -> None:
    table = regions()
    assert len(table) > 5000
    assert all(len(code) == 5 and code.isdigit() for code in table)
    per_region = Counter(table.values())
    assert sorted(per_region) == [f"BG-{n:02d}" for n in range(1, 29)]
    assert min(per_region.values()) >= 30  # Sofia city has the fewest settlements


def test_the_settlements_the_contracts_name() -> None:
    # institutions README §8: 68134 Sofia, 56784 Plovdiv, 10135 Varna, 07079 Burgas, 63427 Ruse.
    expected = {"68134": "BG-22", "56784": "BG-16", "10135": "BG-03", "07079": "BG-02"}
    expected["63427"] = "BG-18"
    assert {code: region_of(code) for code in expected} == expected
    assert names()["68134"] == "София"
    assert region_of("99999") is None and region_of(None) is None and region_of("") is None


def test_the_simulated_regional_centres_agree_with_the_classifier() -> None:
    for place in PLACES:
        assert region_of(place.ekatte) == place.region, place.city
    assert len({p.region for p in PLACES}) == 28


def test_a_case_with_only_a_village_is_counted_in_its_region() -> None:
    # Крива бара (39743) lies in Montana region; the case has no region of its own.
    cases = [case("a", "mvr:F1", "2021-05-01", "k1:a", ekatte="39743", region=None)]
    rows = {(r.dimension, r.value): r for r in for_year(cases, 2021).rows}
    assert rows[("region", "BG-12")].children == 1
    assert rows[("region", "unknown")].children == 0
