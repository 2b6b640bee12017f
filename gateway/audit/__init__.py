"""The audit trail: what every step did, evidence-grade, never a name or a personal number.

`chain` writes and verifies the hash-chained records; the other modules of this package read
them (proofs, search, export, report) without changing how they are written.
"""

from gateway.audit.chain import (
    KINDS,
    Entry,
    Query,
    Record,
    Verdict,
    append,
    as_json,
    entries_for,
    search,
    verify,
)

__all__ = [
    "KINDS",
    "Entry",
    "Query",
    "Record",
    "Verdict",
    "append",
    "as_json",
    "entries_for",
    "search",
    "verify",
]
