"""The Child Protection Departments' (ОЗД) signal: a JSON document validated and translated.

Every problem is located by an RFC 6901 pointer in URI-fragment form (`#/child/egn`,
`#/violenceForms/1`, 0-based). A JSON `null` is an absent field and unknown fields are ignored.
The child's names are never read, so they reach no object of the gateway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

from gateway.adapter import RecordPolicy, TranslateContext, TransportSpec
from gateway.codes import SEXES, source_system
from gateway.errors import ContractViolation, Problem
from gateway.facts import Child, DataWarning, Place, Sex, SourceCode, SourceEvent, SourceRecord
from gateway.identity import Located, resolve_child
from gateway.mappings import Mappings, normalise

SLUG = "ozd"
FORMS_MAP = "ozd-violence-forms"
PERPETRATOR_MAP = "ozd-perpetrator"
STATUS_MAP = "ozd-status"
SOURCE_MAP = "ozd-source"
SEX_MAP = "ozd-sex"
GENDER = "http://hl7.org/fhir/administrative-gender"
WITHDRAWN = "анулиран"
REFERENCE_KEYS = ("mvr", "prosecution", "helpline")

# What each closed list is called in problem messages.
_LISTS = {
    FORMS_MAP: "ОЗД violence forms",
    PERPETRATOR_MAP: "ОЗД perpetrators",
    STATUS_MAP: "ОЗД signal statuses",
    SOURCE_MAP: "ОЗД signal sources",
    SEX_MAP: "ОЗД sexes (male, female, unknown)",
}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_EKATTE = re.compile(r"^[0-9]{5}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# RFC 3339 `date-time`: the offset is not optional.
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _event_id(value: object) -> str | None:
    """The canonical (lower-case) form of a UUID event id, None when it is not one."""
    if isinstance(value, str) and _UUID.match(value.strip()):
        return value.strip().lower()
    return None


class _Reader:
    """Reads fields of the signal, collecting every problem instead of stopping at the first."""

    def __init__(self, mappings: Mappings) -> None:
        self.mappings = mappings
        self.problems: list[Problem] = []

    def problem(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def raw(self, obj: dict[str, Any], key: str, path: str, required: bool) -> object:
        value = obj.get(key)
        if value is None and required:
            self.problem(path, "required", f"{key} is required")
        return value

    def string(self, obj: dict[str, Any], key: str, base: str, required: bool = True) -> str | None:
        """A string field, trimmed and NFC-normalised; blank counts as missing."""
        path = f"{base}/{key}"
        value = self.raw(obj, key, path, required)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(path, "format", f"{key} must be a string")
            return None
        text = normalise(value)
        if not text:
            if required:
                self.problem(path, "required", f"{key} must not be empty")
            return None
        return text

    def personal_number(self, obj: dict[str, Any], key: str, base: str) -> Located | None:
        # Passed on untouched: identity.resolve_child owns every rule about its form.
        path = f"{base}/{key}"
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(path, "format", f"{key} must be a string of 10 digits")
            return None
        return Located(value, path)

    def code(
        self, obj: dict[str, Any], key: str, base: str, map_id: str, required: bool = True
    ) -> str | None:
        """A closed-list value, normalised; None when absent or not in the list (reported)."""
        value = self.string(obj, key, base, required)
        return self.known(value, f"{base}/{key}", key, map_id) if value is not None else None

    def known(self, value: str, path: str, field: str, map_id: str) -> str | None:
        if not self.mappings.knows(map_id, value):
            self.problem(
                path, "closed-list", f"{field} is not in the closed list of {_LISTS[map_id]}"
            )
            return None
        return value

    def codes(self, obj: dict[str, Any], key: str, map_id: str) -> list[str]:
        """A required non-empty list of closed-list values, each normalised, duplicates once."""
        path = f"#/{key}"
        value = self.raw(obj, key, path, required=True)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, "format", f"{key} must be a list")
            return []
        if not value:
            self.problem(path, "required", f"{key} must list at least one value")
        found: list[str] = []
        for i, item in enumerate(value):
            item_path = f"{path}/{i}"
            if not isinstance(item, str):
                self.problem(item_path, "format", f"each value of {key} must be a string")
                continue
            code = self.known(normalise(item), item_path, key, map_id)
            if code is not None and code not in found:
                found.append(code)
        return found

    def date(self, obj: dict[str, Any], key: str, base: str, required: bool) -> date | None:
        path = f"{base}/{key}"
        value = self.raw(obj, key, path, required)
        if value is None:
            return None
        if isinstance(value, str) and _DATE.match(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                self.problem(path, "date", f"{key} is not a valid calendar date")
                return None
        self.problem(path, "format", f"{key} must be a date YYYY-MM-DD")
        return None

    def timestamp(self, obj: dict[str, Any], key: str) -> datetime | None:
        path = f"#/{key}"
        value = self.raw(obj, key, path, required=True)
        if value is None:
            return None
        if isinstance(value, str) and _TIMESTAMP.match(value):
            try:
                return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            except ValueError:
                self.problem(path, "date", f"{key} is not a valid date and time")
                return None
        self.problem(path, "format", f"{key} must be an RFC 3339 date-time with an offset")
        return None

    def version(self, obj: dict[str, Any]) -> int | None:
        value = self.raw(obj, "version", "#/version", required=True)
        if value is None:
            return None
        # bool is an int in Python, but `true` is not a version.
        if type(value) is not int or value < 1:
            self.problem("#/version", "format", "version must be an integer of at least 1")
            return None
        return value

    def boolean(self, obj: dict[str, Any], key: str) -> bool | None:
        value = obj.get(key)
        if value is not None and not isinstance(value, bool):
            self.problem(f"#/{key}", "format", f"{key} must be true or false")
            return None
        return value

    def obj(self, parent: dict[str, Any], key: str, required: bool) -> dict[str, Any] | None:
        path = f"#/{key}"
        value = self.raw(parent, key, path, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(path, "format", f"{key} must be an object")
            return None
        return value

    def references(self, doc: dict[str, Any]) -> dict[str, str]:
        refs = self.obj(doc, "references", required=False) or {}
        found: dict[str, str] = {}
        for key in REFERENCE_KEYS:
            value = self.string(refs, key, "#/references", required=False)
            if value is not None:
                found[key] = value
        return found


@dataclass(frozen=True, slots=True)
class _Signal:
    """The validated fields of one signal, codes normalised; names are not among them."""

    message_id: str
    record_key: str
    version: int
    ekatte: str
    incident_date: date
    source: str
    child: Child
    sex: str
    warnings: list[DataWarning]
    forms: list[str]
    perpetrator: str | None
    status: str
    coordination: bool | None
    references: dict[str, str]


def _read(document: dict[str, Any], ctx: TranslateContext) -> _Signal:
    """Every field in the contract's order, every problem collected, then raised at once."""
    r = _Reader(ctx.mappings)
    event_id = r.raw(document, "eventId", "#/eventId", required=True)
    message_id = _event_id(event_id)
    if event_id is not None and message_id is None:
        r.problem("#/eventId", "format", "eventId must be a UUID")
    record_key = r.string(document, "signalNumber", "#")
    version = r.version(document)
    r.string(document, "directorate", "#")
    ekatte = r.string(document, "ekatte", "#")
    if ekatte is not None and not _EKATTE.match(ekatte):
        r.problem("#/ekatte", "format", "ekatte must be an EKATTE code of 5 digits")
    received = r.timestamp(document, "receivedAt")
    stated_incident = r.date(document, "incidentDate", "#", required=False)
    incident_date = stated_incident or (received.date() if received else None)
    if incident_date is not None and incident_date > ctx.received_at.date() + timedelta(days=1):
        path = "#/incidentDate" if stated_incident else "#/receivedAt"
        r.problem(path, "date", "the incident date is more than a day after receipt")
    source = r.code(document, "source", "#", SOURCE_MAP)
    child, warnings, sex = _read_child(r, document, incident_date, ctx)
    forms = r.codes(document, "violenceForms", FORMS_MAP)
    perpetrator = r.code(document, "perpetrator", "#", PERPETRATOR_MAP, required=False)
    status = r.code(document, "status", "#", STATUS_MAP)
    coordination = r.boolean(document, "coordinationMechanism")
    references = r.references(document)
    if r.problems:
        raise ContractViolation(r.problems)
    # With no problem reported, every required field was read.
    assert message_id and record_key and version and ekatte and incident_date
    assert source and child and sex and status
    return _Signal(
        message_id=message_id,
        record_key=record_key,
        version=version,
        ekatte=ekatte,
        incident_date=incident_date,
        source=source,
        child=child,
        sex=sex,
        warnings=warnings,
        forms=forms,
        perpetrator=perpetrator,
        status=status,
        coordination=coordination,
        references=references,
    )


