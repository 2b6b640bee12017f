"""Which active cases are one child, and which of a child's cases are one incident.

Deterministic rules, applied in this order (registry/README.md gives the reasons):

1. `same-pseudonym`: cases sharing a keyed pseudonym (`key_id:value`) are one child; a case
   notified during a key rotation carries both pseudonyms, so it bridges the old and new key.
2. `reference`: records tied by the reference numbers institutions give each other (a case's
   `references[x]` is another record `x:<number>`, or two cases cite the same number) form one
   reference cluster, i.e. one incident. A cluster can hold several children (one police file,
   three victims), so a reference identifies the incident, not the child: inside a cluster a
   case joins a child only when it is the one compatible child of the records tied to its own
   (of the whole cluster when none of those arrived): same sex or unknown, compatible birth
   dates, no differing pseudonym under one key, not already holding another child of the same
   record. Several candidates: the case is left alone and reported as ambiguous.
3. `probabilistic`: a child without a pseudonym that rules 1–2 left apart joins another child
   when a Fellegi–Sunter model (registry/probabilistic.py) is sure of it; a likely but unsure
   pair is listed in `Linkage.possible` for clerical review, not merged.
4. Incidents of one child: cases of one reference cluster are one incident
   (`reference-incident`); otherwise cases whose incident dates are at most `WINDOW_DAYS`
   apart with compatible violence forms (`incident-date-window`), or whose dates differ by a
   typical typo (year off by one, day and month swapped) with a shared form
   (`incident-date-typo`).

A case without a pseudonym that nothing ties to another case stays a child of its own and is
listed in `Linkage.unlinked`.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from gateway.codes import INSTITUTIONS
from registry.ekatte import regions
from registry.estimated import Estimate, Expected, Share, estimate, expect
from registry.probabilistic import PossibleLink, code_set, link_remainder

#: Incident dates of one child at most this many days apart may be one incident.
WINDOW_DAYS = 3
_YEAR = 365.25
# Reported ages are estimates (a caller's guess at a helpline): a year either way still fits.
_AGE_SLACK = 366
_KNOWN_SEX = frozenset({"male", "female"})
_RANK = {slug: n for n, slug in enumerate(INSTITUTIONS)}
# The interval of possible birth days (ordinals), and the exact (y, m, d) when given.
_Birth = tuple[tuple[int, int] | None, tuple[int, int, int] | None]


class LinkReason(NamedTuple):
    """Why two cases were put together: the rule, both case keys and the evidence."""

    rule: str
    a: str
    b: str
    evidence: str


@dataclass(slots=True)
class Linkage:
    #: The linked cases' keys in the order given to `link`, and each one's child
    #: (`child:<its smallest case key>`) and incident (`incident:<…>`), position by position.
    keys: list[str] = field(default_factory=list)
    children_at: list[str] = field(default_factory=list)
    incidents_at: list[str] = field(default_factory=list)
    #: Cases without a pseudonym that nothing tied to another case (each is its own child).
    unlinked: set[str] = field(default_factory=set)
    #: Every link made, in the order made.
    reasons: list[LinkReason] = field(default_factory=list)
    #: Cases that a reference tied to an incident with several candidate children: not merged.
    ambiguous: dict[str, str] = field(default_factory=dict)
    #: Pairs the probabilistic step found likely but not sure: for clerical review, not merged.
    possible: list[PossibleLink] = field(default_factory=list)
    #: Per child the probabilistic step left without a pseudonym and untied to an earlier one,
    #: by its first case's key: the chance it is a child counted already (registry/estimated.py).
    expected: dict[str, Expected] = field(default_factory=dict)
    #: The share of each kind of such child (the institution that sent it, or "several") that
    #: repeat one counted already, with its range.
    shares: dict[str, Share] = field(default_factory=dict)
    _by_case: dict[str, list[LinkReason]] | None = field(default=None, repr=False)
    # By case key, made when first asked for: at a million cases each dict costs a second,
    # and the statistics read the lists above instead.
    _child_of: dict[str, str] | None = field(default=None, repr=False)
    _incident_of: dict[str, str] | None = field(default=None, repr=False)

    @property
    def child_of(self) -> dict[str, str]:
        if self._child_of is None:
            self._child_of = dict(zip(self.keys, self.children_at, strict=True))
        return self._child_of

    @property
    def incident_of(self) -> dict[str, str]:
        if self._incident_of is None:
            self._incident_of = dict(zip(self.keys, self.incidents_at, strict=True))
        return self._incident_of

    def aligned(self, keys: list[str]) -> tuple[list[str], list[str]]:
        """The child and the incident of each of these case keys, position by position (the
        lists above as they are when `keys` are the linked ones in their order)."""
        if keys == self.keys:
            return self.children_at, self.incidents_at
        child_of, incident_of = self.child_of, self.incident_of
        return [child_of[k] for k in keys], [incident_of[k] for k in keys]

    def children(self) -> int:
        return len(set(self.children_at))

    def incidents(self) -> int:
        return len(set(self.incidents_at))

    def estimate(self) -> Estimate:
        """The counts, and the counts corrected in expectation for the children the linkage
        could not tie (registry/estimated.py): all cases, every year."""
        return estimate(self.children(), self.incidents(), list(self.expected.values()))

    def reasons_for(self, case_key: str) -> list[LinkReason]:
        """The links that involve this case (what an analyst reads to challenge them)."""
        if self._by_case is None:
            index: dict[str, list[LinkReason]] = defaultdict(list)
            for reason in self.reasons:
                index[reason.a].append(reason)
                index[reason.b].append(reason)
            self._by_case = dict(index)
        return self._by_case.get(case_key, [])


@dataclass(slots=True)
class _Case:
    key: str
    at: int  # the case's position in the input of `link`
    record: str
    day: int
    pseudonyms: tuple[str, ...]
    sex: str | None
    refs: tuple[str, ...]
    flat: Mapping[str, Any]
    # Birth-day interval and exact birth date, worked out only for cases a reference ties.
    birth: _Birth | None = None


def link(cases: Iterable[Mapping[str, Any]], *, probabilistic: bool = True) -> Linkage:
    """Link the latest flat forms of the active cases (cancelled cases left out by the caller).

    `probabilistic=False` applies the deterministic rules only (to measure what the model adds).
    """
    with paused_gc():
        parsed = [_parse(case, at) for at, case in enumerate(cases)]
        keys = list(map(attrgetter("key"), parsed))
        # In key order the smallest index of a group is its smallest case key: the union-find
        # roots then name children and incidents independently of the input order.
        order = sorted(range(len(keys)), key=keys.__getitem__)
        in_key_order = [parsed[at] for at in order]
        linkage = _Linker(in_key_order, order, keys, probabilistic=probabilistic).run()
        # The cases are freed from `parsed`, in the order they were made in memory: freed in
        # key order, a million of them took 1.6-2.0 s instead of 0.6 s.
        del in_key_order
        return linkage


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: a million small acyclic objects would otherwise
    trigger full collections over and over (it halves the time of linking at scale)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Linker:
    def __init__(
        self,
        cases: list[_Case],
        order: list[int],
        given_keys: list[str],
        *,
        probabilistic: bool = True,
    ) -> None:
        """`cases` in key order; `order`: each one's position in the input (its `at`);
        `given_keys`: the case keys in input order. Both are read from lists made in input
        order: walking a million cases in key order misses the cache at nearly every case."""
        self.cases = cases
        self.order = order
        self.given_keys = given_keys
        self.keys = [given_keys[at] for at in order]
        self.parent = list(range(len(cases)))
        self.reasons: list[LinkReason] = []
        self.ambiguous: dict[str, str] = {}
        self.possible: list[PossibleLink] = []
        self.expected: dict[str, Expected] = {}
        self.shares: dict[str, Share] = {}
        self.probabilistic = probabilistic

    def run(self) -> Linkage:
        self._pseudonyms()
        clusters = self._clusters()
        for members in clusters.values():
            # Identified children are told apart by their pseudonyms alone: only a cluster
            # holding a case without one has children to match.
            if not all(self.cases[i].pseudonyms for i in members):
                self._children_of_cluster(members)
        if self.probabilistic:
            self._probabilistic()
        child_roots = self._roots()
        sizes = Counter(child_roots)
        incident_of = self._incidents(child_roots, sizes, clusters)
        return self._linkage(child_roots, sizes, incident_of)

    # -- union-find ---------------------------------------------------------------------------

    def _find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def _roots(self) -> list[int]:
        """Every index's root (a copy: the probabilistic step goes on joining after this)."""
        return _to_roots(self.parent)[:]

    def _union(self, i: int, j: int) -> bool:
        ri, rj = self._find(i), self._find(j)
        if ri == rj:
            return False
        self.parent[max(ri, rj)] = min(ri, rj)
        return True

    # -- children -----------------------------------------------------------------------------

    def _pseudonyms(self) -> None:
        first: dict[str, int] = {}
        first_of = first.setdefault
        evidence: dict[str, str] = {}  # one text per key id, shared by its half-million links
        for i, case in enumerate(self.cases):
            for pseudonym in case.pseudonyms:
                j = first_of(pseudonym, i)
                if j != i and self._union(i, j):
                    key_id = pseudonym.split(":", 1)[0]
                    if key_id not in evidence:
                        evidence[key_id] = f"same pseudonym under key {key_id}"
                    self._reason("same-pseudonym", j, i, evidence[key_id])

    def _clusters(self) -> dict[str, list[int]]:
        """The cases of each reference cluster of two or more records (records tied by
        references), keyed by its root."""
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            root = x
            while (up := parent.get(root, root)) != root:
                root = up
            while (up := parent.get(x, x)) != root:
                parent[x], x = root, up
            return root

        for case in self.cases:
            for ref in case.refs:
                a, b = find(case.record), find(ref)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        tied = parent.keys() | parent.values()
        clusters: dict[str, list[int]] = defaultdict(list)
        for i, case in enumerate(self.cases):
            if case.record in tied:
                clusters[find(case.record)].append(i)
        cases = self.cases
        return {
            root: members
            for root, members in clusters.items()
            # Most clusters show two records at their ends: the set only for the others.
            if cases[members[0]].record != cases[members[-1]].record
            or len({cases[i].record for i in members}) > 1
        }

    def _children_of_cluster(self, members: list[int]) -> None:
        """Match the children of the cluster's records, walking the references outwards from
        the record with the most children.

        A case joins the one compatible child among the records its own record is tied to
        directly (or through a number both cite); only when nothing of those records was
        received does it look at the whole cluster.
        """
        cases = self.cases
        by_record: dict[str, list[int]] = defaultdict(list)
        cites: dict[str, set[str]] = defaultdict(set)
        for i in members:
            by_record[cases[i].record].append(i)
            cites[cases[i].record].update(cases[i].refs)
        ties: dict[str, set[str]] = defaultdict(set)
        for record, cited in cites.items():
            for ref in cited:
                ties[record].add(ref)
                ties[ref].add(record)

        def near(record: str) -> set[str]:
            # A number nobody sent us (no cases) is transparent: both citing it are tied.
            found = set()
            for other in ties[record]:
                found |= {other} if other in by_record else ties[other] - {record}
            return found

        def rank(record: str) -> tuple[int, int, str]:
            return (-len(by_record.get(record, ())), _RANK.get(record.split(":", 1)[0], 99), record)

        def evidence(record: str) -> str:
            return "; ".join(
                sorted(f"{record} cites {r}" for r in cites[record])
                + sorted(f"{r} cites {record}" for r in ties[record] if record in cites.get(r, ()))
            )

        slots: dict[int, list[int]] = {}  # child root -> its cases in this cluster
        for record in _walk(min(by_record, key=rank), ties, rank):
            neighbours = near(record)
            for i in by_record.get(record, ()):
                root = self._find(i)
                if root in slots:  # already this child through a pseudonym
                    slots[root].append(i)
                    continue
                close = [
                    s
                    for s, held in slots.items()
                    if any(cases[m].record in neighbours for m in held)
                ]
                pool = close or list(slots)
                fits = [s for s in pool if self._fits(cases[i], [cases[m] for m in slots[s]])]
                if len(fits) == 1:
                    held = slots.pop(fits[0])
                    self._union(i, fits[0])
                    slots[self._find(i)] = [*held, i]
                    scope = "a record tied to it" if close else "the incident"
                    self._reason(
                        "reference",
                        held[0],
                        i,
                        f"the only compatible child of {scope} ({evidence(record)})",
                    )
                    continue
                if fits:
                    self.ambiguous[cases[i].key] = (
                        f"{len(fits)} compatible children in the incident ({evidence(record)});"
                        " not linked"
                    )
                if not fits or cases[i].pseudonyms:
                    slots[root] = [i]

    @staticmethod
    def _fits(case: _Case, held: list[_Case]) -> bool:
        return all(other.record != case.record and _compatible(case, other) for other in held)

    def _probabilistic(self) -> None:
        """Children without a pseudonym that the rules above left apart: the Fellegi–Sunter
        step (registry/probabilistic.py) links the ones it is sure of, lists the likely ones."""
        cases = self.cases
        matches, self.possible, evidence, repeated = link_remainder(
            cases, [bool(c.pseudonyms) for c in cases], self, _born, regions()
        )
        for match in matches:
            self._reason("probabilistic", match.i, match.j, match.evidence)
        # The shares are estimated over every query, as the rules left them; the count already
        # holds the links made, so only the other queries are expected to repeat a child.
        expected, self.shares = expect(evidence)
        keys = self.keys
        self.expected = {
            keys[e.case]: x
            for e, x in zip(evidence, expected, strict=True)
            if e.case not in repeated
        }

    # -- incidents ----------------------------------------------------------------------------

    def _incidents(
        self, child_roots: list[int], sizes: Counter[int], clusters: dict[str, list[int]]
    ) -> list[int]:
        """Each case's incident as the index of a representative case."""
        cases = self.cases
        unit = list(range(len(cases)))  # incident union-find over case indices
        several = {root for root, n in sizes.items() if n > 1}
        by_child: dict[int, list[int]] = defaultdict(list)
        for i, root in enumerate(child_roots):
            if root in several:
                by_child[root].append(i)

        def find(i: int) -> int:
            while unit[i] != i:
                unit[i] = unit[unit[i]]
                i = unit[i]
            return i

        def union(i: int, j: int) -> bool:
            ri, rj = find(i), find(j)
            if ri == rj:
                return False
            unit[max(ri, rj)] = min(ri, rj)
            return True

        for members in clusters.values():
            if len(members) < 2:
                continue
            first_of_child: dict[int, int] = {}
            for i in members:
                j = first_of_child.setdefault(child_roots[i], i)
                if j != i and union(i, j):
                    self._reason(
                        "reference-incident",
                        j,
                        i,
                        f"{cases[j].record} and {cases[i].record} are tied by reference numbers",
                    )
        for members in by_child.values():
            first = find(members[0])
            # Most children's cases are one incident already (a police file and the signal
            # citing it): the dates would find nothing to join.
            if any(find(i) != first for i in members):
                self._dates(members, find, union)
        return _to_roots(unit)

    def _dates(
        self, members: list[int], find: Callable[[int], int], union: Callable[[int, int], bool]
    ) -> None:
        cases = self.cases
        dated = sorted((cases[i].day, i) for i in members if cases[i].day)
        if len(dated) < 2:
            return
        forms = {i: code_set(tuple(cases[i].flat.get("forms") or ())) for _, i in dated}
        for n, (day, i) in enumerate(dated):
            for m in range(n + 1, len(dated)):
                later_day, j = dated[m]
                if later_day - day > WINDOW_DAYS:
                    break
                if find(i) != find(j) and _forms_fit(forms[i], forms[j]):
                    union(i, j)
                    self._reason(
                        "incident-date-window",
                        i,
                        j,
                        f"incident dates {_iso(day)} and {_iso(later_day)}"
                        f" ({later_day - day} days apart), forms {_forms(forms[i], forms[j])}",
                    )
        if len(dated) > 50:  # a pathological child: the pairwise typo check would be quadratic
            return
        for n, (day, i) in enumerate(dated):
            for later_day, j in dated[n + 1 :]:
                if (
                    later_day - day > WINDOW_DAYS
                    and find(i) != find(j)
                    and forms[i] & forms[j]
                    and _typo(day, later_day)
                ):
                    union(i, j)
                    self._reason(
                        "incident-date-typo",
                        i,
                        j,
                        f"incident dates {_iso(day)} and {_iso(later_day)} differ like a typo,"
                        f" forms {_forms(forms[i], forms[j])}",
                    )

    # -- the answer ---------------------------------------------------------------------------

    def _reason(self, rule: str, i: int, j: int, evidence: str) -> None:
        self.reasons.append(LinkReason(rule, self.keys[i], self.keys[j], evidence))

    def _linkage(
        self, child_roots: list[int], sizes: Counter[int], incident_of: list[int]
    ) -> Linkage:
        cases, keys = self.cases, self.keys
        # Roots are each group's smallest index, hence its smallest case key.
        child_name = {root: f"child:{keys[root]}" for root in set(child_roots)}
        incident_name = {root: f"incident:{keys[root]}" for root in set(incident_of)}
        in_input_order = _input_order(self.order)
        return Linkage(
            keys=self.given_keys,
            children_at=in_input_order(list(map(child_name.__getitem__, child_roots))),
            incidents_at=in_input_order(list(map(incident_name.__getitem__, incident_of))),
            # A child of one case is that case's own root: its index.
            unlinked={
                keys[root] for root, n in sizes.items() if n == 1 and not cases[root].pseudonyms
            },
            reasons=self.reasons,
            ambiguous=self.ambiguous,
            possible=self.possible,
            expected=self.expected,
            shares=self.shares,
        )


