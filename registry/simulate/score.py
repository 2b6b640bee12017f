"""Score the register's linkage against the world's truth.

Definitions (README.md in this folder):

- The truth covers the register's active cases: each is one child of one live institution
  record, whose true child and true incident the world knows. A withdrawn record is as if never
  reported, so its cancelled cases are in neither the truth nor the found figures.
- An incident is the methodology's counting unit, one child in one incident: two twins hurt
  in one event are two incidents (the world also knows the events, see `describe`).
- Distinct children (incidents): the number of distinct true ids among those cases, against
  the number of distinct ids `registry.linking` gives them (a case it leaves out of
  `child_of` or `incident_of` counts as one of its own).
- Pairwise: a pair of cases is a true link when both are the same child (incident), a found
  link when the linkage says so. Precision = found links that are true / found links; recall
  = true links that were found / true links (1.0 when there is nothing to find).
- "with a personal number": only the cases whose message carried the child's ЕГН or ЛНЧ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class CaseTruth:
    child: int
    incident: int  # the event; with `child`, the counting unit
    numbered: bool  # the message carried the child's personal number


class LinkageLike(Protocol):
    @property
    def child_of(self) -> dict[str, str]: ...

    @property
    def incident_of(self) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class Count:
    truth: int
    found: int

    @property
    def error(self) -> float:
        return relative_error(self.found, self.truth)


@dataclass(frozen=True, slots=True)
class Estimated:
    """A count the register estimates (registry/estimated.py), against the truth."""

    truth: int
    found: float
    sd: float
    low: float  # the estimate's range as the shares of repeats range (registry/estimated.py)
    high: float

    @property
    def error(self) -> float:
        return relative_error(self.found, self.truth)


def relative_error(found: float, truth: int) -> float:
    """(found - truth) / truth, signed; 0 when both are 0."""
    return (found - truth) / truth if truth else float(found != 0)


@dataclass(frozen=True, slots=True)
class Pairs:
    true: int
    found: int
    common: int

    @property
    def precision(self) -> float:
        return self.common / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.common / self.true if self.true else 1.0


@dataclass(frozen=True, slots=True)
class Part:
    """The figures for one population of cases."""

    cases: int
    children: Count
    incidents: Count
    child_pairs: Pairs
    incident_pairs: Pairs


@dataclass(frozen=True, slots=True)
class Fatal:
    """The homicide question: children killed in the year, against what each institution says."""

    year: int
    children: Count  # truth: children of a live record of a fatal incident; found: `fatal` row
    notifications: dict[str, int]  # per institution: its active cases saying `fatal`


@dataclass(slots=True)
class Score:
    overall: Part
    numbered: Part
    extra: dict[str, Any] = field(default_factory=dict)  # sizes, timings, checks
    fatal: Fatal | None = None
    #: The estimated distinct children and incidents of the scored cases, when the linkage
    #: gives an estimate.
    estimated: tuple[Estimated, Estimated] | None = None

    def table(self) -> str:
        return render_table(self)

    def report(self) -> str:
        """The table, then what the run was made of (sizes, checks, timings)."""
        details = [f"{key}: {value}" for key, value in self.extra.items()]
        return "\n".join([self.table(), "", *details])


def score(truth: Mapping[str, CaseTruth], linkage: LinkageLike) -> Score:
    """`truth`: case key -> truth, for exactly the register's active cases."""
    numbered = {k: t for k, t in truth.items() if t.numbered}
    return Score(overall=_part(truth, linkage), numbered=_part(numbered, linkage))


def _part(truth: Mapping[str, CaseTruth], linkage: LinkageLike) -> Part:
    def found(labels: dict[str, str], key: str) -> str:
        return labels.get(key) or f"alone:{key}"

    true_child = {k: t.child for k, t in truth.items()}
    true_incident = {k: (t.child, t.incident) for k, t in truth.items()}
    found_child = {k: found(linkage.child_of, k) for k in truth}
    found_incident = {k: found(linkage.incident_of, k) for k in truth}
    return Part(
        cases=len(truth),
        children=Count(len(set(true_child.values())), len(set(found_child.values()))),
        incidents=Count(len(set(true_incident.values())), len(set(found_incident.values()))),
        child_pairs=pairs(true_child, found_child),
        incident_pairs=pairs(true_incident, found_incident),
    )


def stranded(
    truth: Mapping[str, CaseTruth], linkage: LinkageLike, institution: Mapping[str, str]
) -> dict[str, int]:
    """Per institution, the cases the linkage left as a child of their own although their
    true child has other cases: where the missing child links are."""
    sizes = Counter(t.child for t in truth.values())
    found = Counter(linkage.child_of.get(k) or f"alone:{k}" for k in truth)
    alone = Counter(
        institution[k]
        for k, t in truth.items()
        if sizes[t.child] > 1 and found[linkage.child_of.get(k) or f"alone:{k}"] == 1
    )
    return dict(sorted(alone.items()))


def pairs(true: Mapping[str, Hashable], found: Mapping[str, Hashable]) -> Pairs:
    """Pair counts of two clusterings of the same keys, without listing the pairs."""

    def linked(groups: Counter[Hashable]) -> int:
        return sum(n * (n - 1) // 2 for n in groups.values())

    return Pairs(
        true=linked(Counter(true.values())),
        found=linked(Counter(found.values())),
        common=linked(Counter((true[k], found[k]) for k in true)),
    )


def render_table(result: Score) -> str:
    """Counts against the truth, then pairwise precision and recall, per population."""
    head = f"{'':30} {'truth':>7} {'found':>7} {'error':>8}"
    lines = [head, "-" * len(head)]
    populations = (("all cases", result.overall), ("with a personal number", result.numbered))
    for name, part in populations:
        lines.append(f"{name} ({part.cases} active cases)")
        for label, count in (
            ("distinct children", part.children),
            ("distinct incidents", part.incidents),
        ):
            lines.append(f"  {label:28} {count.truth:7} {count.found:7} {count.error:+8.2%}")
        if part is result.overall and result.estimated is not None:
            for label, guess in zip(("children", "incidents"), result.estimated, strict=True):
                lines.append(
                    f"  {'  estimated ' + label:28} {guess.truth:7} {guess.found:7.0f}"
                    f" {guess.error:+8.2%}   ± {guess.sd:.0f}, {guess.low:.0f}–{guess.high:.0f}"
                )
    lines += ["", f"{'':30} {'precision':>9} {'recall':>7}   pairs true / found / both"]
    lines.append("-" * len(lines[-1]))
    for name, part in populations:
        lines.append(name)
        for label, p in (
            ("child links", part.child_pairs),
            ("incident links", part.incident_pairs),
        ):
            counts = f"{p.true} / {p.found} / {p.common}"
            lines.append(f"  {label:28} {p.precision:9.4f} {p.recall:7.4f}   {counts}")
    if result.fatal is not None:
        lines += ["", *render_fatal(result.fatal)]
    return "\n".join(lines)


def render_fatal(fatal: Fatal) -> list[str]:
    """One line: how many children were killed, and how many each institution notified."""
    slugs = list(fatal.notifications)
    head = f"{'the homicide question, ' + str(fatal.year):30} {'truth':>7} {'found':>7}"
    head += "".join(f" {slug:>11}" for slug in slugs)
    count = fatal.children
    row = f"  {'children killed (fatal)':28} {count.truth:7} {count.found:7}"
    row += "".join(f" {fatal.notifications[slug]:11}" for slug in slugs)
    return [head, "-" * len(head), row]
