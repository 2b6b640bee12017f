"""The National Child Helpline 116 111's contact record: one NDJSON line translated for the core."""

from __future__ import annotations

from typing import Any, Literal, cast

from adapters.helpline.contact import (
    CATEGORIES_MAP,
    SEX_MAP,
    Contact,
    contact_id,
    read_contact,
    revision,
)
from gateway.adapter import RecordPolicy, TranslateContext, TransportSpec
from gateway.codes import SEXES, source_system
from gateway.facts import Child, Place, Sex, SourceCode, SourceRecord
from gateway.mappings import Mappings

SLUG = "helpline"
GENDER = "http://hl7.org/fhir/administrative-gender"
MAX_LINES = 10_000


def message_key(key: str, rev: int) -> str:
    """The message id: the contact and its revision (digits after the last `#`, so unique)."""
    return f"{key}#{rev}"


def _child(c: Contact, m: Mappings) -> Child:
    gender = m.translate(SEX_MAP, c.sex, GENDER) if c.sex is not None else None
    sex = cast(Sex, gender[0]) if gender and gender[0] in SEXES else "unknown"
    # The notification carries one of age and band: the age wins (helpline.md).
    band = c.age_band if c.age is None else None
    return Child(path="#/child", sex=sex, age=c.age, age_band=band)


def _record(c: Contact, m: Mappings) -> SourceRecord:
    """The canonical candidates of a valid contact; the core decides what they become."""
    enumerations = [
        ("channel", c.channel),
        ("caller", c.caller),
        ("sex", c.sex),
        ("ageBand", c.age_band),
        *(("categories", category) for category in c.categories),
    ]
    return SourceRecord(
        message_id=message_key(c.contact_id, c.revision),
        record_key=c.contact_id,
        source_event="first" if c.revision == 1 else "later",
        source_event_path="#/revision",
        version=c.revision,
        incident_date=c.incident_date,
        children=[_child(c, m)],
        # A contact with no violence category is out of scope; a later revision that removes
        # every one makes the core cancel what was notified.
        in_scope=bool(c.violence),
        forms=frozenset(
            f for v in c.violence for f in m.translate(CATEGORIES_MAP, v, "violence-form") or []
        ),
        implied_settings=frozenset(
            s for v in c.violence for s in m.translate(CATEGORIES_MAP, v, "setting") or []
        ),
        setting_path="#/categories",
        relationships=frozenset({"unknown"}),
        case_stage="reported",
        attempted=False,
        place=Place(kind="residence", region=c.region) if c.region else None,
        references={"ozd": c.ozd_signal_number} if c.ozd_signal_number else {},
        source_codes=tuple(
            SourceCode(source_system(SLUG, name), code)
            for name, code in enumerations
            if code is not None
        ),
        warnings=c.warnings,
    )


class HelplineAdapter:
    """The helpline's contact contract (`helpline.md`): one anonymous child per contact,
    revisions as snapshots, batches of NDJSON lines (each line a message of its own)."""

    slug = SLUG
    version = "1.0.0"
    transport = TransportSpec(
        kind="ndjson",
        path="/api/v1/helpline/contacts",
        max_bytes=10 * 1024 * 1024,
        media_types=("application/x-ndjson", "application/ndjson"),
    )
    #: Read by the NDJSON transport: the batch's line limit, and the field echoed per line.
    max_lines = MAX_LINES
    item_key = "contactId"
    child_key: Literal["person", "record"] = "record"
    # A lower revision than the accepted one gets the latest receipt again, as a duplicate.
    policy = RecordPolicy(older_version="duplicate")

    def message_id(self, document: Any) -> str | None:
        if not isinstance(document, dict):
            return None
        key, rev = contact_id(document.get("contactId")), revision(document.get("revision"))
        return message_key(key, rev) if key is not None and rev is not None else None

    def translate(self, document: Any, ctx: TranslateContext) -> SourceRecord:
        return _record(read_contact(document, ctx.mappings, ctx.received_at), ctx.mappings)