def _to_roots(parent: list[int]) -> list[int]:
    """Point every index of a union-find straight at its root, in one pass (a million `find`
    calls cost a second), and return the list. Sound because both union-finds here hang the
    larger root under the smaller and path halving only shortens paths: a parent's index is
    never above its child's, so its root is known by the time the child is reached."""
    for i, up in enumerate(parent):
        parent[i] = parent[up]
    return parent


# -- one case's facts ---------------------------------------------------------------------------


def _input_order(at: list[int]) -> Callable[[list[str]], list[str]]:
    """What puts values of the cases in key order back in the order `link` was given them
    (`at`: each case's input position), as one C-level gather per list."""
    back = at[:]
    for index, position in enumerate(at):
        back[position] = index
    if len(back) < 2:  # itemgetter of one index gives the value, not a tuple
        return lambda values: [values[i] for i in back]
    gather = itemgetter(*back)
    return lambda values: list(gather(values))


def _parse(flat: Mapping[str, Any], at: int = 0) -> _Case:
    # The hot loop at a million cases: plain lookups, the rest is worked out when needed.
    key = str(flat["case_key"])
    slug, _, number = str(flat.get("incident_reference") or f"case:{key}").partition(":")
    record = f"{slug}:{_norm_number(number)}"
    given = flat.get("child_pseudonyms")
    pseudonyms = (
        tuple([f"{p['key_id']}:{p['value']}" for p in given if p.get("value")]) if given else ()
    )
    cited = flat.get("references")
    refs: tuple[str, ...] = ()
    if cited:
        found = [f"{s}:{_norm_number(str(n))}" for s, n in cited.items() if n and str(n).strip()]
        refs = tuple([r for r in found if r != record])
    sex = flat.get("sex")
    incident = flat.get("incident_date")
    # Positional: keyword arguments cost more, a million times over.
    return _Case(
        key,
        at,
        record,
        _day_of(str(incident)) if incident else 0,
        pseudonyms,
        sex if sex in _KNOWN_SEX else None,
        refs,
        flat,
    )


