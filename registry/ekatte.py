"""The settlements of the EKATTE classifier and the region (ISO 3166-2:BG) each lies in.

The contracts send a settlement, a region or both, "with no derivation or cross-check: the
register holds the classifier" (institutions README §8). `ekatte.csv` is the National
Statistical Institute's classifier of settlements (version of 29 April 2014, 5,267 settlements)
reduced to code, region and name; registry/README.md says where it came from and how to
refresh it. A code the table does not know has no region: the case's region is `unknown`, never
guessed.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

_TABLE = Path(__file__).with_name("ekatte.csv")


@cache
def _rows() -> tuple[tuple[str, str, str], ...]:
    """(code, region, name) of every settlement, read once."""
    with _TABLE.open(encoding="utf-8", newline="") as table:
        return tuple((r["ekatte"], r["region"], r["name"]) for r in csv.DictReader(table))


@cache
def regions() -> dict[str, str]:
    """EKATTE code (5 digits) -> region (`BG-01` … `BG-28`)."""
    return {code: region for code, region, _ in _rows()}


@cache
def names() -> dict[str, str]:
    """EKATTE code -> the settlement's name (for reports)."""
    return {code: name for code, _, name in _rows()}


def region_of(ekatte: object) -> str | None:
    return regions().get(str(ekatte)) if ekatte else None
