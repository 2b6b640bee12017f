"""One school register row read column by column: trimmed, NFC, Excel's lost zeros restored, dates
parsed; no keys and no code tables are needed, so the transport can read a row's identity too."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date

from gateway.errors import Problem
from gateway.mappings import normalise

#: Every column of the contract, in its order (problems are listed in this order).
COLUMNS = (
    "incident_id",
    "school_code",
    "ekatte",
    "incident_date",
    "level",
    "forms",
    "victim_egn",
    "victim_birth_date",
    "victim_sex",
    "perpetrator",
    "ozd_signal_number",
    "mvr_registration_number",
)
#: Columns a file's header must have; `victim_birth_date` is required per row unless an ЕГН is.
REQUIRED = frozenset(
    {"incident_id", "school_code", "ekatte", "incident_date", "level", "forms", "victim_sex",
     "perpetrator"}
)  # fmt: skip
# Excel drops leading zeros of numbers: these columns are left-padded to their width.
_WIDTHS = {"school_code": 6, "ekatte": 5, "victim_egn": 10}
_ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_DOTTED_DATE = re.compile(r"^([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})$")
_DIGITS = re.compile(r"^[0-9]+$")


@dataclass(slots=True)
class Row:
    """A row's values as parsed (None: blank or unreadable, see `problems`)."""

    incident_id: str | None = None
    school_code: str | None = None
    ekatte: str | None = None
    incident_date: date | None = None
    level: str | None = None
    forms: tuple[str, ...] = ()
    egn: str | None = None
    birth_date: date | None = None
    birth_date_given: bool = False
    sex: str | None = None
    perpetrator: str | None = None
    ozd: str | None = None
    mvr: str | None = None
    # Columns whose leading zeros were restored, in column order.
    padded: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def victim(self) -> str | None:
        """The victim part of the record key, in clear (it never leaves the process as such)."""
        if self.egn:
            return f"EGN:{self.egn}"
        if self.birth_date and self.sex:
            return f"{self.birth_date.isoformat()}|{self.sex}"
        return None

    def content(self) -> tuple[Hashable, ...]:
        """Every parsed value: equal for rows that say the same (`12.11.2021` = `2021-11-12`);
        forms are a set, so their order in the cell does not count."""
        return (
            self.incident_id,
            self.school_code,
            self.ekatte,
            self.incident_date.isoformat() if self.incident_date else None,
            self.level,
            tuple(sorted(self.forms)),
            self.egn,
            self.birth_date.isoformat() if self.birth_date else None,
            self.sex,
            self.perpetrator,
            self.ozd,
            self.mvr,
        )


def parse_date(text: str) -> date | None:
    """`YYYY-MM-DD` or `D.M.YYYY`; ValueError for an impossible day, None for another shape."""
    if match := _ISO_DATE.match(text):
        year, month, day = match.groups()
    elif match := _DOTTED_DATE.match(text):
        day, month, year = match.groups()
    else:
        return None
    return date(int(year), int(month), int(day))


class _Reader:
    def __init__(self, document: Mapping[str, str | None]) -> None:
        self.document = document
        self.row = Row()

    def text(self, column: str) -> str | None:
        """The cell trimmed and NFC-normalised; blank or absent is None (reported if required)."""
        value = normalise(self.document.get(column) or "")
        if value:
            return value
        if column in REQUIRED:
            self.row.problems.append(Problem(column, "required", f"{column} is required"))
        return None

    def digits(self, column: str) -> str | None:
        """A code of a fixed number of digits; a shorter one had its leading zeros dropped."""
        value = self.text(column)
        width = _WIDTHS[column]
        if value is None or not _DIGITS.match(value) or len(value) > width:
            if value is not None and column != "victim_egn":
                self.row.problems.append(
                    Problem(column, "format", f"{column} must be a code of {width} digits")
                )
            # The ЕГН goes to gateway.identity as it is: it owns every rule of its form.
            return value if column == "victim_egn" else None
        if len(value) < width:
            self.row.padded.append(column)
        return value.zfill(width)

    def date(self, column: str) -> date | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            parsed = parse_date(value)
        except ValueError:
            self.row.problems.append(Problem(column, "date", f"{column} is not a calendar date"))
            return None
        if parsed is None:
            self.row.problems.append(
                Problem(column, "format", f"{column} must be YYYY-MM-DD or D.M.YYYY")
            )
        return parsed

    def forms(self) -> tuple[str, ...]:
        """Segments between vertical bars, trimmed; empty and repeated ones dropped."""
        value = self.text("forms")
        if value is None:
            return ()
        found: list[str] = []
        for segment in value.split("|"):
            code = normalise(segment)
            if code and code not in found:
                found.append(code)
        if not found:
            self.row.problems.append(Problem("forms", "required", "forms must name a form"))
        return tuple(found)


def read_row(document: Mapping[str, str | None]) -> Row:
    """Every column in the contract's order; each problem of form is collected in `problems`."""
    r = _Reader(document)
    row = r.row
    row.incident_id = r.text("incident_id")
    row.school_code = r.digits("school_code")
    row.ekatte = r.digits("ekatte")
    row.incident_date = r.date("incident_date")
    row.level = r.text("level")
    row.forms = r.forms()
    row.egn = r.digits("victim_egn")
    row.birth_date_given = bool(normalise(document.get("victim_birth_date") or ""))
    row.birth_date = r.date("victim_birth_date")
    row.sex = r.text("victim_sex")
    row.perpetrator = r.text("perpetrator")
    row.ozd = r.text("ozd_signal_number")
    row.mvr = r.text("mvr_registration_number")
    return row


def row_identity(document: Mapping[str, str | None]) -> tuple[Hashable, Hashable] | None:
    """(record key in clear, parsed values) of a row whose key can be read, else None."""
    row = read_row(document)
    victim = row.victim()
    if row.problems or not (row.school_code and row.incident_id and victim):
        return None
    return (row.school_code, row.incident_id, victim), row.content()
