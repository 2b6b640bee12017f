"""National statistics for one year: distinct children and incidents, beside what each
institution notified.

Definitions (registry/README.md explains them):

- An incident is one child in one incident (the methodology's counting unit), as linked by
  `registry.linking`; it belongs to the year of its earliest incident date. A child is counted
  in a year when one of its incidents is.
- A figure for a value counts the children (incidents) having that value in an incident of
  the year. Violence forms, perpetrator relationships, setting, region and reporting
  institution can hold several values for one incident (institutions see an incident
  differently): it is counted under each, so those rows may add up to more than the total;
  `unknown`/`unspecified` is used only when no institution knew better. Outcome (the highest,
  methodology §7), sex and age band hold one value each and add up to the total.
- Notifications are the active cases (cancels and updates applied) of each institution whose
  own incident date falls in the year, counted under their own values: what each institution
  says, beside how many children that is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from gateway.codes import INSTITUTIONS, OUTCOMES, RELATIONSHIPS, SETTINGS, SEXES, VIOLENCE_FORMS
from registry.ekatte import region_of
from registry.estimated import Estimate, Share, estimate
from registry.linking import Linkage, link, paused_gc

#: Statistical age bands: the helpline's, the coarsest any institution gives, so that every
#: child with any age information falls in exactly one.
AGE_BANDS = ("0-5", "6-11", "12-14", "15-17")
REGIONS = tuple(f"BG-{n:02d}" for n in range(1, 29))
UNKNOWN = "unknown"

#: Each dimension with its values in listing order (`unknown` last where it exists).
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "violence-form": VIOLENCE_FORMS,
    "outcome": OUTCOMES,
    "age-band": (*AGE_BANDS, UNKNOWN),
    "sex": SEXES,
    "region": (*REGIONS, UNKNOWN),
    "setting": SETTINGS,
    "perpetrator-relationship": RELATIONSHIPS,
    "institution": INSTITUTIONS,
}
_MULTI = ("violence-form", "region", "setting", "perpetrator-relationship", "institution")
_VAGUE = frozenset({UNKNOWN, "unspecified"})
_OUTCOME_RANK = {value: n for n, value in enumerate(OUTCOMES)}

Cell = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Row:
    dimension: str
    value: str
    children: int
    incidents: int
    #: Active cases per institution slug, in `Statistics.institutions` order.
    notifications: dict[str, int]


@dataclass(slots=True)
class Statistics:
    year: int
    institutions: tuple[str, ...]
    total: Row
    rows: list[Row]
    #: Cases of the year without a pseudonym that nothing linked (each counted as a child).
    unlinked: int = 0
    #: Cases of the year a reference tied to an incident of several possible children.
    ambiguous: int = 0
    #: Cases of the year in a possible link (registry/probabilistic.py): for clerical review.
    possible: int = 0
    #: The total counts corrected in expectation for the children the linkage could not tie
    #: (registry/estimated.py), and the share of each kind of such child found to be a repeat.
    estimate: Estimate | None = None
    shares: dict[str, Share] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def row(r: Row) -> dict[str, Any]:
            return {
                "dimension": r.dimension,
                "value": r.value,
                "children": r.children,
                "incidents": r.incidents,
                "notifications": r.notifications,
            }

        return {
            "year": self.year,
            "institutions": list(self.institutions),
            "total": row(self.total),
            "unlinked_cases": self.unlinked,
            "ambiguous_cases": self.ambiguous,
            "possible_link_cases": self.possible,
            "estimate": None
            if self.estimate is None
            else {
                "children": round(self.estimate.estimated_children, 1),
                "incidents": round(self.estimate.estimated_incidents, 1),
                "children_sd": round(self.estimate.children_sd, 1),
                "incidents_sd": round(self.estimate.incidents_sd, 1),
                "children_range": [round(x, 1) for x in self.estimate.children_range],
                "incidents_range": [round(x, 1) for x in self.estimate.incidents_range],
                "repeat_shares": {kind: share._asdict() for kind, share in self.shares.items()},
            },
            "rows": [row(r) for r in self.rows],
        }


def for_year(cases: Sequence[Mapping[str, Any]], year: int) -> Statistics:
    """Link every active case (links cross years), then count the year."""
    with paused_gc():
        return statistics(cases, link(cases), year)


def read_and_count(read: Callable[[], Sequence[Mapping[str, Any]]], year: int) -> Statistics:
    """`for_year` of the cases `read` returns, the cyclic GC paused from the read to the count:
    re-enabled between the steps, it would walk every object read, a million cases' worth, in
    a full collection at the first allocation (seconds at national scale)."""
    with paused_gc():
        return for_year(read(), year)


def statistics(cases: Sequence[Mapping[str, Any]], linkage: Linkage, year: int) -> Statistics:
    """The year's figures from the active cases (flat forms) and their linkage."""
    with paused_gc():
        return _statistics(cases, linkage, year)


