"""The one interface an institution adapter implements, and what the core hands it.

An adapter is pure: bytes already parsed by its transport (an lxml element for SOAP, a dict for
JSON) and the mappings in, a validated `SourceRecord` or a `ContractViolation` listing every
located problem out. No network, database, clock or file access happens inside an adapter.

Adding an institution = a folder under `adapters/` with a class satisfying `Adapter`, a
ConceptMap under `mappings/<slug>/`, sample messages, and one line in `adapters/registry.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from gateway.facts import SourceRecord
from gateway.identity import Keyring
from gateway.mappings import Mappings

TransportKind = Literal["soap11", "soap12", "json", "ndjson", "csv", "fhir"]


@dataclass(frozen=True, slots=True)
class TransportSpec:
    """How the institution reaches the gateway; the transport layer serves it from this alone."""

    kind: TransportKind
    path: str
    max_bytes: int
    media_types: tuple[str, ...]
    # SOAP only: the body namespace, the submit body element, and the published WSDL/XSD files.
    namespace: str = ""
    submit_element: str = ""
    submit_operation: str = ""
    wsdl: Path | None = None
    xsd: Path | None = None


@dataclass(frozen=True, slots=True)
class RecordPolicy:
    """How the institution's contract treats repeats and older versions of a record.

    `duplicates`: `message-id` (a sender's message id seen before is a duplicate) or
    `latest-content` (a message whose id, a digest of its content, equals the latest accepted
    one of its record is a duplicate; the schools' rows). `older_version`: what a
    `SourceRecord.version` lower than the record's accepted one gets: `stale` (409, equal
    versions too) or `duplicate` (the latest version's receipt again; the helpline).
    """

    duplicates: Literal["message-id", "latest-content"] = "message-id"
    older_version: Literal["stale", "duplicate"] = "stale"


@dataclass(frozen=True, slots=True)
class TranslateContext:
    """Everything an adapter may use besides the message itself."""

    keyring: Keyring
    mappings: Mappings
    received_at: datetime


@runtime_checkable
class Adapter(Protocol):
    """An institution's native message format, validated and translated to canonical facts."""

    #: The institution's slug (`mvr`, `ozd`...), the same in folders, mappings, certificates, audit.
    slug: str
    #: Version of the adapter's code, carried in every notification's provenance.
    version: str
    transport: TransportSpec
    #: `person`: several children per record, keyed by pseudonym (else birth date + sex);
    #: `record`: the record is about exactly one child.
    child_key: Literal["person", "record"]
    #: Repeats and older versions (`RecordPolicy()` for most contracts).
    policy: RecordPolicy

    def message_id(self, document: Any) -> str | None:
        """The sender's message id, read before anything else is validated (duplicate check).

        Return None when it is missing or unreadable; `translate` then reports the problem.
        """
        ...

    def translate(self, document: Any, ctx: TranslateContext) -> SourceRecord:
        """Validate the whole document and translate it.

        Raise `gateway.errors.ContractViolation` listing *every* problem with its path.
        """
        ...
