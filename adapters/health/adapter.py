"""The health facilities' (НЗИС) FHIR R4 message: a Bundle of suspected maltreatment translated.

Contract: `health.md`. The transport hands over the Bundle as JSON, already checked to be an R4
message Bundle whose first entry is a MessageHeader; this module reads the header, the sender,
the focus Encounter, and delegates the child (`patient.py`) and the diagnoses (`diagnoses.py`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from adapters.health.bundle import Entries, Entry, Reader
from adapters.health.dates import FhirDate, NotADate, parse_date_time
from adapters.health.diagnoses import ICD10, read_conditions
from adapters.health.patient import read_patient
from gateway.adapter import RecordPolicy, TranslateContext, TransportSpec
from gateway.codes import source_system
from gateway.errors import ContractViolation, Problem
from gateway.facts import SourceCode, SourceRecord
from gateway.mappings import normalise

SLUG = "health"
EVENT_MAP = "health-event"
RZI_SYSTEM = "https://nhis.bg/fhir/sid/rzi"
HEADER = "Bundle.entry[0].resource"
# The conflicting-implied-settings warning is about the Conditions' codes taken together.
CONDITION_CODES = "Bundle.entry.resource.ofType(Condition).code"


def _header(document: object) -> dict[str, Any] | None:
    entries = document.get("entry") if isinstance(document, dict) else None
    first = entries[0] if isinstance(entries, list) and entries else None
    resource = first.get("resource") if isinstance(first, dict) else None
    if isinstance(resource, dict) and resource.get("resourceType") == "MessageHeader":
        return resource
    return None


def _event(r: Reader, header: Entry, ctx: TranslateContext) -> str | None:
    """The case stage of the one event the gateway processes; any other event is a problem
    (the transport renders it as `not-supported`)."""
    res = header.resource
    if res.get("eventCoding") is None and res.get("eventUri") is not None:
        r.problem(f"{HEADER}.eventUri", "closed-list", "the event must be an eventCoding")
        return None
    coding = r.obj(res, "eventCoding", HEADER, required=True)
    if coding is None:
        return None
    system = r.string(coding, "system", f"{HEADER}.eventCoding")
    code = r.string(coding, "code", f"{HEADER}.eventCoding", required=True)
    if code is None:
        return None
    stages = ctx.mappings.translate(EVENT_MAP, code, "case-stage")
    if system != ctx.mappings.source_system(EVENT_MAP) or stages is None:
        r.problem(
            f"{HEADER}.eventCoding",
            "closed-list",
            "the event is not in the closed list of НЗИС events (suspected-maltreatment of "
            f"{ctx.mappings.source_system(EVENT_MAP)})",
        )
        return None
    return stages[0] if stages else None


def _rzi(r: Reader, sender: Entry) -> str | None:
    for ident, path in r.items(sender.resource, "identifier", sender.path):
        if r.string(ident, "system", path) == RZI_SYSTEM:
            return r.string(ident, "value", path, required=True)
    r.problem(f"{sender.path}.identifier", "required", f"an identifier of {RZI_SYSTEM} is required")
    return None


def _focus(r: Reader, entries: Entries, header: Entry) -> Entry | None:
    focus = header.resource.get("focus")
    if not isinstance(focus, list) or len(focus) != 1:
        code = "required" if not focus else "format"
        r.problem(f"{HEADER}.focus", code, "focus must reference exactly one Encounter")
        return None
    return entries.resolve(focus[0], f"{HEADER}.focus[0]", header, "Encounter")


def _record_id(r: Reader, encounter: Entry, message_id: str | None) -> str | None:
    """`system|value` of the Encounter's first identifier; without one, the message's own id."""
    identifiers = r.items(encounter.resource, "identifier", encounter.path)
    if not identifiers:
        return message_id
    ident, path = identifiers[0]
    value = r.string(ident, "value", path, required=True)
    return f"{r.string(ident, 'system', path) or ''}|{value}" if value else None


def _start(r: Reader, encounter: Entry) -> FhirDate | None:
    period = r.obj(encounter.resource, "period", encounter.path, required=True)
    path = f"{encounter.path}.period"
    text = r.string(period, "start", path, required=True) if period is not None else None
    try:
        start = parse_date_time(text) if text else None
    except NotADate:
        r.problem(f"{path}.start", "date", "period.start is not a calendar date")
        return None
    if text and start is None:
        r.problem(f"{path}.start", "format", "period.start must be a FHIR dateTime")
    return start


def _incident(
    r: Reader, onset: tuple[FhirDate | None, str], start: tuple[FhirDate | None, str], latest: date
) -> date | None:
    """The earliest full-date onset, else the date of the encounter's start (health.md)."""
    found, path = onset if onset[0] is not None else start
    if found is None:
        return None
    if not found.full:
        r.problem(path, "format", "period.start must give a day when no onset does")
        return None
    if found.first > latest:
        r.problem(path, "date", "the incident date is more than a day after receipt")
        return None
    return found.first