def _statistics(cases: Sequence[Mapping[str, Any]], linkage: Linkage, year: int) -> Statistics:
    prefix = f"{year:04d}"
    by_incident: dict[str, list[int]] = defaultdict(list)
    first_date: dict[str, str] = {}
    # Each institution's notifications per cell, counted by Counter.update (a C loop).
    notified: dict[str, Counter[Cell]] = defaultdict(Counter)
    total_notified: dict[str, int] = defaultdict(int)
    facts: list[_Facts | None] = [None] * len(cases)
    own_cells: list[list[Cell] | None] = [None] * len(cases)
    keys = [case["case_key"] for case in cases]
    children_at, incidents_at = linkage.aligned(keys)
    for i, (case, incident) in enumerate(zip(cases, incidents_at, strict=True)):
        day = (case.get("incident_date") or "")[:10]
        by_incident[incident].append(i)
        if day and (incident not in first_date or day < first_date[incident]):
            first_date[incident] = day
        if day.startswith(prefix):
            own = facts[i] = _facts(case)
            slug = own.institution
            total_notified[slug] += 1
            cells = own_cells[i] = own.cells()
            notified[slug].update(cells)

    children: dict[Cell, set[str]] = defaultdict(set)
    incidents: dict[Cell, int] = defaultdict(int)
    year_children: set[str] = set()
    year_incidents = 0
    for incident, members in by_incident.items():
        if not first_date.get(incident, "").startswith(prefix):
            continue
        child = children_at[members[0]]
        year_children.add(child)
        year_incidents += 1
        if len(members) == 1 and own_cells[members[0]] is not None:
            incident_cells = own_cells[members[0]] or []
        else:
            incident_cells = _incident_cells([facts[i] or _facts(cases[i]) for i in members])
        for cell in incident_cells:
            incidents[cell] += 1
            children[cell].add(child)

    possible = {key for link in linkage.possible for key in (link.a, link.b)}
    flagged = linkage.unlinked | linkage.ambiguous.keys() | possible
    # The flagged cases of the year, found in one pass over the cases.
    of_year = {
        key
        for key, incident in zip(keys, incidents_at, strict=True)
        if key in flagged and first_date.get(incident, "").startswith(prefix)
    }

    # A child the linkage could not tie counts in the year of its first case's incident.
    expected = linkage.expected
    of_year_expected = [
        expected[key]
        for key, incident in zip(keys, incidents_at, strict=True)
        if key in expected and first_date.get(incident, "").startswith(prefix)
    ]

    slugs = _institutions(total_notified)
    rows = [
        Row(
            dimension,
            value,
            len(children.get((dimension, value), ())),
            incidents.get((dimension, value), 0),
            {s: notified[s][(dimension, value)] for s in slugs},
        )
        for dimension, values in _values(children, *notified.values()).items()
        for value in values
    ]
    total = Row(
        "total",
        "all",
        len(year_children),
        year_incidents,
        {s: total_notified.get(s, 0) for s in slugs},
    )
    return Statistics(
        year,
        slugs,
        total,
        rows,
        unlinked=len(of_year & linkage.unlinked),
        ambiguous=len(of_year & linkage.ambiguous.keys()),
        possible=len(of_year & possible),
        estimate=estimate(total.children, total.incidents, of_year_expected)
        if linkage.expected
        else None,
        shares=linkage.shares,
    )


@dataclass(slots=True)
class _Facts:
    """One case's value(s) in each dimension; `precision` ranks its age source (0 = best)."""

    institution: str
    day: str  # the case's own incident date, YYYY-MM-DD ("" if none)
    forms: tuple[str, ...]
    outcome: str
    age_band: str
    precision: int
    sex: str
    region: str
    setting: str
    relationships: tuple[str, ...]

    def cells(self) -> list[Cell]:
        return [
            *_cells("violence-form", self.forms),
            ("outcome", self.outcome),
            ("age-band", self.age_band),
            ("sex", self.sex),
            ("region", self.region),
            ("setting", self.setting),
            *_cells("perpetrator-relationship", self.relationships),
            ("institution", self.institution),
        ]


@lru_cache(maxsize=1 << 12)
def _cells(dimension: str, values: tuple[str, ...]) -> tuple[Cell, ...]:
    """The cells of a multi-valued dimension; remembered, as a few dozen combinations recur
    over a year's cases."""
    return tuple((dimension, value) for value in values)


def _facts(case: Mapping[str, Any]) -> _Facts:
    day = str(case.get("incident_date") or "")[:10]
    band, precision = _age_band(case, day)
    region = case.get("region") or region_of(case.get("ekatte")) or UNKNOWN
    # Positional: keyword arguments cost more, a hundred thousand times over.
    return _Facts(
        str(case.get("institution") or UNKNOWN),
        day,
        tuple(case.get("forms") or ("unspecified",)),
        case.get("outcome") or UNKNOWN,
        band,
        precision,
        case.get("sex") or UNKNOWN,
        region,
        case.get("setting") or UNKNOWN,
        tuple(case.get("relationships") or (UNKNOWN,)),
    )


