"""The Prosecutor's Office adapter: a `p:ProceedingNotification` body element in, canonical
candidates out.

Contract: `prosecution.md` and `criminal-code.md`. Code tables are the ConceptMaps
`prosecution-*` and the shared `criminal-code`; this module reads the proceeding, checks its form
and looks codes up; the victims and their outcome are `victims`' concern.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from adapters.criminal_code import Classification, read_qualification
from adapters.prosecution.reading import DIALECT, NAMESPACE, PREFIX, ROOT
from adapters.prosecution.victims import implied_outcomes, read_victim
from adapters.xml_fields import Fields
from gateway.adapter import RecordPolicy, TranslateContext, TransportSpec
from gateway.codes import source_system
from gateway.errors import ContractViolation, Problem
from gateway.facts import DataWarning, Place, SourceCode, SourceEvent, SourceRecord
from gateway.identity import Located
from gateway.mappings import normalise

SLUG = "prosecution"
EVENT_MAP = "prosecution-event"
RELATION_MAP = "prosecution-accused-relation"
_HERE = Path(__file__).resolve().parent

# README §5: what the proceeding's event says about the record, once per message.
_SOURCE_EVENTS: dict[str, SourceEvent] = {"ОБРАЗУВАНО": "first", "ОТМЕНЕНО": "withdraw"}

_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_EKATTE = re.compile(r"^[0-9]{5}$")


def notification_id(text: str | None) -> str | None:
    """The NotificationId in canonical (lower-case) form, or None when it is not a UUID."""
    value = normalise(text or "")
    return value.lower() if _UUID.match(value) else None


class _SourceCodes:
    """Every record-level enumeration and classification value, once each, in document order.

    Per-victim values (gender, number kind) are left out: every child of the record carries these
    codes. A wrong value may be added: any problem discards the whole record, codes included."""

    def __init__(self) -> None:
        self.codes: list[SourceCode] = []

    def add(self, field: str, value: Located | str | None) -> None:
        text = value.value if isinstance(value, Located) else value
        code = SourceCode(source_system(SLUG, field), text or "")
        if text and code not in self.codes:
            self.codes.append(code)


class ProsecutionAdapter:
    """SOAP 1.2 `NotifyProceeding` of the prosecution's case-management system."""

    slug = SLUG
    version = "1.0.0"
    transport = TransportSpec(
        kind="soap12",
        path="/soap/prosecution",
        max_bytes=5 * 1024 * 1024,
        media_types=("application/soap+xml",),
        namespace=NAMESPACE,
        submit_element="ProceedingNotification",
        submit_operation="NotifyProceeding",
        wsdl=_HERE / "prosecution.wsdl",
        xsd=_HERE / "prosecution.xsd",
    )
    child_key: Literal["person", "record"] = "person"
    policy = RecordPolicy()

    def message_id(self, document: Any) -> str | None:
        found = document.findall(f"{{{NAMESPACE}}}NotificationId")
        return notification_id(found[0].text) if len(found) == 1 else None

    def translate(self, document: Any, ctx: TranslateContext) -> SourceRecord:
        if document.tag != f"{{{NAMESPACE}}}ProceedingNotification":
            raise ContractViolation(
                [Problem(ROOT, "required", "the body must be ProceedingNotification")]
            )
        problems: list[Problem] = []
        r = Fields(document, ROOT, problems, ctx.mappings, DIALECT)
        codes = _SourceCodes()

        ident = r.text("NotificationId", required=True)
        message_id = notification_id(ident.value) if ident else None
        if ident and message_id is None:
            r.problem(ident.path, "format", "NotificationId must be a UUID")
        proceeding = r.text("ProceedingNumber", required=True)
        r.text("ProsecutionOffice", required=True)
        event = r.text("Event", required=True)
        stage = r.code(event, EVENT_MAP, "case-stage", "Event")
        codes.add("Event", event)
        event_text = r.text("EventDate", required=True)
        event_date = r.xs_date(event_text, "EventDate")
        offence_text = r.text("OffenceDate", required=True)
        offence = r.xs_date(offence_text, "OffenceDate")
        if offence_text and offence and offence > ctx.received_at.date() + timedelta(days=1):
            r.problem(offence_text.path, "date", "OffenceDate is more than a day after the receipt")
        ekatte = r.matching(r.text("Ekatte", required=False), _EKATTE, "Ekatte must be 5 digits")
        police_ref = r.text("PoliceRef", required=False)

        qualifications = [read_qualification(q) for q in r.each("Qualification")]
        if not qualifications:
            path = f"{ROOT}/{PREFIX}:Qualification[1]"
            r.problem(path, "required", "a Qualification is required")
        for q in qualifications:
            codes.add("Article", q.article)
        readers = r.each("Victim")
        if not readers:
            r.problem(f"{ROOT}/{PREFIX}:Victim[1]", "required", "a Victim is required")
        victims = [read_victim(v, i, offence, ctx) for i, v in enumerate(readers)]
        relationships = _relationships(r, codes)

        if problems:
            raise ContractViolation(problems)
        assert message_id and proceeding and event and event_text and event_date and offence
        classification = Classification.of(qualifications)
        outcomes, conflict = implied_outcomes(classification.outcomes, victims)
        warnings = [w for v in victims for w in v.warnings]
        if conflict:
            homicide = next(q for q in classification.in_table if "fatal" in q.outcomes)
            warnings.append(DataWarning("outcome-conflict", f"{homicide.path}/{PREFIX}:Article"))
        return SourceRecord(
            message_id=message_id,
            record_key=proceeding.value,
            source_event=_SOURCE_EVENTS.get(event.value, "later"),
            source_event_path=event.path,
            incident_date=offence,
            children=[v.child for v in victims],
            in_scope=classification.in_scope,
            forms=classification.forms,
            attempted=classification.attempted,
            implied_outcomes=outcomes,
            relationships=relationships,
            case_stage=stage,
            place=Place("incident", ekatte=ekatte) if ekatte else None,
            references={"mvr": police_ref.value} if police_ref else {},
            source_codes=tuple(codes.codes),
            warnings=warnings,
            event_date=event_date,
            event_date_path=event_text.path,
        )


def _relationships(r: Fields, codes: _SourceCodes) -> frozenset[str]:
    """Not tied to a victim: every child of the record gets them all (none: `unknown`)."""
    found: set[str] = set()
    for accused in r.each("AccusedRelation"):
        relation = accused.own_text("AccusedRelation")
        codes.add("AccusedRelation", relation)
        target = "perpetrator-relationship"
        relationship = accused.code(relation, RELATION_MAP, target, "AccusedRelation")
        if relationship:
            found.add(relationship)
    return frozenset(found)
