"""The Checker that collects a Bundle's located problems, and the formats and elements it allows."""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Any

from gateway.errors import Problem
from gateway.profile.dicts import as_dict

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HEX64 = re.compile(r"[0-9a-f]{64}")
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)")
DATE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
PARTIAL_DATE = re.compile(r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?")
EKATTE = re.compile(r"\d{5}")
REGION = re.compile(r"BG-(0[1-9]|1\d|2[0-8])")
AGE_BAND = re.compile(r"\d{1,3}-\d{1,3}")

# Top-level elements each resource may carry; anything else is not allowed by the profile.
ALLOWED = {
    "Bundle": {"resourceType", "id", "meta", "type", "timestamp", "entry"},
    "MessageHeader": {"resourceType", "id", "meta", "extension", "eventCoding", "destination"}
    | {"sender", "source", "focus"},
    "Organization": {"resourceType", "id", "meta", "identifier", "name"},
    "Observation": {"resourceType", "id", "meta", "extension", "status", "code", "identifier"}
    | {"subject", "effectiveDateTime", "component"},
    "Patient": {"resourceType", "id", "meta", "extension", "identifier", "gender", "birthDate"},
    "Provenance": {"resourceType", "id", "meta", "extension", "target", "recorded", "agent"}
    | {"entity"},
}


def member(value: Any, allowed: Container[Any]) -> bool | None:
    """Whether `value` is in `allowed`; None when it cannot even be looked up there (a list or
    an object where a string belongs, against a set or a dict)."""
    try:
        return value in allowed
    except TypeError:
        return None


class Checker:
    """Collects the problems of one Bundle; `urls` maps each entry's fullUrl to its type."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.urls: dict[str, str] = {}

    def add(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def only(self, path: str, resource: dict[str, Any], allowed: set[str]) -> None:
        for key in resource:
            if key not in allowed:
                self.add(f"{path}.{key}", "format", f"{key} is not allowed by the profile")

    def text(self, path: str, value: Any, pattern: re.Pattern[str] | None = None) -> bool:
        """A required non-empty string, matching `pattern` when given."""
        if value is None or value == "":
            self.add(path, "required", "required")
        elif not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            self.add(path, "format", "wrong format" if pattern else "must be a string")
        else:
            return True
        return False

    def fixed(self, path: str, value: Any, expected: str) -> None:
        if value is None:
            self.add(path, "required", f"required, must be {expected!r}")
        elif value != expected:
            self.add(path, "closed-list", f"must be {expected!r}")

    def code(self, path: str, value: Any, allowed: Container[Any], name: str) -> bool:
        if value is None:
            self.add(path, "required", f"required ({name})")
            return False
        known = member(value, allowed)
        if known is None:
            self.add(path, "format", f"must be a code of {name}")
        elif not known:
            self.add(path, "closed-list", f"not a code of {name}")
        else:
            return True
        return False

    def ref(self, path: str, value: Any, target: str) -> None:
        reference = as_dict(value).get("reference")
        if reference is None:
            self.add(path, "required", f"a reference to the {target} entry is required")
        elif not isinstance(reference, str) or self.urls.get(reference) != target:
            self.add(path, "format", f"must reference the {target} entry of the Bundle")

    def count(self, path: str, items: list[Any], low: int, high: int, what: str) -> None:
        if len(items) < low:
            self.add(path, "required", f"{what}: at least {low} required")
        elif len(items) > high:
            self.add(path, "format", f"{what}: at most {high} allowed")