def _norm_number(number: str) -> str:
    """A record number with its spacing and letter case made uniform (as others type it)."""
    return " ".join(number.split()).upper()


@lru_cache(maxsize=1 << 16)
def _day_of(text: str) -> int:
    """The ordinal of a date's text (0 if it is none); remembered, as a year has 365 days."""
    try:
        return date.fromisoformat(text[:10]).toordinal()
    except ValueError:
        return 0


def _born(flat: Mapping[str, Any], day: int) -> _Birth:
    """The interval of possible birth days (ordinals), and the exact (y, m, d) when given."""
    birth = flat.get("birth_date")
    if birth:
        return _birth_of(str(birth)[:10])
    if not day:
        return None, None
    low, high = _age_range(flat)
    if low is None or high is None:
        return None, None
    return (int(day - (high + 1) * _YEAR) - _AGE_SLACK, int(day - low * _YEAR) + _AGE_SLACK), None


@lru_cache(maxsize=1 << 16)
def _birth_of(text: str) -> _Birth:
    """`_birth_interval` of a birth date's text; remembered, as a few thousand birth dates
    recur over a million cases."""
    try:
        return _birth_interval([int(p) for p in text.split("-")])
    except ValueError:  # not a date: the child's age is unknown, not a reason to fail
        return None, None


