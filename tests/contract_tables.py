"""What the institutions' contracts say about codes: their tables and "`x` → `y`" lists.

The contracts are the markdown files of `../shared/institutions/` (beside the clone in CI). This
module reads them simply and strictly: a table row is split on `|` and its codes are the
backticked words; a list is read with a regular expression. Whatever cannot be read as expected
raises `ContractParseError` naming the contract and the table or list, so a cross-check never
passes on a table it did not read.

Each reader returns `Entry`s: a source code, the canonical targets the contract gives it (None:
only its membership of a closed list is stated there), the `dependsOn` context, and where the
contract says so (file, line, text) for the report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from gateway.codes import CASE_STAGES, OUTCOMES, RELATIONSHIPS, SETTINGS, SEXES, VIOLENCE_FORMS
from gateway.mappings import normalise

CONTRACTS = Path(__file__).resolve().parents[2] / "shared" / "institutions"

GENDER = "http://hl7.org/fhir/administrative-gender"

# The canonical code system of each translation target: a target the contract gives outside it
# means the list was misread (or the contract uses a new canonical code): either way, loudly.
VOCABULARY: dict[str, tuple[str, ...]] = {
    "violence-form": VIOLENCE_FORMS,
    "outcome": OUTCOMES,
    "perpetrator-relationship": RELATIONSHIPS,
    "setting": SETTINGS,
    "case-stage": CASE_STAGES,
    GENDER: SEXES,
}

_TICK = re.compile(r"`([^`]+)`")
# `x` (words, no backtick) → `y`
_PAIR = re.compile(r"`([^`]+)`[^`→]*?→\s*`([^`]+)`")
# a run of list items before a pair that share its target: ", `.3` sports area, `.4` street, "
_GROUPED = re.compile(r"\s*,?\s*(?:`[^`]+`[^`→;:]*?,\s*)+")
_RANGE = re.compile(r"`([^`]+)`\s*[–—]\s*`([^`]+)`")
_SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")


class ContractParseError(Exception):
    """A contract table or list that could not be read as expected (never passes silently)."""


@dataclass(frozen=True)
class Entry:
    code: str
    targets: frozenset[str] | None  # None: listed in a closed list, translation given elsewhere
    where: str  # "mvr.md:34"
    line: str  # the contract line, for the report
    context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    number: int  # line number in the contract


@dataclass(frozen=True)
class Table:
    contract: str
    header: tuple[str, ...]
    rows: tuple[Row, ...]
    number: int

    def row(self, key: str) -> Row:
        """The row whose first cell, backticks stripped, is `key`."""
        found = [r for r in self.rows if plain(r.cells[0]) == key]
        if len(found) != 1:
            raise ContractParseError(
                f"{self.contract}:{self.number}: the table {list(self.header)} has "
                f"{len(found)} rows for `{key}` (expected exactly one)"
            )
        return found[0]


@dataclass(frozen=True)
class Span:
    """A stretch of a contract's text (a paragraph or a cell) with its offset, for line numbers."""

    contract: Contract
    offset: int
    text: str
    name: str

    def entry(self, code: str, targets: Iterable[str] | None, at: int, **context: str) -> Entry:
        return self.contract.entry(code, targets, self.offset + at, **context)


def phrase(text: str) -> str:
    """A regex for words of the text, whatever whitespace or line breaks separate them."""
    return r"\s+".join(re.escape(word) for word in text.split())


def plain(text: str) -> str:
    """A cell's text with backticks stripped and whitespace collapsed."""
    return " ".join(text.replace("`", "").split())


def ticks(text: str) -> list[str]:
    """The backticked codes of a text, NFC-normalised, ranges `a`–`b` left as two codes."""
    return [normalise(t) for t in _TICK.findall(text)]


def without_parentheses(text: str) -> str:
    while True:
        shorter = re.sub(r"\([^()]*\)", "", text)
        if shorter == text:
            return text
        text = shorter


def icd_range(first: str, last: str, where: str) -> list[str]:
    """`X85`–`Y04`: X85 … X99, Y00 … Y04 (a letter and two digits)."""
    if not (re.fullmatch(r"[A-Z][0-9]{2}", first) and re.fullmatch(r"[A-Z][0-9]{2}", last)):
        raise ContractParseError(f"{where}: `{first}`–`{last}` is not a range of ICD-10 codes")
    if (first[0], int(first[1:])) > (last[0], int(last[1:])):
        raise ContractParseError(f"{where}: the range `{first}`–`{last}` is empty")
    out, letter, number = [], first[0], int(first[1:])
    while (letter, number) <= (last[0], int(last[1:])):
        out.append(f"{letter}{number:02d}")
        letter, number = (chr(ord(letter) + 1), 0) if number == 99 else (letter, number + 1)
    return out