def _incident_cells(facts: list[_Facts]) -> list[Cell]:
    if len(facts) == 1:
        return facts[0].cells()
    multi: dict[str, set[str]] = {name: set() for name in _MULTI}
    for f in facts:
        multi["violence-form"].update(f.forms)
        multi["region"].add(f.region)
        multi["setting"].add(f.setting)
        multi["perpetrator-relationship"].update(f.relationships)
        multi["institution"].add(f.institution)
    cells: list[Cell] = []
    for name, values in multi.items():
        known = values - _VAGUE
        cells.extend((name, v) for v in (known or values))
    outcome = min((f.outcome for f in facts), key=lambda o: _OUTCOME_RANK.get(o, len(OUTCOMES)))
    sexes = {f.sex for f in facts}
    sex = next((s for s in SEXES if s in sexes), UNKNOWN)
    cells += [("outcome", outcome), ("sex", sex), ("age-band", _incident_age_band(facts))]
    return cells


def _incident_age_band(facts: list[_Facts]) -> str:
    """The band of the most precise source; among equally precise ones, on the incident's
    earliest date (a birthday between the police's date and ОЗД's two days later). Sources that
    still know different bands (two birth dates a typo apart, across a band's edge) give
    `unknown`, as a partial date straddling an edge does: never whichever came first."""
    best = min(f.precision for f in facts)
    precise = [f for f in facts if f.precision == best]
    first = min((f.day for f in precise if f.day), default="")
    known = {f.age_band for f in precise if f.day == first} - {UNKNOWN}
    return known.pop() if len(known) == 1 else UNKNOWN


def _age_band(case: Mapping[str, Any], day: str) -> tuple[str, int]:
    """The statistical age band on the case's incident date (`day`, its text), and how precise
    its source was."""
    on = _date_of(day) if day else None
    birth = str(case.get("birth_date") or "")
    if birth and on:
        born = _birth_parts(birth[:10])
        if born is None:
            return UNKNOWN, 5
        year, months, days, precision = born
        # The oldest and youngest the child can be: the band is known when both agree.
        oldest = _band(_age(year, months[0], days[0], on))
        if precision == 0:  # a full date: one age
            return oldest, 0
        youngest = _band(_age(year, months[1], days[1], on))
        return (oldest if oldest == youngest else UNKNOWN), precision
    age = case.get("age")
    if isinstance(age, int | float):
        return _band(int(age)), 3
    band = case.get("age_band")
    if band in AGE_BANDS:
        return str(band), 4
    return UNKNOWN, 5


@lru_cache(maxsize=1 << 16)
def _birth_parts(text: str) -> tuple[int, tuple[int, int], tuple[int, int], int] | None:
    """A (partial) birth date's year, month and day ranges and its precision rank (0 for a
    full date); None if it is not a date. Remembered: a few thousand recur over a year."""
    parts = text.split("-")
    try:
        year = int(parts[0])
        months = (int(parts[1]),) * 2 if len(parts) > 1 else (1, 12)
        days = (int(parts[2]),) * 2 if len(parts) > 2 else (1, 31)
    except ValueError:
        return None
    return year, (months[0], months[1]), (days[0], days[1]), 3 - len(parts)


def _age(year: int, month: int, day: int, on: date) -> int:
    """Completed years on `on` of a child born on that day (29 February ages on 28 February)."""
    birthday = (month, min(day, 28 if month == 2 else 31))
    if (month, day) == (2, 29) and _leap(on.year):
        birthday = (2, 29)
    return on.year - year - ((on.month, on.day) < birthday)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _band(age: int) -> str:
    return _BAND_OF_AGE.get(age, UNKNOWN)


_BAND_OF_AGE = {
    age: band
    for band in AGE_BANDS
    for age in range(int(band.partition("-")[0]), int(band.partition("-")[2]) + 1)
}


@lru_cache(maxsize=1 << 16)
def _date_of(text: str) -> date | None:
    """A date's text read once: a year's cases share 365 of them."""
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _institutions(found: Mapping[str, int]) -> tuple[str, ...]:
    return (*INSTITUTIONS, *sorted(set(found) - set(INSTITUTIONS)))


def _values(*seen: Mapping[Cell, Any]) -> dict[str, tuple[str, ...]]:
    """Every dimension's listed values, then any value the data holds beyond the code system."""
    extra: dict[str, set[str]] = defaultdict(set)
    for cells in seen:
        for dimension, value in cells:
            if value not in DIMENSIONS[dimension]:
                extra[dimension].add(value)
    return {name: (*values, *sorted(extra[name])) for name, values in DIMENSIONS.items()}
