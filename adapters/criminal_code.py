"""criminal-code.md, shared by the police and the prosecution: an offence's qualification and what
the record's qualifications in the `criminal-code` table say together."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.xml_fields import Fields
from gateway.mappings import normalise

ARTICLE_MAP = "criminal-code"

_ARTICLE = re.compile(r"^[0-9]{1,3}[а-я]?$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


def article(text: str) -> str:
    """criminal-code.md: trimmed, lower-cased, the Latin look-alike `a` read as the Cyrillic `а`."""
    return normalise(text).lower().replace("a", "а")


@dataclass(frozen=True, slots=True)
class Qualification:
    path: str
    article: str
    in_table: bool
    attempt: bool
    forms: tuple[str, ...]
    outcomes: tuple[str, ...]


def read_qualification(q: Fields) -> Qualification:
    """One qualification element's `Article`, `Paragraph` and `Attempt`, looked up in the table."""
    raw = q.text("Article", required=True)
    written = article(raw.value) if raw else ""
    if raw and not _ARTICLE.match(written):
        q.problem(raw.path, "format", "Article must be a number with an optional letter")
        written = ""
    q.matching(q.text("Paragraph", required=False), _INTEGER, "Paragraph must be an integer")
    attempt = q.boolean(q.text("Attempt", required=False), "Attempt") or False
    mappings = q.mappings
    if not written or not mappings.knows(ARTICLE_MAP, written):
        # An open classification: kept as a source code, no form, no outcome.
        return Qualification(q.path, written, False, attempt, (), ())
    # The table implies an outcome only for a completed qualification (`dependsOn` attempt).
    context = {"attempt": "true" if attempt else "false"}
    return Qualification(
        q.path,
        written,
        True,
        attempt,
        tuple(mappings.translate(ARTICLE_MAP, written, "violence-form") or ()),
        tuple(mappings.translate(ARTICLE_MAP, written, "outcome", context) or ()),
    )


@dataclass(frozen=True, slots=True)
class Classification:
    """The record's qualifications found in the table, and what they say together."""

    in_table: tuple[Qualification, ...]

    @classmethod
    def of(cls, qualifications: Sequence[Qualification]) -> Classification:
        return cls(tuple(q for q in qualifications if q.in_table))

    @property
    def in_scope(self) -> bool:
        return bool(self.in_table)

    @property
    def forms(self) -> frozenset[str]:
        return frozenset(f for q in self.in_table for f in q.forms)

    @property
    def attempted(self) -> bool:
        """Only an attempt when every qualification in the table is one."""
        return bool(self.in_table) and all(q.attempt for q in self.in_table)

    @property
    def outcomes(self) -> frozenset[str]:
        """The outcomes the completed qualifications imply (an institution may narrow them)."""
        return frozenset(o for q in self.in_table for o in q.outcomes)
