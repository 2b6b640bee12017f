"""Candidate cases of each query case of the probabilistic step (Splink's blocking rules,
OR-ed), found by sorted joins rather than by a dict lookup per case and key.

A query case q (registry/probabilistic.py says which cases are queries, whether each wants the
*near* and the *born* block, and how many days either side of its incident date) has as
candidates the cases i with:

- *near*: a compatible sex (the same, or either unknown), a shared place (region or EKATTE), a
  shared possible birth year (either side's age unknown fits any), and an incident date at
  most `days` from q's;
- *born*: a compatible sex, the same full birth date and a shared place, at any incident date
  (a later incident of the same child);
- *moved*: a compatible sex, the same full birth date, and an incident date at most `days`
  from q's, at any place (the police write where it happened, ОЗД where the child lives: a
  fifth of incidents happen away from home). Part of *near*: a query that wants no near block
  wants no moved one either.

How: every case becomes integer block keys (one per place and birth year for near, one per
place for born, one for moved), each with its incident day in the low bits; the keys of each
block are sorted once, and every query key is looked up by binary search with the query's day
window as the range. At a million cases a dict lookup per case and key took 11–16 s on a slow
machine; this takes 4–6 s there, most of it reading the cases' fields (registry/README.md,
"Scale").
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter, itemgetter
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

_Array = npt.NDArray[np.int64]

#: Bits under a block key for the incident day: every date's ordinal is below 2**22
#: (date.max is 3,652,059).
_DAY_BITS = 22
#: The birth year of a case whose age is unknown: it fits every query, as each query with a
#: known age is also indexed under it.
_UNKNOWN = -1
#: The birth year under which a query whose age is unknown is indexed: every case looks it up.
_ANY = -2


class CaseLike(Protocol):
    """What blocking reads of a case (registry.linking._Case)."""

    @property
    def at(self) -> int: ...

    @property
    def day(self) -> int: ...

    @property
    def sex(self) -> str | None: ...

    @property
    def flat(self) -> Mapping[str, Any]: ...


class _Ids(dict[Any, int]):
    """Small integer ids in order of first sight (`map(ids.__getitem__, …)` stays in C)."""

    def __missing__(self, key: Any) -> int:
        self[key] = found = len(self)
        return found


class _Keys(list[tuple[int, int, int, int, int, int]]):
    """One block's query entries: (sex, place, year, first day, last day, query case), where
    `place` is a full birth date for moved and `year` one for born."""

    def arrays(self) -> tuple[_Array, ...]:
        table = np.array(self, np.int64).reshape(-1, 6)
        return tuple(table[:, k] for k in range(6))


class Blocks:
    """`found`: each query case's candidate case indices (itself among them when its own keys
    fit it: linking skips its own group)."""

    def __init__(
        self,
        cases: Sequence[CaseLike],
        regions: Mapping[str, str],
        wanted: Mapping[int, tuple[bool, bool, int]],  # query case -> near, born, days
    ) -> None:
        self.found: dict[int, set[int]] = defaultdict(set)
        if not wanted:
            return
        self.regions = regions
        self.sexes = _Ids({None: 0, "male": 1, "female": 2})
        self.places = _Ids()
        self.births = _Ids()  # full birth dates (YYYY-MM-DD) only
        table = _Table(self, cases)
        near, born, moved = self._queries(cases, wanted)
        any_year = any(entry[2] == _ANY for entry in near)
        pairs = [
            self._join(table.near(any_year=any_year), near.arrays()),
            self._join(table.born(), born.arrays()),
            self._join(table.moved(), moved.arrays()),
        ]
        self._collect(
            np.concatenate([q for q, _ in pairs]), np.concatenate([i for _, i in pairs]), len(cases)
        )

    def place_ids(self, region: Any, ekatte: Any) -> tuple[int, ...]:
        """Ids of a case's places: its region (given, or its settlement's) and settlement."""
        region = region or (self.regions.get(str(ekatte)) if ekatte else None)
        places = [f"region:{region}"] if region else []
        if ekatte:
            places.append(f"ekatte:{ekatte}")
        return tuple(self.places[p] for p in places)

    def birth_id(self, birth: Any) -> int:
        """The id of a full birth date, -1 for a partial one or none."""
        return self.births[birth] if isinstance(birth, str) and len(birth) == 10 else -1

    def _queries(
        self, cases: Sequence[CaseLike], wanted: Mapping[int, tuple[bool, bool, int]]
    ) -> tuple[_Keys, _Keys, _Keys]:
        near, born, moved = _Keys(), _Keys(), _Keys()
        for q, (use_near, use_born, days) in wanted.items():
            case = cases[q]
            flat = case.flat
            own = self.sexes[case.sex]
            sexes = (own, 0) if case.sex else (1, 2, 0)
            places = self.place_ids(flat.get("region"), flat.get("ekatte"))
            birth = self.birth_id(flat.get("birth_date"))
            first, last = case.day - days, case.day + days
            if use_near and case.day:
                years = _birth_years(flat)
                marks = [_ANY] if years is None else [*years, _UNKNOWN]
                for sex in sexes:
                    for place in places:
                        for year in marks:
                            near.append((sex, place, year, first, last, q))
                    if birth >= 0:
                        moved.append((sex, birth, 0, first, last, q))
            if use_born and birth >= 0:
                for sex in sexes:
                    for place in places:
                        born.append((sex, place, birth, 0, 0, q))
        return near, born, moved

    @staticmethod
    def _join(entries: tuple[_Array, ...], queries: tuple[_Array, ...]) -> tuple[_Array, _Array]:
        """(query, case) of every case entry whose key equals a query entry's and whose day is
        in that entry's window."""
        if not len(queries[0]) or not len(entries[0]):
            return np.empty(0, np.int64), np.empty(0, np.int64)
        case_keys, query_keys = _keys(entries[:3], queries[:3])
        case_keys = case_keys << _DAY_BITS | entries[3]
        order = np.argsort(case_keys, kind="stable")
        sorted_keys = case_keys[order]
        query_keys <<= _DAY_BITS
        low = np.searchsorted(sorted_keys, query_keys + np.maximum(queries[3], 0), "left")
        high = np.searchsorted(sorted_keys, query_keys + np.maximum(queries[4], 0), "right")
        # Each query entry's run of sorted positions, low[k] .. high[k] - 1, all in one array.
        positions = _runs(np.arange(len(low)), low, high - 1)[1]
        return np.repeat(queries[5], high - low), entries[4][order[positions]]

    def _collect(self, q: _Array, i: _Array, n: int) -> None:
        """`found` from the pairs, each once, each query's candidates added in case order
        (as a scan of the cases in order adds them)."""
        pairs = np.sort(q * n + i)
        if len(pairs):  # each pair once (a sort and a comparison: np.unique hashes, slower)
            pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]
        query_of = pairs // n
        queries, cases = query_of.tolist(), (pairs % n).tolist()
        bounds = [0, *(np.flatnonzero(np.diff(query_of)) + 1).tolist(), len(cases)]
        for start, stop in itertools.pairwise(bounds):
            self.found[queries[start]] = set(cases[start:stop])