def _read_child(
    r: _Reader, document: dict[str, Any], incident_date: date | None, ctx: TranslateContext
) -> tuple[Child | None, list[DataWarning], str | None]:
    """The one victim, its warnings and its sex as sent; firstName and lastName are not read."""
    data = r.obj(document, "child", required=True)
    if data is None:
        return None, [], None
    egn = r.personal_number(data, "egn", "#/child")
    lnch = r.personal_number(data, "lnch", "#/child")
    birth_date = r.date(data, "birthDate", "#/child", required=False)
    sex_code = r.code(data, "sex", "#/child", SEX_MAP)
    gender = ctx.mappings.translate(SEX_MAP, sex_code, GENDER) if sex_code else None
    sex = cast(Sex, gender[0]) if gender and gender[0] in SEXES else "unknown"
    identity = resolve_child(
        keyring=ctx.keyring,
        incident_date=incident_date,
        sex=sex,
        sex_path="#/child/sex",
        egn=egn,
        lnch=lnch,
        birth_date=birth_date,
        birth_date_path="#/child/birthDate",
        # A malformed birth date is already reported; do not also call it missing.
        birth_date_required=data.get("birthDate") is None,
        child_index=0,
    )
    r.problems.extend(identity.problems)
    child = identity.child("#/child")
    return child, identity.warnings, sex_code


