"""A CSV file as the CSV batch transport reads it: charset, delimiter, header and rows.

RFC 4180 through the csv module (strict quoting), records numbered from 1 after the header, fully
empty records dropped; what the transport reads of the adapter's contract is `CsvContract`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from gateway.adapter import Adapter
from gateway.errors import ContractViolation, NotParseable, Problem, TooLarge, UnsupportedMediaType

#: The contract's row limit when an adapter names none.
MAX_ROWS = 50_000
# charset parameter (lower case) -> Python codec; utf-8-sig drops a byte-order mark if present.
CHARSETS = {"utf-8": "utf-8-sig", "windows-1251": "cp1251", "cp1251": "cp1251"}


RowIdentity = Callable[[Mapping[str, str | None]], "tuple[Hashable, Hashable] | None"]


def _no_identity(document: Mapping[str, str | None]) -> tuple[Hashable, Hashable] | None:
    return None


@dataclass(frozen=True, slots=True)
class CsvContract:
    """What the transport reads of an adapter besides the `Adapter` protocol, each an optional
    attribute of the adapter of the same name (the default applies when it has none)."""

    #: Every column of the contract (None: any column is known, none warned about).
    columns: tuple[str, ...] | None = None
    #: Columns a file's header must have (else 422 for the file).
    required_columns: frozenset[str] = frozenset()
    #: The column echoed in each result as `incidentId`.
    label_column: str | None = None
    #: The most non-empty data rows a file may have (more: 413).
    max_rows: int = MAX_ROWS
    #: `row_identity(document)`: (record key, parsed values) of a row, None when its key cannot
    #: be read. Pure and keyless: the transport compares one file's rows with it, in memory only.
    row_identity: RowIdentity = _no_identity

    @classmethod
    def of(cls, adapter: Adapter) -> CsvContract:
        return cls(
            columns=getattr(adapter, "columns", None),
            required_columns=frozenset(getattr(adapter, "required_columns", ())),
            label_column=getattr(adapter, "label_column", None),
            max_rows=getattr(adapter, "max_rows", MAX_ROWS),
            row_identity=getattr(adapter, "row_identity", _no_identity),
        )


@dataclass(slots=True)
class Table:
    """A decoded file: its delimiter, header (as received and trimmed) and non-empty records."""

    delimiter: str
    header: list[str]
    names: list[str]
    rows: list[tuple[int, list[str]]]
    warnings: list[dict[str, str]] = field(default_factory=list)


def encoding_of(params: Mapping[str, str]) -> str:
    charset = params.get("charset", "utf-8").lower()
    if charset not in CHARSETS:
        raise UnsupportedMediaType("the charset must be utf-8 or windows-1251")
    return CHARSETS[charset]


def decode(raw: bytes, encoding: str) -> str:
    name = "UTF-8" if encoding.startswith("utf") else "windows-1251"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise NotParseable(f"the body is not {name} text") from exc
    # No spreadsheet writes NUL, and PostgreSQL cannot store it in the keys made of cells.
    if "\x00" in text:
        raise NotParseable(f"the body is not {name} text: it holds a NUL character")
    return text


def read_table(text: str, contract: CsvContract) -> Table:
    """The file's header and rows; every problem of the header is listed at once (422)."""
    first_line = text.partition("\n")[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = list(reader)
    except csv.Error as exc:
        # The csv module's message may quote the cell: only the line is named.
        raise NotParseable(f"the body is not CSV (line {reader.line_num})") from exc
    header = records[0] if records else []
    names = [name.strip() for name in header]
    rows = [
        (n, cells) for n, cells in enumerate(records[1:], start=1) if any(c.strip() for c in cells)
    ]
    if len(rows) > contract.max_rows:
        raise TooLarge(f"the file has more than {contract.max_rows} rows")
    problems = [
        Problem(c, "required", f"the header has no column {c}")
        for c in contract.columns or sorted(contract.required_columns)
        if c in contract.required_columns and c not in names
    ]
    seen: set[str] = set()
    table = Table(delimiter, header, names, rows)
    for name in names:
        if name in seen:
            problems.append(Problem(name, "conflict", "the column is named twice in the header"))
        elif name and contract.columns is not None and name not in contract.columns:
            # Blank header cells (Excel's trailing columns) are no column at all.
            table.warnings.append({"code": "unknown-column", "path": name})
        seen.add(name)
    if not rows:
        problems.append(Problem("", "required", "the file has no data rows"))
    if problems:
        raise ContractViolation(problems)
    return table


def row_bytes(table: Table, cells: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=table.delimiter, lineterminator="\r\n")
    writer.writerows([table.header, cells])
    return out.getvalue().encode()