class _Table:
    """The cases as integer columns: sex, incident day, places, full birth date."""

    def __init__(self, blocks: Blocks, cases: Sequence[CaseLike]) -> None:
        n = len(cases)
        self.flats = list(map(attrgetter("flat"), cases))
        self.sex = _column(map(blocks.sexes.__getitem__, map(attrgetter("sex"), cases)), n)
        self.day = _column(map(attrgetter("day"), cases), n)
        # The flats' fields read in the order `link` was given them, the order they were made in
        # memory, then put in case order: at a million cases, read in case order they miss the
        # cache at nearly every case (3-4 s more on a slow machine).
        order = np.argsort(_column(map(attrgetter("at"), cases), n), kind="stable")
        given = [self.flats[k] for k in order.tolist()]
        # A few thousand distinct (region, EKATTE) pairs: their place ids worked out once each.
        wheres = _Ids()
        where = zip(_values(given, "region"), _values(given, "ekatte"), strict=True)
        where_at = _in_case_order(_column(map(wheres.__getitem__, where), n), order)
        ids = np.array(
            [(*blocks.place_ids(*w), -1, -1)[:2] for w in wheres],
            np.int64,
        )
        self.place = (ids[where_at, 0], ids[where_at, 1])
        births = map(_BirthIds(blocks).__getitem__, _values(given, "birth_date"))
        self.birth = _in_case_order(_column(births, n), order)
        self.years = np.array([_year(text) for text in blocks.births], np.int64)

    def near(self, *, any_year: bool) -> tuple[_Array, ...]:
        dated = np.flatnonzero(self.day > 0)
        birth = self.birth[dated]
        low, high = np.full(len(dated), _UNKNOWN), np.full(len(dated), _UNKNOWN)
        full = birth >= 0
        low[full] = high[full] = self.years[birth[full]]
        for k in np.flatnonzero(~full).tolist():
            # A partial birth date gives a year, an age or a band a run of them.
            years = _birth_years(self.flats[dated[k]])
            if years == []:  # a band upside down: no year at all
                low[k], high[k] = 1, 0
            elif years is not None:
                low[k], high[k] = years[0], years[-1]
        at, year = _runs(dated, low, high)
        if any_year:
            at, year = (
                np.concatenate([at, dated]),
                np.concatenate([year, np.full(len(dated), _ANY)]),
            )
        return self._by_place(at, year)

    def born(self) -> tuple[_Array, ...]:
        at = np.flatnonzero(self.birth >= 0)
        sex, place, year, day, at = self._by_place(at, self.birth[at])
        return sex, place, year, np.zeros_like(day), at

    def moved(self) -> tuple[_Array, ...]:
        at = np.flatnonzero((self.birth >= 0) & (self.day > 0))
        return self.sex[at], self.birth[at], np.zeros_like(at), self.day[at], at

    def _by_place(self, at: _Array, year: _Array) -> tuple[_Array, ...]:
        """(sex, place, year, day, case) for each entry and each of its case's places."""
        parts = []
        for column in self.place:
            has = column[at] >= 0
            parts.append((at[has], year[has], column[at[has]]))
        at = np.concatenate([p[0] for p in parts])
        return (
            self.sex[at],
            np.concatenate([p[2] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            self.day[at],
            at,
        )


class _BirthIds(dict[Any, int]):
    """A birth date as given -> its full date's id, -1 when partial or none."""

    def __init__(self, blocks: Blocks) -> None:
        super().__init__()
        self.blocks = blocks

    def __missing__(self, birth: Any) -> int:
        self[birth] = found = self.blocks.birth_id(birth)
        return found


def _values(flats: list[Mapping[str, Any]], name: str) -> list[Any]:
    """Every case's value of a field. Stored summaries hold every field, so a C-level getter
    does (a fifth of the time of `.get` in a comprehension); other mappings may not."""
    try:
        return list(map(itemgetter(name), flats))
    except KeyError:
        return [flat.get(name) for flat in flats]


def _in_case_order(column: _Array, order: _Array) -> _Array:
    """A column read in `order` (case indices), in case order."""
    found = np.empty_like(column)
    found[order] = column
    return found


def _column(values: Iterable[int], n: int) -> _Array:
    return np.fromiter(values, np.int64, n)


def _runs(at: _Array, low: _Array, high: _Array) -> tuple[_Array, _Array]:
    """Each index repeated once per value of its run low..high, with those values."""
    counts = high - low + 1
    index = np.repeat(at, counts)
    starts = np.repeat(low - (np.cumsum(counts) - counts), counts)
    return index, np.arange(len(index), dtype=np.int64) + starts


def _keys(cases: tuple[_Array, ...], queries: tuple[_Array, ...]) -> tuple[_Array, _Array]:
    """The key parts of the case and of the query entries as one integer each, below 2**41
    so that a day fits under it in an int64."""
    both = [np.concatenate([c, q]) for c, q in zip(cases, queries, strict=True)]
    key, size = np.zeros(len(both[0]), np.int64), 1
    for column in both:
        low = int(column.min())
        span = int(column.max()) - low + 1
        key, size = key * span + (column - low), size * span
    if size >= 1 << 41:  # only with absurd values: ids of the distinct combinations instead
        key = np.unique(np.stack(both, axis=1), axis=0, return_inverse=True)[1].ravel()
    return key[: len(cases[0])], key[len(cases[0]) :]


def _year(birth: str) -> int:
    """The year of a full birth date's text (unknown when it is not a number)."""
    try:
        return int(birth[:4])
    except ValueError:
        return _UNKNOWN


def _birth_years(flat: Mapping[str, Any]) -> list[int] | None:
    """The birth years a case allows (from a birth date, an age or a band; ages ±1 year): one,
    or a run; None when nothing tells."""
    try:
        birth = flat.get("birth_date")
        if birth:
            return [int(str(birth)[:4])]
        seen = int(str(flat.get("incident_date") or "")[:4])
    except ValueError:
        return None
    age = flat.get("age")
    if isinstance(age, int | float):
        return [*range(seen - int(age) - 2, seen - int(age) + 2)]
    band = flat.get("age_band")
    if isinstance(band, str) and "-" in band:
        low, _, high = band.partition("-")
        if low.isdigit() and high.isdigit():
            return [*range(seen - int(high) - 2, seen - int(low) + 2)]
    return None