def _record(s: _Signal, m: Mappings) -> SourceRecord:
    """The canonical candidates of a valid signal; the core decides what they become."""
    withdraw = s.status == WITHDRAWN
    source_event: SourceEvent = "withdraw" if withdraw else "first" if s.version == 1 else "later"
    stages = m.translate(STATUS_MAP, s.status, "case-stage") or []
    relationships = (
        m.translate(PERPETRATOR_MAP, s.perpetrator, "perpetrator-relationship") or []
        if s.perpetrator is not None
        else ["unknown"]  # ozd.md: an absent perpetrator gives `unknown`
    )
    coordination = None if s.coordination is None else str(s.coordination).lower()
    enumerations = [
        ("source", s.source),
        ("sex", s.sex),
        *(("violenceForms", form) for form in s.forms),
        ("perpetrator", s.perpetrator),
        ("status", s.status),
        ("coordinationMechanism", coordination),
    ]
    return SourceRecord(
        message_id=s.message_id,
        record_key=s.record_key,
        source_event=source_event,
        source_event_path="#/status" if withdraw else "#/version",
        version=s.version,
        incident_date=s.incident_date,
        children=[s.child],
        # Every ОЗД violence category is in scope: only a signal with none would not be.
        in_scope=bool(s.forms),
        forms=frozenset(
            c for f in s.forms for c in m.translate(FORMS_MAP, f, "violence-form") or []
        ),
        implied_settings=frozenset(
            c for f in s.forms for c in m.translate(FORMS_MAP, f, "setting") or []
        ),
        setting_path="#/violenceForms",
        relationships=frozenset(relationships),
        case_stage=stages[0] if stages else None,
        place=Place(kind="residence", ekatte=s.ekatte),
        references=s.references,
        source_codes=tuple(
            SourceCode(source_system(SLUG, field), code)
            for field, code in enumerations
            if code is not None
        ),
        warnings=s.warnings,
    )


class OzdAdapter:
    """The ОЗД signal contract (`ozd.md`): one child per signal, versioned snapshots."""

    slug = SLUG
    version = "1.0.0"
    transport = TransportSpec(
        kind="json",
        path="/api/v1/ozd/signals",
        max_bytes=1024 * 1024,
        media_types=("application/json",),
    )
    child_key: Literal["person", "record"] = "record"
    policy = RecordPolicy()

    def message_id(self, document: Any) -> str | None:
        if not isinstance(document, dict):
            return None
        return _event_id(document.get("eventId"))

    def translate(self, document: Any, ctx: TranslateContext) -> SourceRecord:
        if not isinstance(document, dict):
            raise ContractViolation([Problem("#", "format", "the signal must be a JSON object")])
        return _record(_read(document, ctx), ctx.mappings)