class HealthAdapter:
    """The НЗИС `suspected-maltreatment` message (`health.md`): one child per encounter."""

    slug = SLUG
    version = "1.0.0"
    transport = TransportSpec(
        kind="fhir",
        path="/fhir/$process-message",
        max_bytes=5 * 1024 * 1024,
        media_types=("application/fhir+json", "application/json"),
    )
    child_key: Literal["person", "record"] = "record"
    policy = RecordPolicy()

    def message_id(self, document: Any) -> str | None:
        header = _header(document)
        value = header.get("id") if header is not None else None
        return normalise(value) or None if isinstance(value, str) else None

    def translate(self, document: Any, ctx: TranslateContext) -> SourceRecord:
        if _header(document) is None:
            raise ContractViolation(
                [Problem(HEADER, "required", "the first entry must be a MessageHeader")]
            )
        r = Reader()
        entries = Entries(document, r)
        header = entries.all[0]
        message_id = r.string(header.resource, "id", HEADER, required=True)
        stage = _event(r, header, ctx)
        sender = entries.resolve(
            header.resource.get("sender"), f"{HEADER}.sender", header, "Organization"
        )
        rzi = _rzi(r, sender) if sender is not None else None
        encounter = _focus(r, entries, header)
        record_id: str | None = None
        start: FhirDate | None = None
        patient: Entry | None = None
        if encounter is not None:
            base = encounter.path
            record_id = _record_id(r, encounter, message_id)
            start = _start(r, encounter)
            subject = encounter.resource.get("subject")
            patient = entries.resolve(subject, f"{base}.subject", encounter, "Patient")
            provider = encounter.resource.get("serviceProvider")
            path = f"{base}.serviceProvider"
            entries.resolve(provider, path, encounter, "Organization", required=False)
        found = read_conditions(r, entries, patient, encounter, ctx.mappings)
        incident = _incident(
            r,
            (found.onset, found.onset_path),
            (start, f"{encounter.path}.period.start" if encounter else ""),
            ctx.received_at.date() + timedelta(days=1),
        )
        facts = read_patient(r, patient, incident, ctx) if patient is not None else None
        if r.problems:
            raise ContractViolation(r.problems)
        assert message_id and rzi and record_id and incident and facts
        enumerations = [
            ("eventCoding", header.resource["eventCoding"]["code"]),
            ("gender", facts.gender),
            ("deceased", facts.deceased),
        ]
        return SourceRecord(
            message_id=message_id,
            record_key=f"{rzi}/{record_id}",
            # health.md says nothing of first or later: every message is a snapshot.
            source_event="snapshot",
            incident_date=incident,
            children=[facts.child],
            in_scope=found.in_scope,
            forms=frozenset(found.forms),
            implied_outcomes=frozenset(found.outcomes),
            implied_settings=frozenset(found.settings),
            setting_path=CONDITION_CODES,
            relationships=frozenset(found.relationships),
            case_stage=stage,
            place=facts.place,
            source_codes=tuple(
                [SourceCode(source_system(SLUG, f), normalise(c)) for f, c in enumerations if c]
                + [SourceCode(ICD10, code) for code in found.codes]
            ),
            warnings=facts.warnings,
        )
