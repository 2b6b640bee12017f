"""One helpline contact line (a JSON object) read and validated field by field, every problem kept.

Problems are located by RFC 6901 pointers in URI-fragment form relative to the line's object
(`#/child/age`, `#/categories/1`, 0-based). A JSON `null` is an absent field, unknown fields are
ignored, and the child's names are never read, so they reach no object of the gateway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from gateway.errors import ContractViolation, Problem
from gateway.facts import DataWarning
from gateway.mappings import Mappings, normalise

CATEGORIES_MAP = "helpline-categories"
CHANNEL_MAP = "helpline-channel"
CALLER_MAP = "helpline-caller"
SEX_MAP = "helpline-sex"
AGE_BAND_MAP = "helpline-age-band"
VIOLENCE_PREFIX = "av."  # helpline.md: every category starting `AV.`, in any case

# What each closed list is called in problem messages.
_LISTS = {
    CATEGORIES_MAP: "helpline violence categories (AV.*)",
    CHANNEL_MAP: "helpline channels",
    CALLER_MAP: "helpline callers",
    SEX_MAP: "helpline sexes (m, f, x)",
    AGE_BAND_MAP: "helpline age bands",
}
_REGION = re.compile(r"^BG-(0[1-9]|1[0-9]|2[0-8])$")
# RFC 3339 `date-time`: the offset is not optional.
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def contact_id(value: object) -> str | None:
    """The record key as compared (trimmed, NFC), None when it is not a non-blank string."""
    if isinstance(value, str) and (text := normalise(value)):
        return text
    return None


def revision(value: object) -> int | None:
    """The revision (absent or `null` is 1), None when it is not an integer of at least 1."""
    if value is None:
        return 1
    # bool is an int in Python, but `true` is not a revision.
    if type(value) is int and value >= 1:
        return value
    return None


def age_band_bounds(band: str) -> tuple[int, int]:
    low, _, high = band.partition("-")
    return int(low), int(high)


@dataclass(slots=True)
class Contact:
    """The validated fields of one contact, codes normalised; names are not among them."""

    contact_id: str
    revision: int
    incident_date: date
    channel: str
    caller: str
    age: int | None = None
    age_band: str | None = None
    sex: str | None = None
    region: str | None = None
    categories: list[str] = field(default_factory=list)
    violence: list[str] = field(default_factory=list)
    ozd_signal_number: str | None = None
    warnings: list[DataWarning] = field(default_factory=list)


class _Reader:
    """Reads fields of the contact, collecting every problem instead of stopping at the first."""

    def __init__(self, mappings: Mappings) -> None:
        self.mappings = mappings
        self.problems: list[Problem] = []

    def problem(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def string(self, obj: dict[str, Any], key: str, base: str, required: bool) -> str | None:
        """A string field, trimmed and NFC-normalised; blank counts as missing."""
        path, value = f"{base}/{key}", obj.get(key)
        if value is None:
            if required:
                self.problem(path, "required", f"{key} is required")
            return None
        if not isinstance(value, str):
            self.problem(path, "format", f"{key} must be a string")
            return None
        text = normalise(value)
        if not text and required:
            self.problem(path, "required", f"{key} must not be empty")
        return text or None

    def code(
        self, obj: dict[str, Any], key: str, base: str, map_id: str, required: bool
    ) -> str | None:
        """A closed-list value, normalised; None when absent or not in the list (reported)."""
        value = self.string(obj, key, base, required)
        if value is not None and not self.mappings.knows(map_id, value):
            message = f"{key} is not in the closed list of {_LISTS[map_id]}"
            self.problem(f"{base}/{key}", "closed-list", message)
            return None
        return value

    def obj(self, parent: dict[str, Any], key: str) -> dict[str, Any]:
        """An optional object; absent or not an object (reported) reads as empty."""
        value = parent.get(key)
        if value is not None and not isinstance(value, dict):
            self.problem(f"#/{key}", "format", f"{key} must be an object")
        return value if isinstance(value, dict) else {}

    def started_at(self, doc: dict[str, Any], received_at: datetime) -> date | None:
        """The date of `startedAt` in its own offset, no more than a day after receipt."""
        value = doc.get("startedAt")
        if value is None:
            self.problem("#/startedAt", "required", "startedAt is required")
            return None
        if not (isinstance(value, str) and _TIMESTAMP.match(value)):
            self.problem(
                "#/startedAt", "format", "startedAt must be an RFC 3339 date-time with an offset"
            )
            return None
        try:
            day = datetime.fromisoformat(value.upper().replace("Z", "+00:00")).date()
        except ValueError:
            self.problem("#/startedAt", "date", "startedAt is not a valid date and time")
            return None
        if day > received_at.date() + timedelta(days=1):
            self.problem("#/startedAt", "date", "the contact starts more than a day after receipt")
            return None
        return day

    def categories(self, doc: dict[str, Any]) -> list[str]:
        """A required non-empty list; `AV.*` values must be listed codes, others are open."""
        value = doc.get("categories")
        if value is None:
            self.problem("#/categories", "required", "categories is required")
            return []
        if not isinstance(value, list):
            self.problem("#/categories", "format", "categories must be a list")
            return []
        if not value:
            self.problem("#/categories", "required", "categories must list at least one value")
        found: list[str] = []
        for i, item in enumerate(value):
            path = f"#/categories/{i}"
            code = normalise(item) if isinstance(item, str) else ""
            if not code:
                self.problem(path, "format", "each category must be a non-empty string")
            elif code.lower().startswith(VIOLENCE_PREFIX) and not self.mappings.knows(
                CATEGORIES_MAP, code
            ):
                self.problem(
                    path, "closed-list", f"the category is not in the {_LISTS[CATEGORIES_MAP]}"
                )
            elif code not in found:
                found.append(code)
        return found

    def child(self, doc: dict[str, Any], contact: Contact) -> None:
        """Age, age band, sex and region of the child; `firstName` is never read."""
        data = self.obj(doc, "child")
        age = data.get("age")
        if age is not None and not (type(age) is int and age >= 0):
            self.problem("#/child/age", "format", "age must be a whole number of years, 0 or more")
        contact.age = age if type(age) is int and age >= 0 else None
        contact.age_band = self.code(data, "ageBand", "#/child", AGE_BAND_MAP, required=False)
        contact.sex = self.code(data, "sex", "#/child", SEX_MAP, required=False)
        region = self.string(data, "region", "#/child", required=False)
        if region is not None and not _REGION.match(region):
            self.problem("#/child/region", "format", "region must be an ISO 3166-2:BG code 01-28")
            region = None
        contact.region = region
        if contact.age is not None and contact.age_band is not None:
            low, high = age_band_bounds(contact.age_band)
            if not low <= contact.age <= high:
                contact.warnings.append(DataWarning("ageband-mismatch", "#/child/ageBand", 0))


def read_contact(document: object, mappings: Mappings, received_at: datetime) -> Contact:
    """Every field in the contract's order, every problem collected, then raised at once."""
    if not isinstance(document, dict):
        raise ContractViolation([Problem("#", "format", "a contact must be a JSON object")])
    r = _Reader(mappings)
    key = r.string(document, "contactId", "#", required=True)
    rev = revision(document.get("revision"))
    if rev is None:
        r.problem("#/revision", "format", "revision must be an integer of at least 1")
    incident_date = r.started_at(document, received_at)
    channel = r.code(document, "channel", "#", CHANNEL_MAP, required=True)
    caller = r.code(document, "caller", "#", CALLER_MAP, required=True)
    contact = Contact(key or "", rev or 1, incident_date or date.min, channel or "", caller or "")
    r.child(document, contact)
    contact.categories = r.categories(document)
    contact.violence = [c for c in contact.categories if mappings.knows(CATEGORIES_MAP, c)]
    referral = r.obj(document, "referral")
    contact.ozd_signal_number = r.string(referral, "ozdSignalNumber", "#/referral", False)
    if r.problems:
        raise ContractViolation(r.problems)
    return contact