def codes_with_ranges(text: str, where: str) -> list[str]:
    """The backticked codes of a text, a range `a`–`b` expanded (ICD-10 codes, digits, `.0`)."""
    out: list[str] = []
    rest = text
    for m in _RANGE.finditer(text):
        first, last = normalise(m[1]), normalise(m[2])
        if re.fullmatch(r"\.?[0-9]", first) and re.fullmatch(r"\.?[0-9]", last):
            dot = "." if first.startswith(".") else ""
            out += [f"{dot}{d}" for d in range(int(first[-1]), int(last[-1]) + 1)]
        else:
            out += icd_range(first, last, where)
        rest = rest.replace(m[0], " ")
    return out + ticks(rest)


def _excerpt(line: str, code: str, width: int = 160) -> str:
    """The contract line, or for a long one the part around the code."""
    if len(line) <= width:
        return line
    at = max(line.find(f"`{code}`"), line.find(f"`.{code}`"), 0)
    start = max(0, at - 20)
    text = line[start : start + width]
    return ("..." if start else "") + text + ("..." if start + width < len(line) else "")


class Contract:
    def __init__(self, folder: Path, name: str) -> None:
        path = folder / name
        if not path.is_file():
            raise ContractParseError(f"{name}: no such contract in {folder}")
        self.name = name
        self.text = path.read_text(encoding="utf-8")
        self.lines = self.text.split("\n")
        self.starts = [0, *(m.end() for m in re.finditer("\n", self.text))]

    def line_of(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def entry(self, code: str, targets: Iterable[str] | None, at: int, **context: str) -> Entry:
        """An entry said at character `at` of the contract."""
        return self.entry_at_line(code, targets, self.line_of(at), **context)

    def entry_at_line(
        self, code: str, targets: Iterable[str] | None, number: int, **context: str
    ) -> Entry:
        return Entry(
            normalise(code),
            None if targets is None else frozenset(normalise(t) for t in targets),
            f"{self.name}:{number}",
            _excerpt(self.lines[number - 1].strip(), code),
            tuple(sorted(context.items())),
        )

    @cached_property
    def tables(self) -> list[Table]:
        tables: list[Table] = []
        block: list[tuple[int, str]] = []
        for number, line in enumerate([*self.lines, ""], start=1):
            if line.strip().startswith("|"):
                block.append((number, line.strip()))
                continue
            if len(block) >= 2 and _SEPARATOR.match(block[1][1]):
                tables.append(self._table(block))
            block = []
        return tables

    def _table(self, block: list[tuple[int, str]]) -> Table:
        def cells(number: int, line: str) -> tuple[str, ...]:
            if not line.endswith("|"):
                raise ContractParseError(f"{self.name}:{number}: a table row not ending in `|`")
            return tuple(c.strip() for c in line[1:-1].split("|"))

        header = cells(*block[0])
        rows = []
        for number, line in block[2:]:
            row = cells(number, line)
            if len(row) != len(header):
                raise ContractParseError(
                    f"{self.name}:{number}: a row of {len(row)} cells in the table "
                    f"{[plain(h) for h in header]} of {len(header)} columns"
                )
            rows.append(Row(row, number))
        return Table(self.name, tuple(plain(h).lower() for h in header), tuple(rows), block[0][0])

    def table(self, *columns: str) -> Table:
        """The one table whose header is exactly `columns` (backticks stripped, lower case)."""
        found = [t for t in self.tables if t.header == columns]
        if len(found) != 1:
            raise ContractParseError(
                f"{self.name}: {len(found)} tables with the columns {list(columns)} "
                f"(expected exactly one; tables found: {[list(t.header) for t in self.tables]})"
            )
        if not found[0].rows:
            raise ContractParseError(f"{self.name}:{found[0].number}: the table has no rows")
        return found[0]

    def span(self, start: str, end: str | None = None, name: str | None = None) -> Span:
        """The text after the regex `start`, up to the regex `end` or the paragraph's end."""
        m = re.search(start, self.text)
        if m is None:
            raise ContractParseError(f"{self.name}: cannot find {name or start!r}")
        stop = re.compile(r"\n\s*\n" if end is None else rf"{end}|\n\s*\n")
        e = stop.search(self.text, m.end())
        return Span(self, m.end(), self.text[m.end() : e.start() if e else None], name or start)

    def cell(self, row: Row, column: int, name: str) -> Span:
        """A cell of a row as a span (its offset is the row's line)."""
        return Span(self, self.starts[row.number - 1], row.cells[column], name)

    def match(self, pattern: str, name: str) -> re.Match[str]:
        m = re.search(pattern, self.text, re.DOTALL)
        if m is None:
            raise ContractParseError(f"{self.name}: cannot find {name} (pattern {pattern!r})")
        return m


class Contracts:
    """The contract folder, each file read once."""

    def __init__(self, folder: Path = CONTRACTS) -> None:
        self.folder = folder
        self._read: dict[str, Contract] = {}

    def __getitem__(self, name: str) -> Contract:
        if name not in self._read:
            self._read[name] = Contract(self.folder, name)
        return self._read[name]


# -- generic list readers ------------------------------------------------------------------------


def arrow_pairs(span: Span) -> list[tuple[str, str, int]]:
    """Every "`x` words → `y`" of a span, as (x, y, offset); items listed just before a pair and
    separated by commas ("`.3` sports area, `.4` street, `.5` trade → `public-place`") share its
    target. A backticked code between pairs that is neither is a parse error."""
    pairs: list[tuple[str, str, int]] = []
    last = 0
    for m in _PAIR.finditer(span.text):
        gap = span.text[last : m.start()]
        if _TICK.search(gap):
            if not _GROUPED.fullmatch(gap):
                raise ContractParseError(
                    f"{span.contract.name}:{span.contract.line_of(span.offset + last)}: "
                    f"in {span.name}, codes without a target: {gap.strip()!r}"
                )
            for g in _TICK.finditer(gap):
                pairs.append((normalise(g[1]), normalise(m[2]), last + g.start()))
        pairs.append((normalise(m[1]), normalise(m[2]), m.start()))
        last = m.end()
    if not pairs:
        raise ContractParseError(
            f"{span.contract.name}:{span.contract.line_of(span.offset)}: "
            f"no `x` → `y` pairs in {span.name}"
        )
    codes = [p[0] for p in pairs]
    if len(codes) != len(set(codes)):
        raise ContractParseError(f"{span.contract.name}: {span.name} lists a code twice: {codes}")
    return pairs


def pair_entries(span: Span) -> list[Entry]:
    return [span.entry(code, [target], at) for code, target, at in arrow_pairs(span)]


def closed_list(span: Span) -> list[Entry]:
    """The codes after "closed list" in a cell, up to the end of its sentence."""
    m = re.search(r"closed list:?\s*(.*?)(?:;|\.\s|\.$|$)", span.text, re.DOTALL)
    codes = ticks(without_parentheses(m[1])) if m else []
    if not codes:
        raise ContractParseError(
            f"{span.contract.name}:{span.contract.line_of(span.offset)}: "
            f"no closed list of codes in {span.name}: {span.text!r}"
        )
    return [span.entry(c, None, 0) for c in codes]


def sex_items(span: Span) -> list[Entry]:
    """ "`1` male, `2` female, `0` not recorded (`unknown`)" or "`м` male, `ж` female": each
    comma-separated item is a code and its sex, the backticked one if any, else the word."""
    out = []
    at = 0
    for item in span.text.split(","):
        codes = ticks(item)
        if codes:
            code, rest = codes[0], item.split("`", 2)[2]
            sex = [c for c in ticks(rest) if c in SEXES] or [
                w for w in re.findall(r"[a-z]+", rest) if w in SEXES
            ]
            if not sex:
                raise ContractParseError(
                    f"{span.contract.name}: in {span.name}, no sex for `{code}`: {item.strip()!r}"
                )
            out.append(span.entry(code, sex[:1], at))
        at += len(item) + 1
    if not out:
        raise ContractParseError(f"{span.contract.name}: no `code` sex items in {span.name}")
    return out


def targets_of(cell: str, where: str) -> list[str]:
    """A targets cell: backticked codes, or nothing for an empty cell or one starting "none"."""
    text = cell.strip()
    if not text or text.lower().startswith("none"):
        return []
    found = ticks(text)
    if not found:
        raise ContractParseError(f"{where}: cannot read the targets cell {cell!r}")
    return found


# -- criminal-code.md ------------------------------------------------------------------------------


def _criminal_code_rows(c: Contracts) -> list[tuple[str, list[str], list[str], int]]:
    doc = c["criminal-code.md"]
    table = doc.table("articles", "offence", "forms", "outcome implied when completed")
    rows = []
    for row in table.rows:
        where = f"{doc.name}:{row.number}"
        for article in plain(row.cells[0]).split(","):
            article = normalise(article)
            if not re.fullmatch(r"[0-9]{1,3}[а-я]?", article):
                raise ContractParseError(f"{where}: `{article}` is not an article number")
            forms = targets_of(row.cells[2], where)
            if not forms:
                raise ContractParseError(f"{where}: article {article} has no forms")
            rows.append((article, forms, targets_of(row.cells[3], where), row.number))
    return rows


def criminal_code_forms(c: Contracts) -> list[Entry]:
    doc = c["criminal-code.md"]
    return [doc.entry_at_line(a, forms, n) for a, forms, _, n in _criminal_code_rows(c)]


def criminal_code_outcome_completed(c: Contracts) -> list[Entry]:
    doc = c["criminal-code.md"]
    return [
        doc.entry_at_line(a, outcome, n, attempt="false")
        for a, _, outcome, n in _criminal_code_rows(c)
    ]


def criminal_code_outcome_attempted(c: Contracts) -> list[Entry]:
    doc = c["criminal-code.md"]
    rule = phrase("An attempted qualification still gives its forms, but implies no outcome")
    at = doc.match(rule, "the Attempts rule").start()
    return [doc.entry(a, [], at, attempt="true") for a, *_ in _criminal_code_rows(c)]


def injury_code_outcomes(c: Contracts) -> list[Entry]:
    """criminal-code.md "Outcome, in this order" item 1: МВР `InjuryCode` (4 `fatal`, 1–3 …)."""
    doc = c["criminal-code.md"]
    m = doc.match(
        r"## Outcome, in this order.*?1\..*?`InjuryCode`\s*\(([^)]*)\)",
        "Outcome item 1 (InjuryCode)",
    )
    out = []
    for item in re.finditer(r"([0-9]+)(?:\s*[–-]\s*([0-9]+))?\s+`([^`]+)`", m[1]):
        last = int(item[2] or item[1])
        for code in range(int(item[1]), last + 1):
            out.append(doc.entry(str(code), [item[3]], m.start(1) + item.start()))
    if not out:
        raise ContractParseError(f"{doc.name}: no InjuryCode outcomes in {m[1]!r}")
    return out


# -- mvr.md ------------------------------------------------------------------------------------


def _mvr_elements(c: Contracts) -> Table:
    return c["mvr.md"].table("element", "occurs", "type", "meaning")


def mvr_setting(c: Contracts) -> list[Entry]:
    row = _mvr_elements(c).row("m:SettingCode")
    return pair_entries(c["mvr.md"].cell(row, 3, "m:SettingCode"))


def mvr_relation(c: Contracts) -> list[Entry]:
    row = _mvr_elements(c).row("m:Perpetrator/m:RelationCode")
    return pair_entries(c["mvr.md"].cell(row, 3, "m:Perpetrator/m:RelationCode"))


def mvr_injury_list(c: Contracts) -> list[Entry]:
    doc = c["mvr.md"]
    row = _mvr_elements(c).row("m:Victim/m:InjuryCode")
    if "closed list" not in row.cells[2]:
        raise ContractParseError(f"{doc.name}:{row.number}: InjuryCode is no longer a closed list")
    codes = codes_with_ranges(row.cells[2], f"{doc.name}:{row.number}")
    return [doc.entry_at_line(code, None, row.number) for code in codes]


def mvr_sex(c: Contracts) -> list[Entry]:
    """`М` or `Ж` (…; the Latin `M` is accepted for `М`) | male, female"""
    doc = c["mvr.md"]
    row = _mvr_elements(c).row("m:Victim/m:Sex")
    codes = ticks(without_parentheses(row.cells[2]))
    sexes = [s.strip() for s in plain(row.cells[3]).split(",")]
    if len(codes) != len(sexes) or not set(sexes) <= set(SEXES):
        raise ContractParseError(f"{doc.name}:{row.number}: cannot pair {codes} with {sexes}")
    pairs = dict(zip(codes, sexes, strict=True))
    for alias, of in re.findall(r"`([^`]+)` is accepted for `([^`]+)`", row.cells[2]):
        pairs[normalise(alias)] = pairs[normalise(of)]
    return [doc.entry_at_line(code, [sex], row.number) for code, sex in pairs.items()]


def mvr_report_type(c: Contracts) -> list[Entry]:
    """`NEW`, `UPDATE`, `CANCEL`; "`CANCEL` withdraws the record"; "Case-stage: `reported`"."""
    doc = c["mvr.md"]
    row = _mvr_elements(c).row("m:ReportType")
    withdrawals = set(ticks(" ".join(re.findall(r"`[^`]+` withdraws", row.cells[3]))))
    stage = doc.match(r"Case-stage:\s*`([^`]+)`", "the МВР case-stage")
    out = []
    for code in ticks(row.cells[2]):
        if code in withdrawals:
            out.append(doc.entry_at_line(code, [], row.number))
        else:
            out.append(doc.entry(code, [stage[1]], stage.start()))
    if not withdrawals or len(out) < 2:
        raise ContractParseError(f"{doc.name}:{row.number}: cannot read the report types")
    return out


# -- ozd.md ------------------------------------------------------------------------------------


def _ozd_forms(c: Contracts) -> Table:
    return c["ozd.md"].table("value", "forms", "setting implied")


def ozd_forms(c: Contracts) -> list[Entry]:
    doc = c["ozd.md"]
    out = []
    for row in _ozd_forms(c).rows:
        where = f"{doc.name}:{row.number}"
        codes, forms = ticks(row.cells[0]), targets_of(row.cells[1], where)
        if len(codes) != 1 or not forms:
            raise ContractParseError(f"{where}: cannot read the violenceForms row")
        out.append(doc.entry_at_line(codes[0], forms, row.number))
    return out


def ozd_forms_setting(c: Contracts) -> list[Entry]:
    doc = c["ozd.md"]
    return [
        doc.entry_at_line(
            ticks(row.cells[0])[0], targets_of(row.cells[2], f"ozd.md:{row.number}"), row.number
        )
        for row in _ozd_forms(c).rows
    ]


def ozd_perpetrator(c: Contracts) -> list[Entry]:
    return pair_entries(c["ozd.md"].span(r"`perpetrator` values:", name="`perpetrator` values"))


def ozd_status(c: Contracts) -> list[Entry]:
    """`регистриран` → `reported`; …; `анулиран` withdraws the signal: known, yields nothing."""
    span = c["ozd.md"].span(r"`status` values:", name="`status` values")
    out = pair_entries(span)
    withdrawals = list(re.finditer(r"`([^`]+)` withdraws", span.text))
    if not withdrawals:
        raise ContractParseError("ozd.md: the `status` list has no withdrawal")
    return out + [span.entry(m[1], [], m.start()) for m in withdrawals]


def _ozd_field(c: Contracts, key: str) -> Span:
    row = c["ozd.md"].table("field", "required", "meaning").row(key)
    return c["ozd.md"].cell(row, 2, key)


def ozd_source_list(c: Contracts) -> list[Entry]:
    return closed_list(_ozd_field(c, "source"))


def ozd_sex(c: Contracts) -> list[Entry]:
    """closed list: `male`, `female`, `unknown` (already the canonical sexes)."""
    return [
        Entry(e.code, frozenset([e.code]), e.where, e.line)
        for e in closed_list(_ozd_field(c, "child.sex"))
    ]


# -- prosecution.md ----------------------------------------------------------------------------


def prosecution_event(c: Contracts) -> list[Entry]:
    doc = c["prosecution.md"]
    out = []
    for row in doc.table("value", "meaning", "case-stage", "effect").rows:
        where = f"{doc.name}:{row.number}"
        codes = ticks(row.cells[0])
        if len(codes) != 1:
            raise ContractParseError(f"{where}: cannot read the p:Event row")
        out.append(doc.entry_at_line(codes[0], targets_of(row.cells[2], where), row.number))
    return out


def prosecution_relation(c: Contracts) -> list[Entry]:
    span = c["prosecution.md"].span(r"`p:AccusedRelation` values:", name="`p:AccusedRelation`")
    return pair_entries(span)


def _prosecution_element(c: Contracts, key: str) -> Row:
    return c["prosecution.md"].table("element", "occurs", "type", "meaning").row(key)


def prosecution_gender(c: Contracts) -> list[Entry]:
    row = _prosecution_element(c, "p:Victim/p:Gender")
    return sex_items(c["prosecution.md"].cell(row, 3, "p:Victim/p:Gender"))


def prosecution_number_kind(c: Contracts) -> list[Entry]:
    """attribute `kind`, required: `EGN` or `LNCH`; …"""
    doc = c["prosecution.md"]
    row = _prosecution_element(c, "p:Victim/p:PersonalNumber")
    m = re.search(r"`kind`, required:([^;]*)", row.cells[3])
    codes = ticks(m[1]) if m else []
    if not codes:
        raise ContractParseError(f"{doc.name}:{row.number}: cannot read the personal number kinds")
    return [doc.entry_at_line(code, None, row.number) for code in codes]


# -- helpline.md -------------------------------------------------------------------------------


def _helpline_categories(c: Contracts) -> Table:
    return c["helpline.md"].table("category", "forms", "setting implied")


def _helpline_category(row: Row) -> str:
    codes = ticks(row.cells[0])
    if not codes or not codes[0].startswith("AV."):
        raise ContractParseError(f"helpline.md:{row.number}: not an `AV.*` category row")
    return codes[0]


def helpline_forms(c: Contracts) -> list[Entry]:
    doc = c["helpline.md"]
    out = []
    for row in _helpline_categories(c).rows:
        forms = targets_of(row.cells[1], f"{doc.name}:{row.number}")
        if not forms:
            raise ContractParseError(f"{doc.name}:{row.number}: a category without forms")
        out.append(doc.entry_at_line(_helpline_category(row), forms, row.number))
    return out


def helpline_setting(c: Contracts) -> list[Entry]:
    doc = c["helpline.md"]
    return [
        doc.entry_at_line(
            _helpline_category(row),
            targets_of(row.cells[2], f"{doc.name}:{row.number}"),
            row.number,
        )
        for row in _helpline_categories(c).rows
    ]


def _helpline_field(c: Contracts, key: str) -> Span:
    row = c["helpline.md"].table("field", "required", "meaning").row(key)
    return c["helpline.md"].cell(row, 2, key)


def helpline_channel_list(c: Contracts) -> list[Entry]:
    return closed_list(_helpline_field(c, "channel"))


def helpline_caller_list(c: Contracts) -> list[Entry]:
    return closed_list(_helpline_field(c, "caller"))


def helpline_age_band_list(c: Contracts) -> list[Entry]:
    return closed_list(_helpline_field(c, "child.ageBand"))


def helpline_sex(c: Contracts) -> list[Entry]:
    """closed list: `m` → `male`, `f` → `female`, `x` → `unknown`; absent → `unknown`"""
    cell = _helpline_field(c, "child.sex")
    m = re.search(r"closed list:([^;]*)", cell.text)
    if m is None:
        raise ContractParseError("helpline.md: cannot read the child.sex closed list")
    return pair_entries(Span(cell.contract, cell.offset, m[1], "child.sex"))


# -- schools.md --------------------------------------------------------------------------------


def _school_column(c: Contracts, key: str) -> Span:
    row = c["schools.md"].table("column", "required", "meaning").row(key)
    return c["schools.md"].cell(row, 2, key)


def school_forms_list(c: Contracts) -> list[Entry]:
    return closed_list(_school_column(c, "forms"))


def school_perpetrator_list(c: Contracts) -> list[Entry]:
    return closed_list(_school_column(c, "perpetrator"))


def school_level_list(c: Contracts) -> list[Entry]:
    return closed_list(_school_column(c, "level"))


def school_sex(c: Contracts) -> list[Entry]:
    cell = _school_column(c, "victim_sex")
    m = re.search(r"closed list:(.*)", cell.text)
    if m is None:
        raise ContractParseError("schools.md: cannot read the victim_sex closed list")
    return sex_items(Span(cell.contract, cell.offset, m[1], "victim_sex"))


def school_forms(c: Contracts) -> list[Entry]:
    """The forms × perpetrator table: column 2 for the named perpetrator, column 3 for every
    other perpetrator of the closed list (the map's `dependsOn` `perpetrator`)."""
    doc = c["schools.md"]
    tables = [t for t in doc.tables if t.header[0] == "form" and len(t.header) == 3]
    if len(tables) != 1 or tables[0].header[2] != "any other perpetrator":
        raise ContractParseError(
            f"{doc.name}: expected one table `form | perpetrator `x` | any other perpetrator`"
        )
    table = tables[0]
    header_line = doc.lines[table.number - 1].split("|")
    named = ticks(header_line[2]) if len(header_line) > 2 else []
    if len(named) != 1 or not header_line[2].strip().startswith("perpetrator"):
        raise ContractParseError(f"{doc.name}:{table.number}: cannot read the named perpetrator")
    others = [e.code for e in school_perpetrator_list(c) if e.code != named[0]]
    if len(others) == len(school_perpetrator_list(c)):
        raise ContractParseError(f"{doc.name}: `{named[0]}` is not in the perpetrator list")
    out = []
    for row in table.rows:
        where = f"{doc.name}:{row.number}"
        codes = ticks(row.cells[0])
        if len(codes) != 1:
            raise ContractParseError(f"{where}: cannot read the form")
        mine, theirs = targets_of(row.cells[1], where), targets_of(row.cells[2], where)
        out.append(doc.entry_at_line(codes[0], mine, row.number, perpetrator=named[0]))
        out += [doc.entry_at_line(codes[0], theirs, row.number, perpetrator=p) for p in others]
    return out


def school_relationship(c: Contracts) -> list[Entry]:
    span = c["schools.md"].span(r"Relationship:", r"Case-stage:", "Relationship")
    return pair_entries(span)


def school_level(c: Contracts) -> list[Entry]:
    """Case-stage: level 3 → `substantiated`, levels 1 and 2 → `reported`."""
    span = c["schools.md"].span(r"Case-stage:", r"Outcome", "Case-stage")
    out = []
    for m in re.finditer(r"levels?\s+([0-9][0-9,\sand]*?)\s*→\s*`([^`]+)`", span.text):
        out += [span.entry(level, [m[2]], m.start()) for level in re.findall(r"[0-9]+", m[1])]
    if not out:
        raise ContractParseError(f"schools.md: cannot read the levels in {span.text!r}")
    return out


# -- health.md ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _IcdRow:
    codes: list[str]
    forms: list[str]
    relationship: str
    setting: str
    number: int


def _fourth_character_pairs(c: Contracts) -> tuple[dict[str, tuple[str, int]], str]:
    """Fourth character of `Y06` and `Y07` (a closed list): `.0` … → `intimate-partner`, …;
    a bare `Y06` or `Y07` means `.9`. Returns {".0": (target, offset)} and the bare's meaning."""
    doc = c["health.md"]
    span = doc.span(
        r"Fourth\s+character\s+of\s+`Y06`\s+and\s+`Y07`\s+\(a\s+closed\s+list\):",
        r";",
        "the fourth character of Y06 and Y07",
    )
    pairs = {code: (target, span.offset + at) for code, target, at in arrow_pairs(span)}
    bare = doc.match(r"a\s+bare\s+`Y06`\s+or\s+`Y07`\s+means\s+`([^`]+)`", "the bare Y06/Y07 rule")[
        1
    ]
    if bare not in pairs:
        raise ContractParseError(f"health.md: a bare Y06/Y07 means `{bare}`, not in the list")
    return pairs, bare


def _scope_categories(c: Contracts) -> tuple[set[str], set[str]]:
    """ "no maltreatment (`T74`, `Y06`, `Y07`) or assault (`X85`–`Y05`, `Y08`, `Y09`) code"."""
    m = c["health.md"].match(
        r"no\s+maltreatment\s+\(([^)]*)\)\s+or\s+assault\s+\(([^)]*)\)\s+code", "the scope sentence"
    )
    maltreatment = set(codes_with_ranges(m[1], "health.md scope"))
    assault = set(codes_with_ranges(m[2], "health.md scope"))
    if not maltreatment or not assault:
        raise ContractParseError("health.md: cannot read the scope sentence")
    return maltreatment, assault


def _icd_rows(c: Contracts) -> list[_IcdRow]:
    doc = c["health.md"]
    fourth, _ = _fourth_character_pairs(c)
    rows = []
    for row in doc.table("codes", "forms", "relationship", "setting implied").rows:
        where = f"{doc.name}:{row.number}"
        codes = []
        for code in codes_with_ranges(without_parentheses(row.cells[0]), where):
            if code.endswith(".x"):  # `Y06.x`: bare and every listed fourth character
                codes += [code[:3], *(code[:3] + f for f in fourth)]
            else:
                codes.append(code)
        if not codes:
            raise ContractParseError(f"{where}: no ICD-10 codes in {row.cells[0]!r}")
        rows.append(
            _IcdRow(
                codes,
                targets_of(row.cells[1], where),
                plain(row.cells[2]),
                plain(row.cells[3]),
                row.number,
            )
        )
    return rows


def _rows_of(c: Contracts, kind: str) -> list[_IcdRow]:
    """The table's rows of maltreatment or of assault codes, as the scope sentence defines them."""
    maltreatment, assault = _scope_categories(c)
    out = []
    for row in _icd_rows(c):
        categories = {code[:3] for code in row.codes}
        if categories <= maltreatment:
            out += [row] if kind == "maltreatment" else []
        elif categories <= assault:
            out += [row] if kind == "assault" else []
        else:
            raise ContractParseError(
                f"health.md:{row.number}: {sorted(categories)} are neither all maltreatment "
                f"{sorted(maltreatment)} nor all assault codes of the scope sentence"
            )
    if not out:
        raise ContractParseError(f"health.md: the ICD-10 table has no {kind} rows")
    return out


def health_maltreatment_forms(c: Contracts) -> list[Entry]:
    doc = c["health.md"]
    out = []
    for row in _rows_of(c, "maltreatment"):
        if row.setting:
            raise ContractParseError(
                f"health.md:{row.number}: a setting for maltreatment codes; this check does "
                "not model it"
            )
        out += [doc.entry_at_line(code, row.forms, row.number) for code in row.codes]
    return out


def health_maltreatment_relationship(c: Contracts) -> list[Entry]:
    doc = c["health.md"]
    fourth, bare = _fourth_character_pairs(c)
    out = []
    for row in _rows_of(c, "maltreatment"):
        for code in row.codes:
            if not row.relationship:
                out.append(doc.entry_at_line(code, [], row.number))
            elif row.relationship == "by the fourth character":
                target, at = fourth[code[3:] or bare]
                out.append(doc.entry(code, [target], at))
            else:
                raise ContractParseError(
                    f"health.md:{row.number}: cannot read the relationship {row.relationship!r}"
                )
    return out


def health_t74_list(c: Contracts) -> list[Entry]:
    """`T74` with a fourth character outside `.0`–`.3`, `.8`, `.9` is an error."""
    doc = c["health.md"]
    m = doc.match(
        r"`T74`\s+with\s+a\s+fourth\s+character\s+outside\s+(.*?)\s+is\s+an\s+error", "the T74 list"
    )
    return [doc.entry("T74" + f, None, m.start()) for f in codes_with_ranges(m[1], "T74")]


def health_assault_forms(c: Contracts) -> list[Entry]:
    doc = c["health.md"]
    return [
        doc.entry_at_line(code, row.forms, row.number)
        for row in _rows_of(c, "assault")
        for code in row.codes
    ]


def health_place_setting(c: Contracts) -> list[Entry]:
    """The assault rows' setting cell: "by the fourth character (…): `.0` home → `family`, …;
    others none"; "as above" repeats it. The map's codes are the bare digits."""
    doc = c["health.md"]
    rows = _rows_of(c, "assault")
    first = rows[0]
    for row in rows[1:]:
        if row.setting not in ("as above", first.setting):
            raise ContractParseError(
                f"health.md:{row.number}: an assault row with its own setting rule "
                f"{row.setting!r}; this check models one fourth-character rule"
            )
    table_row = next(
        r
        for r in doc.table("codes", "forms", "relationship", "setting implied").rows
        if r.number == first.number
    )
    cell = doc.cell(table_row, 3, "the fourth character (place of occurrence)")
    cell = Span(cell.contract, cell.offset, cell.text.split(";")[0], cell.name)
    return [cell.entry(code.lstrip("."), [t], at) for code, t, at in arrow_pairs(cell)]


def health_injury(c: Contracts) -> list[Entry]:
    doc = c["health.md"]
    m = doc.match(
        r"injury code from\s+`([^`]+)`\s+to\s+`([^`]+)`\s+makes\s+the\s+outcome\s+"
        r"`([^`]+)`",
        "the injury range",
    )
    return [doc.entry(code, [m[3]], m.start()) for code in icd_range(m[1], m[2], "health.md")]


def health_event(c: Contracts) -> list[Entry]:
    doc = c["health.md"]
    event = doc.match(r"code\s+`([^`]+)`\s+\(any\s+other\s+event", "the MessageHeader event")
    stage = doc.match(r"Case-stage:\s*`([^`]+)`", "the health case-stage")
    return [doc.entry(event[1], [stage[1]], stage.start())]


def health_gender(c: Contracts) -> list[Entry]:
    """health.md sends the FHIR `Patient.gender` (administrative-gender), whose codes are the
    README §6 sexes: "sex (`male`, `female`, `other`, `unknown`)"."""
    doc = c["README.md"]
    m = doc.match(r"sex\s+\((`[^)]*`)\)", "the README §6 sexes")
    codes = ticks(m[1])
    if set(codes) != set(SEXES):
        raise ContractParseError(f"README.md: the sexes are {codes}, not {list(SEXES)}")
    return [doc.entry(code, [code], m.start()) for code in codes]
