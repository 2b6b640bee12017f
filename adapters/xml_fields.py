"""Reading an institution's XML body element: fields with their README §9 paths and problems."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from lxml import etree

from gateway.errors import Problem
from gateway.identity import Located
from gateway.mappings import Mappings, normalise

_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?$")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True, slots=True)
class Dialect:
    """An institution's XML contract: its namespace, the prefix its paths use, and who owns its
    closed lists (as `closed-list` problems name them, e.g. "МВР" or "prosecution's")."""

    namespace: str
    prefix: str
    lists_of: str


class Fields:
    """One element's children by local name, each with its path; every problem goes to one list."""

    def __init__(
        self,
        element: etree._Element,
        path: str,
        problems: list[Problem],
        mappings: Mappings,
        dialect: Dialect,
    ) -> None:
        self.element = element
        self.path = path
        self.problems = problems
        self.mappings = mappings
        self.dialect = dialect
        self._by_tag: dict[str, list[etree._Element]] | None = None

    def each(self, name: str) -> list[Fields]:
        """A repeatable child: 1-based positions in the paths."""
        found = self._found(name)
        return [self._child(el, f"{self._path(name)}[{i}]") for i, el in enumerate(found, 1)]

    def one(self, name: str) -> Fields | None:
        """The first child of that name (a child that occurs at most once), for its attributes."""
        found = self._found(name)
        return self._child(found[0], self._path(name)) if found else None

    def text(self, name: str, *, required: bool) -> Located | None:
        """The trimmed, NFC text of a child that occurs at most once; empty counts as absent."""
        path = self._path(name)
        found = self._found(name)
        if len(found) > 1:
            self.problem(path, "format", f"{name} occurs more than once")
            return None
        return self._value(found[0] if found else None, path, name, required)

    def own_text(self, name: str) -> Located | None:
        """This element's own text (a repeatable element whose value is its text), required."""
        return self._value(self.element, self.path, name, True)

    def attribute(self, name: str, *, required: bool) -> Located | None:
        path = f"{self.path}/@{name}"
        value = normalise(self.element.get(name) or "")
        if value:
            return Located(value, path)
        if required:
            self.problem(path, "required", f"the attribute {name} is required")
        return None

    def matching(self, value: Located | None, pattern: re.Pattern[str], rule: str) -> str | None:
        if value is not None and not pattern.match(value.value):
            self.problem(value.path, "format", rule)
            return None
        return value.value if value else None

    def xs_date(self, value: Located | None, field: str) -> date | None:
        """xs:date; a timezone, when given, does not move the calendar date."""
        if value is None:
            return None
        match = _DATE.match(value.value)
        if match is None:
            self.problem(value.path, "format", f"{field} must be an xs:date (YYYY-MM-DD)")
            return None
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            self.problem(value.path, "date", f"{field} is not a calendar date")
            return None

    def boolean(self, value: Located | None, field: str) -> bool | None:
        if value is not None and value.value not in _BOOLEANS:
            self.problem(value.path, "format", f"{field} must be true, false, 1 or 0")
            return None
        return _BOOLEANS[value.value] if value else None

    def code(self, value: Located | None, map_id: str, target: str, field: str) -> str | None:
        """A closed-list value through its ConceptMap: the first target, None when the code yields
        nothing in `target`; a code the map does not know is a `closed-list` problem."""
        if value is None:
            return None
        found = self.mappings.translate(map_id, value.value, target)
        if found is None:
            allowed = ", ".join(sorted(self.mappings.codes(map_id)))
            owner = self.dialect.lists_of
            message = f"{field} is not in the {owner} {field} list ({allowed})"
            self.problem(value.path, "closed-list", message)
            return None
        return found[0] if found else None

    def problem(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def _found(self, name: str) -> list[etree._Element]:
        """The children named `name` in document order (one pass over the children, then a
        lookup: an adapter reads some thirty fields of one element)."""
        if self._by_tag is None:
            self._by_tag = {}
            for child in self.element:
                if isinstance(child.tag, str):  # not a comment or processing instruction
                    self._by_tag.setdefault(child.tag, []).append(child)
        return self._by_tag.get(f"{{{self.dialect.namespace}}}{name}", [])

    def _path(self, name: str) -> str:
        return f"{self.path}/{self.dialect.prefix}:{name}"

    def _child(self, element: etree._Element, path: str) -> Fields:
        return Fields(element, path, self.problems, self.mappings, self.dialect)

    def _value(
        self, element: etree._Element | None, path: str, name: str, required: bool
    ) -> Located | None:
        value = normalise(element.text or "") if element is not None else ""
        if element is not None and len(element):
            self.problem(path, "format", f"{name} must be text, not elements")
        elif value:
            return Located(value, path)
        elif required:
            self.problem(path, "required", f"{name} is required")
        return None