def _birth_interval(parts: list[int]) -> _Birth:
    """The birth-day interval of a full or partial (YYYY-MM, YYYY) birth date."""
    if len(parts) == 3:
        at = date(*parts).toordinal()
        return (at, at), (parts[0], parts[1], parts[2])
    if len(parts) == 2:
        first = date(parts[0], parts[1], 1)
        following = date(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1)
        return (first.toordinal(), following.toordinal() - 1), None
    return (date(parts[0], 1, 1).toordinal(), date(parts[0], 12, 31).toordinal()), None


def _age_range(flat: Mapping[str, Any]) -> tuple[int | None, int | None]:
    age = flat.get("age")
    if isinstance(age, int | float):
        return int(age), int(age)
    band = flat.get("age_band")
    if isinstance(band, str) and "-" in band:
        low, _, high = band.partition("-")
        if low.isdigit() and high.isdigit():
            return int(low), int(high)
    return None, None


def _compatible(a: _Case, b: _Case) -> bool:
    """Nothing about the two children contradicts their being one child."""
    if a.sex and b.sex and a.sex != b.sex:
        return False
    if a.pseudonyms and b.pseudonyms:
        keys_a = {p.split(":", 1)[0]: p for p in a.pseudonyms}
        for p in b.pseudonyms:
            same_key = keys_a.get(p.split(":", 1)[0])
            if same_key is not None and same_key != p:
                return False
    born_a, exact_a = a.birth = a.birth or _born(a.flat, a.day)
    born_b, exact_b = b.birth = b.birth or _born(b.flat, b.day)
    if exact_a and exact_b:
        return _birth_typo(exact_a, exact_b)
    if born_a and born_b:
        return born_a[0] <= born_b[1] and born_b[0] <= born_a[1]
    return True


