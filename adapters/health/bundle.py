"""A FHIR R4 message Bundle read as plain JSON: located fields, its entries and their references.

Every path is a FHIRPath expression rooted at the Bundle (`Bundle.entry[2].resource.birthDate`,
positions 0-based), the form OperationOutcome `expression`s take. Problems pile up in one list,
so that a message is rejected once with all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import Problem
from gateway.mappings import normalise

Json = dict[str, Any]

# FHIR R4 §2.36.0.1 (Bundle): a RESTful fullUrl is `[base]/[type]/[id]`, maybe with a version.
_HISTORY = r"(?:/_history/[A-Za-z0-9\-.]{1,64})?"
_RELATIVE = re.compile(rf"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{{1,64}}){_HISTORY}$")
_RESTFUL = re.compile(rf"^(?P<base>.+)/[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{{1,64}}{_HISTORY}$")
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


@dataclass(frozen=True, slots=True)
class Entry:
    """One `Bundle.entry` holding a resource."""

    index: int
    resource: Json
    full_url: str | None

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource"

    @property
    def kind(self) -> object:
        return self.resource.get("resourceType")


@dataclass(slots=True)
class Reader:
    """Typed, located access to the JSON of a Bundle; `null` is an absent element (README §3)."""

    problems: list[Problem] = field(default_factory=list)

    def problem(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def _typed(
        self, obj: Json, key: str, path: str, required: bool, check: Callable[[object], bool]
    ) -> object:
        value = obj.get(key)
        if value is None:
            if required:
                self.problem(f"{path}.{key}", "required", f"{key} is required")
            return None
        if not check(value):
            self.problem(f"{path}.{key}", "format", f"{key} has the wrong JSON type")
            return None
        return value

    def string(self, obj: Json, key: str, path: str, required: bool = False) -> str | None:
        """Trimmed and NFC-normalised; blank counts as absent."""
        value = self._typed(obj, key, path, required, lambda v: isinstance(v, str))
        text = normalise(value) if isinstance(value, str) else ""
        if value is not None and not text and required:
            self.problem(f"{path}.{key}", "required", f"{key} must not be blank")
        return text or None

    def boolean(self, obj: Json, key: str, path: str) -> bool | None:
        value = self._typed(obj, key, path, False, lambda v: isinstance(v, bool))
        return value if isinstance(value, bool) else None

    def obj(self, parent: Json, key: str, path: str, required: bool = False) -> Json | None:
        value = self._typed(parent, key, path, required, lambda v: isinstance(v, dict))
        return value if isinstance(value, dict) else None

    def items(self, parent: Json, key: str, path: str) -> list[tuple[Json, str]]:
        """A repeating element's objects, each with its indexed path."""
        value = self._typed(parent, key, path, False, lambda v: isinstance(v, list))
        found: list[tuple[Json, str]] = []
        for i, item in enumerate(value if isinstance(value, list) else []):
            if isinstance(item, dict):
                found.append((item, f"{path}.{key}[{i}]"))
            else:
                self.problem(f"{path}.{key}[{i}]", "format", f"each {key} must be an object")
        return found


class Entries:
    """The Bundle's resources, found by fullUrl or by `type/id`, and its references resolved."""

    def __init__(self, bundle: Json, reader: Reader) -> None:
        self.reader = reader
        self.all: list[Entry] = []
        for raw, path in reader.items(bundle, "entry", "Bundle"):
            resource = raw.get("resource")
            if not isinstance(resource, dict):
                reader.problem(f"{path}.resource", "required", "every entry needs a resource")
                continue
            full_url = raw.get("fullUrl")
            index = int(path.rsplit("[", 1)[1].rstrip("]"))
            self.all.append(Entry(index, resource, full_url if isinstance(full_url, str) else None))
        # The first of several entries with one fullUrl or one type/id wins, as documented.
        self._by_url: dict[str, Entry] = {}
        self._by_id: dict[str, Entry] = {}
        for e in reversed(self.all):
            if e.full_url:
                self._by_url[e.full_url] = e
            if isinstance(e.kind, str) and isinstance(e.resource.get("id"), str):
                self._by_id[f"{e.kind}/{e.resource['id']}"] = e

    def of_type(self, kind: str) -> list[Entry]:
        return [e for e in self.all if e.kind == kind]

    def find(self, reference: str, origin: Entry | None) -> Entry | None:
        """FHIR R4 Bundle rules: an absolute reference is a fullUrl; a relative one is resolved
        against the RESTful base of the referring entry's fullUrl; failing that (health.md), a
        relative reference is matched on `type/id` within the Bundle."""
        if _ABSOLUTE.match(reference):
            return self._by_url.get(reference)
        relative = _RELATIVE.match(reference)
        if relative is None:
            return None
        base = _RESTFUL.match(origin.full_url or "") if origin is not None else None
        if base is not None:
            found = self._by_url.get(f"{base['base']}/{relative['type']}/{relative['id']}")
            if found is not None:
                return found
        return self._by_id.get(f"{relative['type']}/{relative['id']}")

    def resolve(
        self, value: object, path: str, origin: Entry, kind: str, required: bool = True
    ) -> Entry | None:
        """The entry the Reference `value` (at `path`) points to, which must be a `kind`."""
        r = self.reader
        if value is None:
            if required:
                r.problem(path, "required", f"a reference to the {kind} is required")
            return None
        reference = value.get("reference") if isinstance(value, dict) else None
        if not isinstance(reference, str) or not reference.strip():
            r.problem(f"{path}.reference", "required", f"a reference to the {kind} is required")
            return None
        found = self.find(reference.strip(), origin)
        if found is None:
            r.problem(f"{path}.reference", "required", "the reference resolves to no entry")
        elif found.kind != kind:
            r.problem(f"{path}.reference", "format", f"the reference must point to a {kind}")
            return None
        return found
