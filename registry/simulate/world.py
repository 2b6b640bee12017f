"""A synthetic national year with known ground truth: children, incidents, and the institution
records that report them.

Everything is drawn from one seeded `random.Random`, so a seed gives the same world every time.
The world knows the truth the register is trying to recover: which child and which incident
every institution record is about, and whether the record is still live (a withdrawn record is
as if never reported). Renderers (`render/`) turn its records into native messages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from registry.simulate import kinds, numbers
from registry.simulate.kinds import KINDS, PLACES, Kind

_PLACE_INDICES = range(len(PLACES))
_PLACE_WEIGHTS = [p.weight for p in PLACES]
SLUGS = ("mvr", "prosecution", "ozd", "helpline", "schools", "health")
ONE_CHILD = ("ozd", "helpline", "health")

# Chance a record carries the child's personal number when the child has one (the helpline
# never does; schools have no ЛНЧ column), and chance it also writes a birth date beside an ЕГН.
# Why each rate: README.md "Realism of the rates" (ОЗД and schools raised from 0.8 and 0.85:
# ОЗД casework and the schools' pupil registers are kept by ЕГН).
CARRIES_NUMBER = {"mvr": 0.93, "prosecution": 0.97, "ozd": 0.95, "schools": 0.95, "health": 0.95}
BIRTH_BESIDE_EGN = {"mvr": 0.6, "prosecution": 0.0, "ozd": 0.7, "schools": 0.0, "health": 0.8}
TYPO = 0.05  # a birth date keyed wrongly
UPDATED, CANCELLED = 0.15, 0.03
REFERENCES = {  # (from, to): chance the record names the other institution's number
    ("mvr", "prosecution"): 0.5,
    ("prosecution", "mvr"): 0.8,
    ("ozd", "mvr"): 0.6,
    ("ozd", "prosecution"): 0.3,
    ("ozd", "helpline"): 0.5,
    ("helpline", "ozd"): 0.5,
    ("schools", "ozd"): 0.5,
    ("schools", "mvr"): 0.4,
}


@dataclass(frozen=True, slots=True)
class Child:
    id: int
    sex: str  # male | female
    birth: date
    number_kind: str | None  # egn | lnch | None
    number: str | None
    first_name: str
    last_name: str
    home: int  # index into PLACES


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    day: date
    kind: Kind
    relation: str
    children: tuple[int, ...]
    place: int  # index into PLACES


@dataclass(slots=True)
class ChildView:
    """How one record writes one child: with or without the number, and which birth date."""

    carries_number: bool
    birth: date | None
    typo: bool = False


@dataclass(slots=True)
class Report:
    """One institution record about one incident (each child of it becomes one register case)."""

    slug: str
    number: str  # the record's own number (registration, proceeding, signal, contact, ...)
    incident: int
    children: tuple[int, ...]
    views: tuple[ChildView, ...]
    day: date  # the incident date as this institution writes it
    seed: int  # renderers draw their incidental details from it, deterministically
    references: dict[str, str] = field(default_factory=dict)
    updated: bool = False
    cancelled: bool = False

    @property
    def live(self) -> bool:
        return not self.cancelled


@dataclass(slots=True)
class World:
    year: int
    children: dict[int, Child]
    incidents: dict[int, Incident]
    reports: list[Report]
    noise_contacts: int  # helpline contacts with no violence category: out of scope

    def child(self, report: Report, index: int) -> Child:
        return self.children[report.children[index]]


def build_world(children: int = 5000, *, seed: int = 2021, year: int = 2021) -> World:
    if year >= date.today().year:
        # Contracts refuse an incident date after the day its message is received.
        raise ValueError(f"the simulated year must be over; {year} is not")
    return _Builder(random.Random(seed), year).build(children)


class _Builder:
    def __init__(self, rng: random.Random, year: int) -> None:
        self.rng, self.year = rng, year
        self.children: dict[int, Child] = {}
        self.incidents: dict[int, Incident] = {}
        self.reports: list[Report] = []
        self.counters = dict.fromkeys(SLUGS, 0)
        self.numbers: set[str] = set()

    def build(self, target: int) -> World:
        rng = self.rng
        while len(self.children) < target:
            family = self._family()
            first = self._incident(family, None)
            # The same children again, at least a week later (unless the first one killed).
            if rng.random() < 0.2 and not first.kind.fatal:
                self._incident(family, first.day)
        noise = sum(1 for r in self.reports if r.slug == "helpline") // 25
        return World(self.year, self.children, self.incidents, self.reports, noise)

    # -- people ------------------------------------------------------------------------------

    def _family(self) -> tuple[int, ...]:
        rng = self.rng
        first = self._child(None, None)
        if rng.random() >= 0.04:
            return (first.id,)
        twins = rng.random() < 0.6
        other = self._child(first.birth if twins else None, first)
        return (first.id, other.id)

    def _child(self, birth: date | None, sibling: Child | None) -> Child:
        rng = self.rng
        if birth is None:
            start = date(self.year - 17, 1, 1)
            birth = start + timedelta(days=rng.randrange((date(self.year - 1, 6, 30) - start).days))
        sex = rng.choice(("male", "female"))
        roll = rng.random()
        kind = "egn" if roll < 0.88 else "lnch" if roll < 0.93 else None
        number = None
        while kind is not None and (number is None or number in self.numbers):
            number = numbers.make_egn(birth, sex, rng) if kind == "egn" else numbers.make_lnch(rng)
        if number:
            self.numbers.add(number)
        child = Child(
            id=len(self.children) + 1,
            sex=sex,
            birth=birth,
            number_kind=kind,
            number=number,
            first_name=rng.choice(kinds.BOYS if sex == "male" else kinds.GIRLS),
            last_name=sibling.last_name if sibling else rng.choice(kinds.SURNAMES),
            home=sibling.home if sibling else self._place(),
        )
        self.children[child.id] = child
        return child

    def _place(self) -> int:
        return self.rng.choices(_PLACE_INDICES, weights=_PLACE_WEIGHTS)[0]

    # -- incidents and who reports them -------------------------------------------------------

    def _incident(self, family: tuple[int, ...], after: date | None) -> Incident:
        rng = self.rng
        start = date(self.year, 1, 1) if after is None else after + timedelta(days=7)
        end = date(self.year, 12, 31)
        day = start + timedelta(days=rng.randrange(max(1, (end - start).days + 1)))
        kind = rng.choices(KINDS, weights=[k.weight for k in KINDS])[0]
        home = self.children[family[0]].home
        incident = Incident(
            id=len(self.incidents) + 1,
            day=day,
            kind=kind,
            relation=rng.choice(kind.relations),
            children=family,
            place=home if rng.random() < 0.8 else self._place(),
        )
        self.incidents[incident.id] = incident
        self._reports(incident)
        return incident

    def _reports(self, incident: Incident) -> None:
        rng, kind = self.rng, incident.kind
        slugs: list[str] = []
        if rng.random() < kind.crime:
            if rng.random() < 0.95:
                slugs.append("mvr")
            if rng.random() < 0.6:
                slugs.append("prosecution")
        if rng.random() < 0.75:
            slugs.append("ozd")
        if rng.random() < 0.2 and not kind.fatal:  # nobody calls the helpline for the dead
            slugs.append("helpline")
        if rng.random() < kind.school:
            slugs.append("schools")
        if kind.icd and rng.random() < kind.health:
            slugs.append("health")
        made: list[Report] = []
        for slug in slugs or ["ozd"]:
            # A signal, a contact and an encounter are about one child each.
            groups = [(c,) for c in incident.children] if slug in ONE_CHILD else [incident.children]
            made += [self._report(slug, incident, group) for group in groups]
        by_slug = {r.slug: r for r in made}
        for report in made:
            for (source, target), chance in REFERENCES.items():
                if report.slug == source and target in by_slug and rng.random() < chance:
                    report.references[target] = by_slug[target].number

    def _report(self, slug: str, incident: Incident, children: tuple[int, ...]) -> Report:
        rng = self.rng
        self.counters[slug] += 1
        day = incident.day
        if slug == "helpline":
            day += timedelta(days=rng.choice((0, 0, 0, 1, 2)))
        elif slug == "health" and rng.random() < 0.2:
            day += timedelta(days=1)
        elif slug == "ozd" and rng.random() < 0.1:  # no incidentDate: the day it was received
            day += timedelta(days=rng.randrange(4))
        views = tuple(self._view(slug, self.children[c], day) for c in children)
        if slug == "schools":
            children, views = self._distinct_rows(children, views)
        withdrawable = slug != "schools"  # school rows cannot be withdrawn
        report = Report(
            slug=slug,
            number=self._record_number(slug, incident),
            incident=incident.id,
            children=children,
            views=views,
            day=day,
            seed=rng.randrange(2**32),
            updated=rng.random() < UPDATED,
            cancelled=withdrawable and rng.random() < CANCELLED,
        )
        self.reports.append(report)
        return report

    def _distinct_rows(
        self, children: tuple[int, ...], views: tuple[ChildView, ...]
    ) -> tuple[tuple[int, ...], tuple[ChildView, ...]]:
        """A school row is keyed by its pupil's ЕГН, else birth date and sex: twins without an
        ЕГН are one row to the school's register, so the school records one of them."""
        seen: set[tuple[str, date | None, str]] = set()
        kept = []
        for child_id, view in zip(children, views, strict=True):
            child = self.children[child_id]
            key = (
                (child.number or "", None, "")
                if view.carries_number
                else ("", view.birth, child.sex)
            )
            if key not in seen:
                seen.add(key)
                kept.append((child_id, view))
        return tuple(c for c, _ in kept), tuple(v for _, v in kept)

    def _view(self, slug: str, child: Child, day: date) -> ChildView:
        rng = self.rng
        if slug == "helpline":
            return ChildView(carries_number=False, birth=None)
        number_ok = child.number_kind == "egn" or (
            child.number_kind == "lnch" and slug != "schools"
        )
        carries = number_ok and rng.random() < CARRIES_NUMBER[slug]
        needs_birth = not carries or child.number_kind == "lnch"
        if not needs_birth and rng.random() >= BIRTH_BESIDE_EGN[slug]:
            return ChildView(carries_number=True, birth=None)
        if rng.random() < TYPO:
            return ChildView(carries, numbers.typo(child.birth, day, rng), typo=True)
        return ChildView(carries, child.birth)

    def _record_number(self, slug: str, incident: Incident) -> str:
        n, year = self.counters[slug], self.year
        place = incident.place
        city = PLACES[place][2]
        if slug == "mvr":
            return f"ЗМ-{n}/{year} {place + 1:02d} РУ-{city}"
        if slug == "prosecution":
            return f"ДП {n}/{year} РП-{city}"
        if slug == "ozd":
            return f"ОЗД-{PLACES[place].code}-{year}-{n:06d}"
        if slug == "helpline":
            return f"HL-{year}-{n:07d}"
        if slug == "schools":
            return f"{100000 + place * 1000 + n % 997:06d}/{year}-{n:04d}"
        return f"{1600000000 + place * 1000 + n % 7:010d}/{year}-{n:06d}"
