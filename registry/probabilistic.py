"""Fellegi–Sunter linking of the children the deterministic rules leave without a pseudonym.

After `same-pseudonym` and `reference` (registry/linking.py), a child group whose cases carry no
pseudonym is a *query*: it may be the same child as another group (with a pseudonym or without)
that no identifier ties to it. For each query this module

1. **blocks** (registry/blocking.py): looks only at cases of the same sex (or unknown), place
   and possible birth year with an incident date at most `BLOCK_DAYS` away, at cases with the
   same full birth date, sex and place at any date (a later incident of the same child), and
   at cases with the same full birth date and sex at most `BLOCK_DAYS` away at any place;
2. **compares** each pair field by field into levels (`compare`): birth date (exact, typo,
   consistent partial date, consistent age or band), sex, place (EKATTE, else region), incident
   date distance, violence forms, perpetrator relationship;
3. **weighs** the pair: Σ log2(m/u) over the levels plus the prior log-odds of two random cases
   being one child (`estimate`). u (how often two *different* children agree so) comes from
   random pairs of the same cases; m (how often one child's records agree so) is fixed in
   `LEVELS` for birth date and sex, and for the other fields re-estimated from the pairs a
   pseudonym proves are one child (Splink's "m from a label column") - never from a
   simulation's truth. The prior is the share of pairs the deterministic rules linked;
4. **decides**: a weight ≥ `UPPER` (match probability ≥ 0.99) whose runner-up group is at least
   `GAP` lower links (`LinkReason` "probabilistic" with the weight and each field's part); a
   weight ≥ `LOWER` (probability ≥ 0.5) otherwise is a `PossibleLink` for clerical review, not
   merged; below that the query stays separate;
5. **gives its evidence** to the estimate (registry/estimated.py): each query's comparisons as
   the deterministic rules left it, looked at once before any decision (the first decision
   reuses that look unless a link has since touched a group it saw).

Hard vetoes, whatever the weight: a known-sex conflict, birth information that cannot be one
child, two cases of one record (its children are distinct), two cases of one institution within
`BLOCK_DAYS` (an institution reports one child's incident once: twins), and two groups that both
hold pseudonyms (identified children are told apart by their pseudonyms only).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from registry.blocking import Blocks
from registry.blocking import CaseLike as Blocked
from registry.estimated import Agreement, Evidence, rates, reach

#: Match probability ≥ 0.99 (log2 99): link.
UPPER = math.log2(99)
#: Match probability ≥ 0.5: a possible link for clerical review.
LOWER = 0.0
#: The best group must be this much likelier (log2 99: 99 times) than the runner-up.
GAP = math.log2(99)
#: Incident dates of one event as different institutions write them (report, referral, visit).
BLOCK_DAYS = 3
#: Random pairs drawn to estimate u, smoothed towards the u of `LEVELS` with the weight of
#: `PSEUDO_PAIRS` pairs so that a handful of cases does not give absurd u's.
SAMPLE_PAIRS = 60_000
PSEUDO_PAIRS = 1_000
#: The share of pairs that are one child before any data: a country-year of ~10,000 cases with
#: about one other case per child (a handful of hand-made cases must not look like one child).
PRIOR_DEFAULT = 1e-4
_POSSIBLE_PER_QUERY = 3
_RIVALS = 6  # candidate groups looked at for a rival of the best
_M_PAIRS_PER_CHILD = 3

# level: (class, m, u before any data). A level's class is the set of levels one pair of
# precisions can reach (full birth dates: exact, typo, conflict); m and u are conditional on it.
# m = P(level | one child): how institutions write one child (registry/README.md, "Probabilistic
# linking", gives the reason for each). The u column is a country-year (children 0–17, 28
# regions, 365 days) used only until the data's own random pairs say better.
LEVELS: dict[str, tuple[str, float, float]] = {
    "birth-exact": ("birth-full", 0.94, 1 / 6500),
    "birth-typo": ("birth-full", 0.06, 1 / 1500),
    "birth-conflict": ("birth-full", 0.0, 1.0),
    "birth-year": ("birth-partial", 1.0, 0.06),
    "birth-year-conflict": ("birth-partial", 0.0, 1.0),
    "birth-age": ("birth-age", 1.0, 0.3),
    "birth-age-conflict": ("birth-age", 0.0, 1.0),
    "sex-agree": ("sex", 1.0, 0.5),
    "sex-conflict": ("sex", 0.0, 0.5),
    "same-ekatte": ("ekatte", 0.75, 0.01),
    "other-ekatte": ("ekatte", 0.25, 0.99),
    "same-region": ("region", 0.85, 0.05),
    "other-region": ("region", 0.15, 0.95),
    "date-0-1": ("date", 0.70, 3 / 365),
    "date-2-3": ("date", 0.17, 4 / 365),
    "date-4-7": ("date", 0.03, 8 / 365),
    "date-8-30": ("date", 0.03, 46 / 365),
    "date-31+": ("date", 0.07, 0.85),
    "forms-shared": ("forms", 0.85, 0.3),
    "forms-disjoint": ("forms", 0.15, 0.7),
    "relationship-shared": ("relationship", 0.80, 0.3),
    "relationship-disjoint": ("relationship", 0.20, 0.7),
}
_VETO = frozenset({"birth-conflict", "birth-year-conflict", "birth-age-conflict", "sex-conflict"})
_INCIDENT_DAYS = 7  # dates further apart are compared as two incidents (the date-8-30 level)
_YEAR_WIDE = 400  # days: a birth interval up to this wide is a partial date, wider an age or band

Birth = tuple[tuple[int, int] | None, tuple[int, int, int] | None]
#: A candidate group of a query: (weight, group, query case, candidate case, levels).
_Found = tuple[float, int, int, int, tuple[str, ...]]


class CaseLike(Blocked, Protocol):
    """What linking knows of a case (registry.linking._Case)."""

    @property
    def key(self) -> str: ...

    @property
    def record(self) -> str: ...


class Profile(NamedTuple):
    """What one case says about its child, in comparable form (a tuple: half a million are made
    at national scale, and a frozen dataclass sets each field through `object.__setattr__`)."""

    institution: str
    record: str
    day: int
    sex: str | None
    born: tuple[int, int] | None
    exact: tuple[int, int, int] | None
    ekatte: str | None
    region: str | None
    forms: frozenset[str]
    relationships: frozenset[str]


class PossibleLink(NamedTuple):
    """A pair for clerical review: likely one child, not sure enough to merge."""

    a: str
    b: str
    weight: float
    evidence: str


class Match(NamedTuple):
    """A link the model made: case indices, the weight and the fields that carried it."""

    i: int
    j: int
    weight: float
    evidence: str


class Remainder(NamedTuple):
    """What the model did with the children the rules left without a pseudonym."""

    matches: list[Match]
    possible: list[PossibleLink]
    evidence: list[Evidence]  # of each query, as the deterministic rules left it
    repeated: set[int]  # the queries a link made one child with a unit before them


def profile(
    case: CaseLike, born: Callable[[Mapping[str, Any], int], Birth], regions: Mapping[str, str]
) -> Profile:
    flat = case.flat
    interval, exact = born(flat, case.day)
    ekatte = flat.get("ekatte")
    ekatte = str(ekatte) if ekatte else None
    region = flat.get("region") or (regions.get(ekatte) if ekatte else None)
    return Profile(  # positional: half a million profiles at national scale
        str(flat.get("institution") or case.record.split(":", 1)[0]),
        case.record,
        case.day,
        case.sex,
        interval,
        exact,
        ekatte,
        str(region) if region else None,
        code_set(tuple(flat.get("forms") or ()), "unspecified"),
        code_set(tuple(flat.get("relationships") or ()), "unknown"),
    )


@lru_cache(maxsize=1 << 12)
def code_set(codes: tuple[str, ...], vague: str | None = None) -> frozenset[str]:
    """The codes as a set, without the vague one; one shared set per combination (a few dozen
    recur over the million profiles of a national year: 0.3 GB less)."""
    return frozenset(codes) - {vague} if vague is not None else frozenset(codes)


def compare(a: Profile, b: Profile) -> tuple[str, ...]:
    """The level of every field both cases say something about (a missing field is neutral)."""
    # Unpacked once: a million comparisons at national scale, each reading every field twice.
    _, _, day_a, sex_a, born_a, exact_a, ekatte_a, region_a, forms_a, rel_a = a
    _, _, day_b, sex_b, born_b, exact_b, ekatte_b, region_b, forms_b, rel_b = b
    levels: list[str] = []
    if exact_a and exact_b:
        levels.append(
            "birth-exact"
            if exact_a == exact_b
            else "birth-typo"
            if _typo(exact_a, exact_b)
            else "birth-conflict"
        )
    elif born_a and born_b:
        wide = max(born_a[1] - born_a[0], born_b[1] - born_b[0]) > _YEAR_WIDE
        overlap = born_a[0] <= born_b[1] and born_b[0] <= born_a[1]
        level = "birth-age" if wide else "birth-year"
        levels.append(level if overlap else f"{level}-conflict")
    if sex_a and sex_b:
        levels.append("sex-agree" if sex_a == sex_b else "sex-conflict")
    if ekatte_a and ekatte_b:
        levels.append("same-ekatte" if ekatte_a == ekatte_b else "other-ekatte")
    elif region_a and region_b:
        levels.append("same-region" if region_a == region_b else "other-region")
    if day_a and day_b:
        gap = abs(day_a - day_b)
        levels.append(
            "date-0-1"
            if gap <= 1
            else "date-2-3"
            if gap <= 3
            else "date-4-7"
            if gap <= 7
            else "date-8-30"
            if gap <= 30
            else "date-31+"
        )
    # Forms and relationship describe an incident: two incidents of one child weeks apart
    # differ in them as much as two children do, so they are compared only for close dates.
    close = not (day_a and day_b) or abs(day_a - day_b) <= _INCIDENT_DAYS
    if close and forms_a and forms_b:
        levels.append("forms-shared" if forms_a & forms_b else "forms-disjoint")
    if close and rel_a and rel_b:
        levels.append("relationship-shared" if rel_a & rel_b else "relationship-disjoint")
    return tuple(levels)


def vetoed(a: Profile, b: Profile, levels: tuple[str, ...]) -> bool:
    if a.record == b.record:  # the children of one record are distinct
        return True
    if a.institution == b.institution and a.day and b.day and abs(a.day - b.day) <= BLOCK_DAYS:
        return True  # one institution reports one child's incident once: these are two children
    return not _VETO.isdisjoint(levels)


@dataclass(frozen=True, slots=True)
class Model:
    """log2(m/u) per level, the prior log-odds of two random cases being one child, and m."""

    weights: dict[str, float]
    prior: float
    m: dict[str, float]

    def weigh(self, levels: tuple[str, ...]) -> float:
        weights = self.weights
        return self.prior + sum(weights.get(level, 0.0) for level in levels)

    def explain(self, levels: tuple[str, ...]) -> str:
        weights = self.weights
        parts = ", ".join(f"{level} {weights.get(level, 0.0):+.1f}" for level in levels)
        return f"prior {self.prior:+.1f}; {parts}"


def estimate(
    profiles: Sequence[Profile],
    groups: Sequence[int],
    same_child: Sequence[tuple[int, int]],
    *,
    seed: int = 0,
) -> Model:
    """The model from the cases themselves, never from a simulation's truth.

    - u: random pairs of cases, leaving out pairs the deterministic rules already made one
      child (`groups`: each case's child group), smoothed towards the u of `LEVELS`;
    - m: the m of `LEVELS`, except for the fields a pseudonym cannot decide (incident date,
      place, forms, relationship): those are re-estimated from `same_child`, pairs of cases
      that one pseudonym proves are one child (smoothed towards the fixed m). Birth date and
      sex keep the fixed m: beside an ЕГН both are derived from it, so identified pairs never
      disagree on them;
    - the prior: the share of all pairs the deterministic rules linked.
    """
    n = len(profiles)
    all_pairs = n * (n - 1) // 2
    draws = min(SAMPLE_PAIRS, all_pairs)
    rng = random.Random(seed)
    u_levels, u_classes = Counter[str](), Counter[str]()
    for _ in range(draws):
        i, j = rng.randrange(n), rng.randrange(n - 1)
        j += j >= i
        if groups[i] != groups[j]:
            _count(compare(profiles[i], profiles[j]), u_levels, u_classes)
    m_levels, m_classes = Counter[str](), Counter[str]()
    for i, j in same_child:
        _count(compare(profiles[i], profiles[j]), m_levels, m_classes)
    weights, ms = {}, {}
    for level, (kind, m_fixed, u_default) in LEVELS.items():
        if level in _VETO:
            continue
        m = m_fixed
        if not kind.startswith(("birth", "sex")):
            m = (m_levels[level] + PSEUDO_PAIRS * m_fixed) / (m_classes[kind] + PSEUDO_PAIRS)
        u = (u_levels[level] + PSEUDO_PAIRS * u_default) / (u_classes[kind] + PSEUDO_PAIRS)
        weights[level], ms[level] = math.log2(m / u), m
    linked = sum(size * (size - 1) // 2 for size in Counter(groups).values())
    share = (linked + PSEUDO_PAIRS * PRIOR_DEFAULT) / (all_pairs + PSEUDO_PAIRS)
    return Model(weights, math.log2(share / (1 - share)), ms)


def _count(levels: tuple[str, ...], found: Counter[str], classes: Counter[str]) -> None:
    for level in levels:
        found[level] += 1
        classes[LEVELS[level][0]] += 1


class Linker(Protocol):
    """The deterministic linker's union-find over case indices (registry.linking._Linker)."""

    def _find(self, i: int) -> int: ...

    def _roots(self) -> list[int]: ...

    def _union(self, i: int, j: int) -> bool: ...


def link_remainder(
    cases: Sequence[CaseLike],
    pseudonymous: Sequence[bool],
    linker: Linker,
    born: Callable[[Mapping[str, Any], int], Birth],
    regions: Mapping[str, str],
) -> Remainder:
    """Link each child group without a pseudonym to the one group the model is sure of; the
    links are made in `linker` and returned with their evidence, with the possible links and
    the evidence of the queries left for the estimate (registry/estimated.py)."""
    n = len(cases)
    groups = linker._roots()
    members: dict[int, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        members[group].append(i)
    identified = {group for group, named in zip(groups, pseudonymous, strict=True) if named}
    queries = [root for root in members if root not in identified]
    if not queries or n < 2:
        return Remainder([], [], [], set())
    cache: dict[int, Profile] = {}

    def prof(i: int) -> Profile:
        found = cache.get(i)
        if found is None:
            found = cache[i] = profile(cases[i], born, regions)
        return found

    model = estimate(_Lazy(prof, n), groups, _identified_pairs(cases, pseudonymous, groups))
    matches: list[Match] = []
    possible: dict[int, list[tuple[int, int, PossibleLink]]] = {}
    weights = model.weights
    best_far = max(weights["date-4-7"], weights["date-8-30"], weights["date-31+"], 0.0)

    def bounds(p: Profile) -> tuple[float, float]:
        """The highest weight `p` can reach with a near candidate, and with a far one."""
        top = model.prior + (weights["sex-agree"] if p.sex else 0.0)
        if p.exact:
            top += weights["birth-exact"]
        elif p.born and p.born[1] - p.born[0] <= _YEAR_WIDE:
            top += max(weights["birth-year"], weights["birth-age"], 0.0)
        elif p.born:  # an age or a band: every comparison is at the age level
            top += max(weights["birth-age"], 0.0)
        if p.ekatte:
            top += max(weights["same-ekatte"], weights["same-region"], 0.0)
        elif p.region:
            top += max(weights["same-region"], 0.0)
        top += max(weights["forms-shared"], 0.0) if p.forms else 0.0
        top += max(weights["relationship-shared"], 0.0) if p.relationships else 0.0
        return top + max(weights["date-0-1"], 0.0), top + best_far

    # A block that cannot reach LOWER even if every field agreed is not looked at: at a million
    # cases an age band, a sex and a region never make a possible link. Likewise dates 2–3 days
    # apart when only a 0–1 day agreement could reach it.
    wanted: dict[int, tuple[bool, bool, int]] = {}
    for query in queries:
        for q in members[query]:
            near, far = bounds(prof(q))
            if near >= LOWER or far >= LOWER:
                wide = near - LOWER >= weights["date-0-1"] - weights["date-2-3"]
                wanted[q] = (near >= LOWER, far >= LOWER, BLOCK_DAYS if wide else 1)
    candidates = Blocks(cases, regions, wanted).found

    weight_of: dict[tuple[str, ...], float] = {}

    def look(query: int) -> tuple[list[_Found], set[int]]:
        """(weight, group, query case, candidate case, levels), best first, one per group
        that may be the query's child, and every group looked at (the query's own included).
        Whether two whole groups fit (`_fits`) is checked only where it can matter: from a
        possible link up; below, a group adds next to nothing to the estimate's evidence."""
        find, known = linker._find, cache.get  # the inner loop runs a million times
        own = find(query)
        best: dict[int, _Found] = {}
        barred: set[int] = set()
        for q in members[query]:
            mine = prof(q)
            for c in candidates.get(q, ()):
                group = find(c)
                if group == own or group in barred:
                    continue
                theirs = known(c) or prof(c)
                levels = compare(mine, theirs)
                if vetoed(mine, theirs, levels):
                    barred.add(group)
                    continue
                weight = weight_of.get(levels)
                if weight is None:  # a few hundred combinations of levels at most
                    weight = weight_of[levels] = model.weigh(levels)
                if group not in best or weight > best[group][0]:
                    best[group] = (weight, group, q, c, levels)
        ranked = [
            found
            for group, found in best.items()
            if group not in barred
            and not (own in identified and group in identified)
            and (found[0] < LOWER or _fits(members[own], members[group], prof))
        ]
        ranked.sort(key=lambda f: (-f[0], f[1]))
        return ranked, {own, *best, *barred}

    # Every query looked at once as the deterministic rules left it: the estimate's evidence,
    # and its first decision as long as no link has touched a group it saw.
    looked = {query: look(query) for query in queries}
    evidence = _evidence(queries, identified, members, looked, wanted, prof, model)
    changed: set[int] = set()
    first = {query: k for k, query in enumerate(queries)}  # a group's earliest query
    repeated: set[int] = set()  # queries a link made one child with an earlier unit

    def decide(query: int) -> bool:
        stored = looked.pop(query, None)
        if stored is None or not changed.isdisjoint(stored[1]):
            stored = look(query)
        own = linker._find(query)
        ranked = [found for found in stored[0] if found[0] >= LOWER]
        if not ranked:
            possible.pop(query, None)
            return True
        weight, group, q, c, levels = ranked[0]
        # The runner-up that matters is a child the best cannot be (a twin in the same record, a
        # different pseudonym): a runner-up that may be the best's own other record is no doubt.
        runner_up = next(
            (
                found[0]
                for found in ranked[1:_RIVALS]
                if (group in identified and found[1] in identified)
                or not _fits(members[group], members[found[1]], prof)
            ),
            None,
        )
        if weight >= UPPER and (runner_up is None or weight - runner_up >= GAP):
            linker._union(own, group)
            root = linker._find(own)
            changed.update((own, group))
            merged = members.pop(own) + members.pop(group)
            members[root] = merged
            if own in identified or group in identified:
                identified.add(root)
            # Identified groups come before every query: the later unit is the repeated one.
            ours, theirs = first.pop(own, -1), first.pop(group, -1)
            if max(ours, theirs) >= 0:
                repeated.add(queries[max(ours, theirs)])
            if min(ours, theirs) >= 0:
                first[root] = min(ours, theirs)
            matches.append(
                Match(c, q, weight, f"match weight {weight:.1f}: {model.explain(levels)}")
            )
            possible.pop(query, None)
            return True
        possible[query] = [
            (
                fq,
                fc,
                PossibleLink(
                    cases[fq].key,
                    cases[fc].key,
                    round(w, 1),
                    f"match weight {w:.1f}"
                    + (f", runner-up {runner_up:.1f}" if runner_up is not None else "")
                    + f": {model.explain(lv)}",
                ),
            )
            for w, _, fq, fc, lv in ranked[:_POSSIBLE_PER_QUERY]
        ]
        return False

    for query in queries:
        if query in members and linker._find(query) == query:
            decide(query)
    # A second look at the undecided: a link made later may have joined their two candidates.
    for query in sorted(possible):
        if query in members and linker._find(query) == query:
            decide(query)
    # A later link may have made a possible pair one child already: nothing left to review.
    listed: dict[frozenset[int], PossibleLink] = {}
    for found in possible.values():
        for a, b, link in found:
            if linker._find(a) != linker._find(b):
                listed.setdefault(frozenset((a, b)), link)  # each pair once, either way round
    return Remainder(matches, list(listed.values()), evidence, repeated)


def _evidence(
    queries: list[int],
    identified: set[int],
    members: Mapping[int, list[int]],
    looked: Mapping[int, tuple[list[_Found], set[int]]],
    wanted: Mapping[int, tuple[bool, bool, int]],
    prof: Callable[[int], Profile],
    model: Model,
) -> list[Evidence]:
    """What each query's comparisons say of it being a child counted before it: every
    identified child, then the queries in their order (registry/estimated.py)."""
    position = {query: k for k, query in enumerate(queries)}
    m_of = rates(_agreements(members, prof), model.m)
    reached: dict[tuple[tuple[bool, bool, int], bool, str], tuple[float, float]] = {}
    found: list[Evidence] = []
    for k, query in enumerate(queries):
        total = close = 0.0
        for weight, group, _, _, levels in looked[query][0]:
            if position.get(group, -1) < k:
                factor = 2.0 ** (weight - model.prior)  # the Bayes factor m/u
                total += factor
                if _joins(levels):
                    close += factor
        recall, outside = 0.0, 0.0
        institutions = set()
        for i in members[query]:
            mine = prof(i)
            kind = (wanted.get(i, (False, False, 0)), mine.exact is not None, mine.institution)
            got = reached.get(kind)
            if got is None:  # a few dozen kinds of case
                got = reached[kind] = reach(*kind[0], kind[1], m_of.get(kind[2], model.m))
            recall, outside = max((recall, outside), got)
            institutions.add(mine.institution)
        units = len(identified) + k
        found.append(
            Evidence(
                query,
                institutions.pop() if len(institutions) == 1 else "several",
                (total / units if units else 0.0) + 1 - recall,
                (close / units if units else 0.0) + outside,
            )
        )
    return found


def _agreements(
    members: Mapping[int, list[int]], prof: Callable[[int], Profile]
) -> Iterator[Agreement]:
    """Each side of pairs of records the rules made one child: a few pairs per child."""
    pairs = 0
    for held in members.values():
        for j in held[1 : 1 + _M_PAIRS_PER_CHILD]:
            a, b = prof(held[0]), prof(j)
            place = a.region == b.region if a.region and b.region else None
            gap = abs(a.day - b.day) if a.day and b.day else None
            yield Agreement(a.institution, place, gap)
            yield Agreement(b.institution, place, gap)
            pairs += 1
        if pairs >= SAMPLE_PAIRS // 3:  # enough for three rates per institution
            return


def _joins(levels: tuple[str, ...]) -> bool:
    """Dates at most 3 days apart with no disjoint forms: one incident (registry/linking.py)."""
    return ("date-0-1" in levels or "date-2-3" in levels) and "forms-disjoint" not in levels


def _identified_pairs(
    cases: Sequence[CaseLike], pseudonymous: Sequence[bool], groups: Sequence[int]
) -> list[tuple[int, int]]:
    """Pairs of cases with a pseudonym in one child group (a few per child): one child for sure."""
    first: dict[int, list[int]] = defaultdict(list)
    pairs: list[tuple[int, int]] = []
    for i, group in enumerate(groups):
        if pseudonymous[i]:
            held = first[group]
            if held and len(held) <= _M_PAIRS_PER_CHILD:
                pairs.append((held[0], i))
                if len(pairs) == SAMPLE_PAIRS // 3:  # enough to estimate a handful of m's
                    break
            held.append(i)
    return pairs


def _fits(ours: list[int], theirs: list[int], prof: Callable[[int], Profile]) -> bool:
    """No pair of the two groups' cases is vetoed (checked before a merge, not per case)."""
    return not any(
        vetoed(prof(a), prof(b), compare(prof(a), prof(b))) for a in ours for b in theirs
    )


class _Lazy(Sequence[Profile]):
    """Profiles worked out only for the cases a random pair draws."""

    def __init__(self, prof: Callable[[int], Profile], n: int) -> None:
        self.prof, self.n = prof, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Profile:  # type: ignore[override]
        return self.prof(i)


def _typo(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    """Dates that differ in one component or by a day/month swap."""
    same = sum(x == y for x, y in zip(a, b, strict=True))
    return same >= 2 or (a[0] == b[0] and a[1] == b[2] and a[2] == b[1])
