"""Value objects that flow from an adapter to the core: a record, its children, its warnings.

An adapter returns a `SourceRecord` of canonical *candidates* (forms, implied outcomes and settings,
relationships...). The core (`gateway.methodology`, `gateway.records`) applies the register's
rules to them once for every institution, and `gateway.profile` renders the result as FHIR.
Nothing here may hold a name or a personal number: children carry keyed pseudonyms only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Sex = Literal["male", "female", "other", "unknown"]
# `snapshot`: the contract says nothing of first or later (schools, health), so no
# `source-event-mismatch` can arise.
SourceEvent = Literal["first", "later", "withdraw", "snapshot"]
Event = Literal["new", "update", "cancel"]
PlaceKind = Literal["incident", "residence", "school"]

# README §10: the closed list of warnings.
WARNING_CODES = frozenset(
    {
        "birthdate-mismatch",
        "sex-mismatch",
        "source-event-mismatch",
        "cancel-of-unknown-record",
        "conflicting-implied-settings",
        "outcome-conflict",
        "stale-event",
        "ageband-mismatch",
        "unknown-column",
        "leading-zeros-restored",
        "child-key-changed",
    }
)


@dataclass(frozen=True, slots=True)
class DataWarning:
    """A data-quality warning; `child` is the index of the child concerned, None: the record."""

    code: str
    path: str
    child: int | None = None

    def __post_init__(self) -> None:
        if self.code not in WARNING_CODES:
            raise ValueError(f"unknown warning code {self.code!r}")


@dataclass(frozen=True, slots=True)
class Pseudonym:
    key_id: str
    value: str


@dataclass(frozen=True, slots=True)
class SourceCode:
    """An enumeration or classification value of the record, kept as it was (normalised)."""

    system: str
    code: str


@dataclass(frozen=True, slots=True)
class Place:
    kind: PlaceKind
    ekatte: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Child:
    """One victim as the message gives it, adults included (the core drops them).

    `internal_id` is the pseudonym under the gateway's internal key (record state, never sent);
    `birth_date` is an ISO date, possibly partial (`YYYY` or `YYYY-MM`) where a contract allows it.
    """

    path: str
    sex: Sex
    pseudonyms: tuple[Pseudonym, ...] = ()
    internal_id: str | None = None
    birth_date: str | None = None
    age: int | None = None
    age_band: str | None = None
    stated_outcome: str | None = None
    stated_outcome_path: str | None = None


@dataclass(slots=True)
class SourceRecord:
    """One institution record, validated and translated into canonical candidates."""

    message_id: str
    record_key: str
    source_event: SourceEvent
    incident_date: date
    children: list[Child]
    in_scope: bool
    forms: frozenset[str] = frozenset()
    attempted: bool = False
    implied_outcomes: frozenset[str] = frozenset()
    explicit_setting: str | None = None
    implied_settings: frozenset[str] = frozenset()
    setting_path: str = ""
    relationships: frozenset[str] = frozenset()
    case_stage: str | None = None
    place: Place | None = None
    references: dict[str, str] = field(default_factory=dict)
    source_codes: tuple[SourceCode, ...] = ()
    warnings: list[DataWarning] = field(default_factory=list)
    # The reference sent to the register, when the record key holds more (schools: the
    # victim, which stays inside the gateway); None: the record key.
    incident_reference: str | None = None
    # Monotonic per record where the contract has one (ОЗД version, helpline revision): stale check.
    version: int | None = None
    # Path of the element that says "first" / "later" (for source-event-mismatch).
    source_event_path: str = ""
    # When the source's event happened (prosecution `EventDate`): an earlier one than the latest
    # accepted for the record is a stale event.
    event_date: date | None = None
    event_date_path: str = ""


@dataclass(frozen=True, slots=True)
class Provenance:
    adapter: str
    adapter_version: str
    mapping_version: str
    raw_sha256: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Notification:
    """One canonical case notification: one child in one incident, at one event."""

    notification_id: str
    case_key: str
    event: Event
    institution: str
    incident_reference: str
    provenance: Provenance
    warnings: tuple[DataWarning, ...]
    # Absent on a cancel (README §5 lists what a cancel carries).
    incident_date: date | None = None
    child: Child | None = None
    place: Place | None = None
    forms: tuple[str, ...] = ()
    attempted: bool | None = None
    outcome: str | None = None
    relationships: tuple[str, ...] = ()
    setting: str | None = None
    case_stage: str | None = None
    references: tuple[tuple[str, str], ...] = ()
    source_codes: tuple[SourceCode, ...] = ()
    # When the source's event happened (prosecution `EventDate`); absent on a cancel.
    event_date: date | None = None
