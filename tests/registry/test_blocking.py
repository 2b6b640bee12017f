"""The blocking of the probabilistic step against its rules written out pair by pair."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from registry.blocking import Blocks
from registry.ekatte import regions
from registry.linking import _Case, _parse
from tests.registry.cases import case


def _years(flat: dict[str, Any]) -> list[int | None]:
    """The birth years a case allows, as the blocking's docstring defines them."""
    birth = flat["birth_date"]
    try:
        if birth:
            return [int(birth[:4])]
        seen = int(flat["incident_date"][:4])
    except ValueError:
        return [None]
    if flat["age"] is not None:
        return list(range(seen - int(flat["age"]) - 2, seen - int(flat["age"]) + 2))
    if flat["age_band"]:
        low, high = (int(x) for x in flat["age_band"].split("-"))
        return list(range(seen - high - 2, seen - low + 2))
    return [None]


def _places(flat: dict[str, Any]) -> set[str]:
    ekatte = flat["ekatte"]
    region = flat["region"] or (regions().get(ekatte) if ekatte else None)
    places = {f"region:{region}"} if region else set()
    return places | {f"ekatte:{ekatte}"} if ekatte else places


def _full(flat: dict[str, Any]) -> str | None:
    birth = flat["birth_date"]
    return birth if birth and len(birth) == 10 else None


def _expected(cases: list[_Case], q: int, near: bool, born: bool, days: int) -> set[int]:
    query, found = cases[q], set()
    for i, other in enumerate(cases):
        if query.sex and other.sex and query.sex != other.sex:
            continue
        shared_place = bool(_places(dict(query.flat)) & _places(dict(other.flat)))
        window = bool(query.day and other.day and abs(query.day - other.day) <= days)
        mine, theirs = _years(dict(query.flat)), _years(dict(other.flat))
        year = mine == [None] or theirs == [None] or bool(set(mine) & set(theirs))
        birth = _full(dict(query.flat))
        same_birth = birth is not None and birth == _full(dict(other.flat))
        if (
            (near and window and shared_place and year)
            or (born and same_birth and shared_place)
            or (near and window and same_birth)
        ):
            found.add(i)
    return found


def _random_case(rnd: random.Random, n: int) -> dict[str, Any]:
    on = date(2021, 5, 1) + timedelta(days=rnd.randrange(12))
    return case(
        f"c{n:03}",
        f"ozd:{n}",
        rnd.choice([on.isoformat(), on.isoformat(), ""]),
        sex=rnd.choice(["female", "male", None]),
        birth=rnd.choice(
            [None, None, "2012-03-04", "2012-03-05", "2013-03-04", "2012-03", "20xx-03-04"]
        ),
        age=rnd.choice([None, None, None, 8, 9]),
        band=rnd.choice([None, None, "6-11", "12-14", "11-6"]),  # the last one upside down
        region=rnd.choice(["BG-22", "BG-22", "BG-01", None]),
        ekatte=rnd.choice([None, None, "68134", "10135"]),
    )


@pytest.mark.parametrize("seed", range(6))
def test_blocks_find_exactly_the_pairs_the_rules_allow(seed: int) -> None:
    rnd = random.Random(seed)
    cases = [_parse(_random_case(rnd, n), n) for n in range(160)]
    wanted = {
        q: (rnd.random() < 0.8, rnd.random() < 0.5, rnd.choice([1, 3]))
        for q in rnd.sample(range(len(cases)), 40)
    }
    found = Blocks(cases, regions(), wanted).found
    for q, (near, born, days) in wanted.items():
        assert found[q] == _expected(cases, q, near, born, days), (seed, cases[q].flat)
    assert set(found) <= set(wanted)
    assert sum(map(len, found.values())) > 100  # the random cases do meet


def test_block_keys_stay_below_the_day_bits_even_for_absurd_values() -> None:
    import numpy as np

    from registry.blocking import _DAY_BITS, _keys

    # An age of 10**13 years gives a birth year of about -10**13: the key parts no longer fit
    # beside the day in an int64, and ids of the distinct keys are used instead.
    for year in (2012, -(10**13)):
        cases = (np.array([1, 2, 1]), np.array([0, 5, 0]), np.array([year, 2011, year]))
        queries = (np.array([1, 2]), np.array([0, 0]), np.array([year, 2011]))
        case_keys, query_keys = _keys(cases, queries)
        both = np.concatenate([case_keys, query_keys])
        assert both.min() >= 0 and both.max() < 1 << (63 - _DAY_BITS)
        assert case_keys[0] == case_keys[2] == query_keys[0]
        assert len({*case_keys.tolist(), *query_keys.tolist()}) == 3