def _birth_typo(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    """Equal birth dates, or dates that differ in one component or by a day/month swap."""
    same = sum(x == y for x, y in zip(a, b, strict=True))
    return same >= 2 or (a[0] == b[0] and a[1] == b[2] and a[2] == b[1])


def _forms_fit(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a & b) or not a or not b or "unspecified" in a or "unspecified" in b


def _typo(day_a: int, day_b: int) -> bool:
    a, b = date.fromordinal(day_a), date.fromordinal(day_b)
    if (a.month, a.day) == (b.month, b.day) and abs(a.year - b.year) == 1:
        return True
    return a.year == b.year and (a.month, a.day) == (b.day, b.month)


@lru_cache(maxsize=1 << 12)
def _forms(a: frozenset[str], b: frozenset[str]) -> str:
    """Two cases' forms as evidence text; remembered, as a few dozen sets recur (code_set)."""
    return f"{','.join(sorted(a)) or '-'} / {','.join(sorted(b)) or '-'}"


@lru_cache(maxsize=1 << 12)
def _iso(day: int) -> str:
    """A day's text for evidence; remembered, as a hundred thousand links share a few years."""
    return date.fromordinal(day).isoformat()


def _walk(
    start: str, ties: Mapping[str, set[str]], rank: Callable[[str], tuple[int, int, str]]
) -> list[str]:
    """The cluster's records (and cited numbers) breadth first from `start`."""
    seen, order = {start}, [start]
    for record in order:
        for other in sorted(ties.get(record, ()), key=rank):
            if other not in seen:
                seen.add(other)
                order.append(other)
    return order
