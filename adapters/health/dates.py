"""FHIR R4 `date` and `dateTime` values read as written: a day, or the span a partial one allows."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

# FHIR R4 §2.24.0.1: a time needs an offset; a date may stop at the year or the month.
_DATE = re.compile(r"^(?P<y>[0-9]{4})(?:-(?P<m>[0-9]{2})(?:-(?P<d>[0-9]{2}))?)?$")
_DATE_TIME = re.compile(
    r"^(?P<y>[0-9]{4})(?:-(?P<m>[0-9]{2})(?:-(?P<d>[0-9]{2})"
    r"(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?"
    r"(?:Z|[+-](?:0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00))?)?)?$"
)


@dataclass(frozen=True, slots=True)
class FhirDate:
    """`first` and `last` are the earliest and latest day the value allows (equal for a day)."""

    text: str
    first: date
    last: date

    @property
    def full(self) -> bool:
        return self.first == self.last


class NotADate(ValueError):
    """The value has the form of a FHIR date but names no calendar day (`2021-02-30`)."""


def _span(match: re.Match[str], text: str) -> FhirDate | None:
    year = int(match["y"])
    try:
        if match["d"]:
            # "The date of" a timestamp is its calendar date in its own offset: as written.
            day = date(year, int(match["m"]), int(match["d"]))
            return FhirDate(text, day, day)
        if match["m"]:
            month = int(match["m"])
            last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 0
            return FhirDate(text, date(year, month, 1), date(year, month, last))
        return FhirDate(text, date(year, 1, 1), date(year, 12, 31))
    except ValueError as exc:
        raise NotADate(text) from exc


def parse_date(text: str) -> FhirDate | None:
    """A FHIR `date` (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`); None when not of that form."""
    match = _DATE.match(text)
    return _span(match, text) if match else None


def parse_date_time(text: str) -> FhirDate | None:
    """A FHIR `dateTime` (a `date`, or a full date with a time and an offset)."""
    match = _DATE_TIME.match(text)
    return _span(match, text) if match else None
