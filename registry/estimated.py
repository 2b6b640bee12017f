"""How many children and incidents there are, estimated: the count corrected, in expectation,
for the children the register cannot tie to their other records.

The linkage never merges a child it is not sure of (registry/probabilistic.py), so the count
of distinct children is an upper bound: an anonymous helpline contact about a child another
institution reported is counted twice. This module answers the statistician's question beside
it: *how many would there be*, in expectation, under the same Fellegi–Sunter model.

Every child group the deterministic rules leave without a pseudonym (a *query*) is taken in a
fixed order, after every identified child, and asked: is it a child counted before it? With
`n` units (children) before it, a share `π` of queries of its kind being such a child, and the
Bayes factors `BF_g = m/u` of its comparisons with each earlier unit `g`,

    P(counted before | data) = π·x / ((1 - π) + π·x),  x = Σ_g BF_g / n.

The comparisons inside the query's blocks are made (registry/blocking.py); a unit outside
them is known only to be outside, a comparison whose Bayes factor is P_m(outside) / P_u(outside)
≈ 1 - recall, the recall being the share of one child's records its blocks would reach under
the model's m (`reach`). A query no block reaches (nothing to compare) keeps the prior: x = 1.

`π` per kind of query (the institution that sent it, or "several") is estimated from the data
by expectation-maximisation (`expect`), as Fellegi–Sunter's λ is: no truth is used; its range
is two standard errors from the data's Fisher information (`Share`). The m's of place and date
that `reach` uses are each institution's own (`rates`), from the records the rules tied.
The expected incidents follow the same posteriors: a query that is a child counted before
joins that child's incident when their dates are at most 3 days apart with compatible forms
(the incident rule), so the expected merges are the part of `x` carried by such comparisons.

The count, not this, is what the register reports per cell; the estimate is a total, with
its standard deviation given the shares and its range as they range (registry/README.md,
"Estimated counts", which also says where the model's own error shows).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

#: Queries of a kind weigh as if this many more queries of the average share were among them,
#: and all queries as if this many more of share 1/2: a kind of two queries, or a register of
#: two, does not get a share of 0 or 1.
PSEUDO_QUERIES = 10.0
#: An institution's agreement rates weigh as if this many more pairs at the model's m were seen.
PSEUDO_PAIRS = 50.0
_ITERATIONS = 500
_TOLERANCE = 1e-9


class Evidence(NamedTuple):
    """What the comparisons of one query say (see the module's docstring)."""

    case: int  # the query's first case: its incident dates the query in a year
    kind: str  # the institution that sent it, or "several"
    ratio: float  # x: mean Bayes factor over the units before it
    close: float  # the part of x from units whose incident it would join


class Agreement(NamedTuple):
    """How one record agrees with another record of its own child."""

    kind: str  # the record's institution
    place: bool | None  # the same region (None: either has no place)
    gap: int | None  # days between their incident dates (None: either has no date)


class Expected(NamedTuple):
    """For one query: the probability that its child was counted before, and the expected
    number of its incidents that were; each also at the two ends of its kind's share range."""

    duplicate: float
    merged: float
    duplicate_range: tuple[float, float]
    merged_range: tuple[float, float]


class Share(NamedTuple):
    """The share of a kind of query that repeat a child, and its range: two standard errors
    either way (from the data's Fisher information), within [0, 1]. Where the queries carry
    no evidence (anonymous contacts among many look-alikes), the range is [0, 1]."""

    share: float
    low: float
    high: float


def reach(
    near: bool, far: bool, days: int, exact: bool, m: Mapping[str, float]
) -> tuple[float, float]:
    """The share of one child's other records a query case's blocks reach, and the share
    outside them dated at most 3 days from it (an incident it would join), under the m's.

    The near block needs the same place and a date within `days`; with a full birth date the
    born block adds the same date and place at any date, and the moved block the same date at
    any place within `days`. Sex and possible birth year agree for one child (m = 1).
    """
    place = m["same-region"]
    close = m["date-0-1"] + m["date-2-3"]
    window = m["date-0-1"] + (m["date-2-3"] if days > 1 else 0.0)
    birth = m["birth-exact"] if exact else 0.0
    inside = place * window if near else 0.0
    inside_close = inside
    if near and birth:  # moved: the same birth date at another place
        moved = birth * window * (1 - place)
        inside += moved
        inside_close += moved
    if far and birth:  # born: the same birth date and place, at dates near did not cover
        covered = window if near else 0.0
        inside += birth * place * (1 - covered)
        inside_close += birth * place * max(close - covered, 0.0)
    inside = min(inside, 1.0)
    return inside, max(close - inside_close, 0.0) * m["forms-shared"]


def rates(agreements: Iterable[Agreement], m: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Per institution, the model's m with the place and date rates its records show against
    their own child's other records (pairs the rules tied, by pseudonym or by reference),
    smoothed towards the model's m. The model's m of place and date come from identified
    pairs, which a helpline contact never is: its blocks reach its child better than that."""
    seen: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for kind, place, gap in agreements:
        found = seen[kind]
        if place is not None:
            found[0] += 1
            found[1] += place
        if gap is not None:
            found[2] += 1
            found[3] += gap <= 1
            found[4] += 2 <= gap <= 3

    def smooth(level: str, hits: int, of: int) -> float:
        return (hits + PSEUDO_PAIRS * m[level]) / (of + PSEUDO_PAIRS)

    return {
        kind: {
            **m,
            "same-region": smooth("same-region", places, placed),
            "date-0-1": smooth("date-0-1", near, dated),
            "date-2-3": smooth("date-2-3", close, dated),
        }
        for kind, (placed, places, dated, near, close) in seen.items()
    }


def expect(evidence: Sequence[Evidence]) -> tuple[list[Expected], dict[str, Share]]:
    """Each query's posteriors, and the share of each kind of query that are children counted
    before, estimated by expectation-maximisation."""
    if not evidence:
        return [], {}
    kinds = sorted({e.kind for e in evidence})
    kind = np.array([kinds.index(e.kind) for e in evidence])
    ratio = np.array([e.ratio for e in evidence])
    close = np.array([e.close for e in evidence])
    sizes = np.bincount(kind, minlength=len(kinds))
    share = np.full(len(kinds), 0.5)

    def scale(shares: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """π / ((1 - π) + πx) per query: times x, its posterior of repeating a child."""
        prior = shares[kind]
        factor: npt.NDArray[np.float64] = prior / ((1 - prior) + prior * ratio)
        return factor

    for _ in range(_ITERATIONS):
        posterior = scale(share) * ratio
        mean = (float(posterior.sum()) + PSEUDO_QUERIES * 0.5) / (len(evidence) + PSEUDO_QUERIES)
        found = np.bincount(kind, weights=posterior, minlength=len(kinds))
        updated = (found + PSEUDO_QUERIES * mean) / (sizes + PSEUDO_QUERIES)
        done = float(np.abs(updated - share).max()) < _TOLERANCE
        share = updated
        if done:
            break
    # Fisher information of each kind's share: how sharply the data pin it down.
    prior = share[kind]
    score = (ratio - 1) / ((1 - prior) + prior * ratio)
    information = np.bincount(kind, weights=score * score, minlength=len(kinds))
    with np.errstate(divide="ignore"):
        spread = 2 / np.sqrt(information)
    low, high = np.clip(share - spread, 0, 1), np.clip(share + spread, 0, 1)

    def posteriors(shares: npt.NDArray[np.float64]) -> tuple[list[float], list[float]]:
        factor = scale(shares)
        return (factor * ratio).tolist(), np.minimum(factor * close, 1.0).tolist()

    (duplicate, merged), (fewest, least), (most, greatest) = map(posteriors, (share, low, high))
    expected = [
        Expected(*found, (few, many), (less, more))
        for found, few, many, less, more in zip(
            zip(duplicate, merged, strict=True), fewest, most, least, greatest, strict=True
        )
    ]
    shares = {
        k: Share(*(round(float(x), 4) for x in found))
        for k, *found in zip(kinds, share, low, high, strict=True)
    }
    return expected, shares


class Estimate(NamedTuple):
    """Distinct children and incidents as counted, and as estimated: with their standard
    deviations given the shares, and their ranges as the shares range (`Share`)."""

    children: int
    incidents: int
    estimated_children: float
    estimated_incidents: float
    children_sd: float
    incidents_sd: float
    children_range: tuple[float, float]
    incidents_range: tuple[float, float]


def estimate(children: int, incidents: int, expected: Sequence[Expected]) -> Estimate:
    """The counts less what the queries among them are expected to repeat."""
    repeated = sum(e.duplicate for e in expected)
    merged = sum(e.merged for e in expected)
    return Estimate(
        children,
        incidents,
        children - repeated,
        incidents - merged,
        math.sqrt(sum(e.duplicate * (1 - e.duplicate) for e in expected)),
        math.sqrt(sum(e.merged * (1 - e.merged) for e in expected)),
        (
            children - sum(e.duplicate_range[1] for e in expected),
            children - sum(e.duplicate_range[0] for e in expected),
        ),
        (
            incidents - sum(e.merged_range[1] for e in expected),
            incidents - sum(e.merged_range[0] for e in expected),
        ),
    )
